"""``/me/consents`` and ``/me/age``: the signed-in wallet's optional purposes, granted or
withdrawn, and its age confirmation under a policy with an age rule."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from walletauth import rights
from walletauth.policy import Policy, SubjectState, decide_use, effective_consents
from walletauth.server.web.deps import PrincipalDep, RuntimeDep
from walletauth.server.web.problems import problem_responses
from walletauth.server.web.schemas import (
    AgeDeclaration,
    AgeState,
    ConsentChange,
    ConsentChanges,
    ConsentsResponse,
    PurposeChange,
)
from walletauth.store import Store

router = APIRouter(prefix="/me", tags=["consents"])


@router.get(
    "/consents",
    response_model=ConsentsResponse,
    responses=problem_responses(401, 422, 500, 503),
    summary="The signed-in wallet's consents per optional purpose, suspensions and age state",
)
async def get_consents(runtime: RuntimeDep, principal: PrincipalDep) -> ConsentsResponse:
    state = await runtime.gateway.run(Store.subject_state, principal.address)
    return consents_view(runtime.policy, state)


@router.put(
    "/consents",
    response_model=ConsentsResponse,
    responses=problem_responses(400, 401, 403, 409, 413, 422, 500, 503),
    summary="Grant or withdraw optional purposes",
    description=(
        'Either one change, `{"purpose": "newsletter", "granted": true}`, or several,'
        ' `{"consents": {"newsletter": true, "analytics": false}}`. Every purpose is'
        " checked against the policy before any change is made; the answer is the"
        " resulting consents. Under a policy with an age rule a grant is refused with"
        " `age_confirmation_required` until PUT /me/age, and below the guardian age with"
        " `guardian_consent_required` until the operator records a guardian's consent;"
        " withdrawing is always possible. A consent given to an earlier text of a purpose"
        " is off and listed in `on_hold` as `policy_changed`, with what changed in"
        " `changed`, until granted again."
    ),
)
async def put_consents(
    body: ConsentChange | ConsentChanges, runtime: RuntimeDep, principal: PrincipalDep
) -> ConsentsResponse:
    changes = {body.purpose: body.granted} if isinstance(body, ConsentChange) else body.consents
    for purpose in changes:
        runtime.policy.purpose(purpose)  # refuse an unknown purpose before changing anything
    state = await runtime.gateway.run(_apply, principal.address, changes,
                                      runtime.notice_services(), runtime.clock())
    return consents_view(runtime.policy, state)


@router.put(
    "/age",
    response_model=ConsentsResponse,
    responses=problem_responses(400, 401, 409, 413, 422, 500, 503),
    summary="Confirm the signed-in user's age (policies with an age rule)",
    description=(
        '`{"under_guardian_age": false}`: the user declares whether they are younger than'
        " the policy's guardian age (`age.guardian_consent_below` in GET /policy). Only that"
        " yes or no is kept, never a birth date, as a record of the policy's age-confirmation"
        " category. `no_age_rule` (422) under a policy without an age rule, where nothing is"
        " recorded; `age_confirmation_final` (409) when a user confirmed under the guardian"
        " age declares otherwise. The answer is the resulting consents view."
    ),
)
async def put_age(
    body: AgeDeclaration, runtime: RuntimeDep, principal: PrincipalDep
) -> ConsentsResponse:
    state = await runtime.gateway.run(_confirm_age, principal.address,
                                      body.under_guardian_age, runtime.clock())
    return consents_view(runtime.policy, state)


def consents_view(policy: Policy, state: SubjectState) -> ConsentsResponse:
    """What the consent screen shows: switches, suspensions, granted purposes not in use
    now (and why), and the age rule's state."""
    consents = effective_consents(policy, state.consents, state.outdated)
    on_hold: dict[str, str] = {}
    for purpose, granted in consents.items():
        if not (granted and policy.purpose(purpose).optional):
            continue
        decision = decide_use(policy, purpose, state)
        if not decision.allowed:
            on_hold[purpose] = decision.reason or "purpose_not_allowed"
    changed = {}
    for purpose in policy.purposes:
        if purpose in state.outdated:  # granted to words that have changed since
            on_hold[purpose] = "policy_changed"
            changed[purpose] = _change_of(policy, purpose)
    age = None
    if policy.age is not None:
        age = AgeState(guardian_consent_below=policy.age.guardian_consent_below,
                       confirmed=state.age_confirmed,
                       under_guardian_age=state.under_guardian_age,
                       guardian_consent=state.guardian_consent)
    return ConsentsResponse(consents=consents, suspended=sorted(state.suspended),
                            on_hold=on_hold, changed=changed, age=age)


def _change_of(policy: Policy, purpose: str) -> PurposeChange:
    entry = policy.change_of(purpose)
    if entry is None:
        return PurposeChange(changed_in=None, summary=None)
    note = entry.purposes[purpose]
    return PurposeChange(changed_in=entry.version, summary={"ja": note.ja, "en": note.en})


def _apply(store: Store, address: str, changes: dict[str, bool], endpoints: list[str],
           now: datetime) -> SubjectState:
    for purpose, granted in changes.items():
        # A withdrawal commits with its notice to the registered services.
        notices = () if granted else rights.pending_notices(
            store, "consent.withdrawn", [purpose], endpoints, now)
        store.set_consent(address, purpose, granted, now=now, notices=notices)
    return store.subject_state(address)


def _confirm_age(store: Store, address: str, under_guardian_age: bool,
                 now: datetime) -> SubjectState:
    store.confirm_age(address, under_guardian_age=under_guardian_age, now=now)
    return store.subject_state(address)
