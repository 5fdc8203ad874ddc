"""Prometheus metrics of one app. Labels are outcome codes and route templates only:
never an address, an IP, a nonce or a raw path.

With several workers (``walletauth serve --workers N``) each process counts into files
of its own under ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode)
and ``/metrics`` adds up every worker's files, so a scrape that lands on any worker
shows the whole service's numbers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"


def share_metrics_between_workers(directory: Path) -> None:
    """Make the worker processes started after this call count into ``directory``.

    Emptied first: files left by an earlier run would add its numbers to this one's.
    prometheus_client picks the directory up when it is imported, which in a uvicorn
    worker (a fresh process) is after this."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROCESS_ENV] = str(directory)


def _multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROCESS_ENV) or None


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
        self.pool_wait = Histogram(
            "walletauth_pool_wait_seconds",
            "Time a call waited for a pooled resource: a store thread with its connection"
            " (pool=store) or a Redis connection (pool=redis)",
            ["pool"],
            buckets=(0.0001, 0.0005, *LATENCY_BUCKETS),
            registry=self.registry,
        )

        # A labelled child per route, method and status, looked up once: ``labels()``
        # validates and hashes its arguments on every call.
        self._latency_by_label: dict[tuple[str, str, int], Histogram] = {}
        self._logins_by_outcome: dict[str, Counter] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request; ``route`` is a template, never a raw path."""
        label = (route, method, status)
        child = self._latency_by_label.get(label)
        if child is None:
            child = self.request_latency.labels(route=route, method=method, status=status)
            self._latency_by_label[label] = child
        child.observe(seconds)

    def pool_waited(self, pool: str) -> Callable[[float], None]:
        """What observes the waits for one pool (``store`` or ``redis``): the first sign of
        a worker that has more work than connections, before its answers slow down."""
        return self.pool_wait.labels(pool=pool).observe

    def login(self, outcome: str) -> None:
        child = self._logins_by_outcome.get(outcome)
        if child is None:
            child = self._logins_by_outcome[outcome] = self.logins.labels(outcome=outcome)
        child.inc()

    def exposition(self) -> bytes:
        directory = _multiprocess_directory()
        if directory is None:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker, path=directory)
        return generate_latest(every_worker)

    def process_exiting(self) -> None:
        """A worker's last word in multiprocess mode: its live gauges stop counting
        (its counters and histograms stay in the totals, as counters must)."""
        directory = _multiprocess_directory()
        if directory is not None:
            mark_process_dead(os.getpid(), directory)
