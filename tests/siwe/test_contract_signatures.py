"""ERC-1271 and ERC-6492 verification against real wallets on a real EVM.

Every case runs four ways: sync and async, each both in process (eth-tester provider)
and over real HTTP JSON-RPC (LoopbackNode, geth-style error replies), so the error
translation of every provider path is exercised. One chain per module keeps it fast.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import AsyncWeb3, Web3
from web3.contract import Contract
from web3.providers import AsyncEthereumTesterProvider

from tests.siwe.contracts import (
    EvmChain,
    LoopbackNode,
    calldata,
    ecdsa,
    multi_owner_signature,
    siwe_digest,
    smart_wallet_signature,
    wrap_6492,
)
from walletauth.siwe.chain import async_web3_for, web3_for
from walletauth.siwe.contract import (
    averify_contract_signature,
    unwrap_erc6492,
    verify_contract_signature,
)
from walletauth.siwe.errors import SiweError

MESSAGE = (
    "example.test wants you to sign in with your Ethereum account:\n{address}\n\n"
    "URI: https://example.test\nVersion: 1\nChain ID: 1\nNonce: {nonce}\n"
    "Issued At: 2025-01-01T00:00:00Z"
)
COUNTERFACTUAL_SALT = 1
DEPLOYED_SALT = 7

Verify = Callable[[str, bytes, bytes], Awaitable[str]]


def digest_for(address: str, nonce: str = "a1b2c3d4e5f6g7h8") -> bytes:
    return siwe_digest(MESSAGE.format(address=address, nonce=nonce))


@dataclass
class Wallets:
    owner_a: LocalAccount
    owner_b: LocalAccount
    stranger: LocalAccount
    single: Contract  # MultiOwnerWallet, 1-of-1 (owner_a)
    pair: Contract  # MultiOwnerWallet, 2-of-2 (owner_a, owner_b)
    approved_digest: bytes  # approved on chain by both owners of `pair`
    factory: Contract  # SmartWalletFactory
    smart: Contract  # SmartWallet deployed through the factory for owner_a
    counterfactual_owner: LocalAccount
    counterfactual: str  # SmartWallet address for counterfactual_owner, never deployed
    reverting: Contract


@pytest.fixture(scope="module")
def wallets(chain: EvmChain) -> Wallets:
    owner_a, owner_b = chain.funded_account(), chain.funded_account()
    pair = chain.deploy("MultiOwnerWallet", [owner_a.address, owner_b.address], 2)
    approved = digest_for(pair.address, nonce="approvedonchain1")
    for owner in (owner_a, owner_b):
        chain.transact(pair.functions.approveHash(approved), owner.address)
    factory = chain.deploy("SmartWalletFactory")
    chain.transact(factory.functions.createAccount(owner_a.address, DEPLOYED_SALT), chain.funder)
    smart = chain.at(
        "SmartWallet", factory.functions.getAddress(owner_a.address, DEPLOYED_SALT).call()
    )
    counterfactual_owner = Account.create()
    counterfactual = factory.functions.getAddress(
        counterfactual_owner.address, COUNTERFACTUAL_SALT
    ).call()
    return Wallets(
        owner_a=owner_a,
        owner_b=owner_b,
        stranger=Account.create(),
        single=chain.deploy("MultiOwnerWallet", [owner_a.address], 1),
        pair=pair,
        approved_digest=approved,
        factory=factory,
        smart=smart,
        counterfactual_owner=counterfactual_owner,
        counterfactual=counterfactual,
        reverting=chain.deploy("RevertingWallet"),
    )


def _sync(w3: Web3) -> Verify:
    async def run(address: str, digest: bytes, signature: bytes) -> str:
        return verify_contract_signature(w3, address, digest, signature)

    return run


def _async(w3: AsyncWeb3) -> Verify:
    async def run(address: str, digest: bytes, signature: bytes) -> str:
        return await averify_contract_signature(w3, address, digest, signature)

    return run


@pytest.fixture(scope="module", params=["tester-sync", "tester-async", "http-sync", "http-async"])
def verify(request: pytest.FixtureRequest, chain: EvmChain, node: LoopbackNode) -> Verify:
    if request.param == "tester-sync":
        return _sync(chain.w3)
    if request.param == "tester-async":
        provider = AsyncEthereumTesterProvider()
        provider.ethereum_tester = chain.provider.ethereum_tester  # same chain, async API
        return _async(AsyncWeb3(provider))
    if request.param == "http-sync":
        w3 = web3_for({1: node.url}, 1)
        assert w3 is not None
        return _sync(w3)
    async_w3 = async_web3_for({1: node.url}, 1)
    assert async_w3 is not None
    return _async(async_w3)


async def expect_invalid(verify: Verify, address: str, digest: bytes, sig: bytes) -> str:
    with pytest.raises(SiweError) as caught:
        await verify(address, digest, sig)
    assert caught.value.code == "invalid_signature", caught.value.message
    return caught.value.message


def counterfactual_signature(
    w: Wallets, digest: bytes, signer: LocalAccount | None = None
) -> bytes:
    create = w.factory.functions.createAccount(w.counterfactual_owner.address, COUNTERFACTUAL_SALT)
    inner = smart_wallet_signature(signer or w.counterfactual_owner, digest)
    return wrap_6492(w.factory.address, calldata(create), inner)


# -- ERC-1271, deployed wallets -------------------------------------------------------


async def test_deployed_single_owner_wallet_is_valid(verify: Verify, wallets: Wallets) -> None:
    digest = digest_for(wallets.single.address)
    signature = ecdsa(wallets.owner_a, digest)
    assert await verify(wallets.single.address, digest, signature) == "eip1271"


async def test_signature_by_someone_else_than_the_owner_is_invalid(
    verify: Verify, wallets: Wallets
) -> None:
    digest = digest_for(wallets.single.address)
    message = await expect_invalid(
        verify, wallets.single.address, digest, ecdsa(wallets.stranger, digest)
    )
    assert "magic value" in message


async def test_signature_over_another_message_is_invalid(verify: Verify, wallets: Wallets) -> None:
    digest = digest_for(wallets.single.address)
    other = digest_for(wallets.single.address, nonce="someothernonce00")
    await expect_invalid(verify, wallets.single.address, digest, ecdsa(wallets.owner_a, other))


async def test_two_of_two_multi_owner_signature_of_130_bytes_is_valid(
    verify: Verify, wallets: Wallets
) -> None:
    digest = digest_for(wallets.pair.address)
    signature = multi_owner_signature([wallets.owner_a, wallets.owner_b], digest)
    assert len(signature) == 130
    assert await verify(wallets.pair.address, digest, signature) == "eip1271"


async def test_multi_owner_signature_missing_an_owner_is_invalid(
    verify: Verify, wallets: Wallets
) -> None:
    digest = digest_for(wallets.pair.address)
    await expect_invalid(verify, wallets.pair.address, digest, ecdsa(wallets.owner_a, digest))


async def test_multi_owner_signature_with_a_stranger_is_invalid(
    verify: Verify, wallets: Wallets
) -> None:
    digest = digest_for(wallets.pair.address)
    signature = multi_owner_signature([wallets.owner_a, wallets.stranger], digest)
    await expect_invalid(verify, wallets.pair.address, digest, signature)


async def test_empty_signature_for_an_approved_hash_is_valid(
    verify: Verify, wallets: Wallets
) -> None:
    assert await verify(wallets.pair.address, wallets.approved_digest, b"") == "eip1271"


async def test_empty_signature_for_an_unapproved_hash_is_invalid(
    verify: Verify, wallets: Wallets
) -> None:
    digest = digest_for(wallets.pair.address, nonce="neverapproved000")
    await expect_invalid(verify, wallets.pair.address, digest, b"")


async def test_long_webauthn_style_wrapper_is_valid(verify: Verify, wallets: Wallets) -> None:
    digest = digest_for(wallets.smart.address)
    signature = smart_wallet_signature(wallets.owner_a, digest)
    assert len(signature) > 300  # nothing like a 65-byte ECDSA signature
    assert await verify(wallets.smart.address, digest, signature) == "eip1271"


async def test_webauthn_style_wrapper_for_another_owner_index_is_invalid(
    verify: Verify, wallets: Wallets
) -> None:
    digest = digest_for(wallets.smart.address)
    signature = smart_wallet_signature(wallets.owner_a, digest, owner_index=1)
    message = await expect_invalid(verify, wallets.smart.address, digest, signature)
    assert "revert" in message  # SmartWallet: require(ownerIndex < owners.length)


async def test_reverting_wallet_is_invalid(verify: Verify, wallets: Wallets) -> None:
    digest = digest_for(wallets.reverting.address)
    message = await expect_invalid(
        verify, wallets.reverting.address, digest, ecdsa(wallets.owner_a, digest)
    )
    assert "reverted" in message


@pytest.mark.parametrize(
    "response",
    [
        bytes.fromhex("deadbeef") + bytes(28),  # a wrong magic value
        bytes(28) + bytes.fromhex("1626ba7e"),  # the magic, right-aligned like a uint
        bytes.fromhex("1626ba7e") + bytes(27) + b"\x01",  # the magic with dirty padding
        bytes.fromhex("1626ba7e"),  # the magic, unpadded
        bytes.fromhex("1626ba7e") + bytes(60),  # the magic word plus trailing bytes
        bytes.fromhex("1626ba7e") * 8,  # the magic repeated over the word
        b"",  # nothing at all, from a contract that does exist
    ],
    ids=["wrong", "right-aligned", "dirty", "short", "long", "repeated", "empty"],
)
async def test_wallet_answering_anything_but_the_magic_word_is_invalid(
    verify: Verify, wallets: Wallets, chain: EvmChain, response: bytes
) -> None:
    wallet = chain.deploy("RawResponseWallet", response)
    digest = digest_for(wallet.address)
    message = await expect_invalid(verify, wallet.address, digest, ecdsa(wallets.owner_a, digest))
    assert f"returned {len(response)} bytes" in message


async def test_raw_wallet_answering_the_exact_magic_word_is_valid(
    verify: Verify, chain: EvmChain, wallets: Wallets
) -> None:
    # The control for the test above: the same contract, the one correct answer.
    wallet = chain.deploy("RawResponseWallet", bytes.fromhex("1626ba7e") + bytes(28))
    assert await verify(wallet.address, digest_for(wallet.address), b"\x00") == "eip1271"


async def test_address_without_code_and_without_6492_wrapper_is_invalid(
    verify: Verify, wallets: Wallets
) -> None:
    digest = digest_for(wallets.counterfactual)
    signature = smart_wallet_signature(wallets.counterfactual_owner, digest)
    message = await expect_invalid(verify, wallets.counterfactual, digest, signature)
    assert "no contract code" in message


# -- ERC-6492 ---------------------------------------------------------------------------


async def test_undeployed_wallet_with_6492_signature_is_valid(
    verify: Verify, wallets: Wallets, chain: EvmChain
) -> None:
    digest = digest_for(wallets.counterfactual)
    signature = counterfactual_signature(wallets, digest)
    assert await verify(wallets.counterfactual, digest, signature) == "eip6492"
    # The deploy happened inside an eth_call only: nothing stays on chain.
    assert chain.w3.eth.get_code(wallets.counterfactual) == b""


async def test_6492_with_a_wrong_inner_signature_is_invalid(
    verify: Verify, wallets: Wallets
) -> None:
    digest = digest_for(wallets.counterfactual)
    signature = counterfactual_signature(wallets, digest, signer=wallets.stranger)
    message = await expect_invalid(verify, wallets.counterfactual, digest, signature)
    assert "did not return the ERC-1271 magic value" in message


async def test_6492_signature_for_an_already_deployed_wallet_is_valid(
    verify: Verify, wallets: Wallets
) -> None:
    digest = digest_for(wallets.smart.address)
    create = wallets.factory.functions.createAccount(wallets.owner_a.address, DEPLOYED_SALT)
    signature = wrap_6492(
        wallets.factory.address, calldata(create), smart_wallet_signature(wallets.owner_a, digest)
    )
    assert await verify(wallets.smart.address, digest, signature) == "eip6492"


async def test_6492_for_a_deployed_wallet_is_judged_by_the_live_wallet(
    verify: Verify, wallets: Wallets
) -> None:
    # A wrapper whose factory call would deploy nothing new cannot make a stranger an
    # owner: the deployed wallet has the last word.
    digest = digest_for(wallets.smart.address)
    create = wallets.factory.functions.createAccount(wallets.owner_a.address, DEPLOYED_SALT)
    signature = wrap_6492(
        wallets.factory.address,
        calldata(create),
        smart_wallet_signature(wallets.stranger, digest),
    )
    await expect_invalid(verify, wallets.smart.address, digest, signature)


async def test_6492_whose_factory_deploys_another_address_is_invalid(
    verify: Verify, wallets: Wallets
) -> None:
    # The wrapper deploys the stranger's wallet, not the claimed one.
    digest = digest_for(wallets.counterfactual)
    create = wallets.factory.functions.createAccount(wallets.stranger.address, 99)
    signature = wrap_6492(
        wallets.factory.address, calldata(create), smart_wallet_signature(wallets.stranger, digest)
    )
    message = await expect_invalid(verify, wallets.counterfactual, digest, signature)
    assert "no contract code at the address even after the ERC-6492 factory call" in message


async def test_6492_whose_factory_call_reverts_is_invalid(verify: Verify, wallets: Wallets) -> None:
    digest = digest_for(wallets.counterfactual)
    signature = wrap_6492(
        wallets.factory.address,
        b"\xba\xdc\x0f\xfe",
        smart_wallet_signature(wallets.stranger, digest),
    )
    message = await expect_invalid(verify, wallets.counterfactual, digest, signature)
    assert "factory call reverted" in message


async def test_6492_for_a_deployed_reverting_wallet_is_invalid(
    verify: Verify, wallets: Wallets
) -> None:
    digest = digest_for(wallets.reverting.address)
    signature = wrap_6492(wallets.factory.address, b"", ecdsa(wallets.owner_a, digest))
    message = await expect_invalid(verify, wallets.reverting.address, digest, signature)
    assert "isValidSignature reverted" in message


async def test_6492_wrapping_a_multi_owner_empty_signature_is_valid(
    verify: Verify, wallets: Wallets
) -> None:
    # The inner signature is passed on untouched even when it is empty.
    signature = wrap_6492(wallets.factory.address, b"", b"")
    assert await verify(wallets.pair.address, wallets.approved_digest, signature) == "eip6492"


# -- inputs that never reach the node -----------------------------------------------------


def test_malformed_6492_wrapper_is_invalid_without_any_rpc() -> None:
    # The client points at a closed port: reaching the network would be rpc_unavailable.
    w3 = web3_for({1: "http://127.0.0.1:9"}, 1)
    assert w3 is not None
    signature = b"\x01" * 40 + bytes.fromhex("6492" * 16)
    with pytest.raises(SiweError) as caught:
        verify_contract_signature(w3, "0x" + "11" * 20, bytes(32), signature)
    assert caught.value.code == "invalid_signature"
    assert "malformed ERC-6492 wrapper" in caught.value.message


def test_unwrap_erc6492_returns_the_three_parts() -> None:
    factory = "0x" + "ab" * 20
    wrapped = wrap_6492(factory, b"\x01\x02", b"inner signature")
    assert unwrap_erc6492(wrapped) == (
        Web3.to_checksum_address(factory),
        b"\x01\x02",
        b"inner signature",
    )
    with pytest.raises(SiweError):
        unwrap_erc6492(b"inner signature")


@pytest.mark.parametrize(
    ("address", "digest"),
    [("0x1234", bytes(32)), ("0x" + "11" * 20, bytes(31)), ("0x" + "11" * 20, "00" * 32)],
    ids=["short-address", "short-digest", "digest-as-str"],
)
def test_caller_bugs_raise_value_error(chain: EvmChain, address: str, digest: bytes) -> None:
    with pytest.raises(ValueError):
        verify_contract_signature(chain.w3, address, digest, b"")
