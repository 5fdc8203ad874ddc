"""walletauth: Sign-In with Ethereum that keeps privacy promises by construction.

The top level is the SIWE core; the other faces live in their own packages:
``walletauth.policy`` (the privacy policy as data), ``walletauth.store`` (the
purpose-tagged record store), ``walletauth.server`` (the FastAPI login backend) and
``walletauth.sdk`` (what other services import).
"""

from walletauth.errors import WalletAuthError
from walletauth.siwe import (
    SiweError,
    SiweMessage,
    VerifiedLogin,
    WalletKind,
    averify_message,
    eip191_digest,
    generate_nonce,
    verify_message,
)

__all__ = [
    "SiweError",
    "SiweMessage",
    "VerifiedLogin",
    "WalletAuthError",
    "WalletKind",
    "averify_message",
    "eip191_digest",
    "generate_nonce",
    "verify_message",
]
__version__ = "0.1.0"
