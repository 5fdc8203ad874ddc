"""The official SIWE test vectors (spruceid/siwe test/*.json), one pytest id each."""

from __future__ import annotations

import os
from datetime import datetime

import pytest

from tests.siwe.helpers import FIELD_NAMES, NOW, load_vectors, snake_case
from walletauth.siwe import SiweError, SiweMessage, eip191_digest, verify_message
from walletauth.siwe.eoa import recover_signer

PARSING_POSITIVE = load_vectors("parsing_positive")
PARSING_NEGATIVE = load_vectors("parsing_negative")
PARSING_NEGATIVE_OBJECTS = load_vectors("parsing_negative_objects")
VERIFICATION_POSITIVE = load_vectors("verification_positive")
VERIFICATION_NEGATIVE = load_vectors("verification_negative")
EIP1271 = load_vectors("eip1271")


# The reference library never checks Issued At against the verification time, so its
# vector "expired message" (issued 2022, verified "in 2020") counts as valid there.
# A message from the future is not a valid login: here it fails with issued_in_future.
POSITIVE_VECTORS_WE_REFUSE = {"expired message": "issued_in_future"}

EXPECTED_NEGATIVE_CODES = {
    "expired message": "expired",
    "domain binding": "domain_mismatch",
    "custom time": "expired",
    "custom nonce": "nonce_mismatch",
    "malformed signature": "invalid_signature",
    "wrong signature": "invalid_signature",
    "not yet valid": "not_yet_valid",
    "invalid issuedAt": "malformed_message",
    "invalid notBefore": "malformed_message",
    "invalid expirationTime": "malformed_message",
}


def test_every_vector_file_is_covered():
    counts = [
        len(PARSING_POSITIVE),
        len(PARSING_NEGATIVE),
        len(PARSING_NEGATIVE_OBJECTS),
        len(VERIFICATION_POSITIVE),
        len(VERIFICATION_NEGATIVE),
        len(EIP1271),
    ]
    assert counts == [19, 29, 18, 4, 10, 2]  # 82, as the vectors' README lists
    assert set(EXPECTED_NEGATIVE_CODES) == set(VERIFICATION_NEGATIVE)


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", PARSING_POSITIVE.values(), ids=PARSING_POSITIVE.keys())
def test_parsing_positive_parses_to_the_vector_fields(case):
    parsed = SiweMessage.parse(case["message"])
    fields = snake_case(case["fields"])
    fields["resources"] = tuple(fields["resources"]) if "resources" in fields else None
    for name in FIELD_NAMES:
        assert getattr(parsed, name) == fields.get(name), name


@pytest.mark.parametrize("case", PARSING_POSITIVE.values(), ids=PARSING_POSITIVE.keys())
def test_parsing_positive_builds_the_same_text_from_fields(case):
    built = SiweMessage(**snake_case(case["fields"]))
    assert built.to_text() == case["message"]
    assert built == SiweMessage.parse(case["message"])


@pytest.mark.parametrize("text", PARSING_NEGATIVE.values(), ids=PARSING_NEGATIVE.keys())
def test_parsing_negative_is_malformed(text):
    with pytest.raises(SiweError) as caught:
        SiweMessage.parse(text)
    assert caught.value.code == "malformed_message"


@pytest.mark.parametrize(
    "fields", PARSING_NEGATIVE_OBJECTS.values(), ids=PARSING_NEGATIVE_OBJECTS.keys()
)
def test_parsing_negative_objects_cannot_be_built(fields):
    with pytest.raises(SiweError) as caught:
        SiweMessage(**snake_case(fields))
    assert caught.value.code == "malformed_message"


# --- verification ----------------------------------------------------------------------


def _split_verification_case(case):
    fields = dict(case)
    signature = fields.pop("signature")
    time = fields.pop("time", None)
    expected = {
        "domain": fields.pop("domainBinding", fields["domain"]),
        "nonce": fields.pop("matchNonce", None),
        # Vectors without a time are checked at a fixed instant, not at the clock.
        "now": datetime.fromisoformat(time) if time else NOW,
    }
    return snake_case(fields), signature, expected


@pytest.mark.parametrize("case", VERIFICATION_POSITIVE.values(), ids=VERIFICATION_POSITIVE.keys())
def test_verification_positive(request, case):
    fields, signature, expected = _split_verification_case(case)
    text = SiweMessage(**fields).to_text()
    refused_with = POSITIVE_VECTORS_WE_REFUSE.get(request.node.callspec.id)
    if refused_with:
        with pytest.raises(SiweError) as caught:
            verify_message(text, signature, **expected)
        assert caught.value.code == refused_with
        # Only the time is at fault: the signature itself is the address's.
        signer = recover_signer(eip191_digest(text), bytes.fromhex(signature[2:]))
        assert "0x" + signer.hex() == fields["address"].lower()
        return
    login = verify_message(text, signature, **expected)
    assert (login.address, login.chain_id, login.wallet_kind) == (
        fields["address"],
        fields["chain_id"],
        "eoa",
    )
    assert login.message == SiweMessage.parse(text)


@pytest.mark.parametrize("case", VERIFICATION_NEGATIVE.values(), ids=VERIFICATION_NEGATIVE.keys())
def test_verification_negative(request, case):
    fields, signature, expected = _split_verification_case(case)
    with pytest.raises(SiweError) as caught:
        # Building the message is part of it: three vectors carry impossible dates.
        verify_message(SiweMessage(**fields), signature, **expected)
    assert caught.value.code == EXPECTED_NEGATIVE_CODES[request.node.callspec.id]


# --- contract wallets (EIP-1271) on Ethereum mainnet -----------------------------------


@pytest.mark.parametrize("case", EIP1271.values(), ids=EIP1271.keys())
def test_eip1271_vectors_are_contract_signatures_that_need_an_rpc(case):
    message = SiweMessage.parse(case["message"])
    with pytest.raises(SiweError) as caught:
        verify_message(case["message"], case["signature"], domain=message.domain, now=NOW, rpc=None)
    assert caught.value.code == "invalid_signature"
    assert "no RPC is configured for chain 1" in caught.value.message


MAINNET_RPC = os.environ.get("WALLETAUTH_TEST_MAINNET_RPC")


@pytest.mark.skipif(
    not MAINNET_RPC,
    reason="needs an Ethereum mainnet RPC (WALLETAUTH_TEST_MAINNET_RPC); no network here",
)
@pytest.mark.parametrize("case", EIP1271.values(), ids=EIP1271.keys())
def test_eip1271_vectors_verify_on_mainnet(case):
    message = SiweMessage.parse(case["message"])
    login = verify_message(
        case["message"], case["signature"], domain=message.domain, now=NOW, rpc={1: MAINNET_RPC}
    )
    assert login.wallet_kind == "eip1271"
