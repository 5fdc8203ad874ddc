"""Decisions on collection, use, consent changes and third-party provision, table-driven
under both shipped policies: every reason code is reached under each policy (the age
codes only under METALIVE, the policy with an age rule)."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from tests.policy.helpers import metalive_with_bookkeeping_toml
from walletauth.policy import (
    REASON_CODES,
    SubjectState,
    UseDecision,
    decide_collection,
    decide_consent_change,
    decide_provision,
    decide_use,
    effective_consents,
    load_policy,
    parse_policy,
)

NOBODY = SubjectState(consents={})
ADULT = SubjectState(consents={}, age_confirmed=True)
CHILD = SubjectState(consents={}, age_confirmed=True, under_guardian_age=True)


def state(
    *consented: str, base: SubjectState = NOBODY, suspended=(), stopped=False, guardian=False,
    outdated=(),
):
    return SubjectState(
        outdated=frozenset(outdated),
        consents={purpose: True for purpose in consented},
        suspended=frozenset(suspended),
        age_confirmed=base.age_confirmed,
        under_guardian_age=base.under_guardian_age,
        guardian_consent=guardian,
        third_party_stopped=stopped,
    )


class Case(NamedTuple):
    policy: str
    decision: str  # "use" | "collect" | "grant" | "withdraw" | "provide"
    target: tuple[str, ...]  # (purpose,) / (category, purpose) / (ground, *categories)
    state: SubjectState
    reason: str | None  # None: allowed


def _decide(case: Case):
    policy = load_policy(case.policy)
    match case.decision:
        case "use":
            return decide_use(policy, *case.target, case.state)
        case "collect":
            return decide_collection(policy, *case.target, case.state)
        case "grant":
            return decide_consent_change(policy, *case.target, True, case.state)
        case "withdraw":
            return decide_consent_change(policy, *case.target, False, case.state)
        case "provide":
            return decide_provision(policy, case.target[0], case.state,
                                    categories=case.target[1:])
    raise AssertionError(case.decision)


A, M = "abcrecords", "metalive"
CASES = [
    # -- ABCRECORDS: no age rule
    Case(A, "use", ("service_provision",), NOBODY, None),
    Case(A, "use", ("quality_marketing",), NOBODY, "consent_required"),
    Case(A, "use", ("quality_marketing",), state("quality_marketing"), None),
    Case(A, "use", ("partner_guidance",), state("quality_marketing"), "consent_required"),
    Case(
        A,
        "use",
        ("quality_marketing",),
        state("quality_marketing", suspended=["quality_marketing"]),
        "purpose_suspended",
    ),
    Case(
        A,
        "use",
        ("service_provision",),
        state(suspended=["service_provision"]),
        "purpose_suspended",
    ),
    Case(A, "use", ("profiling",), NOBODY, "unknown_purpose"),
    Case(A, "collect", ("wallet_address", "service_provision"), NOBODY, None),
    Case(A, "collect", ("access_log", "service_provision"), NOBODY, None),
    Case(A, "collect", ("access_log", "quality_marketing"), NOBODY, "consent_required"),
    Case(A, "collect", ("access_log", "quality_marketing"), state("quality_marketing"), None),
    Case(A, "collect", ("location", "service_provision"), NOBODY, "purpose_not_allowed"),
    Case(A, "collect", ("wallet_address", "partner_guidance"), NOBODY, "purpose_not_allowed"),
    Case(A, "collect", ("biometrics", "service_provision"), NOBODY, "unknown_category"),
    Case(A, "collect", ("access_log", "profiling"), NOBODY, "unknown_purpose"),
    Case(A, "grant", ("quality_marketing",), NOBODY, None),
    Case(A, "withdraw", ("quality_marketing",), state("quality_marketing"), None),
    Case(A, "withdraw", ("service_provision",), NOBODY, "not_a_consent_purpose"),
    Case(A, "grant", ("service_provision",), NOBODY, "not_a_consent_purpose"),
    Case(A, "grant", ("required_by_law",), NOBODY, "not_a_consent_purpose"),
    Case(A, "grant", ("profiling",), NOBODY, "unknown_purpose"),
    Case(A, "grant", ("prior_consent",), NOBODY, None),
    Case(A, "grant", ("prior_consent",), state(stopped=True), "third_party_stopped"),
    Case(A, "withdraw", ("prior_consent",), state("prior_consent", stopped=True), None),
    Case(A, "provide", ("prior_consent",), NOBODY, "consent_required"),
    Case(A, "provide", ("prior_consent",), state("prior_consent"), None),
    Case(
        A,
        "provide",
        ("prior_consent",),
        state("prior_consent", stopped=True),
        "third_party_stopped",
    ),
    Case(A, "provide", ("required_by_law",), state(stopped=True), None),
    Case(A, "provide", ("government_cooperation",), state(stopped=True), None),
    Case(A, "provide", ("data_broker",), NOBODY, "unknown_ground"),
    # a consent given to a purpose's earlier text is on hold; necessary purposes go on
    Case(A, "use", ("quality_marketing",),
         state("quality_marketing", outdated=["quality_marketing"]), "policy_changed"),
    Case(A, "collect", ("access_log", "quality_marketing"),
         state("quality_marketing", outdated=["quality_marketing"]), "policy_changed"),
    Case(A, "use", ("partner_guidance",),
         state("quality_marketing", "partner_guidance", outdated=["quality_marketing"]), None),
    Case(A, "use", ("service_provision",), state(outdated=["quality_marketing"]), None),
    Case(A, "grant", ("quality_marketing",), state(outdated=["quality_marketing"]), None),
    Case(A, "provide", ("prior_consent",),
         state("prior_consent", outdated=["prior_consent"]), "policy_changed"),
    # -- METALIVE: optional purposes wait for an age confirmation; under 13, a guardian
    Case(M, "use", ("live_streaming",), NOBODY, None),
    Case(M, "use", ("advertising",), NOBODY, "consent_required"),
    Case(M, "use", ("advertising",), state("advertising"), "age_confirmation_required"),
    Case(M, "use", ("advertising",), state("advertising", base=ADULT), None),
    Case(
        M,
        "use",
        ("advertising",),
        state("advertising", base=CHILD),
        "guardian_consent_required",
    ),
    Case(M, "use", ("advertising",), state("advertising", base=CHILD, guardian=True), None),
    Case(
        M,
        "use",
        ("advertising",),
        state("advertising", base=ADULT, suspended=["advertising"]),
        "purpose_suspended",
    ),
    Case(
        M, "use", ("fraud_prevention",), state(suspended=["fraud_prevention"]), "purpose_suspended"
    ),
    # the posting log is kept for fraud prevention, which the subject may suspend
    Case(M, "use", ("legal_requests",), NOBODY, "unknown_purpose"),
    Case(M, "use", ("ranking",), NOBODY, "unknown_purpose"),
    Case(M, "collect", ("wallet_address", "live_streaming"), NOBODY, None),
    Case(M, "collect", ("age_confirmation", "live_streaming"), NOBODY, None),
    Case(M, "collect", ("guardian_consent", "live_streaming"), CHILD, None),
    Case(M, "collect", ("access_log", "fraud_prevention"), NOBODY, None),
    Case(M, "collect", ("posting_log", "fraud_prevention"), NOBODY, None),
    Case(M, "collect", ("posting_log", "fraud_prevention"), state(suspended=["fraud_prevention"]),
         "purpose_suspended"),
    Case(M, "collect", ("access_log", "access_analysis"), ADULT, "consent_required"),
    Case(
        M,
        "collect",
        ("access_log", "access_analysis"),
        state("access_analysis"),
        "age_confirmation_required",
    ),
    Case(
        M,
        "collect",
        ("cookie_id", "advertising"),
        state("advertising", base=CHILD),
        "guardian_consent_required",
    ),
    Case(M, "collect", ("cookie_id", "advertising"), state("advertising", base=ADULT), None),
    Case(M, "collect", ("access_log", "live_streaming"), NOBODY, "purpose_not_allowed"),
    Case(M, "collect", ("payment_reference", "advertising"), ADULT, "purpose_not_allowed"),
    Case(M, "collect", ("birth_date", "live_streaming"), NOBODY, "unknown_category"),
    Case(M, "collect", ("access_log", "ranking"), NOBODY, "unknown_purpose"),
    Case(M, "grant", ("advertising",), NOBODY, "age_confirmation_required"),
    Case(M, "grant", ("advertising",), CHILD, "guardian_consent_required"),
    Case(M, "grant", ("advertising",), state(base=CHILD, guardian=True), None),
    Case(M, "grant", ("email_information",), ADULT, None),
    # withdrawing is never gated, not even by the age rule
    Case(M, "withdraw", ("advertising",), state("advertising"), None),
    Case(M, "withdraw", ("fraud_prevention",), NOBODY, "not_a_consent_purpose"),
    Case(M, "withdraw", ("legal_requests",), NOBODY, "unknown_purpose"),
    Case(M, "grant", ("criminal_investigation",), ADULT, "not_a_consent_purpose"),
    Case(
        M, "grant", ("advertiser_services",), state(base=ADULT, stopped=True), "third_party_stopped"
    ),
    Case(M, "grant", ("ranking",), ADULT, "unknown_purpose"),
    Case(M, "provide", ("criminal_investigation",), state(stopped=True), None),
    Case(M, "provide", ("permitted_by_law",), state(stopped=True), None),
    Case(M, "provide", ("anonymised_statistics",), state(stopped=True), None),
    Case(M, "provide", ("outsourcing",), state(stopped=True), None),
    Case(M, "provide", ("advertiser_services",), ADULT, "consent_required"),
    # consent to the advertising purpose is no consent to hand data to advertisers
    Case(M, "provide", ("advertising_use",), state("advertising", base=ADULT), "consent_required"),
    Case(M, "provide", ("advertising_use",), state("advertising_use", base=ADULT), None),
    Case(
        M,
        "provide",
        ("advertiser_services",),
        state("advertiser_services", base=ADULT, stopped=True),
        "third_party_stopped",
    ),
    Case(
        M,
        "provide",
        ("disclosure_with_consent",),
        state("disclosure_with_consent"),
        "age_confirmation_required",
    ),
    Case(
        M,
        "provide",
        ("prior_consent",),
        state("prior_consent", base=CHILD),
        "guardian_consent_required",
    ),
    Case(M, "provide", ("data_broker",), NOBODY, "unknown_ground"),
    Case(M, "use", ("advertising",),
         state("advertising", base=ADULT, outdated=["advertising"]), "policy_changed"),
    Case(M, "use", ("live_streaming",), state(base=ADULT, outdated=["advertising"]), None),
    # both texts refuse joint use (ABCRECORDS 5; METALIVE's exhaustive list names none)
    Case(A, "provide", ("joint_use",), NOBODY, "joint_use_not_allowed"),
    Case(M, "provide", ("joint_use",), ADULT, "joint_use_not_allowed"),
    # -- METALIVE: a ground carries only the categories it names
    Case(M, "provide", ("claimed_damage_disclosure", "contact_email", "posting_log"), NOBODY,
         None),
    Case(M, "provide", ("claimed_damage_disclosure", "access_log"), NOBODY,
         "category_not_for_ground"),
    Case(M, "provide", ("anonymised_statistics", "access_log"), NOBODY,
         "category_not_for_ground"),
    Case(M, "provide", ("permitted_by_law", "biometrics"), NOBODY, "unknown_category"),
]


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[f"{c.policy}-{c.decision}-{'/'.join(c.target)}-{c.reason or 'allowed'}" for c in CASES],
)
def test_decision(case):
    decision = _decide(case)
    assert decision.reason == case.reason
    assert decision.allowed is (case.reason is None)


@pytest.mark.parametrize(
    ("policy", "unreachable"),
    # Every ABCRECORDS ground may carry every category.
    [(A, {"age_confirmation_required", "guardian_consent_required", "category_not_for_ground"}),
     (M, set())],
)
def test_the_table_reaches_every_reason_code_under_each_policy(policy, unreachable):
    reached = {case.reason for case in CASES if case.policy == policy and case.reason}
    assert reached == REASON_CODES - unreachable


def test_age_codes_are_unreachable_without_an_age_rule():
    policy = load_policy(A)
    child = state("quality_marketing", base=CHILD)
    assert policy.age is None
    assert decide_use(policy, "quality_marketing", child).allowed
    assert decide_consent_change(policy, "partner_guidance", True, NOBODY).allowed


@pytest.mark.parametrize("name", [A, M])
def test_necessary_and_legal_purposes_are_always_on(name):
    policy = load_policy(name)
    withdrawn = {purpose_id: False for purpose_id in policy.purposes}
    effective = effective_consents(policy, withdrawn)
    for purpose in policy.purposes.values():
        assert effective[purpose.id] is (not purpose.optional), purpose.id


@pytest.mark.parametrize("name", [A, M])
def test_consent_purposes_are_off_until_granted(name):
    policy = load_policy(name)
    assert {p for p, on in effective_consents(policy, {}).items() if not on} == {
        p.id for p in policy.purposes.values() if p.basis == "consent"
    }


def test_explicit_consents_are_honoured_and_foreign_keys_ignored():
    policy = load_policy(A)
    effective = effective_consents(
        policy, {"quality_marketing": True, "partner_guidance": False, "prior_consent": True}
    )
    assert effective == {
        "service_provision": True,
        "quality_marketing": True,
        "partner_guidance": False,
    }


def test_a_collection_refusal_never_depends_on_an_unrelated_consent():
    policy = load_policy(M)
    everything = state(*policy.purposes, base=ADULT)
    for category in policy.categories.values():
        for purpose_id in policy.purposes:
            decision = decide_collection(policy, category.id, purpose_id, everything)
            assert decision.allowed is (purpose_id in category.retention), (category.id, purpose_id)


ODD_IDS = [None, 7, ["quality_marketing"], {"id": "x"}, b"service_provision"]


@pytest.mark.parametrize("odd", ODD_IDS, ids=repr)
def test_an_id_that_is_not_text_is_refused_as_unknown_never_raised(odd):
    policy = load_policy(A)
    everyone = state(*policy.purposes)

    assert decide_use(policy, odd, everyone).reason == "unknown_purpose"
    assert decide_collection(policy, odd, "service_provision", everyone).reason == (
        "unknown_category"
    )
    assert decide_collection(policy, "contact_email", odd, everyone).reason == "unknown_purpose"
    assert decide_consent_change(policy, odd, True, everyone).reason == "unknown_purpose"
    assert decide_provision(policy, odd, everyone, categories=()).reason == "unknown_ground"
    assert decide_provision(policy, "required_by_law", everyone, categories=[odd]).reason == (
        "unknown_category"
    )


def test_effective_consents_count_an_outdated_consent_as_off():
    policy = load_policy(A)
    consents = effective_consents(
        policy, {"quality_marketing": True, "partner_guidance": True},
        frozenset({"quality_marketing"}),
    )
    assert consents == {"service_provision": True, "quality_marketing": False,
                        "partner_guidance": True}


def test_a_named_legal_duty_is_lifted_neither_by_suspension_nor_by_a_missing_consent():
    policy = parse_policy(metalive_with_bookkeeping_toml(), origin="metalive + bookkeeping")
    suspended = SubjectState(consents={}, suspended=frozenset({"bookkeeping"}))
    assert decide_use(policy, "bookkeeping", suspended) == UseDecision(True, None)
    assert decide_consent_change(policy, "bookkeeping", False, suspended).reason == (
        "not_a_consent_purpose")
