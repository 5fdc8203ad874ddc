"""``/auth``: refresh, logout, session. The sign-in's own two requests, nonce and verify,
are plain ASGI (:mod:`walletauth.server.signin.asgi`)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from walletauth.server.signin.login import SignedIn
from walletauth.server.web.deps import (
    SESSION_COOKIE,
    BearerDep,
    PrincipalDep,
    RuntimeDep,
    SessionCookieDep,
)
from walletauth.server.web.problems import problem_responses
from walletauth.server.web.schemas import (
    SessionResponse,
    TokenResponse,
)

router = APIRouter(prefix="/auth", tags=["auth"])

NO_STORE = {"Cache-Control": "no-store"}


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
        response.set_cookie(
            SESSION_COOKIE, signed_in.cookie, max_age=max(1, int(left.total_seconds())),
            path="/", secure=runtime.settings.cookie_secure, httponly=True, samesite="lax",
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
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=runtime.settings.cookie_secure, httponly=True
        )
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
    return TokenResponse(
        address=signed_in.principal.address,
        chain_id=signed_in.principal.chain_id,
        access_token=signed_in.access.token,
        expires_in=signed_in.access.expires_in,
    )
