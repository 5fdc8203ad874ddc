"""What a sign-in answers, written once for both of its paths.

Every deployment answers ``GET /auth/nonce`` and ``POST /auth/verify`` on the plain-ASGI
fast path (:mod:`walletauth.server.signin.asgi`); the same two are declared as FastAPI
routes (:mod:`walletauth.server.routes.auth`), which is where the OpenAPI schema comes
from and what answers when the fast path is off. Refresh, logout and erasure set or clear
the same cookie. So the token body, the session cookie's attributes and ``no-store``
live here, and ``tests/server/test_sign_in_paths.py`` checks that both paths answer alike.
"""

from __future__ import annotations

from typing import Final

from starlette.responses import Response

from walletauth.server.signin.login import SignedIn

SESSION_COOKIE: Final = "walletauth_session"
COOKIE_PATH: Final = "/"
NO_STORE: Final = {"Cache-Control": "no-store"}
"""Sign-in answers carry credentials: no cache keeps them."""


def token_body(signed_in: SignedIn) -> dict[str, object]:
    """The fields of :class:`~walletauth.server.web.schemas.TokenResponse`, in its order."""
    return {
        "address": signed_in.principal.address,
        "chain_id": signed_in.principal.chain_id,
        "access_token": signed_in.access.token,
        "token_type": "Bearer",
        "expires_in": signed_in.access.expires_in,
    }


class SessionCookie:
    """The session cookie's ``Set-Cookie``: HttpOnly, the whole site, SameSite=Lax, Secure
    unless turned off for local HTTP. Written as Starlette's ``Response.set_cookie`` writes
    it (attributes sorted), without building a cookie jar per sign-in."""

    def __init__(self, *, secure: bool) -> None:
        self._secure = secure
        self._after_max_age = f"; Path={COOKIE_PATH}; SameSite=lax" + (
            "; Secure" if secure else "")

    def set(self, value: str, *, max_age: int) -> str:
        """The ``Set-Cookie`` value for a new cookie living ``max_age`` seconds."""
        return f"{SESSION_COOKIE}={value}; HttpOnly; Max-Age={max_age}{self._after_max_age}"

    def clear(self, response: Response) -> None:
        """Make ``response`` clear the cookie (a browser forgets it now)."""
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=self._secure,
                               httponly=True, samesite="lax")
