"""Who gets into the console: listed operators only, by a sign-in of their own; every
other wallet gets 403 ``not_an_operator`` on every console route; every form POST needs
the service's own Origin and the session's CSRF token."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from tests.console.conftest import SAME_ORIGIN, console_sign_in
from tests.server.conftest import Wallet, signed_in_bearer
from walletauth.console.routes import ROUTERS
from walletauth.console.session import CONSOLE_COOKIE, ConsoleSessions

PATH_PARAMETERS = {"name": "console.css"}


def console_routes(app) -> list[tuple[str, str]]:
    """Every route of the console's routers (the app nests them; ``app`` is for the
    check that the app answers each)."""
    found = []
    for route in (route for router in ROUTERS for route in router.routes):
        path = route.path
        assert path.startswith("/console/")
        concrete = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_PARAMETERS[m.group(1)], path)
        found.extend((method, concrete) for method in sorted(route.methods - {"HEAD"}))
    return found


def test_the_console_has_the_routes_the_tests_walk(console):
    routes = console_routes(console.app)
    assert ("POST", "/console/signin") in routes
    assert ("GET", "/console/requests") in routes
    assert ("POST", "/console/act") in routes


def test_an_unlisted_wallet_is_refused_everywhere_by_its_console_cookie(console):
    stranger = Wallet()
    sealed = ConsoleSessions(console.host.key).issue(
        stranger.address, console.runtime.clock() + timedelta(minutes=10))
    console.http.cookies.set(CONSOLE_COOKIE, sealed)
    for method, path in console_routes(console.app):
        answer = console.http.request(method, path, headers=SAME_ORIGIN, json={})
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["code"] == "not_an_operator", (method, path)


def test_an_unlisted_wallet_is_refused_everywhere_by_its_service_session(console):
    stranger = Wallet()
    bearer = signed_in_bearer(console.http, stranger)
    for method, path in console_routes(console.app):
        answer = console.http.request(method, path, headers={**SAME_ORIGIN, **bearer},
                                      json={})
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["code"] == "not_an_operator", (method, path)
    # The service's own cookie (a browser's sign-in to the dApp) is refused the same way.
    console.http.headers.clear()
    assert console.http.get("/console/requests").json()["code"] == "not_an_operator"


def test_an_unlisted_wallet_cannot_sign_in(console):
    refused = console_sign_in(console.http, Wallet())
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_an_operator"
    assert CONSOLE_COOKIE not in console.http.cookies


def test_a_wallet_taken_off_the_list_is_refused_at_its_next_request(console):
    assert console.sign_in().status_code == 200
    assert console.http.get("/console/requests").status_code == 200
    console.host.operators = frozenset()
    answer = console.http.get("/console/requests")
    assert (answer.status_code, answer.json()["code"]) == (403, "not_an_operator")


def test_nobody_signed_in_sees_the_sign_in_page_and_nothing_else(console):
    page = console.http.get("/console/")
    assert page.status_code == 200
    assert 'id="sign-in"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for method, path in console_routes(console.app):
        if path in {"/console/", "/console/static/console.css", "/console/signin",
                    "/console/signin/message"}:
            continue
        answer = console.http.request(method, path, headers=SAME_ORIGIN)
        assert answer.status_code == 401, (method, path)
        assert answer.json()["code"] == "console_sign_in_required"


def test_an_operator_signs_in_for_a_short_session_with_a_cookie_of_its_own(console, clock):
    signed_in = console.sign_in()
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"{CONSOLE_COOKIE}=")
    assert "Path=/console" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Max-Age=900" in cookie
    page = console.http.get("/console/requests")
    assert page.status_code == 200
    assert console.operator.address in page.text
    clock.advance(timedelta(minutes=15, seconds=1))
    expired = console.http.get("/console/requests")
    assert (expired.status_code, expired.json()["code"]) == (401, "console_sign_in_required")


def test_the_sign_in_message_is_used_once(console):
    asked = console.http.post("/console/signin/message", headers=SAME_ORIGIN,
                              json={"address": console.operator.address, "chain_id": 1})
    text = asked.json()["message"]
    assert "urn:walletauth:console" in text
    body = {"message": text, "signature": console.operator.sign(text)}
    assert console.http.post("/console/signin", headers=SAME_ORIGIN, json=body).status_code == 200
    again = console.http.post("/console/signin", headers=SAME_ORIGIN, json=body)
    assert (again.status_code, again.json()["code"]) == (401, "nonce_unknown")


def test_a_plain_sign_in_message_does_not_open_the_console(console):
    nonce = console.http.get("/auth/nonce").json()["nonce"]
    body = console.operator.signed_body(nonce)
    refused = console.http.post("/console/signin", headers=SAME_ORIGIN, json=body)
    assert (refused.status_code, refused.json()["code"]) == (422, "console_form_invalid")


FORM = {"address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "reason": "email of 1 Dec"}


def test_a_form_without_the_csrf_token_is_refused(console):
    console.sign_in()
    missing = console.post("/console/subject", FORM, csrf=False)
    assert (missing.status_code, missing.json()["code"]) == (403, "console_csrf_failed")
    wrong = console.post("/console/subject", {**FORM, "csrf": "x" * 43}, csrf=False)
    assert (wrong.status_code, wrong.json()["code"]) == (403, "console_csrf_failed")
    assert console.post("/console/subject", FORM).status_code == 200


def test_another_sessions_token_is_refused(console, tmp_path):
    console.sign_in()
    stale = console.csrf()
    with httpx.Client(base_url=console.url) as other:
        assert console_sign_in(other, console.operator).status_code == 200
        answer = other.post("/console/subject", data={**FORM, "csrf": stale},
                            headers=SAME_ORIGIN)
    assert (answer.status_code, answer.json()["code"]) == (403, "console_csrf_failed")


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {},
    {"Origin": SAME_ORIGIN["Origin"], "Sec-Fetch-Site": "cross-site"},
])
def test_a_cross_origin_post_is_refused_even_with_the_token(console, headers):
    console.sign_in()
    answer = console.post("/console/subject", FORM, headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (403, "console_cross_origin")


def test_a_cross_origin_sign_in_is_refused(console):
    answer = console.http.post("/console/signin/message", headers={"Origin": "https://x.example"},
                               json={"address": console.operator.address, "chain_id": 1})
    assert (answer.status_code, answer.json()["code"]) == (403, "console_cross_origin")


def test_a_form_that_is_not_urlencoded_is_refused(console):
    console.sign_in()
    answer = console.http.post("/console/subject", json={**FORM, "csrf": console.csrf()},
                               headers=SAME_ORIGIN)
    assert (answer.status_code, answer.json()["code"]) == (422, "console_form_invalid")


def test_signing_out_ends_the_console_session(console):
    console.sign_in()
    out = console.post("/console/signout", {})
    assert out.status_code == 303
    assert CONSOLE_COOKIE not in console.http.cookies
    assert console.http.get("/console/requests").status_code == 401
