"""The errors of the OpenID Provider's own (non-OAuth) requests: the sign-in page's calls.

The OAuth endpoints answer OAuth errors (RFC 6749 5.2, RFC 6750 3.1) instead; these are
problem+json codes, mapped in :mod:`walletauth.server.web.problems`."""

from __future__ import annotations

from typing import Final, Literal

from walletauth.errors import WalletAuthError

OidcErrorCode = Literal[
    "authorization_expired",  # the sign-in page's sealed request is not ours or too old
]
OIDC_ERROR_CODES: Final = frozenset({"authorization_expired"})


class OidcError(WalletAuthError):
    code: OidcErrorCode

    def __init__(self, code: OidcErrorCode, message: str) -> None:
        super().__init__(code, message)
