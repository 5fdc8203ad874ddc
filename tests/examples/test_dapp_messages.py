"""The example page has a clear message, in Japanese and English, for every error code it
can meet: each code walletauth answers a browser with, and each the wallet side raises."""

from __future__ import annotations

import re
from pathlib import Path

from walletauth.console.errors import CONSOLE_ERROR_CODES
from walletauth.server.web.problems import STATUS_BY_CODE

DAPP = Path(__file__).resolve().parents[2] / "examples" / "dapp"
SERVICE_API_ONLY = {"service_unauthorized", "purpose_not_granted_to_service",
                    "guardian_consent_not_delegated", "metrics_unauthorized",
                    "joint_use_not_allowed", "category_not_granted_to_service",
                    "category_reserved", "subject_creation_not_granted",
                    "category_not_for_ground"}
"""Answers of /services/v1 and /metrics, which a page never calls."""
CONSOLE_ONLY = set(CONSOLE_ERROR_CODES)
"""Answers of /console/, whose own pages word them for the operator."""


def messages() -> dict[str, str]:
    """ERRORS of messages.js: code -> the text of its ``{ ja: ..., en: ... }`` entry."""
    source = (DAPP / "messages.js").read_text(encoding="utf-8")
    errors = source.split("export const ERRORS = {", 1)[1].split("\n};", 1)[0]
    return dict(re.findall(r"^  (\w+): (\{.*?\}),$", errors, flags=re.MULTILINE | re.DOTALL))


def wallet_side_codes() -> set[str]:
    """The codes wallet.js and app.js raise themselves (WalletError, provider errors)."""
    scripts = "".join((DAPP / name).read_text(encoding="utf-8") for name in ("wallet.js", "app.js"))
    raised = set(re.findall(r'WalletError\("(\w+)"', scripts))
    mapped = set(re.findall(r'^\s+(?:\[?-?\d+\]?): "(\w+)",$', scripts, flags=re.MULTILINE))
    api = (DAPP / "api.js").read_text(encoding="utf-8")
    return raised | mapped | set(re.findall(r'ApiError\("(\w+)"', api)) | {"wallet_error"}


def test_every_code_walletauth_answers_a_browser_with_has_a_message():
    never_on_the_page = SERVICE_API_ONLY | CONSOLE_ONLY
    browser_facing = {code for code, outcome in STATUS_BY_CODE.items()
                      if code not in never_on_the_page and (outcome.status < 500 or code in {
                          "rpc_unavailable", "service_unavailable", "internal_error"})}

    assert sorted(browser_facing - set(messages())) == []


def test_every_code_the_page_and_its_wallet_raise_has_a_message():
    codes = wallet_side_codes()

    assert {"user_rejected", "wallet_missing", "wallet_account_changed"} <= codes
    assert sorted(codes - set(messages())) == []


def test_each_message_is_in_japanese_and_in_english():
    for code, entry in messages().items():
        assert re.search(r'\bja: "[^"]+"', entry), code
        assert re.search(r'\ben: "[^"]+"', entry), code
