"""A user agent reduced to browser family and major version, e.g. ``"Firefox 121"``.

Only the family and the major version are kept: together with a truncated IP they are
enough to notice that a session moved to another browser, and far too little to
fingerprint anyone. Families: Edge, Chrome, Firefox, Safari, Opera, Samsung Internet;
anything else (other browsers, in-app views, bots, garbage, a "major version" of more
than four digits) is ``"other"``.

The rules are checked in order, because browsers built on another engine also carry
that engine's token: Edge and Opera say "Chrome/...", Chrome says "Safari/...".
"""

from __future__ import annotations

import re
from typing import Final

OTHER: Final = "other"
MAX_USER_AGENT_LENGTH: Final = 512
"""Longer headers are cut before matching, so that the work per header is bounded."""

# Brands that would otherwise pass for Chrome, Firefox or Safari, and automated clients.
_NOT_A_LISTED_BROWSER: Final = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|Headless|Electron/|YaBrowser/|UCBrowser/|Vivaldi/"
    r"|MiuiBrowser/|HuaweiBrowser/|Whale/|DuckDuckGo/|Ddg/|Brave/|Silk/|coc_coc_browser/"
    r"|QQBrowser/|SeaMonkey/|Iceweasel/|PaleMoon/|FBAN/|FBAV/|Instagram|Line/",
    re.IGNORECASE,
)

_FAMILIES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("Edge", re.compile(r"\b(?:Edg|EdgA|EdgiOS|Edge)/(\d{1,4})(?!\d)")),
    ("Opera", re.compile(r"\b(?:OPR|OPT|OPiOS)/(\d{1,4})(?!\d)")),
    ("Opera", re.compile(r"^Opera/.*\bVersion/(\d{1,4})(?!\d)")),
    ("Opera", re.compile(r"\bOpera[/ ](\d{1,4})(?!\d)")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/(\d{1,4})(?!\d)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d{1,4})(?!\d)")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS)/(\d{1,4})(?!\d)")),
)
_SAFARI_VERSION: Final = re.compile(r"\bVersion/(\d{1,4})(?!\d)")


def browser_family(user_agent: str) -> str:
    """``"Mozilla/5.0 (...) Chrome/120.0.6099.71 Safari/537.36"`` -> ``"Chrome 120"``."""
    text = user_agent[:MAX_USER_AGENT_LENGTH]
    if _NOT_A_LISTED_BROWSER.search(text):
        return OTHER
    for family, pattern in _FAMILIES:
        match = pattern.search(text)
        if match:
            return f"{family} {int(match[1])}"
    return _safari(text)


def _safari(text: str) -> str:
    """Safari says "Version/<n> ... Safari/"; so does the old Android browser, which is not
    Safari."""
    if "Android" in text or "Safari/" not in text:
        return OTHER
    match = _SAFARI_VERSION.search(text)
    if match is None or match.start() > text.rindex("Safari/"):
        return OTHER
    return f"Safari {int(match[1])}"
