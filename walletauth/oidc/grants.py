"""Authlib's authorization server, fitted to walletauth: clients from the settings, codes
and tokens sealed (:mod:`walletauth.oidc.sealing`), ID tokens signed RS256 or ES256 as
each client is registered (the ES256 keys are the access tokens'; the JWKS serves both
rings), PKCE S256 only.

Authlib's parts are synchronous and do no I/O here: they validate requests, authenticate
clients, check PKCE and make the answers. What needs the short-lived state (a code's
single use, a refresh token's rotation) is done by :mod:`walletauth.oidc.provider`
between Authlib's validation and its answer, and the grants below only read its result
(``request.user``).
"""

from __future__ import annotations

import contextlib
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey

from walletauth.oidc.clients import ID_TOKEN_ALGORITHMS, WALLET_ADDRESS, OidcClient, purpose_of
from walletauth.oidc.sealing import PairwiseSubjects, Sealer
from walletauth.server.config.keys import RS256, KeyRing, SigningKey, published_jwks

Clock = Callable[[], datetime]
AUTH_METHODS: Final = ["client_secret_basic", "client_secret_post", "none"]
CODE_KIND: Final = "code"
ACCESS_KIND: Final = "access"
REFRESH_KIND: Final = "refresh"
_LOOKED_UP: ContextVar[Mapping[str, OidcClient]] = ContextVar(
    "walletauth_oidc_looked_up", default=MappingProxyType({}))
"""Registered clients this request's provider step looked up in the store (Authlib asks
for clients synchronously, so they are found before it runs)."""


@contextlib.contextmanager
def serving_clients(clients: Mapping[str, OidcClient]) -> Iterator[None]:
    """Within the block, the server knows ``clients`` beside the configured ones: set per
    request step (a context variable), so no other request's lookups are mixed in."""
    token = _LOOKED_UP.set(clients)
    try:
        yield
    finally:
        _LOOKED_UP.reset(token)


@dataclass(frozen=True)
class Grantee:
    """The signed-in wallet a grant is for, and the walletauth session behind it."""

    address: str
    chain_id: int
    session_id: str
    auth_time: int
    session_expires: int
    """When the session ends (epoch seconds): no refresh token outlives it."""
    op_session: str
    """The provider's session at the browser (its cookie), which several clients' grants
    may share: the ID tokens' ``sid``, which RP-initiated and back-channel logout name."""

    def claims(self) -> dict[str, Any]:
        return {"adr": self.address, "chn": self.chain_id, "sid": self.session_id,
                "ath": self.auth_time, "sxp": self.session_expires, "osd": self.op_session}

    @classmethod
    def of(cls, claims: Mapping[str, Any]) -> Grantee:
        # Sealed before provider sessions existed: the grant's own session stood for it.
        op_session = str(claims.get("osd") or claims["sid"])
        return cls(str(claims["adr"]), int(claims["chn"]), str(claims["sid"]),
                   int(claims["ath"]), int(claims["sxp"]), op_session)


class SealedCode(AuthorizationCodeMixin):
    """An authorization code's claims, opened."""

    def __init__(self, claims: Mapping[str, Any]) -> None:
        self.id = str(claims["id"])
        self.client_id = str(claims["cid"])
        self.redirect_uri: str | None = claims.get("ruri")
        self.scope = str(claims["scp"])
        self.nonce: str | None = claims.get("non")
        self.code_challenge: str | None = claims.get("cc")
        self.code_challenge_method: str | None = claims.get("ccm")
        self.issued_at = int(claims["iat"])
        self.expires_at = int(claims["exp"])
        self.grantee = Grantee.of(claims)

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.grantee.auth_time


class SealedRefresh:
    """A refresh token's claims, opened (Authlib's ``TokenMixin`` as the grant uses it)."""

    def __init__(self, claims: Mapping[str, Any]) -> None:
        self.client_id = str(claims["cid"])
        self.scope = str(claims["scp"])
        self.grantee = Grantee.of(claims)

    def check_client(self, client: OidcClient) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope


class FormRequest(OAuth2Request):
    """A request's parameters (query or form), as Authlib reads them."""

    def __init__(self, method: str, uri: str, items: Sequence[tuple[str, str]],
                 headers: Mapping[str, str]) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = _Payload(items)
        self.ticket_id: str | None = None
        self.granted_scope: str | None = None
        """What the user granted on the consent screen: Authlib validates the request
        again when it answers, which resets ``scope`` to what was asked."""

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class _Payload(OAuth2Payload):
    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in items:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist

    def datalist_items(self) -> list[tuple[str, str]]:
        return [(name, value) for name, values in self._datalist.items() for value in values]


@dataclass(frozen=True)
class Sealing:
    """What the grants need to make codes and tokens."""

    sealer: Sealer
    clock: Clock
    code_ttl: int
    access_ttl: int


