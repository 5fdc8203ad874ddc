"""Rendering for consent screens: both languages, JSON-ready, no text missing."""

from __future__ import annotations

import json

import pytest

from walletauth.policy import PolicyError, load_policy, render_policy, shipped_policies

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
        "optional": False,
        "default_on": True,
        "dpv": "dpv:ServiceProvision",
        "clause": "ABCRECORDS 2",
    }
    assert (by_id["quality_marketing"]["optional"], by_id["quality_marketing"]["default_on"]) == (
        True,
        False,
    )


def test_retention_is_given_in_days_and_in_words():
    policy = load_policy("abcrecords")
    for lang, words in (("en", ("30 days", "1 year")), ("ja", ("30日", "1年"))):
        access_log = next(
            c for c in render_policy(policy, lang)["categories"] if c["id"] == "access_log"
        )
        assert access_log["purposes"] == [
            {
                "purpose": "service_provision",
                "optional": False,
                "retention_days": 30,
                "retention": words[0],
            },
            {
                "purpose": "quality_marketing",
                "optional": True,
                "retention_days": 365,
                "retention": words[1],
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
