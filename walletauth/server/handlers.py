"""Every error becomes a problem response: the layers' errors through the one mapping in
:mod:`walletauth.server.problems`, framework errors with codes of their own, and
anything unforeseen as a 500 that reveals nothing."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from walletauth.errors import WalletAuthError
from walletauth.server.problems import error_response, problem_response

log = logging.getLogger("walletauth.server")

CODE_BY_HTTP_STATUS = {
    400: "malformed_json",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


async def _walletauth_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, WalletAuthError)
    response = error_response(error)
    if response.status_code >= 500:
        log.error("%s %s failed: %s", request.method, _route(request), error.code)
    return response


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = list(error.errors())
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return problem_response("malformed_json", "the request body is not valid JSON")
    return problem_response("invalid_request", "; ".join(_describe(p) for p in problems[:5]))


def _describe(problem: dict[str, object]) -> str:
    location = ".".join(str(part) for part in problem.get("loc", ()))  # type: ignore[attr-defined]
    return f"{location}: {problem.get('msg', 'invalid')}"


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = CODE_BY_HTTP_STATUS.get(error.status_code, "invalid_request")
    headers = dict(error.headers or {})
    return problem_response(code, str(error.detail), headers=headers or None)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # The traceback goes to the log (no request data in it); the client learns nothing.
    log.exception("%s %s crashed", request.method, _route(request))
    return problem_response("internal_error", "an internal error occurred")


def _route(request: Request) -> str:
    """The route template: a raw path could carry an address a client put there."""
    return getattr(request.scope.get("route"), "path", "unmatched")


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WalletAuthError, _walletauth_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
