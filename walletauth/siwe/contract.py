"""Smart-contract wallet signatures: ERC-1271, and ERC-6492 for wallets not deployed yet.

The caller (``verify.py``) hands over the EIP-191 digest of the SIWE message and the
signature bytes exactly as the wallet produced them. Nothing here inspects or reshapes
the signature: an empty signature (Safe pre-approved hash), concatenated multi-owner
signatures, or a long ABI-encoded passkey wrapper all go to the wallet byte for byte,
because only the wallet knows its own format. (spruceid/siwe-py #63 and #79: the
reference library ran the bytes through ECDSA recovery first and turned the length
error into a hard "invalid signature", so Safe and Coinbase Smart Wallet users could
never reach the ERC-1271 check.)

Outcomes are kept apart on purpose:

* the wallet said no, reverted, is not a contract, or answered garbage
  -> ``SiweError("invalid_signature")``;
* the node could not be reached, timed out, or answered with a JSON-RPC error
  -> ``SiweError("rpc_unavailable")``: an outage must never look like a bad signature,
  and never like a good one.
"""

from __future__ import annotations

import json
import sys
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from typing import Any, Final, Literal

from aiohttp import ClientError
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_typing import ChecksumAddress
from eth_utils import is_address, to_checksum_address
from requests import RequestException
from requests import Timeout as RequestsTimeout
from web3 import AsyncWeb3, Web3
from web3.exceptions import (
    ContractLogicError,
    OffchainLookup,
    ProviderConnectionError,
    RequestTimedOut,
    TimeExhausted,
    Web3RPCError,
)
from web3.types import TxParams

from walletauth.siwe.chain import ensure_connected
from walletauth.siwe.errors import SiweError

__all__ = [
    "ERC1271_MAGIC_VALUE",
    "ERC6492_SUFFIX",
    "ContractSignatureKind",
    "averify_contract_signature",
    "is_erc6492_wrapped",
    "unwrap_erc6492",
    "verify_contract_signature",
]

ContractSignatureKind = Literal["eip1271", "eip6492"]

#: ``bytes4(keccak256("isValidSignature(bytes32,bytes)"))``: both the selector and the
#: value a wallet returns to say "valid".
ERC1271_MAGIC_VALUE: Final = bytes.fromhex("1626ba7e")
#: The return word a valid ERC-1271 answer must equal: the magic value, left-aligned.
_MAGIC_WORD: Final = ERC1271_MAGIC_VALUE + bytes(28)
#: Trailing 32 bytes that mark an ERC-6492 wrapped signature.
ERC6492_SUFFIX: Final = bytes.fromhex("6492" * 16)

# Status bytes returned by contracts/src/ERC6492Validator.sol.
_STATUS_INVALID: Final = 0x00
_STATUS_VALID: Final = 0x01
_STATUS_NO_CODE: Final = 0x02
_STATUS_WALLET_REVERTED: Final = 0x03
_STATUS_DEPLOY_FAILED: Final = 0x04


def is_erc6492_wrapped(signature: bytes) -> bool:
    """Whether ``signature`` ends with the ERC-6492 magic suffix."""
    return len(signature) >= len(ERC6492_SUFFIX) and signature.endswith(ERC6492_SUFFIX)


def unwrap_erc6492(signature: bytes) -> tuple[str, bytes, bytes]:
    """Split an ERC-6492 signature into ``(factory, factory_calldata, inner_signature)``.

    Raises ``SiweError("invalid_signature")`` when the suffix is missing or the body is
    not ``abi.encode(address, bytes, bytes)``. Decoding is non-strict like Solidity's
    ``abi.decode`` in the validator, so nothing the on-chain check accepts is refused here.
    """
    if not is_erc6492_wrapped(signature):
        raise SiweError("invalid_signature", "signature is not ERC-6492 wrapped")
    try:
        factory, calldata, inner = abi_decode(
            ["address", "bytes", "bytes"], signature[: -len(ERC6492_SUFFIX)], strict=False
        )
    except (DecodingError, ValueError, OverflowError) as exc:
        raise SiweError("invalid_signature", f"malformed ERC-6492 wrapper: {exc}") from exc
    return to_checksum_address(factory), calldata, inner


