"""The example dApp (``examples/dapp/``) served at ``/app/``, for trying a sign-in locally.

On when ``serve_example`` says so; left unset, only when every login domain is a
loopback host, so ``walletauth serve`` with its defaults shows the page at once while a
deployment on a real domain exposes no demo. Only the page's own files are served
(``*.html``, ``*.js``, ``*.css``, ``*.svg`` at the top or under ``vendor/``): never
``package.json``, the bundler's sources or ``node_modules``.

Also the API docs pages (``/docs``, ``/redoc``), only when ``api_docs`` asks for them:
FastAPI's pages run scripts from a CDN on this service's origin.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from walletauth.rights.export_html import STYLE_HASH as EXPORT_STYLE_HASH
from walletauth.server.config.settings import Settings
from walletauth.server.web.problems import problem_response

EXAMPLE_DIR: Final = Path(__file__).resolve().parents[3] / "examples" / "dapp"
EXAMPLE_PATH: Final = "/app/"
SERVED_NAME: Final = re.compile(r"(?:vendor/)?[a-z0-9][a-z0-9.-]*\.(?:html|js|css|svg)")
MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page loads nothing from elsewhere. The HTML export, shown in a sandboxed srcdoc
# frame, inherits this policy: its one inline stylesheet is allowed by hash, no other.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        f"default-src 'self'; script-src 'self'; style-src 'self' '{EXPORT_STYLE_HASH}';"
        " img-src 'self' data:; frame-src 'self' blob:; object-src 'none';"
        " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def example_enabled(settings: Settings) -> bool:
    """Whether ``settings`` ask for the example page (see the module docstring)."""
    if settings.serve_example is not None:
        return settings.serve_example
    return all(domain.loopback for domain in settings.domains)


def install_example_routes(app: FastAPI, settings: Settings, directory: Path = EXAMPLE_DIR) -> bool:
    """Add ``/`` and ``/app/...`` to ``app`` if enabled and the page is there; say if added."""
    if not example_enabled(settings) or not (directory / "index.html").is_file():
        return False
    root = directory.resolve()

    async def redirect_to_page() -> Response:
        return RedirectResponse(EXAMPLE_PATH, status_code=307)

    async def page_file(name: str = "index.html") -> Response:
        return _file_response(root, name or "index.html")

    app.add_api_route("/", redirect_to_page, methods=["GET"], include_in_schema=False)
    app.add_api_route(EXAMPLE_PATH, page_file, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        EXAMPLE_PATH + "{name:path}", page_file, methods=["GET"], include_in_schema=False
    )
    return True


def _file_response(root: Path, name: str) -> Response:
    path = (root / name).resolve()
    if not SERVED_NAME.fullmatch(name) or not path.is_relative_to(root) or not path.is_file():
        return problem_response("not_found", f"{EXAMPLE_PATH}{name} is not part of the page")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=PAGE_HEADERS)


# --- the API docs (WALLETAUTH_API_DOCS) ---------------------------------------------------

DOCS_CDN: Final = "https://cdn.jsdelivr.net"
FASTAPI_FAVICON: Final = "https://fastapi.tiangolo.com"
_INLINE_SCRIPT: Final = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def install_api_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` as FastAPI draws them, with their scripts from
    cdn.jsdelivr.net (no SRI is possible: FastAPI names a moving major version), each
    under a CSP that lets only that CDN and the page's own inline script run."""
    title = f"{app.title} API"
    swagger = get_swagger_ui_html(openapi_url=app.openapi_url or "", title=title)
    redoc = get_redoc_html(openapi_url=app.openapi_url or "", title=title)
    swagger_headers = _docs_headers(
        swagger, style_src=f"{DOCS_CDN} 'unsafe-inline'", extra="worker-src 'none'"
    )
    redoc_headers = _docs_headers(
        redoc,
        style_src="https://fonts.googleapis.com 'unsafe-inline'",
        extra="font-src https://fonts.gstatic.com; worker-src blob:",
    )

    async def swagger_page() -> Response:
        return HTMLResponse(swagger.body, headers=swagger_headers)

    async def redoc_page() -> Response:
        return HTMLResponse(redoc.body, headers=redoc_headers)

    app.add_api_route("/docs", swagger_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc_page, methods=["GET"], include_in_schema=False)


def _docs_headers(page: HTMLResponse, *, style_src: str, extra: str) -> dict[str, str]:
    inline = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body).decode())
    )
    policy = (
        f"default-src 'none'; script-src {DOCS_CDN} {inline}; style-src {style_src};"
        f" img-src 'self' data: {FASTAPI_FAVICON}; connect-src 'self'; {extra};"
        " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {"Content-Security-Policy": " ".join(policy.split()), "Cache-Control": "no-cache"}
