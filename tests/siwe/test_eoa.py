"""The EOA primitives agree with eth-account / eth-utils, whichever Keccak is in use."""

from __future__ import annotations

import eth_utils
from eth_account.messages import defunct_hash_message
from eth_hash.auto import keccak as reference_keccak
from hypothesis import given
from hypothesis import strategies as st

from tests.siwe.helpers import ALICE, sign
from walletauth.siwe import eip191_digest
from walletauth.siwe.eoa import keccak256, recover_signer
from walletauth.siwe.message import to_checksum_address


@given(st.binary(max_size=300))
def test_keccak256_is_ethereums_keccak(data):
    assert keccak256(data) == reference_keccak(data)


@given(st.text(max_size=200))
def test_eip191_digest_matches_eth_account(text):
    assert eip191_digest(text) == bytes(defunct_hash_message(text=text))
    assert eip191_digest(text.encode()) == eip191_digest(text)


@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils(raw):
    expected = eth_utils.to_checksum_address(raw)
    assert to_checksum_address(expected.lower()) == expected
    assert to_checksum_address(expected.upper().replace("0X", "0x")) == expected


def test_recover_signer_returns_the_address_bytes():
    signature = sign(ALICE, "hello")
    assert recover_signer(eip191_digest("hello"), signature) == bytes.fromhex(ALICE.address[2:])


def test_eth_account_recovers_through_coincurve_as_we_do():
    # eth-keys picks coincurve when it can import it, else a far slower pure-Python
    # curve; the benchmark's comparison with eth-account assumes the former.
    from eth_account import Account
    from eth_keys.backends import CoinCurveECCBackend

    assert isinstance(Account._keys.backend, CoinCurveECCBackend)
