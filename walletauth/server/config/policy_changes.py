"""A new policy version at start-up: the ``policy.changed`` notice to registered services.

The operator edits the policy TOML and restarts. Every worker calls
:func:`announce_policy` as it starts; the database lets exactly one of them enqueue the
notice (see :mod:`walletauth.store.policy_versions`), through the same outbox, signing and
retries as every other notice. The consents themselves need nothing here: the store
judges each consent against the current text on every decision.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from walletauth.rights import pending_notices
from walletauth.store import Store
from walletauth.store.outbox import PendingNotice
from walletauth.store.policy_versions import announce_version

log = logging.getLogger("walletauth.server")


def announce_policy(
    store: Store, endpoints: Sequence[str], now: datetime
) -> tuple[str, ...] | None:
    """Record the policy version in force; if this worker is the first to see a new one,
    enqueue a ``policy.changed`` notice to each of ``endpoints`` (the registered services
    that receive notices). Returns the changed purposes when it did."""

    def notices_for(purposes: Sequence[str]) -> list[PendingNotice]:
        return pending_notices(store, "policy.changed", purposes, endpoints, now)

    changed = announce_version(store.engine, store.secrets, store.policy, now=now,
                               notices_for=notices_for)
    if changed is not None:
        log.info("policy %s version %s announced to %d services; changed purposes: %s",
                 store.policy.id, store.policy.version, len(endpoints), ", ".join(changed))
    return changed
