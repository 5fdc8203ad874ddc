"""A smart-contract wallet (EIP-1271, on a real EVM behind a JSON-RPC node) asks for its
rights exactly as it signs in: the proof is checked by the login's own verification."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from eth_account import Account

from tests.rights.helpers import signed_request
from tests.server.conftest import Wallet, make_settings, serving
from tests.siwe.contracts import EvmChain, LoopbackNode, siwe_digest, smart_wallet_signature


class SmartWallet(Wallet):
    """A deployed SmartWallet whose owner key signs (WebAuthn-style signature format)."""

    def __init__(self, chain: EvmChain, factory, salt: int) -> None:
        self.chain_id = chain.chain_id  # every message names the chain the wallet lives on
        self.owner = Account.create()
        chain.transact(factory.functions.createAccount(self.owner.address, salt), chain.funder)
        self.address = factory.functions.getAddress(self.owner.address, salt).call()
        self.signer = self.owner

    def message(self, nonce: str, **fields) -> str:
        return super().message(nonce, **{"chain_id": self.chain_id, **fields})

    def sign(self, text: str) -> str:
        return "0x" + smart_wallet_signature(self.signer, siwe_digest(text)).hex()


@pytest.fixture(scope="module")
def chain() -> EvmChain:
    return EvmChain()


@pytest.fixture(scope="module")
def node(chain) -> Iterator[LoopbackNode]:
    loopback = LoopbackNode(chain).start()
    yield loopback
    loopback.stop()


@pytest.fixture(scope="module")
def factory(chain):
    return chain.deploy("SmartWalletFactory")


@pytest.fixture
def http(tmp_path, clock, chain, node) -> Iterator[httpx.Client]:
    settings = make_settings(
        tmp_path, chain_ids=[chain.chain_id], rpc_urls={chain.chain_id: node.url}
    )
    with serving(settings, clock) as (url, _app), httpx.Client(base_url=url, timeout=30) as client:
        yield client


def test_a_contract_wallet_exports_and_erases_with_its_own_signatures(http, chain, factory):
    wallet = SmartWallet(chain, factory, salt=11)
    nonce = http.get("/auth/nonce").json()["nonce"]
    login = http.post("/auth/verify", json=wallet.signed_body(nonce))
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

    exported = http.post("/me/export", json=signed_request(http, wallet, "export"), headers=auth)
    wallet.signer = Account.create()  # a key the contract does not accept
    forged = http.post("/me/erase", json=signed_request(http, wallet, "erase"), headers=auth)
    wallet.signer = wallet.owner
    erased = http.post("/me/erase", json=signed_request(http, wallet, "erase"), headers=auth)

    assert exported.status_code == 200 and exported.json()["subject"] == wallet.address
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_signature")
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"]["wallet_address"] == 1
    assert http.get("/auth/session", headers=auth).status_code == 401
