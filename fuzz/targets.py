"""Fuzz targets: each takes the fuzzer's bytes and fails only on an exception that is not
its layer's own error (or on a broken round trip). Imported after atheris instruments
walletauth, so coverage guides the inputs into the parser's and validators' branches."""

from __future__ import annotations

import contextlib
import functools
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import atheris
from authlib.oauth2.rfc6749.errors import OAuth2Error
from pydantic import BaseModel, ValidationError

from walletauth.console.errors import ConsoleError
from walletauth.console.guard import parse_form
from walletauth.console.session import ConsoleSessions
from walletauth.oidc.clients import ID_TOKEN_ALGORITHMS, OidcClient, OidcClientConfig
from walletauth.oidc.grants import FormRequest, IdTokens, Sealing, WalletAuthServer, build_server
from walletauth.oidc.provider import consent_grant
from walletauth.oidc.registration import (
    RegistrationEndpoint,
    RegistrationRequest,
    registered_client,
    registration_body,
)
from walletauth.oidc.sealing import PairwiseSubjects, Sealer
from walletauth.policy import PolicyError, parse_policy
from walletauth.policy.loader import shipped_policies
from walletauth.server.config.keys import RS256_KEYS, KeyRing, open_keyring
from walletauth.server.routes import guardian, rights, services
from walletauth.server.signin.asgi import _RefusedBody, _verify_request
from walletauth.server.web import schemas
from walletauth.server.web.errors import ServerError
from walletauth.siwe import SiweError, SiweMessage, verify_message
from walletauth.store.oidc_clients import StoredClient

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "siwe"
POLICIES = Path(__file__).resolve().parent.parent / "walletauth" / "policy" / "policies"
# A fixed clock inside the vectors' validity windows: verification is then deterministic.
NOW = datetime(2021, 12, 7, 18, 29, tzinfo=UTC)


def siwe_parse(data: bytes) -> None:
    """SiweMessage.parse raises only SiweError; what it accepts prints back byte for byte."""
    text = data.decode("utf-8", "replace")
    try:
        message = SiweMessage.parse(text)
    except SiweError:
        return
    printed = message.to_text()
    assert printed == text, f"round trip changed the text: {text!r} -> {printed!r}"
    assert SiweMessage.parse(printed) == message


def siwe_verify(data: bytes) -> None:
    """verify_message of any text and signature raises only SiweError (no chain node:
    a contract wallet's signature is refused with a code, not an exception)."""
    text, _, signature = data.partition(b"\x00")
    try:
        verify_message(
            text.decode("utf-8", "replace"), signature, domain="example.com", now=NOW
        )
    except SiweError:
        return


def verify_body(data: bytes) -> None:
    """The body of POST /auth/verify: refused with the HTTP layer's own error, or a
    message and signature that verification refuses with SiweError."""
    try:
        body = _verify_request(data)
    except (ServerError, _RefusedBody):
        return
    try:
        verify_message(body.message, body.signature, domain="example.com", now=NOW)
    except SiweError:
        return


def _request_models() -> list[type[BaseModel]]:
    modules = (schemas, rights, services, guardian)
    found = {
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    }
    return sorted(found, key=lambda model: (model.__module__, model.__name__))


REQUEST_MODELS = _request_models()


def request_bodies(data: bytes) -> None:
    """Every body model of the HTTP API refuses bad JSON with pydantic's ValidationError
    (which the server answers 422), never another exception.

    pydantic validates in Rust, where atheris sees no coverage; so the bytes choose a
    model and build a JSON document around its own field names (wrong types, nesting,
    extra keys, huge numbers, lone surrogates), which reaches the validators' branches
    that raw bytes would seldom get past the JSON syntax to."""
    fuzz = atheris.FuzzedDataProvider(data)
    model = REQUEST_MODELS[fuzz.ConsumeIntInRange(0, len(REQUEST_MODELS) - 1)]
    names = [*model.model_fields, *(f.alias for f in model.model_fields.values() if f.alias)]
    document = {
        (fuzz.PickValueInList(names) if names and fuzz.ConsumeBool() else fuzz.ConsumeUnicode(8)):
        _json_value(fuzz, depth=2)
        for _ in range(fuzz.ConsumeIntInRange(0, 6))
    }
    body = json.dumps(document, ensure_ascii=fuzz.ConsumeBool()).encode("utf-8", "surrogatepass")
    with contextlib.suppress(ValidationError):
        model.model_validate_json(body)
    with contextlib.suppress(ValidationError):
        model.model_validate(document)


