"""The EIP-4361 message as a value: parse it, build it, write it back byte for byte.

The grammar is the ABNF of EIP-4361 with its RFC 3986 (URI, authority) and RFC 3339
(date-time) parts, written as a line-by-line parser plus small compiled regular
expressions, one per term. Every regex is used with ``fullmatch`` on a single line
and is built only from character classes and possessive quantifiers over disjoint
alternatives, so matching is linear in the line length: no input can make it
backtrack catastrophically. Text over :data:`MAX_MESSAGE_CHARS` or with more than
:data:`MAX_RESOURCES` resources is refused before any regex runs.

Choices the ABNF leaves open, made here on purpose:

* ``Chain ID`` with a leading zero (``01``) is refused, so that ``chain_id`` can be an
  ``int`` and the round trip stays byte-exact.
* A leap second (``:60``) is refused: :class:`datetime.datetime` cannot hold it and no
  wallet emits it.
* ``T``/``Z`` in times may be lower case, as RFC 3339 allows; the text is kept as written.
* The address must match its EIP-55 checksum exactly (all-lowercase is refused), as the
  official test vectors demand.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from walletauth.siwe.eoa import keccak256
from walletauth.siwe.errors import SiweError

MAX_MESSAGE_CHARS: Final = 8192
MAX_RESOURCES: Final = 64
SIWE_VERSION: Final = "1"
HEADER_SUFFIX: Final = " wants you to sign in with your Ethereum account:"

# RFC 3986 character sets, spelled out once.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCHAR_CLASS = rf"{_UNRESERVED}{_SUB_DELIMS}:@"


def _encoded_run(char_class: str) -> str:
    """``*( [char_class] / pct-encoded )`` as an unrolled loop: a run of plain characters,
    then any number of "%XX + run". "%" is never in the class, so there is exactly one
    way to match and possessive quantifiers lose nothing; it also runs far faster than
    an alternation tried at every character."""
    return rf"[{char_class}]*+(?:%[0-9A-Fa-f]{{2}}[{char_class}]*+)*+"


_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*+")
# authority = [ userinfo "@" ] host [ ":" port ]; the IP-literal's inside is checked apart.
_AUTHORITY_RE: Final = re.compile(
    rf"(?:(?P<userinfo>{_encoded_run(_UNRESERVED + _SUB_DELIMS + ':')})@)?"
    rf"(?P<host>\[[^\]]*+\]|{_encoded_run(_UNRESERVED + _SUB_DELIMS)})"
    r"(?::(?P<port>[0-9]*+))?"
)
_IP_FUTURE_RE: Final = re.compile(rf"[vV][0-9A-Fa-f]++\.[{_UNRESERVED}{_SUB_DELIMS}:]++")
_IPV6_CHARS_RE: Final = re.compile(r"[0-9A-Fa-f:.]++")
# URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ]. A path that starts with
# "//" is always taken as an authority first, as RFC 3986 requires.
_URI_RE: Final = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+\-.]*+):"
    r"(?://(?P<authority>[^/?#]*+))?"
    rf"{_encoded_run(_PCHAR_CLASS + '/')}"
    rf"(?:\?{_encoded_run(_PCHAR_CLASS + '/?')})?"
    rf"(?:#{_encoded_run(_PCHAR_CLASS + '/?')})?"
)
_ADDRESS_RE: Final = re.compile(r"0x[0-9a-fA-F]{40}")
# statement = *( reserved / unreserved / " " ): no LF, no "%", no quotes, ASCII only.
_STATEMENT_RE: Final = re.compile(rf"[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@ ]*+")
_CHAIN_ID_RE: Final = re.compile(r"0|[1-9][0-9]*+")
_NONCE_RE: Final = re.compile(r"[A-Za-z0-9]{8,}+")
_REQUEST_ID_RE: Final = re.compile(_encoded_run(_PCHAR_CLASS))
# RFC 3339 date-time. Calendar ranges (day 31 of June, hour 24, second 60) are left to
# datetime, which refuses them; the offset's ranges are spelled out here.
_DATE_TIME_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]++)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_HIGH_NIBBLE_TO_CASE_BIT: Final = bytes(0x20 if chr(i) in "89abcdef" else 0 for i in range(256))
_HEX_LETTER_TO_CASE_BIT: Final = bytes(0x20 if chr(i) in "abcdef" else 0 for i in range(256))

_MAX_CHAIN_ID: Final = 2**256 - 1
_MAX_CHAIN_ID_DIGITS: Final = len(str(_MAX_CHAIN_ID))
_DEFAULT_PORTS: Final = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
_SHOWN_CHARS: Final = 80


def _malformed(message: str) -> SiweError:
    return SiweError("malformed_message", message)


def _shown(value: object) -> str:
    """``repr`` of a found value, cut short so error messages stay readable."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "...'"


