"""OpenID Connect Back-Channel Logout 1.0: the logout tokens, signed when they are sent.

The outbox row of a logout (:mod:`walletauth.store.oidc_grants`) holds the client's id
and, sealed, what its token names: the client's pairwise ``sub`` and, for a client that
registered ``backchannel_logout_session_required``, the provider session's ``sid``. The
token is made at each attempt (section 2.4: ``typ`` ``logout+jwt``, ES256 under the
key of the ID tokens, which the JWKS publishes; ``iat`` now and a short ``exp``, a fresh
``jti``, the event, never a ``nonce``), so a retry a day later is not refused as stale.
It is POSTed as a form (section 2.5) to the client's ``backchannel_logout_uri`` as
configured at that moment; 200 (or 204, which some frameworks answer) is delivered,
anything else is retried with the outbox's back-off (section 2.8).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Final
from urllib.parse import urlencode

from joserfc import jwt

from walletauth.oidc.clients import OidcClient
from walletauth.oidc.grants import SigningJwk
from walletauth.rights.delivery import SignedPost
from walletauth.server.config.keys import ALGORITHM, KeyRing
from walletauth.server.config.settings import Settings
from walletauth.store.outbox import OutboxNotice

LOGOUT_EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL_SECONDS: Final = 120
"""Long enough for a receiver's clock a little behind; short, as section 2.4 asks."""
DELIVERED: Final = frozenset({200, 204})
FORM_TYPE: Final = "application/x-www-form-urlencoded"


class LogoutTokens:
    """Makes the request that delivers one queued logout."""

    def __init__(self, clients: Mapping[str, OidcClient], keyring: KeyRing, issuer: str) -> None:
        self._clients = dict(clients)
        self._keys = SigningJwk(keyring)
        self._issuer = issuer

    def token(self, client_id: str, named: Mapping[str, str], now: datetime) -> str:
        """A logout token for ``client_id`` naming ``named`` (``sub`` and/or ``sid``)."""
        key = self._keys.current()
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
        header = {"alg": ALGORITHM, "kid": str(key.kid), "typ": "logout+jwt"}
        return jwt.encode(header, claims, key, algorithms=[ALGORITHM])

    def post(self, queued: OutboxNotice, now: datetime) -> SignedPost | str:
        """The POST for ``queued``, or why it cannot be sent (an error code, retried)."""
        client = self._clients.get(queued.endpoint)
        uri = client.config.backchannel_logout_uri if client is not None else None
        if uri is None:  # the client is gone or no longer registered for it
            return "unknown_endpoint"
        named = json.loads(queued.subject)
        body = urlencode({"logout_token": self.token(queued.endpoint, named, now)})
        return SignedPost(
            uri, body.encode("ascii"), {"Content-Type": FORM_TYPE, "Cache-Control": "no-store"}
        )


def answer_error(status_code: int) -> str | None:
    """A receiver's answer to a logout token: None when delivered (section 2.8)."""
    return None if status_code in DELIVERED else f"http_{status_code}"


def logout_tokens(settings: Settings, keyring: KeyRing) -> LogoutTokens:
    """The logout tokens of ``settings``' clients, for a delivery round outside the app
    (``walletauth notices deliver``)."""
    clients = {
        client_id: OidcClient(client_id, config)
        for client_id, config in settings.oidc_clients.items()
    }
    return LogoutTokens(clients, keyring, settings.issuer)
