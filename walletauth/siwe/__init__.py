"""Sign-In with Ethereum (EIP-4361): the message, nonces and signature verification.

Typical use: hand out :func:`generate_nonce`, then check what the wallet sent back with
``verify_message(text, signature, domain="example.com", nonce=issued_nonce)``; it
returns a :class:`VerifiedLogin` or raises :class:`SiweError` with a stable ``code``.
"""

from walletauth.siwe.eoa import eip191_digest
from walletauth.siwe.errors import SiweError
from walletauth.siwe.message import SiweMessage
from walletauth.siwe.nonce import generate_nonce
from walletauth.siwe.verify import VerifiedLogin, WalletKind, averify_message, verify_message

__all__ = [
    "SiweError",
    "SiweMessage",
    "VerifiedLogin",
    "WalletKind",
    "averify_message",
    "eip191_digest",
    "generate_nonce",
    "verify_message",
]