# --- terms -----------------------------------------------------------------------------


def to_checksum_address(address: str) -> str:
    """EIP-55 mixed-case form of a ``0x`` + 40 hex digit address.

    A letter is upper-cased where the matching nibble of keccak(lowercase hex) is >= 8.
    Done on the 40 ASCII bytes taken as one integer (no per-character Python loop):
    flipping bit 0x20 upper-cases a-f, and the mask keeps the positions that are
    letters *and* whose hash nibble is high.
    """
    lower = address[2:].lower().encode("ascii")
    nibbles = keccak256(lower).hex()[:40].encode("ascii")
    flips = int.from_bytes(nibbles.translate(_HIGH_NIBBLE_TO_CASE_BIT), "big") & int.from_bytes(
        lower.translate(_HEX_LETTER_TO_CASE_BIT), "big"
    )
    return "0x" + (int.from_bytes(lower, "big") ^ flips).to_bytes(40, "big").decode("ascii")


def _valid_ip_literal(inside: str) -> bool:
    """The part between ``[`` and ``]``: an IPv6 address or an RFC 3986 IPvFuture."""
    if inside.startswith(("v", "V")):
        return _IP_FUTURE_RE.fullmatch(inside) is not None
    # ipaddress also takes "%zone" suffixes, which RFC 3986 does not: check chars first.
    if _IPV6_CHARS_RE.fullmatch(inside) is None:
        return False
    try:
        ipaddress.IPv6Address(inside)
    except ValueError:
        return False
    return True


def _authority_parts(authority: str) -> re.Match[str] | None:
    match = _AUTHORITY_RE.fullmatch(authority)
    if match is None:
        return None
    host = match["host"]
    if host.startswith("[") and not _valid_ip_literal(host[1:-1]):
        return None
    return match


def is_authority(text: str) -> bool:
    """RFC 3986 ``authority`` with a non-empty host, as an EIP-4361 ``domain`` must be."""
    match = _authority_parts(text)
    return match is not None and match["host"] != ""


def is_uri(text: str) -> bool:
    """RFC 3986 ``URI`` (absolute, optional query and fragment)."""
    match = _URI_RE.fullmatch(text)
    if match is None:
        return False
    authority = match["authority"]
    return authority is None or _authority_parts(authority) is not None


def uri_origin(uri: str) -> str | None:
    """``scheme://host[:port]`` of a URI, lower-cased, default port dropped.

    ``None`` when the URI has no authority (``urn:``, ``did:``) and so no origin.
    """
    match = _URI_RE.fullmatch(uri)
    if match is None or match["authority"] is None:
        return None
    parts = _authority_parts(match["authority"])
    if parts is None:
        return None
    scheme = match["scheme"].lower()
    port = parts["port"]
    host = parts["host"].lower()
    if not port or _DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_rfc3339(text: str) -> datetime | None:
    """An aware datetime for an RFC 3339 ``date-time``, or ``None`` if it is not one.

    The regex fixes the RFC 3339 shape; ``fromisoformat`` (C, and in 3.11 it takes "Z"
    and any number of fraction digits, truncating past microseconds) does the
    arithmetic and the calendar checks. It wants "T" and "Z" upper case.
    """
    if _DATE_TIME_RE.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        return None  # day 31 in a 30-day month, hour 24, leap second, year 0000, ...


def format_rfc3339(moment: datetime) -> str:
    """RFC 3339 text for an aware datetime: ``Z`` for UTC, milliseconds when exact."""
    offset = moment.utcoffset()
    if offset is None:
        raise _malformed(f"times must be timezone-aware; found naive {moment.isoformat()!r}")
    if offset % timedelta(minutes=1):
        raise _malformed(f"RFC 3339 offsets are whole minutes; found {offset}")
    exact_millis = moment.microsecond and moment.microsecond % 1000 == 0
    text = moment.isoformat(timespec="milliseconds" if exact_millis else "auto")
    return text[:-6] + "Z" if not offset else text


# --- the value -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, init=False)
class SiweMessage:
    """One EIP-4361 message. Frozen and hashable; equal when every field is equal.

    Build it from the spec's fields (snake_case, keyword-only) or with :meth:`parse`.
    Times are kept as the RFC 3339 text that is signed; a timezone-aware ``datetime``
    given to the constructor is written as such text (``Z`` for UTC). The parsed
    instants are :attr:`issued_at_datetime`, :attr:`expiration_datetime` and
    :attr:`not_before_datetime`. Any missing or invalid field raises
    ``SiweError("malformed_message", ...)``.
    """

    scheme: str | None
    domain: str
    address: str
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: str
    expiration_time: str | None
    not_before: str | None
    request_id: str | None
    resources: tuple[str, ...] | None
    _issued_at: datetime = field(repr=False, compare=False)
    _expiration: datetime | None = field(repr=False, compare=False)
    _not_before: datetime | None = field(repr=False, compare=False)

    def __init__(
        self,
        *,
        scheme: str | None = None,
        domain: str | None = None,
        address: str | None = None,
        statement: str | None = None,
        uri: str | None = None,
        version: str | None = None,
        chain_id: int | None = None,
        nonce: str | None = None,
        issued_at: str | datetime | None = None,
        expiration_time: str | datetime | None = None,
        not_before: str | datetime | None = None,
        request_id: str | None = None,
        resources: Sequence[str] | None = None,
    ) -> None:
        # Required fields default to None only so that a missing one is reported as
        # malformed_message rather than a bare TypeError.
        _assign_fields(self, locals())
        text_length = len(self.to_text())
        if text_length > MAX_MESSAGE_CHARS:
            raise _malformed(
                f"message text must be at most {MAX_MESSAGE_CHARS} characters; "
                f"these fields make {text_length}"
            )

    @classmethod
    def parse(cls, text: str) -> SiweMessage:
        """Parse EIP-4361 text; ``parse(t).to_text() == t`` for every accepted ``t``."""
        _refuse_unparseable_early(text)
        message = object.__new__(cls)
        _assign_fields(message, _MessageLines(text.split("\n")).fields())
        return message

    def to_text(self) -> str:
        """The exact text a wallet signs for these fields."""
        origin = f"{self.scheme}://{self.domain}" if self.scheme is not None else self.domain
        lines = [origin + HEADER_SUFFIX, self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {self.expiration_time}")
        if self.not_before is not None:
            lines.append(f"Not Before: {self.not_before}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources is not None:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)

    @property
    def issued_at_datetime(self) -> datetime:
        return self._issued_at

    @property
    def expiration_datetime(self) -> datetime | None:
        return self._expiration

    @property
    def not_before_datetime(self) -> datetime | None:
        return self._not_before


# --- field validation, shared by the constructor and the parser ------------------------


def _assign_fields(message: SiweMessage, values: dict[str, object]) -> None:
    """Validate every field and set it on the (frozen) message."""
    set_field = object.__setattr__
    for name, check in _FIELD_CHECKS:
        set_field(message, name, check(values[name]))
    for name, instant_name in _TIME_FIELDS:
        text, instant = _time(values[name], name)
        set_field(message, name, text)
        set_field(message, instant_name, instant)
    if message.issued_at is None:
        raise _malformed("issued_at is required; found none")


def _not_text(value: object, name: str) -> SiweError:
    if value is None:
        return _malformed(f"{name} is required; found none")
    return _malformed(f"{name} must be a string; found {type(value).__name__}")


def _text(value: object, name: str, pattern: re.Pattern[str], expected: str) -> str:
    if not isinstance(value, str):
        raise _not_text(value, name)
    if pattern.fullmatch(value) is None:
        raise _malformed(f"{name} must be {expected}; found {_shown(value)}")
    return value


def _scheme(value: object) -> str | None:
    if value is None:
        return None
    return _text(value, "scheme", _SCHEME_RE, "an RFC 3986 scheme such as 'https'")


def _domain(value: object) -> str:
    if not isinstance(value, str):
        raise _not_text(value, "domain")
    if not is_authority(value):
        raise _malformed(
            f"domain must be an RFC 3986 authority ([userinfo@]host[:port]); found {_shown(value)}"
        )
    return value


def _address(value: object) -> str:
    address = _text(value, "address", _ADDRESS_RE, "0x and 40 hex digits")
    checksummed = to_checksum_address(address)
    if address != checksummed:
        raise _malformed(f"address must be EIP-55 checksummed as {checksummed}; found {address}")
    return address


def _statement(value: object) -> str | None:
    if value is None:
        return None
    return _text(
        value,
        "statement",
        _STATEMENT_RE,
        "RFC 3986 reserved and unreserved characters and spaces only (no line break)",
    )


def _uri(value: object, name: str = "uri") -> str:
    if not isinstance(value, str):
        raise _not_text(value, name)
    if not is_uri(value):
        raise _malformed(f"{name} must be an RFC 3986 URI; found {_shown(value)}")
    return value


def _version(value: object) -> str:
    if value != SIWE_VERSION:
        if not isinstance(value, str):
            raise _not_text(value, "version")
        raise _malformed(f"version must be {SIWE_VERSION!r}; found {_shown(value)}")
    return SIWE_VERSION


def _chain_id(value: object) -> int:
    if value is None:
        raise _malformed("chain_id is required; found none")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _malformed(f"chain_id must be an integer; found {_shown(value)}")
    if not 0 <= value <= _MAX_CHAIN_ID:
        raise _malformed(f"chain_id must be between 0 and 2**256-1; found {value}")
    return value


def _nonce(value: object) -> str:
    return _text(value, "nonce", _NONCE_RE, "at least 8 letters or digits")


def _request_id(value: object) -> str | None:
    if value is None:
        return None
    return _text(value, "request_id", _REQUEST_ID_RE, "RFC 3986 pchars")


def _resources(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise _malformed(f"resources must be a list of URIs; found {type(value).__name__}")
    if len(value) > MAX_RESOURCES:
        raise _malformed(f"at most {MAX_RESOURCES} resources are accepted; found {len(value)}")
    for index, resource in enumerate(value):
        if not isinstance(resource, str) or not is_uri(resource):
            _uri(resource, f"resources[{index}]")  # raises, naming the resource
    return tuple(value)


def _time(value: object, name: str) -> tuple[str | None, datetime | None]:
    """The text to sign and its instant; (None, None) for an absent time."""
    if value is None:
        return None, None
    if isinstance(value, datetime):
        value = format_rfc3339(value)
    elif not isinstance(value, str):
        raise _malformed(
            f"{name} must be RFC 3339 text or a datetime; found {type(value).__name__}"
        )
    instant = parse_rfc3339(value)
    if instant is None:
        raise _malformed(
            f"{name} must be an RFC 3339 date-time such as 2021-09-30T16:25:24Z; "
            f"found {_shown(value)}"
        )
    return value, instant


# In the message's order, so that the first bad field is the one reported (times are
# checked after these).
_FIELD_CHECKS: Final = (
    ("scheme", _scheme),
    ("domain", _domain),
    ("address", _address),
    ("statement", _statement),
    ("uri", _uri),
    ("version", _version),
    ("chain_id", _chain_id),
    ("nonce", _nonce),
    ("request_id", _request_id),
    ("resources", _resources),
)
_TIME_FIELDS: Final = (
    ("issued_at", "_issued_at"),
    ("expiration_time", "_expiration"),
    ("not_before", "_not_before"),
)


# --- the text --------------------------------------------------------------------------


def _refuse_unparseable_early(text: object) -> None:
    """Cheap, O(1) or one C-speed scan each: bound the work before any regex runs."""
    if not isinstance(text, str):
        raise _malformed(f"message must be text; found {type(text).__name__}")
    if len(text) > MAX_MESSAGE_CHARS:
        raise _malformed(
            f"message must be at most {MAX_MESSAGE_CHARS} characters; found {len(text)}"
        )
    # A statement cannot hold a line break, so every "\n- " starts a resource line.
    resource_lines = text.count("\n- ")
    if resource_lines > MAX_RESOURCES:
        raise _malformed(f"at most {MAX_RESOURCES} resources are accepted; found {resource_lines}")
    if not text.isascii():
        offset = next(index for index, char in enumerate(text) if not char.isascii())
        raise _malformed(
            f"EIP-4361 messages are ASCII; found U+{ord(text[offset]):04X} at offset {offset}"
        )


class _MessageLines:
    """Walks the lines of a message in the order the ABNF fixes.

    Each step reads the next line or raises saying which line, what was expected and
    what was found. The steps index the list directly: this runs on every login.
    """

    __slots__ = ("_count", "_lines", "_next")

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._count = len(lines)
        self._next = 0

    def fields(self) -> dict[str, object]:
        scheme, domain = self._header()
        values: dict[str, object] = {"scheme": scheme, "domain": domain}
        values["address"] = self._line("the address")
        self._blank_line()
        values["statement"] = self._statement()
        values["uri"] = self._tagged("URI: ")
        values["version"] = self._tagged("Version: ")
        values["chain_id"] = self._chain_id()
        values["nonce"] = self._tagged("Nonce: ")
        values["issued_at"] = self._tagged("Issued At: ")
        values["expiration_time"] = self._optional_tagged("Expiration Time: ")
        values["not_before"] = self._optional_tagged("Not Before: ")
        values["request_id"] = self._optional_tagged("Request ID: ")
        values["resources"] = self._resources()
        if self._next < self._count:
            raise self._unexpected("the end of the message")
        return values

    def _unexpected(self, expected: str) -> SiweError:
        index = self._next
        found = _shown(self._lines[index]) if index < self._count else "end of message"
        return _malformed(f"line {index + 1}: expected {expected}; found {found}")

    def _line(self, expected: str) -> str:
        index = self._next
        if index >= self._count:
            raise self._unexpected(expected)
        self._next = index + 1
        return self._lines[index]

    def _header(self) -> tuple[str | None, str]:
        line = self._lines[0]
        if not line.endswith(HEADER_SUFFIX):
            raise self._unexpected(f"'[scheme://]domain{HEADER_SUFFIX}'")
        self._next = 1
        origin = line[: -len(HEADER_SUFFIX)]
        scheme, separator, domain = origin.partition("://")
        return (scheme, domain) if separator else (None, origin)

    def _blank_line(self) -> None:
        if self._next >= self._count or self._lines[self._next]:
            raise self._unexpected("an empty line")
        self._next += 1

    def _statement(self) -> str | None:
        # Without a statement two empty lines follow the address, then "URI: ". With
        # one (even an empty one) the statement line is followed by an empty line.
        index = self._next
        if index + 1 < self._count and self._lines[index] == "" and self._lines[index + 1]:
            self._next = index + 1
            return None
        statement = self._line("the statement")
        self._blank_line()
        return statement

    def _tagged(self, tag: str) -> str:
        index = self._next
        if index >= self._count or not self._lines[index].startswith(tag):
            raise self._unexpected(f"{tag!r}...")
        self._next = index + 1
        return self._lines[index][len(tag) :]

    def _optional_tagged(self, tag: str) -> str | None:
        index = self._next
        if index >= self._count or not self._lines[index].startswith(tag):
            return None
        self._next = index + 1
        return self._lines[index][len(tag) :]

    def _chain_id(self) -> int:
        text = self._tagged("Chain ID: ")
        # The length bound keeps int() clear of its 4300-digit limit; range is checked later.
        if len(text) > _MAX_CHAIN_ID_DIGITS or _CHAIN_ID_RE.fullmatch(text) is None:
            self._next -= 1
            raise self._unexpected("'Chain ID: ' and a decimal number without leading zeros")
        return int(text)

    def _resources(self) -> tuple[str, ...] | None:
        index = self._next
        if index >= self._count or self._lines[index] != "Resources:":
            return None
        # Resource lines run to the end; fields() reports any line left after them.
        end = index + 1
        while end < self._count and self._lines[end].startswith("- "):
            end += 1
        self._next = end
        return tuple(line[2:] for line in self._lines[index + 1 : end])
