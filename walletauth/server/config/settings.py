"""Service settings, read once at the edge and passed down as one frozen object.

Values come, highest priority first, from keyword arguments (tests), environment
variables prefixed ``WALLETAUTH_``, a TOML file named by ``WALLETAUTH_CONFIG``, and the
defaults below. The defaults make ``walletauth serve`` work with nothing else installed:
one domain ``localhost:8000``, SQLite under the data dir, chain 1, no Redis, the
``abcrecords`` policy.

Lists and maps accept JSON or a friendlier comma-separated form, so that
``WALLETAUTH_DOMAINS=app.example,https://www.example`` and
``WALLETAUTH_RPC_URLS=1=https://rpc.example,137=https://polygon.example`` both work.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from walletauth.oidc.clients import OidcClientConfig, valid_client_id
from walletauth.server.config.services import (
    LegacyNoticeEndpoint,
    ServiceConfig,
    ServiceRegistry,
    parse_json_mapping,
    sha256_hex,
)
from walletauth.siwe.message import to_checksum_address, uri_origin

CONFIG_FILE_VARIABLE: Final = "WALLETAUTH_CONFIG"
LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})
SIGN_IN_SCHEMES: Final = frozenset({"https", "http"})
RATE_LIMITS_OFF: Final = frozenset({"off", "false", "0", "no", "disabled"})


def bare_seconds(value: Any) -> Any:
    """A bare number in the environment means seconds (ISO 8601 durations work too)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


class ConfiguredSettings(BaseSettings):
    """Settings read from keyword arguments, then ``WALLETAUTH_*`` variables, then the TOML
    file named by ``WALLETAUTH_CONFIG``: the one order every settings class reads in."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


class LoginDomain(BaseModel):
    """A domain (``host[:port]``) that messages must name, with the scheme if it is pinned."""

    model_config = ConfigDict(frozen=True)

    authority: str
    scheme: str | None = None

    @classmethod
    def parse(cls, text: str) -> LoginDomain:
        text = text.strip()
        scheme, separator, authority = text.partition("://")
        if not separator:
            scheme, authority = "", text
        authority = authority.rstrip("/")
        if not authority or "/" in authority or any(ch.isspace() for ch in authority):
            raise ValueError(
                f"{text!r} is not a domain such as 'app.example' or 'https://app.example'"
            )
        domain = cls(authority=authority, scheme=scheme.lower() or None)
        if domain.scheme not in (None, "https") and not (
            domain.scheme == "http" and domain.loopback
        ):
            raise ValueError(
                f"{text!r}: a domain's scheme is https, or http for a loopback host"
                f" ({', '.join(sorted(LOOPBACK_HOSTS))})"
            )
        return domain

    @property
    def loopback(self) -> bool:
        return host_of(self.authority) in LOOPBACK_HOSTS

    @property
    def host(self) -> str:
        """The host of ``host[:port]``, keeping an IPv6 literal's brackets."""
        if self.authority.startswith("["):
            return self.authority[: self.authority.find("]") + 1]
        return self.authority.rsplit(":", 1)[0]

    @property
    def origin_scheme(self) -> str:
        """The pinned scheme; unpinned, ``http`` on a loopback host (where ``walletauth
        serve`` speaks plain http) and ``https`` anywhere else."""
        return self.scheme or ("http" if self.loopback else "https")


def host_of(authority: str) -> str:
    """The host of ``host[:port]``, lower-cased, keeping an IPv6 literal's brackets."""
    if authority.startswith("["):
        return authority[: authority.find("]") + 1].lower()
    return authority.rsplit(":", 1)[0].lower()


def front_end_origin(text: str) -> str:
    """``text`` as an origin (``scheme://host[:port]``, lower-case, no default port), or
    ``ValueError``: https, or http for a loopback host."""
    text = text.strip()
    origin = uri_origin(text)
    rest = text.partition("://")[2].rstrip("/")
    if origin is None or any(mark in rest for mark in "/?#@"):
        raise ValueError(f"{text!r} is not an origin such as 'https://app.example'")
    scheme, _, authority = origin.partition("://")
    if scheme != "https" and not (scheme == "http" and host_of(authority) in LOOPBACK_HOSTS):
        raise ValueError(f"{text!r}: a front-end origin is https, or http for a loopback host")
    return origin


