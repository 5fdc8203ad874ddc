"""The one exception type of the store layer, its stable codes, and how the policy
layer's refusals and errors become store errors."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Final, Literal, TypeGuard, get_args

import psycopg
import sqlalchemy.exc as sa_exc

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
    "policy_changed",  # a consent given to words that have changed since: on hold
    "unknown_ground",
    "joint_use_not_allowed",
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
    # the database cannot serve now (nothing was written): down, restarting, busy, full
    "database_unavailable",
    "storage_full",
]

STORE_ERROR_CODES: Final[frozenset[str]] = frozenset(get_args(StoreErrorCode))


def is_store_code(code: str) -> TypeGuard[StoreErrorCode]:
    """Whether a policy's reason code is one the store raises too (then it keeps it)."""
    return code in STORE_ERROR_CODES


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


# SQLSTATE 53100 (PostgreSQL) and SQLITE_FULL: out of disk, not out of service.
_DISK_FULL_SQLSTATE: Final = "53100"
_SQLITE_FULL: Final = 13


def database_unavailability(error: BaseException) -> StoreError | None:
    """The store error for a driver error that says the database cannot serve now — the
    server is down or restarting, a connection broke, the pool is exhausted, SQLite is
    locked, the disk is full — so that a caller answers "try again later" instead of
    reporting a bug. None for any other exception.

    A failed transaction was rolled back (or never began): nothing of it was written."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return StoreError("database_unavailable", "no database connection came free in time")
    # Through SQLAlchemy, or straight from the driver (the sign-in's own SQL path).
    if isinstance(error, sa_exc.DBAPIError):
        driver_error: BaseException | None = error.orig
        cannot_serve = isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)) or (
            error.connection_invalidated
        )
    elif isinstance(error, psycopg.Error | sqlite3.Error):
        driver_error = error
        cannot_serve = isinstance(
            error, psycopg.OperationalError | psycopg.InterfaceError | sqlite3.OperationalError
        )
    else:
        return None
    if (getattr(driver_error, "sqlstate", None) == _DISK_FULL_SQLSTATE
            or getattr(driver_error, "sqlite_errorcode", None) == _SQLITE_FULL):
        return StoreError("storage_full", "the database is out of disk space")
    if cannot_serve:
        return StoreError(
            "database_unavailable", f"the database does not answer ({type(driver_error).__name__})"
        )
    return None


@contextlib.contextmanager
def policy_errors_as_store_errors() -> Iterator[None]:
    """Re-raise a :class:`PolicyError` as a :class:`StoreError` with the same code when
    the store has it, else ``invalid_argument``."""
    try:
        yield
    except PolicyError as error:
        code: StoreErrorCode = error.code if is_store_code(error.code) else "invalid_argument"
        raise StoreError(code, error.message) from None


def refuse(decision: UseDecision, what: str) -> None:
    """Raise the refusal ``decision`` holds, if any, under the policy's reason code."""
    if not decision.allowed:
        reason = decision.reason or "purpose_not_allowed"
        code: StoreErrorCode = reason if is_store_code(reason) else "purpose_not_allowed"
        raise StoreError(code, f"{what} refused: {reason}")
