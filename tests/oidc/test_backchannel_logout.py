"""OpenID Connect Back-Channel Logout 1.0 end to end: a relying party on loopback receives
the logout tokens the provider's notice worker sends, and checks each as section 2.6 asks
(signature against the provider's JWKS, typ, iss, aud, iat, exp, jti, events, no nonce,
sub and/or sid) before it answers 200; a token it refuses is answered 400."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
import uvicorn
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.oidc.conftest import SECRET, Person, serving, verifier
from tests.server.conftest import Wallet, free_socket
from walletauth.store.outbox import pending_count

EVENT = "http://schemas.openid.net/event/backchannel-logout"
PURPOSE = "quality_marketing"
PLAIN_SECRET = "plain-secret-" + "y" * 32
FAST = {"WALLETAUTH_NOTICE_INTERVAL": "0.05", "WALLETAUTH_NOTICE_TIMEOUT": "2"}


@dataclass
class Received:
    client_id: str
    header: dict
    claims: dict


@dataclass
class RelyingParty:
    """The back ends of the provider's clients: one logout URI per client on one port."""

    url: str
    issuer: str = ""
    clock: object = None
    answers: list[int] = field(default_factory=list)
    """Statuses to answer to the next valid tokens (then 200)."""
    received: list[Received] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    jwks: dict = field(default_factory=dict)
    answered: list[int] = field(default_factory=list)
    """The statuses answered to valid tokens."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Client ids by the name in their URIs, for a client registered before its id is
    known."""

    def uri(self, client_id: str) -> str:
        return f"{self.url}/logout/{client_id}"

    def redirect(self, client_id: str) -> str:
        # Section 2.2: a logout URI has a redirect URI's scheme, host and port.
        return f"{self.url}/callback/{client_id}"

    async def logout(self, request: Request) -> Response:
        named = request.path_params["client_id"]
        client_id = self.aliases.get(named, named)
        self.attempts.append(client_id)
        if request.headers.get("content-type") != "application/x-www-form-urlencoded":
            self.refused.append("not a form")
            return Response(status_code=400)
        token = str(dict(parse_qsl((await request.body()).decode())).get("logout_token"))
        try:
            kid = jws.extract_compact(token.encode()).protected.get("kid")
        except JoseError as error:
            self.refused.append(repr(error))
            return Response(status_code=400)
        if kid not in {key.get("kid") for key in self.jwks.get("keys", [])}:
            # As relying parties do: the JWKS is cached, fetched again for a new key.
            async with httpx.AsyncClient() as http:
                self.jwks = (await http.get(self.issuer + "/.well-known/jwks.json")).json()
        try:
            received = self.validate(client_id, token, self.jwks)
        except (JoseError, ValueError, KeyError) as error:
            self.refused.append(repr(error))
            return Response(status_code=400)  # section 2.8: the token is refused
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.received.append(received)
        self.answered.append(status)
        return Response(status_code=status, headers={"Cache-Control": "no-store"})

    def validate(self, client_id: str, token: str, jwks: dict) -> Received:
        """Section 2.6, steps 1 to 6."""
        decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256", "ES256"])
        if decoded.header.get("typ") != "logout+jwt":
            raise ValueError(f"typ {decoded.header.get('typ')!r}")
        claims = decoded.claims
        now = int(self.clock().timestamp())
        jwt.JWTClaimsRegistry(
            now=now,
            leeway=30,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": client_id},
            iat={"essential": True},
            exp={"essential": True},
            jti={"essential": True},
            events={"essential": True},
        ).validate(claims)
        if not isinstance(claims["events"], dict) or claims["events"].get(EVENT) != {}:
            raise ValueError(f"events {claims['events']!r}")
        if "nonce" in claims:
            raise ValueError("a logout token has no nonce")
        if "sub" not in claims and "sid" not in claims:
            raise ValueError("neither sub nor sid")
        if claims["exp"] - claims["iat"] > 300:
            raise ValueError("a logout token is short-lived")
        return Received(client_id, dict(decoded.header), dict(claims))

    def of(self, client_id: str) -> list[Received]:
        return [r for r in self.received if r.client_id == client_id]


