"""Wallet addresses as the store accepts them: any case in, EIP-55 out."""

from __future__ import annotations

import re

from walletauth.siwe.message import to_checksum_address
from walletauth.store.errors import StoreError

_HEX_ADDRESS = re.compile(r"^0[xX][0-9a-fA-F]{40}$")


def normalise_address(address: object) -> str:
    """The EIP-55 form of ``address``; a mixed-case address must carry a valid checksum."""
    if not isinstance(address, str) or not _HEX_ADDRESS.match(address):
        raise StoreError("invalid_address", f"not a 20-byte hex address: {address!r}")
    body = address[2:]
    # The SIWE core's EIP-55 (C Keccak, no per-character loop): about 2 us where
    # eth_utils' takes 15, and every sign-in normalises its address.
    checksummed = to_checksum_address("0x" + body.lower())
    mixed_case = body != body.lower() and body != body.upper()
    if mixed_case and checksummed[2:] != body:
        raise StoreError("invalid_address", f"EIP-55 checksum mismatch in {address!r}")
    return checksummed
