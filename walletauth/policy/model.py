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

import hashlib
import json
from collections.abc import Mapping
from datetime import date, timedelta
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
    basis_clause: Clause | None = None
    """The clause whose words state the basis; without one the basis is the operator's
    setting, and ``/policy`` labels it so (neither shipped text names a basis)."""
    default_on: bool = False
    clause: Clause
    dpv: str | None = None
    """The W3C Data Privacy Vocabulary term that fits, e.g. ``dpv:ServiceProvision``."""
    legal_source: LocalizedText | None = None
    """The law that imposes the duty, named (e.g. 法人税法第126条): required for basis
    ``legal_obligation`` and refused for the others. Only such a named duty keeps records
    through an erasure."""

    @property
    def optional(self) -> bool:
        """The subject may refuse or withdraw it: only consent purposes are optional."""
        return self.basis == "consent"


class Category(_Frozen):
    """A kind of personal data, the purposes it may serve, and how long it is kept."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: LocalizedText
    """The words of the policy that cover this data, quoted (ja) and translated (en)."""
    label: LocalizedText | None = None
    """What a record of it holds, named plainly in both languages (e.g. ウォレットアドレス),
    where the quoted text names it only in general terms."""
    clause: Clause
    retention: dict[str, Retention]
    """Purpose id -> how long a record of this category is kept for that purpose,
    counted from the record's last update. Its keys are exactly the purposes the
    category may serve."""
    retention_clause: Clause | None = None
    """The clause whose words state these periods; without one they are the operator's
    setting, and ``/policy`` labels them so (neither shipped text sets a period)."""
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
    requires_consent_set_by: Literal["policy", "operator"] = "policy"
    """``"operator"`` when the text lists the ground without asking for consent and the
    operator requires it all the same; ``/policy`` labels it so."""
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
    """Whether data may be used jointly with others. A provision on the ground
    ``"joint_use"`` (:data:`~walletauth.policy.consistency.JOINT_USE_GROUND`) is joint
    use, refused with ``joint_use_not_allowed`` unless ``allowed``."""

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


class Statement(_Frozen):
    """What the policy says that no other entry carries (cookies, security measures,
    optionality, changes...), quoted whole and served on ``/policy``, so that every clause
    of the text is served in its own words."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    clause: Clause
    text: LocalizedText
    items: tuple[LocalizedText, ...] = ()
    """The list the text gives under the sentence, quoted item by item."""


FieldRef = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")]
"""A category (``"wallet_address"``) or one of its fields (``"contact_email.email"``)."""


class Intake(_Frozen):
    """A point where the subject hands data over, and which of it is required there and
    which optional. The split is the operator's setting: the texts say only that providing
    data is voluntary and what follows when a required item is missing."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    clause: Clause
    """The clause about providing data being optional (e.g. ABCRECORDS 9)."""
    label: LocalizedText
    """The intake, named in our words (利用申請, お問い合わせ...), not quoted."""
    required: tuple[FieldRef, ...] = ()
    optional: tuple[FieldRef, ...] = ()

    def missing(self, supplied: Mapping[str, Mapping[str, object]]) -> tuple[str, ...]:
        """The required items ``supplied`` (category -> its fields) lacks: an absent
        category, or a field absent, ``None`` or blank. An intake endpoint refuses with a
        4xx naming them, so that what /policy calls required is what is required."""
        return tuple(ref for ref in self.required if not _has(supplied, ref))


def _has(supplied: Mapping[str, Mapping[str, object]], reference: str) -> bool:
    category, _, field = reference.partition(".")
    if category not in supplied:
        return False
    if not field:
        return True
    value = supplied[category].get(field)
    return value is not None and not (isinstance(value, str) and not value.strip())


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


class OperatorNote(_Frozen):
    """Text the operator wrote (a change summary), in Japanese and English: not a quote
    of the published policy, and shown as the operator's own words."""

    ja: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Amendment(_Frozen):
    """How the policy itself says it may be changed (ABCRECORDS 11, METALIVE 変更)."""

    clause: Clause
    text: LocalizedText


