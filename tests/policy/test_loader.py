"""Loading: shipped policies by name, an operator's own file by path."""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files

import pytest

from tests.policy.helpers import shipped_policy_toml, write_policy
from walletauth.policy import (
    DEFAULT_POLICY,
    PolicyError,
    load_policy,
    parse_policy,
    render_policy,
    shipped_policies,
    shipped_policy_text,
)

SHIPPED_DIR = files("walletauth.policy").joinpath("policies")


def test_both_real_policies_are_shipped_with_their_texts():
    for name in shipped_policies():
        assert shipped_policy_text(name) == SHIPPED_DIR.joinpath(f"{name}.ja.txt").read_text(
            encoding="utf-8"
        )
    with pytest.raises(PolicyError) as caught:
        shipped_policy_text("acme")
    assert caught.value.code == "policy_not_found"


def test_both_real_policies_are_shipped_and_abcrecords_is_the_default():
    assert shipped_policies() == ["abcrecords", "metalive"]
    assert DEFAULT_POLICY == "abcrecords"
    assert load_policy(DEFAULT_POLICY).id == "abcrecords"


@pytest.mark.parametrize("name", ["abcrecords", "metalive"])
def test_a_shipped_policy_loads_and_is_shared(name):
    policy = load_policy(name)
    assert policy.id == name
    assert load_policy(name) is policy


def test_the_ids_other_layers_code_against_exist():
    abc = load_policy("abcrecords")
    assert set(abc.purposes) == {"service_provision", "quality_marketing", "partner_guidance"}
    assert {"wallet_address", "contact_email", "application_url", "inquiry", "access_log"} <= set(
        abc.categories
    )
    assert abc.category("access_log").fields == {
        "ip": "ip_truncate",
        "browser": "user_agent_family",
        "at": "keep",
    }
    assert abc.category("wallet_address").fields.keys() == {
        "chain_id",
        "first_sign_in",
        "last_sign_in",
    }
    assert (abc.login.purpose, abc.login.wallet_category, abc.login.access_log_category) == (
        "service_provision",
        "wallet_address",
        "access_log",
    )
    assert abc.retention("access_log", "service_provision") == timedelta(days=30)
    metalive = load_policy("metalive")
    assert {
        "wallet_address",
        "access_log",
        "age_confirmation",
        "guardian_consent",
        "payment_reference",
        "contact_email",
    } <= set(metalive.categories)
    assert metalive.age is not None and metalive.age.guardian_consent_below == 13


def test_an_operators_own_file_loads_by_path(tmp_path):
    shipped = SHIPPED_DIR.joinpath("abcrecords.toml").read_text(encoding="utf-8")
    path = write_policy(tmp_path, shipped.replace('id = "abcrecords"', 'id = "my-dapp"', 1))
    for reference in (path, str(path)):
        policy = load_policy(reference)
        assert policy.id == "my-dapp"
        assert policy.purposes == load_policy("abcrecords").purposes


def test_an_unknown_name_is_not_found():
    with pytest.raises(PolicyError) as caught:
        load_policy("acme")
    assert caught.value.code == "policy_not_found"
    assert "abcrecords" in caught.value.message


def test_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "absent.toml")
    assert caught.value.code == "policy_not_found"


def test_a_directory_is_not_a_policy(tmp_path):
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path)
    assert caught.value.code == "policy_not_found"


def test_parse_names_its_origin_in_errors():
    with pytest.raises(PolicyError) as caught:
        parse_policy("id = ", origin="inline policy")
    assert caught.value.code == "invalid_policy"
    assert caught.value.message.startswith("inline policy: ")


def test_unknown_lookups_raise_stable_codes():
    policy = load_policy("abcrecords")
    with pytest.raises(PolicyError) as purpose:
        policy.purpose("profiling")
    with pytest.raises(PolicyError) as category:
        policy.category("biometrics")
    with pytest.raises(PolicyError) as ground:
        policy.ground("data_broker")
    with pytest.raises(PolicyError) as not_allowed:
        policy.retention("location", "service_provision")
    assert [e.value.code for e in (purpose, category, ground, not_allowed)] == [
        "unknown_purpose",
        "unknown_category",
        "unknown_ground",
        "purpose_not_allowed",
    ]


def test_categories_for_a_purpose_follow_policy_order():
    policy = load_policy("abcrecords")
    assert policy.categories_for("partner_guidance") == ("contact_email",)
    assert policy.categories_for("service_provision")[0] == "wallet_address"


@pytest.mark.parametrize("odd", [None, 7, ["location"], {"id": "x"}], ids=repr)
def test_lookups_of_an_id_that_is_not_text_raise_the_same_stable_codes(odd):
    policy = load_policy("abcrecords")
    with pytest.raises(PolicyError) as purpose:
        policy.purpose(odd)
    with pytest.raises(PolicyError) as category:
        policy.category(odd)
    with pytest.raises(PolicyError) as retention:
        policy.retention("location", odd)
    assert [e.value.code for e in (purpose, category, retention)] == [
        "unknown_purpose", "unknown_category", "unknown_purpose",
    ]
    assert policy.allows(odd, "service_provision") is False
    assert policy.allows("location", odd) is False


def test_an_operators_policy_carries_the_text_beside_it_and_links_its_clauses(tmp_path):
    path = write_policy(tmp_path, shipped_policy_toml("abcrecords"))
    assert load_policy(path).original_text is None
    path.with_name(f"{path.stem}.ja.txt").write_text("前文\n4. 第三者への提供\n本文\n",
                                                     encoding="utf-8")
    policy = load_policy(path)
    assert policy.original_text == "前文\n4. 第三者への提供\n本文\n"
    links = render_policy(policy, "ja")["clause_links"]
    assert links["ABCRECORDS 4"] == links["ABCRECORDS 4 ①"] == "/policy/text?lang=ja#c1"
    assert "ABCRECORDS 2" not in links, "a clause the text lacks links nowhere"


def test_an_intake_names_the_required_items_a_submission_lacks():
    inquiry = load_policy("abcrecords").find_intake("inquiry")
    assert inquiry is not None and load_policy("abcrecords").find_intake("survey") is None
    complete = {"inquiry": {"message": "hi"}, "contact_email": {"email": "a@b.jp"}}
    assert inquiry.missing(complete) == ()
    assert inquiry.missing({"inquiry": {"message": "  "}}) == (
        "inquiry.message", "contact_email.email")
    application = load_policy("abcrecords").find_intake("application")
    # the URL is optional: an application without it lacks nothing
    assert application.missing({"contact_email": {"email": "a@b.jp"}}) == ()
    assert load_policy("abcrecords").find_intake("sign_in").missing({}) == ("wallet_address",)
