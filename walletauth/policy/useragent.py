"""A user agent reduced to browser family and major version, e.g. ``"Firefox 121"``.

Only the family and the major version are kept: together with a truncated IP they are
enough to notice that a session moved to another browser, and far too little to
fingerprint anyone. Families: Edge, Chrome, Firefox, Safari, Opera, Samsung Internet;
anything else (other browsers, in-app views, bots, garbage, a "major version" of more
than four digits) is ``"other"``.

The rules are checked in order, because browsers built on another engine also carry
that engine's token: Edge and Opera say "Chrome/...", Chrome says "Safari/...".

This runs on every sign-in, so the rules are written to be cheap for real headers while
giving the same answer as plain regex searches would for every text:

* the denylist is matched case-insensitively; for ASCII text (every real header) that is
  the same as lowercasing the text once and matching case-sensitively, which is about
  fifteen times faster than ``re.IGNORECASE``. Other text takes the ``IGNORECASE`` path,
  whose Unicode case folding (the Kelvin sign for ``k``, the long s for ``s``) lowercasing
  would not reproduce.
* every family pattern starts with one of a few literal tokens, so a pattern is only
  searched when one of its tokens is in the text, and then from the first token found
  (``\\b`` and ``^`` still look at the whole text when a search starts later).
"""

from __future__ import annotations

import re
from typing import Final

OTHER: Final = "other"
MAX_USER_AGENT_LENGTH: Final = 512
"""Longer headers are cut before matching, so that the work per header is bounded."""

# Brands that would otherwise pass for Chrome, Firefox or Safari, and automated clients.
# Written in lower case: it is matched case-insensitively, as lowercased text or with
# re.IGNORECASE.
_NOT_A_LISTED_BROWSER_SOURCE: Final = (
    r"bot\b|bot/|crawl|spider|slurp|headless|electron/|yabrowser/|ucbrowser/|vivaldi/"
    r"|miuibrowser/|huaweibrowser/|whale/|duckduckgo/|ddg/|brave/|silk/|coc_coc_browser/"
    r"|qqbrowser/|seamonkey/|iceweasel/|palemoon/|fban/|fbav/|instagram|line/"
)
_NOT_A_LISTED_BROWSER_IN_LOWERCASE: Final = re.compile(_NOT_A_LISTED_BROWSER_SOURCE)
_NOT_A_LISTED_BROWSER: Final = re.compile(_NOT_A_LISTED_BROWSER_SOURCE, re.IGNORECASE)


class _Family:
    """A family's pattern, searched only from where the first of its tokens occurs."""

    __slots__ = ("_first_token", "_pattern", "name")

    def __init__(self, name: str, tokens: tuple[str, ...], pattern: str) -> None:
        """``tokens``: literal text that every match of ``pattern`` starts with."""
        self.name = name
        self._first_token = re.compile("|".join(map(re.escape, tokens)))
        self._pattern = re.compile(pattern)

    def search(self, text: str) -> re.Match[str] | None:
        first = self._first_token.search(text)
        return None if first is None else self._pattern.search(text, first.start())


_FAMILIES: Final[tuple[_Family, ...]] = (
    _Family(
        "Edge",
        ("Edg/", "EdgA/", "EdgiOS/", "Edge/"),
        r"\b(?:Edg|EdgA|EdgiOS|Edge)/(\d{1,4})(?!\d)",
    ),
    _Family("Opera", ("OPR/", "OPT/", "OPiOS/"), r"\b(?:OPR|OPT|OPiOS)/(\d{1,4})(?!\d)"),
    _Family("Opera", ("Opera/",), r"^Opera/.*\bVersion/(\d{1,4})(?!\d)"),
    _Family("Opera", ("Opera/", "Opera "), r"\bOpera[/ ](\d{1,4})(?!\d)"),
    _Family("Samsung Internet", ("SamsungBrowser/",), r"\bSamsungBrowser/(\d{1,4})(?!\d)"),
    _Family("Firefox", ("Firefox/", "FxiOS/"), r"\b(?:Firefox|FxiOS)/(\d{1,4})(?!\d)"),
    _Family("Chrome", ("Chrome/", "CriOS/"), r"\b(?:Chrome|CriOS)/(\d{1,4})(?!\d)"),
)
_SAFARI_VERSION: Final = _Family("Safari", ("Version/",), r"\bVersion/(\d{1,4})(?!\d)")


def browser_family(user_agent: str) -> str:
    """``"Mozilla/5.0 (...) Chrome/120.0.6099.71 Safari/537.36"`` -> ``"Chrome 120"``."""
    text = user_agent[:MAX_USER_AGENT_LENGTH]
    if _is_not_a_listed_browser(text):
        return OTHER
    for family in _FAMILIES:
        match = family.search(text)
        if match:
            return f"{family.name} {int(match[1])}"
    return _safari(text)


def _is_not_a_listed_browser(text: str) -> bool:
    if text.isascii():
        return _NOT_A_LISTED_BROWSER_IN_LOWERCASE.search(text.lower()) is not None
    return _NOT_A_LISTED_BROWSER.search(text) is not None


def _safari(text: str) -> str:
    """Safari says "Version/<n> ... Safari/"; so does the old Android browser, which is not
    Safari."""
    if "Android" in text or "Safari/" not in text:
        return OTHER
    match = _SAFARI_VERSION.search(text)
    if match is None or match.start() > text.rindex("Safari/"):
        return OTHER
    return f"Safari {int(match[1])}"
