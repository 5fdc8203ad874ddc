"""Verify a signed EIP-4361 message: the relying party's checks, then the signature.

The field checks run first, because they are cheap and need no key or network:
domain, scheme, URI origin, chain, nonce, then the times. Only a message that passes
them costs a signature recovery, and only a signature that does not recover to the
message's address costs an RPC round trip.

How a message without a scheme compares: EIP-4361 says that when ``scheme`` is not
specified, HTTPS is assumed, so such a message matches ``scheme="https"`` and nothing
else. Schemes and domains compare case-insensitively, as RFC 3986 says they are.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from walletauth.siwe.eoa import eip191_digest, recover_signer
from walletauth.siwe.errors import SiweError
from walletauth.siwe.message import SiweMessage, to_checksum_address, uri_origin

if TYPE_CHECKING:  # web3 is imported only when a contract wallet needs checking
    from web3 import AsyncWeb3, Web3

WalletKind = Literal["eoa", "eip1271", "eip6492"]

DEFAULT_CLOCK_SKEW: Final = timedelta(seconds=60)
# The skew forgives clocks that disagree a little; it must never stretch a message's
# lifetime in any way that matters, so it is capped.
MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
ERC6492_MAGIC_SUFFIX: Final = bytes.fromhex("6492" * 16)
_ASSUMED_SCHEME: Final = "https"


@dataclass(frozen=True, slots=True)
class VerifiedLogin:
    """A message whose fields and signature checked out.

    ``address`` is the EIP-55 address that signed in, ``wallet_kind`` says how the
    signature was proven: a plain key (``"eoa"``), a deployed contract wallet
    (``"eip1271"``) or a not-yet-deployed one (``"eip6492"``).
    """

    address: str
    chain_id: int
    message: SiweMessage
    wallet_kind: WalletKind


class Expectations(NamedTuple):
    """What a relying party accepts, checked and normalized once (:func:`expectations`).

    A service that verifies many messages against the same settings builds this once
    and passes it to :func:`averify_expected`, instead of having every verify check and
    normalize its arguments again.
    """

    domains: frozenset[str]
    schemes: frozenset[str] | None
    origins: frozenset[str] | None
    chain_ids: frozenset[int] | None
    max_age: timedelta | None
    clock_skew: timedelta


class SignedMessage(NamedTuple):
    """A message whose fields checked out, with what its signature checks need."""

    message: SiweMessage
    digest: bytes
    signature: bytes


def verify_message(
    message: str | SiweMessage,
    signature: str | bytes,
    *,
    domain: str | Collection[str],
    nonce: str | None = None,
    now: datetime | None = None,
    scheme: str | Collection[str] | None = None,
    uri: str | Collection[str] | None = None,
    chain_ids: Collection[int] | None = None,
    max_age: timedelta | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    rpc: Mapping[int, object] | None = None,
) -> VerifiedLogin:
    """Check a signed EIP-4361 message and return who signed in.

    :param message: the signed text (preferred: it is hashed exactly as received) or
        a :class:`SiweMessage`.
    :param signature: ``0x``-hex text or raw bytes, of any length: 65 bytes for a
        plain key, anything a contract wallet accepts otherwise.
    :param domain: the allowed domain(s), compared case-insensitively.
    :param nonce: the nonce this session issued; compared in constant time.
    :param now: the verification time, timezone-aware; the clock by default.
    :param scheme: the allowed scheme(s); a message without one counts as ``https``.
    :param uri: allowed URI(s) whose origin (scheme, host, port) the message URI's
        origin must match.
    :param chain_ids: the allowed chain ids.
    :param max_age: how old ``Issued At`` may be.
    :param clock_skew: tolerance for clocks that disagree, at most five minutes.
    :param rpc: per chain id, a Web3 provider, URL or Web3 instance, used only for
        signatures that do not recover to the message's address (contract wallets).
    :raises SiweError: with the code of the first check that failed.
    :raises ValueError: for arguments that are a caller's bug (naive ``now``, empty
        allow-lists, skew out of range), not an authentication failure.

    A 65-byte signature counts as a plain key's only if it is canonical: ``v`` in
    27/28/0/1 and low ``s`` (EIP-2; see :mod:`walletauth.siwe.eoa`).
    """
    signed = _checked_signed_message(
        message,
        signature,
        expectations(
            domain=domain, scheme=scheme, uri=uri, chain_ids=chain_ids, max_age=max_age,
            clock_skew=clock_skew,
        ),
        _nonce(nonce),
        _now(now),
    )
    eoa_failure = _eoa_failure(signed)
    if eoa_failure is None:
        return _login(signed, "eoa")
    web3 = _web3_for(rpc, signed.message.chain_id)
    if web3 is None:
        raise _no_rpc_error(signed, eoa_failure)
    from walletauth.siwe.contract import verify_contract_signature

    kind = verify_contract_signature(
        web3, signed.message.address, signed.digest, signed.signature,
        chain_id=signed.message.chain_id,
    )
    return _login(signed, kind)


async def averify_message(
    message: str | SiweMessage,
    signature: str | bytes,
    *,
    domain: str | Collection[str],
    nonce: str | None = None,
    now: datetime | None = None,
    scheme: str | Collection[str] | None = None,
    uri: str | Collection[str] | None = None,
    chain_ids: Collection[int] | None = None,
    max_age: timedelta | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    rpc: Mapping[int, object] | None = None,
) -> VerifiedLogin:
    """:func:`verify_message` for asyncio: the contract check awaits an AsyncWeb3.

    Recovering a plain key takes tens of microseconds, so it runs inline.
    """
    expected = expectations(
        domain=domain, scheme=scheme, uri=uri, chain_ids=chain_ids, max_age=max_age,
        clock_skew=clock_skew,
    )
    return await averify_expected(message, signature, expected, nonce=nonce, now=now, rpc=rpc)


async def averify_expected(
    message: str | SiweMessage,
    signature: str | bytes,
    expected: Expectations,
    *,
    nonce: str | None = None,
    now: datetime | None = None,
    rpc: Mapping[int, object] | None = None,
) -> VerifiedLogin:
    """:func:`averify_message` against :func:`expectations` built beforehand: the same
    checks in the same order, without re-checking the relying party's settings."""
    signed = check_signed(message, signature, expected, nonce=nonce, now=now)
    eoa_failure = plain_key_failure(signed)
    if eoa_failure is None:
        return plain_key_login(signed)
    return await acontract_login(signed, eoa_failure, rpc=rpc)


