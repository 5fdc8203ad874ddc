"""``POST /me/inquiries`` and ``PUT /me/contact``: what ABCRECORDS 1 ②③ names (application
information — email address, URL — and inquiries), entered by the signed-in user.

Both write through the store's own paths, which decide with the policy (unknown category,
purpose not allowed, consent missing or on hold, suspended...) and minimise to the
category's declared fields before anything is kept; a refusal leaves nothing behind. A
record is tagged with one purpose: by default the necessary purpose the category serves
(answering the inquiry, providing the service); the user may name another the category
serves, e.g. a consent purpose they granted.

ABCRECORDS 9 makes providing information voluntary but lets the operator mark items
required; the policy's ``[[intakes]]`` (served on /policy) say which. ``POST /me/inquiries``
is the ``inquiry`` intake, ``PUT /me/contact`` the ``application`` intake. A required item
counts as supplied when the request carries it or the subject has it on record, usable now
(e.g. the contact email an inquiry is answered at, set earlier with ``PUT /me/contact``);
otherwise ``required_item_missing`` (422) names what is missing and nothing is written. A
policy without that intake (METALIVE) requires nothing beyond the request's schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from walletauth.policy import Policy
from walletauth.policy.errors import PolicyError
from walletauth.rights import RecordChange, RightsError
from walletauth.server.web.deps import PrincipalDep, RuntimeDep
from walletauth.server.web.problems import problem_responses
from walletauth.server.web.schemas import MAX_PURPOSE_CHARS
from walletauth.store import Store
from walletauth.store.corrections import apply_changes

router = APIRouter(prefix="/me", tags=["intake"])

INQUIRY_CATEGORY: Final = "inquiry"
INQUIRY_INTAKE: Final = "inquiry"
CONTACT_INTAKE: Final = "application"
"""The policy's ``[[intakes]]`` ids the two endpoints take data for."""
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
    description="Refused with `required_item_missing` (422), nothing kept, when the policy's"
    " `inquiry` intake requires an item neither sent nor on record (ABCRECORDS: the contact"
    " email, set first with PUT /me/contact).",
)
async def post_inquiry(body: InquiryIn, runtime: RuntimeDep,
                       principal: PrincipalDep) -> IntakeAnswer:
    purpose = body.purpose or _default_purpose(runtime.policy, INQUIRY_CATEGORY)
    record_id = await runtime.gateway.run(_send_inquiry, principal.address, body.message,
                                          purpose, runtime.clock())
    return IntakeAnswer(kept=[Kept(category=INQUIRY_CATEGORY, purpose=purpose,
                                   record_id=record_id)])


@router.put(
    "/contact", response_model=IntakeAnswer,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 500, 503),
    summary="Set the contact email and/or application URL (each optional)",
    description="Each field given replaces the value kept for its purpose; a field left out"
    " is left as it is (delete one with POST /me/corrections). All or nothing: a field the"
    " policy does not allow (`unknown_category`: METALIVE keeps no URL) or a purpose not"
    " usable now refuses the whole request, as does an item the policy's `application`"
    " intake requires that is neither sent nor on record (`required_item_missing`:"
    " ABCRECORDS requires the email, so a URL alone needs an email already kept).",
)
async def put_contact(body: ContactIn, runtime: RuntimeDep,
                      principal: PrincipalDep) -> IntakeAnswer:
    given = {name: value for name, value in (("email", body.email), ("url", body.url))
             if value is not None}
    if not given:
        raise RightsError("invalid_argument", "give an email, a url or both")
    return await runtime.gateway.run(_set_contact, principal.address, given, body.purpose,
                                     runtime.clock())


def _default_purpose(policy: Policy, category_id: str) -> str:
    """The necessary purpose ``category_id`` serves, else its first purpose (refused by
    the store if the subject's state does not allow it)."""
    category = policy.category(category_id)
    necessary = [p for p in category.retention if policy.purpose(p).basis == "necessary"]
    return (necessary or list(category.retention))[0]


def _send_inquiry(store: Store, address: str, message: str, purpose: str,
                  now: datetime) -> int:
    _require_intake_items(store, address, INQUIRY_INTAKE,
                          {INQUIRY_CATEGORY: {"message": message}}, now)
    return store.put_record(address, INQUIRY_CATEGORY, purpose,
                            {"message": message, "received_at": now.isoformat()},
                            now=now, source="inquiry")


def _require_intake_items(store: Store, address: str, intake_id: str,
                          given: Mapping[str, Mapping[str, object]], now: datetime) -> None:
    """Refuse a submission lacking an item the policy's intake requires (sent or on
    record), before anything is written: what /policy marks required is required."""
    intake = store.policy.find_intake(intake_id)
    if intake is None:  # the policy names no such intake: only the schema's own rules
        return
    needed = {reference.partition(".")[0] for reference in intake.required}
    supplied = {**_on_record(store, address, needed - given.keys(), now), **given}
    missing = intake.missing(supplied)
    if missing:
        raise PolicyError(
            "required_item_missing",
            f"required at the policy's {intake.id!r} intake ({intake.clause}, the operator's"
            f" setting) but neither sent nor on record: {', '.join(missing)}; nothing was kept")


def _on_record(store: Store, address: str, categories: Iterable[str],
               now: datetime) -> dict[str, dict[str, object]]:
    """The fields the subject has on record in each of ``categories``, for any purpose they
    may be used for now (``store.records`` hands out nothing suspended or unconsented)."""
    found: dict[str, dict[str, object]] = {}
    for category_id in categories:
        category = store.policy.find_category(category_id)
        if category is None:
            continue
        fields: dict[str, object] = {}
        for purpose in category.retention:
            for record in store.records(address, purpose, now=now, category=category_id):
                fields.update(record.data)
        if fields:
            found[category_id] = fields
    return found


def _set_contact(store: Store, address: str, given: dict[str, str], purpose: str | None,
                 now: datetime) -> IntakeAnswer:
    policy = store.policy
    _require_intake_items(store, address, CONTACT_INTAKE,
                          {CONTACT_FIELDS[name]: {name: value} for name, value in given.items()},
                          now)
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