def _json_value(fuzz: atheris.FuzzedDataProvider, depth: int) -> object:
    kind = fuzz.ConsumeIntInRange(0, 7 if depth else 5)
    if kind == 0:
        return None
    if kind == 1:
        return fuzz.ConsumeBool()
    if kind == 2:
        return fuzz.ConsumeInt(fuzz.ConsumeIntInRange(1, 40))
    if kind == 3:
        return fuzz.ConsumeFloat()
    if kind in (4, 5):
        return fuzz.ConsumeUnicode(fuzz.ConsumeIntInRange(0, 80))
    if kind == 6:
        return [_json_value(fuzz, depth - 1) for _ in range(fuzz.ConsumeIntInRange(0, 4))]
    return {fuzz.ConsumeUnicode(6): _json_value(fuzz, depth - 1)
            for _ in range(fuzz.ConsumeIntInRange(0, 4))}


CONSOLE_KEY = b"k" * 32


def console_input(data: bytes) -> None:
    """What a browser sends the operator's console: a cookie either opens to a session or
    to nothing, and a form body parses, or is refused, with the console's own error only."""
    cookie, _, body = data.partition(b"\x00")
    opened = ConsoleSessions(CONSOLE_KEY).open(cookie.decode("utf-8", "replace"), now=NOW)
    assert opened is None, "a cookie the console never issued opened"
    try:
        form = parse_form(body)
        for name in ("address", "reason", "action", "csrf"):
            form.optional(name)
        form.all("purposes")
        form.choice("action", ("export", "erase"))
    except ConsoleError:
        return


_SEALER = Sealer([bytes(range(32))])
_OIDC_CLIENTS = {"wiki": OidcClient("wiki", OidcClientConfig(
    name="Wiki", public=True, redirect_uris=("https://wiki.example/cb",),
    scopes=("openid", "wallet_address")))}


def oidc_sealed(data: bytes) -> None:
    """A sealed code or token of any text opens to claims or to None, never raises."""
    text = data.decode("utf-8", "replace")
    for kind in ("ticket", "consent", "code", "access", "refresh"):
        assert _SEALER.open(kind, text) is None or isinstance(_SEALER.open(kind, text), dict)


def oidc_authorization(data: bytes) -> None:
    """An authorization request of any query string is refused only with an OAuth error
    (Authlib's own ValueError for text it cannot put in an error is one of them)."""
    items = parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True)
    server = _oidc_server()
    request = FormRequest("GET", "https://login.example/oauth/authorize", items, {})
    try:
        consent_grant(server, request, None)
    except OAuth2Error:
        return


@functools.cache
def _oidc_server() -> WalletAuthServer:
    directory = Path(tempfile.mkdtemp(prefix="walletauth-fuzz-"))
    keyring = KeyRing.load_or_create(directory, token_ttl=timedelta(minutes=15))
    rsa_keyring = open_keyring(directory, RS256_KEYS, token_ttl=timedelta(minutes=15))
    subjects = PairwiseSubjects(bytes(32))
    id_tokens = IdTokens(keyring, rsa_keyring, "https://login.example", lambda: NOW, 900,
                         subjects)
    sealing = Sealing(_SEALER, lambda: NOW, 120, 900)
    return build_server(_OIDC_CLIENTS, sealing, id_tokens, ["openid", "wallet_address"])


