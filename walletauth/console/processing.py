"""The record of processing activities (APPI / GDPR Art. 30 style), generated from the
policy in force and the store's counts, as a page and as CSV.

One row per (purpose, category): the controller and its contact point, the purpose and
its basis, the category and how long it is kept, the recipients it may go to (the
policy's third-party grounds, joint use, outsourcing), and how many live records and
provision records there are. Whatever the policy's own words do not set (a basis, a
period) is labelled as the operator's setting, never as the law's or the text's. Counts
under 5 show as "<5", as everywhere in the console.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Final

from fastapi import APIRouter
from fastapi.responses import Response

from walletauth.console.guard import HostDep, OperatorDep
from walletauth.console.html import SHOWN, page, period, table, text
from walletauth.policy import Policy
from walletauth.store import console_counts

router = APIRouter(prefix="/console", include_in_schema=False)
SHOWN.add("processing")

OPERATOR_SETTING: Final = "the operator's setting"
COLUMNS: Final = (
    "controller", "contact", "purpose", "purpose_description", "basis", "basis_source",
    "category", "category_description", "retention", "retention_source", "recipients",
    "live_records", "policy", "policy_version",
)


def _small(value: int) -> str:
    return "<5" if 0 < value < 5 else str(value)


def _recipients(policy: Policy, category: str) -> str:
    grounds = [g.id + (" (consent)" if g.requires_consent else "")
               for g in policy.third_party.grounds if category in g.categories]
    parts = [f"third parties on: {', '.join(grounds)}" if grounds else "no third party"]
    parts.append("joint use" if policy.joint_use.allowed else "no joint use")
    if policy.outsourcing is not None:
        tasks = len(policy.outsourcing.tasks)
        parts.append(f"outsourcees ({tasks} tasks named, {policy.outsourcing.clause})" if tasks
                     else f"outsourcees ({policy.outsourcing.clause})")
    return "; ".join(parts)


def activities(policy: Policy, records: dict[tuple[str, str], int]) -> Iterator[dict[str, str]]:
    """The record's rows: one per purpose and category the policy lets it serve."""
    contact = policy.contact
    for purpose in policy.purposes.values():
        basis_source = purpose.basis_clause or OPERATOR_SETTING
        if purpose.legal_source is not None:
            basis_source = f"{basis_source}; {purpose.legal_source.en}"
        for category in policy.categories.values():
            if purpose.id not in category.retention:
                continue
            yield {
                "controller": contact.organisation.en,
                "contact": contact.email,
                "purpose": purpose.id,
                "purpose_description": purpose.text.en,
                "basis": purpose.basis,
                "basis_source": basis_source,
                "category": category.id,
                "category_description": (category.label or category.text).en,
                "retention": period(category.retention[purpose.id]),
                "retention_source": category.retention_clause or OPERATOR_SETTING,
                "recipients": _recipients(policy, category.id),
                "live_records": _small(records.get((category.id, purpose.id), 0)),
                "policy": policy.id,
                "policy_version": policy.version,
            }


async def _rows(host: HostDep) -> list[dict[str, str]]:
    figures = await host.run(console_counts.overview, host.store, now=host.now(), weeks=1)
    return list(activities(host.policy, figures.records))


@router.get("/processing")
async def processing_page(host: HostDep, operator: OperatorDep) -> Response:
    rows = await _rows(host)
    provisions = await host.run(console_counts.third_party_counts, host.store)
    policy = host.policy
    shown = ("purpose", "basis", "basis_source", "category", "retention", "retention_source",
             "recipients", "live_records")
    listing = table(shown, ([text(row[name]) for name in shown] for row in rows),
                    table_id="activities")
    kept = table(("Ground", "Provision records held"),
                 ((text(g), text(_small(n))) for g, n in sorted(provisions.items())),
                 empty="No provision to a third party recorded.", table_id="provisions")
    contact = policy.contact
    body = (
        f"<p>Controller: <strong>{text(contact.organisation.en)}</strong>"
        f" ({text(contact.organisation.ja)}), contact {text(contact.email)}"
        + (f", {text(contact.postal_address)}" if contact.postal_address else "")
        + f". Policy {text(policy.id)} version {text(policy.version)}. Rights offered: "
        + text(", ".join(r.id for r in policy.rights))
        + f". Provision records kept {period(policy.third_party.record_retention)}"
        " (APPI Art. 29).</p>"
        "<p><a id=\"csv\" href=\"/console/processing.csv\" download>Download as CSV</a></p>"
        + listing + "<h3>Provisions to third parties</h3>" + kept)
    return page("Record of processing", body, operator=operator, current="processing")


@router.get("/processing.csv")
async def processing_csv(host: HostDep, operator: OperatorDep) -> Response:
    rows = await _rows(host)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    name = f"walletauth-processing-{host.policy.id}-{host.policy.version}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})
