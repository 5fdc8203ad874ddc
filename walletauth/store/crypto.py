"""The store's cryptography: keyed subject refs and AES-GCM sealing.

Why keyed: every on-chain address is public, so a plain hash of one is reversed by
hashing the list. Why AES-GCM with associated data: a sealed value only opens in the
place it was written for (a record's category and purpose, a wrapped key's id), so
rows cannot be swapped between subjects or purposes unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from walletauth.store.errors import StoreError

SUBJECT_KEY_BYTES = 32
_NONCE_BYTES = 12


def subject_ref(hmac_key: bytes, version: int, checksum_address: str) -> str:
    """``<version>:<hex HMAC-SHA256>``: the version says which key to recompute it with."""
    digest = hmac.new(hmac_key, checksum_address.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{version}:{digest}"


def derived_key(hmac_key: bytes, purpose: bytes) -> bytes:
    return hmac.new(hmac_key, purpose, hashlib.sha256).digest()


def new_subject_key() -> bytes:
    return AESGCM.generate_key(bit_length=SUBJECT_KEY_BYTES * 8)


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def seal_many(key: bytes, items: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
    """:func:`seal` of each ``(plaintext, associated)`` under one key, its cipher built
    once (about 1.5 us saved per value): for bulk loads that seal several values per
    subject. The cipher lives only for this call, like :func:`seal`'s."""
    cipher = AESGCM(key)
    sealed = []
    for plaintext, associated in items:
        nonce = os.urandom(_NONCE_BYTES)
        sealed.append(nonce + cipher.encrypt(nonce, plaintext, associated))
    return sealed


def unseal_many(key: bytes, items: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
    """:func:`unseal` of each ``(sealed, associated)`` under one key, its cipher built
    once (about 1.5 us saved per value: 15 ms of an export of 10,000 records). The cipher
    lives only for this call, like :func:`seal_many`'s."""
    cipher = AESGCM(key)
    return [unseal_with(cipher, sealed, associated) for sealed, associated in items]


def unseal(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    return unseal_with(AESGCM(key), sealed, associated)


def unseal_with(cipher: AESGCM, sealed: bytes, associated: bytes) -> bytes:
    """:func:`unseal` with the key's cipher object already built (building one costs
    about 1.5 us): only for server keys, which may stay in memory; a subject key's cipher
    is never kept, so that destroying the key destroys every way to read its data."""
    try:
        return cipher.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], associated)
    except InvalidTag:
        raise StoreError(
            "subject_key_missing",
            "a sealed value does not open under its key (wrong key, or the row was moved)",
        ) from None
