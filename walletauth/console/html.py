"""The console's pages as plain server-rendered HTML: every value escaped, no inline
script or style (the CSP allows only the console's own files)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Final

from fastapi.responses import HTMLResponse

from walletauth.console.guard import Operator

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    # same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on a
    # form POST, which the console must refuse as it would any other origin.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
SCREENS: Final = (
    ("overview", "Overview"),
    ("requests", "Requests"),
    ("notices", "Notices"),
    ("retention", "Retention"),
    ("policy", "Policy"),
    ("processing", "Record of processing"),
    ("audit", "Audit"),
)
SHOWN: set[str] = {"requests"}
"""The screens that exist: each screen's module adds its own when imported."""
SMALL_COUNT: Final = 5


def text(value: object) -> str:
    return escape(str(value), quote=True)


def count(value: int) -> str:
    """A count as shown: under 5 (but not 0) as "<5", so no figure singles out a person."""
    return "&lt;5" if 0 < value < SMALL_COUNT else str(value)


def period(span: timedelta) -> str:
    """A retention as people write it: years, weeks or days."""
    days = span.days
    if days and days % 365 == 0:
        return f"{days // 365} year{'s' if days > 365 else ''}"
    if days and days % 7 == 0:
        return f"{days // 7} weeks"
    if days:
        return f"{days} days"
    return f"{int(span.total_seconds())} seconds"


def when(moment: datetime | None) -> str:
    return "—" if moment is None else text(moment.strftime("%Y-%m-%d %H:%M UTC"))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str = "None.",
          table_id: str | None = None) -> str:
    """A table of already-escaped cells."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    if not body:
        return f"<p class=\"empty\">{text(empty)}</p>"
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    ident = f" id=\"{text(table_id)}\"" if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def hidden(name: str, value: str) -> str:
    return f"<input type=\"hidden\" name=\"{text(name)}\" value=\"{text(value)}\">"


def form(action: str, operator: Operator, inner: str, *, button: str,
         form_id: str | None = None, danger: bool = False) -> str:
    ident = f" id=\"{text(form_id)}\"" if form_id else ""
    kind = " class=\"danger\"" if danger else ""
    return (f"<form method=\"post\" action=\"{text(action)}\"{ident}>"
            f"{hidden('csrf', operator.csrf)}{inner}"
            f"<button type=\"submit\"{kind}>{text(button)}</button></form>")


def reason_field(label: str = "Reason (recorded in the audit log)") -> str:
    return (f"<label>{text(label)} <textarea name=\"reason\" required maxlength=\"500\""
            " rows=\"2\"></textarea></label>")


def page(title: str, body: str, *, operator: Operator | None, current: str | None = None,
         status: int = 200) -> HTMLResponse:
    nav = ""
    if operator is not None:
        marked = ' class="current"'
        links = "".join(
            f"<a href=\"/console/{name}\"{marked if name == current else ''}>"
            f"{text(label)}</a>" for name, label in SCREENS if name in SHOWN)
        signout = form("/console/signout", operator, "", button="Sign out", form_id="signout")
        nav = (f"<nav>{links}</nav><div class=\"who\">Operator <code id=\"operator\">"
               f"{text(operator.address)}</code> until {when(operator.session.expires_at)}"
               f" {signout}</div>")
    document = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{text(title)} · walletauth console</title>"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<link rel=\"stylesheet\" href=\"/console/static/console.css\"></head><body>"
        f"<header><h1>walletauth console</h1>{nav}</header>"
        f"<main><h2>{text(title)}</h2>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=PAGE_HEADERS)
