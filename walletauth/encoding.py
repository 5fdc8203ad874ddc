"""Unpadded base64url (RFC 4648 §5), the text form of every sealed value walletauth hands
out: cookies, OIDC codes and tokens, JWK coordinates, key ids.

A bottom module beside ``errors``: every layer may import it. Decoding is strict, so one
value has one spelling: padding, characters outside the alphabet and non-zero spare bits
are refused (the standard library would skip stray characters and ignore spare bits, so a
sealed cookie would have many spellings that open alike).
"""

from __future__ import annotations

import base64


def b64url_encode(data: bytes) -> str:
    """``data`` as unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of unpadded base64url ``text``; ``ValueError`` unless it is the one
    canonical spelling of them."""
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except ValueError:  # binascii.Error, or a character outside ASCII
        raise ValueError("not unpadded base64url") from None
    if b64url_encode(data) != text:
        raise ValueError("not the canonical unpadded base64url spelling")
    return data