def check_signed(
    message: str | SiweMessage,
    signature: str | bytes,
    expected: Expectations,
    *,
    nonce: str | None = None,
    now: datetime | None = None,
) -> SignedMessage:
    """The first step of :func:`averify_expected`: the field checks (no key, no network),
    and the message's digest and signature bytes for the signature checks."""
    return _checked_signed_message(message, signature, expected, _nonce(nonce), _now(now))


def plain_key_failure(signed: SignedMessage) -> str | None:
    """The second step: ``None`` if the signature is the message address's plain key's
    (final, see below), else why it is not."""
    return _eoa_failure(signed)


def plain_key_login(signed: SignedMessage) -> VerifiedLogin:
    """Who signed in, once :func:`plain_key_failure` found no failure."""
    return _login(signed, "eoa")


async def acontract_login(
    signed: SignedMessage, eoa_failure: str, *, rpc: Mapping[int, object] | None = None
) -> VerifiedLogin:
    """The last step, for a signature that is not the plain key's: the wallet's contract
    on the message's chain decides (``invalid_signature`` without an RPC for it)."""
    web3 = _async_web3_for(rpc, signed.message.chain_id)
    if web3 is None:
        raise _no_rpc_error(signed, eoa_failure)
    from walletauth.siwe.contract import averify_contract_signature

    kind = await averify_contract_signature(
        web3, signed.message.address, signed.digest, signed.signature,
        chain_id=signed.message.chain_id,
    )
    return _login(signed, kind)


# --- the order of the signature checks -------------------------------------------------
#
# 1. A 65-byte signature that recovers to the message's address is final: no RPC round
#    trip for plain keys. This also covers EIP-7702 delegated accounts, whose key still
#    signs even though the address now has code.
# 2. Otherwise the signature goes, untouched and whatever its length (empty, 130-byte
#    Safe multi-owner, long WebAuthn wrappers), to the contract check. There, one that
#    ends with the ERC-6492 magic suffix goes to the deploy-less validator (a wallet not
#    deployed yet); any other to EIP-1271 isValidSignature on the deployed contract.


def _eoa_failure(signed: SignedMessage) -> str | None:
    """``None`` if the signature is the message address's key's; else why it is not."""
    try:
        signer = recover_signer(signed.digest, signed.signature)
    except SiweError as error:
        return error.message
    if signer != bytes.fromhex(signed.message.address[2:]):
        return f"it recovers to {to_checksum_address('0x' + signer.hex())}"
    return None


def _web3_for(rpc: Mapping[int, object] | None, chain_id: int) -> Web3 | None:
    if rpc is None:
        return None
    # Imported late: only contract wallets need web3, and chain.py pulls it in.
    from walletauth.siwe.chain import web3_for

    return web3_for(rpc, chain_id)


