"""Delivering the notice outbox: signed (Standard Webhooks), retried with backoff.

Each due notice is POSTed to its endpoint, signed with ``walletauth.sdk.sign_notice``
under the endpoint's secrets; a 2xx answer deletes it from the outbox, anything else
(another status, a connection error, a timeout) schedules the next attempt after an
exponentially growing delay, capped. The webhook id stays the notice id across
retries, so a receiver's replay guard treats a retry as the same event. A notice older
than ``abandon_after`` is not sent any more: the purge abandons it and records that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import httpx

from walletauth.sdk import Notice, SdkError, sign_notice
from walletauth.sdk.notices import PolicyRef
from walletauth.store import Store, outbox
from walletauth.store.outbox import OutboxNotice

FIRST_RETRY: Final = timedelta(seconds=30)
MAX_RETRY: Final = timedelta(hours=6)
LEASE: Final = timedelta(minutes=2)
"""How long a claimed notice is hidden from other workers while it is being sent."""


@dataclass(frozen=True, slots=True)
class NoticeEndpoint:
    """A downstream service registered for notices: where to POST, and its secrets
    (``whsec_...``; several while a secret is rotated)."""

    url: str
    secrets: tuple[str, ...]


@dataclass(slots=True)
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    """Failure reasons (``http_<status>``, ``unreachable``, ``unknown_endpoint``,
    ``bad_secret``) by count."""

    def count(self, error: str | None) -> None:
        if error is None:
            self.delivered += 1
            return
        self.failed += 1
        self.errors[error] = self.errors.get(error, 0) + 1


@dataclass(frozen=True, slots=True)
class SignedPost:
    """What to POST for one notice: the body and its Standard Webhooks headers."""

    url: str
    body: bytes
    headers: dict[str, str]


def retry_delay(attempts: int, first: timedelta = FIRST_RETRY) -> timedelta:
    """The wait after the ``attempts``-th failure: 30 s, 1 min, 2 min... at most 6 h."""
    if attempts >= 20:
        return MAX_RETRY
    return min(first * (2 ** max(attempts - 1, 0)), MAX_RETRY)


def deliver_due(
    store: Store,
    endpoints: Mapping[str, NoticeEndpoint],
    client: httpx.Client,
    *,
    now: datetime,
    limit: int = 100,
    first_retry: timedelta = FIRST_RETRY,
    abandon_after: timedelta | None = None,
) -> DeliveryReport:
    """Try every due notice once; what fails waits for its next attempt. A notice that
    occurred ``abandon_after`` or longer ago is no longer sent: it waits for the purge,
    which abandons it with an audit entry (``Store.purge(notice_abandon_after=...)``).

    Notices are claimed first (see :func:`walletauth.store.outbox.claim_due`), so
    several workers calling this at once never send the same notice twice. The steps
    (:func:`claim_due`, :func:`signed_post`, :func:`settle`) are public for a caller that
    sends on its own client, as the server's worker does (its store turns and its HTTP
    run on different threads).
    """
    report = DeliveryReport()
    for queued in claim_due(store, now=now, limit=limit, abandon_after=abandon_after):
        post = signed_post(queued, endpoints.get(queued.endpoint), now)
        error = post if isinstance(post, str) else _post(client, post)
        settle(store, queued, error, now=now, first_retry=first_retry)
        report.count(error)
    return report


def claim_due(
    store: Store, *, now: datetime, limit: int = 100, abandon_after: timedelta | None = None
) -> list[OutboxNotice]:
    """Claim up to ``limit`` due notices for :data:`LEASE`; none older than
    ``abandon_after``."""
    occurred_after = None if abandon_after is None else now - abandon_after
    return outbox.claim_due(store.engine, store.secrets, now=now, limit=limit, lease=LEASE,
                            occurred_after=occurred_after)


def settle(
    store: Store, queued: OutboxNotice, error: str | None, *, now: datetime,
    first_retry: timedelta = FIRST_RETRY,
) -> None:
    """Record one attempt: delivered (``error`` None) leaves the outbox, else the next
    attempt waits its back-off."""
    if error is None:
        outbox.delivered(store.engine, queued.notice_id, queued.endpoint)
        return
    outbox.failed(store.engine, queued.notice_id, queued.endpoint, error=error,
                  retry_in=retry_delay(queued.attempts + 1, first_retry), now=now)


def signed_post(
    queued: OutboxNotice, endpoint: NoticeEndpoint | None, now: datetime
) -> SignedPost | str:
    """The request that delivers ``queued``, or why it cannot be sent (an error code)."""
    if endpoint is None:
        return "unknown_endpoint"
    notice = Notice(
        # A notice about the policy seals no subject (walletauth.store.policy_versions).
        # The outbox keeps the type as text; the model validates it against NoticeType.
        id=queued.notice_id, type=queued.type,  # type: ignore[arg-type]
        subject=queued.subject or None,
        purposes=queued.purposes, occurred_at=queued.occurred_at,
        policy=PolicyRef(id=queued.policy_id, version=queued.policy_version),
    )
    try:
        body, headers = sign_notice(notice, list(endpoint.secrets), now=now)
    except SdkError:
        # A misconfigured secret must hold back this endpoint's notices only, not the round.
        return "bad_secret"
    return SignedPost(endpoint.url, body, headers)


def answer_error(status_code: int) -> str | None:
    """A receiver's answer as :func:`settle` takes it: None for a 2xx."""
    return None if 200 <= status_code < 300 else f"http_{status_code}"


UNREACHABLE: Final = "unreachable"
SEND_ERRORS: Final = (httpx.HTTPError, httpx.InvalidURL)
"""What sending raises for a receiver that cannot be reached (InvalidURL is no
HTTPError): :data:`UNREACHABLE`."""


def _post(client: httpx.Client, post: SignedPost) -> str | None:
    try:
        response = client.post(post.url, content=post.body, headers=post.headers)
    except SEND_ERRORS:
        return UNREACHABLE
    return answer_error(response.status_code)
