"""The console's router: its sign-in, its static files, and every screen's routes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from walletauth.console import audit, inbox, overview, processing, upkeep
from walletauth.console.errors import ConsoleError
from walletauth.console.guard import (
    HostDep,
    OperatorDep,
    anyone_listed,
    checked_form,
    refuse_unlisted,
    require_same_origin,
    sessions_of,
)
from walletauth.console.html import PAGE_HEADERS, page, text
from walletauth.console.session import CONSOLE_COOKIE, COOKIE_PATH
from walletauth.rights.operator import record_operator_action
from walletauth.siwe import SiweMessage
from walletauth.siwe.message import to_checksum_address

CONSOLE_PREFIX: Final = "/console"
CONSOLE_RESOURCE: Final = "urn:walletauth:console"
STATIC_DIR: Final = Path(__file__).with_name("static")
STATIC_FILES: Final = {"console.css": "text/css; charset=utf-8",
                       "signin.js": "text/javascript; charset=utf-8",
                       "purge.js": "text/javascript; charset=utf-8"}
FIRST_SCREEN: Final = "/console/overview"

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)


class MessageAsked(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    chain_id: int = Field(ge=1, le=2**53)


class SignedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(max_length=4096)
    signature: str = Field(max_length=8192)


SIGN_IN_PAGE: Final = (
    "<p>Operators only: sign in with a wallet listed in <code>WALLETAUTH_OPERATORS</code>."
    " The session lasts a short while; every act is recorded with its reason.</p>"
    "<button id=\"sign-in\" type=\"button\">Sign in with the wallet</button>"
    "<p id=\"status\" role=\"status\"></p>"
    "<script type=\"module\" src=\"/console/static/signin.js\"></script>"
)


@router.get("/")
async def index(request: Request, host: HostDep) -> Response:
    """The sign-in page, or the first screen for a signed-in operator."""
    if await refuse_unlisted(request, host) is not None:
        return RedirectResponse(FIRST_SCREEN, status_code=303)
    return page("Sign in", SIGN_IN_PAGE, operator=None)


@router.get("/static/{name}", dependencies=[Depends(anyone_listed)])
async def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise ConsoleError("console_form_invalid", f"{name!r} is no file of the console")
    return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name],
                        headers={"Cache-Control": "no-cache"})


@router.post("/signin/message", dependencies=[Depends(anyone_listed)])
async def sign_in_message(body: MessageAsked, request: Request, host: HostDep) -> Response:
    """The EIP-4361 message for the wallet to sign: this service's domain, a fresh nonce,
    and the console's resource, so the signature is asked for this and nothing else."""
    require_same_origin(request, host)
    domain, origin = host.sign_in_origin(request)
    message = SiweMessage(
        domain=domain, address=_checksummed(body.address), uri=origin + CONSOLE_PREFIX + "/",
        version="1", chain_id=body.chain_id, nonce=await host.new_nonce(request),
        issued_at=host.now(), statement="Sign in to the walletauth operator's console.",
        resources=[CONSOLE_RESOURCE],
    )
    return Response(
        '{"message": ' + _json_text(message.to_text()) + "}",
        media_type="application/json", headers={"Cache-Control": "no-store"})


@router.post("/signin", dependencies=[Depends(anyone_listed)])
async def sign_in(body: SignedIn, request: Request, host: HostDep) -> Response:
    require_same_origin(request, host)
    message = SiweMessage.parse(body.message)
    if message.resources != (CONSOLE_RESOURCE,):
        raise ConsoleError("console_form_invalid",
                           f"a console sign-in names exactly {CONSOLE_RESOURCE!r}")
    if _checksummed(message.address) not in host.operators:
        raise ConsoleError("not_an_operator",
                           "this wallet is not one of the operators (WALLETAUTH_OPERATORS)")
    address = await host.check_signed(request, body.message, body.signature)
    if address not in host.operators:  # a contract wallet answers for the message's address
        raise ConsoleError("not_an_operator", "the signer is not one of the operators")
    sessions = sessions_of(host)
    now = host.now()
    expires_at = now + host.session_ttl
    await host.run(record_operator_action, host.store, None,
                   operator=sessions.operator_ref(address), action="sign_in", reason=None,
                   now=now)
    response = Response('{"signed_in": true}', media_type="application/json",
                        headers={"Cache-Control": "no-store"})
    response.set_cookie(CONSOLE_COOKIE, sessions.issue(address, expires_at),
                        max_age=int(host.session_ttl.total_seconds()), path=COOKIE_PATH,
                        secure=host.cookie_secure, httponly=True, samesite="strict")
    return response


@router.post("/signout")
async def sign_out(request: Request, host: HostDep, operator: OperatorDep) -> Response:
    await checked_form(request, host, operator)
    await host.run(record_operator_action, host.store, None, operator=operator.ref,
                   action="sign_out", reason=None, now=host.now())
    response = RedirectResponse("/console/", status_code=303, headers=PAGE_HEADERS)
    response.delete_cookie(CONSOLE_COOKIE, path=COOKIE_PATH, secure=host.cookie_secure,
                           httponly=True, samesite="strict")
    return response


def _checksummed(address: str) -> str:
    return to_checksum_address(address)


def _json_text(value: str) -> str:
    return json.dumps(value)


ROUTERS: Final = (router, overview.router, inbox.router, upkeep.router,
                  processing.router, audit.router)
"""Each screen's router, its paths under ``/console`` (the tests walk every route)."""


def console_router() -> APIRouter:
    """Every console route, under ``/console``."""
    combined = APIRouter()
    for each in ROUTERS:
        combined.include_router(each)
    return combined


__all__ = ["CONSOLE_PREFIX", "console_router", "page", "text"]
