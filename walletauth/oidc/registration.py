"""Dynamic client registration (RFC 7591) at ``POST /oauth/register``, when
``WALLETAUTH_OIDC_REGISTRATION`` turns it on: Authlib's registration endpoint and its
metadata checks (RFC 7591 2, OIDC Registration 2), with walletauth's own rules checked
first, so that a registered client is one a configuration could have named
(:class:`~walletauth.oidc.clients.OidcClientConfig`):

- ``client_name``: required, one printable line of at most 80 characters (it is shown on
  the consent screen and goes into the EIP-4361 statement);
- ``redirect_uris``: 1-10, https or loopback http, no fragment or user info, as
  configured ones; a ``native`` application only loopback http (OIDC Registration 2);
- ``token_endpoint_auth_method``: ``client_secret_basic`` (the default) or
  ``client_secret_post``, with a secret the answer gives once; ``none`` for a public
  client, which must use PKCE S256;
- ``scope``: ``openid``, ``wallet_address`` and ``purpose:<id>`` of the policy's optional
  purposes (``openid`` when left out); ``grant_types`` ``authorization_code`` (the
  default) and ``refresh_token``; ``response_types`` ``code``;
- pairwise ``sub`` (OIDC Core 8.1): a client's sector is the host of its redirect URIs,
  so that clients of one host share a ``sub`` as the specification has it, except a
  loopback host (every native app has one), whose clients get one each. Redirect URIs on
  several hosts would need a ``sector_identifier_uri`` the provider fetches and checks
  (OIDC Core 8.1); walletauth fetches none, and an unchecked one would let any client
  claim another party's sector and so link its users: such a registration is refused
  (``invalid_client_metadata``), and a ``sector_identifier_uri`` is accepted only on the
  redirect URIs' own host, where it changes nothing;
- ``backchannel_logout_uri`` (OIDC Back-Channel Logout 1.0 2.2): https or loopback http,
  no fragment, with the scheme, host and port of one of the ``redirect_uris``, as a
  configured client's; ``backchannel_logout_session_required`` (true or false, false
  when left out) only with it. Such a client is sent logout tokens as a configured one.

Metadata walletauth does not use (logos, contacts, keys...) is ignored, as RFC 7591 2
says, so it is neither kept nor answered. Registered ids begin with ``_``, which a
configured id cannot: the two never collide, and configured ones are looked up first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from authlib.oauth2.claims import BaseClaims
from authlib.oauth2.rfc6749.requests import JsonPayload, JsonRequest
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc7591 import ClientMetadataClaims, ClientRegistrationEndpoint
from authlib.oauth2.rfc7591.errors import InvalidClientMetadataError, InvalidRedirectURIError
from authlib.oidc.registration import ClientMetadataClaims as OidcMetadataClaims
from pydantic import ValidationError

from walletauth.oidc.clients import (
    LOOPBACK,
    OPENID,
    OidcClient,
    OidcClientConfig,
    on_a_redirect_origin,
    redirect_uri,
)
from walletauth.store.oidc_clients import StoredClient

REGISTER_PATH: Final = "/oauth/register"
REGISTERED_PREFIX: Final = "_"
"""Registered client ids begin with it; a configured id begins with a letter or digit."""
AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "none")
GRANT_TYPES: Final = ("authorization_code", "refresh_token")
MAX_REDIRECT_URIS: Final = 10
MAX_URI_CHARS: Final = 2000
MAX_NAME_CHARS: Final = 80
UNDERSTOOD: Final = frozenset(
    {
        "redirect_uris",
        "token_endpoint_auth_method",
        "grant_types",
        "response_types",
        "client_name",
        "scope",
        "sector_identifier_uri",
        "subject_type",
        "application_type",
        "id_token_signed_response_alg",
        "post_logout_redirect_uris",
        "backchannel_logout_uri",
        "backchannel_logout_session_required",
    }
)
"""The metadata walletauth uses or checks; the rest is ignored (RFC 7591 2)."""
_STRINGS: Final = (
    "token_endpoint_auth_method",
    "scope",
    "sector_identifier_uri",
    "subject_type",
    "application_type",
    "id_token_signed_response_alg",
)
_STRING_LISTS: Final = ("grant_types", "response_types")

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RegisteredClient(OidcClient):
    """A client registered over RFC 7591: a configured client's model, with the grant
    types it registered and the metadata it was answered."""

    grant_types: tuple[str, ...] = GRANT_TYPES
    registered: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def registered_client(stored: StoredClient, scopes_supported: Sequence[str]) -> RegisteredClient:
    """A stored client as the provider serves it. Scopes the provider no longer offers (a
    purpose the policy dropped since) are left out, as a configured client's would stop
    the start-up."""
    metadata = stored.metadata
    scopes = [s for s in str(metadata.get("scope", OPENID)).split() if s in scopes_supported]
    return RegisteredClient(
        stored.client_id,
        _config(metadata, stored.secret_sha256, scopes),
        grant_types=tuple(metadata.get("grant_types", GRANT_TYPES[:1])),
        registered=metadata,
    )


def _config(
    metadata: Mapping[str, Any], secret_sha256: str | None, scopes: Sequence[str]
) -> OidcClientConfig:
    uris = list(metadata["redirect_uris"])
    return OidcClientConfig(
        name=metadata["client_name"],
        public=metadata.get("token_endpoint_auth_method") == "none",
        secret_sha256=secret_sha256,
        redirect_uris=tuple(uris),
        post_logout_redirect_uris=tuple(metadata.get("post_logout_redirect_uris", ())),
        scopes=tuple(scopes),
        sector=sector_of(uris),
        backchannel_logout_uri=metadata.get("backchannel_logout_uri"),
        backchannel_logout_session_required=metadata.get(
            "backchannel_logout_session_required", False
        ),
        id_token_signed_response_alg=metadata.get("id_token_signed_response_alg", "RS256"),
    )


def sector_of(uris: Sequence[str]) -> str | None:
    """The pairwise sector of redirect URIs on one host: that host, lower-case; None (the
    client's own) for a loopback host."""
    host = (urlsplit(uris[0]).hostname or "").lower()
    return None if host in LOOPBACK else host


class WalletClientClaims(BaseClaims):
    """walletauth's rules, checked before Authlib's classes see the metadata: the types
    of everything understood (so that no check of theirs meets a number where it reads a
    string), then what a configured client must be. ``params`` is the provider's
    metadata (its scopes)."""

    REGISTERED_CLAIMS = [  # noqa: RUF012 (Authlib's attribute)
        "post_logout_redirect_uris",
        "backchannel_logout_uri",
        "backchannel_logout_session_required",
    ]
    """RP-Initiated Logout 1.0 3.1's and Back-Channel Logout 1.0 2.2's; RFC 7591's and
    OIDC Registration's are theirs."""

    def validate(self, now: object = None, leeway: int = 0) -> None:
        self._check_types()
        uris = self._redirect_uris("redirect_uris", required=True)
        self._redirect_uris("post_logout_redirect_uris", required=False)
        self._name()
        self._scope()
        self._grants()
        self._sector(uris)
        self._logout(uris)

    def _check_types(self) -> None:
        for name in _STRINGS:
            if name in self and not isinstance(self[name], str):
                raise InvalidClientMetadataError(f"{name} is a string")
        for name in _STRING_LISTS:
            value = self.get(name)
            if name in self and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                raise InvalidClientMetadataError(f"{name} is an array of strings")
        method = self.get("token_endpoint_auth_method")
        if method is not None and method not in AUTH_METHODS:
            raise InvalidClientMetadataError(
                "token_endpoint_auth_method is client_secret_basic, client_secret_post or"
                " none (a public client, with PKCE S256)"
            )

    def _redirect_uris(self, name: str, *, required: bool) -> list[str]:
        value = self.get(name)
        if value is None and not required:
            return []
        if not isinstance(value, list) or not 0 < len(value) <= MAX_REDIRECT_URIS:
            raise InvalidRedirectURIError(f"{name} is an array of 1 to {MAX_REDIRECT_URIS} URIs")
        native = self.get("application_type") == "native"
        for index, uri in enumerate(value):
            if not isinstance(uri, str) or len(uri) > MAX_URI_CHARS:
                raise InvalidRedirectURIError(
                    f"{name}[{index}] is a URI of at most {MAX_URI_CHARS} characters"
                )
            try:
                redirect_uri(uri)
            except ValueError:
                raise InvalidRedirectURIError(
                    f"{name}[{index}]: a redirect URI is absolute, without fragment or user"
                    " info, https or http on a loopback host"
                ) from None
            if native and urlsplit(uri).scheme != "http":
                raise InvalidRedirectURIError(
                    f"{name}[{index}]: a native application redirects to http on a loopback"
                    " host (OIDC Registration 2)"
                )
        return list(value)

    def _name(self) -> None:
        name = self.get("client_name")
        if (
            not isinstance(name, str)
            or not 0 < len(name) <= MAX_NAME_CHARS
            or (not name.isprintable())
        ):
            raise InvalidClientMetadataError(
                f"client_name is required: one printable line of 1-{MAX_NAME_CHARS}"
                " characters, shown on the consent screen"
            )

    def _scope(self) -> None:
        offered = set(self.params.get("scopes_supported", ()))
        unknown = [s for s in str(self.get("scope", "")).split() if s not in offered]
        if unknown:
            raise InvalidClientMetadataError(
                "scope names scopes this provider does not offer; it offers openid,"
                " wallet_address and purpose:<id> of the policy's optional purposes"
                " (scopes_supported in its discovery document)"
            )

    def _grants(self) -> None:
        grants = self.get("grant_types", [GRANT_TYPES[0]])
        if GRANT_TYPES[0] not in grants or not set(grants) <= set(GRANT_TYPES):
            raise InvalidClientMetadataError(
                "grant_types has authorization_code and may have refresh_token"
            )
        if not set(self.get("response_types", ["code"])) <= {"code"}:
            raise InvalidClientMetadataError("response_types is code only")

    def _sector(self, uris: Sequence[str]) -> None:
        hosts = {(urlsplit(uri).hostname or "").lower() for uri in uris}
        if len(hosts) > 1:
            raise InvalidClientMetadataError(
                "redirect_uris are on several hosts: register one client per host (a"
                " sector_identifier_uri would be needed, which this provider does not fetch)"
            )
        sector_uri = self.get("sector_identifier_uri")
        if sector_uri is not None:
            parts = urlsplit(sector_uri)
            if parts.scheme != "https" or (parts.hostname or "").lower() not in hosts:
                raise InvalidClientMetadataError(
                    "sector_identifier_uri is accepted only as an https URI on the host of"
                    " the redirect_uris (this provider fetches none)"
                )

    def _logout(self, uris: Sequence[str]) -> None:
        """Back-Channel Logout 2.2, with a configured client's rules
        (:class:`~walletauth.oidc.clients.OidcClientConfig`)."""
        required = self.get("backchannel_logout_session_required")
        if required is not None and not isinstance(required, bool):
            raise InvalidClientMetadataError("backchannel_logout_session_required is a boolean")
        uri = self.get("backchannel_logout_uri")
        if uri is None:
            if required:
                raise InvalidClientMetadataError(
                    "backchannel_logout_session_required needs a backchannel_logout_uri"
                )
            return
        if not isinstance(uri, str) or len(uri) > MAX_URI_CHARS:
            raise InvalidClientMetadataError(
                f"backchannel_logout_uri is a URI of at most {MAX_URI_CHARS} characters"
            )
        try:
            redirect_uri(uri, "a back-channel logout URI")
        except ValueError:
            raise InvalidClientMetadataError(
                "backchannel_logout_uri is absolute, without fragment or user info, https or"
                " http on a loopback host"
            ) from None
        if not on_a_redirect_origin(uri, uris):
            raise InvalidClientMetadataError(
                "backchannel_logout_uri has the scheme, host and port of one of the"
                " redirect_uris (Back-Channel Logout 2.2)"
            )


def registration_body(body: bytes, content_type: str) -> dict[str, Any]:
    """A registration request's body: a JSON object (RFC 7591 3.1)."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise InvalidClientMetadataError("send the client metadata as application/json")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the stack
        raise InvalidClientMetadataError("the body is not JSON") from None
    if not isinstance(data, dict) or not data:
        raise InvalidClientMetadataError("the body is a JSON object of client metadata")
    return data


class _Body(JsonPayload):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class RegistrationRequest(JsonRequest):
    """A registration request's JSON object, and what its registration made."""

    def __init__(self, uri: str, data: dict[str, Any], headers: Mapping[str, str]) -> None:
        super().__init__("POST", uri, headers)
        self.payload = _Body(data)
        self.metadata: dict[str, Any] = {}
        self.client: RegisteredClient | None = None


class RegistrationEndpoint(ClientRegistrationEndpoint):
    """Authlib's RFC 7591 endpoint, synchronous and without I/O: it checks the request
    and makes the answer; the provider keeps the client it made (``request.client``)
    before answering."""

    def __init__(
        self, server_metadata: Callable[[], dict[str, Any]], token_sha256: str | None, clock: Clock
    ) -> None:
        super().__init__(
            claims_classes=[WalletClientClaims, ClientMetadataClaims, OidcMetadataClaims]
        )
        self._server_metadata = server_metadata
        self._token_digest = bytes.fromhex(token_sha256) if token_sha256 else None
        self._clock = clock

    def authenticate_token(self, request: RegistrationRequest) -> str:
        """Open registration needs no token; otherwise the initial access token (RFC 7591
        3), compared by its SHA-256 in constant time."""
        if self._token_digest is None:
            return "open"
        scheme, _, token = str(request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidTokenError(
                "registration needs Authorization: Bearer <initial access token>"
            )
        presented = hashlib.sha256(token.strip().encode("utf-8", "surrogatepass")).digest()
        if not hmac.compare_digest(presented, self._token_digest):
            raise InvalidTokenError("not this provider's initial access token")
        return "initial access token"

    def get_server_metadata(self) -> dict[str, Any]:
        return self._server_metadata()

    def extract_client_metadata(self, request: RegistrationRequest) -> dict[str, Any]:
        understood = {k: v for k, v in request.payload.data.items() if k in UNDERSTOOD}
        if not understood:  # Authlib's answer to nothing would be invalid_request
            raise InvalidClientMetadataError(
                "no metadata this provider uses: redirect_uris and client_name are required"
            )
        request.payload = _Body(understood)
        metadata: dict[str, Any] = super().extract_client_metadata(request)
        scopes = str(metadata.get("scope", "")).split()
        # The defaults RFC 7591 2 and OIDC Registration 2 give, written out, so the answer
        # says what the client got.
        metadata.update(
            scope=" ".join(dict.fromkeys([OPENID, *scopes])),
            grant_types=metadata.get("grant_types") or [GRANT_TYPES[0]],
            response_types=metadata.get("response_types") or ["code"],
            subject_type="pairwise",
            # Checked against discovery's id_token_signing_alg_values_supported by
            # Authlib's claims (RS256, ES256).
            id_token_signed_response_alg=metadata.get("id_token_signed_response_alg") or "RS256",
        )
        # Said only of a client registered for back-channel logout (false when left out,
        # Back-Channel Logout 2.2); a null is no URI.
        if metadata.get("backchannel_logout_uri") is None:
            metadata.pop("backchannel_logout_uri", None)
            metadata.pop("backchannel_logout_session_required", None)
        else:
            metadata["backchannel_logout_session_required"] = bool(
                metadata.get("backchannel_logout_session_required")
            )
        request.metadata = metadata
        return metadata

    def generate_client_id(self, request: RegistrationRequest) -> str:
        return REGISTERED_PREFIX + secrets.token_urlsafe(24)  # 192 random bits

    def generate_client_secret(self, request: RegistrationRequest) -> str | None:
        if request.metadata.get("token_endpoint_auth_method") == "none":
            return None
        return secrets.token_urlsafe(32)

    def generate_client_info(self, request: RegistrationRequest) -> dict[str, Any]:
        info: dict[str, Any] = super().generate_client_info(request)
        info["client_id_issued_at"] = int(self._clock().timestamp())
        if info["client_secret"] is None:  # a public client: no secret, so no expiry
            del info["client_secret"], info["client_secret_expires_at"]
        return info

    def save_client(
        self,
        client_info: Mapping[str, Any],
        client_metadata: Mapping[str, Any],
        request: RegistrationRequest,
    ) -> RegisteredClient:
        """The client as the provider will serve it; the provider keeps it (a store call,
        which this synchronous method may not make) before the answer goes out."""
        secret = client_info.get("client_secret")
        digest = hashlib.sha256(secret.encode()).hexdigest() if secret else None
        try:
            config = _config(client_metadata, digest, str(client_metadata["scope"]).split())
        except ValidationError:  # each rule was checked above, with its own message
            raise InvalidClientMetadataError("not a client this provider can serve") from None
        client = RegisteredClient(
            str(client_info["client_id"]),
            config,
            grant_types=tuple(client_metadata["grant_types"]),
            registered=dict(client_metadata),
        )
        request.client = client
        return client
