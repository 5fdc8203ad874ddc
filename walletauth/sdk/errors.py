"""The one exception type of the SDK, and its stable codes."""

from __future__ import annotations

from typing import Final, Literal, get_args

from walletauth.errors import WalletAuthError

SdkErrorCode = Literal[
    # access tokens
    "token_missing",  # no bearer token (nor cookie) in the request
    "token_invalid",  # not a walletauth token: structure, algorithm, key, signature, claims
    "token_expired",
    "token_not_yet_valid",  # iat or nbf lies in the future (beyond the leeway)
    "token_issuer_mismatch",
    "token_audience_mismatch",  # a token minted for another service
    "token_revoked",  # the revocation hook says the session was ended
    "revocation_unavailable",  # the revocation hook failed; refused rather than trusted
    "jwks_unavailable",  # the signing keys could not be fetched and none usable are cached
    # signed notices (Standard Webhooks)
    "notice_signature_invalid",
    "notice_stale",  # webhook-timestamp outside the tolerance, past or future
    "notice_replayed",  # this webhook-id was already accepted
    "notice_malformed",  # headers or body are not a walletauth notice
    "replay_guard_unavailable",  # the shared replay store could not be reached
    "webhook_secret_invalid",  # a configured secret is not a Standard Webhooks secret
    # the service API (walletauth.sdk.Client); walletauth's refusal codes pass through too
    "service_unauthorized",  # the API key is not a registered service's
    "purpose_not_granted_to_service",  # the purpose is not among the service's
    "walletauth_unavailable",  # no answer (connection, timeout, 503) after the retries
    "unexpected_response",  # an answer that is not walletauth's (proxy page, wrong URL)
]

SDK_ERROR_CODES: Final[frozenset[str]] = frozenset(get_args(SdkErrorCode))


class SdkError(WalletAuthError):
    """A token or a notice was refused, or what is needed to check it is out of reach.

    ``code`` is one of :data:`SDK_ERROR_CODES`; the message says what was expected and
    what was found, and never echoes a secret.
    """

    code: SdkErrorCode

    def __init__(self, code: SdkErrorCode, message: str) -> None:
        if code not in SDK_ERROR_CODES:
            raise ValueError(f"unknown SDK error code {code!r}")
        super().__init__(code, message)
