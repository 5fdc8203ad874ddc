"""The ERC-6492 "prepare" path: a DEPLOYED wallet that only validates after the wrapper's call.

ERC6492Validator asks a deployed wallet first; only if it says no does it run the
wrapper's factory/calldata as a prepare step (a pending owner migration here) and ask
again, all inside one ``eth_call`` so nothing is kept. MigratingWallet is that wallet: its
owner moves by ``migrate(newOwner, authorisation)``, which anyone may submit with the
current owner's signature. Every case runs through verify_message (in process and over
HTTP) and averify_message (over HTTP), with messages naming the node's own chain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from tests.siwe.contracts import (
    EvmChain,
    LoopbackNode,
    calldata,
    ecdsa,
    migration_authorisation,
    siwe_digest,
    wallet_message,
    wrap_6492,
)
from walletauth import (
    SiweError,
    VerifiedLogin,
    averify_message,
    verify_message,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOT_MAGIC = "did not return the ERC-1271 magic value"

Verify = Callable[[str, bytes], Awaitable[VerifiedLogin]]


@pytest.fixture(params=["sync-in-process", "sync-http", "async-http"])
def verify(request: pytest.FixtureRequest, chain: EvmChain, node: LoopbackNode) -> Verify:
    """verify_message / averify_message against the module's chain, one way per param."""
    rpc_value: object = chain.w3 if request.param == "sync-in-process" else node.url
    rpc = {chain.chain_id: rpc_value}

    async def run(text: str, signature: bytes) -> VerifiedLogin:
        if request.param.startswith("async"):
            return await averify_message(text, signature, domain="example.test", now=NOW, rpc=rpc)
        return verify_message(text, signature, domain="example.test", now=NOW, rpc=rpc)

    return run


def migrate_call(wallet: Contract, new_owner: str, authorisation: bytes) -> bytes:
    return calldata(wallet.functions.migrate(new_owner, authorisation))


async def refusal(verify: Verify, text: str, signature: bytes) -> SiweError:
    with pytest.raises(SiweError) as caught:
        await verify(text, signature)
    return caught.value


async def test_deployed_wallet_signs_in_after_the_wrappers_prepare_call_and_keeps_nothing(
    chain: EvmChain, verify: Verify
) -> None:
    old_owner, new_owner = Account.create(), Account.create()
    wallet = chain.deploy("MigratingWallet", old_owner.address)
    prepare = migrate_call(
        wallet, new_owner.address, migration_authorisation(wallet, old_owner, new_owner.address)
    )
    text = wallet_message(wallet.address, chain.chain_id)
    signature = wrap_6492(wallet.address, prepare, ecdsa(new_owner, siwe_digest(text)))
    block_before = chain.w3.eth.block_number

    login = await verify(text, signature)

    assert (login.address, login.wallet_kind) == (wallet.address, "eip6492")
    # The migration ran inside eth_call only: the live wallet still has its old owner.
    assert wallet.functions.owner().call() == old_owner.address
    assert wallet.functions.nonce().call() == 0
    assert chain.w3.eth.block_number == block_before


async def test_the_new_owners_signature_without_the_wrapper_is_refused(
    chain: EvmChain, verify: Verify
) -> None:
    old_owner, new_owner = Account.create(), Account.create()
    wallet = chain.deploy("MigratingWallet", old_owner.address)
    text = wallet_message(wallet.address, chain.chain_id)

    caught = await refusal(verify, text, ecdsa(new_owner, siwe_digest(text)))

    assert caught.code == "invalid_signature"


async def test_a_reverting_prepare_call_gives_the_wallets_first_answer(
    chain: EvmChain, verify: Verify
) -> None:
    # The migration is "authorised" by a stranger, so migrate() reverts: the validator
    # must report the live wallet's own no, not a failed deployment or a node error.
    old_owner, new_owner, stranger = Account.create(), Account.create(), Account.create()
    wallet = chain.deploy("MigratingWallet", old_owner.address)
    forged = migration_authorisation(wallet, stranger, new_owner.address)
    prepare = migrate_call(wallet, new_owner.address, forged)
    text = wallet_message(wallet.address, chain.chain_id)
    signature = wrap_6492(wallet.address, prepare, ecdsa(new_owner, siwe_digest(text)))

    caught = await refusal(verify, text, signature)

    assert caught.code == "invalid_signature"
    assert NOT_MAGIC in caught.message


async def test_a_reverting_prepare_call_keeps_a_reverting_wallets_answer(
    chain: EvmChain, verify: Verify
) -> None:
    wallet = chain.deploy("RevertingWallet")
    text = wallet_message(wallet.address, chain.chain_id)
    # RevertingWallet has no fallback: calling it with the prepare calldata reverts too.
    signature = wrap_6492(wallet.address, b"\x12\x34\x56\x78", bytes(65))

    caught = await refusal(verify, text, signature)

    assert caught.code == "invalid_signature"
    assert "isValidSignature reverted" in caught.message


def prepare_that_would_revert(wallet: Contract, owner: LocalAccount) -> bytes:
    stranger = Account.create()
    return migrate_call(
        wallet, stranger.address, migration_authorisation(wallet, stranger, stranger.address)
    )


def prepare_that_would_hand_the_wallet_away(wallet: Contract, owner: LocalAccount) -> bytes:
    # Valid and run first, this would make the owner's own signature worthless.
    successor = Account.create()
    return migrate_call(
        wallet, successor.address, migration_authorisation(wallet, owner, successor.address)
    )


@pytest.mark.parametrize(
    "make_prepare", [prepare_that_would_revert, prepare_that_would_hand_the_wallet_away]
)
async def test_a_wallet_that_validates_as_it_is_never_runs_the_prepare_call(
    chain: EvmChain, verify: Verify, make_prepare: Callable[[Contract, LocalAccount], bytes]
) -> None:
    owner = Account.create()
    wallet = chain.deploy("MigratingWallet", owner.address)
    text = wallet_message(wallet.address, chain.chain_id)
    signature = wrap_6492(
        wallet.address, make_prepare(wallet, owner), ecdsa(owner, siwe_digest(text))
    )

    login = await verify(text, signature)

    assert (login.address, login.wallet_kind) == (wallet.address, "eip6492")
    assert wallet.functions.owner().call() == owner.address


async def test_the_prepared_wallet_really_needs_the_migration(chain: EvmChain) -> None:
    # Control for the tests above, on chain: once migrate() is submitted for real, the
    # new owner's bare signature is what the wallet accepts and the old one's is not.
    old_owner, new_owner = Account.create(), Account.create()
    wallet = chain.deploy("MigratingWallet", old_owner.address)
    authorisation = migration_authorisation(wallet, old_owner, new_owner.address)
    digest = siwe_digest(wallet_message(wallet.address, chain.chain_id))

    chain.transact(wallet.functions.migrate(new_owner.address, authorisation), chain.funder)

    accepts = wallet.functions.isValidSignature
    assert accepts(digest, ecdsa(new_owner, digest)).call() == bytes.fromhex("1626ba7e")
    assert accepts(digest, ecdsa(old_owner, digest)).call() != bytes.fromhex("1626ba7e")
    assert wallet.functions.nonce().call() == 1
