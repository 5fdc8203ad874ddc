"""The policy as served and enforced over HTTP, on SQLite and PostgreSQL: what the seed
texts say, no more (METALIVE's posting log, a named legal duty, operator settings,
the seed text, joint use)."""

from __future__ import annotations

import html

import httpx
import pytest

from tests.policy.helpers import (
    metalive_with_bookkeeping_toml,
    shipped_policy_toml,
    write_policy,
)
from tests.policy.test_transcription import (
    CLAUSE_MAPS,
    clause_is_served,
    clause_label,
    served_clauses,
)
from tests.rights.helpers import signed_request
from tests.server.conftest import make_settings, serving, sign_in
from walletauth.policy import load_policy, shipped_policy_text
from walletauth.sdk import ApiError, Client
from walletauth.server.config.services import hash_api_key, new_api_key


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path) -> dict[str, str]:
    if request.param == "postgres":
        return {"database_url": request.getfixturevalue("postgres_url")}
    return {}


def _serve(tmp_path, clock, database, policy: str):
    return serving(make_settings(tmp_path, policy=policy, **database), clock)


@pytest.fixture
def metalive(tmp_path, clock, database):
    with (_serve(tmp_path, clock, database, "metalive") as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield http, app.state.runtime


@pytest.fixture
def bookkeeping(tmp_path, clock, database):
    path = write_policy(tmp_path, metalive_with_bookkeeping_toml())
    with (_serve(tmp_path, clock, database, str(path)) as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield http, app.state.runtime


def _signed_in(http, wallet) -> dict[str, str]:
    response = sign_in(http, wallet)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _code(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.json()["code"]


def _post(runtime, wallet, clock, category: str, purpose: str, data: dict) -> None:
    runtime.store.put_record(wallet.address, category, purpose, data, now=clock(),
                             source="test")


POSTING = {"ip": "203.0.113.9", "at": "2026-01-01T00:00:00+00:00"}
PAYMENT = {"provider": "card", "reference": "tx-1", "amount": 500,
           "at": "2026-01-01T00:00:00+00:00"}


# ------------------------------------------------------------------ item 1: posting log


def test_metalive_serves_the_eight_purposes_of_its_text_and_no_legal_duty(metalive):
    http, _runtime = metalive
    for lang in ("ja", "en"):
        served = http.get("/policy", params={"lang": lang}).json()
        assert len(served["purposes"]) == 8
        assert {p["basis"] for p in served["purposes"]} == {"necessary", "consent"}
        [posting] = [c for c in served["categories"] if c["id"] == "posting_log"]
        assert [p["purpose"] for p in posting["purposes"]] == ["fraud_prevention"]
        grounds = {g["id"] for g in served["third_party"]["grounds"]}
        assert {"criminal_investigation", "public_body_inquiry",
                "claimed_damage_disclosure", "disclosure_with_consent"} <= grounds


def test_metalive_posting_logs_may_be_restricted_and_erased_like_anything_else(
    metalive, wallet, clock
):
    http, runtime = metalive
    auth = _signed_in(http, wallet)
    _post(runtime, wallet, clock, "posting_log", "fraud_prevention", POSTING)

    restricted = http.post("/me/restrictions", headers=auth, json={
        **signed_request(http, wallet, "restrict"), "purposes": ["fraud_prevention"]})
    hidden = runtime.store.records(wallet.address, "fraud_prevention", now=clock())
    unknown = http.post("/me/restrictions", headers=auth, json={
        **signed_request(http, wallet, "restrict"), "purposes": ["legal_requests"]})
    erased = http.post("/me/erase", headers=auth, json=signed_request(http, wallet, "erase"))

    assert restricted.status_code == 200, restricted.text
    assert hidden == []
    assert unknown.status_code == 422 and _code(unknown) == "unknown_purpose"
    assert erased.status_code == 200, erased.text
    assert erased.json()["retained"] == []
    assert erased.json()["erased"]["posting_log"] == 1


def test_an_erasure_keeps_only_what_a_named_law_requires_and_names_it(
    bookkeeping, wallet, clock
):
    http, runtime = bookkeeping
    auth = _signed_in(http, wallet)
    _post(runtime, wallet, clock, "posting_log", "fraud_prevention", POSTING)
    _post(runtime, wallet, clock, "payment_reference", "payment", PAYMENT)
    _post(runtime, wallet, clock, "payment_reference", "bookkeeping", PAYMENT)

    refused = http.post("/me/restrictions", headers=auth, json={
        **signed_request(http, wallet, "restrict"), "purposes": ["bookkeeping"]})
    erased = http.post("/me/erase", headers=auth, json=signed_request(http, wallet, "erase"))

    assert refused.status_code == 422 and _code(refused) == "not_restrictable"
    assert "Corporation Tax Act" in refused.json()["detail"]
    assert erased.status_code == 200, erased.text
    [kept] = erased.json()["retained"]
    assert (kept["category"], kept["purpose"], kept["count"]) == (
        "payment_reference", "bookkeeping", 1)
    assert kept["ground"]["ja"] == "法人税法第126条第1項"
    assert erased.json()["erased"]["posting_log"] == 1
    assert erased.json()["erased"]["payment_reference"] == 1


# ------------------------------------------------------------------ item 5: operator settings


def test_policy_labels_bases_and_periods_as_the_operators_settings_in_both_languages(
    metalive
):
    http, _runtime = metalive
    notes = {"ja": "事業者の設定です。ポリシー本文には定めがありません。",
             "en": "The operator's setting. The policy text does not state it."}
    for lang, note in notes.items():
        served = http.get("/policy", params={"lang": lang}).json()
        [payment] = [c for c in served["categories"] if c["id"] == "payment_reference"]
        assert [(p["retention"], p["retention_set_by"], p["retention_note"])
                for p in payment["purposes"]] == [
            ("7年" if lang == "ja" else "7 years", "operator", note)]
        assert {(p["basis_set_by"], p["basis_note"]) for p in served["purposes"]} == {
            ("operator", note)}
        assert "operator" in served["operator_settings"]["note"] or "事業者" in (
            served["operator_settings"]["note"])


# ------------------------------------------------------------------ item 7: words


def test_policy_names_what_is_collected_and_serves_metalives_rights_whole(metalive):
    http, _runtime = metalive
    ja = http.get("/policy", params={"lang": "ja"}).json()
    en = http.get("/policy", params={"lang": "en"}).json()
    wallet = {c["id"]: c for c in ja["categories"]}["wallet_address"]
    assert wallet["text"] == "その他の個人に関する属性情報"
    assert wallet["label"].startswith("ウォレットアドレス")
    device = {c["id"]: c for c in ja["categories"]}["device_info"]
    assert "デバイス名" not in device["text"] + device["label"]
    rights = {r["id"]: r["text"] for r in ja["rights"]}
    assert rights["erase"].endswith("請求に応じる必要があると判断した場合、これを削除します。")
    assert rights["correct"].endswith("遅滞なくこれを訂正等します。")
    assert {r["id"]: r["text"] for r in en["rights"]}["erase"].endswith("delete it.")
    assert en["age"]["text"].startswith("We take care not to collect")


# ------------------------------------------------------------------ item 8: served


@pytest.mark.parametrize("name", ["abcrecords", "metalive"])
def test_the_published_text_is_served_whole_and_clause_references_link_into_it(
    tmp_path, clock, name
):
    text = shipped_policy_text(name)
    with (serving(make_settings(tmp_path, policy=name), clock) as (url, _app),
          httpx.Client(base_url=url, timeout=30) as http):
        served = http.get("/policy", params={"lang": "en"}).json()
        plain = http.get("/policy/text", params={"lang": "ja", "format": "txt"})
        page = http.get(served["text_url"])
        english = http.get("/policy/text", params={"lang": "en"})

    assert plain.status_code == 200 and plain.text == text
    assert plain.headers["content-type"].startswith("text/plain")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for line in filter(str.strip, text.splitlines()):
        assert html.escape(line) in page.text, line
    granted = [right for right in served["rights"] if right["clause"] is not None]
    for item in (*served["purposes"], *served["categories"], *served["third_party"]["grounds"],
                 *granted, served["contact"], served["joint_use"]):
        link = served["clause_links"][item["clause"]]
        path, anchor = link.split("#")
        assert path == served["text_url"]
        section = page.text.split(f'<section id="{anchor}">', 1)[1].split("</section>", 1)[0]
        heading = item["clause"].split(" ", 2)[1]
        assert f"<h2>{heading}. " in section or f"<h2>- {heading}</h2>" in section
    assert english.status_code == 422 and _code(english) == "unsupported_language"


def test_a_policy_without_its_text_beside_it_answers_not_found(tmp_path, clock):
    path = write_policy(tmp_path, shipped_policy_toml("abcrecords"))
    with (serving(make_settings(tmp_path, policy=str(path)), clock) as (url, _app),
          httpx.Client(base_url=url, timeout=30) as http):
        served = http.get("/policy").json()
        missing = http.get("/policy/text")

    assert (served["text_url"], served["clause_links"]) == (None, {})
    assert missing.status_code == 404 and _code(missing) == "not_found"


@pytest.mark.parametrize("name", ["abcrecords", "metalive"])
def test_cookies_security_and_changes_are_served_in_the_texts_words(tmp_path, clock, name):
    with (serving(make_settings(tmp_path, policy=name), clock) as (url, _app),
          httpx.Client(base_url=url, timeout=30) as http):
        ja = http.get("/policy", params={"lang": "ja"}).json()
        en = http.get("/policy", params={"lang": "en"}).json()
    statements = {s["id"]: s for s in ja["statements"]}
    assert {"cookies", "security", "changes"} <= set(statements)
    assert [s["id"] for s in en["statements"]] == [s["id"] for s in ja["statements"]]
    original = "".join(shipped_policy_text(name).split())
    for statement in ja["statements"]:
        assert "".join(statement["text"].split()) in original, statement["id"]
        assert all("".join(item.split()) in original for item in statement["items"])
    if name == "abcrecords":
        assert statements["optionality"]["text"].startswith("利用者情報を提供するか否かは任意")
        intakes = {i["id"]: i for i in en["intakes"]}
        assert [i["item"] for i in intakes["application"]["required"]] == ["contact_email.email"]
        assert [i["item"] for i in intakes["application"]["optional"]] == ["application_url.url"]
        assert {i["set_by"] for i in intakes.values()} == {"operator"}


SHOP_KEY = new_api_key()


@pytest.mark.parametrize("name", ["abcrecords", "metalive"])
def test_joint_use_is_refused_where_the_text_refuses_it_and_nothing_is_logged(
    tmp_path, clock, database, wallet, name
):
    # The shop holds every purpose: what refuses is the joint use, not its own scope.
    purposes = list(load_policy(name).purposes)
    services = {"shop": {"api_key_sha256": hash_api_key(SHOP_KEY), "purposes": purposes}}
    settings = make_settings(tmp_path, policy=name, services=services, **database)
    with (serving(settings, clock) as (url, app),
          httpx.Client(base_url=url, timeout=30) as http, Client(url, SHOP_KEY) as sdk):
        runtime = app.state.runtime
        auth = _signed_in(http, wallet)
        over_http = http.post("/services/v1/provisions",
                              headers={"Authorization": f"Bearer {SHOP_KEY}"},
                              json={"address": wallet.address, "recipient": "Group KK",
                                    "categories": ["contact_email"], "ground": "joint_use"})
        with pytest.raises(ApiError) as through_sdk:
            sdk.record_provision(wallet.address, "Group KK", ["contact_email"], "joint_use")
        exported = http.post("/me/export", headers=auth,
                             json=signed_request(http, wallet, "export")).json()

    assert runtime.policy.joint_use.allowed is False
    assert over_http.status_code == 403 and _code(over_http) == "joint_use_not_allowed"
    assert through_sdk.value.code == "joint_use_not_allowed"
    assert exported["third_party_provisions"] == []


@pytest.mark.parametrize("name", ["abcrecords", "metalive"])
def test_every_right_offered_is_listed_with_the_request_that_exercises_it(tmp_path, clock, name):
    with (serving(make_settings(tmp_path, policy=name), clock) as (url, _app),
          httpx.Client(base_url=url, timeout=30) as http):
        served = http.get("/policy", params={"lang": "ja"}).json()
        paths = http.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, item in paths.items() for method in item}
    rights = {right["id"]: right for right in served["rights"]}
    # the server's rights requests (the "rights" routes that act: not the listing)
    offered = {f"{method.upper()} {path}" for path, item in paths.items()
               for method, operation in item.items()
               if "rights" in operation.get("tags", ()) and method != "get"}
    assert offered and offered <= {right["request"] for right in rights.values()}
    for right in rights.values():
        method, path = right["request"].split(" ", 1)
        assert (method, path) in routes, right["request"]
    assert set(rights) == {"notify_purposes", "export", "correct", "erase", "restrict",
                           "stop_third_party"}
    if name == "metalive":
        # METALIVE's text grants neither: offered by the operator, and labelled so
        for right_id in ("stop_third_party", "notify_purposes"):
            assert (rights[right_id]["set_by"], rights[right_id]["clause"]) == ("operator", None)
        assert rights["erase"]["set_by"] == "policy"
    else:
        assert {right["set_by"] for right in rights.values()} == {"policy"}


@pytest.mark.parametrize("name", ["abcrecords", "metalive"])
def test_every_clause_of_the_clause_map_is_served_over_http(tmp_path, clock, database, name):
    with (serving(make_settings(tmp_path, policy=name, **database), clock) as (url, _app),
          httpx.Client(base_url=url, timeout=30) as http):
        served = {lang: served_clauses(http.get("/policy", params={"lang": lang}).json())
                  for lang in ("ja", "en")}
    for heading in CLAUSE_MAPS[name]:
        clause = clause_label(name, heading)
        assert clause_is_served(served["ja"], clause) and clause_is_served(served["en"], clause)
