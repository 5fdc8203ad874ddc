"""The retention screen's purge in steps over HTTP: /console/retention/purge/step does at
most ``budget`` rows a step, answers what it did and what is left, is audited per step
with its run id, and refuses what any console POST refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.console.conftest import SAME_ORIGIN
from tests.console.test_screens_http import _all_records, people
from tests.server.conftest import Wallet
from walletauth.console.session import CONSOLE_COOKIE, ConsoleSessions
from walletauth.store import console_counts
from walletauth.store.audit import audit_entries

STEP = "/console/retention/purge/step"


def with_records_due(console, clock, how_many: int = 6) -> int:
    """``how_many`` people whose records are all due; the number of records."""
    wallets = people(console, how_many)
    records = _all_records(console, wallets)
    clock.advance(max(r.expires_at for r in records) - clock() + timedelta(seconds=1))
    return len(records)


def test_steps_dispose_of_everything_due_and_are_audited_with_one_run_id(console, clock):
    due = with_records_due(console, clock)
    store = console.runtime.store
    preview = console_counts.purge_preview(store, now=clock())
    console.sign_in()
    page = console.http.get("/console/retention")
    assert 'src="/console/static/purge.js"' in page.text and 'id="purge-bar"' in page.text
    assert console.http.get("/console/static/purge.js").status_code == 200
    form = {"reason": "monthly purge", "budget": "2"}
    answers = []
    while True:
        answer = console.post(STEP, form)
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        body = answer.json()
        answers.append(body)
        assert sum(body["done"].values()) <= 2
        if body["finished"]:
            break
        form = {**form, "run": body["run"], "resume": body["resume"] or ""}
    assert len(answers) >= due // 2
    assert sum(a["done"]["records"] for a in answers) == due == preview.records_removed
    assert sum(a["done"]["subjects"] for a in answers) == preview.subjects
    assert answers[0]["left"]["records"] == due - answers[0]["done"]["records"]
    assert all(value == 0 for value in answers[-1]["left"].values())
    assert console_counts.purge_preview(store, now=clock()).records == {}
    steps = [e for e in audit_entries(store)
             if e.event == "operator_action" and e.detail["action"] == "purge_step"]
    assert len(steps) == len(answers)
    assert {e.detail["run"] for e in steps} == {answers[0]["run"]}
    assert {e.detail["reason"] for e in steps} == {"monthly purge"}
    assert [e.detail["finished"] for e in steps][-1] is True
    assert "purge_step" in console.http.get("/console/audit").text


@pytest.mark.parametrize(("field", "value"), [
    ("budget", "0"), ("budget", "10001"), ("budget", "-1"), ("budget", "1e3"),
    ("budget", "x" * 7), ("run", "not-a-run"), ("reason", ""),
])
def test_a_bad_field_is_refused_with_its_code(console, field, value):
    console.sign_in()
    answer = console.post(STEP, {"reason": "monthly purge", field: value})
    assert (answer.status_code, answer.json()["code"]) == (422, "console_form_invalid")


@pytest.mark.parametrize("resume", ["9", "x", "5:'; drop table", "1:abc"])
def test_a_resume_no_step_left_is_refused_not_failed(console, resume):
    console.sign_in()
    answer = console.post(STEP, {"reason": "r", "resume": resume})
    assert answer.status_code in {400, 422}, answer.text
    assert answer.json()["code"] in {"invalid_argument", "console_form_invalid"}


def test_a_step_without_the_csrf_token_or_from_elsewhere_is_refused(console, clock):
    with_records_due(console, clock, 2)
    console.sign_in()
    missing = console.post(STEP, {"reason": "r"}, csrf=False)
    assert (missing.status_code, missing.json()["code"]) == (403, "console_csrf_failed")
    for headers in ({"Origin": "https://evil.example"}, {},
                    {**SAME_ORIGIN, "Sec-Fetch-Site": "cross-site"}):
        answer = console.post(STEP, {"reason": "r"}, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (403, "console_cross_origin")
    assert console_counts.purge_preview(console.runtime.store, now=clock()).records != {}


def test_a_wallet_not_listed_cannot_step(console, clock):
    with_records_due(console, clock, 2)
    stranger = Wallet()
    sealed = ConsoleSessions(console.host.key).issue(stranger.address,
                                                     clock() + timedelta(minutes=10))
    console.http.cookies.set(CONSOLE_COOKIE, sealed)
    answer = console.http.post(STEP, data={"reason": "r"}, headers=SAME_ORIGIN)
    assert (answer.status_code, answer.json()["code"]) == (403, "not_an_operator")
    assert console_counts.purge_preview(console.runtime.store, now=clock()).records != {}