def _async_web3_for(rpc: Mapping[int, object] | None, chain_id: int) -> AsyncWeb3[Any] | None:
    if rpc is None:
        return None
    from walletauth.siwe.chain import async_web3_for

    return async_web3_for(rpc, chain_id)


def _no_rpc_error(signed: SignedMessage, eoa_failure: str) -> SiweError:
    chain_id = signed.message.chain_id
    wallet = (
        "an ERC-6492 signature of a contract wallet not deployed yet"
        if signed.signature.endswith(ERC6492_MAGIC_SUFFIX)
        else "a contract wallet (EIP-1271)"
    )
    return SiweError(
        "invalid_signature",
        f"signature is not a plain-key signature by {signed.message.address} ({eoa_failure}), "
        f"and no RPC is configured for chain {chain_id} to check {wallet}",
    )


def _login(signed: SignedMessage, kind: WalletKind) -> VerifiedLogin:
    return VerifiedLogin(
        address=signed.message.address,
        chain_id=signed.message.chain_id,
        message=signed.message,
        wallet_kind=kind,
    )


# --- inputs and field checks -----------------------------------------------------------


def _checked_signed_message(
    message: str | SiweMessage,
    signature: str | bytes,
    expected: Expectations,
    nonce: str | None,
    now: datetime,
) -> SignedMessage:
    if isinstance(message, SiweMessage):
        parsed, text = message, message.to_text()
    else:
        parsed, text = SiweMessage.parse(message), message
    _check_fields(parsed, expected, nonce, now)
    return SignedMessage(parsed, eip191_digest(text), _signature_bytes(signature))


def _check_fields(
    message: SiweMessage, expected: Expectations, nonce: str | None, now: datetime
) -> None:
    _check_domain(message, expected.domains)
    if expected.schemes is not None:
        _check_scheme(message, expected.schemes)
    if expected.origins is not None:
        _check_origin(message, expected.origins)
    if expected.chain_ids is not None and message.chain_id not in expected.chain_ids:
        raise SiweError(
            "chain_not_allowed",
            f"expected chain id in {sorted(expected.chain_ids)}; found {message.chain_id}",
        )
    if nonce is not None:
        _check_nonce(message, nonce)
    _check_times(message, expected, now)


def _check_domain(message: SiweMessage, domains: frozenset[str]) -> None:
    if message.domain.lower() not in domains:
        raise SiweError(
            "domain_mismatch", f"expected domain in {sorted(domains)}; found {message.domain!r}"
        )


def _check_scheme(message: SiweMessage, schemes: frozenset[str]) -> None:
    found = (message.scheme or _ASSUMED_SCHEME).lower()
    if found not in schemes:
        shown = repr(message.scheme) if message.scheme else f"none (taken as {_ASSUMED_SCHEME!r})"
        raise SiweError("scheme_mismatch", f"expected scheme in {sorted(schemes)}; found {shown}")


def _check_origin(message: SiweMessage, origins: frozenset[str]) -> None:
    found = uri_origin(message.uri)
    if found not in origins:
        raise SiweError(
            "uri_mismatch",
            f"expected a URI with origin in {sorted(origins)}; found {message.uri!r} "
            f"(origin {found or 'none'})",
        )


def _check_nonce(message: SiweMessage, nonce: str) -> None:
    # Constant time, so that response timing does not reveal how much of a guess matched.
    if not hmac.compare_digest(message.nonce.encode(), nonce.encode()):
        raise SiweError(
            "nonce_mismatch",
            f"expected the nonce this session issued; found {message.nonce!r}",
        )