class WalletAuthServer(AuthorizationServer):
    def __init__(self, clients: Mapping[str, OidcClient], sealing: Sealing,
                 scopes_supported: Sequence[str]) -> None:
        super().__init__(scopes_supported=list(scopes_supported))
        self.clients = dict(clients)
        self.sealing = sealing
        self.register_token_generator("default", self._tokens)

    def query_client(self, client_id: object) -> OidcClient | None:
        if not isinstance(client_id, str):
            return None
        return self.clients.get(client_id) or _LOOKED_UP.get().get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Nothing to save: the tokens are sealed, their session is in the state."""

    def send_signal(self, name: str, *args: object, **kwargs: object) -> None:
        """No signals: walletauth listens to none."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request  # the routes build it (FormRequest)

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]
                        ) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, headers

    def _tokens(self, grant_type: str, client: OidcClient, user: Grantee | None = None,
                scope: str | None = None, expires_in: int | None = None,
                include_refresh_token: bool = True) -> dict[str, Any]:
        assert user is not None  # both grants set request.user before tokens are made
        now = int(self.sealing.clock().timestamp())
        ttl = self.sealing.access_ttl
        common = {"cid": client.client_id, "scp": scope or "", **user.claims()}
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": self.sealing.sealer.seal(
                ACCESS_KIND, {**common, "iat": now, "exp": min(now + ttl, user.session_expires)}
            ),
            "expires_in": max(0, min(ttl, user.session_expires - now)),
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = self.sealing.sealer.seal(
                REFRESH_KIND, {**common, "jti": secrets.token_urlsafe(9)}
            )
        return token

    def open_access_token(self, text: object) -> dict[str, Any] | None:
        return self.sealing.sealer.open(ACCESS_KIND, text)


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    @property
    def _sealing(self) -> Sealing:
        server: WalletAuthServer = self.server
        return server.sealing

    def generate_authorization_code(self) -> str:
        request = self.request
        assert isinstance(request, FormRequest) and isinstance(request.user, Grantee)
        data = request.payload.data
        now = int(self._sealing.clock().timestamp())
        claims = {
            "id": request.ticket_id or secrets.token_urlsafe(16),
            "cid": request.client.client_id,
            "ruri": data.get("redirect_uri"),
            "scp": request.granted_scope if request.granted_scope is not None else request.scope,
            "non": data.get("nonce"),
            "cc": data.get("code_challenge"),
            "ccm": data.get("code_challenge_method"),
            "iat": now,
            "exp": now + self._sealing.code_ttl,
            **request.user.claims(),
        }
        return self._sealing.sealer.seal(CODE_KIND, claims)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        """Nothing to save: the code is sealed; its single use is the provider's."""

    def query_authorization_code(self, code: str, client: OidcClient) -> SealedCode | None:
        claims = self._sealing.sealer.open(CODE_KIND, code)
        if claims is None:
            return None
        sealed = SealedCode(claims)
        now = self._sealing.clock().timestamp()
        if sealed.client_id != client.client_id or now >= sealed.expires_at:
            return None
        return sealed

    def delete_authorization_code(self, authorization_code: SealedCode) -> None:
        """Its use was recorded before the tokens were made (the provider's step)."""

    def authenticate_user(self, authorization_code: SealedCode) -> Grantee | None:
        user = self.request.user
        return user if isinstance(user, Grantee) else None


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotated: each refresh token is used once

    def authenticate_refresh_token(self, refresh_token: str) -> SealedRefresh | None:
        server: WalletAuthServer = self.server
        claims = server.sealing.sealer.open(REFRESH_KIND, refresh_token)
        return None if claims is None else SealedRefresh(claims)

    def authenticate_user(self, refresh_token: SealedRefresh) -> Grantee | None:
        user = self.request.user
        return user if isinstance(user, Grantee) else None

    def revoke_old_credential(self, refresh_token: SealedRefresh) -> None:
        """Done before: the provider rotated the token's session, which ends the old one."""


