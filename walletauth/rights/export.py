"""The export document: everything linked to an address, as data and CSV (the page
for a person to read is :mod:`walletauth.rights.export_html`).

Built from the store's :class:`~walletauth.store.subject_ops.Dossier` and the policy,
without I/O. Categories the policy does not disclose on export (METALIVE: access
logs, "原則として開示いたしません") are left out of ``records`` and listed under
``withheld`` with the quoted reason and clause, so the subject sees that they exist
and why they are not shown; so are records of provisions withheld on a statutory ground
(:mod:`walletauth.rights.withholding`), counted per ground, nothing of them shown.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import datetime
from typing import Any

from walletauth.policy import Policy
from walletauth.rights.withholding import WITHHOLDING_GROUNDS
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
        "categories": {
            c.id: {"text": c.text.model_dump(), "user_supplied": c.user_supplied}
            for c in policy.categories.values()
        },
        "records": [_record(policy, record) for record in disclosed],
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


def _record(policy: Policy, record: Record) -> dict[str, Any]:
    # A record kept under a purpose the policy has since dropped (METALIVE's former
    # legal_requests) is still the subject's: disclosed, without a DPV term.
    purpose = policy.find_purpose(record.purpose)
    return {
        "id": record.id,
        "category": record.category,
        "purpose": record.purpose,
        "dpv": purpose.dpv if purpose is not None else None,
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