_OIDC_SCOPES = ["openid", "wallet_address", "purpose:quality_marketing"]
_REGISTRATION = RegistrationEndpoint(
    lambda: {"scopes_supported": _OIDC_SCOPES, "response_types_supported": ["code"],
             "grant_types_supported": ["authorization_code", "refresh_token"],
             "token_endpoint_auth_methods_supported": [
                 "client_secret_basic", "client_secret_post", "none"],
             "subject_types_supported": ["pairwise"],
             "id_token_signing_alg_values_supported": list(ID_TOKEN_ALGORITHMS)},
    None, lambda: NOW)


def oidc_registration(data: bytes) -> None:
    """A registration request's body (RFC 7591) is refused only with an OAuth error; a
    client it registers is one the provider can serve again from the store."""
    request = None
    try:
        request = RegistrationRequest("/oauth/register",
                                      registration_body(data, "application/json"), {})
        status, body, _headers = _REGISTRATION.create_registration_response(request)
    except OAuth2Error:
        return
    client = request.client
    assert status == 201 and client is not None and body["client_id"] == client.client_id
    stored = StoredClient(client.client_id, json.loads(json.dumps(dict(client.registered))),
                          client.config.secret_sha256, NOW)
    assert registered_client(stored, _OIDC_SCOPES) == client


def policy_loader(data: bytes) -> None:
    """A policy file of any content is a Policy or a PolicyError naming the problem."""
    try:
        parse_policy(data.decode("utf-8", "replace"), origin="fuzz.toml")
    except PolicyError:
        return


TARGETS: dict[str, Callable[[bytes], None]] = {
    "siwe_parse": siwe_parse,
    "siwe_verify": siwe_verify,
    "verify_body": verify_body,
    "request_bodies": request_bodies,
    "policy_loader": policy_loader,
    "console_input": console_input,
    "oidc_sealed": oidc_sealed,
    "oidc_authorization": oidc_authorization,
    "oidc_registration": oidc_registration,
}


def seeds(target: str) -> Iterator[bytes]:
    """A starting corpus: the official SIWE vectors and the shipped policies."""
    if target == "request_bodies":  # builds its documents from the bytes: no corpus
        return
    if target == "console_input":
        yield b"x.y\x00address=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed&reason=a&action=erase"
        return
    if target == "oidc_sealed":
        yield _SEALER.seal("code", {"id": "x", "scp": "openid"}).encode()
        return
    if target == "oidc_authorization":
        yield (b"response_type=code&client_id=wiki&redirect_uri=https%3A%2F%2Fwiki.example%2Fcb"
               b"&scope=openid+wallet_address&state=s&nonce=n&code_challenge_method=S256"
               b"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        return
    if target == "oidc_registration":
        yield json.dumps({"client_name": "Wiki", "redirect_uris": ["https://wiki.example/cb"],
                          "scope": "openid wallet_address", "token_endpoint_auth_method":
                          "none", "grant_types": ["authorization_code", "refresh_token"],
                          "post_logout_redirect_uris": ["https://wiki.example/"]}).encode()
        return
    if target == "policy_loader":
        for name in shipped_policies():
            yield (POLICIES / f"{name}.toml").read_bytes()
        return
    for text, signature in _signed_vectors():
        if target == "siwe_parse":
            yield text.encode()
        elif target == "siwe_verify":
            yield text.encode() + b"\x00" + signature.encode()
        else:
            yield json.dumps({"message": text, "signature": signature}).encode()


def _signed_vectors() -> Iterator[tuple[str, str]]:
    for case in json.loads((VECTORS / "parsing_positive.json").read_text()).values():
        yield case["message"], "0x"
    for case in json.loads((VECTORS / "verification_positive.json").read_text()).values():
        known = {name: value for name, value in case.items() if name in _MESSAGE_FIELDS}
        fields = {re.sub(r"[A-Z]", lambda m: "_" + m[0].lower(), k): v for k, v in known.items()}
        yield SiweMessage(**fields).to_text(), case["signature"]


_MESSAGE_FIELDS = frozenset({
    "scheme", "domain", "address", "statement", "uri", "version", "chainId", "nonce",
    "issuedAt", "expirationTime", "notBefore", "requestId", "resources",
})
