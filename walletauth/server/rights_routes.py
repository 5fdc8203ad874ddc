"""``/me/export``, ``/me/erase``, ``/me/corrections``, ``/me/restrictions``,
``/me/third-party/stop`` and ``/me/requests``: the wallet owner's rights over HTTP.

Every request but the listing is proven by the wallet itself: a live session (Bearer
token or cookie) AND a fresh EIP-4361 message, checked exactly as a sign-in checks it
(its nonce from ``GET /auth/nonce`` consumed atomically), signed by the session's
address, whose resources name exactly this request
(``urn:walletauth:request:<kind>``). A refused proof of a signed-in wallet is logged
in its requests log as denied with the stable code.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from walletauth import rights
from walletauth.errors import WalletAuthError
from walletauth.rights import RecordChange, RequestKind, RightsError
from walletauth.rights.export_html import CONTENT_SECURITY_POLICY as HTML_EXPORT_CSP
from walletauth.server.deps import SESSION_COOKIE, ClientIpDep, PrincipalDep, RuntimeDep
from walletauth.server.login import Principal
from walletauth.server.problems import problem_responses
from walletauth.server.runtime import Runtime
from walletauth.server.schemas import MAX_MESSAGE_CHARS, MAX_PURPOSE_CHARS, MAX_SIGNATURE_CHARS
from walletauth.server.services import ServiceRegistry
from walletauth.siwe import SiweMessage

router = APIRouter(prefix="/me", tags=["rights"])

NO_STORE: Final = {"Cache-Control": "no-store"}
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
    ground: dict[str, str] = Field(description="The legal obligation, quoted (ja, en)")
    clause: str


class ErasureResponse(BaseModel):
    receipt_id: str
    erased: dict[str, int] = Field(description="Records erased, per category")
    completed_at: datetime
    consent_events: int
    sessions: int
    third_party_provisions: int
    retained: list[Retained] = Field(description="What the law requires to keep, and why")


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
    requests: list[RequestItem]


async def _prove(
    runtime: Runtime, principal: Principal, body: SignedRequest, kind: RequestKind,
    client_ip: str, log_kind: str | None = None,
) -> datetime:
    """The wallet itself asks: its session, and its signature naming this request."""
    now = runtime.clock()
    try:
        message = SiweMessage.parse(body.message)
        rights.require_request(message, kind)
        _same_wallet(message.address, principal)
        login = await runtime.login.check_signed_message(
            body.message, body.signature, client_ip=client_ip, now=now
        )
        _same_wallet(login.address, principal)
    except WalletAuthError as error:
        if error.code != "rpc_unavailable":  # the node's failure, not the wallet's
            await run_in_threadpool(rights.deny_request, runtime.store, principal.address,
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
    document = await run_in_threadpool(rights.export_subject, runtime.store, principal.address,
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
) -> ErasureResponse:
    now = await _prove(runtime, principal, body, "erase", client_ip)
    endpoints = list(ServiceRegistry.from_settings(runtime.settings).notice_endpoints())
    receipt = await run_in_threadpool(rights.erase_subject, runtime.store, principal.address,
                                      now=now, notify=endpoints)
    # With Redis the sessions live there, not under the subject's row: end every one of
    # the address's (the SQL state finds none left: the erasure took them).
    ended = await runtime.state.revoke_sessions_of(principal.address)
    response.headers.update(NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=runtime.settings.cookie_secure,
                           httponly=True)
    return ErasureResponse(
        receipt_id=receipt.receipt_id, erased=receipt.erased, completed_at=receipt.completed_at,
        consent_events=receipt.consent_events, sessions=receipt.sessions + ended,
        third_party_provisions=receipt.third_party_provisions,
        retained=[Retained(category=r.category, purpose=r.purpose, count=r.count, until=r.until,
                           ground=dict(r.ground), clause=r.clause) for r in receipt.retained],
    )


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
    receipt = await run_in_threadpool(rights.correct, runtime.store, principal.address,
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
    endpoints = list(ServiceRegistry.from_settings(runtime.settings).notice_endpoints())
    receipt = await run_in_threadpool(change, runtime.store, principal.address, body.purposes,
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
    receipt = await run_in_threadpool(rights.stop_third_party, runtime.store, principal.address,
                                      now=now)
    return _receipt(receipt)


@router.get(
    "/requests",
    response_model=RequestsResponse,
    responses=problem_responses(401, 422, 500, 503),
    summary="The signed-in wallet's requests and what became of them",
)
async def requests(runtime: RuntimeDep, principal: PrincipalDep) -> RequestsResponse:
    entries = await run_in_threadpool(rights.list_requests, runtime.store, principal.address)
    return RequestsResponse(requests=[
        RequestItem(id=e.id, kind=e.kind, status=e.status, reason=e.reason,
                    received_at=e.received_at, completed_at=e.completed_at)
        for e in entries
    ])


def _receipt(receipt: rights.RequestReceipt) -> ReceiptResponse:
    return ReceiptResponse(receipt_id=receipt.receipt_id, completed_at=receipt.completed_at,
                           detail=dict(receipt.detail))
