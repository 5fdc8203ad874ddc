"""A real EVM for the contract-wallet tests: one eth-tester chain per test module, and
the same chain behind a loopback JSON-RPC node for the tests that go over HTTP."""

from collections.abc import Iterator

import pytest

from tests.siwe.contracts import EvmChain, LoopbackNode


@pytest.fixture(scope="module")
def chain() -> EvmChain:
    return EvmChain()


@pytest.fixture(scope="module")
def node(chain: EvmChain) -> Iterator[LoopbackNode]:
    loopback = LoopbackNode(chain).start()
    yield loopback
    loopback.stop()
