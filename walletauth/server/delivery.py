"""Notice delivery that runs by itself: a background task in every worker's lifespan.

Every ``WALLETAUTH_NOTICE_INTERVAL`` seconds the task hands the due notices of the
outbox to :func:`walletauth.rights.deliver_due` (in a thread: it is blocking I/O). Rows
are claimed before they are sent, so any number of workers (and ``walletauth notices
deliver`` from cron) may run at once and a notice still goes out once per 2xx. The
outbox lives in the database, so a restart only delays what is queued.
``WALLETAUTH_NOTICE_DELIVERY=false`` turns the task off (e.g. when cron delivers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict
from starlette.concurrency import run_in_threadpool

from walletauth.rights import DeliveryReport, NoticeEndpoint, deliver_due
from walletauth.server.config.services import ServiceRegistry
from walletauth.server.config.settings import ConfiguredSettings, Settings, bare_seconds
from walletauth.server.signin.login import Clock
from walletauth.store import Store
from walletauth.store.purge import NOTICE_ABANDON_AFTER

log = logging.getLogger("walletauth.server.delivery")


class DeliverySettings(ConfiguredSettings):
    """``WALLETAUTH_NOTICE_*`` (or ``notice_*`` in the ``WALLETAUTH_CONFIG`` file, as
    every other setting): how the outbox is worked off."""

    model_config = SettingsConfigDict(env_prefix="WALLETAUTH_", extra="ignore")
    notice_delivery: bool = Field(default=True, description="run the background task")
    notice_interval: float = Field(default=5.0, gt=0, le=3600,
                                   description="seconds between two looks at the outbox")
    notice_first_retry: float = Field(default=30.0, gt=0, le=21600,
                                      description="seconds before the first retry; doubles")
    notice_timeout: float = Field(default=10.0, gt=0, le=120,
                                  description="seconds a receiver has to answer")
    notice_batch: int = Field(default=100, gt=0, le=10_000,
                              description="notices claimed per round")
    notice_abandon_after: timedelta = Field(
        default=NOTICE_ABANDON_AFTER, gt=timedelta(0),
        description="a notice undelivered this long is no longer sent; `walletauth purge`"
                    " gives it up with an audit entry (the same setting as the purge's)")

    @field_validator("notice_abandon_after", mode="before")
    @classmethod
    def _parse_seconds(cls, value: Any) -> Any:
        return bare_seconds(value)


def notice_endpoints(settings: Settings | None = None) -> dict[str, NoticeEndpoint]:
    """The webhooks of the registered services (``WALLETAUTH_SERVICES``, and the older
    ``WALLETAUTH_NOTICE_ENDPOINTS``), from ``settings`` or the environment."""
    return ServiceRegistry.from_settings(settings or Settings()).notice_endpoints()


def deliver_once(
    store: Store, endpoints: Mapping[str, NoticeEndpoint], client: httpx.Client,
    settings: DeliverySettings, clock: Clock,
) -> DeliveryReport:
    """One round: claim the due notices and try each once."""
    return deliver_due(store, endpoints, client, now=clock(), limit=settings.notice_batch,
                       first_retry=timedelta(seconds=settings.notice_first_retry),
                       abandon_after=settings.notice_abandon_after)


class NoticeWorker:
    """The background task of one worker process; :meth:`stop` waits for its round."""

    def __init__(self, store: Store, clock: Clock, settings: DeliverySettings,
                 endpoints: Mapping[str, NoticeEndpoint]) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._endpoints = dict(endpoints)
        self._client = httpx.Client(timeout=settings.notice_timeout, follow_redirects=False)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="walletauth-notice-delivery")

    async def stop(self) -> None:
        """Let the round in flight finish (within a receiver's timeout), then end."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, self._settings.notice_timeout + 1)
            except TimeoutError:
                # Still sending: what it claimed is released by the lease running out.
                return
        self._client.close()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                report = await run_in_threadpool(
                    deliver_once, self._store, self._endpoints, self._client, self._settings,
                    self._clock,
                )
            except Exception:
                # A database hiccup must not end delivery for the life of the worker.
                log.exception("notice delivery round failed; next round as scheduled")
            else:
                if report.delivered or report.failed:
                    log.info("notices delivered=%d failed=%d %s", report.delivered,
                             report.failed, report.errors)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.notice_interval)


def start_notice_worker(
    store: Store, clock: Clock, endpoints: Mapping[str, NoticeEndpoint]
) -> NoticeWorker | None:
    """Start the task unless ``WALLETAUTH_NOTICE_DELIVERY`` is off."""
    settings = DeliverySettings()
    if not settings.notice_delivery:
        return None
    worker = NoticeWorker(store, clock, settings, endpoints)
    worker.start()
    return worker