def verify_contract_signature(
    w3: Web3, address: str, digest: bytes, signature: bytes, *, chain_id: int | None = None
) -> ContractSignatureKind:
    """Check a smart-contract wallet's signature over ``digest`` on chain.

    ``digest`` is the 32-byte EIP-191 hash of the SIWE message. Returns ``"eip6492"`` for a
    wrapped signature that validates (whether or not the wallet is deployed yet),
    ``"eip1271"`` when the deployed wallet accepts the signature. Raises
    ``SiweError("invalid_signature")`` or ``SiweError("rpc_unavailable")``; a malformed
    ``address`` or ``digest`` is the caller's bug and raises :class:`ValueError`.

    With ``chain_id`` (the message's), a node that serves another chain is refused
    (``rpc_unavailable``) before it is asked anything about the wallet: the same address
    can hold another contract, with other owners, on another chain.
    """
    account = _checksum(address)
    _check_digest(digest)
    signature = bytes(signature)
    wrapped = is_erc6492_wrapped(signature)
    if wrapped:
        unwrap_erc6492(signature)  # malformed wrappers fail here, before any RPC
    if chain_id is not None and _served_chains.get(w3) != chain_id:
        with _node_errors(account, "eth_chainId"):
            served = int(w3.eth.chain_id)
        _check_served_chain(w3, served, chain_id)
    if wrapped:
        with _node_errors(account, "the ERC-6492 validator"):
            result = w3.eth.call(
                _validator_call(account, digest, signature), ccip_read_enabled=False
            )
        _check_validator_result(account, bytes(result))
        return "eip6492"
    with _node_errors(account, "isValidSignature"):
        result = w3.eth.call(_erc1271_call(account, digest, signature), ccip_read_enabled=False)
    if bytes(result) == _MAGIC_WORD:
        return "eip1271"
    has_code = True
    if not result:  # nothing returned: maybe nothing is deployed there at all
        with _node_errors(account, "eth_getCode"):
            has_code = len(w3.eth.get_code(account)) > 0
    raise _rejection(account, bytes(result), has_code)


async def averify_contract_signature(
    w3: AsyncWeb3[Any], address: str, digest: bytes, signature: bytes,
    *, chain_id: int | None = None,
) -> ContractSignatureKind:
    """Async twin of :func:`verify_contract_signature`, same contract and outcomes."""
    account = _checksum(address)
    _check_digest(digest)
    signature = bytes(signature)
    wrapped = is_erc6492_wrapped(signature)
    if wrapped:
        unwrap_erc6492(signature)  # malformed wrappers fail here, before any RPC
    with _node_errors(account, "the RPC connection"):
        await ensure_connected(w3)
    if chain_id is not None and _served_chains.get(w3) != chain_id:
        with _node_errors(account, "eth_chainId"):
            served = int(await w3.eth.chain_id)
        _check_served_chain(w3, served, chain_id)
    if wrapped:
        with _node_errors(account, "the ERC-6492 validator"):
            result = await w3.eth.call(
                _validator_call(account, digest, signature), ccip_read_enabled=False
            )
        _check_validator_result(account, bytes(result))
        return "eip6492"
    with _node_errors(account, "isValidSignature"):
        result = await w3.eth.call(
            _erc1271_call(account, digest, signature), ccip_read_enabled=False
        )
    if bytes(result) == _MAGIC_WORD:
        return "eip1271"
    has_code = True
    if not result:
        with _node_errors(account, "eth_getCode"):
            has_code = len(await w3.eth.get_code(account)) > 0
    raise _rejection(account, bytes(result), has_code)


# -- the node's chain -----------------------------------------------------------------

# The chain each client's node was seen to serve, asked once per client: a node does not
# change chains under a running service. Weak, as callers may hand in clients per call.
_served_chains: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def _check_served_chain(w3: Any, served: int, chain_id: int) -> None:
    if served != chain_id:
        raise SiweError(
            "rpc_unavailable",
            f"the RPC node configured for chain {chain_id} serves chain {served}; "
            "a contract wallet is only asked on the message's own chain",
        )
    _served_chains[w3] = served


# -- building the calls -------------------------------------------------------------


def _erc1271_call(account: str, digest: bytes, signature: bytes) -> TxParams:
    data = ERC1271_MAGIC_VALUE + abi_encode(["bytes32", "bytes"], [digest, signature])
    return {"to": account, "data": data}


def _validator_call(account: str, digest: bytes, signature: bytes) -> TxParams:
    # No "to": the node runs the validator's creation code and returns what its
    # constructor returns (one status byte); nothing is deployed or kept.
    args = abi_encode(["address", "bytes32", "bytes"], [account, digest, signature])
    return {"data": _validator_bytecode() + args}


@cache
def _validator_bytecode() -> bytes:
    artifact = files("walletauth.siwe").joinpath("_artifacts/ERC6492Validator.json")
    return bytes.fromhex(json.loads(artifact.read_text("utf-8"))["bytecode"].removeprefix("0x"))


