"""The export document: everything linked to an address, as data and CSV (the page
for a person to read is :mod:`walletauth.rights.export_html`).

Built from the store's :class:`~walletauth.store.dossier.Dossier` and the policy,
without I/O. Categories the policy does not disclose on export (METALIVE: access
logs, "原則として開示いたしません") are left out of ``records`` and listed under
``withheld`` with the quoted reason and clause, so the subject sees that they exist
and why they are not shown; so are records of provisions withheld on a statutory ground
(:mod:`walletauth.store.withholding`), counted per ground, nothing of them shown.

A legal basis or retention period the policy text does not state is the operator's
setting: each purpose, category and record says who set it (``basis_set_by``,
``retention_set_by``: ``"policy"`` or ``"operator"``), with the note and clause ``GET
/policy`` serves, from the same helper (:func:`walletauth.policy.render.basis_setting`).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from walletauth.policy import Policy
from walletauth.policy.model import Category, Purpose
from walletauth.policy.render import SetBy, Setting, basis_setting, retention_setting
from walletauth.store.dossier import Dossier
from walletauth.store.records import Record
from walletauth.store.requests_log import RequestEntry
from walletauth.store.withholding import WITHHOLDING_GROUNDS

ExportDocument = dict[str, Any]
CSV_COLUMNS = ("section", "at", "category", "purpose", "dpv", "basis", "basis_set_by",
               "expires_at", "retention_set_by", "source", "value")
# A cell a spreadsheet would run as a formula is shown as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def build_document(
    policy: Policy, address: str, dossier: Dossier, requests: list[RequestEntry],
    *, now: datetime,
) -> ExportDocument:
    shown = {category: policy.category(category).disclosed_on_export
             for category in dict.fromkeys(r.category for r in dossier.records)}
    disclosed = [r for r in dossier.records if shown[r.category]]
    withheld = Counter(r.category for r in dossier.records if not shown[r.category])
    return {
        "subject": address,
        "policy": {"id": policy.id, "version": policy.version},
        "generated_at": now.isoformat(),
        "purposes": {p.id: _purpose(p) for p in policy.purposes.values()},
        "categories": {c.id: _category(c) for c in policy.categories.values()},
        "records": _records(policy, disclosed),
        "withheld": [
            *(_withheld(policy, category, count) for category, count in withheld.items()),
            *_withheld_provisions(dossier),
        ],
        "consents": [
            {"kind": e.kind, "purpose": e.purpose, "value": e.value, "at": e.at.isoformat(),
             "policy_version": e.policy_version}
            for e in dossier.events
        ],
        "third_party_provisions": [
            {"recipient": p.recipient, "categories": list(p.categories),
             "provided_at": p.provided_at.isoformat(), "ground": p.ground,
             "legal_ground": policy.ground(p.ground).text.model_dump(),
             "clause": policy.ground(p.ground).clause}
            for p in dossier.provisions if p.withheld is None
        ],
        "processing_log": [
            {"at": a.at.isoformat(), "event": a.event, "purpose": a.purpose,
             "category": a.category, "detail": dict(a.detail)}
            for a in dossier.audit
        ],
        "requests": [
            {"id": r.id, "kind": r.kind, "status": r.status, "reason": r.reason,
             "received_at": r.received_at.isoformat(),
             "completed_at": r.completed_at.isoformat() if r.completed_at else None}
            for r in requests
        ],
    }


def _purpose(purpose: Purpose) -> dict[str, Any]:
    return {"basis": purpose.basis, **_labelled("basis", basis_setting(purpose)),
            "dpv": purpose.dpv, "text": purpose.text.model_dump()}


def _category(category: Category) -> dict[str, Any]:
    return {"text": category.text.model_dump(), "user_supplied": category.user_supplied,
            **_labelled("retention", retention_setting(category))}


def _labelled(value: str, setting: Setting) -> dict[str, Any]:
    """Who set ``value``, as ``GET /policy`` says it (its note in both languages)."""
    return {f"{value}_set_by": setting.set_by, f"{value}_note": setting.note.model_dump(),
            f"{value}_clause": setting.clause}


def _records(policy: Policy, records: list[Record]) -> list[dict[str, Any]]:
    """Each record's line. The policy's words on a record depend on its category and
    purpose only: looked up once per pair (a subject's records share a few pairs), not per
    record (``benchmarks/README.md``)."""
    words: dict[tuple[str, str], _PolicyWords] = {}
    lines = []
    for record in records:
        pair = (record.category, record.purpose)
        said = words.get(pair)
        if said is None:
            said = words[pair] = _policy_words(policy, *pair)
        dpv, basis_set_by, retention_set_by = said
        collected_at = record.collected_at.isoformat()
        lines.append({
            "id": record.id,
            "category": record.category,
            "purpose": record.purpose,
            "dpv": dpv,
            "basis": record.basis,
            "basis_set_by": basis_set_by,
            "collected_at": collected_at,
            "updated_at": _same_or_own(record.updated_at, record.collected_at, collected_at),
            "expires_at": record.expires_at.isoformat(),
            "retention_set_by": retention_set_by,
            "source": record.source,
            "data": dict(record.data),
        })
    return lines


def _same_or_own(moment: datetime, other: datetime, other_text: str) -> str:
    """``moment.isoformat()``, taken from ``other``'s when they are the same UTC time (a
    record never changed since it was collected): the same text, one formatting less of
    the three per record that are most of the document's CPU (``benchmarks/README.md``)."""
    if moment.tzinfo is UTC and other.tzinfo is UTC and moment == other:
        return other_text
    return moment.isoformat()


