"""The registry of services that rely on walletauth: who they are, what they may use.

A service (the music catalogue, the payment service...) is registered under a name with
the SHA-256 of its API key (``wa_svc_...``; the key itself is never kept), the purposes
it may ask about or write for, and optionally a webhook for signed notices::

    WALLETAUTH_SERVICES='{"music": {"api_key_sha256": "<64 hex>",
        "purposes": ["service_provision"], "webhook_url": "https://music.example/notices",
        "webhook_secrets": ["whsec_..."]}}'

(or a ``[services.music]`` table in the TOML file). A service's records attach to a subject
walletauth already holds (a wallet that signed in); only for the purposes listed in its
``creates_subjects_for`` may its record be the first about an address. A service with a
webhook is a notice endpoint: an erasure enqueues one notice for it. The older
``WALLETAUTH_NOTICE_ENDPOINTS`` (name -> ``{"url", "secrets"}``) still works and
registers webhook-only services, which hold no key and so cannot call the service API.

Everything is checked when the settings are read, so a registry that would fail later
(a webhook without a usable secret stalls the outbox; a name too long for the outbox
fails an erasure) stops the start-up instead, with a message naming the entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from walletauth.rights import NoticeEndpoint
from walletauth.sdk import SdkError
from walletauth.sdk.webhooks import secret_key
from walletauth.server.web.errors import ServerError

API_KEY_PREFIX: Final = "wa_svc_"
SERVICE_NAME: Final = re.compile(r"[a-z][a-z0-9_-]{0,14}")
"""Short, so that ``<request kind>:<service>`` fits the requests log's kind column."""
LEGACY_ENDPOINT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Webhook-only names never call the API; only the outbox's endpoint column bounds them."""
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


def sha256_hex(value: str | None, field: str, of: str) -> str | None:
    """A configured SHA-256 digest (of a key or secret, never the thing itself) in
    lower-case hex; ``field`` and ``of`` name it in the error."""
    if value is None:
        return None
    digest = value.strip().lower()
    if not _SHA256_HEX.fullmatch(digest):
        raise ValueError(f"{field} must be 64 hex digits (SHA-256 of {of})")
    return digest
# Compared against when a key matches no service, so a miss costs what a hit costs.
_NO_SERVICE_DIGEST: Final = bytes(32)


class ServiceConfig(BaseModel):
    """One registered service as configured."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    api_key_sha256: str | None = Field(
        default=None, description="Hex SHA-256 of the service's wa_svc_ API key"
    )
    purposes: tuple[str, ...] = ()
    webhook_url: str | None = None
    webhook_secrets: tuple[str, ...] = ()
    records_guardian_consent: bool = Field(
        default=False,
        description="May record guardian consents (the operator's back office, which"
        " verifies the guardian), through POST /services/v1/guardian-consents",
    )
    creates_subjects_for: tuple[str, ...] = Field(
        default=(),
        description="Purposes (among its own) for which the service may keep the first"
        " record of an address that never signed in; for any other purpose its records"
        " need a subject walletauth already knows",
    )

    @field_validator("api_key_sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        return sha256_hex(value, "api_key_sha256", "the API key")

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _webhook_url(value)

    @field_validator("webhook_secrets")
    @classmethod
    def _secrets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _webhook_secrets(value)

    @model_validator(mode="after")
    def _usable(self) -> Self:
        if self.api_key_sha256 is None and self.webhook_url is None:
            raise ValueError("a service needs an api_key_sha256, a webhook_url or both")
        if (self.webhook_url is None) != (not self.webhook_secrets):
            raise ValueError("webhook_url and webhook_secrets go together: notices are signed")
        not_granted = sorted(set(self.creates_subjects_for) - set(self.purposes))
        if not_granted:
            raise ValueError(f"creates_subjects_for names purposes not in purposes: {not_granted}")
        return self


class LegacyNoticeEndpoint(BaseModel):
    """An entry of ``WALLETAUTH_NOTICE_ENDPOINTS``: a webhook and nothing else."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: str
    secrets: tuple[str, ...] = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _webhook_url(value)

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _webhook_secrets(value)


def _webhook_url(url: str) -> str:
    # Parsed as the delivery's HTTP client will parse it, so what passes here can be sent.
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ValueError("a webhook URL must be an absolute http(s) URL")
    return url


