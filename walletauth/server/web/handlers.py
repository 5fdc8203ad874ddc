"""Every error becomes a problem response: the layers' errors through the one mapping in
:mod:`walletauth.server.web.problems`, framework errors with codes of their own, and
anything unforeseen as a 500 that reveals nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from walletauth.errors import WalletAuthError
from walletauth.server.web.problems import error_response, problem_response
from walletauth.store.errors import database_unavailability

log = logging.getLogger("walletauth.server")

CODE_BY_HTTP_STATUS = {
    400: "malformed_json",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


def problem_for(error: Exception, method: str, route: str) -> JSONResponse:
    """The problem answer to a request that raised ``error``: a layer's error by its code
    (logged when it is the service's fault), anything else a 500 that reveals nothing.
    ``route`` is a template, never a raw path (it could carry an address)."""
    if not isinstance(error, WalletAuthError):  # a driver's error: the database's state
        error = database_unavailability(error) or error
    if isinstance(error, WalletAuthError):
        response = error_response(error)
        if response.status_code >= 500:
            log.error("%s %s failed: %s", method, route, error.code)
        return response
    # The traceback goes to the log (no request data in it); the client learns nothing.
    log.error("%s %s crashed", method, route, exc_info=error)
    return problem_response("internal_error", "an internal error occurred")


def validation_problem(problems: Sequence[Mapping[str, Any]]) -> JSONResponse:
    """The problem answer to a body pydantic refused (``loc`` starting at the request part)."""
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return problem_response("malformed_json", "the request body is not valid JSON")
    return problem_response("invalid_request", "; ".join(_describe(p) for p in problems[:5]))


async def _walletauth_error(request: Request, error: Exception) -> JSONResponse:
    return problem_for(error, request.method, _route(request))


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return validation_problem(list(error.errors()))


def _describe(problem: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in problem.get("loc", ()))
    return f"{location}: {problem.get('msg', 'invalid')}"


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = CODE_BY_HTTP_STATUS.get(error.status_code, "invalid_request")
    headers = dict(error.headers or {})
    return problem_response(code, str(error.detail), headers=headers or None)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    return problem_for(error, request.method, _route(request))


def _route(request: Request) -> str:
    """The route template: a raw path could carry an address a client put there."""
    return getattr(request.scope.get("route"), "path", "unmatched")


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WalletAuthError, _walletauth_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
