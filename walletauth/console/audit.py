"""Audit: the operators' own acts, newest first: who (an operator's keyed ref, shown as
the wallet for the operators listed now), what, on which channel, after which identity
check, and why. The log names nobody else: a subject appears as its keyed ref only."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from walletauth.console.guard import HostDep, OperatorDep, sessions_of
from walletauth.console.html import SHOWN, page, table, text, when
from walletauth.store import console_counts

router = APIRouter(prefix="/console", include_in_schema=False)
SHOWN.add("audit")

SHOWN_DETAIL = ("channel", "identity_check", "outcome", "request", "closes", "notices",
                "records", "run", "finished")


@router.get("/audit")
async def audit_screen(host: HostDep, operator: OperatorDep) -> Response:
    entries = await host.run(console_counts.audit_page, host.store, event="operator_action",
                             limit=200)
    sessions = sessions_of(host)
    known = {sessions.operator_ref(address): address for address in host.operators}

    def who(ref: object) -> str:
        address = known.get(str(ref))
        return f"<code>{text(address)}</code>" if address else (
            f"<code>{text(ref)}</code> (no longer an operator)")

    def detail(values: dict[str, object]) -> str:
        return text(", ".join(f"{name}: {values[name]}" for name in SHOWN_DETAIL
                              if values.get(name) is not None))

    listing = table(
        ("When", "Operator", "Act", "Subject", "Reason", "Detail"),
        ((when(e.at), who(e.detail.get("operator")), text(e.detail.get("action", "")),
          f"<code>{text((e.subject_ref or '—').split(':', 1)[-1][:12])}</code>",
          text(e.detail.get("reason") or ""), detail(dict(e.detail))) for e in entries),
        empty="No operator act yet.", table_id="operator-acts")
    body = "<p>The latest 200 acts of operators, newest first.</p>" + listing
    return page("Audit", body, operator=operator, current="audit")
