"""Rendering for consent screens: both languages, JSON-ready, no text missing."""

from __future__ import annotations

import json

import pytest

from tests.policy.helpers import write_policy
from tests.policy.test_validation import MINIMAL
from walletauth.policy import PolicyError, load_policy, render_policy, shipped_policies
from walletauth.policy.render import SET_BY_NOTES

LANGS = ("ja", "en")


def _strings(node, path="policy"):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")
    else:
        yield path, node


@pytest.mark.parametrize("name", shipped_policies())
@pytest.mark.parametrize("lang", LANGS)
def test_the_rendering_is_json_and_survives_a_round_trip(name, lang):
    rendered = render_policy(load_policy(name), lang)
    assert json.loads(json.dumps(rendered, ensure_ascii=False)) == rendered


@pytest.mark.parametrize("name", shipped_policies())
@pytest.mark.parametrize("lang", LANGS)
def test_no_text_is_missing(name, lang):
    rendered = render_policy(load_policy(name), lang)
    texts = [
        *(p["text"] for p in rendered["purposes"]),
        *(c["text"] for c in rendered["categories"]),
        *(g["text"] for g in rendered["third_party"]["grounds"]),
        *(r["text"] for r in rendered["rights"]),
        *(r["name"] for r in rendered["rights"]),
        *(p["retention"] for c in rendered["categories"] for p in c["purposes"]),
        rendered["name"],
        rendered["third_party"]["text"],
        rendered["contact"]["organisation"],
        rendered["outsourcing"]["text"],
    ]
    assert all(isinstance(text, str) and text.strip() for text in texts)
    withheld = [c for c in rendered["categories"] if not c["disclosed_on_export"]]
    assert all(c["withheld_reason"] for c in withheld)


def test_each_language_shows_its_own_text():
    policy = load_policy("abcrecords")
    ja, en = render_policy(policy, "ja"), render_policy(policy, "en")
    assert ja["purposes"][0]["text"] == "本サービスの提供・ログイン等"
    assert en["purposes"][0]["text"] == "Providing the service, signing in, etc."
    assert ja["contact"]["email"] == en["contact"]["email"] == "abcrecords@alle.co.jp"


def test_purposes_say_whether_they_are_optional_and_start_off():
    rendered = render_policy(load_policy("abcrecords"), "en")
    by_id = {p["id"]: p for p in rendered["purposes"]}
    assert by_id["service_provision"] | {"text": None} == {
        "id": "service_provision",
        "text": None,
        "basis": "necessary",
        "basis_name": "Needed to provide the service",
        "basis_set_by": "operator",
        "basis_note": "The operator's setting. The policy text does not state it.",
        "basis_clause": None,
        "legal_source": None,
        "optional": False,
        "default_on": True,
        "dpv": "dpv:ServiceProvision",
        "clause": "ABCRECORDS 2",
        "changed_in": None,
        "change": None,
    }
    assert (by_id["quality_marketing"]["optional"], by_id["quality_marketing"]["default_on"]) == (
        True,
        False,
    )


def test_retention_is_given_in_days_and_in_words_as_the_operators_setting():
    policy = load_policy("abcrecords")
    notes = {"en": "The operator's setting. The policy text does not state it.",
             "ja": "事業者の設定です。ポリシー本文には定めがありません。"}
    for lang, words in (("en", ("30 days", "1 year")), ("ja", ("30日", "1年"))):
        setting = {"retention_set_by": "operator", "retention_note": notes[lang],
                   "retention_clause": None}
        access_log = next(
            c for c in render_policy(policy, lang)["categories"] if c["id"] == "access_log"
        )
        assert access_log["purposes"] == [
            {
                "purpose": "service_provision",
                "optional": False,
                "retention_days": 30,
                "retention": words[0],
                **setting,
            },
            {
                "purpose": "quality_marketing",
                "optional": True,
                "retention_days": 365,
                "retention": words[1],
                **setting,
            },
        ]


