"""Test wallets (compiled by contracts/build.mjs) and helpers to run them on eth-tester.

Everything here talks to a real EVM: py-evm inside eth-tester, reached either in
process (``EthereumTesterProvider``) or over real HTTP through :class:`LoopbackNode`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.messages import defunct_hash_message
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from walletauth.siwe import SiweMessage
from walletauth.siwe.contract import ERC6492_SUFFIX

ARTIFACTS = Path(__file__).parent
REPO = ARTIFACTS.parents[2]


def artifact(name: str) -> dict[str, Any]:
    return json.loads((ARTIFACTS / f"{name}.json").read_text("utf-8"))


def siwe_digest(text: str) -> bytes:
    """The EIP-191 personal_sign hash, what verify.py hands to the contract checks."""
    return bytes(defunct_hash_message(text=text))


def ecdsa(account: LocalAccount, digest: bytes) -> bytes:
    return bytes(account.unsafe_sign_hash(digest).signature)


def multi_owner_signature(owners: list[LocalAccount], digest: bytes) -> bytes:
    """MultiOwnerWallet format: 65-byte signatures in ascending signer-address order."""
    ordered = sorted(owners, key=lambda a: int(a.address, 16))
    return b"".join(ecdsa(owner, digest) for owner in ordered)


def smart_wallet_signature(owner: LocalAccount, digest: bytes, owner_index: int = 0) -> bytes:
    """SmartWallet format: abi.encode((ownerIndex, abi.encode(authData, clientJSON, sig)))."""
    # rpIdHash || flags (user present + verified) || signCount, as in a WebAuthn assertion
    authenticator_data = hashlib.sha256(b"example.test").digest() + b"\x05" + bytes(4)
    client_data = json.dumps(
        {"type": "webauthn.get", "challenge": digest.hex(), "origin": "https://example.test"}
    )
    signature_data = encode(
        ["bytes", "string", "bytes"], [authenticator_data, client_data, ecdsa(owner, digest)]
    )
    return encode(["(uint256,bytes)"], [(owner_index, signature_data)])


def migration_authorisation(wallet: Contract, owner: LocalAccount, new_owner: str) -> bytes:
    """The owner's signature that lets anyone run MigratingWallet.migrate(new_owner, ...)."""
    return ecdsa(owner, bytes(wallet.functions.migrationHash(new_owner).call()))


def wrap_6492(factory: str, calldata: bytes, inner: bytes) -> bytes:
    return encode(["address", "bytes", "bytes"], [factory, calldata, inner]) + ERC6492_SUFFIX


def calldata(contract_function: Any) -> bytes:
    return bytes.fromhex(contract_function._encode_transaction_data().removeprefix("0x"))


@dataclass
class EvmChain:
    """One eth-tester chain with helpers to deploy the test wallets and act as owners."""

    provider: EthereumTesterProvider = field(default_factory=EthereumTesterProvider)

    def __post_init__(self) -> None:
        self.w3 = Web3(self.provider)
        self.funder = self.w3.eth.accounts[0]

    @property
    def chain_id(self) -> int:
        """The chain id the node reports (eth-tester's, not mainnet's 1)."""
        return int(self.w3.eth.chain_id)

    def deploy(self, name: str, *args: Any) -> Contract:
        spec = artifact(name)
        factory = self.w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
        tx = factory.constructor(*args).transact({"from": self.funder})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt.status == 1, f"deploying {name} failed"
        return self.at(name, receipt.contractAddress)

    def at(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=address, abi=artifact(name)["abi"])

    def funded_account(self) -> LocalAccount:
        """A fresh key the chain can send transactions from (owners calling wallets)."""
        account = Account.create()
        self.provider.ethereum_tester.add_account(account.key.hex())
        self.w3.eth.send_transaction({"from": self.funder, "to": account.address, "value": 10**18})
        return account

    def transact(self, function: Any, sender: str) -> None:
        receipt = self.w3.eth.wait_for_transaction_receipt(function.transact({"from": sender}))
        assert receipt.status == 1


@dataclass
class Fault:
    """What LoopbackNode does instead of answering honestly (None = answer honestly)."""

    kind: str | None = None
    payload: Any = None
    methods: frozenset[str] | None = None  # None: every method misbehaves

    def applies_to(self, method: str) -> bool:
        return self.kind is not None and (self.methods is None or method in self.methods)


