"""Who may use the console, and which form POSTs it accepts.

Every route but the sign-in page and its script asks :func:`operator_of`: a live console
session of a listed wallet. A wallet not listed is refused with ``not_an_operator`` (403)
however it presents itself: with a console cookie issued while it was listed, or with the
service's own session (Bearer token or cookie). Nobody at all: ``console_sign_in_required``.

Every POST passes :func:`checked_form`: its ``Origin`` must be one of the service's own
(browsers send it on every POST; its absence is refused too), and a form carries this
session's CSRF token. Forms are urlencoded and parsed here (no multipart dependency).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final
from urllib.parse import parse_qs

from fastapi import Depends, Request

from walletauth.console.errors import ConsoleError
from walletauth.console.host import ConsoleHost
from walletauth.console.session import CONSOLE_COOKIE, ConsoleSessions, OperatorSession

MAX_FORM_BYTES: Final = 16 * 1024
FORM_TYPE: Final = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS: Final = 200


@dataclass(frozen=True)
class Operator:
    session: OperatorSession
    ref: str
    csrf: str

    @property
    def address(self) -> str:
        return self.session.address


async def host_of(request: Request) -> ConsoleHost:
    host: ConsoleHost = request.app.state.console_host
    return host


HostDep = Annotated[ConsoleHost, Depends(host_of)]


def sessions_of(host: ConsoleHost) -> ConsoleSessions:
    return ConsoleSessions(host.key)


async def refuse_unlisted(request: Request, host: ConsoleHost) -> OperatorSession | None:
    """The listed operator's live console session, None if there is none; an unlisted
    wallet, by its console cookie or the service's own session, is refused here."""
    session = sessions_of(host).open(request.cookies.get(CONSOLE_COOKIE), now=host.now())
    if session is not None:
        if session.address not in host.operators:
            raise _not_an_operator()
        return session
    address = await host.signed_in_address(request)
    if address is not None and address not in host.operators:
        raise _not_an_operator()
    return None


async def anyone_listed(request: Request, host: HostDep) -> None:
    """For the sign-in's own routes: anyone may come, but no unlisted wallet (checked
    before the body is read, so it is refused whatever it sends)."""
    await refuse_unlisted(request, host)


async def operator_of(request: Request, host: HostDep) -> Operator:
    session = await refuse_unlisted(request, host)
    if session is None:
        raise ConsoleError("console_sign_in_required",
                           "sign in to the console at /console/ with an operator's wallet")
    sessions = sessions_of(host)
    return Operator(session, sessions.operator_ref(session.address), sessions.csrf_token(session))


OperatorDep = Annotated[Operator, Depends(operator_of)]


def require_same_origin(request: Request, host: ConsoleHost) -> None:
    origin = request.headers.get("origin")
    if origin is None or origin.lower() not in host.origins:
        raise ConsoleError("console_cross_origin",
                           "a console POST must come from this service's own pages"
                           f" (Origin {origin!r} is not one of them)")
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        raise ConsoleError("console_cross_origin", f"Sec-Fetch-Site {site!r}: not this site")


async def checked_form(request: Request, host: ConsoleHost, operator: Operator) -> Form:
    """The POSTed form, after its origin and its CSRF token."""
    require_same_origin(request, host)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise ConsoleError("console_form_invalid", f"a console form is sent as {FORM_TYPE}")
    form = parse_form(await request.body())
    if not sessions_of(host).csrf_ok(operator.session, form.optional("csrf")):
        raise ConsoleError("console_csrf_failed",
                           "the form lacks this session's CSRF token; reload the page")
    return form


def parse_form(body: bytes) -> Form:
    """An urlencoded UTF-8 body as a :class:`Form`; anything else ``console_form_invalid``."""
    if len(body) > MAX_FORM_BYTES:
        raise ConsoleError("console_form_invalid", f"a form is at most {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise ConsoleError("console_form_invalid", "the form is not urlencoded UTF-8") from None
    return Form(fields)


class Form:
    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def optional(self, name: str, *, max_chars: int = 500) -> str | None:
        values = self._fields.get(name)
        if not values:
            return None
        value = values[0].strip()
        if len(value) > max_chars:
            raise ConsoleError("console_form_invalid",
                               f"{name}: at most {max_chars} characters")
        return value or None

    def required(self, name: str, *, max_chars: int = 500) -> str:
        value = self.optional(name, max_chars=max_chars)
        if value is None:
            raise ConsoleError("console_form_invalid", f"{name}: required")
        return value

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.required(name, max_chars=64)
        if value not in allowed:
            raise ConsoleError("console_form_invalid", f"{name}: one of {', '.join(allowed)}")
        return value

    def all(self, name: str, *, max_chars: int = 64) -> list[str]:
        values = [v.strip() for v in self._fields.get(name, []) if v.strip()]
        if any(len(v) > max_chars for v in values):
            raise ConsoleError("console_form_invalid", f"{name}: at most {max_chars} characters")
        return values


def _not_an_operator() -> ConsoleError:
    return ConsoleError("not_an_operator",
                        "this wallet is not one of the operators (WALLETAUTH_OPERATORS)")
