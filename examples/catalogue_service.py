"""The music catalogue: a second service that relies on walletauth, through the SDK.

It checks walletauth access tokens offline (``require_wallet`` over a
``SessionVerifier`` fed by walletauth's JWKS) and asks walletauth whether the token's
session still lives (``Client.session_revoked``, so a sign-out or an erasure ends it
here too), asks walletauth ``allowed()`` before it uses a purpose, and deletes what it
holds about a wallet when a signed ``subject.erased`` notice arrives at its webhook
(``verify_notice`` with a replay guard, so a retried or replayed notice is acted on
once).

Run (after registering ``catalogue`` in walletauth's ``WALLETAUTH_SERVICES`` with the
SHA-256 of its API key and a webhook at ``http://127.0.0.1:8100/notices``)::

    CATALOGUE_WALLETAUTH_URL=http://localhost:8000 CATALOGUE_API_KEY=wa_svc_... \\
    CATALOGUE_WEBHOOK_SECRETS=whsec_... \\
    .venv/bin/uvicorn --factory examples.catalogue_service:app_from_environment --port 8100
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from walletauth.sdk import (
    Client,
    InMemoryReplayGuard,
    SdkError,
    SessionVerifier,
    WalletSession,
    install_problem_responses,
    require_wallet,
    verify_notice,
)

LISTENING = "service_provision"
"""Keeping a wallet's favourites is the catalogue's service itself."""
RECOMMENDING = "quality_marketing"
"""Recommendations from favourites are marketing: only with the wallet's consent."""


@dataclass(frozen=True)
class CatalogueConfig:
    walletauth_url: str
    api_key: str
    issuer: str
    webhook_secrets: tuple[str, ...]
    audience: str | None = None
    """Defaults to the issuer, as walletauth's own tokens do."""


@dataclass
class Favourites:
    """The catalogue's own data: favourite tracks per wallet (in memory, for the example)."""

    by_wallet: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, address: str, track: str) -> list[str]:
        with self.lock:
            tracks = self.by_wallet.setdefault(address, [])
            tracks.append(track)
            return list(tracks)

    def of(self, address: str) -> list[str]:
        with self.lock:
            return list(self.by_wallet.get(address, []))

    def forget(self, address: str) -> None:
        with self.lock:
            self.by_wallet.pop(address, None)


class TrackIn(BaseModel):
    track: str = Field(min_length=1, max_length=200)


class FavouritesOut(BaseModel):
    tracks: list[str]


class RecommendationsOut(BaseModel):
    tracks: list[str]
    reason: str | None = Field(description="Why there are none, when walletauth says no")


def _problem(status: int, code: str, detail: str) -> JSONResponse:
    body = {"type": f"urn:catalogue:problem:{code}", "title": code, "status": status,
            "detail": detail, "code": code}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def create_catalogue_app(config: CatalogueConfig) -> FastAPI:
    walletauth = Client(config.walletauth_url, config.api_key)
    verifier = SessionVerifier(f"{config.walletauth_url}/.well-known/jwks.json",
                               issuer=config.issuer, audience=config.audience or config.issuer,
                               revocation_check=walletauth.session_revoked)
    favourites = Favourites()
    seen = InMemoryReplayGuard()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            verifier.close()
            walletauth.close()

    app = FastAPI(title="music catalogue (walletauth example)", lifespan=lifespan)
    app.state.favourites = favourites
    app.state.notices_acted_on = acted_on = []  # (type, id) of each, for the operator and tests
    install_problem_responses(app)
    signed_in = Depends(require_wallet(verifier))

    async def may_use(address: str, purpose: str) -> str | None:
        permission = await run_in_threadpool(walletauth.allowed, address, purpose)
        return None if permission.allowed else permission.reason

    @app.post("/favourites", response_model=FavouritesOut)
    async def add_favourite(
        body: TrackIn, wallet: WalletSession = signed_in
    ) -> FavouritesOut | Response:
        refusal = await may_use(wallet.address, LISTENING)
        if refusal is not None:
            return _problem(403, refusal, "walletauth does not allow this use")
        return FavouritesOut(tracks=favourites.add(wallet.address, body.track))

    @app.get("/favourites", response_model=FavouritesOut)
    async def list_favourites(wallet: WalletSession = signed_in) -> FavouritesOut | Response:
        refusal = await may_use(wallet.address, LISTENING)
        if refusal is not None:
            return _problem(403, refusal, "walletauth does not allow this use")
        return FavouritesOut(tracks=favourites.of(wallet.address))

    @app.get("/recommendations", response_model=RecommendationsOut)
    async def recommendations(wallet: WalletSession = signed_in) -> RecommendationsOut:
        refusal = await may_use(wallet.address, RECOMMENDING)
        if refusal is not None:
            return RecommendationsOut(tracks=[], reason=refusal)
        liked = favourites.of(wallet.address)
        return RecommendationsOut(tracks=[f"more like {track}" for track in liked], reason=None)

    @app.post("/notices", status_code=204)
    async def notices(request: Request) -> Response:
        try:
            notice = verify_notice(await request.body(), request.headers,
                                   list(config.webhook_secrets), seen=seen)
        except SdkError as error:
            # A replay of a notice already acted on is answered 2xx: nothing left to do.
            if error.code == "notice_replayed":
                return Response(status_code=204)
            return _problem(400, error.code, error.message)
        if notice.type == "subject.erased" and notice.subject is not None:
            favourites.forget(notice.subject)
        acted_on.append((notice.type, notice.id))
        return Response(status_code=204)

    return app


def app_from_environment() -> FastAPI:
    """The factory uvicorn calls: ``CATALOGUE_*`` environment variables."""
    url = os.environ["CATALOGUE_WALLETAUTH_URL"]
    return create_catalogue_app(CatalogueConfig(
        walletauth_url=url,
        api_key=os.environ["CATALOGUE_API_KEY"],
        issuer=os.environ.get("CATALOGUE_ISSUER", url),
        webhook_secrets=tuple(os.environ["CATALOGUE_WEBHOOK_SECRETS"].split()),
    ))
