"""The OpenID Provider's live grants, so that ending one reaches the client that holds it.

A grant is recorded when a client redeems its code (:func:`record_grant`): the client,
the subject, the OpenID Provider's session it was made in (the ID token's ``sid``, kept
as a hash), the purposes its scope names and when its tokens end at the latest. Sealed
under a key derived from the master secret, as the outbox's rows are: the walletauth
session its tokens belong to and, for a client registered for OpenID Connect
Back-Channel Logout, what its logout token names (its pairwise ``sub``, and ``sid``
when it asked for sessions), never the address.

A grant ends, and its client (if registered) gets a back-channel logout notice in the
outbox, in the transaction of what ends it: the subject's erasure (:func:`end_grants`),
a change of the subject's state that takes a purpose its scope names out of use (a
withdrawal, a suspension, a guardian's consent withdrawn: :func:`end_grants_out_of_use`),
or the end of its OpenID
Provider session by a logout at one of that session's clients
(:func:`end_session_grants`, which leaves that client out). The notice's row holds the
sealed logout claims only; the logout token itself is signed when it is sent.
"""

from __future__ import annotations

import hashlib
import json
import secrets as random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from walletauth.policy import decide_use
from walletauth.store.addresses import normalise_address
from walletauth.store.crypto import derived_key, seal, unseal
from walletauth.store.errors import StoreError, policy_errors_as_store_errors
from walletauth.store.handle import StoreHandle
from walletauth.store.outbox import PendingNotice, enqueue
from walletauth.store.rights_schema import oidc_grants
from walletauth.store.secrets import Secrets
from walletauth.store.subjects import Subject, find_with_history, refs_of
from walletauth.store.types import require_aware

LOGOUT_NOTICE: Final = "oidc.backchannel_logout"
"""The outbox type of a back-channel logout; its endpoint is the client's id."""
_KEY_DOMAIN: Final = b"walletauth oidc grant"


@dataclass(frozen=True, slots=True)
class OidcGrant:
    """A grant as the provider records it at the code's redemption."""

    client_id: str
    op_session: str
    """The OpenID Provider's session the grant was made in (the ID token's ``sid``)."""
    family: str
    """The walletauth session whose family the grant's tokens belong to."""
    purposes: tuple[str, ...]
    expires_at: datetime
    """The end of that session: no token of the grant outlives it."""
    logout: dict[str, str] | None
    """The claims a logout token names (``sub``, maybe ``sid``) for a client registered
    for back-channel logout; ``None`` for any other."""


def session_hash(op_session: str) -> str:
    return hashlib.sha256(op_session.encode("utf-8")).hexdigest()


def _key(secrets: Secrets, version: int) -> bytes:
    return derived_key(secrets.version(version).master_key, _KEY_DOMAIN)


def _associated(grant_id: str) -> bytes:
    return f"walletauth oidc grant {grant_id}".encode()


def record_grant(store: StoreHandle, address: str, grant: OidcGrant, *, now: datetime) -> None:
    """Record ``grant`` of the subject at ``address``, dropping the subject's grants whose
    tokens have ended since (nothing is kept longer than a token could be used)."""
    now = require_aware(now)
    expires_at = require_aware(grant.expires_at)
    grant_id = f"grt_{random.token_urlsafe(18)}"
    version = store.secrets.current.version
    sealed = seal(
        _key(store.secrets, version),
        json.dumps({"fam": grant.family, "lo": grant.logout}).encode("ascii"),
        _associated(grant_id),
    )
    with store.engine.begin() as connection:
        subject, _events = find_with_history(
            connection, refs_of(store.secrets, normalise_address(address)), lock=False
        )
        if subject is None:  # the sign-in the code came from made it: erased since
            raise StoreError("unknown_subject", "the subject of this grant has been erased")
        connection.execute(
            sa.delete(oidc_grants).where(
                oidc_grants.c.subject_id == subject.id, oidc_grants.c.expires_at <= now
            )
        )
        connection.execute(
            sa.insert(oidc_grants).values(
                id=grant_id,
                subject_id=subject.id,
                client_id=grant.client_id,
                session_hash=session_hash(grant.op_session),
                purposes=list(grant.purposes),
                notify=grant.logout is not None,
                sealed=sealed,
                secrets_version=version,
                expires_at=expires_at,
            )
        )


