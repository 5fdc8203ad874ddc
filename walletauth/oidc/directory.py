"""Finding a client by id: a configured one, else (registration on) one registered over
RFC 7591, read from the store through the gateway. The provider's requests and the
sending of back-channel logouts (the notice worker, ``walletauth notices deliver``)
find clients the same way, so a registered client is logged out as a configured one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Final

from walletauth.oidc.clients import OidcClient, OidcClientConfig
from walletauth.oidc.registration import REGISTERED_PREFIX, registered_client
from walletauth.server.store_gateway import StoreGateway
from walletauth.store import Store

REGISTERED_CACHE: Final = 1024
"""Registered clients kept in memory: a registered client never changes, so a kept one
is never stale; one not kept is read from the store (where every worker's registrations
are)."""


class ClientDirectory:
    def __init__(
        self,
        configured: Mapping[str, OidcClientConfig],
        scopes_supported: Sequence[str],
        gateway: StoreGateway,
        *,
        registration: bool,
    ) -> None:
        self.configured = {
            client_id: OidcClient(client_id, config) for client_id, config in configured.items()
        }
        self._scopes_supported = list(scopes_supported)
        self._gateway = gateway
        self._registration = registration
        self._registered: OrderedDict[str, OidcClient] = OrderedDict()

    async def find(self, client_id: object) -> OidcClient | None:
        """A configured client, else (registration on) a registered one."""
        if not isinstance(client_id, str):
            return None
        client = self.configured.get(client_id) or self._registered.get(client_id)
        if (
            client is not None
            or not self._registration
            or not client_id.startswith(REGISTERED_PREFIX)
        ):
            return client
        stored = await self._gateway.run(Store.oidc_client, client_id)
        if stored is None:
            return None
        client = registered_client(stored, self._scopes_supported)
        self._registered[client_id] = client
        while len(self._registered) > REGISTERED_CACHE:
            self._registered.popitem(last=False)
        return client
