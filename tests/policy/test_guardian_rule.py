"""Below the guardian age, without a guardian's consent, decide_collection refuses every
pair but the sign-in's wallet record and the age rule's own records (METALIVE 個人情報の適正な
取得), whatever the subject consented to; decide_use does not change."""

import pytest

from walletauth.policy import SubjectState, decide_collection, decide_use, load_policy
from walletauth.policy.evaluate import decide_allowed_collection

METALIVE = load_policy("metalive")
EVERY_CONSENT = {p.id: True for p in METALIVE.purposes.values()}
CHILD = SubjectState(consents=EVERY_CONSENT, age_confirmed=True, under_guardian_age=True)
WITH_GUARDIAN = SubjectState(consents=EVERY_CONSENT, age_confirmed=True,
                             under_guardian_age=True, guardian_consent=True)
PAIRS = [(c.id, p) for c in METALIVE.categories.values() for p in c.retention]
KEPT_BEFORE_GUARDIAN = {("wallet_address", "live_streaming"),
                        ("age_confirmation", "live_streaming"),
                        ("guardian_consent", "live_streaming")}


@pytest.mark.parametrize("category, purpose", PAIRS)
def test_a_child_without_a_guardian_gives_nothing_but_the_sign_in_and_the_age_rule(
    category, purpose
):
    decision = decide_collection(METALIVE, category, purpose, CHILD)
    legal = METALIVE.purposes[purpose].basis == "legal_obligation"

    if (category, purpose) in KEPT_BEFORE_GUARDIAN or legal:
        assert decision.allowed
    else:
        assert decision.reason == "guardian_consent_required"
    assert decide_allowed_collection(METALIVE, category, purpose, CHILD) == decision
    assert decide_collection(METALIVE, category, purpose, WITH_GUARDIAN).allowed


def test_necessary_use_of_what_is_kept_is_not_held_back():
    assert decide_use(METALIVE, "support", CHILD).allowed
    assert decide_use(METALIVE, "live_streaming", CHILD).allowed


def test_a_policy_without_an_age_rule_has_no_such_limit():
    abcrecords = load_policy("abcrecords")
    assert decide_collection(abcrecords, "contact_email", "service_provision", CHILD).allowed


def test_the_english_keeps_the_texts_modality():
    # 収集しないよう留意します: "we take care not to collect", not "no information is collected".
    assert METALIVE.age is not None and METALIVE.age.text is not None
    assert METALIVE.age.text.ja.endswith("収集しないよう留意します。")
    assert METALIVE.age.text.en.startswith("We take care not to collect ")
