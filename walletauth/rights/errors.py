"""The one exception type of the rights layer, and its stable codes."""

from __future__ import annotations

from typing import Final, Literal, get_args

from walletauth.errors import WalletAuthError

RightsErrorCode = Literal[
    "wrong_request",  # the signed message names no request, several, or another one
    "signer_mismatch",  # the message is signed by another address than the session's
    "not_user_supplied",  # a correction of a category the user did not supply
    "unknown_record",  # a correction names a record that is not the subject's
    "undeclared_field",  # a correction holds a field the category does not declare
    "invalid_correction",  # a change lacks what its op needs (record id, category, data)
    "not_restrictable",  # a purpose whose use cannot be suspended (law, or sign-in itself)
    "invalid_argument",  # an empty purpose list, a recipient name out of bounds, a bad method
    "unknown_subject",  # a guardian consent for a wallet that never signed in
    "no_age_rule",  # a guardian consent under a policy without an age rule
]

RIGHTS_ERROR_CODES: Final[frozenset[str]] = frozenset(get_args(RightsErrorCode))


class RightsError(WalletAuthError):
    code: RightsErrorCode

    def __init__(self, code: RightsErrorCode, message: str) -> None:
        if code not in RIGHTS_ERROR_CODES:
            raise ValueError(f"unknown rights error code {code!r}")
        super().__init__(code, message)
