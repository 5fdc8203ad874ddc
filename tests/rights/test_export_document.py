"""The export document's content, pinned: the JSON of one fixed subject's export, byte for
byte, is the file export_document.json beside this module. A change to how the document is
built (build_document) must leave every byte of it as it was; a change of what the document
says is made by regenerating the file (``python -m tests.rights.test_export_document``) and
reading its diff."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from tests.policy.changes import shipped_text
from walletauth.policy import Policy, parse_policy
from walletauth.rights.export import build_document
from walletauth.store.audit import AuditEntry
from walletauth.store.consent import ConsentEvent
from walletauth.store.dossier import Dossier, Provision
from walletauth.store.records import Record
from walletauth.store.requests_log import RequestEntry

PINNED = Path(__file__).with_name("export_document.json")
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKYO = timezone(timedelta(hours=9))


def policy() -> Policy:
    """ABCRECORDS with a basis and a retention period the text states (labelled the
    policy's) beside the operator's, and access logs withheld from disclosure."""
    text = shipped_text().replace(
        'basis = "necessary"\nclause = "ABCRECORDS 2"',
        'basis = "necessary"\nbasis_clause = "ABCRECORDS 2"\nclause = "ABCRECORDS 2"', 1)
    text = text.replace('retention = { service_provision = "1y", partner_guidance = "1y" }',
                        'retention_clause = "ABCRECORDS 1"\n'
                        'retention = { service_provision = "1y", partner_guidance = "1y" }', 1)
    text = text.replace(
        'id = "access_log"\nclause = "ABCRECORDS 1"\n',
        'id = "access_log"\nclause = "ABCRECORDS 1"\ndisclosed_on_export = false\n'
        'withheld_reason = { ja = "開示いたしません", en = "Not disclosed" }\n'
        'withheld_clause = "ABCRECORDS 6"\n', 1)
    return parse_policy(text, origin="test")


def dossier(version: str) -> Dossier:
    """Records of several categories and purposes (one a purpose the policy has since
    dropped, some withheld), consents, provisions (one withheld), log entries."""
    kinds = [("contact_email", "service_provision", "necessary", {"email": "a@example.org"}),
             ("contact_email", "partner_guidance", "consent", {"email": "b@example.org"}),
             ("access_log", "service_provision", "necessary", {"ip": "203.0.113.0"}),
             ("inquiry", "former_purpose", "consent", {"text": "質問です \"quoted\" <b>"}),
             ("cookie_id", "quality_marketing", "consent", {"id": "c-1", "n": 3.5, "x": None})]
    records = [
        Record(id=index + 1, category=category, purpose=purpose, basis=basis,
               collected_at=NOW + timedelta(minutes=index, microseconds=index * 7),
               expires_at=NOW + timedelta(days=30 + index),
               source="signup" if index % 2 else "chat", data={**data, "i": index},
               updated_at=NOW + timedelta(hours=index % 3), policy_version=version)
        for index, (category, purpose, basis, data) in enumerate(kinds * 4)
    ]
    # The same moment as it was collected, written in another zone: its own text.
    records.append(Record(id=21, category="inquiry", purpose="service_provision",
                          basis="necessary", collected_at=NOW, expires_at=NOW,
                          source="chat", data={}, updated_at=NOW.astimezone(TOKYO),
                          policy_version=version))
    return Dossier(
        found=True,
        records=records,
        events=[ConsentEvent("consent", "quality_marketing", True, NOW, version, "digest"),
                ConsentEvent("withdrawal", "quality_marketing", False, NOW + timedelta(1),
                             version)],
        provisions=[
            Provision("Partner KK", ("contact_email",), "prior_consent", NOW, version),
            Provision("Police", ("access_log",), "required_by_law", NOW, version,
                      "investigation_hindrance"),
        ],
        audit=[AuditEntry(1, NOW, "export", None, None, None, {"records": 3}, version),
               AuditEntry(2, NOW, "purge", None, "service_provision", "access_log", {},
                          version)],
    )


REQUESTS = [
    RequestEntry("req_1", "export", "completed", None, NOW, NOW + timedelta(seconds=1), {}),
    RequestEntry("req_2", "erase", "denied", "not_found", NOW, NOW, {}),
    RequestEntry("req_3", "export", "received", None, NOW + timedelta(1), None, {}),
]


def exported_json() -> str:
    pinned_policy = policy()
    document = build_document(pinned_policy, ADDRESS, dossier(pinned_policy.version),
                              REQUESTS, now=NOW + timedelta(days=2))
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def test_the_document_of_a_fixed_subject_is_byte_for_byte_the_pinned_one():
    assert exported_json() == PINNED.read_text(encoding="utf-8")


def test_the_pinned_document_has_what_it_pins():
    """The fixture covers each kind of record line: the policy's labels and the
    operator's, a dropped purpose's, records withheld by category and by ground."""
    document = json.loads(PINNED.read_text(encoding="utf-8"))
    records = document["records"]
    assert len(records) == 17 and {r["category"] for r in records} == {
        "contact_email", "inquiry", "cookie_id"}
    assert {(r["basis_set_by"], r["retention_set_by"]) for r in records} == {
        ("policy", "policy"), ("operator", "policy"), (None, "operator"),
        ("operator", "operator"), ("policy", "operator")}
    assert {r["dpv"] for r in records if r["purpose"] == "former_purpose"} == {None}
    assert records[-1]["updated_at"] == "2026-03-01T21:00:00+09:00"
    assert [(w["section"], w["records"]) for w in document["withheld"]] == [
        ("records", 4), ("third_party_provisions", 1)]


if __name__ == "__main__":
    PINNED.write_text(exported_json(), encoding="utf-8")
