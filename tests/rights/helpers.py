"""Signing rights requests as a wallet does, and every form an address could leak in."""

from __future__ import annotations

import hashlib

from eth_utils import keccak

from walletauth.rights import request_urn


def signed_request(http, wallet, kind, **fields) -> dict[str, str]:
    nonce = http.get("/auth/nonce").json()["nonce"]
    fields.setdefault("resources", [request_urn(kind)])
    return wallet.signed_body(nonce, **fields)


def address_forms(address: str) -> dict[str, bytes]:
    """The address as text (lowercase hex, EIP-55, without 0x) and raw bytes, and every
    unkeyed sha256/keccak256 of those, as hex text and as raw digests."""
    lower, raw = address.lower(), bytes.fromhex(address[2:])
    texts = {"lower": lower, "eip55": address, "bare": lower[2:]}
    forms = {name: text.encode() for name, text in texts.items()}
    forms["raw"] = raw
    for name, hasher in (("sha256", lambda b: hashlib.sha256(b).digest()), ("keccak", keccak)):
        for label, value in [*((k, v.encode()) for k, v in texts.items() if k != "bare"),
                             ("raw", raw)]:
            digest = hasher(value)
            forms[f"{name}({label})"] = digest
            forms[f"{name}({label}).hex"] = digest.hex().encode()
    return forms


def leaks(blob: bytes, address: str) -> list[str]:
    """The forms of ``address`` found in ``blob`` (case-insensitive for hex text)."""
    lowered = blob.lower()
    found = []
    for name, form in address_forms(address).items():
        text_like = not name.startswith(("raw", "sha256(", "keccak(")) or name.endswith(".hex")
        haystack, needle = (lowered, form.lower()) if text_like else (blob, form)
        if needle in haystack:
            found.append(name)
    return found
