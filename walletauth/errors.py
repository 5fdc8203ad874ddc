"""The root of walletauth's exception family.

Every layer raises a subclass of :class:`WalletAuthError` carrying a stable,
machine-readable ``code``. Callers may catch at any level; the HTTP layer maps
codes to status codes in one place.
"""

from __future__ import annotations


class WalletAuthError(Exception):
    """Base class of every error walletauth raises on purpose."""

    code: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"
