"""``POST /me/inquiries`` and ``PUT /me/contact`` over HTTP, on SQLite and PostgreSQL:
purpose-tagged records through the store's own write paths, refused with the policy's
codes (nothing left behind), optional fields optional, and what the policy's intakes
mark required (ABCRECORDS 9) required."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import make_settings, serving, sign_in
from tests.store.conftest import table_counts


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request):
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else None


def _served(tmp_path, clock, database, policy):
    overrides = {"policy": policy}
    if database is not None:
        overrides["database_url"] = database
    return serving(make_settings(tmp_path, **overrides), clock)


@pytest.fixture
def abc(tmp_path, clock, database, wallet):
    with (_served(tmp_path, clock, database, "abcrecords") as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield http, app.state.runtime, _auth(http, wallet)


@pytest.fixture
def metalive(tmp_path, clock, database, wallet):
    with (_served(tmp_path, clock, database, "metalive") as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield http, app.state.runtime, _auth(http, wallet)


def _auth(http, wallet):
    response = sign_in(http, wallet)
    assert response.status_code == 200, response.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _kept(runtime, wallet, purpose, category):
    return [dict(record.data) for record in runtime.store.records(
        wallet.address, purpose, now=runtime.clock(), category=category)]


def _give_email(http, auth, email="a@example.org"):
    response = http.put("/me/contact", headers=auth, json={"email": email})
    assert response.status_code == 200, response.text


def test_an_inquiry_is_kept_for_answering_it(abc, wallet):
    http, runtime, auth = abc
    _give_email(http, auth)
    sent = http.post("/me/inquiries", headers=auth, json={"message": "  When is the release?"})
    assert sent.status_code == 201, sent.text
    [kept] = sent.json()["kept"]
    assert (kept["category"], kept["purpose"]) == ("inquiry", "service_provision")
    assert _kept(runtime, wallet, "service_provision", "inquiry") == [
        {"message": "When is the release?", "received_at": runtime.clock().isoformat()}]


def test_an_inquiry_for_a_consent_purpose_needs_the_consent(abc, wallet):
    http, runtime, auth = abc
    _give_email(http, auth)
    before = table_counts(runtime.store)
    body = {"message": "Use this to improve things", "purpose": "quality_marketing"}
    refused = http.post("/me/inquiries", headers=auth, json=body)
    assert (refused.status_code, refused.json()["code"]) == (403, "consent_required")
    assert table_counts(runtime.store) == before
    http.put("/me/consents", headers=auth, json={"purpose": "quality_marketing",
                                                 "granted": True})
    assert http.post("/me/inquiries", headers=auth, json=body).status_code == 201
    assert len(_kept(runtime, wallet, "quality_marketing", "inquiry")) == 1


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 422, "invalid_request"),
    ({"message": "   "}, 422, "invalid_request"),
    ({"message": "x" * 4001}, 422, "invalid_request"),
    ({"message": "hi", "name": "Alice"}, 422, "invalid_request"),
    ({"message": "hi", "purpose": "profiling"}, 422, "unknown_purpose"),
    ({"message": "hi", "purpose": "partner_guidance"}, 422, "purpose_not_allowed"),
])
def test_a_bad_inquiry_is_refused_and_leaves_nothing(abc, body, status, code):
    http, runtime, auth = abc
    _give_email(http, auth)
    before = table_counts(runtime.store)
    refused = http.post("/me/inquiries", headers=auth, json=body)
    assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
    assert table_counts(runtime.store) == before


def test_an_inquiry_without_a_contact_email_is_refused_naming_it(abc, wallet):
    # ABCRECORDS' inquiry intake requires inquiry.message and contact_email.email: the
    # answer goes to that address, so without one on record the inquiry is refused.
    http, runtime, auth = abc
    before = table_counts(runtime.store)
    refused = http.post("/me/inquiries", headers=auth, json={"message": "When?"})
    assert (refused.status_code, refused.json()["code"]) == (422, "required_item_missing")
    assert "contact_email.email" in refused.json()["detail"]
    assert "inquiry.message" not in refused.json()["detail"].split(": ")[-1]
    assert table_counts(runtime.store) == before
    _give_email(http, auth)
    assert http.post("/me/inquiries", headers=auth, json={"message": "When?"}).status_code == 201


def test_an_email_kept_for_a_consent_purpose_counts_while_usable(abc, wallet):
    http, _runtime, auth = abc
    http.put("/me/consents", headers=auth, json={"purpose": "partner_guidance",
                                                 "granted": True})
    kept = http.put("/me/contact", headers=auth,
                    json={"email": "a@example.org", "purpose": "partner_guidance"})
    assert kept.status_code == 200, kept.text
    assert http.post("/me/inquiries", headers=auth, json={"message": "hi"}).status_code == 201
    http.put("/me/consents", headers=auth, json={"purpose": "partner_guidance",
                                                 "granted": False})
    # A withdrawn consent's email may not be used to answer: no longer on record for that.
    refused = http.post("/me/inquiries", headers=auth, json={"message": "hi"})
    assert (refused.status_code, refused.json()["code"]) == (422, "required_item_missing")


def test_an_application_url_alone_needs_an_email_on_record(abc, wallet):
    # ABCRECORDS' application intake: email required, URL optional.
    http, runtime, auth = abc
    before = table_counts(runtime.store)
    refused = http.put("/me/contact", headers=auth, json={"url": "https://example.org/app"})
    assert (refused.status_code, refused.json()["code"]) == (422, "required_item_missing")
    assert refused.json()["detail"].endswith("contact_email.email; nothing was kept")
    assert table_counts(runtime.store) == before
    _give_email(http, auth)
    url_only = http.put("/me/contact", headers=auth, json={"url": "https://example.org/app"})
    assert url_only.status_code == 200, url_only.text
    assert _kept(runtime, wallet, "service_provision", "contact_email") == [
        {"email": "a@example.org"}]


def test_metalive_names_no_intakes_so_an_inquiry_needs_no_email(metalive, wallet):
    http, runtime, auth = metalive
    assert runtime.policy.intakes == ()
    sent = http.post("/me/inquiries", headers=auth, json={"message": "音声が出ません"})
    assert sent.status_code == 201, sent.text
    assert _kept(runtime, wallet, "support", "contact_email") == []


def test_intake_needs_a_signed_in_wallet(abc):
    http, _runtime, _auth_headers = abc
    assert http.post("/me/inquiries", json={"message": "hi"}).status_code == 401
    assert http.put("/me/contact", json={"email": "a@example.org"}).status_code == 401


def test_contact_fields_are_each_optional_and_replace_their_own_value(abc, wallet):
    http, runtime, auth = abc
    both = http.put("/me/contact", headers=auth,
                    json={"email": "a@example.org", "url": "https://example.org/app"})
    assert both.status_code == 200, both.text
    assert [(k["category"], k["purpose"]) for k in both.json()["kept"]] == [
        ("contact_email", "service_provision"), ("application_url", "service_provision")]
    email_only = http.put("/me/contact", headers=auth, json={"email": "b@example.org"})
    assert email_only.status_code == 200, email_only.text
    assert _kept(runtime, wallet, "service_provision", "contact_email") == [
        {"email": "b@example.org"}]
    assert _kept(runtime, wallet, "service_provision", "application_url") == [
        {"url": "https://example.org/app"}]


def test_contact_for_partner_guidance_needs_the_consent(abc, wallet):
    http, runtime, auth = abc
    body = {"email": "a@example.org", "purpose": "partner_guidance"}
    refused = http.put("/me/contact", headers=auth, json=body)
    assert (refused.status_code, refused.json()["code"]) == (403, "consent_required")
    http.put("/me/consents", headers=auth, json={"purpose": "partner_guidance",
                                                 "granted": True})
    assert http.put("/me/contact", headers=auth, json=body).status_code == 200
    assert _kept(runtime, wallet, "partner_guidance", "contact_email") == [
        {"email": "a@example.org"}]
    assert _kept(runtime, wallet, "service_provision", "contact_email") == []


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 400, "invalid_argument"),
    ({"email": "not-an-address"}, 422, "invalid_request"),
    ({"url": "javascript:alert(1)"}, 422, "invalid_request"),
    ({"email": "a@example.org", "phone": "0312345678"}, 422, "invalid_request"),
])
def test_a_bad_contact_is_refused_and_leaves_nothing(abc, body, status, code):
    http, runtime, auth = abc
    before = table_counts(runtime.store)
    refused = http.put("/me/contact", headers=auth, json=body)
    assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
    assert table_counts(runtime.store) == before


def test_metalive_keeps_an_email_for_support_but_no_url(metalive, wallet):
    http, runtime, auth = metalive
    before = table_counts(runtime.store)
    refused = http.put("/me/contact", headers=auth,
                       json={"email": "a@example.org", "url": "https://example.org"})
    assert (refused.status_code, refused.json()["code"]) == (422, "unknown_category")
    assert table_counts(runtime.store) == before  # not even the email
    kept = http.put("/me/contact", headers=auth, json={"email": "a@example.org"})
    assert [(k["category"], k["purpose"]) for k in kept.json()["kept"]] == [
        ("contact_email", "support")]
    sent = http.post("/me/inquiries", headers=auth, json={"message": "音声が出ません"})
    assert [(k["category"], k["purpose"]) for k in sent.json()["kept"]] == [
        ("inquiry", "support")]
