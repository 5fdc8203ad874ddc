"""Requests: the requests log of every subject (by keyed ref), finding a subject by its
address (through the keyed hash: the console never lists addresses), and acting on a
request received by the service, a service, email or post, on the person's behalf.

Each act is the rights layer's own call, as the wallet owner's request runs it, followed
by an ``operator_action`` audit entry naming the operator (by keyed ref), the channel,
how the person's identity was checked and the reason given (required). The address
travels only in POST bodies (never a URL, which logs and proxies keep).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from walletauth import rights
from walletauth.console.errors import ConsoleError
from walletauth.console.guard import Form, HostDep, Operator, OperatorDep, checked_form
from walletauth.console.host import ConsoleHost
from walletauth.console.html import form, hidden, page, reason_field, table, text, when
from walletauth.errors import WalletAuthError
from walletauth.rights.export_html import CONTENT_SECURITY_POLICY as HTML_EXPORT_CSP
from walletauth.rights.operator import close_forwarded, record_operator_action
from walletauth.store import console_counts
from walletauth.store.addresses import normalise_address

router = APIRouter(prefix="/console", include_in_schema=False)

ACTIONS: Final = ("export", "erase", "correct", "restrict", "lift-restriction",
                  "stop-third-party")
CHANNELS: Final = ("self-service", "email", "post", "service", "in-person")
IDENTITY_CHECKS: Final = (
    "wallet-signature",  # the person signed a message with the wallet
    "registered-email",  # the request came from the email address on record
    "identity-document",  # a copy of an identity document, checked and not kept
    "postal-reply",  # a code sent to the postal address and returned
    "other",
)
EXPORT_FORMATS: Final = ("json", "csv", "html")
ERASE_CONFIRMATION: Final = "ERASE"
NO_STORE: Final = {"Cache-Control": "no-store"}


def _short(ref: str) -> str:
    return text(ref.split(":", 1)[-1][:12])


@router.get("/requests")
async def requests_page(host: HostDep, operator: OperatorDep) -> Response:
    open_requests = await host.run(console_counts.logged_requests, host.store,
                                   status="received", limit=200)
    recent = await host.run(console_counts.logged_requests, host.store, limit=50)
    waiting = table(
        ("Request", "Kind", "Subject (keyed ref)", "Received"),
        ((f"<code>{text(r.id)}</code>", text(r.kind), f"<code>{_short(r.subject_ref)}</code>",
          when(r.received_at)) for r in open_requests),
        empty="No request waits.", table_id="open-requests")
    closed = table(
        ("Request", "Kind", "Status", "Reason", "Received", "Closed"),
        ((f"<code>{text(r.id)}</code>", text(r.kind), text(r.status), text(r.reason or ""),
          when(r.received_at), when(r.completed_at)) for r in recent),
        empty="No request yet.", table_id="recent-requests")
    find = form(
        "/console/subject", operator,
        "<label>Wallet address of the person <input type=\"text\" name=\"address\" required"
        " autocomplete=\"off\" spellcheck=\"false\" placeholder=\"0x…\"></label>"
        + reason_field("Reason for the look-up (recorded in the audit log)"),
        button="Find the subject", form_id="find-subject")
    body = (
        "<h3>Waiting</h3><p>Requests still <em>received</em>: handed over by a service, or"
        " interrupted. A request by email or post is entered below: find the person by"
        " their wallet address, then act.</p>" + waiting
        + "<h3>Find a subject</h3>" + find
        + "<h3>Latest requests</h3>" + closed)
    return page("Requests", body, operator=operator, current="requests")


@router.post("/subject")
async def subject_page(request: Request, host: HostDep, operator: OperatorDep) -> Response:
    submitted = await checked_form(request, host, operator)
    address = _address(submitted)
    reason = submitted.required("reason")
    now = host.now()
    store = host.store
    found = await host.run(store.subject_records, address, now=now)
    consents = await host.run(store.consents, address)
    logged = await host.run(rights.list_requests, store, address)
    await host.run(record_operator_action, store, address, operator=operator.ref,
                   action="lookup", reason=reason, now=now,
                   detail={"found": bool(found or consents or logged)})
    body = _subject_body(host, operator, address, found, consents, logged)
    return page("Subject", body, operator=operator, current="requests")


def _subject_body(host: ConsoleHost, operator: Operator, address: str, found: list,
                  consents: dict[str, bool], logged: list[rights.RequestEntry]) -> str:
    per_kind = Counter((r.category, r.purpose) for r in found)
    records = table(("Category", "Purpose", "Records"),
                    ((text(c), text(p), str(n)) for (c, p), n in sorted(per_kind.items())),
                    empty="No live record.", table_id="subject-records")
    record_ids = table(("Record", "Category", "Purpose", "Expires"),
                       ((str(r.id), text(r.category), text(r.purpose), when(r.expires_at))
                        for r in found), empty="—")
    consent_rows = table(("Purpose", "Granted"),
                         ((text(p), "yes" if v else "no") for p, v in sorted(consents.items())),
                         empty="No consent recorded.")
    history = table(("Request", "Kind", "Status", "Reason", "Received"),
                    ((f"<code>{text(e.id)}</code>", text(e.kind), text(e.status),
                      text(e.reason or ""), when(e.received_at)) for e in logged),
                    empty="No request logged.", table_id="subject-requests")
    shown = bool(found or consents or logged)
    head = ("<p class=\"notice\" id=\"subject-found\">Found: subject <code>"
            f"{text(host.store.subject_ref(address).split(':', 1)[-1][:12])}</code> for"
            f" <code id=\"subject-address\">{text(address)}</code>"
            f" ({len(found)} live records).</p>"
            if shown else
            "<p class=\"warning\" id=\"subject-found\">No subject is filed under"
            f" <code id=\"subject-address\">{text(address)}</code>.</p>")
    return (head + "<h3>Records</h3>" + records + record_ids + "<h3>Consents</h3>"
            + consent_rows + "<h3>Requests</h3>" + history
            + "<h3>Act on the person's request</h3>" + _action_forms(host, operator, address))


def _common_fields(address: str) -> str:
    channels = "".join(f"<option>{text(c)}</option>" for c in CHANNELS)
    checks = "".join(f"<option>{text(c)}</option>" for c in IDENTITY_CHECKS)
    return (hidden("address", address)
            + f"<label>Received by <select name=\"channel\">{channels}</select></label>"
            + f"<label>Identity checked by <select name=\"identity_check\">{checks}</select>"
            "</label><label>Request id to close (one a service handed over), if any"
            " <input type=\"text\" name=\"request_id\" autocomplete=\"off\"></label>"
            + reason_field())


def _action_forms(host: ConsoleHost, operator: Operator, address: str) -> str:
    common = _common_fields(address)
    purposes = "".join(
        f"<label><input type=\"checkbox\" name=\"purposes\" value=\"{text(p)}\"> {text(p)}"
        "</label>" for p in host.policy.purposes)
    formats = "".join(f"<option>{f}</option>" for f in EXPORT_FORMATS)
    forms = [
        ("Export (downloads a file to send to the person)", "export",
         f"<label>Format <select name=\"format\">{formats}</select></label>", False),
        ("Restrict use", "restrict", purposes, False),
        ("Lift a restriction", "lift-restriction", purposes, False),
        ("Stop provision to third parties", "stop-third-party", "", False),
        ("Correct", "correct",
         "<label>Change <select name=\"op\"><option>correct</option><option>add</option>"
         "<option>delete</option></select></label><label>Record id <input type=\"text\""
         " name=\"record_id\"></label><label>Category (add) <input type=\"text\""
         " name=\"category\"></label><label>Purpose (add) <input type=\"text\""
         " name=\"purpose\"></label><label>Data, a JSON object (correct, add)"
         " <textarea name=\"data\" rows=\"2\"></textarea></label>", False),
        ("Erase", "erase",
         f"<label>Type {ERASE_CONFIRMATION} to confirm <input type=\"text\""
         " name=\"confirm\" autocomplete=\"off\"></label>", True),
    ]
    return "<div class=\"grid\">" + "".join(
        f"<section><h4>{text(title)}</h4>" + form(
            "/console/act", operator, hidden("action", action) + extra + common,
            button=title.split(" (")[0], form_id=f"act-{action}", danger=danger)
        + "</section>" for title, action, extra, danger in forms) + "</div>"


def _address(submitted: Form) -> str:
    return normalise_address(submitted.required("address", max_chars=42))


@router.post("/act")
async def act(request: Request, host: HostDep, operator: OperatorDep) -> Response:
    submitted = await checked_form(request, host, operator)
    address = _address(submitted)
    action = submitted.choice("action", ACTIONS)
    channel = submitted.choice("channel", CHANNELS)
    identity = submitted.choice("identity_check", IDENTITY_CHECKS)
    reason = submitted.required("reason")
    forwarded = submitted.optional("request_id", max_chars=40)
    audit = {"channel": channel, "identity_check": identity}
    now = host.now()
    try:
        outcome = await _carry_out(host, operator, submitted, action, address, now)
    except WalletAuthError as error:
        await host.run(record_operator_action, host.store, address, operator=operator.ref,
                       action=action, reason=reason, now=now,
                       detail={**audit, "outcome": error.code})
        raise
    receipt, response = outcome
    if forwarded is not None:
        await host.run(close_forwarded, host.store, address, forwarded, completed_by=receipt,
                       now=now)
    await host.run(record_operator_action, host.store, address, operator=operator.ref,
                   action=action, reason=reason, now=now,
                   detail={**audit, "outcome": "completed", "request": receipt,
                           "closes": forwarded})
    return response


async def _carry_out(host: ConsoleHost, operator: Operator, submitted: Form, action: str,
                     address: str, now: datetime) -> tuple[str, Response]:
    store = host.store

    def _done(title: str, receipt: str, detail: object) -> Response:
        body = (f"<p class=\"notice\" id=\"done\">{text(title)}: done. Receipt"
                f" <code id=\"receipt\">{text(receipt)}</code>.</p>"
                f"<pre id=\"detail\">{text(json.dumps(detail, default=str, indent=1))}</pre>"
                "<p><a href=\"/console/requests\">Back to the requests</a></p>")
        return page("Done", body, operator=operator, current="requests")

    if action == "export":
        return await _export(host, submitted, address)
    if action == "erase":
        if submitted.optional("confirm") != ERASE_CONFIRMATION:
            raise ConsoleError("console_form_invalid",
                               f"type {ERASE_CONFIRMATION} to confirm an erasure")
        receipt = await host.run(rights.erase_subject, store, address, now=now,
                                 notify=host.notice_services())
        ended = await host.end_sessions_of(address)
        detail = {"erased": receipt.erased, "sessions": receipt.sessions + ended,
                  "retained": len(receipt.retained) + len(receipt.retained_provisions)}
        return receipt.receipt_id, _done("Erased", receipt.receipt_id, detail)
    if action in {"restrict", "lift-restriction"}:
        purposes = submitted.all("purposes")
        call = rights.restrict if action == "restrict" else rights.lift_restriction
        done = await host.run(call, store, address, purposes, now=now,
                              notify=host.notice_services())
        return done.receipt_id, _done(action, done.receipt_id, done.detail)
    if action == "stop-third-party":
        done = await host.run(rights.stop_third_party, store, address, now=now)
        return done.receipt_id, _done(action, done.receipt_id, done.detail)
    done = await host.run(rights.correct, store, address, [_change(submitted)], now=now)
    return done.receipt_id, _done(action, done.receipt_id, done.detail)


def _change(submitted: Form) -> rights.RecordChange:
    op = submitted.choice("op", ("correct", "add", "delete"))
    record = submitted.optional("record_id", max_chars=19)
    if record is not None and not record.isdigit():
        raise ConsoleError("console_form_invalid", "record_id: a record's number")
    data_text = submitted.optional("data", max_chars=4000)
    data = None
    if data_text is not None:
        try:
            data = json.loads(data_text)
        except ValueError:
            raise ConsoleError("console_form_invalid", "data: not JSON") from None
        if not isinstance(data, dict):
            raise ConsoleError("console_form_invalid", "data: a JSON object of fields")
    return rights.RecordChange(op, int(record) if record else None,  # type: ignore[arg-type]
                               submitted.optional("category", max_chars=64),
                               submitted.optional("purpose", max_chars=64), data)


async def _export(host: ConsoleHost, submitted: Form, address: str) -> tuple[str, Response]:
    chosen = submitted.optional("format") or "json"
    if chosen not in EXPORT_FORMATS:
        raise ConsoleError("console_form_invalid", f"format: one of {', '.join(EXPORT_FORMATS)}")
    document = await host.run(rights.export_subject, host.store, address, now=host.now())
    receipts = await host.run(rights.list_requests, host.store, address)
    receipt = next((e.id for e in reversed(receipts) if e.kind == "export"), "")
    disposition = {"Content-Disposition": f'attachment; filename="walletauth-export.{chosen}"'}
    if chosen == "csv":
        body, media = rights.to_csv(document), "text/csv; charset=utf-8"
    elif chosen == "html":
        body, media = rights.to_html(document, lang="ja"), "text/html; charset=utf-8"
        disposition["Content-Security-Policy"] = HTML_EXPORT_CSP
    else:
        body, media = json.dumps(document, ensure_ascii=False, indent=1), "application/json"
    return receipt, Response(body, media_type=media, headers={**NO_STORE, **disposition})

