"""The OpenID Provider's HTTP endpoints, mounted by the server app when clients are
configured (``WALLETAUTH_OIDC_CLIENTS``) or may register (``WALLETAUTH_OIDC_REGISTRATION``,
which alone mounts ``POST /oauth/register``: off, that path is unknown like any other).

The OAuth endpoints (authorize, token, userinfo) answer OAuth errors as their RFCs say:
a redirect with ``error`` once the client and its redirect URI are known good, else a
page (authorize) or JSON (token, RFC 6749 5.2), and ``WWW-Authenticate`` on UserInfo
(RFC 6750 3.1). The sign-in page's own calls answer problem+json like the rest of the
server. None of them is in the OpenAPI schema: OpenID Connect Discovery describes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Final
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from walletauth.oidc import pages
from walletauth.oidc.provider import OP_SESSION_COOKIE, Answer, OidcProvider, Ticket
from walletauth.oidc.registration import REGISTER_PATH
from walletauth.server.config.settings import Settings
from walletauth.server.delivery import LogoutPoster
from walletauth.server.signin.login import Client
from walletauth.server.web.client_ip import client_ip
from walletauth.server.web.deps import MAX_USER_AGENT_CHARS

ASSETS: Final = Path(__file__).with_name("assets")
FORM_TYPE: Final = "application/x-www-form-urlencoded"
MAX_SEALED: Final = 8192

router = APIRouter(include_in_schema=False)
registration_router = APIRouter(include_in_schema=False)


class MessageRequest(BaseModel):
    ticket: str = Field(max_length=MAX_SEALED)
    address: str = Field(max_length=64)
    chain_id: int = Field(gt=0, lt=2**53)


class LoginRequest(BaseModel):
    ticket: str = Field(max_length=MAX_SEALED)
    message: str = Field(max_length=8192)
    signature: str = Field(max_length=4096)


def install(app: FastAPI, settings: Settings) -> bool:
    """Mount the provider's routes if any client is configured or may register; say if
    mounted."""
    registration = settings.oidc_registration != "off"
    if not settings.serves_openid_provider:
        return False
    app.include_router(router)
    if registration:
        app.include_router(registration_router)
    app.state.oidc_mounted = True
    return True


def start(app: FastAPI) -> None:
    """Make the provider as the app starts, if its routes are mounted: a client whose
    scopes name no optional purpose of the policy stops the start-up, naming the entry,
    instead of failing every request."""
    if getattr(app.state, "oidc_mounted", False):
        app.state.oidc_provider = OidcProvider(app.state.runtime)


def logouts_of(app: FastAPI) -> LogoutPoster | None:
    """What makes the provider's back-channel logouts for the notice worker, if mounted."""
    provider: OidcProvider | None = getattr(app.state, "oidc_provider", None)
    return provider.logout_tokens.post if provider is not None else None


def provider_of(request: Request) -> OidcProvider:
    """The app's provider, made on first use from its runtime (which exists only once
    the app has started)."""
    state = request.app.state
    provider: OidcProvider | None = getattr(state, "oidc_provider", None)
    if provider is None or provider.runtime is not state.runtime:
        provider = state.oidc_provider = OidcProvider(state.runtime)
    return provider


def _client(request: Request, provider: OidcProvider) -> Client:
    peer = request.client.host if request.client else None
    ip = client_ip(peer, request.headers.getlist("x-forwarded-for"),
                   provider.runtime.settings.trusted_proxies)
    agent = request.headers.get("user-agent")
    return Client(ip=ip, user_agent=agent[:MAX_USER_AGENT_CHARS] if agent else None)


def _lang(request: Request, items: Sequence[tuple[str, str]] = ()) -> pages.Lang:
    return pages.choose_language(dict(items).get("ui_locales"),
                                 request.headers.get("accept-language"))


