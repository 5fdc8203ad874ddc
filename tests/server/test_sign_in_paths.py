"""The sign-in's two paths answer alike: the plain-ASGI fast path every deployment serves
(walletauth.server.signin.asgi) and the FastAPI routes that declare nonce and verify
(walletauth.server.routes.auth), which answer when the fast path is off. Same requests,
same status, problem code, body fields, headers and cookie attributes; and the OpenAPI
schema FastAPI writes for them is the description the fast path had by hand."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.server.conftest import Wallet, make_settings, serving
from walletauth.server.signin.answers import SessionCookie
from walletauth.server.web.problems import problem_responses
from walletauth.server.web.schemas import NonceResponse, TokenResponse, VerifyRequest

MAX_BODY = 4096


class Counted:
    """The fast path, counting the requests it answers."""

    def __init__(self, fast) -> None:
        self.fast = fast
        self.answered = 0

    def handles(self, scope) -> bool:
        return self.fast.handles(scope)

    async def __call__(self, scope, receive, send) -> None:
        self.answered += 1
        await self.fast(scope, receive, send)


@pytest.fixture(params=[False, True], ids=["insecure-http", "secure-cookie"])
def both_paths(request, tmp_path) -> Iterator[tuple[httpx.Client, Callable[[bool], Counted]]]:
    """A client, and a switch between the fast path (True) and FastAPI's routes (False)."""
    settings = make_settings(tmp_path, max_body_bytes=MAX_BODY, insecure_http=not request.param)
    with serving(settings) as (url, app), httpx.Client(base_url=url, timeout=30) as http:
        fast = app.login_endpoints
        counted = Counted(fast)

        def use_fast_path(on: bool) -> Counted:
            app.login_endpoints = counted if on else None
            return counted

        yield http, use_fast_path
        app.login_endpoints = fast


def answer(response: httpx.Response) -> dict[str, Any]:
    """What must be the same on both paths (a nonce, a token and a cookie's value differ)."""
    body = response.json() if response.content else None
    cookies = response.headers.get_list("set-cookie")
    return {
        "status": response.status_code,
        "content-type": response.headers.get("content-type"),
        "cache-control": response.headers.get("cache-control"),
        "allow": response.headers.get("allow"),
        "fields": sorted(body) if isinstance(body, dict) else body,
        "code": body.get("code") if isinstance(body, dict) else None,
        "token_type": body.get("token_type") if isinstance(body, dict) else None,
        "cookies": [cookie.partition(";")[2] for cookie in cookies],
        "cookie names": [cookie.partition("=")[0] for cookie in cookies],
    }


def nonce_of(http: httpx.Client) -> str:
    return http.get("/auth/nonce").json()["nonce"]


def signed(http: httpx.Client, wallet: Wallet) -> bytes:
    return json.dumps(wallet.signed_body(nonce_of(http))).encode()


JSON = {"Content-Type": "application/json"}
REQUESTS: dict[str, Callable[[httpx.Client, Wallet], httpx.Response]] = {
    "nonce": lambda http, _wallet: http.get("/auth/nonce"),
    "verify": lambda http, wallet: http.post("/auth/verify", content=signed(http, wallet),
                                             headers=JSON),
    "verify, +json": lambda http, wallet: http.post(
        "/auth/verify", content=signed(http, wallet),
        headers={"Content-Type": "application/vnd.api+json; charset=utf-8"}),
    "nonce used twice": lambda http, wallet: _twice(http, wallet),
    "not the wallet's signature": lambda http, wallet: http.post(
        "/auth/verify", headers=JSON, content=json.dumps({
            "message": wallet.message(nonce_of(http)),
            "signature": Wallet().sign(wallet.message(nonce_of(http))),
        }).encode()),
    "a form's content type": lambda http, wallet: http.post(
        "/auth/verify", content=signed(http, wallet),
        headers={"Content-Type": "text/plain"}),
    "no content type": lambda http, wallet: http.post("/auth/verify",
                                                      content=signed(http, wallet)),
    "malformed JSON": lambda http, _wallet: http.post("/auth/verify", content=b'{"message":',
                                                      headers=JSON),
    "a field missing": lambda http, _wallet: http.post("/auth/verify", headers=JSON,
                                                       content=b'{"message": "x"}'),
    "a field too many": lambda http, wallet: http.post(
        "/auth/verify", headers=JSON,
        content=json.dumps({**json.loads(signed(http, wallet)), "extra": 1}).encode()),
    "a body over the limit": lambda http, _wallet: http.post(
        "/auth/verify", headers=JSON,
        content=json.dumps({"message": "x" * MAX_BODY, "signature": "0x"}).encode()),
    "a body streaming past the limit": lambda http, _wallet: http.post(
        "/auth/verify", headers=JSON,
        content=iter([b'{"message": "', b"x" * MAX_BODY, b'", "signature": "0x"}'])),
    "verify by GET": lambda http, _wallet: http.get("/auth/verify"),
    "nonce by POST": lambda http, _wallet: http.post("/auth/nonce"),
}