class PolicyChange(_Frozen):
    """One entry of the change history: a version, the day it took effect, and what
    changed, per purpose (the operator's summary)."""

    version: str = Field(min_length=1, max_length=64)
    date: date
    summary: OperatorNote | None = None
    purposes: dict[str, OperatorNote] = Field(default_factory=dict)
    """Purpose (or consent ground) id -> what changed in its text. A consent given before
    this version to a purpose whose text changed is on hold until given again (the store
    sees that from the text's digest, :meth:`Policy.consent_digests`; this is what the
    consent screen says about it)."""
    clause: str | None = None
    """Where the published text states this version's date, if it does (e.g. METALIVE's
    "2023 年8 月8 日改訂"); without it the date is the operator's setting."""


class Policy(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    version: str = Field(min_length=1, max_length=64)
    effective_date: date | None = None
    """When this version took effect; the operator's setting unless the text states it
    (see :attr:`effective_date_clause`)."""
    effective_date_clause: str | None = None
    changes: tuple[PolicyChange, ...] = ()
    """The change history, oldest first; its last entry, if any, is this version."""
    amendment: Amendment | None = None
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
    statements: tuple[Statement, ...] = ()
    intakes: tuple[Intake, ...] = ()
    original_text: str | None = Field(default=None, repr=False, exclude=True)
    """The published (Japanese) text the policy transcribes, whole: the loader reads it
    from ``<name>.ja.txt`` beside the policy file. Served at ``GET /policy/text``; the
    clause references link into it."""

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

    def find_intake(self, intake_id: object) -> Intake | None:
        return next((i for i in self.intakes if i.id == intake_id), None)

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
    def clauses(self) -> tuple[str, ...]:
        """Every clause reference the policy makes, each once, in policy order."""
        references = [
            *(p.clause for p in self.purposes.values()),
            *(p.basis_clause for p in self.purposes.values()),
            *(c.clause for c in self.categories.values()),
            *(c.retention_clause for c in self.categories.values()),
            *(c.withheld_clause for c in self.categories.values()),
            self.third_party.clause,
            *(g.clause for g in self.third_party.grounds),
            self.joint_use.clause,
            *(r.clause for r in self.rights),
            self.contact.clause,
            self.age.clause if self.age else None,
            self.outsourcing.clause if self.outsourcing else None,
            *(s.clause for s in self.statements),
            *(i.clause for i in self.intakes),
        ]
        return tuple(dict.fromkeys(r for r in references if r))

    @property
    def legal_duties(self) -> tuple[str, ...]:
        """Purposes resting on a named legal obligation: the only ones whose live records
        an erasure keeps (a purpose the law does not impose keeps nothing)."""
        return tuple(
            p.id for p in self.purposes.values()
            if p.basis == "legal_obligation" and p.legal_source is not None
        )

    @property
    def right_ids(self) -> frozenset[str]:
        return frozenset(right.id for right in self.rights)

    def consent_digests(self) -> dict[str, str]:
        """Optional purpose and consent ground id -> digest of the text a consent to it
        agrees to. A consent recorded with another digest was given to other words, so
        it no longer counts (it is on hold until given again)."""
        texts: dict[str, LocalizedText] = {
            purpose.id: purpose.text for purpose in self.purposes.values() if purpose.optional
        }
        texts.update({ground.id: ground.text for ground in self.third_party.grounds
                      if ground.requires_consent})
        return {entry_id: text_digest(text) for entry_id, text in texts.items()}

    @property
    def effective_on(self) -> date | None:
        """When this version took effect: ``effective_date``, else its change's date."""
        if self.effective_date is not None or not self.changes:
            return self.effective_date
        return self.changes[-1].date

    def change_of(self, entry_id: str) -> PolicyChange | None:
        """The latest change entry that changed ``entry_id``'s text, if any."""
        return next((c for c in reversed(self.changes) if entry_id in c.purposes), None)


def text_digest(text: LocalizedText) -> str:
    """A short, stable digest of what a subject was shown (both languages: a consent
    may have been given to either)."""
    canonical = json.dumps([text.ja, text.en], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
