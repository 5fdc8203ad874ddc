"""Announcing a new policy version once: the ``policy.changed`` notice.

Every worker calls :func:`announce_version` when it starts. The first to insert the
version's row into ``policy_announcements`` enqueues the notices in the same transaction
(the primary key decides: on PostgreSQL a second insert waits for the first and then does
nothing; SQLite's ``BEGIN IMMEDIATE`` serialises the writers), so the notice goes out
once however many workers start. The very first version a database sees is recorded
without a notice: nothing changed. Going back to a version seen before sends none either,
but makes it the one the next new version is compared with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy as sa

from walletauth.policy import Policy
from walletauth.store.outbox import PendingNotice, enqueue
from walletauth.store.schema import policy_announcements
from walletauth.store.secrets import Secrets
from walletauth.store.sql import upsert

NoticesFor = Callable[[Sequence[str]], Sequence[PendingNotice]]
"""Changed purpose ids -> the notices to enqueue (one per registered endpoint)."""


def changed_purposes(
    policy: Policy, previous: dict[str, str] | None
) -> tuple[str, ...]:
    """The consent purposes and grounds whose text differs from ``previous`` digests (or
    that are new), and those this version's change entry names, in policy order."""
    current = policy.consent_digests()
    named = set(policy.changes[-1].purposes) if policy.changes and (
        policy.changes[-1].version == policy.version) else set()
    changed = {entry_id for entry_id, digest in current.items()
               if previous is not None and previous.get(entry_id) != digest}
    order = [*policy.purposes, *(ground.id for ground in policy.third_party.grounds)]
    return tuple(entry_id for entry_id in order if entry_id in changed | named)


def announce_version(
    engine: sa.Engine, secrets: Secrets, policy: Policy, *, now: datetime,
    notices_for: NoticesFor,
) -> tuple[str, ...] | None:
    """Record that ``policy.version`` is in force; the first caller for a version that
    follows another enqueues ``notices_for(changed purposes)``. Returns the changed
    purposes when this call announced the version, else None."""
    digests = policy.consent_digests()
    with engine.begin() as connection:
        previous = connection.execute(
            sa.select(policy_announcements.c.digests)
            .where(policy_announcements.c.policy_id == policy.id)
            .order_by(policy_announcements.c.seen_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        inserted = connection.execute(
            upsert(connection, policy_announcements)
            .values(policy_id=policy.id, version=policy.version, seen_at=now,
                    announced=previous is not None, digests=digests)
            .on_conflict_do_nothing(index_elements=[policy_announcements.c.policy_id,
                                                    policy_announcements.c.version])
            .returning(policy_announcements.c.version)
        ).scalar_one_or_none()
        if inserted is None:
            # Seen before (a return to an earlier version): it is the latest in force
            # again, which the next new version is compared with. No notice.
            connection.execute(
                sa.update(policy_announcements)
                .where(policy_announcements.c.policy_id == policy.id,
                       policy_announcements.c.version == policy.version)
                .values(seen_at=now))
            return None
        if previous is None:
            return None
        changed = changed_purposes(policy, previous)
        for notice in notices_for(changed):
            # A notice about the policy, not about a subject: the outbox row seals "".
            enqueue(connection, secrets, notice, "", now)
        return changed
