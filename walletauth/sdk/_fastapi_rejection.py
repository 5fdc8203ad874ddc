"""The exception :func:`~walletauth.sdk.fastapi_auth.require_wallet` raises, and its handler.

Kept apart because it subclasses FastAPI's HTTPException and so imports FastAPI; only
the FastAPI helpers import this module, and only when they are used.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import Response

from walletauth.sdk.errors import SdkError
from walletauth.sdk.problem import problem_document, problem_response


class WalletAuthRejected(HTTPException):
    """A request refused for its credential. Being an HTTPException, an app without our
    handler still answers with the right status and challenge instead of a 500."""

    def __init__(self, error: SdkError) -> None:
        answer = problem_response(error)
        headers = {k: v for k, v in answer.headers.items() if k != "Content-Type"}
        super().__init__(answer.status, detail=problem_document(error), headers=headers)
        self.error = error


async def problem_handler(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, WalletAuthRejected):
        raise exc
    answer = problem_response(exc.error)
    return Response(content=answer.body, status_code=answer.status, headers=answer.headers)