class RateLimits(BaseModel):
    """Hits allowed per window; ``enabled=False`` switches every limit off."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    window_seconds: int = Field(default=60, gt=0)
    nonce_per_ip: int = Field(default=120, gt=0)
    verify_per_ip: int = Field(default=60, gt=0)
    failed_verify_per_address: int = Field(default=10, gt=0)
    rights_per_subject: int = Field(default=30, gt=0)
    """Rights requests (``/me/...`` and those services hand over) per wallet in a rights
    window: each one leaves a row in the requests log, kept for years."""
    rights_window_seconds: int = Field(default=24 * 3600, gt=0)
    registrations_per_ip: int = Field(default=10, gt=0)
    """OpenID Connect clients one IP (an IPv6 /64) may register (RFC 7591) per
    registrations window: each one is a row kept in the records database."""
    registrations_window_seconds: int = Field(default=3600, gt=0)

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Accept ``off``, ``nonce=120,verify=60,failed=10[,window=60][,rights=30]
        [,rights_window=86400][,register=10][,register_window=3600]``, JSON or a mapping."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.lower() in RATE_LIMITS_OFF:
            return {"enabled": False}
        if text.startswith("{"):
            return json.loads(text)
        aliases = {
            "nonce": "nonce_per_ip",
            "verify": "verify_per_ip",
            "failed": "failed_verify_per_address",
            "window": "window_seconds",
            "rights": "rights_per_subject",
            "rights_window": "rights_window_seconds",
            "register": "registrations_per_ip",
            "register_window": "registrations_window_seconds",
        }
        limits: dict[str, Any] = {}
        for name, number in _pairs(text):
            limits[aliases.get(name, name)] = int(number)
        return limits


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, separator, value = item.partition("=")
        if not separator:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        pairs.append((name.strip(), value.strip()))
    return pairs


def _parse_each(value: Any, parse: Callable[[str], Any]) -> Any:
    """A list setting (comma-separated text, or a list) with each text item parsed."""
    items = _split_list(value)
    if isinstance(items, list | tuple):
        return tuple(parse(item) if isinstance(item, str) else item for item in items)
    return items


def _operator_address(text: str) -> str:
    """An operator's wallet in its EIP-55 form; a mixed-case one must carry its checksum."""
    body = text.strip()
    if len(body) != 42 or not body.startswith("0x") or not all(
            c in "0123456789abcdefABCDEF" for c in body[2:]):
        raise ValueError("an operator is a 0x-prefixed 20-byte hex address")
    checksummed = to_checksum_address(body)
    if body[2:] not in {body[2:].lower(), body[2:].upper(), checksummed[2:]}:
        raise ValueError("an operator's mixed-case address must carry its EIP-55 checksum")
    return checksummed


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(ConfiguredSettings):
    """Everything the service can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="WALLETAUTH_",
        frozen=True,
        extra="ignore",
        env_ignore_empty=True,
        # Values carry secrets (webhook secrets, passwords in URLs): errors name the
        # setting and the rule, never the value, since they end up in start-up logs.
        hide_input_in_errors=True,
    )

    domains: Annotated[tuple[LoginDomain, ...], NoDecode] = (
        LoginDomain(authority="localhost:8000"),
    )
    """Domains a sign-in message may name; the first one is the issuer of access tokens."""
    data_dir: Path = Path(".walletauth")
    database_url: str | None = None
    """SQLAlchemy URL; defaults to a SQLite file in the data dir."""
    keystore_url: str | None = None
    chain_ids: Annotated[tuple[int, ...], NoDecode] = (1,)
    rpc_urls: Annotated[dict[int, str], NoDecode] = Field(default_factory=dict)
    redis_url: str | None = None
    redis_max_connections: int = Field(default=50, gt=0)
    """Connections each worker may open to Redis; more concurrent commands wait."""
    redis_pool_timeout: float = Field(default=2.0, gt=0)
    """Seconds a command waits for a free Redis connection before the request is a 503."""
    store_max_waiting: int = Field(default=256, gt=0)
    """Store calls each worker lets wait for a store thread (with its connection) beyond
    those running; one more is a 503 ``service_unavailable`` with ``Retry-After``."""
    policy: str = "abcrecords"
    audience: str | None = None
    """The ``aud`` claim of access tokens; defaults to the issuer."""
    access_token_ttl: timedelta = timedelta(minutes=15)
    session_ttl: timedelta = timedelta(days=14)
    nonce_ttl: timedelta = timedelta(minutes=5)
    requests_log_retention: timedelta = Field(default=timedelta(days=3 * 365), gt=timedelta(0))
    """How long ``walletauth purge`` keeps a closed rights request (the receipts)."""
    notice_abandon_after: timedelta = Field(default=timedelta(days=30), gt=timedelta(0))
    """How long an undelivered notice is retried before ``walletauth purge`` gives it up."""
    max_message_age: timedelta | None = None
    """Refuse messages issued longer ago than this (``too_old``); off by default."""
    clock_skew: timedelta = timedelta(seconds=60)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    frontend_origins: Annotated[tuple[str, ...], NoDecode] = ()
    """Origins besides the domains' own that a sign-in message's ``uri`` may name."""
    loopback_http: bool | None = None
    """Accept plain-http messages (scheme and URI) for loopback domains; unset means only
    when every domain is loopback (``walletauth serve``'s defaults, the example dApp)."""
    insecure_http: bool = False
    """Send the session cookie without ``Secure`` so it works on plain-http localhost."""
    rate_limits: Annotated[RateLimits, NoDecode] = RateLimits()
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    """Peers whose ``X-Forwarded-For`` is believed; the client IP is the socket peer otherwise."""
    max_body_bytes: int = Field(default=32 * 1024, gt=0)
    max_head_bytes: int = Field(default=16 * 1024, ge=1024)
    """Larger request heads (request line and headers) are answered 431 and closed."""
    head_timeout: float = Field(default=10.0, gt=0)
    """Seconds a request head may take to arrive; then it is answered 408 and closed."""
    body_timeout: float = Field(default=10.0, gt=0)
    """Seconds a request body may take to arrive after its head; then 408 and closed."""
    log_level: str = "info"
    serve_example: bool | None = None
    api_docs: bool = False
    """Serve ``/docs`` and ``/redoc``: pages that run scripts from cdn.jsdelivr.net on this
    origin, so off unless asked for (``/openapi.json`` is always served)."""
    metrics_token: SecretStr | None = None
    """When set, ``/metrics`` answers only ``Authorization: Bearer <token>``."""
    """Serve the example dApp at ``/app/``; unset means only when every domain is loopback."""
    services: Annotated[dict[str, ServiceConfig], NoDecode] = Field(default_factory=dict)
    """Registered services (see :mod:`walletauth.server.config.services`)."""
    notice_endpoints: Annotated[dict[str, LegacyNoticeEndpoint], NoDecode] = Field(
        default_factory=dict
    )
    """Webhook-only services, the older form of ``services``."""
    operators: Annotated[tuple[str, ...], NoDecode] = ()
    """Wallets that may sign in to the operator's console at ``/console/`` (EIP-55 kept);
    none by default, so the console refuses everyone until the operator names a wallet."""
    console_session_ttl: timedelta = Field(default=timedelta(minutes=15), gt=timedelta(0))
    """How long a console sign-in lasts: short, as the console acts on anyone's data."""
    oidc_clients: Annotated[dict[str, OidcClientConfig], NoDecode] = Field(default_factory=dict)
    """OpenID Connect clients by client id (see :mod:`walletauth.oidc.clients`); none
    configured, the OpenID Provider's endpoints are not served."""
    oidc_registration: Literal["off", "token", "open"] = "off"
    """Dynamic client registration (RFC 7591) at ``POST /oauth/register``: ``off``;
    ``token``, for whoever sends the initial access token whose SHA-256 is
    ``oidc_registration_token_sha256``; ``open``, for anyone (rate-limited per IP). On,
    the OpenID Provider is served even with no client configured, and registered
    clients are served beside the configured ones; off again, they are not."""
    oidc_registration_token_sha256: str | None = None
    """Hex SHA-256 of the initial access token of ``oidc_registration=token``."""

    @field_validator("domains", mode="before")
    @classmethod
    def _parse_domains(cls, value: Any) -> Any:
        return _parse_each(value, LoginDomain.parse)

    @field_validator("chain_ids", "cors_origins", mode="before")
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("frontend_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: Any) -> Any:
        return _parse_each(value, front_end_origin)

    @field_validator("operators", mode="before")
    @classmethod
    def _parse_operators(cls, value: Any) -> Any:
        return _parse_each(value, _operator_address)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_networks(cls, value: Any) -> Any:
        items = _split_list(value)
        if isinstance(items, list | tuple):
            return tuple(ip_network(str(item), strict=False) for item in items)
        return items

    @field_validator("rpc_urls", mode="before")
    @classmethod
    def _parse_rpc_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("{") else dict(_pairs(text))
        return value

    @field_validator(
        "access_token_ttl",
        "session_ttl",
        "nonce_ttl",
        "max_message_age",
        "clock_skew",
        "requests_log_retention",
        "notice_abandon_after",
        "console_session_ttl",
        mode="before",
    )
    @classmethod
    def _parse_seconds(cls, value: Any) -> Any:
        return bare_seconds(value)

    @field_validator("services", "notice_endpoints", "oidc_clients", mode="before")
    @classmethod
    def _parse_services(cls, value: Any) -> Any:
        return parse_json_mapping(value)

    @field_validator("oidc_registration_token_sha256")
    @classmethod
    def _registration_digest(cls, value: str | None) -> str | None:
        return sha256_hex(value, "oidc_registration_token_sha256", "the initial access token")

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: Any) -> Any:
        return RateLimits.parse(value)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.domains:
            raise ValueError("at least one domain is required")
        if not self.chain_ids:
            raise ValueError("at least one chain id is required")
        # Built once here only to refuse a registry that cannot be built, at start-up.
        ServiceRegistry.from_config(self.services, self.notice_endpoints)
        bad_ids = sorted(name for name in self.oidc_clients if not valid_client_id(name))
        if bad_ids:
            raise ValueError(f"oidc_clients: client ids are 1-64 of A-Z a-z 0-9 . _ -: {bad_ids}")
        if (self.oidc_registration == "token") != (
                self.oidc_registration_token_sha256 is not None):
            raise ValueError("oidc_registration=token goes with oidc_registration_token_sha256"
                             " (and that with nothing else): open registration is chosen"
                             " as oidc_registration=open")
        return self

    @property
    def serves_openid_provider(self) -> bool:
        """Whether the OpenID Provider is served: with a client configured, or with
        registration on. Its routes are mounted, and its RS256 key made, on this alone."""
        return bool(self.oidc_clients) or self.oidc_registration != "off"

    @property
    def issuer(self) -> str:
        """The ``iss`` of access tokens: the first domain's origin, so the README's
        ``walletauth serve`` issues ``http://localhost:8000`` (always ``https`` was
        refused as ``token_issuer_mismatch`` by a verifier configured with that URL)."""
        first = self.domains[0]
        return f"{first.origin_scheme}://{first.authority}"

    @property
    def token_audience(self) -> str:
        return self.audience or self.issuer

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'walletauth.sqlite3').resolve()}"

    @property
    def cookie_secure(self) -> bool:
        return not self.insecure_http

    @property
    def http_on_loopback(self) -> bool:
        """Whether plain-http messages are accepted for loopback domains."""
        if self.loopback_http is not None:
            return self.loopback_http
        return all(domain.loopback for domain in self.domains)

    def sign_in_schemes(self, domain: LoginDomain) -> frozenset[str]:
        """The schemes a message naming ``domain`` may have (none counts as https)."""
        if domain.scheme is not None:
            return frozenset((domain.scheme,))
        if domain.loopback and self.http_on_loopback:
            return SIGN_IN_SCHEMES
        return frozenset(("https",))
