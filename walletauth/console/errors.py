"""The console's own refusals, each a stable code in the server's problem table."""

from __future__ import annotations

from typing import Final, Literal, get_args

from walletauth.errors import WalletAuthError

ConsoleErrorCode = Literal[
    "console_sign_in_required",  # no live console session (401)
    "not_an_operator",  # a wallet not in WALLETAUTH_OPERATORS, however it presents (403)
    "console_csrf_failed",  # a form POST without this session's CSRF token (403)
    "console_cross_origin",  # a POST whose Origin is not this service's own (403)
    "console_form_invalid",  # a form field missing or out of bounds, the reason first (422)
]

CONSOLE_ERROR_CODES: Final[frozenset[str]] = frozenset(get_args(ConsoleErrorCode))


class ConsoleError(WalletAuthError):
    code: ConsoleErrorCode

    def __init__(self, code: ConsoleErrorCode, message: str) -> None:
        if code not in CONSOLE_ERROR_CODES:
            raise ValueError(f"unknown console error code {code!r}")
        super().__init__(code, message)
