"""Headless Chromium from the distribution, driven by Playwright, for the e2e tests.

Playwright's own browser downloads are never used: the tests launch Debian's
``/usr/bin/chromium`` (``apt-get install chromium``). On a laptop without it the tests
are skipped with a reason saying so; under CI (``CI=true``) a missing browser fails.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from tests.services import in_ci

CHROMIUM: Final = Path(os.environ.get("WALLETAUTH_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
HOW_TO_ENABLE: Final = (
    "install it with `apt-get install chromium fonts-noto-cjk` and"
    " `pip install playwright` (never `playwright install`), or set WALLETAUTH_TEST_CHROMIUM"
)


def require_chromium() -> Path:
    """The Chromium executable if it and Playwright are here; else skip (laptop) or fail (CI)."""
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium is not at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python is not installed")
    if not missing:
        return CHROMIUM
    reason = "; ".join(missing) + f"; {HOW_TO_ENABLE}"
    if in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)



@contextlib.contextmanager
def launched_chromium() -> Iterator[Any]:
    """Headless Chromium for one scope. Playwright's sync API runs an event loop in this
    thread while the browser is open, so no asyncio test may run inside that scope:
    each test module that drives a browser launches its own and closes it at its end."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
