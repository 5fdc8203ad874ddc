"""The export document: everything linked to an address, as data, CSV and HTML.

Built from the store's :class:`~walletauth.store.subject_ops.Dossier` and the policy,
without I/O. Categories the policy does not disclose on export (METALIVE: access
logs, "原則として開示いたしません") are left out of ``records`` and listed under
``withheld`` with the quoted reason and clause, so the subject sees that they exist
and why they are not shown.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from walletauth.policy import Policy
from walletauth.store.records import Record
from walletauth.store.subject_ops import Dossier, RequestEntry

ExportDocument = dict[str, Any]
CSV_COLUMNS = ("section", "at", "category", "purpose", "dpv", "basis", "expires_at", "source",
               "value")
# A cell a spreadsheet would run as a formula is shown as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def build_document(
    policy: Policy, address: str, dossier: Dossier, requests: list[RequestEntry],
    *, now: datetime,
) -> ExportDocument:
    disclosed = [r for r in dossier.records if policy.category(r.category).disclosed_on_export]
    withheld = Counter(r.category for r in dossier.records
                       if not policy.category(r.category).disclosed_on_export)
    return {
        "subject": address,
        "policy": {"id": policy.id, "version": policy.version},
        "generated_at": now.isoformat(),
        "purposes": {
            p.id: {"basis": p.basis, "dpv": p.dpv, "text": p.text.model_dump()}
            for p in policy.purposes.values()
        },
        "records": [_record(policy, record) for record in disclosed],
        "withheld": [_withheld(policy, category, count) for category, count in withheld.items()],
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
            for p in dossier.provisions
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


def _record(policy: Policy, record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "category": record.category,
        "purpose": record.purpose,
        "dpv": policy.purpose(record.purpose).dpv,
        "basis": record.basis,
        "collected_at": record.collected_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "expires_at": record.expires_at.isoformat(),
        "source": record.source,
        "data": dict(record.data),
    }


def _withheld(policy: Policy, category_id: str, count: int) -> dict[str, Any]:
    category = policy.category(category_id)
    reason = category.withheld_reason
    return {
        "category": category_id,
        "records": count,
        "reason": reason.model_dump() if reason else None,
        "clause": category.withheld_clause or category.clause,
    }


# ---------------------------------------------------------------------- CSV


def to_csv(document: ExportDocument) -> str:
    """One row per record, withheld category, consent event, provision and log entry."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerow(_cells("subject", None, None, None, None, None, None, None,
                           {"address": document["subject"], "policy": document["policy"],
                            "generated_at": document["generated_at"]}))
    for r in document["records"]:
        writer.writerow(_cells("record", r["collected_at"], r["category"], r["purpose"], r["dpv"],
                               r["basis"], r["expires_at"], r["source"], r["data"]))
    for w in document["withheld"]:
        writer.writerow(_cells("withheld", None, w["category"], None, None, None, None, None,
                               {"records": w["records"], "reason": w["reason"],
                                "clause": w["clause"]}))
    for c in document["consents"]:
        writer.writerow(_cells("consent", c["at"], None, c["purpose"], None, None, None, None,
                               {"kind": c["kind"], "value": c["value"]}))
    for p in document["third_party_provisions"]:
        writer.writerow(_cells("third_party_provision", p["provided_at"], None, None, None, None,
                               None, None, {key: p[key] for key in
                                            ("recipient", "categories", "ground", "clause")}))
    for a in document["processing_log"]:
        writer.writerow(_cells("processing", a["at"], a["category"], a["purpose"], None, None,
                               None, None, {"event": a["event"], "detail": a["detail"]}))
    return out.getvalue()


def _cells(*values: object) -> list[str]:
    cells = []
    for value in values:
        text = "" if value is None else value if isinstance(value, str) else _json(value)
        cells.append("'" + text if text.startswith(_FORMULA_STARTS) else text)
    return cells


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------- HTML


def to_html(document: ExportDocument) -> str:
    """A self-contained page for a person to read; every value is escaped."""
    policy = document["policy"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Your data</title></head><body>",
        f"<h1>Data linked to {_e(document['subject'])}</h1>",
        f"<p>Policy {_e(policy['id'])} version {_e(policy['version'])};"
        f" generated {_e(document['generated_at'])}</p>",
        _table("Records", ("category", "purpose", "dpv", "basis", "collected_at", "expires_at",
                           "source", "data"), document["records"]),
        _table("Withheld categories", ("category", "records", "reason", "clause"),
               document["withheld"]),
        _table("Consent history", ("at", "kind", "purpose", "value", "policy_version"),
               document["consents"]),
        _table("Third-party provisions",
               ("provided_at", "recipient", "categories", "ground", "legal_ground", "clause"),
               document["third_party_provisions"]),
        _table("Processing log", ("at", "event", "purpose", "category", "detail"),
               document["processing_log"]),
        _table("Requests", ("received_at", "kind", "status", "reason", "completed_at"),
               document["requests"]),
        "</body></html>",
    ]
    return "\n".join(parts)


def _table(title: str, columns: tuple[str, ...], rows: list[Mapping[str, Any]]) -> str:
    head = "".join(f"<th>{_e(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(_text(row.get(column)))}</td>" for column in columns) + "</tr>"
        for row in rows
    )
    return f"<h2>{_e(title)}</h2><table><tr>{head}</tr>{body}</table>"


def _text(value: object) -> str:
    return "" if value is None else value if isinstance(value, str) else _json(value)


def _e(text: str) -> str:
    return html.escape(text, quote=True)
