"""Nonces for EIP-4361 messages."""

from __future__ import annotations

import secrets
import string
from typing import Final

NONCE_ALPHABET: Final = string.ascii_letters + string.digits
# 17 base62 characters carry 17 * log2(62) ~ 101 bits: above the 96 we promise.
NONCE_LENGTH: Final = 17


def generate_nonce() -> str:
    """A fresh nonce: 17 letters and digits drawn with :mod:`secrets` (~101 bits).

    Alphanumeric and at least 8 characters long, as the EIP-4361 grammar requires.
    """
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))
