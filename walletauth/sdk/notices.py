"""Notices walletauth sends to the services that use it, and their JSON form.

A notice tells a service that something happened to a data subject that the service
must act on: the subject erased their data, restricted its use, or withdrew consent
for some purposes; or that the policy itself changed (``policy.changed``, about no
subject: consents given to the changed purposes' earlier text are on hold until the
subjects give them again: ask walletauth (``WalletAuthClient.allowed``, which answers
``policy_changed`` meanwhile) before using data for them).
The body follows the payload shape Standard Webhooks recommends,
``{"type": ..., "timestamp": ..., "data": {...}}``.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from eth_utils import is_checksum_address
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from walletauth.policy import Policy
from walletauth.sdk.errors import SdkError

NoticeType = Literal[
    "subject.erased",  # delete everything held about the subject
    "subject.restricted",  # keep the data but stop using it (beyond storage)
    "subject.unrestricted",  # the restriction was lifted
    "consent.withdrawn",  # stop processing for ``purposes``
    "consent.granted",  # processing for ``purposes`` may start
    "policy.changed",  # a new policy version; ``purposes`` changed: consents to them on hold
]

SUBJECTLESS_TYPES: Final = frozenset({"policy.changed"})
"""Notices about the policy rather than about one subject: their ``subject`` is None."""

NOTICE_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,128}$"
"""Also the webhook-id: no '.' (the signed content is ``id.timestamp.body``)."""

MAX_NOTICE_BYTES: Final = 64 * 1024

PurposeId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class PolicyRef(BaseModel):
    """Which version of which policy the event was decided under."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    version: str = Field(min_length=1, max_length=64)

    @classmethod
    def of(cls, policy: Policy) -> PolicyRef:
        return cls(id=policy.id, version=policy.version)


class Notice(BaseModel):
    """One event about one data subject, as a service receives it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=NOTICE_ID_PATTERN)
    """Unique per event and unchanged across delivery retries: the idempotency key."""
    type: NoticeType
    subject: str | None = None
    """The wallet address (EIP-55) the event is about; None for ``policy.changed``."""
    purposes: tuple[PurposeId, ...] = Field(default=(), max_length=64)
    """Purpose ids of the policy the event concerns; empty when it concerns them all."""
    occurred_at: AwareDatetime
    policy: PolicyRef

    @field_validator("subject")
    @classmethod
    def _checksummed(cls, subject: str | None) -> str | None:
        if subject is not None and not is_checksum_address(subject):
            raise ValueError("subject must be an EIP-55 checksummed address")
        return subject

    @model_validator(mode="after")
    def _subject_matches_type(self) -> Notice:
        if (self.subject is None) != (self.type in SUBJECTLESS_TYPES):
            raise ValueError(f"a {self.type} notice must {'not ' * (self.subject is not None)}"
                             "name a subject")
        return self

    @field_validator("occurred_at")
    @classmethod
    def _in_utc(cls, occurred_at: datetime) -> datetime:
        return occurred_at.astimezone(UTC)

    @classmethod
    def new(
        cls,
        type: NoticeType,
        subject: str | None,
        *,
        policy: PolicyRef,
        occurred_at: datetime,
        purposes: tuple[str, ...] = (),
    ) -> Notice:
        """A notice with a fresh random id."""
        return cls(
            id=f"ntc_{secrets.token_urlsafe(18)}",
            type=type,
            subject=subject,
            purposes=purposes,
            occurred_at=occurred_at,
            policy=policy,
        )


def notice_body(notice: Notice) -> bytes:
    """The minified JSON body a notice is sent as."""
    document = {
        "type": notice.type,
        "timestamp": notice.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "id": notice.id,
            "subject": notice.subject,
            "purposes": list(notice.purposes),
            "policy": {"id": notice.policy.id, "version": notice.policy.version},
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode()


def notice_from_body(body: bytes) -> Notice:
    """Read a body written by :func:`notice_body`; unknown extra members are ignored,
    so the sender may add information without breaking older receivers."""
    if len(body) > MAX_NOTICE_BYTES:
        raise SdkError("notice_malformed", f"the body is larger than {MAX_NOTICE_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise SdkError("notice_malformed", f"the body is not JSON: {error}") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise SdkError("notice_malformed", "the body is not a {type, timestamp, data} object")
    fields: dict[str, Any] = {
        "type": document.get("type"),
        "occurred_at": document.get("timestamp"),
        **{name: data.get(name) for name in ("id", "subject", "purposes", "policy")},
    }
    try:
        return Notice.model_validate(fields)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise SdkError("notice_malformed", f"the body is not a notice: {problems}") from None
