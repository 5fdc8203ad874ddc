"""Shared test material: the official vectors, a test key, and message builders."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

from walletauth.siwe import SiweMessage

# Loaded relative to this file, so the suite runs from any working directory.
VECTORS_DIR = Path(__file__).resolve().parent.parent / "vectors" / "siwe"

# Well-known, worthless keys; signatures are made by eth-account, independently of
# the code under test.
ALICE = Account.from_key("0x" + "a1" * 32)
BOB = Account.from_key("0x" + "b0" * 32)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def load_vectors(name: str) -> dict[str, Any]:
    with (VECTORS_DIR / f"{name}.json").open(encoding="utf-8") as file:
        return json.load(file)


def snake_case(fields: dict[str, Any]) -> dict[str, Any]:
    """The vectors' camelCase field names as SiweMessage's snake_case ones."""
    return {re.sub(r"[A-Z]", lambda m: "_" + m[0].lower(), name): v for name, v in fields.items()}


def sign(account: Any, text: str) -> bytes:
    return bytes(account.sign_message(encode_defunct(text=text)).signature)


def make_message(**overrides: Any) -> SiweMessage:
    fields: dict[str, Any] = {
        "domain": "example.com",
        "address": ALICE.address,
        "statement": "Sign in to Example",
        "uri": "https://example.com/login",
        "version": "1",
        "chain_id": 1,
        "nonce": "n0nceN0nce42",
        "issued_at": "2024-06-01T11:59:00Z",
    }
    fields.update(overrides)
    return SiweMessage(**fields)


# The message fields in the spec's order (EIP-4361 names in snake_case).
FIELD_NAMES = (
    "scheme",
    "domain",
    "address",
    "statement",
    "uri",
    "version",
    "chain_id",
    "nonce",
    "issued_at",
    "expiration_time",
    "not_before",
    "request_id",
    "resources",
)
