"""A changed ABCRECORDS, as an operator would write it: the shipped TOML with a purpose's
text edited, a new version and its [[changes]] entry. Used by the policy, store, server
and CLI tests of policy changes."""

from __future__ import annotations

from pathlib import Path

from walletauth.policy import Policy, parse_policy
from walletauth.policy.loader import _shipped_dir

OLD_MARKETING_JA = "本サービスの品質向上・開発・マーケティング等"
NEW_MARKETING_JA = "本サービスの品質向上・開発・マーケティング・広告配信等"
NEW_MARKETING_EN = "Improving quality, development, marketing and ad delivery, etc."

CHANGE_2 = """
[[changes]]
version = "2.0"
date = 2026-12-01
summary = { ja = "マーケティング目的に広告配信を追加", en = "Ad delivery added to marketing" }
purposes.quality_marketing = { ja = "広告配信を追加しました", en = "Ad delivery was added" }
"""


def shipped_text(name: str = "abcrecords") -> str:
    return _shipped_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")


def abcrecords_v2_text(*, with_change_entry: bool = True, new_purpose: bool = False) -> str:
    """ABCRECORDS 2.0: the marketing purpose's text changed (and, with ``new_purpose``, a
    new optional purpose, newsletter, served by the contact email)."""
    text = shipped_text().replace('version = "1.0"', 'version = "2.0"', 1)
    text = text.replace(f'ja = "{OLD_MARKETING_JA}", en = "Improving quality, development and'
                        ' marketing of the service, etc."',
                        f'ja = "{NEW_MARKETING_JA}", en = "{NEW_MARKETING_EN}"', 1)
    assert NEW_MARKETING_JA in text
    if new_purpose:
        text = text.replace(
            "# ---------------------------------------------------------------- 1. 利用者情報",
            '[[purposes]]\nid = "newsletter"\nbasis = "consent"\nclause = "ABCRECORDS 2"\n'
            'text = { ja = "ニュースレターの配信", en = "Sending the newsletter" }\n\n'
            "# ---------------------------------------------------------------- 1. 利用者情報",
            1,
        ).replace('retention = { service_provision = "1y", partner_guidance = "1y" }',
                  'retention = { service_provision = "1y", partner_guidance = "1y",'
                  ' newsletter = "1y" }', 1)
    if with_change_entry:
        text += CHANGE_2 + (
            'purposes.newsletter = { ja = "新しい目的", en = "A new purpose" }\n'
            if new_purpose else "")
    return text


def abcrecords_v2(**options: bool) -> Policy:
    return parse_policy(abcrecords_v2_text(**options), origin="abcrecords-2.0.toml")


def write_v2(directory: Path, **options: bool) -> Path:
    path = directory / "abcrecords-2.0.toml"
    path.write_text(abcrecords_v2_text(**options), encoding="utf-8")
    return path
