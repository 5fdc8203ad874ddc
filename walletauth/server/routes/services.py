"""``/services/v1/...``: the API registered services call (through ``walletauth.sdk.Client``).

Every call carries the service's API key (``Authorization: Bearer wa_svc_...``) and
goes through the store's rules: a purpose must be granted to the calling service, and
the subject's consents, suspensions and third-party stop apply as everywhere else.
Addresses travel in request bodies only, never in paths, so access logs hold none.

A service's scope ends there: the age rule's categories (age confirmation, guardian
consent) are written only through their own endpoints, a record is the first about an
address only for a purpose the service's ``creates_subjects_for`` names, and a provision
names only categories that serve a purpose granted to the service.

``POST /services/v1/sessions/status`` is how walletauth publishes revocation: a service
that verifies access tokens offline asks whether a token's session (``sid``) is still
active, so a sign-out or an erasure ends the session there too before the token expires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from walletauth import rights
from walletauth.policy import Policy
from walletauth.policy.evaluate import decide_use
from walletauth.server.config.services import Service
from walletauth.server.web.deps import RuntimeDep
from walletauth.server.web.errors import ServerError
from walletauth.server.web.problems import problem_responses
from walletauth.server.web.schemas import MAX_PURPOSE_CHARS
from walletauth.store import Store, StoreError
from walletauth.store.requests_log import open_request
from walletauth.store.withholding import WithholdingGround

MAX_ADDRESS_CHARS: Final = 64
MAX_SESSION_ID_CHARS: Final = 128
"""Session ids are 43 characters (base64url of a SHA-256); room to change, no more."""
FieldValue = str | int | float | bool | None

service_key = HTTPBearer(
    auto_error=False, scheme_name="ServiceApiKey",
    description="The registered service's API key, wa_svc_...",
)
router = APIRouter(
    prefix="/services/v1", tags=["services"],
    responses=problem_responses(400, 401, 403, 413, 422, 500, 503),
)

Address = Annotated[str, Field(max_length=MAX_ADDRESS_CHARS, description="0x address")]
Name = Annotated[str, Field(min_length=1, max_length=MAX_PURPOSE_CHARS)]


async def calling_service(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(service_key)],
) -> Service:
    return runtime.services.authenticate(
        None if credentials is None else credentials.credentials
    )


ServiceDep = Annotated[Service, Depends(calling_service)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PermissionQuery(_Body):
    address: Address
    purpose: Name


class Permission(BaseModel):
    allowed: bool
    reason: str | None = Field(
        description="Why not: consent_required, purpose_suspended, unknown_subject,"
        " purpose_not_granted_to_service, or another policy reason code")


class RecordWrite(_Body):
    address: Address
    category: Name
    purpose: Name
    data: dict[str, FieldValue] = Field(max_length=32)


class RecordCreated(BaseModel):
    id: int


class RecordQuery(_Body):
    address: Address
    purpose: Name
    category: Name | None = None


class RecordItem(BaseModel):
    id: int
    category: str
    purpose: str
    data: dict[str, Any]
    collected_at: datetime
    expires_at: datetime


class Records(BaseModel):
    records: list[RecordItem]


class ProvisionWrite(_Body):
    address: Address
    recipient: str = Field(min_length=1, max_length=200)
    categories: list[Name] = Field(min_length=1, max_length=32)
    ground: Name
    withheld_from_disclosure: WithholdingGround | None = Field(
        default=None,
        description="A statutory ground (APPI Art. 33(2), (5)) on which the subject's export"
        " leaves this record out; the export still says a record was withheld and why")


class ProvisionRecorded(BaseModel):
    recorded: Literal[True] = True


class ForwardedRequest(_Body):
    address: Address
    kind: Literal["export", "erase", "correct", "restrict", "stop-third-party"]


class RequestReceived(BaseModel):
    id: str = Field(description="The entry in the subject's requests log (/me/requests)")
    status: Literal["received"] = "received"


class SessionQuery(_Body):
    session_id: str = Field(min_length=1, max_length=MAX_SESSION_ID_CHARS,
                            description="The sid claim of a verified access token")


class SessionStatus(BaseModel):
    active: bool = Field(description="False once signed out, erased or expired: refuse the"
                         " session's tokens")


@router.post("/permissions", response_model=Permission,
             summary="May the calling service use the subject's data for this purpose now?")
async def permission(body: PermissionQuery, runtime: RuntimeDep,
                     service: ServiceDep) -> Permission:
    if body.purpose not in service.purposes:
        return Permission(allowed=False, reason="purpose_not_granted_to_service")
    reason = await runtime.gateway.run(_refusal, body.address, body.purpose,
                                       runtime.clock())
    return Permission(allowed=reason is None, reason=reason)


def _refusal(store: Store, address: str, purpose: str, now: datetime) -> str | None:
    # A subject with nothing on record (never seen, or erased) is no one to use data of.
    if not store.consent_history(address) and not store.subject_records(address, now=now):
        return "unknown_subject"
    decision = decide_use(store.policy, purpose, store.subject_state(address))
    return None if decision.allowed else decision.reason or "purpose_not_allowed"


@router.post(
    "/records", response_model=RecordCreated, status_code=201,
    responses=problem_responses(409),
    summary="Keep a record for the subject, under the store's rules",
    description="Refused with `category_reserved` (403) for the age rule's categories"
    " (`PUT /me/age`, `POST /services/v1/guardian-consents` write those), and with"
    " `subject_creation_not_granted` (403) when walletauth holds nothing about the address"
    " and the purpose is not in the service's `creates_subjects_for`.",
)
async def put_record(body: RecordWrite, runtime: RuntimeDep,
                     service: ServiceDep) -> RecordCreated:
    service.require_purpose(body.purpose)
    _require_unreserved(runtime.policy, body.category)
    try:
        record_id = await runtime.gateway.run(
            Store.put_record, body.address, body.category, body.purpose, body.data,
            now=runtime.clock(), source=f"service:{service.name}",
            create_subject=service.may_create_subject(body.purpose),
        )
    except StoreError as error:
        if error.code != "unknown_subject":
            raise
        raise ServerError(
            "subject_creation_not_granted",
            f"walletauth holds nothing about this address, and service {service.name!r} may"
            f" not create subjects for {body.purpose!r} (creates_subjects_for)",
        ) from None
    return RecordCreated(id=record_id)


def _require_unreserved(policy: Policy, category: str) -> None:
    # An age confirmation is the user's own word and a guardian consent the verified word
    # of a guardian: a service writing either would change what the age rule allows.
    age = policy.age
    if age is not None and category in {age.confirmation_category,
                                        age.guardian_consent_category}:
        raise ServerError(
            "category_reserved",
            f"{category!r} is the age rule's; it is written through PUT /me/age or"
            " POST /services/v1/guardian-consents only",
        )


@router.post("/records/query", response_model=Records,
             summary="The subject's live records for a purpose (none while it may not be used)")
async def query_records(body: RecordQuery, runtime: RuntimeDep, service: ServiceDep) -> Records:
    service.require_purpose(body.purpose)
    found = await runtime.gateway.run(Store.records, body.address, body.purpose,
                                      now=runtime.clock(), category=body.category)
    return Records(records=[
        RecordItem(id=r.id, category=r.category, purpose=r.purpose, data=dict(r.data),
                   collected_at=r.collected_at, expires_at=r.expires_at)
        for r in found
    ])


@router.post(
    "/provisions", response_model=ProvisionRecorded, status_code=201,
    responses=problem_responses(404),
    summary="Record a provision to a third party (refused after the user stopped it)",
    description="Each category must serve a purpose granted to the calling service, else"
    " `category_not_granted_to_service` (403): a service records the provision only of data"
    " it may use itself.",
)
async def record_provision(body: ProvisionWrite, runtime: RuntimeDep,
                           service: ServiceDep) -> ProvisionRecorded:
    for name in body.categories:
        service.require_category_use(name, runtime.policy.category(name).purposes)
    await runtime.gateway.run(rights.record_provision, body.address,
                              body.recipient, body.categories, body.ground, now=runtime.clock(),
                              withheld=body.withheld_from_disclosure)
    return ProvisionRecorded()


@router.post(
    "/requests", response_model=RequestReceived, status_code=202,
    responses=problem_responses(429),
    summary="Hand over a rights request the service received; walletauth does not act on it",
    description="Logged as `received` with kind `<kind>:<service>` in the subject's requests"
    " log, for the operator and the user (`/me/requests`). Nothing is exported or erased on a"
    " service's word: the wallet proves such requests itself at `/me/...`. Limited per wallet"
    " (`rate_limited`, 429, with `Retry-After`), apart from the wallet's own requests.",
)
async def forward_request(body: ForwardedRequest, runtime: RuntimeDep,
                          service: ServiceDep) -> RequestReceived:
    await runtime.limiter.request_forwarded(body.address, now=runtime.clock())
    request_id = await runtime.gateway.run(
        open_request, body.address, f"{body.kind}:{service.name}", now=runtime.clock()
    )
    return RequestReceived(id=request_id)


@router.post(
    "/sessions/status", response_model=SessionStatus,
    dependencies=[Depends(calling_service)],
    summary="Is the session of an access token still active?",
    description="For services that verify access tokens offline (`walletauth.sdk`): a token"
    " stays valid until `exp`, its session may end sooner (`/auth/logout`, `/me/erase`)."
    " The SDK's `Client.session_revoked` asks here and serves as the verifier's"
    " `revocation_check`. Nothing about the wallet is answered, only whether the session"
    " lives.",
)
async def session_status(body: SessionQuery, runtime: RuntimeDep) -> SessionStatus:
    active = await runtime.state.session_active(body.session_id, now=runtime.clock())
    return SessionStatus(active=active)
