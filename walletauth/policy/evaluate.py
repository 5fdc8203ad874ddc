"""Pure decisions: may this record be written, these records be used, this consent be
changed, these data be provided to a third party? Used by the store, the server and the
SDK alike, so that all of them refuse for the same reasons.

The decisions never raise for a refusal: they answer ``UseDecision(False, reason)`` with
one of these stable reason codes:

``unknown_purpose``           no purpose (or consent ground) by that id
``unknown_category``          no data category by that id
``unknown_ground``            no third-party ground by that id
``category_not_for_ground``   the third-party ground does not carry that category
``purpose_not_allowed``       the category may not be kept for that purpose
``consent_required``          an optional purpose or consent ground without consent
``purpose_suspended``         the subject suspended the purpose (利用停止)
``age_confirmation_required`` the policy has an age rule and no age confirmation is on
                              record: optional purposes wait for it
``guardian_consent_required`` the subject is below the guardian age and no guardian
                              consent is on record
``third_party_stopped``       the subject stopped third-party provision
``not_a_consent_purpose``     consent cannot be granted or withdrawn for a necessary or
                              legal purpose, or for a ground that needs no consent
``policy_changed``            the consent was given to a text of the purpose (or ground)
                              that has changed since: on hold until given again
``joint_use_not_allowed``     a provision as joint use (ground ``joint_use``) under a
                              policy whose ``joint_use.allowed`` is false

Rules, in the order they are checked:

* Legal-obligation purposes are always usable: neither consent nor suspension can lift a
  duty the law imposes.
* Necessary purposes need no consent but may be suspended by the subject.
* Consent purposes need an effective consent (explicit, else the default, which a valid
  policy keeps off) given to the purpose's current text (a consent to words that have
  changed since is on hold: ``policy_changed``; necessary purposes go on) and, under a
  policy with an age rule, an age confirmation and, below the guardian age, a guardian's
  consent. Necessary purposes are not age-gated: signing
  in and recording the age confirmation itself must stay possible.
* Below the guardian age without a guardian's consent nothing is collected (any basis but
  a legal obligation) except the sign-in's own wallet record and the age rule's records
  (the age answer, the guardian's consent): METALIVE's 13 歳未満の個人から法定代理人の
  同意なく個人に関する情報を収集しないよう留意します covers every piece of information,
  not only optional purposes. :func:`decide_collection` refuses the rest with
  ``guardian_consent_required``; :func:`decide_use` does not (data already kept for a
  necessary purpose stays usable), so signing in stays possible.
* Withdrawing a consent is always allowed; granting one passes the age rule first.
* Third-party provision carries only the categories its ground names (statistics only as
  results that identify no one, a claimed-damage disclosure only the poster's data about
  the post...). Within them, a ground that needs no consent is always allowed; a consent
  ground needs that ground's consent (recorded under the ground's id in
  ``SubjectState.consents``), no stop, and passes the age rule. The ground ``joint_use``
  is joint use, allowed only where the policy's ``[joint_use]`` allows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

from walletauth.policy.consistency import JOINT_USE_GROUND
from walletauth.policy.minimise import minimise
from walletauth.policy.model import Policy, Purpose

ReasonCode = Literal[
    "unknown_purpose",
    "unknown_category",
    "unknown_ground",
    "category_not_for_ground",
    "purpose_not_allowed",
    "consent_required",
    "purpose_suspended",
    "age_confirmation_required",
    "guardian_consent_required",
    "third_party_stopped",
    "not_a_consent_purpose",
    "policy_changed",
    "joint_use_not_allowed",
]
REASON_CODES: Final[frozenset[str]] = frozenset(get_args(ReasonCode))


@dataclass(frozen=True, slots=True)
class SubjectState:
    """What is on record about one subject that decisions depend on."""

    consents: Mapping[str, bool]
    """Explicit grants/withdrawals by purpose id (and by consent-ground id)."""
    suspended: frozenset[str] = frozenset()
    """Purposes whose use the subject suspended."""
    age_confirmed: bool = False
    """An age confirmation is on record."""
    under_guardian_age: bool = False
    """The confirmed age is below ``policy.age.guardian_consent_below``."""
    guardian_consent: bool = False
    """A guardian consent is on record."""
    third_party_stopped: bool = False
    outdated: frozenset[str] = frozenset()
    """Purposes and consent grounds granted under a text that has changed since (see
    :meth:`walletauth.policy.Policy.consent_digests`): on hold until granted again."""


@dataclass(frozen=True, slots=True)
class UseDecision:
    allowed: bool
    reason: ReasonCode | None
    """A stable code when refused, ``None`` when allowed."""


ALLOWED: Final = UseDecision(allowed=True, reason=None)


def _refused(reason: ReasonCode) -> UseDecision:
    return UseDecision(allowed=False, reason=reason)


def effective_consents(
    policy: Policy, explicit: Mapping[str, bool], outdated: frozenset[str] = frozenset()
) -> dict[str, bool]:
    """Every purpose of ``policy`` -> whether it is on: necessary and legal purposes
    always, consent purposes as explicitly granted or withdrawn, else by default (off);
    a consent given to a text that has changed since (``outdated``) is off until given
    again."""
    return {
        purpose.id: _consented(purpose, explicit) and purpose.id not in outdated
        for purpose in policy.purposes.values()
    }


def _consented(purpose: Purpose, explicit: Mapping[str, bool]) -> bool:
    if not purpose.optional:
        return True
    return bool(explicit.get(purpose.id, purpose.default_on))


def decide_use(policy: Policy, purpose: str, state: SubjectState) -> UseDecision:
    """May records kept for ``purpose`` be used or read now?"""
    entry = policy.find_purpose(purpose)
    if entry is None:
        return _refused("unknown_purpose")
    if entry.basis == "legal_obligation":
        return ALLOWED
    if purpose in state.suspended:
        return _refused("purpose_suspended")
    if not entry.optional:
        return ALLOWED
    if purpose in state.outdated:
        return _refused("policy_changed")
    if not _consented(entry, state.consents):
        return _refused("consent_required")
    return _age_gate(policy, state)


def decide_collection(
    policy: Policy, category: str, purpose: str, state: SubjectState
) -> UseDecision:
    """May a new record of ``category`` be written for ``purpose``?"""
    if policy.find_category(category) is None:
        return _refused("unknown_category")
    if policy.find_purpose(purpose) is None:
        return _refused("unknown_purpose")
    if not policy.allows(category, purpose):
        return _refused("purpose_not_allowed")
    return decide_allowed_collection(policy, category, purpose, state)


def decide_allowed_collection(
    policy: Policy, category: str, purpose: str, state: SubjectState
) -> UseDecision:
    """:func:`decide_collection` for a pair the policy allows (known category and purpose,
    ``policy.allows(category, purpose)``), without checking that again: what a sign-in's
    plan asks per sign-in for pairs it looked up once."""
    if (
        state.under_guardian_age
        and not state.guardian_consent
        and policy.age is not None
        and policy.purposes[purpose].basis != "legal_obligation"
        and not _kept_before_guardian_consent(policy, category, purpose)
    ):
        return _refused("guardian_consent_required")
    return decide_use(policy, purpose, state)


def _kept_before_guardian_consent(policy: Policy, category: str, purpose: str) -> bool:
    """What may be kept about a subject below the guardian age before a guardian
    consents: the sign-in's wallet record and the age rule's own records."""
    age = policy.age
    if age is not None and category in (age.confirmation_category,
                                        age.guardian_consent_category):
        return True
    return category == policy.login.wallet_category and purpose == policy.login.purpose


def decide_consent_change(
    policy: Policy, purpose: str, granted: bool, state: SubjectState
) -> UseDecision:
    """May the subject grant (``granted``) or withdraw consent for ``purpose``, which may
    also be the id of a third-party ground that needs consent?"""
    entry = policy.find_purpose(purpose)
    ground = next((g for g in policy.third_party.grounds if g.id == purpose), None)
    if entry is None and ground is None:
        return _refused("unknown_purpose")
    if (entry is not None and not entry.optional) or (
        ground is not None and not ground.requires_consent
    ):
        return _refused("not_a_consent_purpose")
    if not granted:
        return ALLOWED
    if ground is not None and state.third_party_stopped:
        # The standing request to stop provision wins until the subject lifts it.
        return _refused("third_party_stopped")
    return _age_gate(policy, state)


def decide_provision(
    policy: Policy, ground_id: str, state: SubjectState, *, categories: Iterable[str]
) -> UseDecision:
    """May data of ``categories`` be provided to a third party on ``ground_id`` now? The
    ground ``joint_use`` is joint use, which only the policy's ``[joint_use]`` allows."""
    if ground_id == JOINT_USE_GROUND and not policy.joint_use.allowed:
        return _refused("joint_use_not_allowed")
    names = tuple(categories)
    ground = next((g for g in policy.third_party.grounds if g.id == ground_id), None)
    if ground is None and ground_id != JOINT_USE_GROUND:
        return _refused("unknown_ground")
    if any(policy.find_category(name) is None for name in names):
        return _refused("unknown_category")
    if ground is None:  # joint use the policy allows: its [joint_use] names what is shared
        return ALLOWED
    if not set(names) <= set(ground.categories):
        return _refused("category_not_for_ground")
    if not ground.requires_consent:
        return ALLOWED
    if state.third_party_stopped:
        return _refused("third_party_stopped")
    if ground_id in state.outdated:
        return _refused("policy_changed")
    if not state.consents.get(ground_id, False):
        return _refused("consent_required")
    return _age_gate(policy, state)


def _age_gate(policy: Policy, state: SubjectState) -> UseDecision:
    """The age rule for optional processing: a confirmation first, then, below the
    guardian age, a guardian's consent."""
    if policy.age is None:
        return ALLOWED
    if not state.age_confirmed:
        return _refused("age_confirmation_required")
    if state.under_guardian_age and not state.guardian_consent:
        return _refused("guardian_consent_required")
    return ALLOWED


__all__ = [
    "ALLOWED",
    "REASON_CODES",
    "ReasonCode",
    "SubjectState",
    "UseDecision",
    "decide_allowed_collection",
    "decide_collection",
    "decide_consent_change",
    "decide_provision",
    "decide_use",
    "effective_consents",
    "minimise",
]
