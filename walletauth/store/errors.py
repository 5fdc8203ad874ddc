"""The one exception type of the store layer, its stable codes, and how the policy
layer's refusals and errors become store errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final, Literal

from walletauth.errors import WalletAuthError
from walletauth.policy.errors import PolicyError
from walletauth.policy.evaluate import UseDecision

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
    "category_not_for_ground",
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


@contextlib.contextmanager
def policy_errors_as_store_errors() -> Iterator[None]:
    """Re-raise a :class:`PolicyError` as a :class:`StoreError` with the same code when
    the store has it, else ``invalid_argument``."""
    try:
        yield
    except PolicyError as error:
        code = error.code if error.code in STORE_ERROR_CODES else "invalid_argument"
        raise StoreError(code, error.message) from None  # type: ignore[arg-type]


def refuse(decision: UseDecision, what: str) -> None:
    """Raise the refusal ``decision`` holds, if any, under the policy's reason code."""
    if not decision.allowed:
        reason = decision.reason or "purpose_not_allowed"
        code = reason if reason in STORE_ERROR_CODES else "purpose_not_allowed"
        raise StoreError(code, f"{what} refused: {reason}")  # type: ignore[arg-type]