async def _form(request: Request) -> list[tuple[str, str]] | None:
    """A form body's fields, or ``None`` when the body is not a form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        return None
    body = (await request.body()).decode("utf-8", errors="replace")
    return parse_qsl(body, keep_blank_values=True)


def _answer(answer: Answer) -> Response:
    status, body, headers = answer
    if isinstance(body, dict):
        response: Response = JSONResponse(body, status_code=status)
    else:
        response = Response(body or b"", status_code=status)
    for name, value in headers:
        response.headers[name] = value
    if status == 200 or isinstance(body, dict):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


def _html(page: str, status: int = 200, form_targets: Sequence[str] = ()) -> HTMLResponse:
    return HTMLResponse(page, status_code=status, headers=pages.headers(form_targets))


def _refused(request: Request, items: Sequence[tuple[str, str]], answer: Answer) -> Response:
    """An authorization refused: to the client when Authlib knows its redirect URI is
    good (302), else a page for the person (never a redirect to an unchecked URI)."""
    status, body, _headers = answer
    if status == 302:
        return _answer(answer)
    error = dict(body).get("error", "invalid_request") if isinstance(body, dict) else "error"
    description = (dict(body).get("error_description") or "") if isinstance(body, dict) else ""
    return _html(pages.error_page(_lang(request, items), error, description), status=400)


@router.get("/.well-known/openid-configuration")
async def discovery(request: Request) -> JSONResponse:
    return JSONResponse(provider_of(request).discovery(),
                        headers={"Cache-Control": "public, max-age=300"})


@router.get("/oauth/assets/signin.js")
async def sign_in_script() -> Response:
    return Response((ASSETS / "signin.js").read_bytes(),
                    media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@router.get("/oauth/authorize")
async def authorize(request: Request) -> Response:
    provider = provider_of(request)
    items = list(request.query_params.multi_items())
    oauth_request = provider.request("GET", "/oauth/authorize", items)
    try:
        await provider.validate(items, None)
    except OAuth2Error as error:
        return _refused(request, items, provider.error_answer(oauth_request, error))
    ticket, sealed = provider.new_ticket(items)
    client = await provider.client_of(ticket)
    return _html(pages.sign_in_page(_lang(request, items), client, sealed))


@router.post("/oauth/authorize/message")
async def sign_in_message(request: Request, body: Annotated[MessageRequest, Body()]
                          ) -> JSONResponse:
    provider = provider_of(request)
    text = await provider.message(body.ticket, body.address, body.chain_id,
                                  _client(request, provider))
    return JSONResponse({"message": text}, headers={"Cache-Control": "no-store"})


@router.post("/oauth/authorize/login")
async def sign_in(request: Request, body: Annotated[LoginRequest, Body()]) -> JSONResponse:
    provider = provider_of(request)
    consent, cookie = await provider.login(body.ticket, body.message, body.signature,
                                           _client(request, provider),
                                           request.cookies.get(OP_SESSION_COOKIE))
    response = JSONResponse({"consent": consent}, headers={"Cache-Control": "no-store"})
    settings = provider.runtime.settings
    # The provider's pages only (/oauth/...); not readable by scripts; sent on a client's
    # top-level redirect to the authorization page (Lax), never on cross-site requests.
    response.set_cookie(OP_SESSION_COOKIE, cookie, path="/oauth", httponly=True,
                        samesite="lax", secure=settings.cookie_secure,
                        max_age=int(settings.session_ttl.total_seconds()))
    return response


@router.post("/oauth/authorize/consent")
async def consent(request: Request) -> Response:
    provider = provider_of(request)
    fields = dict(await _form(request) or [])
    ticket, grantee = provider.open_consent(fields.get("consent"))
    lang = _lang(request, ticket.items)
    try:
        offer = await provider.offer(ticket, grantee)
    except OAuth2Error as error:
        error.state = dict(ticket.items).get("state")
        return _refused(request, ticket.items,
                        provider.error_answer(provider.request("GET", "/", ticket.items), error))
    page = pages.consent_page(
        lang, provider.policy, offer.client, str(fields["consent"]),
        address=grantee.address if offer.wallet_address else None, chain_id=grantee.chain_id,
        purposes=offer.purposes, granted_already=offer.granted_already,
        redirect_uri=offer.redirect_uri,
    )
    return _html(page, form_targets=[pages.origin_of(offer.redirect_uri)])


@router.post("/oauth/authorize/decision")
async def decision(request: Request) -> Response:
    provider = provider_of(request)
    items = await _form(request) or []
    fields = dict(items)
    chosen = [value for name, value in items if name == "scope"]
    sealed = fields.get("consent")
    ticket = Ticket.of(provider.open_ticket(sealed, "consent"))
    try:
        answer = await provider.decide(str(sealed), fields.get("decision") == "allow", chosen)
    except OAuth2Error as error:
        error.state = dict(ticket.items).get("state")
        answer = provider.error_answer(provider.request("GET", "/", ticket.items), error)
    return _refused(request, ticket.items, answer)


@router.post("/oauth/token")
async def token(request: Request) -> Response:
    provider = provider_of(request)
    items = await _form(request)
    if items is None:
        return _answer((400, {"error": "invalid_request",
                              "error_description": f"send the parameters as {FORM_TYPE}"}, []))
    return _answer(await provider.token(items, request.headers))


@router.api_route("/oauth/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request) -> Response:
    provider = provider_of(request)
    return _answer(await provider.userinfo(request.headers.get("authorization")))


@registration_router.post(REGISTER_PATH)
async def register(request: Request) -> Response:
    """RFC 7591 3: a client registers itself; rate-limited per client network, as each
    registration is a row kept for good."""
    provider = provider_of(request)
    runtime = provider.runtime
    await runtime.limiter.registration_requested(_client(request, provider).ip,
                                                 now=runtime.clock())
    answer = await provider.register(await request.body(),
                                     request.headers.get("content-type", ""), request.headers)
    return _answer(answer)


@router.api_route("/oauth/logout", methods=["GET", "POST"])
async def logout(request: Request) -> Response:
    provider = provider_of(request)
    items: list[tuple[str, str]] = list(request.query_params.multi_items())
    if request.method == "POST":
        items = await _form(request) or []
    lang = _lang(request, items)
    try:
        redirect, client_name = await provider.logout(items)
    except OAuth2Error as error:
        description = error.get_error_description() or ""
        return _html(pages.error_page(lang, str(error.error), str(description)), status=400)
    answer: Response
    if redirect is not None:
        answer = RedirectResponse(redirect, status_code=302)
    else:
        answer = _html(pages.logged_out_page(lang, client_name))
    # The browser's provider session is over: the next sign-in starts a new one.
    answer.delete_cookie(OP_SESSION_COOKIE, path="/oauth")
    return answer


