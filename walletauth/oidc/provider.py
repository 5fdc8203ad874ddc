"""The OpenID Provider's steps, each an async function over the running server's parts.

An authorization goes: the client's request is validated (Authlib) and sealed into a
ticket the sign-in page carries; the page's wallet signs an EIP-4361 message the server
writes for it (its Request ID is the ticket's, so the signature is for this request
only); the server's own sign-in checks it and opens a walletauth session; the consent
screen names the client and what it asks; the user's choice becomes a sealed code bound
to that session. Every token made from the code belongs to the session: a refresh
rotates it (a refresh token used twice ends its family), RP-initiated logout and erasure
end it, and then the client's tokens stop working. A withdrawn purpose the token carries
stops it too.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc6750.errors import InvalidTokenError

from walletauth.encoding import b64url_decode
from walletauth.oidc.clients import (
    OPENID,
    WALLET_ADDRESS,
    OidcClient,
    scopes_offered,
    unknown_purposes,
)
from walletauth.oidc.directory import ClientDirectory
from walletauth.oidc.errors import OidcError
from walletauth.oidc.grants import (
    CodeGrant,
    FormRequest,
    Grantee,
    IdTokens,
    RefreshGrant,
    SealedCode,
    SealedRefresh,
    Sealing,
    WalletAuthServer,
    build_server,
    purposes_in,
    serving_clients,
    user_claims,
)
from walletauth.oidc.logout import LogoutTokens
from walletauth.oidc.registration import (
    REGISTER_PATH,
    RegistrationEndpoint,
    RegistrationRequest,
    registration_body,
)
from walletauth.oidc.sealing import PairwiseSubjects, Sealer, derive
from walletauth.policy import Policy, SubjectState, decide_use
from walletauth.policy.evaluate import decide_consent_change
from walletauth.rights.errors import RightsError
from walletauth.server.runtime import Runtime
from walletauth.server.signin.login import Client
from walletauth.server.store_gateway import StoreGateway
from walletauth.siwe import SiweMessage
from walletauth.siwe.message import to_checksum_address
from walletauth.store import Store
from walletauth.store.errors import StoreError
from walletauth.store.oidc_grants import OidcGrant

CODE_TTL_SECONDS: Final = 120
"""A code is redeemed at once by the client's back end (RFC 6749 4.1.2: at most 10 min)."""
TICKET_TTL_SECONDS: Final = 600
"""Time to connect a wallet, sign and decide on the consent screen."""
TICKET_KIND: Final = "ticket"
CONSENT_KIND: Final = "consent"
OP_SESSION_KIND: Final = "op-session"
OP_SESSION_COOKIE: Final = "walletauth_op"
"""The provider's session at the browser: which sign-ins at the provider, for one wallet,
are one session (OIDC's ``sid``), so a logout at one client ends the others' grants too
and tells them (Back-Channel Logout). Every sign-in is still a fresh signature."""
AUTHORIZE_PATH: Final = "/oauth/authorize"
TOKEN_PATH: Final = "/oauth/token"
USERINFO_PATH: Final = "/oauth/userinfo"
LOGOUT_PATH: Final = "/oauth/logout"
JWKS_PATH: Final = "/.well-known/jwks.json"
Answer = tuple[int, Any, list[tuple[str, str]]]


def store_calls(runtime: Runtime) -> StoreGateway:
    """How this package reaches the store: as the server's routes do, through the
    gateway (:mod:`walletauth.server.store_gateway`), in one place."""
    return runtime.gateway


@dataclass(frozen=True)
class Ticket:
    """A validated authorization request, sealed into the sign-in page."""

    id: str
    items: list[tuple[str, str]]
    expires_at: int

    def claims(self) -> dict[str, Any]:
        return {"id": self.id, "itm": self.items, "exp": self.expires_at}

    @classmethod
    def of(cls, claims: Mapping[str, Any]) -> Ticket:
        items = [(str(name), str(value)) for name, value in claims["itm"]]
        return cls(str(claims["id"]), items, int(claims["exp"]))


@dataclass(frozen=True)
class Offer:
    """What the consent screen shows: the client, and the scopes the user may grant."""

    client: OidcClient
    wallet_address: bool
    purposes: list[str]
    granted_already: frozenset[str]
    redirect_uri: str


