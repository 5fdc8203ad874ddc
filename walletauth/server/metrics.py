"""Prometheus metrics of one app. Labels are outcome codes and route templates only:
never an address, an IP, a nonce or a raw path."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """A registry per app, so that tests can create as many apps as they like."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.logins = Counter(
            "walletauth_logins",
            "Sign-in attempts by outcome: ok or the error code",
            ["outcome"],
            registry=self.registry,
        )
        self.nonces_issued = Counter(
            "walletauth_nonces_issued", "Nonces handed out", registry=self.registry
        )
        self.request_latency = Histogram(
            "walletauth_request_duration_seconds",
            "Time to answer a request, by route template, method and status",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def login(self, outcome: str) -> None:
        self.logins.labels(outcome=outcome).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
