"""``/me/export``, ``/me/erase``, ``/me/corrections``, ``/me/restrictions``,
``/me/third-party/stop`` and ``/me/requests``: the wallet owner's rights over HTTP.

Every request but the listing is proven by the wallet itself: a live session (Bearer
token or cookie) AND a fresh EIP-4361 message, checked exactly as a sign-in checks it
(its nonce from ``GET /auth/nonce`` consumed atomically), signed by the session's
address, whose resources name exactly this request
(``urn:walletauth:request:<kind>``). Each request counts against the wallet's rights
allowance first (``rate_limited``, 429, with ``Retry-After``). A proof refused at its
signature (not the wallet's, or its nonce spent) is logged in the requests log as denied
with the stable code; one refused before (unparseable, for another request or wallet, a
field that does not check out) writes nothing, so no session fills the log for free.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from walletauth import rights
from walletauth.errors import WalletAuthError
from walletauth.rights import RecordChange, RequestKind, RightsError
from walletauth.rights.export_html import CONTENT_SECURITY_POLICY as HTML_EXPORT_CSP
from walletauth.server.runtime import Runtime
from walletauth.server.signin.answers import NO_STORE, SessionCookie
from walletauth.server.signin.login import Principal
from walletauth.server.web.deps import ClientIpDep, PrincipalDep, RuntimeDep
from walletauth.server.web.errors import ServerError
from walletauth.server.web.problems import problem_responses
from walletauth.server.web.schemas import MAX_MESSAGE_CHARS, MAX_PURPOSE_CHARS, MAX_SIGNATURE_CHARS
from walletauth.siwe import SiweMessage

router = APIRouter(prefix="/me", tags=["rights"])

DENIALS_LOGGED: Final = frozenset({"invalid_signature"})
"""The refusal of a proof whose signature was checked: logged as the wallet's denied
request. Every other refusal writes nothing: it comes before the signature (a nonce that
is not this service's live one is refused before any signature work), or, for a nonce
already used, repeats a proof that was already answered."""
MAX_REQUESTS_PAGE: Final = 100
CURSOR_PATTERN: Final = r"^[0-9]{1,19}\.[A-Za-z0-9_-]{1,40}$"
SIGNED_REFUSALS: Final = problem_responses(400, 401, 403, 404, 413, 422, 429, 500, 503)
FieldValue = str | int | float | bool | None


class SignedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(max_length=MAX_MESSAGE_CHARS,
                         description="EIP-4361 text whose resources name the request")
    signature: str = Field(max_length=MAX_SIGNATURE_CHARS)


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Literal["correct", "add", "delete"]
    record_id: int | None = Field(default=None, ge=1)
    category: str | None = Field(default=None, max_length=MAX_PURPOSE_CHARS)
    purpose: str | None = Field(default=None, max_length=MAX_PURPOSE_CHARS)
    data: dict[str, FieldValue] | None = Field(default=None, max_length=32)


class CorrectionRequest(SignedRequest):
    changes: list[Change] = Field(min_length=1, max_length=64)


class RestrictionRequest(SignedRequest):
    purposes: list[Annotated[str, Field(max_length=MAX_PURPOSE_CHARS)]] = Field(
        min_length=1, max_length=64)
    lift: bool = Field(default=False, description="true lifts the suspension of the purposes")


class Retained(BaseModel):
    category: str
    purpose: str
    count: int
    until: datetime
    ground: dict[str, str] = Field(
        description="The law the policy names as requiring the records (ja, en)")
    clause: str


class RetainedProvisions(BaseModel):
    ground: str | None = Field(description="The third-party ground the provisions were made"
                               " on; null when they are withheld from disclosure")
    withheld: str | None = Field(default=None, description="The statutory ground they are"
                                 " withheld from disclosure on (ground_text, clause say it)")
    count: int
    until: datetime = Field(description="When `walletauth purge` removes the last of them")
    ground_text: dict[str, str] = Field(description="The ground, quoted (ja, en)")
    clause: str
    kept_by: str = Field(default="APPI Art. 29", description="The law that keeps them")


class ErasureResponse(BaseModel):
    receipt_id: str
    erased: dict[str, int] = Field(description="Records erased, per category")
    completed_at: datetime
    consent_events: int
    sessions: int
    third_party_provisions: int
    retained: list[Retained] = Field(description="What the law requires to keep, and why")
    retained_provisions: list[RetainedProvisions] = Field(
        description="Records of provisions to third parties, kept for the policy's"
        " record_retention (APPI Art. 29 record-keeping), per ground")


class ReceiptResponse(BaseModel):
    receipt_id: str
    completed_at: datetime
    detail: dict[str, Any]


class RequestItem(BaseModel):
    id: str
    kind: str
    status: Literal["received", "completed", "denied"]
    reason: str | None
    received_at: datetime
    completed_at: datetime | None


class RequestsResponse(BaseModel):
    requests: list[RequestItem] = Field(description="Oldest first")
    next_cursor: str | None = Field(
        description="Pass as `after` for the next page; null on the last page")


async def _prove(
    runtime: Runtime, principal: Principal, body: SignedRequest, kind: RequestKind,
    client_ip: str, log_kind: str | None = None,
) -> datetime:
    """The wallet itself asks: its session, and its signature naming this request."""
    now = runtime.clock()
    await runtime.limiter.rights_requested(principal.address, now=now)
    try:
        message = SiweMessage.parse(body.message)
        rights.require_request(message, kind)
        _same_wallet(message.address, principal)
        login = await runtime.login.check_signed_message(
            body.message, body.signature, client_ip=client_ip, now=now
        )
        _same_wallet(login.address, principal)
    except WalletAuthError as error:
        if error.code in DENIALS_LOGGED:  # not rpc_unavailable: the node's failure
            await runtime.gateway.run(rights.deny_request, principal.address,
                                      log_kind or kind, error.code, now=now)
        raise
    return now


def _same_wallet(address: str, principal: Principal) -> None:
    if address.lower() != principal.address.lower():
        raise RightsError("signer_mismatch",
                          "the message must be signed by the wallet of the session")


@router.post(
    "/export",
    responses={**SIGNED_REFUSALS, 200: {"content": {"application/json": {}, "text/csv": {},
                                                    "text/html": {}}}},
    summary="Everything linked to the signed-in wallet (disclosure)",
    description="Resource `urn:walletauth:request:export`. `?format=csv` or `?format=html`"
    " (in `?lang=ja|en`) for a person to read.",
)
async def export(
    body: SignedRequest, runtime: RuntimeDep, principal: PrincipalDep, client_ip: ClientIpDep,
    format: Literal["json", "csv", "html"] = Query("json"),
    lang: Literal["ja", "en"] = Query("ja", description="Language of the HTML page"),
) -> Response:
    now = await _prove(runtime, principal, body, "export", client_ip)
    document = await runtime.gateway.run(rights.export_subject, principal.address,
                                         now=now)
    if format == "csv":
        return Response(rights.to_csv(document), media_type="text/csv; charset=utf-8",
                        headers={**NO_STORE, "Content-Disposition":
                                 'attachment; filename="walletauth-export.csv"'})
    if format == "html":
        return Response(rights.to_html(document, lang=lang), media_type="text/html; charset=utf-8",
                        headers={**NO_STORE, "Content-Security-Policy": HTML_EXPORT_CSP})
    return Response(json.dumps(document, ensure_ascii=False), media_type="application/json",
                    headers=NO_STORE)


@router.post(
    "/erase",
    response_model=ErasureResponse,
    responses=SIGNED_REFUSALS,
    summary="Erase everything linked to the signed-in wallet; its sessions end",
    description="Resource `urn:walletauth:request:erase`. Registered services get a signed"
    " `subject.erased` notice.",
)
async def erase(
    body: SignedRequest, runtime: RuntimeDep, principal: PrincipalDep, response: Response,
    client_ip: ClientIpDep,
) -> rights.Erasure:
    now = await _prove(runtime, principal, body, "erase", client_ip)
    endpoints = runtime.notice_services()
    erasure = await runtime.gateway.run(rights.erase_subject, principal.address,
                                        now=now, notify=endpoints)
    # With Redis the sessions live there, not under the subject's row: end every one of
    # the address's (the SQL state finds none left: the erasure took them).
    ended = await runtime.state.revoke_sessions_of(principal.address)
    response.headers.update(NO_STORE)
    SessionCookie(secure=runtime.settings.cookie_secure).clear(response)
    # The erasure itself is the answer (ErasureResponse is its schema on the wire).
    return replace(erasure, sessions=erasure.sessions + ended)


@router.post(
    "/corrections",
    response_model=ReceiptResponse,
    responses=SIGNED_REFUSALS,
    summary="Correct, add or delete data the user supplied (all changes or none)",
    description="Resource `urn:walletauth:request:correct`.",
)
async def corrections(
    body: CorrectionRequest, runtime: RuntimeDep, principal: PrincipalDep, client_ip: ClientIpDep
) -> ReceiptResponse:
    now = await _prove(runtime, principal, body, "correct", client_ip)
    changes = [RecordChange(c.op, c.record_id, c.category, c.purpose, c.data)
               for c in body.changes]
    receipt = await runtime.gateway.run(rights.correct, principal.address,
                                        changes, now=now)
    return _receipt(receipt)


@router.post(
    "/restrictions",
    response_model=ReceiptResponse,
    responses=SIGNED_REFUSALS,
    summary="Suspend (or, with lift, resume) the use of the wallet's data per purpose",
    description="Resource `urn:walletauth:request:restrict`, for lifting too.",
)
async def restrictions(
    body: RestrictionRequest, runtime: RuntimeDep, principal: PrincipalDep, client_ip: ClientIpDep
) -> ReceiptResponse:
    log_kind = "lift-restriction" if body.lift else "restrict"
    now = await _prove(runtime, principal, body, "restrict", client_ip, log_kind)
    change = rights.lift_restriction if body.lift else rights.restrict
    endpoints = runtime.notice_services()
    receipt = await runtime.gateway.run(change, principal.address, body.purposes,
                                        now=now, notify=endpoints)
    return _receipt(receipt)


@router.post(
    "/third-party/stop",
    response_model=ReceiptResponse,
    responses=SIGNED_REFUSALS,
    summary="No further provision to third parties on consent grounds",
    description="Resource `urn:walletauth:request:stop-third-party`.",
)
async def stop_third_party(
    body: SignedRequest, runtime: RuntimeDep, principal: PrincipalDep, client_ip: ClientIpDep
) -> ReceiptResponse:
    now = await _prove(runtime, principal, body, "stop-third-party", client_ip)
    receipt = await runtime.gateway.run(rights.stop_third_party, principal.address,
                                        now=now)
    return _receipt(receipt)


@router.get(
    "/requests",
    response_model=RequestsResponse,
    responses=problem_responses(401, 422, 500, 503),
    summary="The signed-in wallet's requests and what became of them, a page at a time",
    description=f"Oldest first, at most `limit` (1 to {MAX_REQUESTS_PAGE}) per page;"
    " `next_cursor` of a page, passed as `after`, gives the next one.",
)
async def requests(
    runtime: RuntimeDep, principal: PrincipalDep,
    limit: int = Query(50, ge=1, le=MAX_REQUESTS_PAGE, description="Requests per page"),
    after: str | None = Query(None, pattern=CURSOR_PATTERN,
                              description="The `next_cursor` of the previous page"),
) -> RequestsResponse:
    # One more than the page: whether it is there says if a next page exists.
    entries = await runtime.gateway.run(rights.list_requests, principal.address,
                                        after=_position(after), limit=limit + 1)
    page = entries[:limit]
    return RequestsResponse(
        requests=[RequestItem(id=e.id, kind=e.kind, status=e.status, reason=e.reason,
                              received_at=e.received_at, completed_at=e.completed_at)
                  for e in page],
        next_cursor=_cursor(page[-1]) if len(entries) > limit else None,
    )


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _cursor(entry: rights.RequestEntry) -> str:
    """Where a page ended: its last request's time (whole microseconds) and id."""
    return f"{(entry.received_at - _EPOCH) // timedelta(microseconds=1)}.{entry.id}"


def _position(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    micros, _, request_id = cursor.partition(".")
    try:
        return _EPOCH + timedelta(microseconds=int(micros)), request_id
    except OverflowError:
        raise ServerError("invalid_request", "after: not a cursor this service gave") from None


def _receipt(receipt: rights.RequestReceipt) -> ReceiptResponse:
    return ReceiptResponse(receipt_id=receipt.receipt_id, completed_at=receipt.completed_at,
                           detail=dict(receipt.detail))
