"""Notice delivery that runs by itself: a background task in every worker's lifespan.

Every ``WALLETAUTH_NOTICE_INTERVAL`` seconds the task claims the due notices of the
outbox through the store's gateway, POSTs each on the event loop (an async client: a
receiver's timeout holds up no store call) and records each answer through the gateway
again (:func:`deliver_once`; ``walletauth notices deliver`` runs the same round). Rows
are claimed before they are sent, so any number of workers (and ``walletauth notices
deliver`` from cron) may run at once and a notice still goes out once per 2xx. The
outbox lives in the database, so a restart only delays what is queued.
``WALLETAUTH_NOTICE_DELIVERY=false`` turns the task off (e.g. when cron delivers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from walletauth.oidc.logout import answer_error as logout_answer_error
from walletauth.rights import DeliveryReport, NoticeEndpoint
from walletauth.rights.delivery import (
    SEND_ERRORS,
    UNREACHABLE,
    SignedPost,
    answer_error,
    claim_due,
    settle,
    signed_post,
)
from walletauth.server.config.services import ServiceRegistry
from walletauth.server.config.settings import ConfiguredSettings, Settings, bare_seconds
from walletauth.server.signin.login import Clock
from walletauth.server.store_gateway import StoreGateway
from walletauth.server.web.errors import ServerError
from walletauth.store.oidc_grants import LOGOUT_NOTICE
from walletauth.store.outbox import OutboxNotice
from walletauth.store.purge import NOTICE_ABANDON_AFTER

log = logging.getLogger("walletauth.server.delivery")

LogoutPoster = Callable[[OutboxNotice, datetime], Awaitable[SignedPost | str]]
"""Makes the POST of a queued back-channel logout (the OpenID Provider's logout tokens,
:class:`walletauth.oidc.logout.LogoutTokens`), signed at the moment it is sent."""
StatusCheck = Callable[[int], str | None]


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


async def deliver_once(
    gateway: StoreGateway, endpoints: Mapping[str, NoticeEndpoint], client: httpx.AsyncClient,
    settings: DeliverySettings, clock: Clock, logouts: LogoutPoster | None = None,
) -> DeliveryReport:
    """One round: claim the due notices and try each once. The outbox's turns go through
    the gateway (on SQLite, its one thread, between the sign-ins); the POSTs wait on the
    event loop, so a slow receiver holds up no store call. Back-channel logouts are made
    by ``logouts`` (without it they wait, retried) and only 200 or 204 delivers them."""
    now = clock()
    report = DeliveryReport()
    claimed = await gateway.run(claim_due, now=now, limit=settings.notice_batch,
                                abandon_after=settings.notice_abandon_after)
    first_retry = timedelta(seconds=settings.notice_first_retry)
    for queued in claimed:
        post: SignedPost | str
        if queued.type == LOGOUT_NOTICE:
            # The client is looked up through the gateway (a registered one is in the store).
            post = await logouts(queued, now) if logouts is not None else "unknown_endpoint"
            check = logout_answer_error
        else:
            post, check = signed_post(queued, endpoints.get(queued.endpoint), now), answer_error
        error = post if isinstance(post, str) else await _send(client, post, check)
        await gateway.run_always(settle, queued, error, now=now, first_retry=first_retry)
        report.count(error)
    return report


async def _send(client: httpx.AsyncClient, post: SignedPost, check: StatusCheck) -> str | None:
    try:
        response = await client.post(post.url, content=post.body, headers=post.headers)
    except SEND_ERRORS:
        return UNREACHABLE
    return check(response.status_code)


def notice_client(settings: DeliverySettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.notice_timeout, follow_redirects=False)


class NoticeWorker:
    """The background task of one worker process; :meth:`stop` waits for its round."""

    def __init__(self, gateway: StoreGateway, clock: Clock, settings: DeliverySettings,
                 endpoints: Mapping[str, NoticeEndpoint], logouts: LogoutPoster | None = None
                 ) -> None:
        self._logouts = logouts
        self._gateway = gateway
        self._clock = clock
        self._settings = settings
        self._endpoints = dict(endpoints)
        self._client = notice_client(settings)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="walletauth-notice-delivery")

    async def stop(self) -> None:
        """Let the round in flight finish (within a receiver's timeout), then end."""
        self._stopping.set()
        if self._task is not None:
            # Still sending after that: cancelled, and what it claimed is released by the
            # lease running out.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, self._settings.notice_timeout + 1)
        await self._client.aclose()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                report = await deliver_once(self._gateway, self._endpoints, self._client,
                                            self._settings, self._clock, self._logouts)
            except ServerError as refused:
                # The store queue is full (a burst of requests): they go first; the notices
                # stay due for the next round.
                log.warning("notice delivery round skipped: %s", refused.message)
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
    gateway: StoreGateway, clock: Clock, endpoints: Mapping[str, NoticeEndpoint],
    logouts: LogoutPoster | None = None,
) -> NoticeWorker | None:
    """Start the task unless ``WALLETAUTH_NOTICE_DELIVERY`` is off."""
    settings = DeliverySettings()
    if not settings.notice_delivery:
        return None
    worker = NoticeWorker(gateway, clock, settings, endpoints, logouts)
    worker.start()
    return worker
