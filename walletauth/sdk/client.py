"""The online half of the SDK: a registered service asks walletauth, over HTTP.

``Client`` (blocking) and ``AsyncClient`` (asyncio) speak to walletauth's
``/services/v1`` API with the service's API key. Each holds its own connection pool
(use it as a context manager, or call ``close``); there is no global state.

Retries: calls that change nothing (``allowed``, ``records``, ``session_revoked``) are
retried on a connection error, a timeout or a 503, with exponential backoff; calls that
write (``put_record``, ``record_provision``, ``forward_request``) only when the
connection could not even be opened, since otherwise the first attempt may have been
carried out.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar

import httpx

from walletauth.sdk.errors import SdkError
from walletauth.sdk.models import (
    ApiError,
    Permission,
    Record,
    RequestKind,
    permission_from,
    record_from,
)

API_KEY_PREFIX: Final = "wa_svc_"
API_PREFIX: Final = "/services/v1"
FIRST_BACKOFF: Final = 0.1
MAX_BACKOFF: Final = 2.0
# Failures where the request never left: safe to retry even a write.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    path: str
    body: dict[str, Any]
    idempotent: bool
    parse: Callable[[Any], T]


def _permission_call(address: str, purpose: str) -> _Call[Permission]:
    return _Call(f"{API_PREFIX}/permissions", {"address": address, "purpose": purpose},
                 True, permission_from)


def _put_record_call(address: str, category: str, purpose: str,
                     data: Mapping[str, object]) -> _Call[int]:
    body = {"address": address, "category": category, "purpose": purpose, "data": dict(data)}
    return _Call(f"{API_PREFIX}/records", body, False, lambda answer: int(answer["id"]))


def _records_call(address: str, purpose: str, category: str | None) -> _Call[list[Record]]:
    body = {"address": address, "purpose": purpose, "category": category}
    return _Call(f"{API_PREFIX}/records/query", body, True,
                 lambda answer: [record_from(item) for item in answer["records"]])


def _provision_call(address: str, recipient: str, categories: Sequence[str],
                    ground: str, withheld: str | None) -> _Call[None]:
    body = {"address": address, "recipient": recipient, "categories": list(categories),
            "ground": ground, "withheld_from_disclosure": withheld}
    return _Call(f"{API_PREFIX}/provisions", body, False, lambda _answer: None)


def _forward_call(address: str, kind: RequestKind) -> _Call[str]:
    return _Call(f"{API_PREFIX}/requests", {"address": address, "kind": kind}, False,
                 lambda answer: str(answer["id"]))


def _session_revoked_call(session_id: str) -> _Call[bool]:
    return _Call(f"{API_PREFIX}/sessions/status", {"session_id": session_id}, True,
                 lambda answer: not _strict_bool(answer["active"]))


def _strict_bool(value: object) -> bool:
    # bool("false") is True: anything but a JSON boolean is not walletauth's answer.
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {type(value).__name__}")
    return value


def _headers(api_key: str) -> dict[str, str]:
    if not isinstance(api_key, str) or not api_key.startswith(API_KEY_PREFIX):
        raise SdkError("service_unauthorized", "the API key must be a wa_svc_... service key")
    return {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}


def _backoff(attempt: int) -> float:
    """0.1 s, 0.2 s, 0.4 s... at most 2 s, with jitter so clients do not retry in step."""
    return min(FIRST_BACKOFF * 2.0**attempt, MAX_BACKOFF) * (0.5 + random.random() / 2)


def _retry_error(call: _Call[Any], error: httpx.TransportError) -> bool:
    return call.idempotent or isinstance(error, _NOT_SENT)


def _retry_answer(call: _Call[Any], response: httpx.Response) -> bool:
    return call.idempotent and response.status_code == 503


def _unavailable(error: httpx.TransportError | None) -> SdkError:
    what = "no answer" if error is None else type(error).__name__
    return SdkError("walletauth_unavailable", f"walletauth did not answer in time ({what})")


def _result(call: _Call[T], response: httpx.Response) -> T:
    """The parsed answer, or the refusal it carries as a typed error."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        try:
            return call.parse(body)
        except (KeyError, TypeError, ValueError):
            pass
    elif isinstance(body, dict) and isinstance(body.get("code"), str):
        raise ApiError(body["code"], str(body.get("detail", "")), status=response.status_code)
    if response.status_code == 503:
        raise _unavailable(None)
    raise SdkError("unexpected_response",
                   f"HTTP {response.status_code} from {call.path} is not a walletauth answer")


