"""User-agent reduction gives exactly what plain regex searches gave, for every text.

:func:`browser_family` lowercases ASCII text instead of matching with ``re.IGNORECASE``
and searches a family's pattern only from the first of its literal tokens. These tests
hold it to the straightforward implementation it replaced (``by_plain_regexes``): on
real user agents of every kind, and on generated text built from the tokens the rules
look for, in any case, with Unicode digits and case-folding look-alikes.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from walletauth.policy.useragent import MAX_USER_AGENT_LENGTH, OTHER, browser_family

# --- the definition: the implementation before the fast paths, unchanged ---------------

_NOT_A_LISTED_BROWSER = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|Headless|Electron/|YaBrowser/|UCBrowser/|Vivaldi/"
    r"|MiuiBrowser/|HuaweiBrowser/|Whale/|DuckDuckGo/|Ddg/|Brave/|Silk/|coc_coc_browser/"
    r"|QQBrowser/|SeaMonkey/|Iceweasel/|PaleMoon/|FBAN/|FBAV/|Instagram|Line/",
    re.IGNORECASE,
)
_FAMILIES = (
    ("Edge", re.compile(r"\b(?:Edg|EdgA|EdgiOS|Edge)/(\d{1,4})(?!\d)")),
    ("Opera", re.compile(r"\b(?:OPR|OPT|OPiOS)/(\d{1,4})(?!\d)")),
    ("Opera", re.compile(r"^Opera/.*\bVersion/(\d{1,4})(?!\d)")),
    ("Opera", re.compile(r"\bOpera[/ ](\d{1,4})(?!\d)")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/(\d{1,4})(?!\d)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d{1,4})(?!\d)")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS)/(\d{1,4})(?!\d)")),
)
_SAFARI_VERSION = re.compile(r"\bVersion/(\d{1,4})(?!\d)")


def by_plain_regexes(user_agent: str) -> str:
    text = user_agent[:MAX_USER_AGENT_LENGTH]
    if _NOT_A_LISTED_BROWSER.search(text):
        return OTHER
    for family, pattern in _FAMILIES:
        match = pattern.search(text)
        if match:
            return f"{family} {int(match[1])}"
    if "Android" in text or "Safari/" not in text:
        return OTHER
    match = _SAFARI_VERSION.search(text)
    if match is None or match.start() > text.rindex("Safari/"):
        return OTHER
    return f"Safari {int(match[1])}"


# --- real user agents --------------------------------------------------------------------

_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
_IOS_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
_PIXEL = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UD1A.230803.041; wv)"
_IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X)"
_IPAD = "Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X)"

REAL_USER_AGENTS = [
    # Chrome
    f"{_WINDOWS} {_WEBKIT} Chrome/121.0.0.0 Safari/537.36",
    f"{_MAC} {_WEBKIT} Chrome/120.0.0.0 Safari/537.36",
    f"Mozilla/5.0 (X11; Linux x86_64) {_WEBKIT} Chrome/119.0.0.0 Safari/537.36",
    f"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) {_WEBKIT} Chrome/120.0.0.0 Safari/537.36",
    f"Mozilla/5.0 (Linux; Android 10; K) {_WEBKIT} Chrome/120.0.0.0 Mobile Safari/537.36",
    f"{_IPHONE} {_IOS_WEBKIT} CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
    f"{_IPAD} {_IOS_WEBKIT} CriOS/119.0.6045.169 Mobile/15E148 Safari/604.1",
    f"{_PIXEL} {_WEBKIT} Version/4.0 Chrome/120.0.6099.210 Mobile Safari/537.36",  # WebView
    # Safari
    f"{_MAC} {_IOS_WEBKIT} Version/17.2.1 Safari/605.1.15",
    f"{_MAC} {_IOS_WEBKIT} Version/16.6 Safari/605.1.15",
    f"{_IPHONE} {_IOS_WEBKIT} Version/17.2 Mobile/15E148 Safari/604.1",
    f"{_IPAD} {_IOS_WEBKIT} Version/16.6 Mobile/15E148 Safari/604.1",
    f"{_IPHONE} {_IOS_WEBKIT} Mobile/15E148",  # WKWebView without Safari token
    # Firefox
    f"{_WINDOWS.replace(')', '; rv:122.0)')} Gecko/20100101 Firefox/122.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
    f"{_IPHONE} {_IOS_WEBKIT} FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0 SeaMonkey/2.53.18",
    # Edge
    f"{_WINDOWS} {_WEBKIT} Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
    f"{_MAC} {_WEBKIT} Chrome/121.0.0.0 Safari/537.36 Edg/121.0.0.0",
    f"Mozilla/5.0 (Linux; Android 10; K) {_WEBKIT} Chrome/120.0.0.0 Mobile Safari/537.36 "
    "EdgA/120.0.0.0",
    f"{_IPHONE} {_IOS_WEBKIT} Version/17.0 EdgiOS/120.2210.126 Mobile/15E148 Safari/605.1.15",
    f"{_WINDOWS} {_WEBKIT} Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
    # Opera
    f"{_WINDOWS} {_WEBKIT} Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
    f"{_WINDOWS} {_WEBKIT} Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0 (Edition std-1)",
    f"Mozilla/5.0 (Linux; Android 10; K) {_WEBKIT} Chrome/119.0.0.0 Mobile Safari/537.36 "
    "OPR/79.1.4195.76505",
    f"{_IPHONE} {_IOS_WEBKIT} Version/17.0 Mobile/15E148 Safari/604.1 OPT/4.3.2",
    "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18",
    "Opera/9.80 (Android; Opera Mini/7.5.33361/31.1543; U; en) Presto/2.8.119 Version/11.1010",
    "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; en) Opera 8.50",
    # Samsung Internet
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 "
    "(KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 9; SAMSUNG SM-T825Y) AppleWebKit/537.36 "
    "(KHTML, like Gecko) SamsungBrowser/9.2 Chrome/67.0.3396.87 Safari/537.36",
    # in-app browsers
    f"{_IPHONE} {_IOS_WEBKIT} Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone14,5;FBAV/446.0.0.0]",
    f"{_PIXEL} {_WEBKIT} Version/4.0 Chrome/120.0.6099.193 Mobile Safari/537.36 "
    "[FB_IAB/FB4A;FBAV/447.0.0.44.111;]",
    f"{_IPHONE} {_IOS_WEBKIT} Mobile/15E148 Instagram 312.0.2.18.117 (iPhone14,5; iOS 17_2)",
    f"{_IPHONE} {_IOS_WEBKIT} Mobile/15E148 Safari Line/13.21.0",
    f"{_IPHONE} {_IOS_WEBKIT} Mobile/15E148 MicroMessenger/8.0.44(0x18002c2f) NetType/WIFI",
    f"{_IPHONE} {_IOS_WEBKIT} Mobile/15E148 Twitter for iPhone/10.22",
    f"{_PIXEL} {_WEBKIT} Version/4.0 Chrome/120.0.6099.193 Mobile Safari/537.36 "
    "trill_320104 JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/musical_ly "
    "app_version/32.1.4 ByteLocale/en ByteFullLocale/en Region/US BytedanceWebview/d8a21c6",
    f"{_IPHONE} {_IOS_WEBKIT} Mobile/15E148 Snapchat/12.67.0.35 (like Safari/8617.1.17.10.9)",
    # wallet in-app browsers
    f"{_PIXEL} {_WEBKIT} Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 MetaMaskMobile",
    f"{_IPHONE} {_IOS_WEBKIT} Mobile/15E148 WebView MetaMaskMobile",
    f"{_IPHONE} {_IOS_WEBKIT} Version/17.2 Mobile/15E148 Safari/604.1 Trust/4.0",
    f"{_IPHONE} {_IOS_WEBKIT} Mobile/15E148 CoinbaseBrowser/28.1",
    f"{_PIXEL} {_WEBKIT} Version/4.0 Chrome/119.0.6045.193 Mobile Safari/537.36 Rainbow/1.9",
    # other browsers carrying Chrome/Firefox/Safari tokens
    f"{_WINDOWS} {_WEBKIT} Chrome/120.0.0.0 Safari/537.36 Brave/120",
    f"{_WINDOWS} {_WEBKIT} Chrome/120.0.0.0 YaBrowser/24.1.0.0 Safari/537.36",
    f"{_WINDOWS} {_WEBKIT} Chrome/120.0.0.0 Safari/537.36 Vivaldi/6.5.3206.53",
    f"{_IPHONE} {_IOS_WEBKIT} Version/17.0 Mobile/15E148 DuckDuckGo/7 Safari/605.1.15",
    f"{_PIXEL} {_WEBKIT} Chrome/120.0.0.0 Mobile DuckDuckGo/5 Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX2020) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 UCBrowser/13.4.0.1306 Mobile "
    "Safari/537.36",
    f"{_WINDOWS} {_WEBKIT} Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 Whale/3.24.223.21",
    f"{_WINDOWS} {_WEBKIT} Chrome/118.0.0.0 Safari/537.36 QQBrowser/12.1.5520.400",
    f"Mozilla/5.0 (X11; Linux x86_64) {_WEBKIT} walletauth-desktop/1.2.0 Chrome/120.0.6099.56 "
    "Electron/28.0.0 Safari/537.36",
    f"Mozilla/5.0 (X11; Linux x86_64) {_WEBKIT} HeadlessChrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 4.0.3; ko-kr; LG-L160L Build/IML74K) "
    "AppleWebkit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
    "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
    # bots and tools
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    f"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X) {_WEBKIT} Chrome/120.0.6099.71 Mobile "
    "Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/600.2.5 (KHTML, like "
    "Gecko) Version/8.0.2 Safari/600.2.5 (Applebot/0.1)",
    "curl/8.4.0",
    "wrk",
    "python-requests/2.31.0",
    "python-httpx/0.28.1",
    "Go-http-client/1.1",
    "PostmanRuntime/7.36.0",
    "okhttp/4.12.0",
    # garbage
    "",
    " ",
    "-",
    "Mozilla/5.0",
    "Chrome/",
    "Chrome/abc",
    "Chrome/12345.0",
    "Chrome/" + "9" * 5000,
    "x" * (MAX_USER_AGENT_LENGTH - 5) + "Chrome/120.0",  # the version lies past the cut
    "x" * (MAX_USER_AGENT_LENGTH - 11) + "Chrome/1200",
    "A" * 100_000,
    "\x00\x01\x02 Firefox/1",
    "Mozilla/5.0 (Windows NT 10.0) Chrome/١٢٠.0 Safari/537.36",  # Arabic-Indic digits
    "Mozilla/5.0 ÄÖÜ (Windows NT 10.0) Chrome/120.0 Safari/537.36",  # latin-1 bytes
    "Mozilla/5.0 (Linux) Chrome/120.0 \u212arawler-ish \u017fpider/1",  # case-folding look-alikes
]


@pytest.mark.parametrize("user_agent", REAL_USER_AGENTS)
def test_real_user_agents_reduce_as_plain_regexes_reduce_them(user_agent):
    assert browser_family(user_agent) == by_plain_regexes(user_agent)


def test_the_real_user_agents_reach_every_family():
    """Guards the corpus above: comparing only "other" would prove little."""
    families = {by_plain_regexes(user_agent).rsplit(" ", 1)[0] for user_agent in REAL_USER_AGENTS}
    assert families == {"Edge", "Opera", "Samsung Internet", "Firefox", "Chrome", "Safari", OTHER}


# --- generated text ----------------------------------------------------------------------

_FAMILY_TOKENS = [
    # what the family rules look for (case-sensitively), and near misses
    "Edg/", "EdgA/", "EdgiOS/", "Edge/", "Edg", "OPR/", "OPT/", "OPiOS/", "Opera/", "Opera ",
    "Opera", "SamsungBrowser/", "Firefox/", "FxiOS/", "Chrome/", "CriOS/", "chrome/",
    "Version/", "Safari/", "Android", "HeadlessChrome/", "xChrome/", "_Firefox/", "1Edg/",
    # separators, non-ASCII letters
    " ", "/", ";", "(", ")", "_", "-", "\n", "\t", "ß", "é", "\u212a",
    "Mozilla/5.0 ", "AppleWebKit/537.36 (KHTML, like Gecko) ",
]
_VERSIONS = ["1", "12", "120", "1234", "12345", "0", "120.0", "١٢٠", "\uff11\uff12", "٣", ""]
"""ASCII, too long, other scripts' digits."""
_DENYLIST_TOKENS = [
    # what the denylist looks for (case-insensitively), and near misses
    "bot", "bot/", "robot", "bots", "bot_", "crawl", "spider", "slurp", "Headless", "Electron/",
    "YaBrowser/", "UCBrowser/", "Vivaldi/", "MiuiBrowser/", "HuaweiBrowser/", "Whale/",
    "DuckDuckGo/", "Ddg/", "Brave/", "Silk/", "coc_coc_browser/", "QQBrowser/", "SeaMonkey/",
    "Iceweasel/", "PaleMoon/", "FBAN/", "FBAV/", "Instagram", "Line/", "Line",
]
_CASE_FOLDING_LOOK_ALIKES = {"k": "\u212a", "s": "\u017f", "i": "\u0131", "I": "İ"}
"""Non-ASCII letters that ``re.IGNORECASE`` matches to these ASCII ones; ``lower()`` does
not map them to them."""