def end_grants(
    store: StoreHandle, connection: sa.Connection, subject_id: int, *, now: datetime
) -> int:
    """End every grant of the subject (its erasure), enqueueing a back-channel logout for
    each registered client, in the caller's transaction. Returns how many were queued."""
    rows = connection.execute(
        sa.select(oidc_grants).where(oidc_grants.c.subject_id == subject_id)
    ).all()
    _families, enqueued = _end(store, connection, rows, now, leave_out=None)
    return enqueued


def end_grants_out_of_use(
    store: StoreHandle, connection: sa.Connection, subject: Subject, *, now: datetime
) -> int:
    """After a change of the subject's state (a consent withdrawn, a purpose suspended, a
    guardian's consent withdrawn), in its transaction: end the grants whose scope names a
    purpose the policy no longer lets be used, the test the provider's token endpoint and
    UserInfo apply, with a back-channel logout for each registered client."""
    rows = [
        row
        for row in connection.execute(
            sa.select(oidc_grants).where(oidc_grants.c.subject_id == subject.id)
        ).all()
        if row.purposes
    ]
    if not rows:
        return 0
    _subject, events = find_with_history(connection, [subject.ref], lock=False)
    state = store.state_of(events)
    with policy_errors_as_store_errors():
        ended = [
            row
            for row in rows
            if any(not decide_use(store.policy, p, state).allowed for p in row.purposes)
        ]
    _families, enqueued = _end(store, connection, ended, now, leave_out=None)
    return enqueued


def end_session_grants(
    store: StoreHandle, op_session: str, *, initiated_by: str | None, now: datetime
) -> list[str]:
    """End every grant of the OpenID Provider session ``op_session`` (a logout at the
    client ``initiated_by``, which is not sent one); answers the walletauth sessions of
    the grants ended, whose families the caller ends."""
    now = require_aware(now)
    with store.engine.begin() as connection:
        rows = connection.execute(
            sa.select(oidc_grants).where(oidc_grants.c.session_hash == session_hash(op_session))
        ).all()
        families, _enqueued = _end(store, connection, rows, now, leave_out=initiated_by)
    return families


def _end(
    store: StoreHandle,
    connection: sa.Connection,
    rows: Sequence[sa.Row[Any]],
    now: datetime,
    *,
    leave_out: str | None,
) -> tuple[list[str], int]:
    """Delete ``rows``; answer their walletauth sessions and how many logouts went into
    the outbox."""
    families: list[str] = []
    sent: set[tuple[str, str]] = set()
    for row in rows:
        opened = json.loads(
            unseal(_key(store.secrets, row.secrets_version), row.sealed, _associated(row.id))
        )
        families.append(str(opened["fam"]))
        logout = opened["lo"]
        if not row.notify or logout is None or row.client_id == leave_out:
            continue
        if row.expires_at <= now:  # its tokens have ended already: nothing to log out
            continue
        claims = json.dumps(logout, sort_keys=True, separators=(",", ":"))
        if (row.client_id, claims) in sent:  # two grants, one sub and no sid: one token
            continue
        sent.add((row.client_id, claims))
        notice = PendingNotice(
            notice_id=f"bcl_{random.token_urlsafe(18)}",
            endpoint=row.client_id,
            type=LOGOUT_NOTICE,
            occurred_at=now,
            policy_id=store.policy.id,
            policy_version=store.policy.version,
        )
        enqueue(connection, store.secrets, notice, claims, now)
    if rows:
        connection.execute(
            sa.delete(oidc_grants).where(oidc_grants.c.id.in_([row.id for row in rows]))
        )
    return families, len(sent)