# -- reading the answers --------------------------------------------------------------


def _check_validator_result(account: str, result: bytes) -> None:
    if len(result) != 1:
        # The validator's constructor always returns exactly one byte (wallet code it
        # calls cannot change that), so anything else means the node did not run the
        # call as asked, e.g. it does not support eth_call without "to".
        raise SiweError(
            "rpc_unavailable",
            f"node returned {len(result)} bytes for the ERC-6492 validator call, "
            "expected one status byte",
        )
    status = result[0]
    if status == _STATUS_VALID:
        return
    reasons = {
        _STATUS_INVALID: "the wallet's isValidSignature did not return the ERC-1271 magic value",
        _STATUS_NO_CODE: "no contract code at the address even after the ERC-6492 factory call",
        _STATUS_WALLET_REVERTED: "the wallet's isValidSignature reverted",
        _STATUS_DEPLOY_FAILED: "the ERC-6492 factory call reverted and nothing is deployed",
    }
    if status not in reasons:
        raise SiweError("rpc_unavailable", f"unknown ERC-6492 validator status {status:#04x}")
    raise SiweError(
        "invalid_signature", f"ERC-6492 signature for {account} rejected: {reasons[status]}"
    )


def _rejection(account: str, result: bytes, has_code: bool) -> SiweError:
    if not has_code:
        return SiweError(
            "invalid_signature",
            f"{account} has no contract code and the signature is not ERC-6492 wrapped",
        )
    shown = "0x" + result[:64].hex() + ("..." if len(result) > 64 else "")
    return SiweError(
        "invalid_signature",
        f"ERC-1271 wallet {account} did not return the magic value 0x1626ba7e "
        f"(returned {len(result)} bytes: {shown})",
    )


# -- mapping failures ------------------------------------------------------------------

_TIMEOUTS = (TimeoutError, RequestsTimeout, TimeExhausted, RequestTimedOut)
_UNREACHABLE = (ProviderConnectionError, RequestException, ClientError, OSError)


@contextmanager
def _node_errors(account: str, action: str) -> Iterator[None]:
    """Turn whatever web3 raises during one RPC into the right :class:`SiweError`."""
    try:
        yield
    except ContractLogicError as exc:
        if _is_revert(exc):
            raise SiweError(
                "invalid_signature", f"{action} reverted for {account}: {exc.message}"
            ) from exc
        raise SiweError("rpc_unavailable", f"node error during {action}: {exc.message}") from exc
    except _TIMEOUTS as exc:
        raise SiweError("rpc_unavailable", f"node timed out during {action}: {exc}") from exc
    except Web3RPCError as exc:
        raise SiweError(
            "rpc_unavailable", f"node answered {action} with an error: {exc.message}"
        ) from exc
    except _UNREACHABLE as exc:
        raise SiweError("rpc_unavailable", f"could not reach the node for {action}: {exc}") from exc
    except Exception as exc:
        if _is_eth_tester_revert(exc):
            raise SiweError("invalid_signature", f"{action} reverted for {account}: {exc}") from exc
        # The wallet's answer is either the returned bytes or a revert, both handled
        # above; anything else raised while talking to the node (a malformed response,
        # a provider bug) says nothing about the signature.
        raise SiweError("rpc_unavailable", f"{action} failed: {type(exc).__name__}: {exc}") from exc


def _is_revert(exc: ContractLogicError) -> bool:
    # web3 raises ContractLogicError for any error reply that has `data: null`, not only
    # for reverts; require revert data or a revert message before blaming the wallet.
    # OffchainLookup is the wallet reverting with a CCIP-read request, which we refuse
    # to follow (it would let a wallet make this server fetch URLs of its choosing).
    if isinstance(exc, OffchainLookup) or isinstance(exc.data, str):
        return True
    return "revert" in str(exc.message or "").lower()


def _is_eth_tester_revert(exc: Exception) -> bool:
    # web3's EthereumTesterProvider re-raises eth-tester's TransactionFailed as is. Look
    # it up only if eth_tester is already imported: if it is not, no eth-tester chain
    # can be what raised, and production code never has to import the test backend.
    module = sys.modules.get("eth_tester.exceptions")
    failed = getattr(module, "TransactionFailed", None)
    return failed is not None and isinstance(exc, failed)


def _checksum(address: str) -> ChecksumAddress:
    if not isinstance(address, str) or not is_address(address):
        raise ValueError(f"not an Ethereum address: {address!r}")
    return to_checksum_address(address)


def _check_digest(digest: bytes) -> None:
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise ValueError("digest must be the 32-byte EIP-191 hash of the message")
