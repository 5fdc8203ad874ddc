"""verify_message end to end for smart-contract wallets on a real EVM (eth-tester).

The contract checks are tested on their own in test_contract_signatures.py; this file
checks that a whole signed EIP-4361 message reaches them through verify_message and
averify_message, and that the wallet kind comes back right.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from eth_account import Account

from tests.siwe.contracts import (
    EvmChain,
    LoopbackNode,
    calldata,
    siwe_digest,
    smart_wallet_signature,
    wallet_message,
    wrap_6492,
)
from walletauth import SiweError, averify_message, verify_message

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def factory(chain: EvmChain):
    return chain.deploy("SmartWalletFactory")


def test_deployed_smart_wallet_signs_in_as_eip1271(chain: EvmChain, factory) -> None:
    owner = Account.create()
    chain.transact(factory.functions.createAccount(owner.address, 3), chain.funder)
    wallet = factory.functions.getAddress(owner.address, 3).call()
    text = wallet_message(wallet, chain.chain_id)
    signature = smart_wallet_signature(owner, siwe_digest(text))

    rpc = {chain.chain_id: chain.w3}
    login = verify_message(text, signature, domain="example.test", now=NOW, rpc=rpc)

    assert (login.address, login.wallet_kind) == (wallet, "eip1271")


def test_smart_wallet_signature_by_another_key_is_refused(chain: EvmChain, factory) -> None:
    owner = Account.create()
    chain.transact(factory.functions.createAccount(owner.address, 4), chain.funder)
    wallet = factory.functions.getAddress(owner.address, 4).call()
    text = wallet_message(wallet, chain.chain_id)
    signature = smart_wallet_signature(Account.create(), siwe_digest(text))

    with pytest.raises(SiweError) as caught:
        rpc = {chain.chain_id: chain.w3}
        verify_message(text, signature, domain="example.test", now=NOW, rpc=rpc)
    assert caught.value.code == "invalid_signature"


async def test_undeployed_wallet_signs_in_as_eip6492_over_http(
    chain: EvmChain, node: LoopbackNode, factory
) -> None:
    owner = Account.create()
    wallet = factory.functions.getAddress(owner.address, 5).call()
    text = wallet_message(wallet, chain.chain_id)
    create = calldata(factory.functions.createAccount(owner.address, 5))
    signature = wrap_6492(factory.address, create, smart_wallet_signature(owner, siwe_digest(text)))

    login = await averify_message(
        text, signature, domain="example.test", now=NOW, rpc={chain.chain_id: node.url}
    )

    assert (login.address, login.wallet_kind) == (wallet, "eip6492")
    assert chain.w3.eth.get_code(wallet) == b""  # checked without deploying


async def test_unreachable_node_is_rpc_unavailable_not_an_invalid_signature(
    chain: EvmChain, factory
) -> None:
    owner = Account.create()
    wallet = factory.functions.getAddress(owner.address, 6).call()
    text = wallet_message(wallet, 1)
    signature = smart_wallet_signature(owner, siwe_digest(text))

    with pytest.raises(SiweError) as caught:
        await averify_message(
            text, signature, domain="example.test", now=NOW, rpc={1: "http://127.0.0.1:9"}
        )
    assert caught.value.code == "rpc_unavailable"


async def test_a_node_of_another_chain_is_never_asked_about_the_wallet(
    chain: EvmChain, node: LoopbackNode, factory
) -> None:
    # Configured for mainnet, the node serves eth-tester's chain: the same address there
    # may be another contract with other owners, so its answer cannot sign anyone in.
    owner = Account.create()
    chain.transact(factory.functions.createAccount(owner.address, 7), chain.funder)
    wallet = factory.functions.getAddress(owner.address, 7).call()
    text = wallet_message(wallet, 1)
    signature = smart_wallet_signature(owner, siwe_digest(text))
    assert chain.chain_id != 1

    with pytest.raises(SiweError) as sync_refusal:
        verify_message(text, signature, domain="example.test", now=NOW, rpc={1: chain.w3})
    with pytest.raises(SiweError) as async_refusal:
        await averify_message(text, signature, domain="example.test", now=NOW, rpc={1: node.url})

    for refusal in (sync_refusal.value, async_refusal.value):
        assert refusal.code == "rpc_unavailable"
        assert f"serves chain {chain.chain_id}" in refusal.message
