"""The privacy policy as data.

A :class:`Policy` says which purposes personal data may be used for, on which legal
basis, which data categories may serve which purpose and for how long, whom data
may be provided to, and what the user may ask for. Every purpose and rule keeps a
reference (``clause``) to the clause of the policy text it comes from, so that the
enforced data and the published prose can be checked against each other.

Models are frozen: a loaded policy is a value, shared freely between requests. A
policy is checked for consistency when it is built (see
:mod:`walletauth.policy.consistency`), so holding a ``Policy`` means holding a
consistent one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from walletauth.policy.consistency import policy_problems
from walletauth.policy.durations import parse_duration
from walletauth.policy.errors import PolicyError

Basis = Literal["necessary", "consent", "legal_obligation"]
"""Why a purpose may process data: needed to provide the service the user asked for,
the user's consent (optional purposes, off until granted: consent is never presumed),
or a legal obligation."""

FieldRule = Literal["keep", "ip_truncate", "ip_keyed_hash", "keyed_hash", "user_agent_family"]
"""How one field of a record is minimised before it is stored: kept as given, an IP
address truncated (IPv4 /24, IPv6 /48) or replaced by a keyed hash (HMAC-SHA256), any
other identifier replaced by a keyed hash, a user agent reduced to browser family and
major version."""

Clause = Annotated[str, Field(min_length=1)]
"""Where in the policy text a rule comes from, e.g. ``"ABCRECORDS 4"``."""


def _duration_from_text(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, timedelta):
        return value
    # Bare numbers would silently mean seconds to pydantic: refuse them.
    raise ValueError(f"{value!r} is not a duration: write e.g. '90d', '12w' or '1y'")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"retention must be longer than zero, got {value}")
    return value


Retention = Annotated[timedelta, BeforeValidator(_duration_from_text), AfterValidator(_positive)]
"""A positive retention period; in policy files written as ``"90d"``, ``"12w"``, ``"1y"``."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalizedText(_Frozen):
    """Japanese text quoted from the policy, and its English rendering."""

    ja: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Purpose(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: LocalizedText
    basis: Basis
    default_on: bool = False
    clause: Clause
    dpv: str | None = None
    """The W3C Data Privacy Vocabulary term that fits, e.g. ``dpv:ServiceProvision``."""

    @property
    def optional(self) -> bool:
        """The subject may refuse or withdraw it: only consent purposes are optional."""
        return self.basis == "consent"


class Category(_Frozen):
    """A kind of personal data, the purposes it may serve, and how long it is kept."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: LocalizedText
    clause: Clause
    retention: dict[str, Retention]
    """Purpose id -> how long a record of this category is kept for that purpose,
    counted from the record's last update. Its keys are exactly the purposes the
    category may serve."""
    fields: dict[str, FieldRule]
    """The only fields a record of this category may hold, and how each is minimised."""
    user_supplied: bool = False
    """Entered by the user (contact email, application URL...): the user may correct it."""
    disclosed_on_export: bool = True
    withheld_reason: LocalizedText | None = None
    """Why records of this category are not disclosed on export (quoted from the policy)."""
    withheld_clause: str | None = None
    """The clause ``withheld_reason`` is quoted from."""

    @property
    def purposes(self) -> frozenset[str]:
        return frozenset(self.retention)


class ThirdPartyGround(_Frozen):
    """One case in which data may be provided to a third party."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: LocalizedText
    clause: Clause
    requires_consent: bool = False
    """Provision on this ground needs the subject's prior consent, recorded under the
    ground's id (and stops when the subject stops third-party provision); legal
    exceptions do not."""
    categories: tuple[str, ...]
    """The only categories a provision on this ground may carry (empty: nothing linked to
    a subject, e.g. statistics that identify no one)."""


PROVISION_RECORD_RETENTION: Final = timedelta(days=3 * 365 + 1)
"""How long the record of a provision is kept unless the policy says otherwise: APPI
Art. 29(2) with the Enforcement Rules' Art. 21, 3 years for a record made per provision
(1 year only for records made in a contract's documents with the person); three years
hold at most one leap day."""


class ThirdPartyRules(_Frozen):
    clause: Clause
    grounds: tuple[ThirdPartyGround, ...]
    text: LocalizedText | None = None
    """The rule itself, quoted (e.g. "no provision without prior consent, except...")."""
    record_retention: Retention = PROVISION_RECORD_RETENTION
    """The operator's setting (no policy text sets it): how long each provision's record
    is kept, counted from the provision, through an erasure too (APPI Art. 29)."""


class JointUse(_Frozen):
    allowed: bool
    clause: Clause
    text: LocalizedText | None = None


class Outsourcing(_Frozen):
    """Entrusting data to service providers (not a provision to a third party)."""

    clause: Clause
    text: LocalizedText
    tasks: tuple[LocalizedText, ...] = ()


class AgeRule(_Frozen):
    """No collection from a user confirmed under ``guardian_consent_below`` years without a
    recorded guardian consent but the sign-in's wallet record and this rule's own records;
    an age confirmation comes before optional purposes."""

    guardian_consent_below: int = Field(gt=0)
    clause: Clause
    text: LocalizedText | None = None
    confirmation_category: str | None = None
    """The category in which an age confirmation is recorded."""
    guardian_consent_category: str | None = None
    """The category in which a guardian's consent is recorded."""


class Contact(_Frozen):
    organisation: LocalizedText
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    postal_address: str | None = None
    hours: LocalizedText | None = None
    clause: Clause


RightId = Literal["export", "erase", "correct", "restrict", "stop_third_party", "notify_purposes"]


class Right(_Frozen):
    """A request the subject may make (export, erase, correct, restrict, stop third party,
    be told the purposes)."""

    id: RightId
    clause: Clause
    text: LocalizedText | None = None
    """The sentence of the policy that grants it, quoted."""


class LoginRule(_Frozen):
    """What a successful sign-in stores, named by the policy's own ids."""

    purpose: str
    """The necessary purpose the wallet record is kept for (e.g. service provision / login)."""
    wallet_category: str
    """The category of the wallet record (fields such as chain_id, first/last sign-in)."""
    access_log_category: str | None = None
    """The category of access-log records; one is written for each purpose the category
    serves that the subject's state allows at that moment, and none otherwise."""


class Policy(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    version: str = Field(min_length=1)
    name: LocalizedText
    source: str
    """Where the policy text comes from (the operator's published page or file)."""
    purposes: dict[str, Purpose]
    categories: dict[str, Category]
    third_party: ThirdPartyRules
    joint_use: JointUse
    rights: tuple[Right, ...]
    contact: Contact
    login: LoginRule
    age: AgeRule | None = None
    outsourcing: Outsourcing | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        problems = policy_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # Ids come from callers and requests: anything that is not text is simply not an id
    # of this policy (an unhashable one would otherwise raise TypeError from the dict).

    def find_purpose(self, purpose_id: object) -> Purpose | None:
        return self.purposes.get(purpose_id) if isinstance(purpose_id, str) else None

    def find_category(self, category_id: object) -> Category | None:
        return self.categories.get(category_id) if isinstance(category_id, str) else None

    def purpose(self, purpose_id: str) -> Purpose:
        purpose = self.find_purpose(purpose_id)
        if purpose is None:
            raise PolicyError(
                "unknown_purpose", f"policy {self.id!r} has no purpose {purpose_id!r}"
            )
        return purpose

    def category(self, category_id: str) -> Category:
        category = self.find_category(category_id)
        if category is None:
            raise PolicyError(
                "unknown_category", f"policy {self.id!r} has no data category {category_id!r}"
            )
        return category

    def ground(self, ground_id: str) -> ThirdPartyGround:
        for ground in self.third_party.grounds:
            if ground.id == ground_id:
                return ground
        raise PolicyError(
            "unknown_ground", f"policy {self.id!r} has no third-party ground {ground_id!r}"
        )

    def allows(self, category_id: str, purpose_id: str) -> bool:
        """May records of this category be kept for this purpose at all?"""
        category = self.find_category(category_id)
        return category is not None and self.find_purpose(purpose_id) is not None and (
            purpose_id in category.retention
        )

    def retention(self, category_id: str, purpose_id: str) -> timedelta:
        """How long a record of ``category_id`` kept for ``purpose_id`` lives."""
        self.purpose(purpose_id)
        category = self.category(category_id)
        try:
            return category.retention[purpose_id]
        except KeyError:
            raise PolicyError(
                "purpose_not_allowed",
                f"policy {self.id!r} does not allow {category_id!r} for purpose {purpose_id!r}"
                f" (allowed: {sorted(category.retention)})",
            ) from None

    def requires_consent(self, purpose_id: str) -> bool:
        return self.purpose(purpose_id).basis == "consent"

    def categories_for(self, purpose_id: str) -> tuple[str, ...]:
        """The categories that may be kept for ``purpose_id``, in policy order."""
        self.purpose(purpose_id)
        return tuple(c.id for c in self.categories.values() if purpose_id in c.retention)

    @property
    def right_ids(self) -> frozenset[str]:
        return frozenset(right.id for right in self.rights)
