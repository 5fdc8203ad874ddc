"""What the OpenID Provider's RS256 key costs: making it, and signing an ID token with it.

    .venv/bin/python benchmarks/id_token_keys.py [--keys 15] [--tokens 300]

* key generation: ``open_keyring`` on an empty directory (generate, write the 0600 file,
  load it back), for the ES256 ring and for RSA keys of 2048 and 3072 bits: the one-off
  cost of a first start that serves the OpenID Provider (and of every test server that
  starts on an empty data dir);
* ID token: the provider's own ``WalletOpenIDCode.encode_id_token`` (joserfc signs) for a
  client registered for RS256 and one for ES256, with the key already imported.

Median and 90th percentile of the runs; the machine's load is printed beside them, since
RSA key generation is a random search whose time varies run to run anyway.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from walletauth.oidc.clients import OidcClient, OidcClientConfig
from walletauth.oidc.grants import Grantee, IdTokens, WalletOpenIDCode
from walletauth.oidc.sealing import PairwiseSubjects
from walletauth.server.config.keys import ES256_KEYS, RS256_KEYS, KeyKind, open_keyring

NOW = datetime(2026, 12, 3, tzinfo=UTC)
TTL = timedelta(minutes=15)


def timings(run: Callable[[], object], count: int) -> tuple[float, float]:
    """Median and 90th percentile, in milliseconds."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.9))]


def make_ring(kind: KeyKind[Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        open_keyring(Path(directory), kind, token_ttl=TTL, now=NOW)


def rsa_kind(bits: int) -> KeyKind[Any]:
    return replace(RS256_KEYS, new_private_key=lambda: rsa.generate_private_key(65537, bits))


def id_token_encoder(directory: Path, algorithm: str) -> Callable[[], str]:
    id_tokens = IdTokens(
        open_keyring(directory, ES256_KEYS, token_ttl=TTL, now=NOW),
        open_keyring(directory, RS256_KEYS, token_ttl=TTL, now=NOW),
        "https://login.example",
        lambda: NOW,
        900,
        PairwiseSubjects(bytes(32)),
    )
    config = OidcClientConfig(
        name="Bench",
        public=True,
        redirect_uris=("https://rp.example/cb",),
        id_token_signed_response_alg=algorithm,
    )
    client = OidcClient("bench", config)
    grantee = Grantee("0x" + "ab" * 20, 1, "s" * 43, int(NOW.timestamp()), 2**31)
    code = SimpleNamespace(
        get_nonce=lambda: "n",
        get_auth_time=lambda: grantee.auth_time,
        get_acr=lambda: None,
        get_amr=lambda: None,
        grantee=grantee,
    )
    request = SimpleNamespace(
        client=client, user=grantee, authorization_code=code, payload=SimpleNamespace(data={})
    )
    extension = WalletOpenIDCode(id_tokens)
    token = {"access_token": "a" * 200, "scope": "openid"}
    return lambda: extension.encode_id_token(token, request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=15, help="keys made per kind")
    parser.add_argument("--tokens", type=int, default=300, help="ID tokens per algorithm")
    arguments = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| what | median ms | p90 ms |")
    print("|---|---|---|")
    rows: list[tuple[str, Callable[[], object], int]] = [
        ("ES256 ring, first key (P-256)", lambda: make_ring(ES256_KEYS), arguments.keys),
        ("RS256 ring, first key (RSA 2048)", lambda: make_ring(rsa_kind(2048)), arguments.keys),
        ("RS256 ring, first key (RSA 3072)", lambda: make_ring(rsa_kind(3072)), arguments.keys),
    ]
    with tempfile.TemporaryDirectory() as directory:
        for algorithm in ("ES256", "RS256"):
            encode = id_token_encoder(Path(directory), algorithm)
            encode()  # imports the key once, as the running provider has
            rows.append((f"ID token, {algorithm} client", encode, arguments.tokens))
        for name, run, count in rows:
            median, p90 = timings(run, count)
            print(f"| {name} | {median:.2f} | {p90:.2f} |")
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
