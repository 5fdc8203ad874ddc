"""Finding the access token in a request, for any web framework."""

from __future__ import annotations

from typing import Final

from walletauth.sdk.errors import SdkError
from walletauth.sdk.session import WalletSession
from walletauth.sdk.verifier import SessionVerifier

BEARER: Final = "bearer"


def bearer_token(authorization: str | None, *, cookie: str | None = None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, else of a session cookie.

    The header wins when both are present: it is what API clients send on purpose,
    while a cookie may be left over from a browser session.
    """
    if authorization is None or not authorization.strip():
        if cookie:
            return cookie
        raise SdkError("token_missing", "send 'Authorization: Bearer <access token>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != BEARER:
        raise SdkError("token_invalid", f"authorization scheme {scheme!r} is not Bearer")
    if not token or " " in token:
        raise SdkError("token_invalid", "the Bearer credential must be one token")
    return token


def session_from_authorization_header(
    verifier: SessionVerifier, header_value: str | None, *, cookie: str | None = None
) -> WalletSession:
    """The verified session of a request, given its ``Authorization`` header (and cookie).

    For Flask, Django, plain WSGI...: call it and map :class:`SdkError` to a response
    with :func:`walletauth.sdk.problem.problem_response`. Async code uses
    ``await verifier.verify(bearer_token(header_value))`` with an AsyncSessionVerifier.
    """
    return verifier.verify(bearer_token(header_value, cookie=cookie))
