"""What an operator does on a person's behalf (the console, :mod:`walletauth.console`):
closing a request a service handed over once it is carried out, and the audit entry of
every act, naming the operator by a keyed ref and the reason they gave.

The acts themselves are the wallet owner's own calls (:mod:`walletauth.rights.operations`):
an erasure run by an operator is the same erasure, with the same request log entry and
the same notices, as one the wallet proves itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from walletauth.rights.errors import RightsError
from walletauth.store import Store, requests_log
from walletauth.store.audit import DetailValue

MAX_REASON_CHARS: Final = 500


def record_operator_action(
    store: Store, address: str | None, *, operator: str, action: str, reason: str | None,
    now: datetime, detail: Mapping[str, DetailValue] | None = None,
) -> None:
    """One ``operator_action`` audit entry: ``operator`` (a keyed ref), ``action``, the
    ``reason`` given and ``detail`` (ids, counts, the identity check's name). Linked to
    the subject of ``address`` while it exists, so the person's export shows it too. A
    text holding a wallet address is refused (``invalid_argument``) with nothing written."""
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise RightsError("invalid_argument", f"a reason is at most {MAX_REASON_CHARS} characters")
    store.audit(address, "operator_action", now=now,
                detail={"operator": operator, "action": action, "reason": reason,
                        **(detail or {})})


def close_forwarded(
    store: Store, address: str, request_id: str, *, completed_by: str, now: datetime,
) -> None:
    """Mark the request ``request_id``, handed over by a service (kind ``<kind>:<service>``)
    and still ``received``, as completed by the request ``completed_by`` the operator ran.
    Refused (``invalid_argument``) unless it is an open handed-over request of ``address``:
    the id the operator typed must belong to the person they found."""
    entry = next((e for e in requests_log.list_requests(store, address)
                  if e.id == request_id), None)
    if entry is None or entry.status != "received" or ":" not in entry.kind:
        raise RightsError("invalid_argument", f"{request_id!r} is no open request a service"
                          " handed over for this subject")
    requests_log.finish_request(store, request_id, "completed", now=now,
                       detail={"completed_by": completed_by})
