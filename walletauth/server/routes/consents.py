"""``/me/consents``: the signed-in wallet's optional purposes, granted or withdrawn."""

from __future__ import annotations

from fastapi import APIRouter

from walletauth import rights
from walletauth.server.deps import PrincipalDep, RuntimeDep
from walletauth.server.problems import problem_responses
from walletauth.server.runtime import Runtime
from walletauth.server.schemas import ConsentChange, ConsentChanges, ConsentsResponse
from walletauth.server.services import ServiceRegistry

router = APIRouter(prefix="/me", tags=["consents"])


@router.get(
    "/consents",
    response_model=ConsentsResponse,
    responses=problem_responses(401, 422, 500, 503),
    summary="The signed-in wallet's consents per optional purpose",
)
async def get_consents(runtime: RuntimeDep, principal: PrincipalDep) -> ConsentsResponse:
    consents = await runtime.store_calls.run(runtime.store.consents, principal.address)
    return ConsentsResponse(consents=consents)


@router.put(
    "/consents",
    response_model=ConsentsResponse,
    responses=problem_responses(400, 401, 403, 409, 413, 422, 500, 503),
    summary="Grant or withdraw optional purposes",
    description=(
        'Either one change, `{"purpose": "newsletter", "granted": true}`, or several,'
        ' `{"consents": {"newsletter": true, "analytics": false}}`. Every purpose is'
        " checked against the policy before any change is made; the answer is the"
        " resulting consents."
    ),
)
async def put_consents(
    body: ConsentChange | ConsentChanges, runtime: RuntimeDep, principal: PrincipalDep
) -> ConsentsResponse:
    changes = {body.purpose: body.granted} if isinstance(body, ConsentChange) else body.consents
    for purpose in changes:
        runtime.policy.purpose(purpose)  # refuse an unknown purpose before changing anything
    consents = await runtime.store_calls.run(_apply, runtime, principal.address, changes)
    return ConsentsResponse(consents=consents)


def _apply(runtime: Runtime, address: str, changes: dict[str, bool]) -> dict[str, bool]:
    now = runtime.clock()
    endpoints = list(ServiceRegistry.from_settings(runtime.settings).notice_endpoints())
    for purpose, granted in changes.items():
        # A withdrawal commits with its notice to the registered services.
        notices = () if granted else rights.pending_notices(
            runtime.store, "consent.withdrawn", [purpose], endpoints, now)
        runtime.store.set_consent(address, purpose, granted, now=now, notices=notices)
    return runtime.store.consents(address)
