"""What the service API answers, as typed values, and the refusal it may raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from walletauth.errors import WalletAuthError
from walletauth.sdk.errors import SdkError

RequestKind = Literal["export", "erase", "correct", "restrict", "stop-third-party"]


@dataclass(frozen=True, slots=True)
class Permission:
    """May the service use the subject's data for a purpose right now, and if not, why.

    ``reason`` is ``consent_required``, ``purpose_suspended``, ``unknown_subject``,
    ``purpose_not_granted_to_service`` or another policy reason code.
    """

    allowed: bool
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True, slots=True)
class Record:
    """One of the subject's live records for a purpose, already minimised."""

    id: int
    category: str
    purpose: str
    data: Mapping[str, Any]
    collected_at: datetime
    expires_at: datetime


class ApiError(SdkError):
    """walletauth refused the call.

    ``code`` is walletauth's stable problem code: ``service_unauthorized``,
    ``purpose_not_granted_to_service``, or the store's and policy's refusal codes passed
    through unchanged (``consent_required``, ``purpose_suspended``,
    ``third_party_stopped``, ``invalid_address``...). ``status`` is the HTTP status.
    """

    status: int

    def __init__(self, code: str, message: str, *, status: int) -> None:
        # Not SdkError.__init__: the server's codes are open-ended by design.
        WalletAuthError.__init__(self, code, message)
        self.status = status


def permission_from(body: Mapping[str, Any]) -> Permission:
    return Permission(allowed=bool(body["allowed"]), reason=body.get("reason"))


def record_from(body: Mapping[str, Any]) -> Record:
    return Record(
        id=int(body["id"]), category=str(body["category"]), purpose=str(body["purpose"]),
        data=dict(body["data"]), collected_at=datetime.fromisoformat(body["collected_at"]),
        expires_at=datetime.fromisoformat(body["expires_at"]),
    )
