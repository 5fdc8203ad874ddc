"""web3_for / async_web3_for: turning an rpc mapping value into a cached client."""

from __future__ import annotations

import json

import pytest
from aiohttp import ClientTimeout
from eth_utils import keccak
from web3 import AsyncHTTPProvider, AsyncWeb3, EthereumTesterProvider, HTTPProvider, Web3
from web3.providers import AsyncEthereumTesterProvider, WebSocketProvider
from websockets.asyncio.server import ServerConnection, serve

from tests.siwe.contracts import EvmChain, LoopbackNode
from walletauth.siwe.chain import RPC_TIMEOUT_SECONDS, async_web3_for, web3_for
from walletauth.siwe.contract import averify_contract_signature, verify_contract_signature

URL = "http://127.0.0.1:8545"
OTHER_URL = "https://rpc.example.test/v1"


@pytest.fixture(scope="module")
def wallet(chain: EvmChain) -> str:
    """A contract that accepts every signature: these tests count requests, not verdicts."""
    return chain.deploy("RawResponseWallet", bytes.fromhex("1626ba7e") + bytes(28)).address


# -- sync -------------------------------------------------------------------------------


@pytest.mark.parametrize("rpc", [None, {}, {137: URL}], ids=["none", "empty", "other-chain"])
def test_no_entry_for_the_chain_gives_none(rpc: dict[int, object] | None) -> None:
    assert web3_for(rpc, 1) is None
    assert async_web3_for(rpc, 1) is None


def test_http_url_builds_a_cached_client_with_a_short_timeout() -> None:
    w3 = web3_for({1: URL}, 1)
    assert isinstance(w3, Web3)
    assert isinstance(w3.provider, HTTPProvider)
    assert w3.provider.endpoint_uri == URL
    assert w3.provider.get_request_kwargs()["timeout"] == RPC_TIMEOUT_SECONDS
    assert w3.provider.exception_retry_configuration.retries <= 2
    assert web3_for({1: URL, 5: OTHER_URL}, 1) is w3  # same URL, same client
    other = web3_for({5: OTHER_URL}, 5)
    assert other is not None and other is not w3


def test_provider_value_is_wrapped_once() -> None:
    provider = EthereumTesterProvider()
    w3 = web3_for({1: provider}, 1)
    assert isinstance(w3, Web3)
    assert w3.provider is provider
    assert web3_for({1: provider}, 1) is w3


def test_web3_value_is_used_as_is() -> None:
    w3 = Web3(EthereumTesterProvider())
    assert web3_for({1: w3}, 1) is w3


@pytest.mark.parametrize(
    "value",
    [AsyncWeb3(AsyncEthereumTesterProvider()), AsyncEthereumTesterProvider(), 8545, b"http://x"],
    ids=["async-web3", "async-provider", "int", "bytes"],
)
def test_values_that_cannot_make_a_sync_client_raise_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        web3_for({1: value}, 1)


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8546", "ftp://node", "127.0.0.1:8545"])
def test_urls_that_cannot_make_a_sync_client_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError):
        web3_for({1: url}, 1)


def test_chain_id_is_not_asked_again_per_verification(node: LoopbackNode, wallet: str) -> None:
    w3 = web3_for({1: node.url + "/sync-chain-id"}, 1)
    assert w3 is not None
    assert (
        verify_contract_signature(w3, wallet, keccak(b"x"), b"") == "eip1271"
    )  # first use: web3 learns the chain id
    node.requests.clear()
    for _ in range(3):
        assert verify_contract_signature(w3, wallet, keccak(b"x"), b"") == "eip1271"
    assert node.requests == ["POST eth_call"] * 3


# -- async ------------------------------------------------------------------------------


def test_async_http_url_builds_a_cached_client_with_a_short_timeout() -> None:
    w3 = async_web3_for({1: URL}, 1)
    assert isinstance(w3, AsyncWeb3)
    assert isinstance(w3.provider, AsyncHTTPProvider)
    assert w3.provider.endpoint_uri == URL
    timeout = w3.provider.get_request_kwargs()["timeout"]
    assert isinstance(timeout, ClientTimeout)
    assert timeout.total == RPC_TIMEOUT_SECONDS
    assert async_web3_for({1: URL}, 1) is w3
    assert web3_for({1: URL}, 1) is not w3  # sync and async clients are kept apart


def test_async_websocket_url_builds_an_unconnected_client() -> None:
    w3 = async_web3_for({1: "wss://rpc.example.test/ws"}, 1)
    assert isinstance(w3, AsyncWeb3)
    assert isinstance(w3.provider, WebSocketProvider)
    assert w3.provider.request_timeout == RPC_TIMEOUT_SECONDS
    assert async_web3_for({1: "wss://rpc.example.test/ws"}, 1) is w3


def test_async_provider_value_is_wrapped_once() -> None:
    provider = AsyncEthereumTesterProvider()
    w3 = async_web3_for({1: provider}, 1)
    assert isinstance(w3, AsyncWeb3)
    assert w3.provider is provider
    assert async_web3_for({1: provider}, 1) is w3


def test_async_web3_value_is_used_as_is() -> None:
    w3 = AsyncWeb3(AsyncEthereumTesterProvider())
    assert async_web3_for({1: w3}, 1) is w3


@pytest.mark.parametrize(
    "value",
    [Web3(EthereumTesterProvider()), EthereumTesterProvider(), 8545],
    ids=["sync-web3", "sync-provider", "int"],
)
def test_values_that_cannot_make_an_async_client_raise_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        async_web3_for({1: value}, 1)


def test_async_url_without_scheme_raises_value_error() -> None:
    with pytest.raises(ValueError):
        async_web3_for({1: "localhost:8545"}, 1)


async def test_async_chain_id_is_not_asked_again_per_verification(
    node: LoopbackNode, wallet: str
) -> None:
    w3 = async_web3_for({1: node.url + "/async-chain-id"}, 1)
    assert w3 is not None
    assert (
        await averify_contract_signature(w3, wallet, keccak(b"x"), b"") == "eip1271"
    )  # first use: web3 learns the chain id
    node.requests.clear()
    for _ in range(3):
        assert await averify_contract_signature(w3, wallet, keccak(b"x"), b"") == "eip1271"
    assert node.requests == ["POST eth_call"] * 3


async def test_async_websocket_client_connects_on_first_use(
    node: LoopbackNode, wallet: str
) -> None:
    async def json_rpc(connection: ServerConnection) -> None:
        async for raw in connection:
            request = json.loads(raw)
            answer = node.answer(request["method"], request["params"])
            await connection.send(json.dumps({"jsonrpc": "2.0", "id": request["id"]} | answer))

    async with serve(json_rpc, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        w3 = async_web3_for({1: f"ws://127.0.0.1:{port}"}, 1)
        assert w3 is not None
        assert not await w3.provider.is_connected()
        try:
            for _ in range(2):  # the second verification reuses the open connection
                assert await averify_contract_signature(w3, wallet, keccak(b"x"), b"") == "eip1271"
            assert await w3.provider.is_connected()
        finally:
            await w3.provider.disconnect()
