"""Errors of the policy layer."""

from __future__ import annotations

from typing import Literal

from walletauth.errors import WalletAuthError

PolicyErrorCode = Literal[
    "invalid_policy",  # a policy file is inconsistent; refused at start-up
    "policy_not_found",  # no shipped policy or file by that name
    "unknown_purpose",
    "unknown_category",
    "purpose_not_allowed",  # the category may not be kept for that purpose
]


class PolicyError(WalletAuthError):
    code: PolicyErrorCode

    def __init__(self, code: PolicyErrorCode, message: str) -> None:
        super().__init__(code, message)
