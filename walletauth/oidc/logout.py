"""OpenID Connect Back-Channel Logout 1.0: the logout tokens, signed when they are sent.

The outbox row of a logout (:mod:`walletauth.store.oidc_grants`) holds the client's id
and, sealed, what its token names: the client's pairwise ``sub`` and, for a client that
registered ``backchannel_logout_session_required``, the provider session's ``sid``. The
token is made at each attempt (section 2.4: ``typ`` ``logout+jwt``, ES256 under the
key of the ID tokens, which the JWKS publishes; ``iat`` now and a short ``exp``, a fresh
``jti``, the event, never a ``nonce``), so a retry a day later is not refused as stale.
It is POSTed as a form (section 2.5) to the client's ``backchannel_logout_uri`` as
configured (or registered over RFC 7591) at that moment; 200 (or 204, which some
frameworks answer) is delivered, anything else is retried with the outbox's back-off
(section 2.8).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt

from walletauth.oidc.clients import OidcClient, scopes_offered
from walletauth.oidc.directory import ClientDirectory
from walletauth.oidc.grants import IdTokens, ImportedKeys
from walletauth.oidc.sealing import PairwiseSubjects
from walletauth.rights.delivery import SignedPost
from walletauth.server.config.keys import KeyRing
from walletauth.server.config.settings import Settings
from walletauth.server.store_gateway import StoreGateway
from walletauth.store.outbox import OutboxNotice

LOGOUT_EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL_SECONDS: Final = 120
"""Long enough for a receiver's clock a little behind; short, as section 2.4 asks."""
DELIVERED: Final = frozenset({200, 204})
FORM_TYPE: Final = "application/x-www-form-urlencoded"
ClientLookup = Callable[[str], Awaitable[OidcClient | None]]
"""A client by id, configured or registered (:class:`ClientDirectory`)."""


class LogoutTokens:
    """Makes the request that delivers one queued logout."""

    def __init__(self, find: ClientLookup, id_tokens: IdTokens) -> None:
        self._find = find
        self._id_tokens = id_tokens
        self._imported = ImportedKeys()
        self._issuer = id_tokens.issuer

    def token(self, client: OidcClient, named: Mapping[str, str], now: datetime) -> str:
        """A logout token for ``client`` naming ``named`` (``sub`` and/or ``sid``), signed
        as its ID tokens are (section 2.4: with the same keys)."""
        client_id = client.client_id
        signing = self._id_tokens.signing_key(client.config.id_token_signed_response_alg)
        key = self._imported.of(signing)
        issued = int(now.timestamp())
        claims = {
            "iss": self._issuer,
            "aud": client_id,
            "iat": issued,
            "exp": issued + LOGOUT_TOKEN_TTL_SECONDS,
            "jti": secrets.token_urlsafe(16),
            **{name: named[name] for name in ("sub", "sid") if name in named},
            "events": {LOGOUT_EVENT: {}},
        }
        header = {"alg": signing.algorithm, "kid": signing.kid, "typ": "logout+jwt"}
        return jwt.encode(header, claims, key, algorithms=[signing.algorithm])

    async def post(self, queued: OutboxNotice, now: datetime) -> SignedPost | str:
        """The POST for ``queued``, or why it cannot be sent (an error code, retried)."""
        client = await self._find(queued.endpoint)
        if client is None or client.config.backchannel_logout_uri is None:
            return "unknown_endpoint"  # the client is gone or no longer registered for it
        uri = client.config.backchannel_logout_uri
        named = json.loads(queued.subject)
        body = urlencode({"logout_token": self.token(client, named, now)})
        return SignedPost(
            uri, body.encode("ascii"), {"Content-Type": FORM_TYPE, "Cache-Control": "no-store"}
        )


def answer_error(status_code: int) -> str | None:
    """A receiver's answer to a logout token: None when delivered (section 2.8)."""
    return None if status_code in DELIVERED else f"http_{status_code}"


def logout_tokens(
    settings: Settings,
    keyring: KeyRing[ec.EllipticCurvePrivateKey],
    rsa_keyring: KeyRing[rsa.RSAPrivateKey],
    gateway: StoreGateway,
    optional_purposes: Sequence[str],
) -> LogoutTokens:
    """The logout tokens of ``settings``' clients and (registration on) of the clients
    registered in the store behind ``gateway``, for a delivery round outside the app
    (``walletauth notices deliver``), signed with the server's ID-token keys."""
    directory = ClientDirectory(
        settings.oidc_clients,
        scopes_offered(optional_purposes),
        gateway,
        registration=settings.oidc_registration != "off",
    )
    id_tokens = IdTokens(
        keyring,
        rsa_keyring,
        settings.issuer,
        lambda: datetime.now(UTC),
        int(settings.access_token_ttl.total_seconds()),
        PairwiseSubjects.load_or_create(settings.data_dir),
    )
    return LogoutTokens(directory.find, id_tokens)
