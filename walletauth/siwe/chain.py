"""Web3 clients per chain id, for the on-chain half of signature verification.

Configuration maps a chain id to whatever the deployment has: a ready ``Web3`` /
``AsyncWeb3``, a provider object, or an RPC URL. These helpers turn that value into a
client and cache it, so a login does not rebuild a client (middleware onion, HTTP
session) on every request.

Clients built here from URLs use a short request timeout and at most one quick retry:
a sign-in is interactive, and a node that does not answer within seconds should become
``rpc_unavailable`` now rather than after web3's default minute-long back-off.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, TypeVar

from aiohttp import ClientError, ClientTimeout
from requests import ConnectionError as RequestsConnectionError
from web3 import AsyncWeb3, Web3
from web3.providers import (
    AsyncBaseProvider,
    AsyncHTTPProvider,
    BaseProvider,
    HTTPProvider,
    PersistentConnectionProvider,
    WebSocketProvider,
)
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint

__all__ = ["RPC_TIMEOUT_SECONDS", "async_web3_for", "ensure_connected", "web3_for"]

RPC_TIMEOUT_SECONDS = 5.0

# One retry only for a refused/reset connection (a pooled keep-alive socket the node
# closed is the common case); a timeout is not retried, it already cost the budget.
_SYNC_RETRY = ExceptionRetryConfiguration(
    errors=(RequestsConnectionError,), retries=2, backoff_factor=0.05
)
_ASYNC_RETRY = ExceptionRetryConfiguration(errors=(ClientError,), retries=2, backoff_factor=0.05)

# web3's validation middleware asks the node for eth_chainId before every eth_call;
# caching that one answer halves the round trips of a verification. Nothing else is
# cached: the wallet's answer must always come from the chain's current state.
_CACHE_CHAIN_ID: dict[str, Any] = {
    "cache_allowed_requests": True,
    "cacheable_requests": {RPCEndpoint("eth_chainId")},
}

_HTTP_SCHEMES = ("http://", "https://")
_WS_SCHEMES = ("ws://", "wss://")

# Providers are cached weakly: a caller handing in a fresh provider per call must not
# make this module keep every one of them alive.
_sync_by_provider: weakref.WeakKeyDictionary[BaseProvider, Web3] = weakref.WeakKeyDictionary()
_async_by_provider: weakref.WeakKeyDictionary[AsyncBaseProvider, AsyncWeb3[Any]] = (
    weakref.WeakKeyDictionary()
)
# A persistent (WebSocket) provider must be connected once before use; the lock keeps
# concurrent logins from opening two connections for the same provider.
_connect_locks: weakref.WeakKeyDictionary[PersistentConnectionProvider, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def web3_for(rpc: Mapping[int, object] | None, chain_id: int) -> Web3 | None:
    """The synchronous client for ``chain_id``, or ``None`` when none is configured.

    ``rpc[chain_id]`` may be a :class:`Web3`, a synchronous provider, or an http(s) URL.
    Raises :class:`TypeError`/:class:`ValueError` for a value that cannot make a
    synchronous client (an ``AsyncWeb3``, an async provider, a ws:// URL): that is a
    configuration mistake, not a failed login.
    """
    if rpc is None or chain_id not in rpc:
        return None
    value = rpc[chain_id]
    if isinstance(value, Web3):
        return value
    if isinstance(value, BaseProvider):
        return _cached(_sync_by_provider, value, lambda: Web3(value))
    if isinstance(value, str):
        return _sync_web3_from_url(value.strip())
    raise TypeError(
        f"rpc[{chain_id}] must be a Web3, a synchronous web3 provider or an http(s) URL, "
        f"not {type(value).__name__}"
    )


def async_web3_for(rpc: Mapping[int, object] | None, chain_id: int) -> AsyncWeb3[Any] | None:
    """The asynchronous client for ``chain_id``, or ``None`` when none is configured.

    ``rpc[chain_id]`` may be an :class:`AsyncWeb3`, an async provider, or an http(s) or
    ws(s) URL. A WebSocket client is returned unconnected; :func:`ensure_connected`
    (called by the contract verifier) opens the connection on first use.
    """
    if rpc is None or chain_id not in rpc:
        return None
    value = rpc[chain_id]
    if isinstance(value, AsyncWeb3):
        return value
    if isinstance(value, AsyncBaseProvider):
        return _cached(_async_by_provider, value, lambda: AsyncWeb3(value))
    if isinstance(value, str):
        return _async_web3_from_url(value.strip())
    raise TypeError(
        f"rpc[{chain_id}] must be an AsyncWeb3, an async web3 provider or an http(s)/ws(s) "
        f"URL, not {type(value).__name__}"
    )


async def ensure_connected(w3: AsyncWeb3[Any]) -> None:
    """Open a persistent provider's connection if it is not open yet.

    HTTP providers connect per request and need nothing. Connection failures raise
    web3's ``ProviderConnectionError``, which callers map to ``rpc_unavailable``.
    """
    provider = w3.provider
    if not isinstance(provider, PersistentConnectionProvider):
        return
    lock = _connect_locks.setdefault(provider, asyncio.Lock())
    async with lock:
        if not await provider.is_connected():
            await provider.connect()


_Client = TypeVar("_Client")
_Key = TypeVar("_Key")


def _cached(
    cache: weakref.WeakKeyDictionary[_Key, _Client], key: _Key, build: Callable[[], _Client]
) -> _Client:
    client = cache.get(key)
    if client is None:
        client = build()
        cache[key] = client
    return client


@lru_cache(maxsize=64)
def _sync_web3_from_url(url: str) -> Web3:
    if url.startswith(_WS_SCHEMES):
        raise ValueError(
            f"{url!r}: web3 8 has no synchronous WebSocket provider; "
            "configure an http(s) URL or verify through the async API"
        )
    if not url.startswith(_HTTP_SCHEMES):
        raise ValueError(f"{url!r} is not an http(s) RPC URL")
    return Web3(
        HTTPProvider(
            url,
            request_kwargs={"timeout": RPC_TIMEOUT_SECONDS},
            exception_retry_configuration=_SYNC_RETRY,
            **_CACHE_CHAIN_ID,
        )
    )


@lru_cache(maxsize=64)
def _async_web3_from_url(url: str) -> AsyncWeb3[Any]:
    if url.startswith(_WS_SCHEMES):
        return AsyncWeb3(
            WebSocketProvider(url, request_timeout=RPC_TIMEOUT_SECONDS, max_connection_retries=1)
        )
    if not url.startswith(_HTTP_SCHEMES):
        raise ValueError(f"{url!r} is not an http(s) or ws(s) RPC URL")
    # AsyncHTTPProvider keeps one aiohttp session per event loop internally, so a client
    # cached here stays usable when the calling code runs under a new loop.
    return AsyncWeb3(
        AsyncHTTPProvider(
            url,
            request_kwargs={"timeout": ClientTimeout(total=RPC_TIMEOUT_SECONDS)},
            exception_retry_configuration=_ASYNC_RETRY,
            **_CACHE_CHAIN_ID,
        )
    )
