"""The FastAPI app factory: ``create_app(settings)``, as many apps as a process likes."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from walletauth import __version__
from walletauth.oidc import routes as oidc_routes
from walletauth.server.config.policy_changes import announce_policy
from walletauth.server.config.settings import Settings
from walletauth.server.delivery import NoticeWorker, notice_endpoints, start_notice_worker
from walletauth.server.routes import (
    auth,
    consents,
    guardian,
    intake,
    meta,
    policy,
    rights,
    services,
)
from walletauth.server.routes.console import install_console, start_console
from walletauth.server.routes.static import install_api_docs, install_example_routes
from walletauth.server.runtime import Runtime, system_clock
from walletauth.server.signin.asgi import LoginEndpoints, cors_options
from walletauth.server.signin.login import Clock
from walletauth.server.web.handlers import install_exception_handlers
from walletauth.server.web.metrics import Metrics
from walletauth.server.web.middleware import (
    BodyLimitMiddleware,
    RequestMetricsMiddleware,
    with_security_headers,
)
from walletauth.server.web.problems import Problem

log = logging.getLogger("walletauth.server")


class WalletAuthApp(FastAPI):
    """FastAPI, with the sign-in's two requests answered ahead of its stack
    (:mod:`walletauth.server.signin.asgi` says why)."""

    login_endpoints: LoginEndpoints | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            send = with_security_headers(send)  # outermost: every answer, the sign-in's too
        endpoints = self.login_endpoints
        if endpoints is not None and endpoints.handles(scope):
            await endpoints(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, clock: Clock = system_clock) -> FastAPI:
    """An app serving ``settings``; its store, keys and state open when it starts.

    ``clock`` is for tests that need time to pass without sleeping.
    """
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings, metrics, clock)
        app.state.runtime = runtime
        start_console(app, runtime)
        notices: NoticeWorker | None = None
        try:
            # A misconfigured client stops the start-up here, before the worker that
            # sends its back-channel logouts starts.
            oidc_routes.start(app)
            notices = start_notice_worker(runtime.gateway, clock, notice_endpoints(settings),
                                          oidc_routes.logouts_of(app))
            # A new version's policy.changed goes into the outbox before any request.
            await runtime.gateway.run(announce_policy, runtime.notice_services(), clock())
            yield
        finally:
            if notices is not None:
                await notices.stop()
            await runtime.stop()
            metrics.process_exiting()

    app = WalletAuthApp(
        title="walletauth",
        version=__version__,
        summary="Sign-In with Ethereum login service that keeps privacy promises by construction",
        lifespan=lifespan,
        # FastAPI's pages load their scripts from a CDN: added below only when enabled.
        docs_url=None,
        redoc_url=None,
    )
    for router in (auth.router, consents.router, intake.router, rights.router,
                   services.router, guardian.router, policy.router, meta.router):
        app.include_router(router)
    install_console(app)
    oidc_routes.install(app, settings)
    install_example_routes(app, settings)
    if settings.api_docs:
        install_api_docs(app)
    install_exception_handlers(app)
    _install_schema_additions(app)
    # The last added runs first: metrics see every answer, CORS headers go on problem
    # answers too, and the body limit sits closest to the routes.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, **cors_options(settings))
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.login_endpoints = LoginEndpoints(app.state, settings, metrics)
    return app


def create_app_from_environment() -> FastAPI:
    """The factory uvicorn workers call: settings from ``WALLETAUTH_*`` and the TOML file.

    What is loaded by now (the libraries, the policy, the app) lives as long as the
    worker, so it leaves the garbage collector's view (``gc.freeze``): a full collection
    no longer walks the ~150,000 objects of web3, SQLAlchemy and pydantic, tens of
    milliseconds that some request would otherwise wait for.
    """
    app = create_app(Settings())
    gc.collect()
    gc.freeze()
    return app


def _install_schema_additions(app: FastAPI) -> None:
    """Put the Problem model into the schema's components, which problem responses name."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_schema()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            app.openapi_schema = schema
        return app.openapi_schema

    # FastAPI's documented way to customise the schema is to replace this method.
    app.openapi = openapi  # type: ignore[method-assign]
