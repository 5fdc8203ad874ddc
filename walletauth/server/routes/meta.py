"""Keys, health and metrics: what other services and operators poll."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from walletauth.server.web.deps import RuntimeDep
from walletauth.server.web.errors import ServerError
from walletauth.server.web.problems import problem_responses
from walletauth.server.web.schemas import HealthResponse, JwkSet

router = APIRouter(tags=["meta"])

# Verifiers cache the key set; a minute keeps a rotation visible quickly. Verifiers
# that meet an unknown kid should refetch anyway.
JWKS_MAX_AGE_SECONDS = 60
RETRY_AFTER_SECONDS = 1
"""What a failed health check tells a poller to wait (a 503 always says when to retry)."""


@router.get(
    "/.well-known/jwks.json",
    response_model=JwkSet,
    responses=problem_responses(500),
    summary="Public keys of the access tokens (ES256) and of the OpenID Provider's ID tokens"
    " (ES256, RS256), current and still-valid old ones",
)
async def jwks(runtime: RuntimeDep, response: Response) -> JwkSet:
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return JwkSet.model_validate(runtime.jwks(runtime.clock()))


@router.get(
    "/healthz",
    response_model=HealthResponse,
    responses=problem_responses(500, 503),
    summary="Whether the database (and Redis, when configured) answer",
)
async def healthz(runtime: RuntimeDep) -> HealthResponse:
    checks = runtime.health_checks()
    for name, check in checks.items():
        try:
            await check()
        except Exception as error:
            raise ServerError(
                "service_unavailable", f"{name} does not answer", retry_after=RETRY_AFTER_SECONDS
            ) from error
    return HealthResponse(status="ok", checks=dict.fromkeys(checks, "ok"))


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"description": "Prometheus text exposition", "content": {"text/plain": {}}},
        **problem_responses(401, 500),
    },
    summary="Prometheus metrics (no addresses or IPs in any label)",
    description="With `WALLETAUTH_METRICS_TOKEN` set, only for `Authorization: Bearer <token>`.",
)
async def metrics(runtime: RuntimeDep, request: Request) -> Response:
    token = runtime.settings.metrics_token
    # Read off the request, not as a Header parameter: that would document a 422 that
    # this endpoint never answers.
    authorization = request.headers.get("authorization")
    if token is not None and not _bears(authorization, token.get_secret_value()):
        raise ServerError(
            "metrics_unauthorized", "send Authorization: Bearer <WALLETAUTH_METRICS_TOKEN>"
        )
    return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _bears(authorization: str | None, token: str) -> bool:
    scheme, _, presented = (authorization or "").partition(" ")
    # Compared in constant time: the token must not leak a byte per try.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )
