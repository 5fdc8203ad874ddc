"""The OpenID Connect clients walletauth serves, from ``WALLETAUTH_OIDC_CLIENTS``::

    WALLETAUTH_OIDC_CLIENTS='{"wiki": {"name": "Team wiki",
        "secret_sha256": "<64 hex>", "redirect_uris": ["https://wiki.example/callback"],
        "scopes": ["openid", "wallet_address", "purpose:quality_marketing"]}}'

A confidential client holds a secret, of which only the SHA-256 is configured (the secret
itself is high-entropy, so a plain hash is enough); a public client (``"public": true``,
a single-page or native app) has none and must use PKCE S256. ``scopes`` are what the
client may ask for: ``openid`` (always), ``wallet_address`` (the address as a CAIP-10
claim) and ``purpose:<id>`` for the policy's optional purposes. ``sector`` groups clients
of one party under one pairwise ``sub``; left out, every client has its own.
``backchannel_logout_uri`` (OpenID Connect Back-Channel Logout 1.0) is where the client
is sent a logout token when a grant of its ends without it (erasure, a withdrawn purpose,
a logout at another client of the same sign-in); with
``backchannel_logout_session_required`` the token names the sign-in's ``sid`` too.
``id_token_signed_response_alg`` is how its ID tokens are signed, ``RS256`` (the default,
as OIDC Registration 2.0 sets it for a client that names none) or ``ES256``.

Nothing here imports the server: the settings parse this model.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from walletauth.server.config.services import sha256_hex

CLIENT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
OPENID: Final = "openid"
WALLET_ADDRESS: Final = "wallet_address"
PURPOSE_PREFIX: Final = "purpose:"
_PURPOSE_SCOPE: Final = re.compile(r"purpose:[a-z][a-z0-9_]*")
LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})
ID_TOKEN_ALGORITHMS: Final = ("RS256", "ES256")
"""What ID tokens may be signed with: RS256, which every provider must offer (OIDC Core
15.1) and most clients expect, and ES256, the access tokens' algorithm."""
IdTokenAlgorithm = Literal["RS256", "ES256"]
# Compared against when no secret is configured, so a miss costs what a hit costs.
_NO_DIGEST: Final = bytes(32)


