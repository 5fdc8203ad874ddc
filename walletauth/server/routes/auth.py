"""``/auth``: nonce, verify, refresh, logout, session.

Nonce and verify are answered ahead of FastAPI by the plain-ASGI fast path
(:mod:`walletauth.server.signin.asgi`); they are declared here all the same, once: the
OpenAPI schema is FastAPI's for them as for every route, and these handlers answer when
the fast path is off, with the same parts (``tests/server/test_sign_in_paths.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from walletauth.server.signin.answers import NO_STORE, SessionCookie, token_body
from walletauth.server.signin.asgi import require_json
from walletauth.server.signin.login import SignedIn
from walletauth.server.web.deps import (
    BearerDep,
    ClientDep,
    PrincipalDep,
    RuntimeDep,
    SessionCookieDep,
)
from walletauth.server.web.problems import problem_responses
from walletauth.server.web.schemas import (
    NonceResponse,
    SessionResponse,
    TokenResponse,
    VerifyRequest,
)

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get(
    "/nonce",
    response_model=NonceResponse,
    responses=problem_responses(429, 500, 503),
    summary="A fresh single-use nonce for the next sign-in message",
)
async def nonce(runtime: RuntimeDep, client: ClientDep, response: Response) -> NonceResponse:
    response.headers.update(NO_STORE)
    return NonceResponse(nonce=await runtime.login.new_nonce(client))


@router.post(
    "/verify",
    response_model=TokenResponse,
    responses=problem_responses(400, 401, 403, 413, 422, 429, 500, 503),
    summary="Sign in with a signed EIP-4361 message; sets the session cookie",
    description=(
        "The message's nonce must come from GET /auth/nonce and is consumed: a"
        " second verify with it answers 401 with code `nonce_unknown`, as does"
        " an expired or unknown nonce. The body must be sent as"
        " `Content-Type: application/json`."
    ),
)
async def verify(
    body: VerifyRequest, runtime: RuntimeDep, client: ClientDep, request: Request,
    response: Response,
) -> TokenResponse:
    require_json(request.headers.get("content-type"))
    signed_in = await runtime.login.verify(body.message, body.signature, client)
    if signed_in.cookie is not None:
        cookie = SessionCookie(secure=runtime.settings.cookie_secure)
        max_age = int(runtime.settings.session_ttl.total_seconds())
        response.headers.append("set-cookie", cookie.set(signed_in.cookie, max_age=max_age))
    return _token_response(signed_in, response)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses=problem_responses(401, 422, 500, 503),
    summary="A new access token and a new session cookie, replacing the cookie sent",
    description=(
        "The session of the cookie sent is replaced by a new one of the same sign-in (same"
        " expiry), whose cookie the answer sets; the old cookie no longer works. Sending a"
        " replaced cookie again, here or anywhere, ends every session of that sign-in"
        " (`session_revoked`): one of the two copies was stolen. A front end refreshes one"
        " request at a time."
    ),
)
async def refresh(
    runtime: RuntimeDep, response: Response, cookie: SessionCookieDep = None
) -> TokenResponse:
    signed_in = await runtime.login.refresh(cookie)
    if signed_in.cookie is not None and signed_in.cookie_expires_at is not None:
        left = signed_in.cookie_expires_at - runtime.clock()
        session_cookie = SessionCookie(secure=runtime.settings.cookie_secure)
        response.headers.append(
            "set-cookie",
            session_cookie.set(signed_in.cookie, max_age=max(1, int(left.total_seconds()))),
        )
    return _token_response(signed_in, response)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 422, 500, 503),
    summary="End the session of the token, else of the cookie; its access tokens stop working",
    description=(
        "With both an `Authorization: Bearer` token and the session cookie, the token's"
        " session ends (the same precedence as every route that asks who is signed in);"
        " the cookie is cleared only when it belongs to the ended session (or does not"
        " open), so a browser's other session is neither ended nor forgotten."
    ),
)
async def logout(
    runtime: RuntimeDep, credentials: BearerDep, cookie: SessionCookieDep = None
) -> Response:
    token = credentials.credentials if credentials is not None else None
    clear_cookie = await runtime.login.logout(cookie=cookie, token=token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if clear_cookie:
        SessionCookie(secure=runtime.settings.cookie_secure).clear(response)
    return response


@router.get(
    "/session",
    response_model=SessionResponse,
    responses=problem_responses(401, 422, 500, 503),
    summary="Who is signed in (by Bearer token, else by session cookie)",
    description=(
        "A Bearer token, when sent, alone decides (an invalid or ended one answers 401"
        " even beside a good cookie); the cookie counts only without one. Every route"
        " for a signed-in wallet, and logout, follow the same rule."
    ),
)
async def session(principal: PrincipalDep) -> SessionResponse:
    return SessionResponse(address=principal.address, chain_id=principal.chain_id)


def _token_response(signed_in: SignedIn, response: Response) -> TokenResponse:
    response.headers.update(NO_STORE)
    return TokenResponse.model_validate(token_body(signed_in))