class OidcProvider:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.policy: Policy = runtime.policy
        self.issuer = settings.issuer
        optional = [p.id for p in self.policy.purposes.values() if p.optional]
        problems = unknown_purposes(settings.oidc_clients, optional)
        if problems:  # `walletauth serve` refuses them before; an app made in code here
            raise ValueError("; ".join(problems))
        self.scopes_supported = scopes_offered(optional)
        self.directory = ClientDirectory(
            settings.oidc_clients, self.scopes_supported, store_calls(runtime),
            registration=settings.oidc_registration != "off")
        self.clients = self.directory.configured
        secrets_ = runtime.store.secrets
        keys = [derive(secrets_.version(number).subject_hmac_key, b"sealing")
                for number in sorted(secrets_.versions, reverse=True)]
        self.sealer = Sealer(keys)
        self.subjects = PairwiseSubjects.load_or_create(settings.data_dir)
        access_ttl = int(settings.access_token_ttl.total_seconds())
        if runtime.id_token_keyring is None:  # opened on the condition install() mounts by
            raise RuntimeError("the OpenID Provider needs the RS256 keys the runtime opens"
                               " where settings.serves_openid_provider")
        # An ID token lives no longer than an access token, whose keys the JWKS keeps
        # published that long after a rotation.
        self.id_tokens = id_tokens = IdTokens(
            runtime.keyring, runtime.id_token_keyring, self.issuer, runtime.clock, access_ttl,
            self.subjects)
        self.server: WalletAuthServer = build_server(
            self.clients, Sealing(self.sealer, runtime.clock, CODE_TTL_SECONDS, access_ttl),
            id_tokens, self.scopes_supported,
        )
        self.registration: RegistrationEndpoint | None = None
        if settings.oidc_registration != "off":
            self.registration = RegistrationEndpoint(
                self.discovery, settings.oidc_registration_token_sha256, runtime.clock)
        self.logout_tokens = LogoutTokens(self.directory.find, id_tokens)

    # --------------------------------------------------------------- discovery

    def discovery(self) -> dict[str, Any]:
        """OpenID Provider Metadata (OIDC Discovery 1.0, section 3)."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + AUTHORIZE_PATH,
            "token_endpoint": self.issuer + TOKEN_PATH,
            "userinfo_endpoint": self.issuer + USERINFO_PATH,
            "jwks_uri": self.issuer + JWKS_PATH,
            "end_session_endpoint": self.issuer + LOGOUT_PATH,
            # Back-Channel Logout 1.0, section 2.1: logout tokens to clients that registered
            # a backchannel_logout_uri, with the sign-in's sid for those that ask for it.
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "scopes_supported": self.scopes_supported,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": self.id_tokens.algorithms,
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
                                 "sid", "at_hash", WALLET_ADDRESS, "purposes"],
            "ui_locales_supported": ["ja", "en"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
        } | ({"registration_endpoint": self.issuer + REGISTER_PATH}
             if self.registration is not None else {})

    # --------------------------------------------------------------- clients

    async def find_client(self, client_id: object) -> OidcClient | None:
        """A configured client, else (registration on) a registered one."""
        return await self.directory.find(client_id)

    @contextlib.asynccontextmanager
    async def clients_for(self, *client_ids: object) -> AsyncIterator[None]:
        """Find the clients a request may name, so that Authlib's synchronous steps within
        the block know the registered ones among them."""
        found = {}
        for client_id in dict.fromkeys(i for i in client_ids if i):
            client = await self.find_client(client_id)
            if client is not None:
                found[client.client_id] = client
        with serving_clients(found):
            yield

    async def register(self, body: bytes, content_type: str, headers: Mapping[str, str]
                       ) -> Answer:
        """RFC 7591 3: register a client; answer 201 with its metadata, id and (once, for
        a confidential client) its secret."""
        assert self.registration is not None  # the route is mounted only then
        try:
            data = registration_body(body, content_type)
            request = RegistrationRequest(REGISTER_PATH, data, headers)
            answer: Answer = self.registration.create_registration_response(request)
        except OAuth2Error as error:
            refused: Answer = error()
            return refused
        client = request.client
        assert client is not None  # made by save_client on the way to a 201
        kept = await store_calls(self.runtime).run(
            Store.register_oidc_client, client.client_id, dict(client.registered),
            client.config.secret_sha256, now=self.runtime.clock())
        # 192 random bits: an id taken already is never seen, and would not be overwritten.
        assert kept, "a freshly drawn client id was taken"
        return answer

    # --------------------------------------------------------------- authorization

    def request(self, method: str, path: str, items: Sequence[tuple[str, str]],
                headers: Mapping[str, str] | None = None) -> FormRequest:
        return FormRequest(method, self.issuer + path, items, headers or {})

    def check_parameters(self, items: Sequence[tuple[str, str]]) -> None:
        check_parameters(items)

    async def validate(self, items: Sequence[tuple[str, str]], user: Grantee | None
                       ) -> tuple[FormRequest, CodeGrant]:
        """Authlib's checks of an authorization request; raises its OAuth2Error (with the
        redirect URI set once the client and the URI are known good)."""
        request = self.request("GET", AUTHORIZE_PATH, items)
        async with self.clients_for(dict(items).get("client_id")):
            return request, consent_grant(self.server, request, user)

    def error_answer(self, request: FormRequest, error: OAuth2Error) -> Answer:
        answer: Answer = self.server.handle_error_response(request, error)
        return answer

    def new_ticket(self, items: Sequence[tuple[str, str]]) -> tuple[Ticket, str]:
        now = int(self.runtime.clock().timestamp())
        ticket = Ticket(secrets.token_urlsafe(16), list(items), now + TICKET_TTL_SECONDS)
        return ticket, self.sealer.seal(TICKET_KIND, ticket.claims())

    def open_ticket(self, sealed: object, kind: str = TICKET_KIND) -> dict[str, Any]:
        claims = self.sealer.open(kind, sealed)
        if claims is None or self.runtime.clock().timestamp() >= int(claims["exp"]):
            raise OidcError("authorization_expired",
                            "this sign-in page has expired; start again from the application")
        return claims

    async def client_of(self, ticket: Ticket) -> OidcClient:
        client = await self.find_client(dict(ticket.items).get("client_id", ""))
        if client is None:  # the configuration changed since the ticket was sealed
            raise OidcError("authorization_expired", "the application is no longer registered")
        return client

    async def message(self, sealed_ticket: str, address: str, chain_id: int,
                      client: Client) -> str:
        """The EIP-4361 message the page's wallet signs: for this service's domain, the
        chain the wallet is on, a fresh nonce, and the ticket's id as its Request ID."""
        ticket = Ticket.of(self.open_ticket(sealed_ticket))
        oidc_client = await self.client_of(ticket)
        settings = self.runtime.settings
        domain = settings.domains[0]
        nonce = await self.runtime.login.new_nonce(client)
        now = self.runtime.clock()
        schemes = settings.sign_in_schemes(domain)
        return SiweMessage(
            scheme=None if "https" in schemes else domain.origin_scheme,
            domain=domain.authority,
            address=_checksummed(address),
            statement=f"Sign in to {oidc_client.name} with walletauth (OpenID Connect).",
            uri=self.issuer + AUTHORIZE_PATH,
            version="1",
            chain_id=chain_id,
            nonce=nonce,
            issued_at=now,
            expiration_time=now + settings.nonce_ttl,
            request_id=ticket.id,
        ).to_text()

    async def login(self, sealed_ticket: str, message: str, signature: str,
                    client: Client, op_cookie: str | None = None) -> tuple[str, str]:
        """Sign the wallet in with its signed message; answer the sealed consent step and
        the provider session's cookie (the one ``op_cookie`` holds, if it is this
        wallet's and live, else a new one)."""
        claims = self.open_ticket(sealed_ticket)
        ticket = Ticket.of(claims)
        parsed = SiweMessage.parse(message)
        if parsed.request_id != ticket.id:
            raise RightsError("wrong_request", "the message was not signed for this sign-in page")
        signed_in = await self.runtime.login.verify(message, signature, client)
        principal = signed_in.principal
        auth_time = int(self.runtime.clock().timestamp())
        session_ttl = int(self.runtime.settings.session_ttl.total_seconds())
        op_session, cookie = self._op_session(op_cookie, principal.address, auth_time)
        grantee = Grantee(principal.address, principal.chain_id, principal.session_id,
                          auth_time, auth_time + session_ttl, op_session)
        return self.sealer.seal(CONSENT_KIND, {**claims, **grantee.claims()}), cookie

    def _op_session(self, cookie: str | None, address: str, now: int) -> tuple[str, str]:
        claims = self.sealer.open(OP_SESSION_KIND, cookie)
        if (claims is not None and str(claims.get("adr", "")).lower() == address.lower()
                and now < int(claims["exp"])):
            return str(claims["osd"]), str(cookie)
        # Another wallet (or none) signed in at this browser before: a session of its own.
        session_ttl = int(self.runtime.settings.session_ttl.total_seconds())
        claims = {"osd": secrets.token_urlsafe(24), "adr": address, "exp": now + session_ttl}
        return str(claims["osd"]), self.sealer.seal(OP_SESSION_KIND, claims)

    def open_consent(self, sealed: object) -> tuple[Ticket, Grantee]:
        claims = self.open_ticket(sealed, CONSENT_KIND)
        return Ticket.of(claims), Grantee.of(claims)

    async def offer(self, ticket: Ticket, grantee: Grantee) -> Offer:
        """What the user is asked about: the scopes the request names that this client
        may have, less optional purposes the policy would not let be granted now."""
        request, grant = await self.validate(ticket.items, grantee)
        asked = (request.scope or "").split()
        state = await self._state(grantee.address)
        purposes, granted = [], set()
        for purpose in purposes_in(" ".join(asked)):
            if purpose in state.suspended:
                continue
            if decide_use(self.policy, purpose, state).allowed:
                granted.add(purpose)
                purposes.append(purpose)
            elif decide_consent_change(self.policy, purpose, True, state).allowed:
                purposes.append(purpose)
        redirect_uri = grant.redirect_uri
        return Offer(await self.client_of(ticket), WALLET_ADDRESS in asked, purposes,
                     frozenset(granted), str(redirect_uri))

    async def decide(self, sealed_consent: str, allow: bool, chosen: Sequence[str]) -> Answer:
        """The user's decision: a redirect to the client with a code, or ``access_denied``.
        Purposes granted here are recorded as the user's consents."""
        ticket, grantee = self.open_consent(sealed_consent)
        async with self.clients_for(dict(ticket.items).get("client_id")):
            return await self._decide(ticket, grantee, allow, chosen)

    async def _decide(self, ticket: Ticket, grantee: Grantee, allow: bool,
                      chosen: Sequence[str]) -> Answer:
        request, grant = await self.validate(ticket.items, grantee)
        if not allow:
            answer: Answer = self.server.create_authorization_response(
                request, grant_user=None, grant=grant)
            return answer
        offer = await self.offer(ticket, grantee)
        scopes = [OPENID]
        if offer.wallet_address and WALLET_ADDRESS in chosen:
            scopes.append(WALLET_ADDRESS)
        wanted = [p for p in offer.purposes if f"purpose:{p}" in chosen]
        for purpose in await self._grant(grantee.address, wanted):
            scopes.append(f"purpose:{purpose}")
        request.granted_scope = " ".join(scopes)
        request.ticket_id = ticket.id
        answer = self.server.create_authorization_response(request, grant_user=grantee,
                                                           grant=grant)
        return answer

    async def _grant(self, address: str, purposes: Sequence[str]) -> list[str]:
        """Record consent to each purpose not yet in use; answer those in use after."""
        if not purposes:
            return []
        runtime = self.runtime

        def record(store: Store) -> SubjectState:
            now = runtime.clock()
            state = store.subject_state(address)
            for purpose in purposes:
                if not decide_use(self.policy, purpose, state).allowed:
                    try:
                        store.set_consent(address, purpose, True, now=now)
                    except StoreError:  # the policy refuses it now (age rule...): not granted
                        continue
            return store.subject_state(address)

        state = await store_calls(runtime).run(record)
        return [p for p in purposes if decide_use(self.policy, p, state).allowed]

    async def _state(self, address: str) -> SubjectState:
        return await store_calls(self.runtime).run(Store.subject_state, address)

    # --------------------------------------------------------------- token

    async def token(self, items: Sequence[tuple[str, str]], headers: Mapping[str, str]
                    ) -> Answer:
        request = self.request("POST", TOKEN_PATH, items, headers)
        basic_id, _secret = extract_basic_authorization(headers)
        async with self.clients_for(dict(items).get("client_id"), basic_id):
            return await self._token(request, items)

    async def _token(self, request: FormRequest, items: Sequence[tuple[str, str]]) -> Answer:
        try:
            self.check_parameters(items)
            grant = self.server.get_token_grant(request)
            try:
                grant.validate_token_request()
            except ValueError:  # as in validate()
                raise InvalidRequestError("a parameter holds characters an error cannot name"
                                          ) from None
            if isinstance(grant, CodeGrant):
                request.user = await self._redeem(request.authorization_code)
            elif isinstance(grant, RefreshGrant):
                request.user = await self._rotate(request.refresh_token)
            answer: Answer = self.server.handle_response(*grant.create_token_response())
            return answer
        except OAuth2Error as error:
            return self.error_answer(request, error)

    async def _redeem(self, code: SealedCode) -> Grantee:
        """Use the code once, by rotating the sign-in's session to the grant's: a second
        use of the code (or of another code of the same consent) rotates an already
        rotated session, which ends its family, so the tokens the first use got stop
        working (RFC 6749 4.1.2: revoke what was issued on a code used twice). Atomic in
        Redis and in the database alike, and unlike a used-nonce record it cannot be
        refused for being older than Redis's memory."""
        grantee = code.grantee
        new_session = secrets.token_urlsafe(32)
        rotation = await self.runtime.state.rotate_session(
            grantee.session_id, new_session, grantee.address, now=self.runtime.clock())
        if rotation.expires_at is None:
            if rotation.reused:
                raise InvalidGrantError("the code was used before; its tokens are revoked")
            raise InvalidGrantError("the sign-in of this code has ended")
        await self._record_grant(code, rotation.expires_at)
        return Grantee(grantee.address, grantee.chain_id, new_session, grantee.auth_time,
                       int(rotation.expires_at.timestamp()), grantee.op_session)

    async def _record_grant(self, code: SealedCode, expires_at: datetime) -> None:
        """Remember the grant until its session ends, so that what ends it (erasure, a
        withdrawn purpose, a logout elsewhere in its provider session) reaches it and,
        for a client registered for back-channel logout, tells it."""
        grantee, client = code.grantee, await self.find_client(code.client_id)
        logout: dict[str, str] | None = None
        if client is not None and client.config.backchannel_logout_uri is not None:
            logout = {"sub": self.subjects.subject(client.sector, grantee.address)}
            if client.config.backchannel_logout_session_required:
                logout["sid"] = grantee.op_session
        grant = OidcGrant(code.client_id, grantee.op_session, grantee.session_id,
                          tuple(purposes_in(code.scope)), expires_at, logout)
        try:
            await store_calls(self.runtime).run(Store.record_oidc_grant, grantee.address,
                                                grant, now=self.runtime.clock())
        except StoreError as error:  # erased since the sign-in: its session ended too
            raise InvalidGrantError("the sign-in of this code has ended") from error

    async def _rotate(self, token: SealedRefresh) -> Grantee:
        """A refresh: purposes still in use, then the session rotated (a token used twice
        ends its family: one of its two holders stole it)."""
        grantee = token.grantee
        await self._require_purposes(grantee.address, token.scope, InvalidGrantError)
        new_session = secrets.token_urlsafe(32)
        rotation = await self.runtime.state.rotate_session(
            grantee.session_id, new_session, grantee.address, now=self.runtime.clock())
        if rotation.expires_at is None:
            raise InvalidGrantError("the refresh token was used before or its sign-in ended")
        return Grantee(grantee.address, grantee.chain_id, new_session, grantee.auth_time,
                       int(rotation.expires_at.timestamp()), grantee.op_session)

    async def _require_purposes(self, address: str, scope: str,
                                error: type[OAuth2Error]) -> list[str]:
        purposes = purposes_in(scope)
        if purposes:
            state = await self._state(address)
            withdrawn = [p for p in purposes if not decide_use(self.policy, p, state).allowed]
            if withdrawn:
                raise error(f"consent withdrawn or on hold: {', '.join(withdrawn)}")
        return purposes

    async def _end_session(self, session_id: str) -> None:
        state = self.runtime.state
        if not await state.end_family_if_rotated(session_id):
            await state.revoke_session(session_id)

    # --------------------------------------------------------------- userinfo

    async def userinfo(self, authorization: str | None) -> Answer:
        scheme, _, token = (authorization or "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise InvalidTokenError("send Authorization: Bearer <access token>")
            claims = self.server.open_access_token(token.strip())
            if claims is None:
                raise InvalidTokenError("not an access token of this provider")
            now = self.runtime.clock()
            if now.timestamp() >= int(claims["exp"]):
                raise InvalidTokenError("the access token has expired")
            grantee = Grantee.of(claims)
            if not await self.runtime.state.session_active(grantee.session_id, now=now):
                raise InvalidTokenError("the sign-in of this token has ended")
            scope = str(claims["scp"])
            purposes = await self._require_purposes(grantee.address, scope, InvalidTokenError)
            client = await self.find_client(str(claims["cid"]))
            if client is None:
                raise InvalidTokenError("the client of this token is no longer registered")
        except InvalidTokenError as error:
            answer: Answer = error()
            return answer
        sub = self.subjects.subject(client.sector, grantee.address)
        return 200, user_claims(scope, grantee, sub, purposes), [("Cache-Control", "no-store")]

    # --------------------------------------------------------------- logout

    async def logout(self, items: Sequence[tuple[str, str]]) -> tuple[str | None, str | None]:
        """RP-initiated logout: with a valid ID token hint, the provider session it names
        ends: every grant made in it (the tokens of this client and of the others stop
        working), and the other clients registered for back-channel logout are sent one.
        Answers where to send the browser (a registered post-logout URI, else nowhere) and
        the client's name."""
        request = self.request("GET", LOGOUT_PATH, items)
        self.check_parameters(items)
        fields = dict(items)
        async with self.clients_for(fields.get("client_id"),
                                    _unverified_audience(fields.get("id_token_hint"))):
            try:
                validated = self.server.validate_endpoint_request("end_session", request)
            except ValueError:  # as in validate()
                raise InvalidRequestError("a parameter holds characters an error cannot name"
                                          ) from None
        claims = validated.id_token_claims
        client = validated.client
        if claims is not None and isinstance(claims.get("sid"), str):
            op_session = claims["sid"]
            if 16 <= len(op_session) <= 512:
                initiator = client.client_id if isinstance(client, OidcClient) else None
                families = await store_calls(self.runtime).run(
                    Store.end_oidc_session_grants, op_session, initiated_by=initiator,
                    now=self.runtime.clock())
                # No grant recorded: an ID token from before provider sessions, whose sid
                # is its grant's own session.
                for session_id in families or [op_session]:
                    await self._end_session(session_id)
        name = client.name if isinstance(client, OidcClient) else None
        redirect: str | None = validated.redirect_uri
        return redirect, name


def _unverified_audience(id_token_hint: object) -> str | None:
    """The ``aud`` an ID token hint names, read without checking it: only to find the
    client before Authlib checks the hint itself."""
    if not isinstance(id_token_hint, str) or id_token_hint.count(".") != 2:
        return None
    payload = id_token_hint.split(".")[1]
    try:
        claims = json.loads(b64url_decode(payload))
    except (ValueError, RecursionError):
        return None
    audience = claims.get("aud") if isinstance(claims, dict) else None
    return audience if isinstance(audience, str) else None


def _checksummed(address: str) -> str:
    text = address.strip()
    if len(text) != 42 or not text.startswith("0x") or not _is_hex(text[2:]):
        raise StoreError("invalid_address", "an address is 0x and 40 hex digits")
    return to_checksum_address(text)


def consent_grant(server: WalletAuthServer, request: FormRequest, user: Grantee | None
                  ) -> CodeGrant:
    """Authlib's validation of an authorization request: raises only an OAuth2Error."""
    check_parameters(request.payload.datalist_items())
    try:
        grant = server.get_consent_grant(request, end_user=user)
    except ValueError:  # Authlib refusing to put a parameter into its error's text
        raise InvalidRequestError("a parameter holds characters an error cannot name"
                                  ) from None
    assert isinstance(grant, CodeGrant)
    return grant


def check_parameters(items: Sequence[tuple[str, str]]) -> None:
    """Refuse parameter values outside printable ASCII (RFC 6749 Appendix A: VSCHAR and
    narrower). Authlib echoes some into its error descriptions, which may hold nothing
    else, and a redirect's ``state`` would carry them into a header."""
    for name, value in items:
        if not _printable_ascii(name) or not _printable_ascii(value):
            raise InvalidRequestError("parameters are printable ASCII (RFC 6749 Appendix A)")


def _printable_ascii(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in text)