_PolicyWords = tuple[str | None, SetBy | None, SetBy]
"""A record's ``dpv``, ``basis_set_by`` and ``retention_set_by``."""


def _policy_words(policy: Policy, category_id: str, purpose_id: str) -> _PolicyWords:
    # A record kept under a purpose the policy has since dropped (METALIVE's former
    # legal_requests) is still the subject's: disclosed, without a DPV term and with
    # who set its basis unknown.
    purpose = policy.find_purpose(purpose_id)
    return (purpose.dpv if purpose is not None else None,
            basis_setting(purpose).set_by if purpose is not None else None,
            retention_setting(policy.category(category_id)).set_by)


def _withheld(policy: Policy, category_id: str, count: int) -> dict[str, Any]:
    category = policy.category(category_id)
    reason = category.withheld_reason
    return {
        "section": "records",
        "category": category_id,
        "records": count,
        "reason": reason.model_dump() if reason else None,
        "clause": category.withheld_clause or category.clause,
    }


def _withheld_provisions(dossier: Dossier) -> list[dict[str, Any]]:
    """How many records of provisions are withheld, per statutory ground: said, never
    silent (APPI Art. 33(3)), and nothing of the records themselves."""
    counts = Counter(p.withheld for p in dossier.provisions if p.withheld is not None)
    return [
        {"section": "third_party_provisions", "category": None, "records": count,
         "reason": WITHHOLDING_GROUNDS[ground].text(),
         "clause": WITHHOLDING_GROUNDS[ground].clause}
        for ground, count in sorted(counts.items())
    ]


# ---------------------------------------------------------------------- CSV


def to_csv(document: ExportDocument) -> str:
    """One row per record, withheld category, consent event, provision and log entry."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerow(_cells("subject", {"address": document["subject"],
                                       "policy": document["policy"],
                                       "generated_at": document["generated_at"]}))
    for r in document["records"]:
        writer.writerow(_cells("record", r["data"], at=r["collected_at"], **{
            column: r[column] for column in ("category", "purpose", "dpv", "basis",
                                             "basis_set_by", "expires_at",
                                             "retention_set_by", "source")}))
    for w in document["withheld"]:
        writer.writerow(_cells("withheld", {"records": w["records"], "reason": w["reason"],
                                            "clause": w["clause"]}, category=w["category"]))
    for c in document["consents"]:
        writer.writerow(_cells("consent", {"kind": c["kind"], "value": c["value"]}, at=c["at"],
                               purpose=c["purpose"]))
    for p in document["third_party_provisions"]:
        writer.writerow(_cells("third_party_provision", {
            key: p[key] for key in ("recipient", "categories", "ground", "clause")},
            at=p["provided_at"]))
    for a in document["processing_log"]:
        writer.writerow(_cells("processing", {"event": a["event"], "detail": a["detail"]},
                               at=a["at"], category=a["category"], purpose=a["purpose"]))
    return out.getvalue()


def _cells(section: str, value: object, **columns: object) -> list[str]:
    """A row in :data:`CSV_COLUMNS` order; a column not given is empty."""
    given = {"section": section, "value": value, **columns}
    cells = []
    for column in CSV_COLUMNS:
        cell = given.get(column)
        text = "" if cell is None else cell if isinstance(cell, str) else _json(cell)
        cells.append("'" + text if text.startswith(_FORMULA_STARTS) else text)
    return cells


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
