"""``POST /services/v1/guardian-consents``: the operator's back office records a guardian's
consent (法定代理人の同意) for a user under the policy's guardian age.

A child signs in with their own wallet, so nothing the wallet's session can send may
count as a guardian's consent. The operator verifies the guardian by its own means and
its back office, a registered service configured with ``records_guardian_consent``,
records the consent with the method used (a method's name, never the guardian's
identity). Withdrawing goes the same way (``granted: false``); the user's own consents
can always be withdrawn at ``PUT /me/consents``. A withdrawal that takes purposes out of
use sends the registered services a ``consent.withdrawn`` notice, as the user's own does.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from walletauth import rights
from walletauth.server.routes.services import Address, ServiceDep
from walletauth.server.web.deps import RuntimeDep
from walletauth.server.web.problems import problem_responses

router = APIRouter(
    prefix="/services/v1", tags=["services"],
    responses=problem_responses(400, 401, 403, 404, 413, 422, 500, 503),
)


class GuardianConsentWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Address
    granted: bool = Field(description="false withdraws a guardian consent on record")
    method: str = Field(
        pattern=rights.VERIFICATION_METHOD.pattern, max_length=64,
        description="How the operator verified the guardian, e.g. signed_form, card_check,"
        " video_call: 1 to 64 of a-z 0-9 _ . - (a name, never the guardian's identity)",
    )


class GuardianConsentRecorded(BaseModel):
    guardian_consent: bool = Field(description="The guardian consent now on record")


@router.post(
    "/guardian-consents", response_model=GuardianConsentRecorded,
    summary="Record (or withdraw) a guardian's consent the operator has verified",
    description="For the operator's back office only: the calling service must be"
    " configured with `records_guardian_consent` (else `guardian_consent_not_delegated`,"
    " 403). `unknown_subject` (404) for a wallet that never signed in, `no_age_rule` (422)"
    " under a policy without an age rule. Kept as a record of the policy's guardian-consent"
    " category with the method and time, shown in the user's export. A withdrawal sends"
    " registered services a `consent.withdrawn` notice naming the purposes it took out of"
    " use, committed with it (none when nothing was in use).",
)
async def record_guardian_consent(body: GuardianConsentWrite, runtime: RuntimeDep,
                                  service: ServiceDep) -> GuardianConsentRecorded:
    service.require_guardian_recording()
    endpoints = runtime.notice_services()
    await runtime.gateway.run(rights.record_guardian_consent, body.address,
                              body.granted, method=body.method, now=runtime.clock(),
                              notify=endpoints)
    return GuardianConsentRecorded(guardian_consent=body.granted)
