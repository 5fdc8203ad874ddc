"""The walletauth SDK for the services that rely on walletauth sign-in.

Offline session checks (:class:`SessionVerifier`, :class:`AsyncSessionVerifier`,
:func:`require_wallet` for FastAPI, :func:`session_from_authorization_header` for any
other framework), signed notices (:func:`verify_notice`, :func:`sign_notice`), and the
online service API (:class:`Client`, :class:`AsyncClient`).
Depends only on the wire format: never on walletauth's server or store.
"""

from walletauth.sdk.bearer import bearer_token, session_from_authorization_header
from walletauth.sdk.client import AsyncClient, Client
from walletauth.sdk.errors import SDK_ERROR_CODES, SdkError, SdkErrorCode
from walletauth.sdk.fastapi_auth import install_problem_responses, require_wallet
from walletauth.sdk.models import ApiError, Permission, Record, RequestKind
from walletauth.sdk.notices import Notice, NoticeType, PolicyRef
from walletauth.sdk.problem import ProblemResponse, problem_document, problem_response
from walletauth.sdk.replay import InMemoryReplayGuard, RedisReplayGuard, ReplayGuard
from walletauth.sdk.session import WalletSession
from walletauth.sdk.verifier import (
    AsyncRevocationCheck,
    AsyncSessionVerifier,
    RevocationCheck,
    SessionVerifier,
    jwks_url_for,
)
from walletauth.sdk.webhooks import new_webhook_secret, sign_notice, verify_notice

__all__ = [
    "SDK_ERROR_CODES",
    "ApiError",
    "AsyncClient",
    "AsyncRevocationCheck",
    "AsyncSessionVerifier",
    "Client",
    "InMemoryReplayGuard",
    "Notice",
    "NoticeType",
    "Permission",
    "PolicyRef",
    "ProblemResponse",
    "Record",
    "RedisReplayGuard",
    "ReplayGuard",
    "RequestKind",
    "RevocationCheck",
    "SdkError",
    "SdkErrorCode",
    "SessionVerifier",
    "WalletSession",
    "bearer_token",
    "install_problem_responses",
    "jwks_url_for",
    "new_webhook_secret",
    "problem_document",
    "problem_response",
    "require_wallet",
    "session_from_authorization_header",
    "sign_notice",
    "verify_notice",
]
