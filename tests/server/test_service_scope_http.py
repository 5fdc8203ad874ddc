"""What a registered service may write through /services/v1, over HTTP on SQLite and
PostgreSQL (METALIVE, whose age rule has categories of its own): never the age rule's
categories, no subject for an address that never signed in unless its configuration names
the purpose, provisions only of data it may use, and a record's bad field is the caller's
mistake (422), not the server's."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from tests.rights.helpers import signed_request
from tests.server.conftest import Wallet, make_settings, serving, sign_in
from walletauth.server.config.services import hash_api_key, new_api_key
from walletauth.store.rights_schema import third_party_provisions
from walletauth.store.schema import records, subjects

CATALOGUE_KEY, SIGNUP_KEY, BACK_OFFICE_KEY = new_api_key(), new_api_key(), new_api_key()
SERVICES = {
    "catalogue": {"api_key_sha256": hash_api_key(CATALOGUE_KEY),
                  "purposes": ["live_streaming", "support"]},
    "signup": {"api_key_sha256": hash_api_key(SIGNUP_KEY),
               "purposes": ["live_streaming", "support"], "creates_subjects_for": ["support"]},
    "backoffice": {"api_key_sha256": hash_api_key(BACK_OFFICE_KEY),
                   "purposes": ["live_streaming"], "records_guardian_consent": True},
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request, tmp_path, clock):
    overrides = {"policy": "metalive", "services": SERVICES}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    with (serving(make_settings(tmp_path, **overrides), clock) as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield http, app.state.runtime


def as_service(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def put_record(http, key, address, category, purpose, data):
    return http.post("/services/v1/records", headers=as_service(key), json={
        "address": address, "category": category, "purpose": purpose, "data": data})


def refusal(response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code, response.json()["code"]


def row_counts(runtime) -> dict[str, int]:
    with runtime.store.engine.connect() as connection:
        return {table.name: connection.execute(
            sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (subjects, records, third_party_provisions)}


def signed_in(http, wallet) -> dict[str, str]:
    response = sign_in(http, wallet)
    assert response.status_code == 200, response.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_field_the_category_does_not_declare_is_a_422_and_nothing_is_kept(served, wallet):
    http, runtime = served
    signed_in(http, wallet)
    before = row_counts(runtime)

    answer = put_record(http, CATALOGUE_KEY, wallet.address, "contact_email", "support",
                        {"nope": "x"})

    assert refusal(answer) == (422, "field_not_allowed")
    assert row_counts(runtime) == before


@pytest.mark.parametrize("category, data", [
    ("guardian_consent", {"method": "signed_form", "granted_at": "2026-01-01"}),
    ("age_confirmation", {"under_guardian_age": False, "confirmed_at": "2026-01-01"}),
])
@pytest.mark.parametrize("key", [CATALOGUE_KEY, BACK_OFFICE_KEY], ids=["catalogue", "back_office"])
def test_no_service_writes_the_age_rules_categories_as_records(served, wallet, key, category,
                                                               data):
    http, runtime = served
    auth = signed_in(http, wallet)
    before = row_counts(runtime)

    answer = put_record(http, key, wallet.address, category, "live_streaming", data)

    assert refusal(answer) == (403, "category_reserved")
    assert row_counts(runtime) == before
    age = http.get("/me/consents", headers=auth).json()["age"]
    assert (age["confirmed"], age["guardian_consent"]) == (False, False)
    export = http.post("/me/export", json=signed_request(http, wallet, "export"), headers=auth)
    assert category not in {r["category"] for r in export.json()["records"]}


def test_a_service_creates_no_subject_unless_configured_for_the_purpose(served, wallet):
    http, runtime = served
    stranger = Wallet()  # never signed in
    signed_in(http, wallet)
    before = row_counts(runtime)
    email = {"email": "fan@example.org"}

    refused = put_record(http, CATALOGUE_KEY, stranger.address, "contact_email", "support",
                         email)
    other_purpose = put_record(http, SIGNUP_KEY, stranger.address, "cookie_id",
                               "live_streaming", {"cookie_id": "c1", "at": "2026-01-01"})
    assert row_counts(runtime) == before
    known = put_record(http, CATALOGUE_KEY, wallet.address, "contact_email", "support", email)
    created = put_record(http, SIGNUP_KEY, stranger.address, "contact_email", "support", email)

    assert refusal(refused) == refusal(other_purpose) == (403, "subject_creation_not_granted")
    assert known.status_code == created.status_code == 201
    after = row_counts(runtime)
    assert (after["subjects"], after["records"]) == (before["subjects"] + 1,
                                                     before["records"] + 2)
    [kept] = runtime.store.records(stranger.address, "support", now=runtime.clock())
    assert (kept.category, dict(kept.data)) == ("contact_email", email)


def test_an_erased_subject_is_not_brought_back_by_a_service(served, wallet):
    http, runtime = served
    auth = signed_in(http, wallet)
    erased = http.post("/me/erase", json=signed_request(http, wallet, "erase"), headers=auth)
    assert erased.status_code == 200, erased.text

    answer = put_record(http, CATALOGUE_KEY, wallet.address, "contact_email", "support",
                        {"email": "fan@example.org"})

    assert refusal(answer) == (403, "subject_creation_not_granted")
    assert runtime.store.subject_records(wallet.address, now=runtime.clock()) == []


def provide(http, key, address, categories, ground="prior_consent"):
    return http.post("/services/v1/provisions", headers=as_service(key), json={
        "address": address, "recipient": "Label Co.", "categories": categories,
        "ground": ground})


def test_a_provision_names_only_categories_serving_the_services_purposes(served, wallet):
    http, runtime = served
    auth = signed_in(http, wallet)
    assert http.put("/me/age", json={"under_guardian_age": False}, headers=auth).is_success
    # The ground's consent is taken by the operator's own flow, not by /me/consents.
    runtime.store.set_consent(wallet.address, "prior_consent", True, now=runtime.clock())

    # payment_reference serves only "payment", which the catalogue is not granted.
    foreign = provide(http, CATALOGUE_KEY, wallet.address, ["contact_email", "payment_reference"])
    unknown = provide(http, CATALOGUE_KEY, wallet.address, ["shoe_size"])
    assert row_counts(runtime)["third_party_provisions"] == 0
    own = provide(http, CATALOGUE_KEY, wallet.address, ["contact_email", "cookie_id"])
    # The back office is granted live_streaming only: contact_email serves support alone.
    narrower = provide(http, BACK_OFFICE_KEY, wallet.address, ["contact_email"])

    assert refusal(foreign) == refusal(narrower) == (403, "category_not_granted_to_service")
    assert refusal(unknown) == (422, "unknown_category")
    assert own.status_code == 201, own.text
    assert row_counts(runtime)["third_party_provisions"] == 1