class LoopbackNode:
    """A real JSON-RPC-over-HTTP node on 127.0.0.1 backed by a EvmChain.

    Speaks the node dialect production sees: reverts come back as JSON-RPC errors the
    way geth sends them (code 3, "execution reverted: ...", revert data), so the HTTP
    providers' error translation is exercised, not only eth-tester's exceptions. Faults
    can be injected to play an unhealthy node.
    """

    def __init__(self, chain: EvmChain) -> None:
        self.chain = chain
        self.fault = Fault()
        self.requests: list[str] = []  # "POST eth_call", "GET /path", ... as received
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackNode:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @contextmanager
    def faulty(
        self, kind: str, payload: Any = None, methods: frozenset[str] | None = None
    ) -> Iterator[None]:
        self.fault = Fault(kind, payload, methods)
        try:
            yield
        finally:
            self.fault = Fault()

    def answer(self, method: str, params: list[Any]) -> dict[str, Any]:
        """The JSON-RPC reply (without id) an honest node would give."""
        w3 = self.chain.w3
        if method == "eth_chainId":
            return {"result": hex(w3.eth.chain_id)}
        if method == "eth_getCode":
            return {"result": "0x" + bytes(w3.eth.get_code(params[0])).hex()}
        if method == "eth_call":
            tx = {key: params[0][key] for key in ("to", "data") if key in params[0]}
            try:
                return {"result": "0x" + bytes(w3.eth.call(tx)).hex()}
            except Exception as exc:  # eth-tester's TransactionFailed
                return {"error": _geth_revert(str(exc))}
        return {"error": {"code": -32601, "message": f"method {method} not supported"}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                node.requests.append(f"GET {self.path}")
                self._send(404, b"")

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                node.requests.append(f"POST {request['method']}")
                fault = node.fault
                handle = _FAULTS.get(fault.kind)
                if handle is not None and fault.applies_to(request["method"]):
                    status, body = handle(node, request, fault.payload)
                    self._send(status, body)
                    return
                reply = {"jsonrpc": "2.0", "id": request["id"]} | node.answer(
                    request["method"], request["params"]
                )
                self._send(200, json.dumps(reply).encode())

            def _send(self, status: int, body: bytes) -> None:
                # A client that timed out on purpose has hung up: not the test's concern.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        return Handler


def _geth_revert(message: str) -> dict[str, Any]:
    reason = message.removeprefix("execution reverted").removeprefix(":").strip()
    if not reason:
        return {"code": -32000, "message": "execution reverted"}
    data = "0x08c379a0" + encode(["string"], [reason]).hex()  # Error(string)
    return {"code": 3, "message": f"execution reverted: {reason}", "data": data}


def _rpc_error(node: LoopbackNode, request: dict[str, Any], payload: Any) -> tuple[int, bytes]:
    return 200, json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": payload}).encode()


def _result(node: LoopbackNode, request: dict[str, Any], payload: Any) -> tuple[int, bytes]:
    return 200, json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": payload}).encode()


def _http_status(node: LoopbackNode, request: dict[str, Any], payload: Any) -> tuple[int, bytes]:
    return int(payload), b"upstream unavailable"


def _garbage(node: LoopbackNode, request: dict[str, Any], payload: Any) -> tuple[int, bytes]:
    return 200, b"<html>definitely not JSON-RPC</html>"


def _slow(node: LoopbackNode, request: dict[str, Any], payload: Any) -> tuple[int, bytes]:
    threading.Event().wait(float(payload))
    reply = {"jsonrpc": "2.0", "id": request["id"]} | node.answer(
        request["method"], request["params"]
    )
    return 200, json.dumps(reply).encode()


_FAULTS: dict[str | None, Callable[[LoopbackNode, dict[str, Any], Any], tuple[int, bytes]]] = {
    "rpc_error": _rpc_error,
    "result": _result,
    "http_status": _http_status,
    "garbage": _garbage,
    "slow": _slow,
}


def wallet_message(address: str, chain_id: int) -> str:
    """A sign-in message of ``address`` on ``chain_id`` (the node's chain, for a contract
    wallet), issued a minute before the tests' fixed ``now`` (2026-01-01 12:00 UTC)."""
    return SiweMessage(
        domain="example.test",
        address=address,
        uri="https://example.test",
        version="1",
        chain_id=chain_id,
        nonce="contractwallet01",
        issued_at="2026-01-01T11:59:00Z",
    ).to_text()