def _check_times(message: SiweMessage, expected: Expectations, now: datetime) -> None:
    # Differences of datetimes, never datetime + skew: 9999-12-31 + 60 s would overflow.
    skew = expected.clock_skew
    issued_at = message.issued_at_datetime
    if issued_at - now > skew:
        raise SiweError(
            "issued_in_future",
            f"expected Issued At no later than {_iso(now)} (+{skew} skew); "
            f"found {message.issued_at}",
        )
    not_before = message.not_before_datetime
    if not_before is not None and not_before - now > skew:
        raise SiweError(
            "not_yet_valid",
            f"message is valid from {message.not_before}; it is {_iso(now)} (skew {skew})",
        )
    expiration = message.expiration_datetime
    if expiration is not None and now - expiration >= skew:
        raise SiweError(
            "expired",
            f"message expired at {message.expiration_time}; it is {_iso(now)} (skew {skew})",
        )
    if expected.max_age is not None and now - issued_at > expected.max_age + skew:
        raise SiweError(
            "too_old",
            f"expected Issued At within {expected.max_age} of {_iso(now)} (skew {skew}); "
            f"found {message.issued_at}",
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _signature_bytes(signature: str | bytes) -> bytes:
    if isinstance(signature, bytes | bytearray | memoryview):
        return bytes(signature)
    if not isinstance(signature, str):
        raise SiweError(
            "invalid_signature",
            f"expected a 0x-hex string or bytes signature; found {type(signature).__name__}",
        )
    raw = _hex_bytes(signature)
    if raw is None:
        raise SiweError(
            "invalid_signature",
            f"expected 0x and an even number of hex digits; found {signature[:20]!r}"
            f"{'...' if len(signature) > 20 else ''}",
        )
    return raw


def _hex_bytes(text: str) -> bytes | None:
    """The bytes of ``0x`` + an even number of hex digits, else ``None``.

    ``bytes.fromhex`` (C, faster than a regex check first) refuses every other
    character but skips whitespace; a signature with whitespace is not one we were
    sent, and exactly then it yields fewer bytes than half the digits given.
    """
    if not text.startswith("0x"):
        return None
    try:
        raw = bytes.fromhex(text[2:])
    except ValueError:
        return None
    return raw if 2 * len(raw) == len(text) - 2 else None


# --- the caller's arguments ------------------------------------------------------------


def expectations(
    *,
    domain: str | Collection[str],
    scheme: str | Collection[str] | None = None,
    uri: str | Collection[str] | None = None,
    chain_ids: Collection[int] | None = None,
    max_age: timedelta | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> Expectations:
    """The relying party's side of :func:`verify_message` (same parameters, same
    ``ValueError`` for a caller's bug), checked and normalized for :func:`averify_expected`."""
    return Expectations(
        domains=_lowered(domain, "domain"),
        schemes=None if scheme is None else _lowered(scheme, "scheme"),
        origins=None if uri is None else _origins(uri),
        chain_ids=None if chain_ids is None else _chain_ids(chain_ids),
        max_age=_max_age(max_age),
        clock_skew=_clock_skew(clock_skew),
    )


def _strings(value: str | Collection[str], name: str) -> list[str]:
    values = [value] if isinstance(value, str) else list(value) if _is_many(value) else []
    if not values or not all(isinstance(item, str) and item for item in values):
        raise ValueError(f"{name} must be a non-empty string or collection of them")
    return values


def _is_many(value: object) -> bool:
    return isinstance(value, Collection) and not isinstance(value, bytes | bytearray)


def _nonce(nonce: str | None) -> str | None:
    if nonce is not None and not isinstance(nonce, str):
        raise ValueError(f"nonce must be the issued nonce as text; found {type(nonce).__name__}")
    return nonce


def _lowered(value: str | Collection[str], name: str) -> frozenset[str]:
    if isinstance(value, str) and value:  # the usual single domain, on every login
        return frozenset((value.lower(),))
    return frozenset(item.lower() for item in _strings(value, name))


def _origins(uri: str | Collection[str]) -> frozenset[str]:
    origins = set()
    for item in _strings(uri, "uri"):
        origin = uri_origin(item)
        if origin is None:
            raise ValueError(f"uri {item!r} has no scheme://host origin to compare")
        origins.add(origin)
    return frozenset(origins)


def _chain_ids(chain_ids: Collection[int]) -> frozenset[int]:
    allowed = frozenset(chain_ids)
    if not allowed or not all(isinstance(item, int) for item in allowed):
        raise ValueError("chain_ids must be a non-empty collection of integers")
    return allowed


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime):
        raise ValueError(f"now must be an aware datetime; found {type(now).__name__}")
    if now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware; found naive {now.isoformat()}")
    return now


def _max_age(max_age: timedelta | None) -> timedelta | None:
    if max_age is not None and not isinstance(max_age, timedelta):
        raise ValueError(f"max_age must be a timedelta; found {type(max_age).__name__}")
    if max_age is not None and max_age <= timedelta(0):
        raise ValueError(f"max_age must be positive; found {max_age}")
    return max_age


def _clock_skew(clock_skew: timedelta) -> timedelta:
    if not isinstance(clock_skew, timedelta):
        raise ValueError(f"clock_skew must be a timedelta; found {type(clock_skew).__name__}")
    if not timedelta(0) <= clock_skew <= MAX_CLOCK_SKEW:
        raise ValueError(f"clock_skew must be between 0 and {MAX_CLOCK_SKEW}; found {clock_skew}")
    return clock_skew