class Client:
    """Blocking client of walletauth's service API."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 5.0, retries: int = 2,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._retries = max(0, retries)
        self._http = httpx.Client(base_url=base_url, headers=_headers(api_key),
                                  timeout=timeout, transport=transport, follow_redirects=False)

    def allowed(self, address: str, purpose: str) -> Permission:
        """May this service use the subject's data for ``purpose`` now?"""
        return self._run(_permission_call(address, purpose))

    def put_record(self, address: str, category: str, purpose: str,
                   data: Mapping[str, object]) -> int:
        """Keep a record under the store's rules; its id, or :class:`ApiError`."""
        return self._run(_put_record_call(address, category, purpose, data))

    def records(self, address: str, purpose: str, *, category: str | None = None) -> list[Record]:
        """The subject's live records for ``purpose`` (none while it may not be used)."""
        return self._run(_records_call(address, purpose, category))

    def record_provision(self, address: str, recipient: str, categories: Sequence[str],
                         ground: str, *, withheld_from_disclosure: str | None = None) -> None:
        """Record a provision to a third party; ``third_party_stopped`` once stopped,
        ``category_not_for_ground`` for a category the ground does not carry,
        ``joint_use_not_allowed`` for the ground ``joint_use`` under a policy refusing it.
        ``withheld_from_disclosure`` names the statutory ground (``harm_to_person``,
        ``business_hindrance``, ``other_law``, ``investigation_hindrance``) on which the
        subject's export shows only that a record was withheld, and why."""
        self._run(_provision_call(address, recipient, categories, ground,
                                  withheld_from_disclosure))

    def forward_request(self, address: str, kind: RequestKind) -> str:
        """Hand a rights request received elsewhere to walletauth; its requests-log id.

        Logged as received for the operator and the user; nothing is exported or erased
        on the service's word (the wallet proves such requests itself).
        """
        return self._run(_forward_call(address, kind))

    def session_revoked(self, session_id: str) -> bool:
        """Whether walletauth ended the session (sign-out, erasure, expiry).

        Pass it as ``SessionVerifier(..., revocation_check=client.session_revoked)``:
        one call per verified token; if walletauth cannot be asked, the verifier
        refuses the token (``revocation_unavailable``).
        """
        return self._run(_session_revoked_call(session_id))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _run(self, call: _Call[T]) -> T:
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = self._http.post(call.path, json=call.body)
            except httpx.TransportError as error:
                if last or not _retry_error(call, error):
                    raise _unavailable(error) from None
            else:
                if last or not _retry_answer(call, response):
                    return _result(call, response)
            time.sleep(_backoff(attempt))
        raise _unavailable(None)  # unreachable: the last attempt returns or raises


class AsyncClient:
    """The same API for asyncio code."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 5.0, retries: int = 2,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._retries = max(0, retries)
        self._http = httpx.AsyncClient(base_url=base_url, headers=_headers(api_key),
                                       timeout=timeout, transport=transport,
                                       follow_redirects=False)

    async def allowed(self, address: str, purpose: str) -> Permission:
        return await self._run(_permission_call(address, purpose))

    async def put_record(self, address: str, category: str, purpose: str,
                         data: Mapping[str, object]) -> int:
        return await self._run(_put_record_call(address, category, purpose, data))

    async def records(self, address: str, purpose: str, *,
                      category: str | None = None) -> list[Record]:
        return await self._run(_records_call(address, purpose, category))

    async def record_provision(self, address: str, recipient: str, categories: Sequence[str],
                               ground: str, *,
                               withheld_from_disclosure: str | None = None) -> None:
        await self._run(_provision_call(address, recipient, categories, ground,
                                        withheld_from_disclosure))

    async def forward_request(self, address: str, kind: RequestKind) -> str:
        return await self._run(_forward_call(address, kind))

    async def session_revoked(self, session_id: str) -> bool:
        """The ``revocation_check`` of an :class:`AsyncSessionVerifier`."""
        return await self._run(_session_revoked_call(session_id))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.aclose()

    async def _run(self, call: _Call[T]) -> T:
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = await self._http.post(call.path, json=call.body)
            except httpx.TransportError as error:
                if last or not _retry_error(call, error):
                    raise _unavailable(error) from None
            else:
                if last or not _retry_answer(call, response):
                    return _result(call, response)
            await asyncio.sleep(_backoff(attempt))
        raise _unavailable(None)  # unreachable: the last attempt returns or raises
