"""Errors of the policy layer.

Loading raises ``invalid_policy`` or ``policy_not_found``; the lookup methods of a
:class:`~walletauth.policy.model.Policy` raise ``unknown_*`` and ``purpose_not_allowed``;
:func:`~walletauth.policy.evaluate.minimise` raises the field codes. The evaluation
functions never raise for a refusal: they answer with a
:class:`~walletauth.policy.evaluate.UseDecision` whose ``reason`` is one of the codes in
:data:`~walletauth.policy.evaluate.REASON_CODES`.
"""

from __future__ import annotations

from typing import Literal

from walletauth.errors import WalletAuthError

PolicyErrorCode = Literal[
    "invalid_policy",  # a policy file is inconsistent; refused at start-up
    "policy_not_found",  # no shipped policy or file by that name
    "unknown_purpose",
    "unknown_category",
    "unknown_ground",  # no third-party ground by that id
    "purpose_not_allowed",  # the category may not be kept for that purpose
    "field_not_allowed",  # a record holds a field its category does not declare
    "invalid_field_value",  # e.g. a user agent that is not text
    "invalid_ip",  # an ip_truncate / ip_keyed_hash field that is not an IP address
    "invalid_hash_key",  # the keyed-hash key is missing or too short
    "unsupported_language",  # rendering in a language other than "ja" / "en"
    "required_item_missing",  # a submission lacks an item the policy's intake requires
]


class PolicyError(WalletAuthError):
    code: PolicyErrorCode

    def __init__(self, code: PolicyErrorCode, message: str) -> None:
        super().__init__(code, message)
