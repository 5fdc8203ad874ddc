"""walletauth: Sign-In with Ethereum that keeps privacy promises by construction."""

from walletauth.errors import WalletAuthError

__all__ = ["WalletAuthError"]
__version__ = "0.1.0"