class OidcClientConfig(BaseModel):
    """One client as configured."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=80, description="Shown on the consent screen")
    public: bool = False
    secret_sha256: str | None = Field(default=None, description="Hex SHA-256 of the secret")
    redirect_uris: tuple[str, ...] = Field(min_length=1)
    post_logout_redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = (OPENID,)
    sector: str | None = Field(default=None, min_length=1, max_length=255)
    backchannel_logout_uri: str | None = Field(
        default=None, description="Where logout tokens are POSTed (Back-Channel Logout 1.0)"
    )
    backchannel_logout_session_required: bool = False
    id_token_signed_response_alg: IdTokenAlgorithm = "RS256"

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # It goes into the EIP-4361 statement, which is one line.
        if any(ch in value for ch in "\r\n") or not value.isprintable():
            raise ValueError("a client's name is one printable line")
        return value

    @field_validator("id_token_signed_response_alg", mode="before")
    @classmethod
    def _id_token_algorithm(cls, value: object) -> object:
        # Said here rather than by the Literal, whose message would not name the choices
        # with the input hidden (hide_input_in_errors).
        if value not in ID_TOKEN_ALGORITHMS:
            raise ValueError(f"unsupported ID token algorithm {value!r}: RS256 or ES256")
        return value

    @field_validator("secret_sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        return sha256_hex(value, "secret_sha256", "the secret")

    @field_validator("redirect_uris", "post_logout_redirect_uris")
    @classmethod
    def _uris(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(redirect_uri(uri) for uri in value)

    @field_validator("backchannel_logout_uri")
    @classmethod
    def _logout_uri(cls, value: str | None) -> str | None:
        # Back-Channel Logout 2.2: absolute, no fragment; https as for redirect URIs, or
        # http to a loopback host (an RP on the same machine).
        return None if value is None else redirect_uri(value, "a back-channel logout URI")

    @model_validator(mode="after")
    def _logout_uri_of_a_redirect_origin(self) -> Self:
        uri = self.backchannel_logout_uri
        if uri is None:
            if self.backchannel_logout_session_required:
                raise ValueError(
                    "backchannel_logout_session_required needs a backchannel_logout_uri"
                )
            return self
        if not on_a_redirect_origin(uri, self.redirect_uris):
            raise ValueError(
                f"{uri!r}: a back-channel logout URI has the scheme, host and"
                " port of one of the client's redirect_uris"
            )
        return self

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for scope in value:
            if scope not in (OPENID, WALLET_ADDRESS) and not _PURPOSE_SCOPE.fullmatch(scope):
                raise ValueError(f"unknown scope {scope!r}: openid, wallet_address or purpose:<id>")
        return value if OPENID in value else (OPENID, *value)

    @model_validator(mode="after")
    def _authenticates(self) -> Self:
        if self.public == (self.secret_sha256 is not None):
            raise ValueError("a client is either public or has a secret_sha256, not both")
        return self


def redirect_uri(text: str, what: str = "a redirect URI") -> str:
    """An absolute https URI without fragment, or http on a loopback host (RFC 8252 7.3)."""
    parts = urlsplit(text)
    if parts.fragment or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"{text!r} is not an absolute URI without fragment or user info")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise ValueError(f"{text!r}: {what} is https, or http for a loopback host")
    return text


def on_a_redirect_origin(uri: str, redirect_uris: Collection[str]) -> bool:
    """Whether ``uri`` has the scheme, host and port of one of ``redirect_uris``, as
    Back-Channel Logout 2.2 asks of a ``backchannel_logout_uri``."""
    return _origin(uri) in {_origin(redirect) for redirect in redirect_uris}


def scopes_offered(optional_purposes: Iterable[str]) -> list[str]:
    """The scopes a provider offers (discovery's ``scopes_supported``): ``openid``,
    ``wallet_address`` and ``purpose:<id>`` of the policy's optional purposes."""
    return [OPENID, WALLET_ADDRESS, *(PURPOSE_PREFIX + p for p in optional_purposes)]


def _origin(uri: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(uri)
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def purpose_of(scope: str) -> str | None:
    """The purpose id a ``purpose:<id>`` scope names, else ``None``."""
    return scope[len(PURPOSE_PREFIX) :] if scope.startswith(PURPOSE_PREFIX) else None


@dataclass(frozen=True)
class OidcClient:
    """A configured client as Authlib's server parts ask about it (``ClientMixin``)."""

    client_id: str
    config: OidcClientConfig

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def sector(self) -> str:
        return self.config.sector or f"client:{self.client_id}"

    @property
    def client_metadata(self) -> dict[str, object]:
        # Authlib's RP-initiated logout reads the registered post-logout URIs here.
        metadata: dict[str, object] = {
            "post_logout_redirect_uris": list(self.config.post_logout_redirect_uris)
        }
        if self.config.backchannel_logout_uri is not None:
            metadata["backchannel_logout_uri"] = self.config.backchannel_logout_uri
            metadata["backchannel_logout_session_required"] = (
                self.config.backchannel_logout_session_required
            )
        return metadata

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.config.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have, in the order asked (RFC 6749 3.3:
        the server may grant fewer than asked)."""
        asked = (scope or "").split()
        allowed = [name for name in dict.fromkeys(asked) if name in self.config.scopes]
        return " ".join(allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison (OIDC Core 3.1.2.1): no prefix or pattern matching.
        return redirect_uri in self.config.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        expected = bytes.fromhex(self.config.secret_sha256) if self.config.secret_sha256 else None
        presented = hashlib.sha256(client_secret.encode("utf-8", "surrogatepass")).digest()
        return hmac.compare_digest(presented, expected or _NO_DIGEST) and expected is not None

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.config.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


def unknown_purposes(
    clients: Mapping[str, OidcClientConfig], optional: Collection[str]
) -> list[str]:
    """One problem per client whose scopes name a purpose that is not an optional
    (consent) purpose of the policy: only those can be granted on a consent screen."""
    problems = []
    for client_id, config in clients.items():
        named = {purpose_of(scope) for scope in config.scopes} - {None}
        unknown = sorted(str(name) for name in named - set(optional))
        if unknown:
            problems.append(
                f"oidc_clients.{client_id}.scopes: {unknown} are not optional"
                " purposes of the policy"
            )
    return problems


def valid_client_id(client_id: str) -> bool:
    return CLIENT_ID.fullmatch(client_id) is not None
