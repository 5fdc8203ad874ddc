"""The wallet owner's rights as calls over a :class:`~walletauth.store.Store`.

Each request is logged in the requests log (received, then completed or denied with
the error's stable code) and leaves an audit entry; none needs HTTP. Proof that the
wallet itself asks is the caller's job (see :mod:`walletauth.rights.requests`).
"""

from __future__ import annotations

import contextlib
import secrets as random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from walletauth.errors import WalletAuthError
from walletauth.rights.errors import RightsError
from walletauth.rights.export import ExportDocument, build_document
from walletauth.store import (
    Store,
    corrections,
    dossier,
    erasure,
    provisions,
    requests_log,
    subject_state,
)
from walletauth.store.addresses import normalise_address
from walletauth.store.corrections import RecordChange
from walletauth.store.erasure import Erasure
from walletauth.store.outbox import PendingNotice
from walletauth.store.requests_log import RequestEntry
from walletauth.store.withholding import WITHHOLDING_GROUNDS

RequestLogKind = str
"""A request kind of :data:`walletauth.rights.requests.REQUEST_KINDS`, or ``lift-restriction``."""


@dataclass(frozen=True, slots=True)
class RequestReceipt:
    receipt_id: str
    completed_at: datetime
    detail: Mapping[str, object] = field(default_factory=dict)


@contextlib.contextmanager
def _logged(store: Store, address: str, kind: RequestLogKind, now: datetime) -> Iterator[str]:
    """Log the request as received; a refusal marks it denied with its stable code."""
    request_id = requests_log.open_request(store, address, kind, now=now)
    try:
        yield request_id
    except WalletAuthError as error:
        requests_log.finish_request(store, request_id, "denied", now=now, reason=error.code)
        raise


def deny_request(store: Store, address: str, kind: RequestLogKind, reason: str, *,
                 now: datetime) -> str:
    """Log a request refused before it could be carried out (e.g. its proof failed)."""
    request_id = requests_log.open_request(store, address, kind, now=now)
    requests_log.finish_request(store, request_id, "denied", now=now, reason=reason)
    return request_id


def export_subject(store: Store, address: str, *, now: datetime) -> ExportDocument:
    """Everything linked to ``address`` (disclosure), as a JSON-ready document."""
    with _logged(store, address, "export", now) as request_id:
        checksum = normalise_address(address)
        found = dossier.read_dossier(store, checksum)
        document = build_document(store.policy, checksum, found,
                                  requests_log.list_requests(store, checksum), now=now)
        requests_log.finish_audited(
            store, request_id, checksum, "export", now=now,
            detail={"records": len(document["records"])},
            audit_detail={"records": len(document["records"]),
                          "withheld": sum(w["records"] for w in document["withheld"])})
    return document


def erase_subject(
    store: Store, address: str, *, now: datetime, notify: Sequence[str] = ()
) -> Erasure:
    """Erase everything linked to ``address`` in one transaction, enqueueing a signed
    ``subject.erased`` notice for each endpoint name in ``notify``.

    Live records of legal-obligation purposes, and the records of third-party provisions
    within the policy's ``record_retention`` (APPI Art. 29), are kept and listed in the
    receipt with their ground.
    """
    with _logged(store, address, "erase", now) as request_id:
        notice_id = f"ntc_{random.token_urlsafe(18)}"
        notices = [
            PendingNotice(notice_id=notice_id, endpoint=endpoint, type="subject.erased",
                          occurred_at=now, policy_id=store.policy.id,
                          policy_version=store.policy.version)
            for endpoint in notify
        ]
        return erasure.erase_subject(store, address, now=now, request_id=request_id,
                                     notices=notices)


def correct(
    store: Store, address: str, changes: Sequence[RecordChange], *, now: datetime
) -> RequestReceipt:
    """Correct, add or delete records of user-supplied categories, all or nothing."""
    with _logged(store, address, "correct", now) as request_id:
        _check_changes(changes)
        editable = frozenset(c.id for c in store.policy.categories.values() if c.user_supplied)
        outcome = corrections.apply_changes(store, address, changes, editable=editable, now=now)
        if outcome.refused:
            index, reason = outcome.refused[0]
            raise RightsError(reason, f"change {index} refused ({reason}); nothing was changed")
        detail = {"corrected": outcome.corrected, "added": outcome.added,
                  "deleted": outcome.deleted}
        requests_log.finish_request(store, request_id, "completed", now=now, detail=detail)
    return RequestReceipt(request_id, now, detail)


def _check_changes(changes: Sequence[RecordChange]) -> None:
    if not changes:
        raise RightsError("invalid_correction", "name at least one change")
    for index, change in enumerate(changes):
        needs_record = change.op in {"correct", "delete"}
        if needs_record and change.record_id is None:
            raise RightsError("invalid_correction", f"change {index} ({change.op}) needs record_id")
        if change.op == "add" and (change.category is None or change.purpose is None):
            raise RightsError("invalid_correction", f"change {index} (add) needs category and"
                              " purpose")
        if change.op != "delete" and not change.data:
            raise RightsError("invalid_correction", f"change {index} ({change.op}) needs data")