def _webhook_secrets(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            secret_key(value)
        except SdkError as error:  # its message never echoes the secret
            raise ValueError(error.message) from None
    return values


@dataclass(frozen=True, slots=True)
class Service:
    """A service the registry knows; ``purposes`` are those granted to it."""

    name: str
    purposes: frozenset[str]
    key_digest: bytes | None
    webhook: NoticeEndpoint | None
    records_guardian_consent: bool = False
    creates_subjects_for: frozenset[str] = frozenset()

    def require_purpose(self, purpose: str) -> None:
        if purpose not in self.purposes:
            raise ServerError(
                "purpose_not_granted_to_service",
                f"purpose {purpose!r} is not granted to service {self.name!r}",
            )

    def may_create_subject(self, purpose: str) -> bool:
        """Whether a record for ``purpose`` may be the first one kept about an address."""
        return purpose in self.creates_subjects_for

    def require_category_use(self, category: str, serves: frozenset[str]) -> None:
        """Refuse data of ``category`` (kept for the purposes ``serves``) unless one of
        those purposes is granted to the service: it may only pass on what it may use."""
        if not serves & self.purposes:
            raise ServerError(
                "category_not_granted_to_service",
                f"category {category!r} serves no purpose granted to service {self.name!r}",
            )

    def require_guardian_recording(self) -> None:
        # A child holds their own wallet but no service key: the consent of a guardian
        # comes only from a service the operator trusts to have verified the guardian.
        if not self.records_guardian_consent:
            raise ServerError(
                "guardian_consent_not_delegated",
                f"service {self.name!r} is not configured with records_guardian_consent",
            )


def hash_api_key(api_key: str) -> str:
    """What goes into ``api_key_sha256`` for ``api_key``."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    """A fresh service API key (``wa_svc_`` + 256 random bits)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


class ServiceRegistry:
    """Registered services by name; built from settings, read-only afterwards."""

    def __init__(self, services: Mapping[str, Service] | None = None) -> None:
        self._services = dict(services or {})

    @classmethod
    def from_config(
        cls,
        services: Mapping[str, ServiceConfig],
        notice_endpoints: Mapping[str, LegacyNoticeEndpoint] | None = None,
    ) -> ServiceRegistry:
        """Check and combine both settings; :class:`ValueError` names the bad entry."""
        registered: dict[str, Service] = {}
        for name, endpoint in (notice_endpoints or {}).items():
            if not LEGACY_ENDPOINT_NAME.fullmatch(name):
                raise ValueError(
                    f"notice endpoint name {name!r} must match {LEGACY_ENDPOINT_NAME.pattern}")
            registered[name] = Service(name, frozenset(), None,
                                       NoticeEndpoint(endpoint.url, endpoint.secrets))
        keys: dict[bytes, str] = {}
        for name, config in services.items():
            if not SERVICE_NAME.fullmatch(name):
                raise ValueError(f"service name {name!r} must match {SERVICE_NAME.pattern}")
            if name in registered:
                raise ValueError(f"service {name!r} is registered twice: keep it in"
                                 " WALLETAUTH_SERVICES and drop it from NOTICE_ENDPOINTS")
            service = _service(name, config)
            if service.key_digest is not None:
                if service.key_digest in keys:
                    raise ValueError(f"services {keys[service.key_digest]!r} and {name!r}"
                                     " have the same API key; give each its own")
                keys[service.key_digest] = name
            registered[name] = service
        return cls(registered)

    @classmethod
    def from_settings(cls, settings: Any) -> ServiceRegistry:
        """The registry a :class:`~walletauth.server.config.settings.Settings` describes."""
        return cls.from_config(settings.services, settings.notice_endpoints)

    def __contains__(self, name: object) -> bool:
        return name in self._services

    def get(self, name: str) -> Service | None:
        return self._services.get(name)

    def authenticate(self, api_key: str | None) -> Service:
        """The service holding ``api_key``; ``service_unauthorized`` for any other key.

        Every registered digest is compared, in constant time, whatever matches first.
        """
        if not api_key or not api_key.startswith(API_KEY_PREFIX):
            raise ServerError("service_unauthorized",
                              "send the service's API key as 'Authorization: Bearer wa_svc_...'")
        presented = hashlib.sha256(api_key.encode()).digest()
        found: Service | None = None
        for service in self._services.values():
            digest = service.key_digest or _NO_SERVICE_DIGEST
            if hmac.compare_digest(presented, digest) and service.key_digest is not None:
                found = service
        if found is None:
            raise ServerError("service_unauthorized", "unknown or revoked service API key")
        return found

    def notice_endpoints(self) -> dict[str, NoticeEndpoint]:
        """Where notices go, by service name (for :func:`walletauth.rights.deliver_due`)."""
        return {name: service.webhook for name, service in self._services.items()
                if service.webhook is not None}


def _service(name: str, config: ServiceConfig) -> Service:
    webhook = None
    if config.webhook_url is not None:
        webhook = NoticeEndpoint(config.webhook_url, config.webhook_secrets)
    digest = bytes.fromhex(config.api_key_sha256) if config.api_key_sha256 else None
    return Service(name, frozenset(config.purposes), digest, webhook,
                   config.records_guardian_consent, frozenset(config.creates_subjects_for))


def parse_json_mapping(value: Any) -> Any:
    """Settings accept a JSON object in the environment, a mapping from TOML or code."""
    if isinstance(value, str):
        text = value.strip()
        return json.loads(text) if text else {}
    return value
