"""A node that fails must surface as rpc_unavailable, never as a verdict on the signature.

Uses a real HTTP JSON-RPC node on loopback (backed by eth-tester) with injected faults,
and a closed port for "unreachable". Sync and async paths both.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientTimeout
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from web3 import AsyncHTTPProvider, HTTPProvider

from tests.siwe.contracts import EvmChain, LoopbackNode, ecdsa, wrap_6492
from walletauth.siwe.chain import async_web3_for, web3_for
from walletauth.siwe.contract import averify_contract_signature, verify_contract_signature
from walletauth.siwe.errors import SiweError

DIGEST = keccak(b"sign-in digest")
CLOSED_PORT_URL = "http://127.0.0.1:9"
ETH_CALL = frozenset({"eth_call"})

Verify = Callable[[object, str, bytes, bytes], Awaitable[str]]


@pytest.fixture(scope="module")
def wallet(chain: EvmChain) -> str:
    return chain.deploy("RawResponseWallet", bytes.fromhex("1626ba7e") + bytes(28)).address


@pytest.fixture(params=["sync", "async"])
def verify(request: pytest.FixtureRequest) -> Verify:
    """Verify through a client built by chain.py from an rpc mapping value."""

    async def run_sync(value: object, address: str, digest: bytes, signature: bytes) -> str:
        w3 = web3_for({1: value}, 1)
        assert w3 is not None
        return verify_contract_signature(w3, address, digest, signature)

    async def run_async(value: object, address: str, digest: bytes, signature: bytes) -> str:
        w3 = async_web3_for({1: value}, 1)
        assert w3 is not None
        return await averify_contract_signature(w3, address, digest, signature)

    return run_sync if request.param == "sync" else run_async


async def expect(code: str, run: Awaitable[str]) -> str:
    with pytest.raises(SiweError) as caught:
        await run
    assert caught.value.code == code, caught.value.message
    return caught.value.message


def some_signature(digest: bytes = DIGEST) -> bytes:
    return ecdsa(Account.create(), digest)


def wrapped_signature() -> bytes:
    return wrap_6492("0x" + "22" * 20, b"\x01", some_signature())


async def test_honest_node_control(verify: Verify, node: LoopbackNode, wallet: str) -> None:
    # The node fixtures below only fail because of the injected fault.
    assert await verify(node.url, wallet, DIGEST, some_signature()) == "eip1271"


@pytest.mark.parametrize("wrapped", [False, True], ids=["erc1271", "erc6492"])
async def test_unreachable_rpc_is_rpc_unavailable_quickly(
    verify: Verify, wallet: str, wrapped: bool
) -> None:
    signature = wrapped_signature() if wrapped else some_signature()
    started = time.monotonic()
    message = await expect("rpc_unavailable", verify(CLOSED_PORT_URL, wallet, DIGEST, signature))
    assert time.monotonic() - started < 2.0
    assert "could not reach the node" in message


async def test_unreachable_websocket_is_rpc_unavailable_quickly(wallet: str) -> None:
    w3 = async_web3_for({1: "ws://127.0.0.1:9"}, 1)
    assert w3 is not None
    started = time.monotonic()
    await expect("rpc_unavailable", averify_contract_signature(w3, wallet, DIGEST, b""))
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("rpc_error", {"code": -32000, "message": "header not found"}),
        ("rpc_error", {"code": -32005, "message": "rate limit exceeded"}),
        # web3 turns any error with `data: null` into ContractLogicError; not a revert.
        ("rpc_error", {"code": -32603, "message": "internal error", "data": None}),
        ("http_status", 502),
        ("http_status", 429),
        ("garbage", None),
    ],
    ids=["header-not-found", "rate-limited", "internal-null-data", "http-502", "http-429", "html"],
)
@pytest.mark.parametrize("wrapped", [False, True], ids=["erc1271", "erc6492"])
async def test_node_failures_are_rpc_unavailable(
    verify: Verify, node: LoopbackNode, wallet: str, kind: str, payload: Any, wrapped: bool
) -> None:
    signature = wrapped_signature() if wrapped else some_signature()
    with node.faulty(kind, payload):
        await expect("rpc_unavailable", verify(node.url, wallet, DIGEST, signature))


async def test_revert_without_reason_is_invalid_signature(
    verify: Verify, node: LoopbackNode, wallet: str
) -> None:
    # geth's reply for a bare `revert()`: code -32000, no data.
    revert = {"code": -32000, "message": "execution reverted"}
    with node.faulty("rpc_error", revert, methods=ETH_CALL):
        await expect("invalid_signature", verify(node.url, wallet, DIGEST, some_signature()))


@pytest.mark.parametrize("result", ["0x", "0x0101", "0x07"], ids=["empty", "two-bytes", "unknown"])
async def test_validator_result_the_contract_cannot_produce_is_rpc_unavailable(
    verify: Verify, node: LoopbackNode, wallet: str, result: str
) -> None:
    with node.faulty("result", result, methods=ETH_CALL):
        message = await expect(
            "rpc_unavailable", verify(node.url, wallet, DIGEST, wrapped_signature())
        )
    assert "validator" in message


async def test_timeout_is_rpc_unavailable(
    verify: Verify, node: LoopbackNode, wallet: str, request: pytest.FixtureRequest
) -> None:
    # A provider object with a short timeout, to keep the test fast; URL-built clients
    # get the same treatment with a 5 s budget.
    sync = request.node.callspec.params["verify"] == "sync"
    provider = (
        HTTPProvider(node.url, request_kwargs={"timeout": 0.3}, exception_retry_configuration=None)
        if sync
        else AsyncHTTPProvider(
            node.url,
            request_kwargs={"timeout": ClientTimeout(total=0.3)},
            exception_retry_configuration=None,
        )
    )
    started = time.monotonic()
    with node.faulty("slow", 1.0):
        message = await expect("rpc_unavailable", verify(provider, wallet, DIGEST, b""))
    assert time.monotonic() - started < 1.0
    assert "timed out" in message


async def test_ccip_read_revert_is_refused_not_followed(
    verify: Verify, node: LoopbackNode, wallet: str
) -> None:
    # A wallet reverting with EIP-3668 OffchainLookup asks the caller to fetch a URL.
    # Following it would let any wallet make this server send requests where it likes.
    selector = keccak(text="OffchainLookup(address,string[],bytes,bytes4,bytes)")[:4]
    lookup = encode(
        ["address", "string[]", "bytes", "bytes4", "bytes"],
        [wallet, [node.url + "/ccip/{sender}/{data}.json"], b"\x01", b"\x12\x34\x56\x78", b""],
    )
    revert = {"code": 3, "message": "execution reverted", "data": "0x" + (selector + lookup).hex()}
    node.requests.clear()
    with node.faulty("rpc_error", revert, methods=ETH_CALL):
        await expect("invalid_signature", verify(node.url, wallet, DIGEST, some_signature()))
    assert node.requests
    assert not [r for r in node.requests if r.startswith("GET")]
