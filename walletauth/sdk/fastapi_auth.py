"""FastAPI support: a dependency that yields the signed-in wallet or answers 401.

FastAPI is imported inside the functions, so ``import walletauth.sdk`` stays cheap for
services on other frameworks.

    verifier = AsyncSessionVerifier(issuer="https://login.example", audience="music")
    app = FastAPI()
    install_problem_responses(app)
    wallet = require_wallet(verifier)

    @app.get("/me")
    async def me(session: Annotated[WalletSession, Depends(wallet)]) -> dict[str, str]: ...

Without :func:`install_problem_responses` a refusal is still a 401 with the same
``WWW-Authenticate`` header, only in FastAPI's ``{"detail": ...}`` shape.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from walletauth.sdk.bearer import bearer_token
from walletauth.sdk.errors import SdkError
from walletauth.sdk.session import WalletSession
from walletauth.sdk.verifier import AsyncSessionVerifier, SessionVerifier


def require_wallet(
    verifier: SessionVerifier | AsyncSessionVerifier, *, cookie_name: str | None = None
) -> Callable[..., Awaitable[WalletSession]]:
    """A dependency returning the request's :class:`WalletSession`.

    The token comes from ``Authorization: Bearer``, else from the cookie ``cookie_name``
    when one is given. A sync verifier runs in the thread pool, since it may fetch keys.
    """
    from fastapi import Request
    from fastapi.concurrency import run_in_threadpool

    from walletauth.sdk._fastapi_rejection import WalletAuthRejected

    async def wallet_session(request: Request) -> WalletSession:
        cookie = request.cookies.get(cookie_name) if cookie_name else None
        try:
            token = bearer_token(request.headers.get("authorization"), cookie=cookie)
            if isinstance(verifier, AsyncSessionVerifier):
                return await verifier.verify(token)
            return await run_in_threadpool(verifier.verify, token)
        except SdkError as error:
            raise WalletAuthRejected(error) from error

    return wallet_session


def install_problem_responses(app: Any) -> None:
    """Make ``app`` answer refusals of :func:`require_wallet` as problem+json documents."""
    from walletauth.sdk._fastapi_rejection import WalletAuthRejected, problem_handler

    app.add_exception_handler(WalletAuthRejected, problem_handler)
