"""The one exception type of the store layer, and its stable codes."""

from __future__ import annotations

from typing import Final, Literal

from walletauth.errors import WalletAuthError

StoreErrorCode = Literal[
    # refusals that mirror the policy's reason codes (a refused write stores nothing)
    "unknown_purpose",
    "unknown_category",
    "purpose_not_allowed",
    "field_not_allowed",
    "consent_required",
    "purpose_suspended",
    "age_confirmation_required",
    "guardian_consent_required",
    "third_party_stopped",
    "not_a_consent_purpose",
    "unknown_ground",
    "invalid_field_value",
    "invalid_ip",
    "invalid_hash_key",
    # bad input
    "invalid_address",
    "invalid_argument",
    "naive_datetime",
    "unknown_subject",
    "no_age_rule",  # an age confirmation or guardian consent under a policy without age rule
    "age_confirmation_final",  # one confirmed under the guardian age declaring otherwise
    # configuration and storage
    "unsupported_database",
    "insecure_secrets",
    "secrets_unreadable",
    "unknown_key_version",
    "subject_key_missing",
]

STORE_ERROR_CODES: Final[frozenset[str]] = frozenset(StoreErrorCode.__args__)  # type: ignore[attr-defined]


class StoreError(WalletAuthError):
    """A write was refused, an argument was bad, or the store cannot work as configured.

    ``code`` is one of :data:`STORE_ERROR_CODES`; the refusals share their codes with
    the policy layer's reasons, so a caller maps both the same way.
    """

    code: StoreErrorCode

    def __init__(self, code: StoreErrorCode, message: str) -> None:
        if code not in STORE_ERROR_CODES:
            raise ValueError(f"unknown store error code {code!r}")
        super().__init__(code, message)
