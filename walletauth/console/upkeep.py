"""Notices outbox, retention and policy: what the service owes others and itself.

- Notices: every notice waiting (pending, failed and retrying, abandoned awaiting the
  purge), whom it is about sealed; "retry now" makes the failed ones due at once.
- Retention: what ``walletauth purge`` would dispose of now (a dry run, nothing deleted)
  and running it, as the CLI does with the service's settings: with JavaScript in
  bounded steps the page drives (``/console/retention/purge/step``, a progress bar),
  without it in one request.
- Policy: the version in force, its change history, the versions this database has
  served and the consents given and withdrawn under each.

Every act (retry, purge) is audited with its operator and reason, like the inbox's.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from walletauth.console.errors import ConsoleError
from walletauth.console.guard import HostDep, OperatorDep, checked_form
from walletauth.console.html import (
    SHOWN,
    count,
    form,
    hidden,
    page,
    period,
    reason_field,
    table,
    text,
    when,
)
from walletauth.rights.operator import record_operator_action
from walletauth.store import PurgeReport, console_counts
from walletauth.store.outbox import retry_now
from walletauth.store.purge import MAX_STEP_BUDGET, purge_step

router = APIRouter(prefix="/console", include_in_schema=False)
SHOWN.update({"notices", "retention", "policy"})
STEP_BUDGET: Final = 500
"""Rows per step the page asks for: a step stays well under a second at this size."""
RUN_ID: Final = re.compile(r"[0-9a-f]{16}")


@router.get("/notices")
async def notices_page(host: HostDep, operator: OperatorDep) -> Response:
    rows = await host.run(console_counts.outbox, host.store, limit=200)
    now = host.now()
    states = [row.state(now, host.notice_abandon_after) for row in rows]
    summary = table(("State", "Notices"), (
        # Exact: the list below shows every notice anyway, and none names anyone.
        (name, str(sum(state == name for state in states)))
        for name in ("pending", "failed", "abandoned")), table_id="outbox-summary")
    listing = table(
        ("Notice", "Service", "Type", "Occurred", "State", "Attempts", "Next attempt",
         "Last error", ""),
        ((f"<code>{text(row.notice_id[:16])}…</code>", text(row.endpoint), text(row.type),
          when(row.occurred_at), text(state), str(row.attempts), when(row.next_attempt_at),
          text(row.last_error or ""),
          form("/console/notices/retry", operator,
               hidden("notice_id", row.notice_id) + hidden("endpoint", row.endpoint)
               + reason_field("Reason"), button="Retry now") if state == "failed" else "")
         for row, state in zip(rows, states, strict=True)),
        empty="The outbox is empty: every notice was delivered.", table_id="outbox")
    retry_all = form("/console/notices/retry", operator, reason_field(),
                     button="Retry every failed notice now", form_id="retry-all")
    body = (f"<p>Notices abandoned after {period(host.notice_abandon_after)} are no longer"
            " sent; the next purge deletes them with an audit entry.</p>" + summary
            + (retry_all if "failed" in states else "") + listing)
    return page("Notices", body, operator=operator, current="notices")


@router.post("/notices/retry")
async def retry(request: Request, host: HostDep, operator: OperatorDep) -> Response:
    submitted = await checked_form(request, host, operator)
    reason = submitted.required("reason")
    notice_id = submitted.optional("notice_id", max_chars=128)
    endpoint = submitted.optional("endpoint", max_chars=64)
    now = host.now()
    made_due = await host.run(retry_now, host.store.engine, now=now,
                              occurred_after=now - host.notice_abandon_after,
                              notice_id=notice_id, endpoint=endpoint)
    await host.run(record_operator_action, host.store, None, operator=operator.ref,
                   action="notices_retry", reason=reason, now=now,
                   detail={"notices": made_due, "notice": notice_id})
    body = (f"<p class=\"notice\" id=\"done\">{made_due} notice(s) due now; the delivery"
            " worker sends them at its next round.</p>"
            "<p><a href=\"/console/notices\">Back to the outbox</a></p>")
    return page("Notices", body, operator=operator, current="notices")


def _report_rows(report: PurgeReport) -> str:
    rows = [("records", str(report.records_removed))]
    rows += [(f"records {text(c)}/{text(p)}", str(n))
             for (c, p), n in sorted(report.records.items())]
    rows += [(name.replace("_", " "), str(getattr(report, name)))
             for name in ("subjects", "nonces", "sessions", "provisions",
                          "requests_interrupted", "requests_removed", "notices_abandoned")]
    return table(("What", "Count"), rows, table_id="purge-counts")


@router.get("/retention")
async def retention_page(host: HostDep, operator: OperatorDep) -> Response:
    preview = await host.run(console_counts.purge_preview, host.store, now=host.now(),
                             requests_retention=host.requests_retention,
                             notice_abandon_after=host.notice_abandon_after)
    retention = table(
        ("Category", "Purpose", "Kept for", "Set by"),
        ((text(c.id), text(p), period(kept), text(c.retention_clause or "the operator's setting"))
         for c in host.policy.categories.values() for p, kept in c.retention.items()),
        table_id="retention-periods")
    run = form("/console/retention/purge", operator, reason_field(),
               button="Run the purge now", form_id="run-purge", danger=True)
    # Hidden until the script takes the form over; without JavaScript the form posts the
    # one-shot purge.
    progress = (f"<div id=\"purge-progress\" data-budget=\"{STEP_BUDGET}\" hidden>"
                "<progress id=\"purge-bar\" max=\"1\" value=\"0\"></progress>"
                "<p id=\"purge-status\" role=\"status\"></p></div>"
                "<script type=\"module\" src=\"/console/static/purge.js\"></script>")
    body = ("<h3>What a purge would dispose of now (dry run: nothing deleted)</h3>"
            + _report_rows(preview) + run + progress
            + "<h3>Retention periods</h3>" + retention)
    return page("Retention", body, operator=operator, current="retention")


@router.post("/retention/purge")
async def run_purge(request: Request, host: HostDep, operator: OperatorDep) -> Response:
    submitted = await checked_form(request, host, operator)
    reason = submitted.required("reason")
    now = host.now()
    report = await host.run(host.store.purge, now=now, batch_size=1000,
                            requests_retention=host.requests_retention,
                            notice_abandon_after=host.notice_abandon_after)
    await host.run(record_operator_action, host.store, None, operator=operator.ref,
                   action="purge", reason=reason, now=now,
                   detail={"records": report.records_removed, "subjects": report.subjects})
    body = ("<p class=\"notice\" id=\"done\">Purge done.</p>" + _report_rows(report)
            + "<p><a href=\"/console/retention\">Back to retention</a></p>")
    return page("Retention", body, operator=operator, current="retention")


@router.post("/retention/purge/step")
async def purge_one_step(request: Request, host: HostDep, operator: OperatorDep) -> Response:
    """One bounded step of the purge, for the page's script: at most ``budget`` rows,
    from where the last step left off (``resume``, carried by the page, so any worker
    may take the next step). Each step is audited with its run id and reason."""
    submitted = await checked_form(request, host, operator)
    reason = submitted.required("reason")
    budget_text = submitted.optional("budget", max_chars=6) or str(STEP_BUDGET)
    if not budget_text.isdigit() or not 1 <= int(budget_text) <= MAX_STEP_BUDGET:
        raise ConsoleError("console_form_invalid",
                           f"budget: a whole number from 1 to {MAX_STEP_BUDGET}")
    run = submitted.optional("run", max_chars=16)
    if run is not None and RUN_ID.fullmatch(run) is None:
        raise ConsoleError("console_form_invalid", "run: the id the first step answered")
    run = run or secrets.token_hex(8)
    resume = submitted.optional("resume", max_chars=140) or ""
    now = host.now()
    step = await host.run(purge_step, host.store, now=now, budget=int(budget_text),
                          resume=resume, requests_retention=host.requests_retention,
                          notice_abandon_after=host.notice_abandon_after)
    await host.run(record_operator_action, host.store, None, operator=operator.ref,
                   action="purge_step", reason=reason, now=now,
                   detail={"run": run, "records": step.done.records_removed,
                           "subjects": step.done.subjects, "finished": step.finished})
    answer = {"run": run, "resume": step.resume, "finished": step.finished,
              "done": _counts(step.done), "left": _counts(step.left)}
    return Response(json.dumps(answer), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _counts(report: PurgeReport) -> dict[str, int]:
    return {"records": report.records_removed,
            **{name: getattr(report, name) for name in (
                "subjects", "nonces", "sessions", "orphan_keys", "provisions",
                "requests_interrupted", "requests_removed", "notices_abandoned")}}


@router.get("/policy")
async def policy_page(host: HostDep, operator: OperatorDep) -> Response:
    policy = host.policy
    consents = await host.run(console_counts.consents_per_version, host.store)
    seen = await host.run(console_counts.versions_seen, host.store)
    changes = table(
        ("Version", "Date", "Summary", "Purposes changed"),
        ((text(c.version), text(c.date.isoformat()), text(c.summary.en if c.summary else ""),
          text(", ".join(c.purposes))) for c in policy.changes),
        empty="No change recorded in the policy file.", table_id="policy-changes")
    served = table(("Policy", "Version", "First served"),
                   ((text(p), text(v), when(at)) for p, v, at in seen), empty="None yet.")
    per_version = table(
        ("Version", "Purpose", "Granted", "Withdrawn"),
        ((text(v.policy_version), text(v.purpose), count(v.granted), count(v.withdrawn))
         for v in consents), empty="No consent given yet.", table_id="consents-per-version")
    body = (f"<p id=\"policy-version\">In force: <strong>{text(policy.id)}</strong> version"
            f" <strong>{text(policy.version)}</strong>"
            f" ({text(policy.name.en)}), effective {text(policy.effective_date or '—')}.</p>"
            "<h3>Changes</h3>" + changes + "<h3>Versions served</h3>" + served
            + "<h3>Consents per version</h3>" + per_version)
    return page("Policy", body, operator=operator, current="policy")