def _respelled(token_and_choices: tuple[str, int]) -> str:
    """The token with each letter kept, swapped in case or replaced by a look-alike."""
    token, choices = token_and_choices
    spelled = []
    for index, char in enumerate(token):
        choice = choices >> 2 * index & 3
        if choice == 1:
            char = char.swapcase()
        elif choice == 2:
            char = _CASE_FOLDING_LOOK_ALIKES.get(char, char)
        spelled.append(char)
    return "".join(spelled)


def _with_inserted(parts_denied_and_at: tuple[list[str], list[str], int]) -> str:
    parts, denied, at = parts_denied_and_at
    return "".join(parts[:at] + denied + parts[at:])


_FRAGMENT = st.one_of(
    st.sampled_from(_FAMILY_TOKENS),
    st.tuples(st.sampled_from(_FAMILY_TOKENS), st.sampled_from(_VERSIONS)).map("".join),
    st.text(max_size=6),
)
_DENIED = st.tuples(st.sampled_from(_DENYLIST_TOKENS), st.integers(0, 2**40)).map(_respelled)
# At most one denylist token, so that most texts still get to the family rules.
_USER_AGENT = st.one_of(
    st.tuples(
        st.lists(_FRAGMENT, max_size=24), st.lists(_DENIED, max_size=1), st.integers(0, 24)
    ).map(_with_inserted),
    st.tuples(st.integers(0, 600), st.lists(_FRAGMENT, max_size=8).map("".join)).map(
        lambda padding_and_tail: "x" * padding_and_tail[0] + padding_and_tail[1]
    ),
    st.text(),
)


@given(user_agent=_USER_AGENT)
@example(user_agent="Chrome/120 bOt")
@example(user_agent="Chrome/120 \u0131nstagram")
@example(user_agent="Chrome/120 \u017filk/")
@example(user_agent="Chrome/120 İnstagram")
@example(user_agent="Opera/9.80 x\nVersion/12")
@example(user_agent="xOpera/9.80 Version/12 Opera/12")
@example(user_agent="Chrome/12345 Chrome/12")
@example(user_agent="xChrome/1 CriOS/2")
def test_every_text_reduces_as_plain_regexes_reduce_it(user_agent):
    assert browser_family(user_agent) == by_plain_regexes(user_agent)
