"""Policy versions: the change history, the digests that put old consents on hold, and
what the consent screen shows about a change."""

from __future__ import annotations

import pytest

from tests.policy.changes import CHANGE_2, abcrecords_v2, shipped_text
from walletauth.policy import PolicyError, load_policy, parse_policy, render_policy


def test_a_changed_purpose_text_changes_its_digest_alone():
    old, new = load_policy("abcrecords").consent_digests(), abcrecords_v2().consent_digests()
    assert old["quality_marketing"] != new["quality_marketing"]
    assert old["partner_guidance"] == new["partner_guidance"]
    assert old["prior_consent"] == new["prior_consent"]
    # necessary purposes need no consent, so no consent to them can go stale
    assert "service_provision" not in new


def test_the_history_version_and_effective_date_are_rendered():
    rendered = render_policy(abcrecords_v2(), "en")
    assert rendered["version"] == "2.0"
    assert rendered["effective_date"] == {"date": "2026-12-01", "clause": None,
                                          "set_by": "operator"}
    assert rendered["changes"] == [{
        "version": "2.0", "date": "2026-12-01", "date_set_by": "operator", "clause": None,
        "summary": "Ad delivery added to marketing", "summary_set_by": "operator",
        "purposes": {"quality_marketing": "Ad delivery was added"},
    }]
    by_id = {purpose["id"]: purpose for purpose in rendered["purposes"]}
    assert (by_id["quality_marketing"]["changed_in"], by_id["quality_marketing"]["change"]) == (
        "2.0", "Ad delivery was added")
    assert by_id["partner_guidance"]["changed_in"] is None
    assert render_policy(abcrecords_v2(), "ja")["changes"][0]["purposes"] == {
        "quality_marketing": "広告配信を追加しました"}


def test_metalive_dates_itself_and_says_how_it_changes():
    rendered = render_policy(load_policy("metalive"), "ja")
    assert rendered["effective_date"] == {
        "date": "2023-08-08", "clause": "METALIVE 2023 年8 月8 日改訂", "set_by": "policy"}
    assert "ご本人に通知し、または公表します" in rendered["amendment"]["text"]
    abc = render_policy(load_policy("abcrecords"), "ja")
    assert abc["effective_date"] is None  # ABCRECORDS states no date
    assert abc["amendment"]["clause"] == "ABCRECORDS 11"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda t: t + CHANGE_2, "the last change entry is version '2.0' but the policy is"),
        (lambda t: t.replace('version = "1.0"', 'version = "2.0"', 1) + CHANGE_2
         + CHANGE_2, "change of version '2.0' is declared 2 times"),
        (lambda t: t.replace('version = "1.0"', 'version = "2.0"', 1)
         + CHANGE_2.replace("quality_marketing =", "profiling ="), "unknown purpose 'profiling'"),
        (lambda t: t.replace('version = "1.0"', 'version = "2.0"', 1)
         + CHANGE_2.replace('"2.0"', '"1.5"').replace("12-01", "12-05") + CHANGE_2,
         "changes must be listed oldest first"),
        (lambda t: t.replace('version = "1.0"', 'version = "2.0"\neffective_date = 2026-11-30',
                             1) + CHANGE_2, "effective_date 2026-11-30 differs"),
    ],
)
def test_an_inconsistent_history_is_refused(edit, problem):
    with pytest.raises(PolicyError) as raised:
        parse_policy(edit(shipped_text()), origin="operator.toml")
    assert raised.value.code == "invalid_policy"
    assert problem in raised.value.message


def test_the_digest_a_consent_is_bound_to_is_pinned():
    """Consents recorded by earlier releases carry this digest: any change to its canonical
    form (order, separators, escaping, length) would put every recorded consent on hold
    after an upgrade, for a text nobody changed."""
    from walletauth.policy.model import LocalizedText, text_digest

    assert text_digest(LocalizedText(ja="分析", en="Analytics")) == (
        "45b4a0734cdfbf3943216654bd739194")
    assert text_digest(LocalizedText(ja="分析", en="Analytics ")) != (
        "45b4a0734cdfbf3943216654bd739194")
