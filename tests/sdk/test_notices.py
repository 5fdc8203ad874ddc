"""The Notice model and its Standard-Webhooks-shaped JSON body."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from tests.sdk.conftest import ADDRESS, refused
from walletauth.policy.loader import load_policy, shipped_policies
from walletauth.sdk import Notice, PolicyRef
from walletauth.sdk.notices import notice_body, notice_from_body

POLICY = PolicyRef(id="abcrecords", version="2024-04-01")
OCCURRED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _notice(**fields) -> Notice:
    values = {
        "type": "consent.withdrawn",
        "subject": ADDRESS,
        "policy": POLICY,
        "occurred_at": OCCURRED,
        "purposes": ("marketing",),
    }
    return Notice.new(**{**values, **fields})


def test_a_new_notice_gets_a_fresh_id_usable_as_webhook_id():
    first, second = _notice(), _notice()
    assert first.id != second.id
    assert "." not in first.id


def test_the_body_has_the_standard_webhooks_payload_shape():
    notice = _notice()
    assert json.loads(notice_body(notice)) == {
        "type": "consent.withdrawn",
        "timestamp": "2026-03-01T12:00:00Z",
        "data": {
            "id": notice.id,
            "subject": ADDRESS,
            "purposes": ["marketing"],
            "policy": {"id": "abcrecords", "version": "2024-04-01"},
        },
    }


def test_the_body_reads_back_as_the_same_notice():
    notice = _notice(type="subject.erased", purposes=())
    assert notice_from_body(notice_body(notice)) == notice


def test_members_a_newer_sender_adds_are_ignored():
    notice = _notice()
    document = json.loads(notice_body(notice))
    document["delivery"] = {"attempt": 3}
    document["data"]["reason"] = "user request"
    assert notice_from_body(json.dumps(document).encode()) == notice


def test_occurred_at_is_kept_in_utc():
    tokyo = timezone(timedelta(hours=9))
    notice = _notice(occurred_at=datetime(2026, 3, 1, 21, 0, tzinfo=tokyo))
    assert notice.occurred_at == OCCURRED
    assert notice.occurred_at.tzinfo == UTC


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": ADDRESS.lower()},
        {"subject": "0x123"},
        {"type": "subject.exported"},
        {"occurred_at": datetime(2026, 3, 1, 12, 0)},  # naive
        {"purposes": ("Marketing",)},
        {"purposes": ("a.b",)},
    ],
    ids=repr,
)
def test_an_invalid_notice_cannot_be_built(fields):
    with pytest.raises(ValidationError):
        _notice(**fields)


def test_a_notice_is_frozen():
    with pytest.raises(ValidationError):
        _notice().type = "subject.erased"  # type: ignore[misc]


def test_a_policy_reference_names_a_loaded_policy():
    policy = load_policy(shipped_policies()[0])
    assert PolicyRef.of(policy) == PolicyRef(id=policy.id, version=policy.version)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"type": "subject.erased"}',
        b'{"type": "subject.erased", "timestamp": "2026-03-01T12:00:00Z", "data": []}',
        b"[" * 100_000,
        b" " * 70_000,
    ],
    ids=lambda body: repr(body[:40]),
)
def test_a_body_that_is_not_a_notice_is_notice_malformed(body):
    with refused("notice_malformed"):
        notice_from_body(body)
