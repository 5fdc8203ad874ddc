"""The one exception type of the SIWE layer, and its stable codes."""

from __future__ import annotations

from typing import Final, Literal, get_args

from walletauth.errors import WalletAuthError

SiweErrorCode = Literal[
    "malformed_message",
    "domain_mismatch",
    "scheme_mismatch",
    "uri_mismatch",
    "nonce_mismatch",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "too_old",
    "chain_not_allowed",
    "invalid_signature",
    "rpc_unavailable",
]

SIWE_ERROR_CODES: Final[frozenset[str]] = frozenset(get_args(SiweErrorCode))


class SiweError(WalletAuthError):
    """A message could not be parsed, or a signed message did not verify.

    ``code`` is one of :data:`SIWE_ERROR_CODES`; the message says what was
    expected and what was found.
    """

    code: SiweErrorCode

    def __init__(self, code: SiweErrorCode, message: str) -> None:
        if code not in SIWE_ERROR_CODES:
            raise ValueError(f"unknown SIWE error code {code!r}")
        super().__init__(code, message)
