"""Remembering which notices were already accepted, so a captured one cannot be replayed.

:func:`~walletauth.sdk.webhooks.verify_notice` *claims* a notice's id once its signature
and timestamp are good. If handling it then fails, the service must :meth:`release`
the id before answering with an error, so that walletauth's retry (same id, new
timestamp) is accepted instead of refused as a replay and the event is not lost.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from walletauth.sdk.errors import SdkError

if TYPE_CHECKING:
    import redis


class ReplayGuard(Protocol):
    """Where accepted notice ids are remembered; share one between processes if the
    service runs several (e.g. :class:`RedisReplayGuard`)."""

    def claim(self, webhook_id: str, *, now: datetime, until: datetime) -> bool:
        """Remember ``webhook_id`` until ``until``; False if it was already remembered.

        Must be atomic (check and set in one step). Raise :class:`SdkError` with code
        ``replay_guard_unavailable`` if the store cannot be reached.
        """
        ...

    def release(self, webhook_id: str) -> None:
        """Forget ``webhook_id``, so that a retry of the notice is accepted."""
        ...


class InMemoryReplayGuard:
    """A bounded, thread-safe in-process guard: ids expire at ``until``; when full, the
    oldest claims are dropped first. Enough for a service running as one process."""

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, webhook_id: str, *, now: datetime, until: datetime) -> bool:
        with self._lock:
            self._forget_expired(now.timestamp())
            if webhook_id in self._expiry:
                return False
            self._expiry[webhook_id] = until.timestamp()
            while len(self._expiry) > self._max_entries:
                self._expiry.popitem(last=False)
            return True

    def release(self, webhook_id: str) -> None:
        with self._lock:
            self._expiry.pop(webhook_id, None)

    def __len__(self) -> int:
        return len(self._expiry)

    def _forget_expired(self, now: float) -> None:
        # Claims are appended in arrival order and their lifetimes are nearly equal,
        # so expired ones gather at the front; stop at the first live one.
        while self._expiry:
            oldest_id, expires = next(iter(self._expiry.items()))
            if expires > now:
                return
            del self._expiry[oldest_id]


class RedisReplayGuard:
    """A guard shared by every process of a service, in Redis (``SET NX EXAT``)."""

    def __init__(self, client: redis.Redis, *, prefix: str = "walletauth:notice:") -> None:
        self._client = client
        self._prefix = prefix

    def claim(self, webhook_id: str, *, now: datetime, until: datetime) -> bool:
        from redis.exceptions import RedisError

        # EXAT needs a whole second strictly in the future: round up.
        expires_at = max(int(until.timestamp()) + 1, int(now.timestamp()) + 1)
        try:
            created = self._client.set(self._prefix + webhook_id, b"1", nx=True, exat=expires_at)
        except RedisError as error:
            raise _unavailable(error) from None
        return bool(created)

    def release(self, webhook_id: str) -> None:
        from redis.exceptions import RedisError

        try:
            self._client.delete(self._prefix + webhook_id)
        except RedisError as error:
            raise _unavailable(error) from None


def _unavailable(error: Exception) -> SdkError:
    return SdkError("replay_guard_unavailable", f"Redis did not answer: {error}")