def restrict(
    store: Store, address: str, purposes: Sequence[str], *, now: datetime,
    notify: Sequence[str] = (),
) -> RequestReceipt:
    """Suspend the use of the subject's data for ``purposes`` (at once: the store's
    purpose-bound reads return nothing for a suspended purpose), enqueueing a
    ``subject.restricted`` notice per purpose for each endpoint name in ``notify``."""
    return _restriction(store, address, purposes, now, notify, lift=False)


def lift_restriction(
    store: Store, address: str, purposes: Sequence[str], *, now: datetime,
    notify: Sequence[str] = (),
) -> RequestReceipt:
    """Resume the use for ``purposes``; ``subject.unrestricted`` notices as in :func:`restrict`."""
    return _restriction(store, address, purposes, now, notify, lift=True)


def pending_notices(
    store: Store, notice_type: str, purposes: Sequence[str], notify: Sequence[str],
    now: datetime,
) -> list[PendingNotice]:
    """One notice (one id, every endpoint) of ``notice_type`` about ``purposes``."""
    notice_id = f"ntc_{random.token_urlsafe(18)}"
    return [
        PendingNotice(notice_id=notice_id, endpoint=endpoint, type=notice_type,
                      occurred_at=now, policy_id=store.policy.id,
                      policy_version=store.policy.version, purposes=tuple(purposes))
        for endpoint in notify
    ]


def _restriction(
    store: Store, address: str, purposes: Sequence[str], now: datetime,
    notify: Sequence[str], *, lift: bool,
) -> RequestReceipt:
    with _logged(store, address, "lift-restriction" if lift else "restrict", now) as request_id:
        if not purposes:
            raise RightsError("invalid_argument", "name at least one purpose")
        for purpose_id in purposes:
            purpose = store.policy.purpose(purpose_id)
            if not lift and purpose.basis == "legal_obligation":
                law = purpose.legal_source.en if purpose.legal_source else "law"
                raise RightsError("not_restrictable", f"{purpose_id!r} is required by {law}")
            if not lift and purpose_id == store.policy.login.purpose:
                raise RightsError(
                    "not_restrictable",
                    f"{purpose_id!r} is what signing in rests on (lifting would need a sign-in);"
                    " ask for erasure instead",
                )
        change = subject_state.lift_suspension if lift else subject_state.suspend
        notice_type = "subject.unrestricted" if lift else "subject.restricted"
        for purpose_id in dict.fromkeys(purposes):
            # Each purpose's change commits with its own notice.
            change(store, address, purpose_id, now=now,
                   notices=pending_notices(store, notice_type, [purpose_id], notify, now))
        detail = {"purposes": list(dict.fromkeys(purposes)), "lifted": lift}
        requests_log.finish_request(store, request_id, "completed", now=now, detail=detail)
    return RequestReceipt(request_id, now, detail)


def stop_third_party(store: Store, address: str, *, now: datetime) -> RequestReceipt:
    """No further provision to third parties on consent grounds (legal grounds remain)."""
    with _logged(store, address, "stop-third-party", now) as request_id:
        subject_state.stop_third_party(store, address, True, now=now)
        requests_log.finish_request(store, request_id, "completed", now=now)
    return RequestReceipt(request_id, now)


def record_provision(
    store: Store, address: str, recipient: str, categories: Sequence[str], ground: str, *,
    now: datetime, withheld: str | None = None,
) -> None:
    """Record a provision of ``categories`` to ``recipient`` on ``ground``: the one way
    a provision is recorded, shown in the subject's export and kept through an erasure
    for the policy's ``record_retention``. Refused, with nothing recorded, when the
    ground does not carry a category (``category_not_for_ground``), after the subject
    stopped provision (``third_party_stopped``) or for the policy's other reasons.
    ``withheld`` (a key of :data:`WITHHOLDING_GROUNDS`) leaves the record out of the
    subject's export, which then says that a record was withheld and on which ground."""
    if not isinstance(recipient, str) or not 1 <= len(recipient) <= 200:
        raise RightsError("invalid_argument", "recipient must be 1 to 200 characters")
    if isinstance(categories, str) or not categories:
        raise RightsError("invalid_argument", "name the categories provided (at least one)")
    if withheld is not None and withheld not in WITHHOLDING_GROUNDS:
        raise RightsError("invalid_argument", f"a record is withheld only on a statutory ground:"
                          f" {sorted(WITHHOLDING_GROUNDS)}")
    provisions.record_provision(store, address, recipient, categories, ground, now=now,
                         withheld=withheld)


def list_requests(
    store: Store, address: str, *, after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[RequestEntry]:
    """The subject's requests, oldest first; a page of them with ``after`` (the last
    one's ``received_at`` and ``id``) and ``limit``."""
    return requests_log.list_requests(store, address, after=after, limit=limit)