@contextlib.contextmanager
def relying_party() -> Iterator[RelyingParty]:
    sock = free_socket()
    host, port = sock.getsockname()
    party = RelyingParty(url=f"http://{host}:{port}")
    app = Starlette(routes=[Route("/logout/{client_id}", party.logout, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    wait_for(lambda: server.started, "the relying party to start")
    try:
        yield party
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def wait_for(condition, what: str, deadline: float = 15.0) -> None:
    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def clients(party: RelyingParty) -> dict[str, dict[str, object]]:
    return {
        "wiki": {  # asks for sessions: its tokens name the sid too
            "name": "Team wiki",
            "secret_sha256": hashlib.sha256(SECRET.encode()).hexdigest(),
            "redirect_uris": [party.redirect("wiki")],
            "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
            "scopes": ["openid", "wallet_address", f"purpose:{PURPOSE}"],
            "backchannel_logout_uri": party.uri("wiki"),
            "backchannel_logout_session_required": True,
        },
        "spa": {
            "name": "Player app",
            "public": True,
            "redirect_uris": [party.redirect("spa")],
            "scopes": ["openid", "wallet_address"],
            "backchannel_logout_uri": party.uri("spa"),
            "id_token_signed_response_alg": "ES256",
        },
        "plain": {  # registered for no back-channel logout
            "name": "Plain app",
            "secret_sha256": hashlib.sha256(PLAIN_SECRET.encode()).hexdigest(),
            "redirect_uris": [party.redirect("plain")],
            "scopes": ["openid"],
        },
    }


@pytest.fixture
def party(monkeypatch) -> Iterator[RelyingParty]:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    with relying_party() as running:
        yield running


@pytest.fixture
def provider(tmp_path, clock, backend_settings, party):
    with serving(tmp_path, clock, oidc_clients=clients(party), **backend_settings) as running:
        party.issuer, party.clock = running.url, running.clock
        running.party = party
        yield running


SECRETS = {"wiki": SECRET, "spa": None, "plain": PLAIN_SECRET}


def sign_in(
    provider,
    person: Person,
    client_id: str,
    scope: str = "openid",
    ticked: tuple[str, ...] = (),
    *,
    secret: str | None = None,
    redirect_uri: str | None = None,
) -> tuple[OAuth2Client, dict]:
    """A sign-in at a configured client; at a registered one with its ``secret`` and
    ``redirect_uri``."""
    if redirect_uri is None:
        secret, redirect_uri = SECRETS[client_id], provider.party.redirect(client_id)
    client = OAuth2Client(
        client_id,
        secret,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=None if secret else "none",
    )
    code_verifier = verifier()
    url, _ = client.create_authorization_url(
        provider.url + "/oauth/authorize", code_verifier=code_verifier, nonce="n-1"
    )
    token = client.fetch_token(
        provider.url + "/oauth/token",
        authorization_response=person.authorize(url, ticked),
        code_verifier=code_verifier,
    )
    return client, token


def id_token_claims(provider, token: dict) -> dict:
    jwks = httpx.get(provider.url + "/.well-known/jwks.json").json()
    return dict(jwt.decode(token["id_token"], KeySet.import_key_set(jwks)).claims)


def erase(provider, person: Person) -> None:
    """The wallet erases itself at walletauth, as on the example page."""
    wallet = Wallet()
    wallet.account, wallet.address = person.account, person.address
    http = person.http
    # Dated by the server's clock, which the tests hold still while real time runs on.
    fields = {
        "domain": provider.url.removeprefix("http://"),
        "uri": provider.url + "/login",
        "issued_at": provider.clock(),
    }
    body = wallet.signed_body(http.get("/auth/nonce").json()["nonce"], **fields)
    bearer = {
        "Authorization": "Bearer " + http.post("/auth/verify", json=body).json()["access_token"]
    }
    proof = wallet.signed_body(
        http.get("/auth/nonce").json()["nonce"],
        resources=["urn:walletauth:request:erase"],
        **fields,
    )
    assert http.post("/me/erase", headers=bearer, json=proof).status_code == 200


def settle(seconds: float = 0.4) -> None:
    """Several rounds of the notice worker (every 0.05 s here)."""
    time.sleep(seconds)


def test_erasure_sends_each_client_holding_a_grant_one_logout_token(provider, party, person):
    wiki, wiki_token = sign_in(provider, person, "wiki")
    spa, spa_token = sign_in(provider, person, "spa")
    sign_in(provider, person, "plain")
    other = Person(provider)  # a grant of someone else's: not logged out
    sign_in(provider, other, "spa")

    erase(provider, person)

    wait_for(lambda: party.of("wiki") and party.of("spa"), "both logout tokens")
    settle()
    [to_wiki], [to_spa] = party.of("wiki"), party.of("spa")
    wiki_id, spa_id = id_token_claims(provider, wiki_token), id_token_claims(provider, spa_token)
    assert to_wiki.claims["sub"] == wiki_id["sub"] and to_spa.claims["sub"] == spa_id["sub"]
    # wiki asked for sessions: its token names the sid of its ID token; spa's names none.
    assert to_wiki.claims["sid"] == wiki_id["sid"]
    assert "sid" not in to_spa.claims
    assert to_wiki.header["kid"] in {
        k["kid"] for k in httpx.get(provider.url + "/.well-known/jwks.json").json()["keys"]
    }
    assert to_wiki.claims["jti"] != to_spa.claims["jti"]
    # Signed as each client's ID tokens are (section 2.4): wiki's RS256 by default.
    assert (to_wiki.header["alg"], to_spa.header["alg"]) == ("RS256", "ES256")
    assert sorted(party.attempts) == ["spa", "wiki"] and party.refused == []
    assert wiki.get(provider.url + "/oauth/userinfo").status_code == 401
    assert spa.get(provider.url + "/oauth/userinfo").status_code == 401
    other.http.close()


def test_withdrawing_the_purpose_a_grant_rests_on_logs_its_client_out(provider, party, person):
    wiki, _token = sign_in(
        provider, person, "wiki", f"openid purpose:{PURPOSE}", (f"purpose:{PURPOSE}",)
    )
    spa, _spa_token = sign_in(provider, person, "spa")  # rests on no purpose: stays
    bearer = erase_free_bearer(provider, person)

    withdrawn = person.http.put(
        "/me/consents", headers=bearer, json={"purpose": PURPOSE, "granted": False}
    )
    assert withdrawn.status_code == 200

    wait_for(lambda: party.of("wiki"), "the logout token")
    settle()
    assert party.attempts == ["wiki"]
    assert wiki.get(provider.url + "/oauth/userinfo").status_code == 401
    assert spa.get(provider.url + "/oauth/userinfo").status_code == 200


def erase_free_bearer(provider, person: Person) -> dict[str, str]:
    """A walletauth access token of the same wallet (signed in at walletauth itself)."""
    wallet = Wallet()
    wallet.account, wallet.address = person.account, person.address
    body = wallet.signed_body(
        person.http.get("/auth/nonce").json()["nonce"],
        domain=provider.url.removeprefix("http://"),
        uri=provider.url + "/login",
        issued_at=provider.clock(),
    )
    token = person.http.post("/auth/verify", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_rp_initiated_logout_logs_the_other_clients_of_the_session_out(provider, party, person):
    wiki, wiki_token = sign_in(provider, person, "wiki")
    spa, spa_token = sign_in(provider, person, "spa")
    plain, _plain_token = sign_in(provider, person, "plain")
    elsewhere = Person(provider)  # the same wallet at another browser: another session
    elsewhere.account = person.account
    wiki_elsewhere, _token = sign_in(provider, elsewhere, "wiki")
    assert (
        id_token_claims(provider, wiki_token)["sid"] == id_token_claims(provider, spa_token)["sid"]
    )

    query = urlencode({"id_token_hint": wiki_token["id_token"]})
    assert person.http.get(f"/oauth/logout?{query}").status_code == 200

    wait_for(lambda: party.of("spa"), "the logout token of the other client")
    settle()
    assert party.attempts == ["spa"]  # not wiki, which asked; not plain, not registered
    assert party.of("spa")[0].claims["sub"] == id_token_claims(provider, spa_token)["sub"]
    for ended in (wiki, spa, plain):
        assert ended.get(provider.url + "/oauth/userinfo").status_code == 401
    assert wiki_elsewhere.get(provider.url + "/oauth/userinfo").status_code == 200
    elsewhere.http.close()


def test_a_new_sign_in_after_logout_is_a_new_provider_session(provider, party, person):
    _wiki, first = sign_in(provider, person, "wiki")
    query = urlencode({"id_token_hint": first["id_token"]})
    assert person.http.get(f"/oauth/logout?{query}").status_code == 200

    _wiki, second = sign_in(provider, person, "wiki")

    assert id_token_claims(provider, first)["sid"] != id_token_claims(provider, second)["sid"]


def test_a_client_without_a_logout_uri_is_sent_nothing(provider, party, person):
    plain, _token = sign_in(provider, person, "plain")

    erase(provider, person)

    settle()
    assert party.attempts == [] and party.refused == []
    assert plain.get(provider.url + "/oauth/userinfo").status_code == 401


def test_a_receiver_answering_500_gets_a_fresh_token_after_the_back_off(provider, party, person):
    party.answers = [500]
    sign_in(provider, person, "spa")

    erase(provider, person)

    wait_for(lambda: party.attempts == ["spa"], "the first attempt")
    settle()  # the back-off (30 s of the provider's clock) has not passed: no retry yet
    assert party.attempts == ["spa"] and party.received == []
    first_attempt_at = int(provider.clock().timestamp())
    provider.clock.advance(timedelta(seconds=31))

    wait_for(lambda: party.of("spa"), "the retry")
    settle()
    [delivered] = party.of("spa")
    assert party.attempts == ["spa", "spa"]
    # Signed at the retry, not at the erasure: not stale for a receiver checking iat.
    assert delivered.claims["iat"] >= first_attempt_at + 31


def test_a_receiver_refusing_the_token_is_retried_not_dropped(provider, party, person):
    party.answers = [400, 503]
    sign_in(provider, person, "spa")

    erase(provider, person)

    wait_for(lambda: len(party.attempts) == 1, "the first attempt")
    for step, made in ((31, 2), (61, 3)):  # the back-off doubles
        provider.clock.advance(timedelta(seconds=step))
        wait_for(lambda made=made: len(party.attempts) == made, "a retry")
    wait_for(lambda: party.of("spa"), "the delivery")
    assert party.attempts == ["spa", "spa", "spa"]


def test_a_queued_logout_survives_a_restart_of_the_provider(
    tmp_path, clock, backend_settings, party
):
    party.answers = [500]
    with serving(tmp_path, clock, oidc_clients=clients(party), **backend_settings) as first:
        party.issuer, party.clock, first.party = first.url, first.clock, party
        person = Person(first)
        sign_in(first, person, "spa")
        erase(first, person)
        wait_for(lambda: party.answered == [500], "the first attempt's answer")
        person.http.close()
    clock.advance(timedelta(seconds=31))

    # The same data, database and address: only the process is new.
    port = int(first.url.rsplit(":", 1)[1])
    with serving(tmp_path, clock, port, oidc_clients=clients(party), **backend_settings):
        wait_for(lambda: party.of("spa"), "the delivery after the restart")

    assert party.attempts == ["spa", "spa"] and party.refused == []


@pytest.mark.parametrize("backend_settings", ["sqlite"], indirect=True)
def test_walletauth_notices_deliver_sends_a_queued_logout_from_cron(
    tmp_path, clock, backend_settings, party, monkeypatch
):
    from typer.testing import CliRunner

    from walletauth.cli import app as cli

    monkeypatch.setenv("WALLETAUTH_NOTICE_DELIVERY", "false")
    with serving(tmp_path, clock, oidc_clients=clients(party)) as provider:
        party.issuer, party.clock, provider.party = provider.url, provider.clock, party
        person = Person(provider)
        sign_in(provider, person, "spa")
        erase(provider, person)
        settle()
        assert party.attempts == []  # no worker: the logout waits in the outbox
        # The server's own settings, as cron's environment holds them.
        for name, value in {
            "WALLETAUTH_DATA_DIR": str(tmp_path / "data"),
            "WALLETAUTH_DOMAINS": provider.url.removeprefix("http://"),
            "WALLETAUTH_INSECURE_HTTP": "true",
            "WALLETAUTH_OIDC_CLIENTS": json.dumps(clients(party)),
        }.items():
            monkeypatch.setenv(name, value)

        result = CliRunner().invoke(cli, ["notices", "deliver"])
        person.http.close()

    assert result.exit_code == 0, result.output
    assert "delivered: 1" in result.output
    [delivered] = party.of("spa")
    assert delivered.header["alg"] == "ES256" and party.refused == []


@pytest.fixture
def registrar(tmp_path, clock, backend_settings, party):
    """The provider, with open registration too."""
    with serving(
        tmp_path,
        clock,
        oidc_clients=clients(party),
        oidc_registration="open",
        **backend_settings,
    ) as running:
        party.issuer, party.clock = running.url, running.clock
        running.party = party
        yield running


def register(provider, party: RelyingParty, name: str, **logout: object) -> dict:
    """A client registers over HTTP (RFC 7591), its logout URI named ``name`` at ``party``."""
    answer = httpx.post(
        provider.url + "/oauth/register",
        json={
            "client_name": f"Registered {name}",
            "redirect_uris": [party.redirect(name)],
            "backchannel_logout_uri": party.uri(name),
            **logout,
        },
    )
    assert answer.status_code == 201, answer.text
    issued = answer.json()
    party.aliases[name] = issued["client_id"]
    return issued


def test_a_registered_client_is_sent_a_logout_token_at_erasure(registrar, party):
    issued = register(registrar, party, "reg", backchannel_logout_session_required=True)
    client_id = issued["client_id"]
    assert issued["backchannel_logout_uri"] == party.uri("reg")
    person = Person(registrar)
    registered, token = sign_in(
        registrar,
        person,
        client_id,
        secret=issued["client_secret"],
        redirect_uri=party.redirect("reg"),
    )
    _wiki, wiki_token = sign_in(registrar, person, "wiki")  # a configured client beside it

    erase(registrar, person)

    wait_for(lambda: party.of(client_id) and party.of("wiki"), "both logout tokens")
    settle()
    [to_registered] = party.of(client_id)
    id_token = id_token_claims(registrar, token)
    assert to_registered.claims["aud"] == client_id
    assert to_registered.claims["sub"] == id_token["sub"]
    assert to_registered.claims["sid"] == id_token["sid"]  # it asked for sessions
    assert to_registered.header["alg"] == "RS256"  # as its ID tokens: the default
    assert party.of("wiki")[0].claims["sub"] == id_token_claims(registrar, wiki_token)["sub"]
    assert party.refused == []
    assert registered.get(registrar.url + "/oauth/userinfo").status_code == 401
    person.http.close()


@pytest.mark.parametrize("backend_settings", ["sqlite", "postgres"], indirect=True)
def test_walletauth_notices_deliver_sends_a_registered_clients_logout(
    tmp_path, clock, backend_settings, party, monkeypatch
):
    from typer.testing import CliRunner

    from walletauth.cli import app as cli

    monkeypatch.setenv("WALLETAUTH_NOTICE_DELIVERY", "false")
    with serving(
        tmp_path, clock, oidc_clients={}, oidc_registration="open", **backend_settings
    ) as provider:
        party.issuer, party.clock, provider.party = provider.url, provider.clock, party
        issued = register(
            provider,
            party,
            "reg",
            token_endpoint_auth_method="none",
            id_token_signed_response_alg="ES256",
        )
        person = Person(provider)
        sign_in(provider, person, issued["client_id"], redirect_uri=party.redirect("reg"))
        erase(provider, person)
        settle()
        assert party.attempts == []  # no worker: the logout waits in the outbox
        # The server's own settings, as cron's environment holds them.
        environment = {
            "WALLETAUTH_DATA_DIR": str(tmp_path / "data"),
            "WALLETAUTH_DOMAINS": provider.url.removeprefix("http://"),
            "WALLETAUTH_INSECURE_HTTP": "true",
            "WALLETAUTH_OIDC_REGISTRATION": "open",
        }
        if "database_url" in backend_settings:
            environment["WALLETAUTH_DATABASE_URL"] = str(backend_settings["database_url"])
        for name, value in environment.items():
            monkeypatch.setenv(name, value)

        result = CliRunner().invoke(cli, ["notices", "deliver"])
        person.http.close()

    assert result.exit_code == 0, result.output
    assert "delivered: 1" in result.output
    [delivered] = party.of(issued["client_id"])
    assert delivered.header["alg"] == "ES256" and party.refused == []


@pytest.mark.parametrize("backend_settings", ["sqlite"], indirect=True)
def test_registration_turned_off_sends_registered_clients_no_logout(
    tmp_path, clock, backend_settings, party
):
    with serving(tmp_path, clock, oidc_clients=clients(party), oidc_registration="open") as first:
        party.issuer, party.clock, first.party = first.url, first.clock, party
        issued = register(first, party, "reg")
        person = Person(first)
        sign_in(
            first,
            person,
            issued["client_id"],
            secret=issued["client_secret"],
            redirect_uri=party.redirect("reg"),
        )
        sign_in(first, person, "spa")
    port = int(first.url.rsplit(":", 1)[1])

    with serving(tmp_path, clock, port, oidc_clients=clients(party)) as second:
        person.http = httpx.Client(base_url=second.url)
        erase(second, person)
        wait_for(lambda: party.of("spa"), "the configured client's logout token")
        settle()
        # Queued at the erasure, but the client is no longer served: not sent, retried.
        assert pending_count(second.runtime.store.engine, [issued["client_id"]]) == 1

    assert party.attempts == ["spa"] and party.refused == []
    person.http.close()