class S256Challenge(CodeChallenge):
    """PKCE with S256 only (``plain`` gives nothing against a leaked request), required
    of public clients from the authorization request on."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (Authlib's class attribute)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if challenge and method != "S256":
            raise InvalidRequestError("code_challenge_method must be S256",
                                      redirect_uri=redirect_uri)
        client = grant.request.client
        if not challenge and isinstance(client, OidcClient) and client.config.public:
            raise InvalidRequestError("a public client must send a PKCE S256 code_challenge",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class ImportedKeys:
    """Signing keys as joserfc keys, imported once per key (a rotation adds one): ID and
    logout tokens are signed with them, so the one JWKS serves both."""

    def __init__(self) -> None:
        self._imported: dict[str, ECKey | RSAKey] = {}

    def of(self, key: SigningKey[Any]) -> ECKey | RSAKey:
        imported = self._imported.get(key.kid)
        if imported is None:
            pem = key.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            kind = RSAKey if key.algorithm == RS256 else ECKey
            imported = self._imported[key.kid] = kind.import_key(
                pem, {"kid": key.kid, "use": "sig", "alg": key.algorithm})
        return imported


@dataclass(frozen=True)
class IdTokens:
    """What an ID token is made of here."""

    keyring: KeyRing[ec.EllipticCurvePrivateKey]
    """The ES256 keys (the access tokens')."""
    rsa_keyring: KeyRing[rsa.RSAPrivateKey]
    """The RS256 keys."""
    issuer: str
    clock: Clock
    ttl: int
    subjects: PairwiseSubjects

    @property
    def algorithms(self) -> list[str]:
        return list(ID_TOKEN_ALGORITHMS)

    def signing_key(self, algorithm: str) -> SigningKey[Any]:
        ring: KeyRing[Any] = self.rsa_keyring if algorithm == RS256 else self.keyring
        return ring.signing_key()

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return published_jwks([self.keyring, self.rsa_keyring], self.clock())


class WalletOpenIDCode(OpenIDCode):
    """ID tokens: under the current signing key of the client's algorithm, ``sub``
    pairwise, ``sid`` the provider's session (for RP-initiated and back-channel logout).
    Claims of scopes (the address) are the UserInfo endpoint's alone (OIDC Core 5.4): the
    ID token names nobody but the pseudonym."""

    def __init__(self, id_tokens: IdTokens) -> None:
        super().__init__(require_nonce=False)
        self.id_tokens = id_tokens
        self._jwks = ImportedKeys()

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        # The nonce goes back in the ID token for the client to check (OIDC Core 3.1.3.7);
        # every code is used once, so a nonce cannot be answered twice through one.
        return False

    def resolve_client_private_key(self, client: OidcClient) -> ECKey | RSAKey:
        return self._jwks.of(self._key)

    def get_client_algorithm(self, client: OidcClient) -> str:
        return client.config.id_token_signed_response_alg

    def get_encode_header(self, client: OidcClient) -> dict[str, str]:
        return {"alg": self._key.algorithm, "kid": self._key.kid, "typ": "JWT"}

    def get_client_claims(self, client: OidcClient) -> dict[str, Any]:
        now = int(self.id_tokens.clock().timestamp())
        return {"iss": self.id_tokens.issuer, "aud": client.client_id, "iat": now,
                "exp": now + self.id_tokens.ttl}

    def get_authorization_code_claims(self, authorization_code: SealedCode) -> dict[str, Any]:
        claims = super().get_authorization_code_claims(authorization_code)
        claims["sid"] = authorization_code.grantee.op_session
        return claims

    def generate_user_info(self, user: Grantee, scope: str) -> dict[str, Any]:
        return {"sub": self.id_tokens.subjects.subject(self._sector(), user.address)}

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        # generate_user_info is not told the client; it is called within this one
        # synchronous call, so no other request's client can be in between. The key is
        # chosen once, so a rotation noticed midway cannot put one key's kid in the header
        # of a token the other signed.
        self._client = request.client
        self._key = self.id_tokens.signing_key(self.get_client_algorithm(request.client))
        return str(super().encode_id_token(token, request))

    def _sector(self) -> str:
        client: OidcClient = self._client
        return client.sector


class LogoutEndpoint(EndSessionEndpoint):
    """RP-initiated logout: the ID token hint is checked against our keys; ending the
    session is the provider's (it needs the state)."""

    def __init__(self, id_tokens: IdTokens) -> None:
        super().__init__()
        self._id_tokens = id_tokens

    def get_server_jwks(self) -> dict[str, Any]:
        return self._id_tokens.jwks()

    def get_algorithms(self) -> list[str]:
        return self._id_tokens.algorithms

    def end_session(self, end_session_request: Any) -> None:
        """Done before the answer, by the provider."""


def user_claims(scope: str, grantee: Grantee, sub: str, purposes: Sequence[str]
                ) -> dict[str, Any]:
    """What the UserInfo endpoint answers for ``scope``."""
    claims: dict[str, Any] = {"sub": sub}
    scopes = scope.split()
    if WALLET_ADDRESS in scopes:
        # CAIP-10: the chain the wallet signed in on, and its EIP-55 address.
        claims[WALLET_ADDRESS] = f"eip155:{grantee.chain_id}:{grantee.address}"
    claims["purposes"] = [purpose for purpose in purposes if f"purpose:{purpose}" in scopes]
    return claims


def purposes_in(scope: str) -> list[str]:
    return [name for name in (purpose_of(s) for s in scope.split()) if name is not None]


def build_server(clients: Mapping[str, OidcClient], sealing: Sealing, id_tokens: IdTokens,
                 scopes_supported: Sequence[str]) -> WalletAuthServer:
    server = WalletAuthServer(clients, sealing, scopes_supported)
    server.register_grant(CodeGrant, [S256Challenge(required=True), WalletOpenIDCode(id_tokens)])
    server.register_grant(RefreshGrant)
    server.register_endpoint(LogoutEndpoint(id_tokens))
    return server
