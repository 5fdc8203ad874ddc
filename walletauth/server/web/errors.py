"""The one exception type of the HTTP layer, and its stable codes."""

from __future__ import annotations

from typing import Literal

from walletauth.errors import WalletAuthError

ServerErrorCode = Literal[
    "nonce_unknown",  # the message's nonce was never issued, has expired or was already used
    "not_authenticated",  # no access token and no session cookie
    "invalid_token",  # the access token is malformed, expired, or not ours
    "session_revoked",  # the session behind the token or cookie has ended (logout, expiry)
    "rate_limited",
    "malformed_json",
    "invalid_request",  # well-formed JSON or query that does not fit the schema
    "request_too_large",
    "malformed_request",  # not HTTP/1.1 (answered by the protocol, before any app)
    "request_head_too_large",  # request line and headers over WALLETAUTH_MAX_HEAD_BYTES
    "request_head_timeout",  # the head did not arrive within WALLETAUTH_HEAD_TIMEOUT
    "request_body_timeout",  # the body did not arrive within WALLETAUTH_BODY_TIMEOUT
    "not_found",
    "method_not_allowed",
    "service_unavailable",  # the database or Redis does not answer
    "metrics_unauthorized",  # /metrics without the configured WALLETAUTH_METRICS_TOKEN
    "internal_error",
    "service_unauthorized",  # a service API call without a registered service's API key
    "purpose_not_granted_to_service",  # the calling service may not use this purpose
    "guardian_consent_not_delegated",  # the calling service may not record guardian consents
    "category_reserved",  # the age rule's categories are written through their own endpoints
    "subject_creation_not_granted",  # a record would be the first about an unknown address
    "category_not_granted_to_service",  # a provision of data the service may not use
]


class ServerError(WalletAuthError):
    code: ServerErrorCode

    def __init__(
        self, code: ServerErrorCode, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after
