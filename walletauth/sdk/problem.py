"""HTTP answers for refused requests: RFC 9457 problem documents with stable codes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

from walletauth.sdk.errors import SdkError

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"

_STATUS_BY_CODE: Final[dict[str, HTTPStatus]] = {
    # The caller could not be checked: the service is degraded, the token may be fine.
    "jwks_unavailable": HTTPStatus.SERVICE_UNAVAILABLE,
    "revocation_unavailable": HTTPStatus.SERVICE_UNAVAILABLE,
    "replay_guard_unavailable": HTTPStatus.SERVICE_UNAVAILABLE,
    "webhook_secret_invalid": HTTPStatus.INTERNAL_SERVER_ERROR,
    "notice_replayed": HTTPStatus.CONFLICT,
    "notice_malformed": HTTPStatus.BAD_REQUEST,
}


@dataclass(frozen=True, slots=True)
class ProblemResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def status_for(error: SdkError) -> HTTPStatus:
    """401 for every refused credential or notice, unless the code says otherwise."""
    return _STATUS_BY_CODE.get(error.code, HTTPStatus.UNAUTHORIZED)


def problem_document(error: SdkError) -> dict[str, Any]:
    status = status_for(error)
    return {
        "type": "about:blank",
        "title": status.phrase,
        "status": int(status),
        "detail": error.message,
        "code": error.code,
    }


def problem_response(error: SdkError) -> ProblemResponse:
    """Status, headers and body to answer a request refused with ``error``."""
    status = status_for(error)
    headers = {"Content-Type": PROBLEM_MEDIA_TYPE}
    if status == HTTPStatus.UNAUTHORIZED and error.code.startswith("token_"):
        headers["WWW-Authenticate"] = www_authenticate(error)
    body = json.dumps(problem_document(error), separators=(",", ":")).encode()
    return ProblemResponse(status=int(status), headers=headers, body=body)


def www_authenticate(error: SdkError) -> str:
    """The RFC 6750 challenge: no error attribute when no credential was sent at all."""
    if error.code == "token_missing":
        return "Bearer"
    return f'Bearer error="invalid_token", error_description="{error.code}"'
