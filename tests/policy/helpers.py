"""Shared helpers of the policy tests: quote normalisation and walking a policy's texts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from walletauth.policy import LocalizedText

# Quotes are compared with every whitespace character removed. Japanese has no spaces
# between words; the published texts put stray spaces around Latin words ("IP アドレス",
# "Web サイト") and break lines inside sentences ("徹底\nします"), which a TOML one-liner
# cannot and need not reproduce. Nothing else is normalised: punctuation, full- and
# half-width characters must match exactly.
_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _WHITESPACE.sub("", text)


def localized_texts(node: object, path: str) -> Iterator[tuple[str, LocalizedText]]:
    """Every LocalizedText inside a policy model, with a readable path to it."""
    if isinstance(node, LocalizedText):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from localized_texts(getattr(node, name), f"{path}.{name}")
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from localized_texts(value, f"{path}.{key}")
    elif isinstance(node, tuple):
        for index, value in enumerate(node):
            yield from localized_texts(value, f"{path}[{index}]")


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "operator-policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


# METALIVE as an operator who relies on a bookkeeping duty would extend it: the text
# names no law that requires keeping anything, so the shipped policy keeps nothing through
# an erasure; this one names the law, and only what it names is kept.
BOOKKEEPING_PURPOSE = """
[[purposes]]
id = "bookkeeping"
basis = "legal_obligation"
clause = "METALIVE 個人情報利用目的"
text = { ja = "料金・ポイントの決済", en = "Settling fees and points" }
legal_source.ja = "法人税法第126条第1項"
legal_source.en = "Corporation Tax Act, article 126(1) (keeping books and records)"
"""


def metalive_with_bookkeeping_toml() -> str:
    """The shipped METALIVE TOML plus a `bookkeeping` legal duty for payment references."""
    text = shipped_policy_toml("metalive")
    kept = 'retention = { payment = "7y" }'
    assert kept in text
    text = text.replace(kept, 'retention = { payment = "7y", bookkeeping = "7y" }')
    marker = "\n[[categories]]\n"
    head, categories = text.split(marker, 1)
    return head + BOOKKEEPING_PURPOSE + marker + categories


def shipped_policy_toml(name: str) -> str:
    return (Path(__file__).parents[2] / "walletauth" / "policy" / "policies" / f"{name}.toml"
            ).read_text(encoding="utf-8")