def test_metalive_shows_its_age_rule_and_discloses_its_access_logs():
    rendered = render_policy(load_policy("metalive"), "ja")
    assert rendered["age"]["guardian_consent_below"] == 13
    access_log = next(c for c in rendered["categories"] if c["id"] == "access_log")
    assert access_log["disclosed_on_export"] is True
    assert access_log["withheld_reason"] is None
    assert render_policy(load_policy("abcrecords"), "ja")["age"] is None


def test_third_party_grounds_say_which_need_consent():
    grounds = render_policy(load_policy("metalive"), "en")["third_party"]["grounds"]
    needing_consent = {g["id"] for g in grounds if g["requires_consent"]}
    assert needing_consent == {
        "prior_consent",
        "service_improvement_analysis",
        "advertising_use",
        "advertiser_services",
        "disclosure_with_consent",
    }


def test_an_unsupported_language_is_refused():
    with pytest.raises(PolicyError) as caught:
        render_policy(load_policy("abcrecords"), "fr")  # type: ignore[arg-type]
    assert caught.value.code == "unsupported_language"


@pytest.mark.parametrize("name", shipped_policies())
@pytest.mark.parametrize("lang", LANGS)
def test_no_shipped_text_states_a_basis_or_a_period_so_all_are_labelled_the_operators(
    name, lang
):
    # Neither seed names a legal basis for a purpose or sets a retention period (ABCRECORDS
    # 6: 保存期間を別途定め): every one served is the operator's setting, and says so.
    rendered = render_policy(load_policy(name), lang)
    note = SET_BY_NOTES["operator"].ja if lang == "ja" else SET_BY_NOTES["operator"].en
    assert {(p["basis_set_by"], p["basis_note"]) for p in rendered["purposes"]} == {
        ("operator", note)}
    retentions = [p for c in rendered["categories"] for p in c["purposes"]]
    assert {(p["retention_set_by"], p["retention_note"]) for p in retentions} == {
        ("operator", note)}
    assert rendered["operator_settings"]["note"]


def test_a_basis_or_period_the_text_states_is_served_as_the_policys_with_its_clause(tmp_path):
    text = MINIMAL.replace('basis = "necessary"', 'basis = "necessary"\nbasis_clause = "T 1"')
    text = text.replace('retention = { news = "90d" }',
                        'retention = { news = "90d" }\nretention_clause = "T 2"')
    rendered = render_policy(load_policy(write_policy(tmp_path, text)), "ja")
    purposes = {p["id"]: p for p in rendered["purposes"]}
    assert (purposes["login"]["basis_set_by"], purposes["login"]["basis_clause"]) == (
        "policy", "T 1")
    assert purposes["login"]["basis_note"] == "ポリシー本文の定め"
    assert purposes["news"]["basis_set_by"] == "operator"
    categories = {c["id"]: c for c in rendered["categories"]}
    assert [(p["retention_set_by"], p["retention_clause"])
            for p in categories["email"]["purposes"]] == [("policy", "T 2")]
    assert [p["retention_set_by"] for p in categories["wallet"]["purposes"]] == ["operator"]


def test_a_consent_the_text_does_not_ask_for_is_served_as_the_operators():
    # METALIVE lists aggregation, advertising use and advertisers among its exceptions to
    # consent; walletauth asks for consent all the same, and says whose choice that is.
    grounds = {g["id"]: g for g in render_policy(load_policy("metalive"), "ja")["third_party"][
        "grounds"]}
    by_operator = {gid for gid, g in grounds.items() if g["requires_consent_set_by"] == "operator"}
    assert by_operator == {"service_improvement_analysis", "advertising_use",
                           "advertiser_services"}
    assert grounds["advertising_use"]["requires_consent_note"] == SET_BY_NOTES["operator"].ja
    assert grounds["prior_consent"]["requires_consent_set_by"] == "policy"
