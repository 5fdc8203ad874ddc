"""Plain-key (EOA) signatures: the EIP-191 digest and public-key recovery.

Recovery calls libsecp256k1 through ``coincurve`` directly, and Keccak-256 comes from
the C extension of ``safe-pysha3`` when it is installed (about 0.5 us a hash), else
from ``eth_hash`` (pycryptodome, about 4 us: its Python wrapper dominates). eth-account
reaches the same libsecp256k1 through eth-keys' coincurve backend, but wraps it in
several layers of objects and validation; skipping them is what makes us fast.

What counts as an EOA signature here, on purpose:

* exactly 65 bytes, ``r || s || v``;
* ``v`` is 27/28 (Ethereum's convention) or 0/1 (the bare recovery id some hardware
  wallets and libraries emit); anything else is not an EOA signature;
* ``0 < r < n`` and ``0 < s <= n/2``. A high-``s`` signature (EIP-2) is refused:
  every mainstream wallet emits low ``s``, and the malleated twin of a valid
  signature serves no one but someone replaying it under a different byte string.

A signature that fails these rules is not rejected outright by the verifier: it may
still be a contract wallet's signature (Safe, for one, uses other ``v`` values), so
it goes on to the EIP-1271/ERC-6492 check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from coincurve import PublicKey

from walletauth.siwe.errors import SiweError


def _fastest_keccak256() -> Callable[[bytes], bytes]:
    try:
        from sha3 import keccak_256  # safe-pysha3: Keccak-256 (not SHA3-256) in C
    except ImportError:
        from eth_hash.auto import keccak

        return keccak
    return lambda data: keccak_256(data).digest()


keccak256: Final[Callable[[bytes], bytes]] = _fastest_keccak256()

EIP191_PREFIX: Final = b"\x19Ethereum Signed Message:\n"
EOA_SIGNATURE_LENGTH: Final = 65
SECP256K1_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_ORDER: Final = SECP256K1_ORDER // 2
_RECOVERY_ID_BY_V: Final = {27: 0, 28: 1, 0: 0, 1: 1}


def eip191_digest(message: str | bytes) -> bytes:
    """keccak256 of ``"\\x19Ethereum Signed Message:\\n" + len + message`` (personal_sign).

    Text is encoded as UTF-8 and the length is its length in bytes, as wallets do.
    """
    data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    return keccak256(EIP191_PREFIX + str(len(data)).encode("ascii") + data)


def recover_signer(digest: bytes, signature: bytes) -> bytes:
    """The 20-byte address whose key made this 65-byte signature over ``digest``.

    Raises ``SiweError("invalid_signature", ...)`` saying why the signature is not a
    canonical EOA signature.
    """
    recoverable = _recoverable_form(signature)
    try:
        public_key = PublicKey.from_signature_and_message(recoverable, digest, hasher=None)
    except ValueError as error:
        raise SiweError(
            "invalid_signature", f"signature does not recover to a public key ({error})"
        ) from None
    # The address is the last 20 bytes of keccak(X || Y), without the 0x04 prefix.
    return keccak256(public_key.format(compressed=False)[1:])[12:]


def _recoverable_form(signature: bytes) -> bytes:
    """``r || s || recovery_id`` as libsecp256k1 wants it, after the checks above."""
    if len(signature) != EOA_SIGNATURE_LENGTH:
        raise SiweError(
            "invalid_signature",
            f"an EOA signature is {EOA_SIGNATURE_LENGTH} bytes (r, s, v); "
            f"found {len(signature)} bytes",
        )
    recovery_id = _RECOVERY_ID_BY_V.get(signature[64])
    if recovery_id is None:
        raise SiweError(
            "invalid_signature", f"an EOA signature has v 27, 28, 0 or 1; found {signature[64]}"
        )
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not 0 < r < SECP256K1_ORDER or not 0 < s < SECP256K1_ORDER:
        raise SiweError("invalid_signature", "signature r and s must lie in [1, n-1]")
    if s > _HALF_ORDER:
        raise SiweError(
            "invalid_signature",
            "signature has a non-canonical high s (EIP-2); wallets emit s <= n/2",
        )
    return signature[:64] + bytes((recovery_id,))
