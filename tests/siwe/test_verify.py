"""verify_message / averify_message: each check with its code, then the signature."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.siwe.helpers import ALICE, BOB, NOW, make_message, sign
from walletauth.siwe import (
    SiweError,
    SiweMessage,
    VerifiedLogin,
    averify_message,
    eip191_digest,
    verify_message,
)
from walletauth.siwe import verify as verify_module
from walletauth.siwe.eoa import SECP256K1_ORDER
from walletauth.siwe.verify import ERC6492_MAGIC_SUFFIX, averify_expected, expectations

MICROSECOND = timedelta(microseconds=1)
SKEW = timedelta(seconds=60)


def signed(message: SiweMessage | None = None, account=ALICE) -> tuple[str, bytes]:
    message = message or make_message()
    text = message.to_text()
    return text, sign(account, text)


def failure(code: str, text: str, signature, **kwargs) -> SiweError:
    kwargs.setdefault("domain", "example.com")
    kwargs.setdefault("now", NOW)
    with pytest.raises(SiweError) as caught:
        verify_message(text, signature, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


def login(text: str, signature, **kwargs) -> VerifiedLogin:
    kwargs.setdefault("domain", "example.com")
    kwargs.setdefault("now", NOW)
    return verify_message(text, signature, **kwargs)


# --- success ---------------------------------------------------------------------------


def test_plain_key_signature_verifies():
    text, signature = signed()
    result = login(text, signature, nonce="n0nceN0nce42", chain_ids={1, 10})
    assert result == VerifiedLogin(
        address=ALICE.address, chain_id=1, message=SiweMessage.parse(text), wallet_kind="eoa"
    )


@pytest.mark.parametrize(
    "as_given",
    [
        lambda sig: sig,
        lambda sig: bytearray(sig),
        lambda sig: memoryview(sig),
        lambda sig: "0x" + sig.hex(),
        lambda sig: "0x" + sig.hex().upper(),
    ],
    ids=["bytes", "bytearray", "memoryview", "hex", "upper-hex"],
)
def test_signature_as_bytes_or_hex(as_given):
    text, signature = signed()
    assert login(text, as_given(signature)).address == ALICE.address


def test_message_object_verifies_like_its_text():
    text, signature = signed()
    assert login(SiweMessage.parse(text), signature) == login(text, signature)


def test_domain_may_be_a_collection_and_compares_case_insensitively():
    text, signature = signed(make_message(domain="Example.COM"))
    assert login(text, signature, domain=["other.example", "example.com"]).address


def test_verifies_at_the_clock_when_now_is_not_given():
    current = datetime.now(UTC)
    text, signature = signed(make_message(issued_at=current - timedelta(seconds=5)))
    assert verify_message(text, signature, domain="example.com").wallet_kind == "eoa"


# --- each field check, with its code ---------------------------------------------------


def test_domain_mismatch_names_expected_and_found():
    text, signature = signed()
    error = failure("domain_mismatch", text, signature, domain="example.org")
    assert "example.org" in error.message
    assert "example.com" in error.message


@pytest.mark.parametrize(
    ("message_scheme", "expected", "passes"),
    [
        ("https", "https", True),
        ("HTTPS", "https", True),
        ("http", "https", False),
        ("http", ["http", "https"], True),
        (None, "https", True),  # EIP-4361: no scheme means HTTPS
        (None, "http", False),
    ],
)
def test_scheme(message_scheme, expected, passes):
    text, signature = signed(make_message(scheme=message_scheme))
    if passes:
        assert login(text, signature, scheme=expected).address == ALICE.address
    else:
        assert (
            "expected scheme"
            in failure("scheme_mismatch", text, signature, scheme=expected).message
        )


def test_scheme_is_not_checked_unless_asked():
    text, signature = signed(make_message(scheme="http"))
    assert login(text, signature).address == ALICE.address


@pytest.mark.parametrize(
    ("message_uri", "expected", "passes"),
    [
        ("https://example.com/login", "https://example.com", True),
        ("https://example.com:443/login", "https://EXAMPLE.com/other", True),
        ("https://example.com:8443/login", "https://example.com", False),
        ("http://example.com/login", "https://example.com", False),
        ("https://evil.example/login", "https://example.com", False),
        ("https://example.com@evil.example/", "https://example.com", False),
        ("urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "https://example.com", False),
        ("https://b.example/x", ["https://a.example", "https://b.example"], True),
    ],
)
def test_uri_origin(message_uri, expected, passes):
    text, signature = signed(make_message(uri=message_uri))
    if passes:
        assert login(text, signature, uri=expected).address == ALICE.address
    else:
        failure("uri_mismatch", text, signature, uri=expected)


def test_nonce_mismatch():
    text, signature = signed()
    error = failure("nonce_mismatch", text, signature, nonce="n0nceN0nce43")
    assert "n0nceN0nce42" in error.message


def test_nonce_compare_handles_non_ascii_expectations():
    text, signature = signed()
    failure("nonce_mismatch", text, signature, nonce="n0nceN0nce4\u00e9")


def test_chain_not_allowed():
    text, signature = signed(make_message(chain_id=5))
    error = failure("chain_not_allowed", text, signature, chain_ids=[1, 10])
    assert "[1, 10]" in error.message
    assert "5" in error.message


def test_malformed_message_text():
    text, signature = signed()
    failure("malformed_message", text.replace("Version: 1", "Version: 2"), signature)


# --- times and the clock skew ----------------------------------------------------------

ISSUED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "now", "code"),
    [
        # expired: valid strictly before expiration + skew
        ({"expiration_time": ISSUED + timedelta(hours=1)}, ISSUED + timedelta(hours=1), None),
        (
            {"expiration_time": ISSUED + timedelta(hours=1)},
            ISSUED + timedelta(hours=1) + SKEW - MICROSECOND,
            None,
        ),
        (
            {"expiration_time": ISSUED + timedelta(hours=1)},
            ISSUED + timedelta(hours=1) + SKEW,
            "expired",
        ),
        # not yet valid: valid from not-before - skew
        ({"not_before": ISSUED + timedelta(hours=1)}, ISSUED + timedelta(hours=1) - SKEW, None),
        (
            {"not_before": ISSUED + timedelta(hours=1)},
            ISSUED + timedelta(hours=1) - SKEW - MICROSECOND,
            "not_yet_valid",
        ),
        # issued in the future: at most skew ahead of now
        ({}, ISSUED - SKEW, None),
        ({}, ISSUED - SKEW - MICROSECOND, "issued_in_future"),
    ],
    ids=[
        "at-expiration-within-skew",
        "last-instant-of-skew",
        "expired-at-skew",
        "not-before-minus-skew",
        "just-before-not-before-minus-skew",
        "issued-skew-ahead",
        "issued-beyond-skew",
    ],
)
def test_time_boundaries(fields, now, code):
    text, signature = signed(make_message(issued_at=ISSUED, **fields))
    if code is None:
        assert login(text, signature, now=now).address == ALICE.address
    else:
        failure(code, text, signature, now=now)


@pytest.mark.parametrize(
    ("age", "code"),
    [(timedelta(minutes=5) + SKEW, None), (timedelta(minutes=5) + SKEW + MICROSECOND, "too_old")],
    ids=["at-max-age-plus-skew", "beyond"],
)
def test_max_age(age, code):
    text, signature = signed(make_message(issued_at=ISSUED))
    now = ISSUED + age
    if code is None:
        assert login(text, signature, now=now, max_age=timedelta(minutes=5)).address
    else:
        error = failure(code, text, signature, now=now, max_age=timedelta(minutes=5))
        assert "0:05:00" in error.message


def test_zero_skew_is_exact():
    text, signature = signed(
        make_message(issued_at=ISSUED, expiration_time=ISSUED + timedelta(hours=1))
    )
    failure("issued_in_future", text, signature, now=ISSUED - MICROSECOND, clock_skew=timedelta(0))
    failure("expired", text, signature, now=ISSUED + timedelta(hours=1), clock_skew=timedelta(0))


def test_skew_cannot_be_stretched_to_revive_expired_messages():
    text, signature = signed()
    with pytest.raises(ValueError, match="clock_skew"):
        login(text, signature, clock_skew=timedelta(days=1))
    with pytest.raises(ValueError, match="clock_skew"):
        login(text, signature, clock_skew=timedelta(seconds=-1))


def test_far_future_expiration_does_not_overflow():
    text, signature = signed(make_message(expiration_time="9999-12-31T23:59:59-23:59"))
    assert login(text, signature).address == ALICE.address


def test_expiry_message_says_when_and_now():
    text, signature = signed(make_message(expiration_time="2024-06-01T11:59:30Z"))
    error = failure("expired", text, signature, now=NOW + timedelta(hours=1))
    assert "2024-06-01T11:59:30Z" in error.message
    assert "2024-06-01T13:00:00" in error.message


# --- caller mistakes are ValueErrors, not login failures -------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"now": datetime(2024, 6, 1, 12, 0)},
        {"domain": []},
        {"domain": ""},
        {"chain_ids": []},
        {"max_age": timedelta(0)},
        {"uri": "urn:no-origin"},
        # wrong types: the same clear ValueError, never an AttributeError from deep inside
        {"nonce": 12345678},
        {"now": "2024-06-01T12:00:00Z"},
        {"domain": None},
        {"domain": b"example.com"},
        {"max_age": 300},
        {"clock_skew": 60},
        {"chain_ids": [1, "137"]},
    ],
    ids=["naive-now", "no-domains", "empty-domain", "no-chains", "zero-max-age", "uri-no-origin",
         "int-nonce", "text-now", "none-domain", "bytes-domain", "int-max-age", "int-skew",
         "text-chain-id"],
)
def test_caller_mistakes_raise_value_error(kwargs):
    text, signature = signed()
    with pytest.raises(ValueError):
        login(text, signature, **kwargs)


# --- the signature ---------------------------------------------------------------------


def with_v(signature: bytes, v: int) -> bytes:
    return signature[:64] + bytes((v,))


@pytest.mark.parametrize("convention", ["27/28", "0/1"])
def test_both_v_conventions_verify(convention):
    text, signature = signed()
    v = signature[64]
    assert v in (27, 28)
    given = with_v(signature, v - 27) if convention == "0/1" else signature
    assert login(text, given).wallet_kind == "eoa"


@pytest.mark.parametrize("v", [2, 26, 29, 31, 35, 255])
def test_other_v_values_are_not_plain_key_signatures(v):
    text, signature = signed()
    error = failure("invalid_signature", text, with_v(signature, v))
    assert f"found {v}" in error.message
    assert "no RPC is configured for chain 1" in error.message


def test_flipped_recovery_id_recovers_someone_else():
    text, signature = signed()
    flipped = with_v(signature, 55 - signature[64])  # 27 <-> 28
    assert "recovers to" in failure("invalid_signature", text, flipped).message


@pytest.mark.parametrize("length", [0, 1, 64, 66, 130])
def test_wrong_lengths_are_not_plain_key_signatures(length):
    text, signature = signed()
    given = (signature * 3)[:length]
    error = failure("invalid_signature", text, given)
    assert f"found {length} bytes" in error.message


def test_high_s_twin_of_a_valid_signature_is_refused():
    text, signature = signed()
    s = int.from_bytes(signature[32:64], "big")
    twin = (
        signature[:32]
        + (SECP256K1_ORDER - s).to_bytes(32, "big")
        + bytes((55 - signature[64],))  # the twin's point has the other y parity
    )
    error = failure("invalid_signature", text, twin)
    assert "high s" in error.message


@pytest.mark.parametrize(
    "scalars", [(0, 1), (1, 0), (SECP256K1_ORDER, 1)], ids=["r=0", "s=0", "r=n"]
)
def test_out_of_range_r_or_s_is_refused(scalars):
    text, _ = signed()
    r, s = scalars
    forged = r.to_bytes(32, "big") + s.to_bytes(32, "big") + b"\x1b"
    assert "[1, n-1]" in failure("invalid_signature", text, forged).message


def test_tampered_message_fails():
    text, signature = signed()
    tampered = text.replace("Sign in to Example", "Sign in to Exampl3")
    assert "recovers to" in failure("invalid_signature", tampered, signature).message


def test_signature_by_another_key_fails_and_names_the_signer():
    text, signature = signed(account=BOB)
    error = failure("invalid_signature", text, signature)
    assert BOB.address in error.message
    assert ALICE.address in error.message


@pytest.mark.parametrize(
    "given",
    [
        "", "0x123", "0xzz", "0x 12", "0x12 ", "0x12\n34", "0x\t1234", "0X12", "0x\uff11\uff12",
        "12" * 65, 1234, None,
    ],
    ids=[
        "empty-str", "odd", "non-hex", "space", "trailing-space", "line-break", "tab", "0X",
        "full-width-digits", "no-0x", "int", "none",
    ],
)
def test_unreadable_signatures(given):
    text, _ = signed()
    failure("invalid_signature", text, given)


HEX_SIGNATURE = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


SIGNATURE_CHARS = st.text(
    alphabet="0123456789abcdefABCDEFxXg \t\n\r\x0b\x0c\u00a0\uff11", max_size=12
)


@given(st.one_of(SIGNATURE_CHARS, SIGNATURE_CHARS.map(lambda digits: "0x" + digits)))
def test_signature_text_is_read_exactly_when_it_is_0x_and_hex_pairs(signature):
    read = verify_module._hex_bytes(signature)
    if HEX_SIGNATURE.fullmatch(signature):
        assert read == bytes.fromhex(signature[2:])
    else:
        assert read is None


def test_cheap_field_checks_come_before_the_signature():
    text, _ = signed()
    failure("domain_mismatch", text, "0xnot-even-hex", domain="example.org")
    failure("nonce_mismatch", text, b"", nonce="someOtherNonce")


# --- async -----------------------------------------------------------------------------


async def test_async_verifies_a_plain_key():
    text, signature = signed()
    result = await averify_message(text, signature, domain="example.com", now=NOW)
    assert result == login(text, signature)


async def test_async_reports_the_same_codes():
    text, signature = signed()
    with pytest.raises(SiweError) as caught:
        await averify_message(text, signature, domain="example.com", now=NOW, nonce="xxxxxxxx1")
    assert caught.value.code == "nonce_mismatch"
    with pytest.raises(SiweError) as caught:
        await averify_message(text, signature[:64], domain="example.com", now=NOW)
    assert caught.value.code == "invalid_signature"


@pytest.mark.parametrize(
    ("message", "call"),
    [
        (make_message(), {}),
        (make_message(), {"nonce": "xxxxxxxx1"}),
        (make_message(domain="other.example"), {}),
        (make_message(scheme="http"), {}),
        (make_message(chain_id=5), {}),
        (make_message(issued_at=NOW - timedelta(hours=2)), {}),
        (make_message(issued_at=NOW + timedelta(minutes=5)), {}),
    ],
)
async def test_expectations_built_once_verify_as_the_per_call_arguments(message, call):
    text, signature = signed(message)
    settings = {
        "domain": ["Example.com", "app.example"],
        "scheme": "https",
        "chain_ids": (1, 10),
        "max_age": timedelta(hours=1),
    }
    shared = expectations(**settings)
    outcomes = []
    for verify in (
        lambda: averify_message(text, signature, now=NOW, **settings, **call),
        lambda: averify_expected(text, signature, shared, now=NOW, **call),
        lambda: averify_expected(SiweMessage.parse(text), signature, shared, now=NOW, **call),
    ):
        try:
            outcomes.append(await verify())
        except SiweError as error:
            outcomes.append((error.code, error.message))
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_expectations_refuse_caller_mistakes_when_built():
    with pytest.raises(ValueError, match="clock_skew"):
        expectations(domain="example.com", clock_skew=timedelta(minutes=6))
    with pytest.raises(ValueError, match="chain_ids"):
        expectations(domain="example.com", chain_ids=())


# --- routing to the contract check -----------------------------------------------------


class ContractWallets:
    """Stands in for chain.py/contract.py: records what reached the contract check."""

    def __init__(self, answer: str | SiweError = "eip1271") -> None:
        self.answer = answer
        self.calls: list[tuple[object, str, bytes, bytes]] = []
        self.chain_ids: list[int] = []  # the chain the node must serve, per call

    def web3_for(self, rpc, chain_id):
        return f"web3 for chain {chain_id}" if rpc and chain_id in rpc else None

    def verify(self, w3, address, digest, signature, *, chain_id):
        self.calls.append((w3, address, digest, signature))
        self.chain_ids.append(chain_id)
        if isinstance(self.answer, SiweError):
            raise self.answer
        if signature.endswith(ERC6492_MAGIC_SUFFIX):
            return "eip6492"
        return self.answer

    async def averify(self, w3, address, digest, signature, *, chain_id):
        return self.verify(w3, address, digest, signature, chain_id=chain_id)


@pytest.fixture
def wallets(monkeypatch):
    fake = ContractWallets()
    monkeypatch.setattr("walletauth.siwe.chain.web3_for", fake.web3_for)
    monkeypatch.setattr("walletauth.siwe.chain.async_web3_for", fake.web3_for)
    monkeypatch.setattr("walletauth.siwe.contract.verify_contract_signature", fake.verify)
    monkeypatch.setattr("walletauth.siwe.contract.averify_contract_signature", fake.averify)
    return fake


RPC = {1: "http://node.invalid"}


def test_plain_key_never_costs_an_rpc_round_trip(wallets):
    text, signature = signed()
    assert login(text, signature, rpc=RPC).wallet_kind == "eoa"
    assert wallets.calls == []


SAFE_STYLE = bytes(range(130))
WEBAUTHN_STYLE = b"\x01" * 700
ERC6492_WRAPPED = b"\x02" * 300 + ERC6492_MAGIC_SUFFIX


@pytest.mark.parametrize(
    ("signature", "kind"),
    [
        (b"", "eip1271"),
        (SAFE_STYLE, "eip1271"),
        (WEBAUTHN_STYLE, "eip1271"),
        (ERC6492_WRAPPED, "eip6492"),
    ],
    ids=["empty", "safe-130", "webauthn-700", "erc6492"],
)
@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_any_other_signature_reaches_the_contract_check_untouched(
    wallets, signature, kind, flavour
):
    text, _ = signed()
    given = "0x" + signature.hex()
    if flavour == "sync":
        result = login(text, given, rpc=RPC)
    else:
        result = await averify_message(text, given, domain="example.com", now=NOW, rpc=RPC)
    assert result.wallet_kind == kind
    assert wallets.calls == [("web3 for chain 1", ALICE.address, eip191_digest(text), signature)]
    assert wallets.chain_ids == [1]  # the node must serve the message's own chain


def test_valid_signature_by_another_key_still_gets_the_contract_check(wallets):
    # A contract wallet's owner key signs for the contract's address (e.g. Argent).
    text, signature = signed(account=BOB)
    assert login(text, signature, rpc=RPC).wallet_kind == "eip1271"
    assert len(wallets.calls) == 1


def test_contract_refusal_and_rpc_failure_propagate(wallets):
    text, _ = signed()
    for code in ("invalid_signature", "rpc_unavailable"):
        wallets.answer = SiweError(code, "from the contract check")
        assert failure(code, text, SAFE_STYLE, rpc=RPC).message == "from the contract check"


@pytest.mark.parametrize(
    ("signature", "says"),
    [(SAFE_STYLE, "contract wallet (EIP-1271)"), (ERC6492_WRAPPED, "ERC-6492")],
    ids=["eip1271", "erc6492"],
)
def test_chain_without_rpc_says_so(wallets, signature, says):
    text, _ = signed(make_message(chain_id=10))
    error = failure("invalid_signature", text, signature, rpc=RPC)
    assert "no RPC is configured for chain 10" in error.message
    assert says in error.message
    assert wallets.calls == []


def test_field_checks_fail_before_any_rpc(wallets):
    text, _ = signed()
    failure("domain_mismatch", text, SAFE_STYLE, rpc=RPC, domain="example.org")
    assert wallets.calls == []
