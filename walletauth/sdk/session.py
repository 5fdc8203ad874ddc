"""What a verified access token says about the signed-in wallet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class WalletSession:
    """A wallet signed in through walletauth, as vouched for by a verified access token."""

    address: str
    """The EIP-55 checksummed wallet address (the token's ``sub``)."""
    chain_id: int
    session_id: str
    """walletauth's session id (``sid``): the handle for revocation and sign-out."""
    expires_at: datetime
    """When the token stops being accepted (timezone-aware, UTC)."""
    token_id: str
    """The token's unique id (``jti``)."""
