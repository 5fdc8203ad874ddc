"""Each third-party ground names the categories it may carry: validated on load, served on
/policy, and enforced by decide_provision (see test_evaluate for the decisions)."""

import pytest

from tests.policy.test_validation import MINIMAL
from walletauth.policy import PolicyError, load_policy, parse_policy, render_policy


def test_a_ground_carrying_an_unknown_category_is_refused():
    text = MINIMAL.replace('categories = ["wallet", "email"]', 'categories = ["wallet", "dna"]')
    with pytest.raises(PolicyError) as refused:
        parse_policy(text, origin="t.toml")
    assert "third-party ground 'law' carries the unknown category 'dna'" in refused.value.message


def test_a_ground_without_categories_is_refused():
    text = MINIMAL.replace('categories = ["wallet", "email"]\n', "")
    with pytest.raises(PolicyError) as refused:
        parse_policy(text, origin="t.toml")
    assert "third_party.grounds.0.categories: is required but missing" in refused.value.message


def test_the_consent_screen_says_what_each_ground_may_carry():
    rendered = render_policy(load_policy("metalive"), "en")
    grounds = {g["id"]: g["categories"] for g in rendered["third_party"]["grounds"]}
    assert grounds["anonymised_statistics"] == []
    assert grounds["claimed_damage_disclosure"] == ["contact_email", "posting_log"]