def _twice(http: httpx.Client, wallet: Wallet) -> httpx.Response:
    body = signed(http, wallet)
    assert http.post("/auth/verify", content=body, headers=JSON).status_code == 200
    return http.post("/auth/verify", content=body, headers=JSON)


@pytest.mark.parametrize("name", list(REQUESTS))
def test_both_paths_give_the_same_answer(both_paths, name):
    http, use_fast_path = both_paths
    answers, answered = {}, {}
    for fast in (True, False):
        counted = use_fast_path(fast)
        before = counted.answered
        answers[fast] = answer(REQUESTS[name](http, Wallet()))
        answered[fast] = counted.answered - before
    assert answers[True] == answers[False]
    # Each path really answered its turn: the fast path all of its requests, none after.
    assert answered[True] > 0
    assert answered[False] == 0


def test_the_answers_are_the_ones_expected(both_paths):
    """Not merely alike: what each request is answered, on the fast path."""
    http, use_fast_path = both_paths
    use_fast_path(True)
    got = {name: answer(make(http, Wallet())) for name, make in REQUESTS.items()}
    assert {name: (a["status"], a["code"]) for name, a in got.items()} == {
        "nonce": (200, None),
        "verify": (200, None),
        "verify, +json": (200, None),
        "nonce used twice": (401, "nonce_unknown"),
        "not the wallet's signature": (401, "invalid_signature"),
        "a form's content type": (422, "invalid_request"),
        "no content type": (422, "invalid_request"),
        "malformed JSON": (400, "malformed_json"),
        "a field missing": (422, "invalid_request"),
        "a field too many": (422, "invalid_request"),
        "a body over the limit": (413, "request_too_large"),
        "a body streaming past the limit": (413, "request_too_large"),
        "verify by GET": (405, "method_not_allowed"),
        "nonce by POST": (405, "method_not_allowed"),
    }
    assert got["verify"]["fields"] == sorted(TokenResponse.model_fields)
    assert got["verify"]["cache-control"] == got["nonce"]["cache-control"] == "no-store"


def test_the_cookie_is_written_as_starlette_writes_it():
    from starlette.responses import Response

    for secure in (False, True):
        response = Response()
        response.set_cookie("walletauth_session", "v.al", max_age=1209600, path="/",
                            secure=secure, httponly=True, samesite="lax")
        assert SessionCookie(secure=secure).set("v.al", max_age=1209600) == (
            response.headers["set-cookie"])


def test_the_schema_describes_nonce_and_verify_as_the_fast_path_did(tmp_path):
    """FastAPI writes the description from the routes; it is the one the fast path once
    added by hand (same operations, models, problem codes), and they still come first."""
    from walletauth.server.app import create_app

    schema = create_app(make_settings(tmp_path)).openapi()

    def ref(model: type) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def operation(name: str, method: str, summary: str, model: type,
                  problems: dict[int | str, Any]) -> dict[str, Any]:
        return {
            "tags": ["auth"], "summary": summary,
            "operationId": f"{name}_auth_{name}_{method}",
            "responses": {
                "200": {"description": "Successful Response",
                        "content": {"application/json": {"schema": ref(model)}}},
                **{str(status): problem for status, problem in problems.items()},
            },
        }

    assert list(schema["paths"])[:2] == ["/auth/nonce", "/auth/verify"]
    assert schema["paths"]["/auth/nonce"] == {"get": operation(
        "nonce", "get", "A fresh single-use nonce for the next sign-in message",
        NonceResponse, problem_responses(429, 500, 503))}
    assert schema["paths"]["/auth/verify"] == {"post": {
        **operation("verify", "post",
                    "Sign in with a signed EIP-4361 message; sets the session cookie",
                    TokenResponse,
                    problem_responses(400, 401, 403, 413, 422, 429, 500, 503)),
        "description": (
            "The message's nonce must come from GET /auth/nonce and is consumed: a"
            " second verify with it answers 401 with code `nonce_unknown`, as does"
            " an expired or unknown nonce. The body must be sent as"
            " `Content-Type: application/json`."),
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": ref(VerifyRequest)}}},
    }}
    components = schema["components"]["schemas"]
    for model in (NonceResponse, VerifyRequest, TokenResponse):
        assert components[model.__name__] == model.model_json_schema(
            ref_template="#/components/schemas/{model}")
