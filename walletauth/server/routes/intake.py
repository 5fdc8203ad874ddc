"""``POST /me/inquiries`` and ``PUT /me/contact``: what ABCRECORDS 1 ②③ names (application
information — email address, URL — and inquiries), entered by the signed-in user.

Both write through the store's own paths, which decide with the policy (unknown category,
purpose not allowed, consent missing or on hold, suspended...) and minimise to the
category's declared fields before anything is kept; a refusal leaves nothing behind. A
record is tagged with one purpose: by default the necessary purpose the category serves
(answering the inquiry, providing the service); the user may name another the category
serves, e.g. a consent purpose they granted. Every field is optional but the inquiry's
message: ABCRECORDS 9 makes providing information voluntary.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from walletauth.policy import Policy
from walletauth.rights import RecordChange, RightsError
from walletauth.server.deps import PrincipalDep, RuntimeDep
from walletauth.server.problems import problem_responses
from walletauth.server.runtime import Runtime
from walletauth.server.schemas import MAX_PURPOSE_CHARS
from walletauth.store.subject_ops import apply_changes

router = APIRouter(prefix="/me", tags=["intake"])

INQUIRY_CATEGORY: Final = "inquiry"
CONTACT_FIELDS: Final = {"email": "contact_email", "url": "application_url"}
"""Request field -> the policy category that keeps it (and the record field's name)."""

MAX_INQUIRY_CHARS: Final = 4000
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048,
                                       pattern=r"^https?://[^\s/$.?#][^\s]*$")]
PurposeId = Annotated[str, Field(max_length=MAX_PURPOSE_CHARS)]


class InquiryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=MAX_INQUIRY_CHARS)] = Field(
        description="Required: the inquiry itself")
    purpose: PurposeId | None = Field(
        default=None, description="Optional: the purpose to keep it for; by default the"
        " necessary purpose the policy's inquiry category serves (answering it)")


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email | None = Field(default=None, description="Optional: contact email address")
    url: Url | None = Field(default=None, description="Optional: application URL (http/https)")
    purpose: PurposeId | None = Field(
        default=None, description="Optional: the purpose to keep them for; by default the"
        " necessary purpose each category serves")


class Kept(BaseModel):
    category: str
    purpose: str
    record_id: int


class IntakeAnswer(BaseModel):
    kept: list[Kept] = Field(description="The records written, each with its purpose")


@router.post(
    "/inquiries", status_code=201, response_model=IntakeAnswer,
    responses=problem_responses(400, 401, 403, 409, 413, 422, 500, 503),
    summary="Send an inquiry (kept, purpose-tagged, as the policy's inquiry category)",
)
async def post_inquiry(body: InquiryIn, runtime: RuntimeDep,
                       principal: PrincipalDep) -> IntakeAnswer:
    purpose = body.purpose or _default_purpose(runtime.policy, INQUIRY_CATEGORY)
    now = runtime.clock()
    record_id = await runtime.store_calls.run(
        runtime.store.put_record, principal.address, INQUIRY_CATEGORY, purpose,
        {"message": body.message, "received_at": now.isoformat()}, now=now, source="inquiry")
    return IntakeAnswer(kept=[Kept(category=INQUIRY_CATEGORY, purpose=purpose,
                                   record_id=record_id)])


@router.put(
    "/contact", response_model=IntakeAnswer,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 500, 503),
    summary="Set the contact email and/or application URL (each optional)",
    description="Each field given replaces the value kept for its purpose; a field left out"
    " is left as it is (delete one with POST /me/corrections). All or nothing: a field the"
    " policy does not allow (`unknown_category`: METALIVE keeps no URL) or a purpose not"
    " usable now refuses the whole request.",
)
async def put_contact(body: ContactIn, runtime: RuntimeDep,
                      principal: PrincipalDep) -> IntakeAnswer:
    given = {name: value for name, value in (("email", body.email), ("url", body.url))
             if value is not None}
    if not given:
        raise RightsError("invalid_argument", "give an email, a url or both")
    return await runtime.store_calls.run(_set_contact, runtime, principal.address, given,
                                         body.purpose)


def _default_purpose(policy: Policy, category_id: str) -> str:
    """The necessary purpose ``category_id`` serves, else its first purpose (refused by
    the store if the subject's state does not allow it)."""
    category = policy.category(category_id)
    necessary = [p for p in category.retention if policy.purpose(p).basis == "necessary"]
    return (necessary or list(category.retention))[0]


def _set_contact(runtime: Runtime, address: str, given: dict[str, str],
                 purpose: str | None) -> IntakeAnswer:
    store, now, policy = runtime.store, runtime.clock(), runtime.policy
    changes: list[RecordChange] = []
    tagged: list[tuple[str, str]] = []
    for name, value in given.items():
        category = CONTACT_FIELDS[name]
        chosen = purpose or _default_purpose(policy, category)
        changes.append(RecordChange("add", category=category, purpose=chosen,
                                    data={name: value}))
        tagged.append((category, chosen))
        # The value it replaces goes in the same transaction.
        changes.extend(RecordChange("delete", record_id=record.id) for record in
                       store.records(address, chosen, now=now, category=category))
    outcome = apply_changes(store, address, changes, editable=_user_supplied(policy),
                            now=now)
    if outcome.refused:
        index, reason = outcome.refused[0]
        raise RightsError(reason, f"change {index} refused ({reason}); nothing was changed")
    return IntakeAnswer(kept=[Kept(category=category, purpose=chosen, record_id=record_id)
                              for (category, chosen), record_id in zip(tagged, outcome.added,
                                                                       strict=True)])


def _user_supplied(policy: Policy) -> frozenset[str]:
    return frozenset(c.id for c in policy.categories.values() if c.user_supplied)

