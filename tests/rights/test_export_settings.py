"""The export (JSON, CSV, HTML) says who set a purpose's legal basis and a category's
retention period exactly as ``GET /policy`` does: the policy text (with its clause) or
the operator, never a value of ours shown as the policy's words."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.policy.changes import shipped_text
from tests.rights.conftest import ALICE, NOW
from walletauth.policy import parse_policy, render_policy
from walletauth.rights import export_subject, to_csv, to_html
from walletauth.rights.export import build_document
from walletauth.store.dossier import Dossier
from walletauth.store.records import Record

# Japanese text on the page, with its full-width punctuation.
# ruff: noqa: RUF001

OPERATOR_JA = "事業者の設定です。ポリシー本文には定めがありません。"
OPERATOR_EN = "The operator&#x27;s setting. The policy text does not state it."  # escaped


def exported(store):
    store.record_login(ALICE, 1, now=NOW, ip="203.0.113.9", user_agent="curl/8.0")
    store.put_record(ALICE, "contact_email", "service_provision", {"email": "a@example.org"},
                     now=NOW, source="signup")
    return export_subject(store, ALICE, now=NOW + timedelta(minutes=5))


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_json_labels_each_basis_and_period_as_policy_serves_them(store, lang):
    document = exported(store)
    served = render_policy(store.policy, lang)

    for purpose in served["purposes"]:
        entry = document["purposes"][purpose["id"]]
        assert entry["basis_set_by"] == purpose["basis_set_by"] == "operator"
        assert entry["basis_note"][lang] == purpose["basis_note"]
        assert purpose["basis_note"] in (OPERATOR_JA, OPERATOR_EN.replace("&#x27;", "'"))
        assert entry["basis_clause"] == purpose["basis_clause"]
    for category in served["categories"]:
        entry = document["categories"][category["id"]]
        for period in category["purposes"]:
            assert entry["retention_set_by"] == period["retention_set_by"] == "operator"
            assert entry["retention_note"][lang] == period["retention_note"]
    for record in document["records"]:
        assert (record["basis_set_by"], record["retention_set_by"]) == ("operator", "operator")


def test_the_csv_has_who_set_each_records_basis_and_period(store):
    rows = list(csv.DictReader(io.StringIO(to_csv(exported(store)))))

    [email] = [row for row in rows if row["category"] == "contact_email"]
    assert (email["basis"], email["basis_set_by"]) == ("necessary", "operator")
    assert email["retention_set_by"] == "operator"
    assert email["value"] == '{"email":"a@example.org"}'
    # Rows of other sections leave the record-only columns empty.
    [subject] = [row for row in rows if row["section"] == "subject"]
    assert subject["basis_set_by"] == subject["retention_set_by"] == ""


def test_the_page_labels_the_basis_and_the_kept_until_date_in_either_language(store):
    document = exported(store)

    ja, en = to_html(document, lang="ja"), to_html(document, lang="en")

    assert f"根拠: サービスの提供に必要（{OPERATOR_JA}）" in ja
    assert f"Basis: Needed to provide the service ({OPERATOR_EN})" in en
    records = len(document["records"])
    # Each record's basis and its kept-until date carry the label: two per record.
    assert ja.count(OPERATOR_JA) == 2 * records
    assert en.count(OPERATOR_EN) == 2 * records


def test_a_basis_and_period_the_text_states_are_labelled_the_policys_with_the_clause():
    # As an operator would write it, were the text to state them: basis_clause and
    # retention_clause name the clauses; /policy and the export then both say "policy".
    text = shipped_text().replace(
        'basis = "necessary"\nclause = "ABCRECORDS 2"',
        'basis = "necessary"\nbasis_clause = "ABCRECORDS 2"\nclause = "ABCRECORDS 2"', 1)
    text = text.replace('retention = { service_provision = "1y", partner_guidance = "1y" }',
                        'retention_clause = "ABCRECORDS 1"\n'
                        'retention = { service_provision = "1y", partner_guidance = "1y" }', 1)
    policy = parse_policy(text, origin="test")
    kept = Record(id=1, category="contact_email", purpose="service_provision",
                  basis="necessary", collected_at=NOW, expires_at=NOW + timedelta(days=365),
                  source="signup", data={"email": "a@example.org"}, updated_at=NOW,
                  policy_version=policy.version)
    document = build_document(policy, ALICE, Dossier(found=True, records=[kept]), [], now=NOW)

    entry = document["purposes"]["service_provision"]
    assert (entry["basis_set_by"], entry["basis_clause"]) == ("policy", "ABCRECORDS 2")
    assert entry["basis_note"]["ja"] == render_policy(policy, "ja")["purposes"][0]["basis_note"]
    assert document["categories"]["contact_email"]["retention_set_by"] == "policy"
    assert document["categories"]["application_url"]["retention_set_by"] == "operator"
    assert (document["records"][0]["basis_set_by"],
            document["records"][0]["retention_set_by"]) == ("policy", "policy")
    page = to_html(document, lang="ja")
    assert "根拠: サービスの提供に必要（ポリシー本文の定め ABCRECORDS 2）" in page
    assert "（ポリシー本文の定め ABCRECORDS 1）" in page
    assert OPERATOR_JA not in page
