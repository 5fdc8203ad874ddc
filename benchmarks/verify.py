"""Parse + verify an EOA-signed SIWE message: ops/s on one core, against two yardsticks.

    .venv/bin/python benchmarks/verify.py [--seconds 0.2] [--repeat 5] [--runs 3]

* floor: the EIP-191 digest, coincurve's public-key recovery and the address hash,
  nothing else: what any verifier has to pay;
* eth-account: ``Account.recover_message(encode_defunct(text=...))``, the recovery a
  verifier built on eth-account calls (through eth-keys' coincurve backend, checked
  and printed);
* walletauth: ``verify_message(text, signature, domain=..., nonce=..., now=...)``;
* reference: PyPI ``siwe`` 4.4.0 (``SiweMessage.from_message(text, abnf=...)`` then
  ``.verify(...)``), once with its ABNF parser (default) and once with ``abnf=False``.

The reference pins web3<8, eth-account<0.14 and abnf<2.9, which clash with ours, so it
lives in its own venv (``benchmarks/.venv-siwe``, made on first run) and runs in a
subprocess of this same file (``--peer``). coincurve is installed there too, so that
eth-keys uses libsecp256k1 as it does here: the comparison is of the code around it.

Both processes are single-threaded and pinned to one CPU. Each figure is the best of
all its rounds of about ``--seconds`` each (best, not mean: noise only adds time);
rounds of the operations interleave, and so do the runs of the two processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".venv-siwe"
PEER_REQUIREMENTS = ["siwe==4.4.0", "abnf<2.9", "coincurve>=21"]
ETH_ACCOUNT_ROW = "eth-account recover_message alone"

# A realistic login: statement, expiry, request id and two resources. The key is a
# well-known worthless test key.
PRIVATE_KEY = "0x" + "a1" * 32
DOMAIN = "app.example.com"
NONCE = "Qm8sXk2PzR4nT7vLw"
NOW = "2024-06-01T12:00:30Z"
MESSAGE_FIELDS = {
    "domain": DOMAIN,
    "statement": "Sign in to Example. By signing you accept the terms: https://example.com/tos",
    "uri": "https://app.example.com/login",
    "version": "1",
    "chain_id": 1,
    "nonce": NONCE,
    "issued_at": "2024-06-01T12:00:00.000Z",
    "expiration_time": "2024-06-01T12:10:00.000Z",
    "request_id": "req-6f1c2d",
    "resources": [
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/claim.json",
    ],
}


def calls_per_round(operation: Callable[[], object], seconds: float) -> int:
    """How many calls last about ``seconds`` (after one warm-up call)."""
    operation()  # warm caches and lazy imports outside the timed rounds
    calls = 1
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            operation()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds / 4:
            return max(1, int(calls * seconds / elapsed))
        calls *= 2


def best_microseconds(
    operations: dict[str, Callable[[], object]], seconds: float, repeat: int
) -> dict[str, float]:
    """Best per-call time of each operation over ``repeat`` interleaved rounds.

    Rounds alternate between the operations, so that a burst of load from elsewhere on
    the machine hits them alike instead of skewing one ratio.
    """
    calls = {name: calls_per_round(operation, seconds) for name, operation in operations.items()}
    best = dict.fromkeys(operations, float("inf"))
    for _ in range(repeat):
        for name, operation in operations.items():
            started = time.perf_counter()
            for _ in range(calls[name]):
                operation()
            best[name] = min(best[name], (time.perf_counter() - started) / calls[name])
    return {name: seconds_per_call * 1e6 for name, seconds_per_call in best.items()}


def merged_best(*runs: dict[str, float]) -> dict[str, float]:
    return {name: min(run[name] for run in runs) for name in runs[0]}


def pin_to_one_cpu() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


# --- the reference library, run inside its own venv ------------------------------------


def run_peer(text: str, signature: str, seconds: float, repeat: int) -> dict[str, float]:
    """In the peer venv: time the reference library in both of its parser modes."""
    from datetime import datetime

    from siwe import SiweMessage

    now = datetime.fromisoformat(NOW)

    def verify(abnf: bool) -> Callable[[], None]:
        def run() -> None:
            message = SiweMessage.from_message(text, abnf=abnf)
            message.verify(signature, domain=DOMAIN, nonce=NONCE, timestamp=now)

        return run

    return best_microseconds(
        {f"reference siwe 4.4.0 (abnf={abnf})": verify(abnf) for abnf in (True, False)},
        seconds,
        repeat,
    )


def ensure_peer_venv() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PEER_VENV} with {' '.join(PEER_REQUIREMENTS)} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *PEER_REQUIREMENTS], check=True
        )
    return python


def measure_peer(text: str, signature: str, seconds: float, repeat: int) -> dict[str, float]:
    payload = json.dumps(
        {"text": text, "signature": signature, "seconds": seconds, "repeat": repeat}
    )
    completed = subprocess.run(
        [str(ensure_peer_venv()), "-W", "ignore", str(Path(__file__).resolve()), "--peer"],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


# --- walletauth and the floor ----------------------------------------------------------


def signed_message() -> tuple[str, bytes]:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    from walletauth.siwe import SiweMessage

    account = Account.from_key(PRIVATE_KEY)
    text = SiweMessage(address=account.address, **MESSAGE_FIELDS).to_text()
    return text, bytes(account.sign_message(encode_defunct(text=text)).signature)


def measure_ours(text: str, signature: bytes, seconds: float, repeat: int) -> dict[str, float]:
    from datetime import datetime

    from coincurve import PublicKey
    from eth_account import Account
    from eth_account.messages import encode_defunct

    from walletauth.siwe import SiweMessage, verify_message
    from walletauth.siwe.eoa import keccak256 as keccak  # the fastest available, as we use

    now = datetime.fromisoformat(NOW)
    hex_signature = "0x" + signature.hex()
    recoverable = signature[:64] + bytes((signature[64] - 27,))
    data = text.encode()
    prefix = b"\x19Ethereum Signed Message:\n" + str(len(data)).encode()

    def floor() -> bytes:
        digest = keccak(prefix + data)
        public_key = PublicKey.from_signature_and_message(recoverable, digest, hasher=None)
        return keccak(public_key.format(compressed=False)[1:])[12:]

    def ours() -> object:
        return verify_message(text, hex_signature, domain=DOMAIN, nonce=NONCE, now=now)

    def eth_account_recovery() -> str:
        return Account.recover_message(encode_defunct(text=text), signature=signature)

    assert ours().wallet_kind == "eoa"
    assert eth_account_recovery() == ours().address
    return best_microseconds(
        {
            "floor: keccak + coincurve recovery": floor,
            ETH_ACCOUNT_ROW: eth_account_recovery,
            "walletauth parse only": lambda: SiweMessage.parse(text),
            "walletauth parse + verify": ours,
        },
        seconds,
        repeat,
    )


def eth_keys_backend() -> str:
    """The secp256k1 backend eth-account recovers through: coincurve, or pure Python."""
    from eth_keys.backends import get_backend

    return type(get_backend()).__name__


def report(results: dict[str, float]) -> None:
    floor = results["floor: keccak + coincurve recovery"]
    ours = results["walletauth parse + verify"]
    eth_account = results[ETH_ACCOUNT_ROW]
    print(f"{'':44} {'us/op':>9} {'ops/s':>9} {'x floor':>8}")
    for name, micros in results.items():
        print(f"{name:44} {micros:9.1f} {1e6 / micros:9.0f} {micros / floor:8.2f}")
    reference = {name: micros for name, micros in results.items() if name.startswith("reference")}
    fastest_name = min(reference, key=reference.__getitem__)
    speedup = reference[fastest_name] / ours
    print()
    print(
        f"walletauth / floor: {ours / floor:.2f}x "
        f"(target <= 2x: {'met' if ours <= 2 * floor else 'MISSED'})"
    )
    print(
        f"eth-account recovery alone / walletauth parse + verify: {eth_account / ours:.2f}x "
        f"(target > 1x: {'met' if ours < eth_account else 'MISSED'})"
    )
    print(
        f"fastest reference ({fastest_name}) / walletauth: {speedup:.1f}x "
        f"(target >= 5x: {'met' if speedup >= 5 else 'MISSED'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="length of one timed round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per run; the best counts")
    parser.add_argument("--runs", type=int, default=3, help="alternating runs of both processes")
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    pin_to_one_cpu()
    if args.peer:
        job = json.load(sys.stdin)
        print(json.dumps(run_peer(job["text"], job["signature"], job["seconds"], job["repeat"])))
        return
    text, signature = signed_message()
    ours, peer = [], []
    for _ in range(args.runs):  # alternate the two processes too, for the same reason
        ours.append(measure_ours(text, signature, args.seconds, args.repeat))
        peer.append(measure_peer(text, "0x" + signature.hex(), args.seconds, args.repeat))
    results = merged_best(*ours) | merged_best(*peer)
    print(f"python {sys.version.split()[0]}, one core, message of {len(text)} bytes")
    print(f"eth-account recovers through eth-keys' {eth_keys_backend()}\n")
    report(results)


if __name__ == "__main__":
    main()
