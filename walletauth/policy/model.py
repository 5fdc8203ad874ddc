"""The privacy policy as data.

A :class:`Policy` says which purposes personal data may be used for, on which legal
basis, which data categories may serve which purpose and for how long, whom data
may be provided to, and what the user may ask for. Every purpose and rule keeps a
reference (``clause``) to the clause of the policy text it comes from, so that the
enforced data and the published prose can be checked against each other.

Models are frozen: a loaded policy is a value, shared freely between requests.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from walletauth.policy.errors import PolicyError

Basis = Literal["necessary", "consent", "legal_obligation"]
"""Why a purpose may process data: needed to provide the service the user asked for,
the user's consent (optional purposes, off until granted unless ``default_on``), or a
legal obligation."""

FieldRule = Literal["keep", "ip_truncate", "ip_keyed_hash", "user_agent_family"]
"""How one field of a record is minimised before it is stored: kept as given, an IP
address truncated (IPv4 /24, IPv6 /48) or replaced by a keyed hash, a user agent
reduced to browser family and major version."""


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
    clause: str = Field(min_length=1)
    dpv: str | None = None
    """The W3C Data Privacy Vocabulary term that fits, e.g. ``dpv:ServiceProvision``."""


class Category(_Frozen):
    """A kind of personal data, the purposes it may serve, and how long it is kept."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: LocalizedText
    clause: str = Field(min_length=1)
    retention: dict[str, timedelta]
    """Purpose id -> how long a record of this category is kept for that purpose.
    Its keys are exactly the purposes the category may serve."""
    fields: dict[str, FieldRule]
    """The only fields a record of this category may hold, and how each is minimised."""
    user_supplied: bool = False
    """Entered by the user (contact email, application URL...): the user may correct it."""
    disclosed_on_export: bool = True
    withheld_reason: LocalizedText | None = None
    """Why records of this category are not disclosed on export (with the clause)."""

    @property
    def purposes(self) -> frozenset[str]:
        return frozenset(self.retention)


class ThirdPartyGround(_Frozen):
    """One case in which data may be provided to a third party."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: LocalizedText
    clause: str = Field(min_length=1)
    requires_consent: bool = False
    """Provision on this ground needs the subject's prior consent (and stops when the
    subject stops third-party provision); legal exceptions do not."""


class ThirdPartyRules(_Frozen):
    clause: str
    grounds: tuple[ThirdPartyGround, ...]


class JointUse(_Frozen):
    allowed: bool
    clause: str


class AgeRule(_Frozen):
    """No optional collection from a user under ``guardian_consent_below`` years without
    a recorded guardian consent; an age confirmation comes before optional purposes."""

    guardian_consent_below: int = Field(gt=0)
    clause: str


class Contact(_Frozen):
    organisation: LocalizedText
    email: str
    postal_address: str | None = None
    hours: LocalizedText | None = None
    clause: str


class Right(_Frozen):
    """A request the subject may make (export, erase, correct, restrict, stop third party)."""

    id: Literal["export", "erase", "correct", "restrict", "stop_third_party"]
    clause: str


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

    def purpose(self, purpose_id: str) -> Purpose:
        try:
            return self.purposes[purpose_id]
        except KeyError:
            raise PolicyError(
                "unknown_purpose", f"policy {self.id!r} has no purpose {purpose_id!r}"
            ) from None

    def category(self, category_id: str) -> Category:
        try:
            return self.categories[category_id]
        except KeyError:
            raise PolicyError(
                "unknown_category", f"policy {self.id!r} has no data category {category_id!r}"
            ) from None

    def allows(self, category_id: str, purpose_id: str) -> bool:
        """May records of this category be kept for this purpose at all?"""
        category = self.categories.get(category_id)
        return category is not None and purpose_id in category.retention

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
