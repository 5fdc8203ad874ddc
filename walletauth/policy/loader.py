"""Loading policy files: the shipped ones by name, an operator's own by path.

A policy file is TOML (see ``walletauth/policy/README.md``). Purposes, categories,
third-party grounds and rights are arrays of tables, each entry with its own ``id``, so
that a duplicate id is reported by name rather than silently overwriting an entry.
Anything wrong with a file, from a TOML syntax error to a cross-reference to an unknown
purpose, is refused with ``PolicyError("invalid_policy", ...)`` naming the file, the
entry and the problem; pydantic's errors never escape raw.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from walletauth.policy.errors import PolicyError
from walletauth.policy.model import Policy

DEFAULT_POLICY: Final = "abcrecords"
"""The login's own service, ABCRECORDS."""

_KEYED_TABLES: Final = ("purposes", "categories")


def _shipped_dir() -> Traversable:
    return resources.files("walletauth.policy").joinpath("policies")


def shipped_policies() -> list[str]:
    """Names accepted by :func:`load_policy` without a path, sorted."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _shipped_dir().iterdir()
        if entry.name.endswith(".toml")
    )


def shipped_policy_text(name: str) -> str:
    """The original (Japanese) text a shipped policy transcribes, verbatim."""
    _require_shipped(name)
    return _shipped_dir().joinpath(f"{name}.ja.txt").read_text(encoding="utf-8")


def load_policy(name_or_path: str | Path) -> Policy:
    """A shipped policy by name (``"abcrecords"``, ``"metalive"``) or a TOML file by path.

    Shipped policies are parsed once and shared: a ``Policy`` is a frozen value.
    """
    if isinstance(name_or_path, str) and name_or_path in shipped_policies():
        return _load_shipped(name_or_path)
    if isinstance(name_or_path, str) and not _looks_like_path(name_or_path):
        raise PolicyError(
            "policy_not_found",
            f"no shipped policy {name_or_path!r} (shipped: {shipped_policies()});"
            " give a path to a .toml file for an operator's own policy",
        )
    return _load_file(Path(name_or_path))


def parse_policy(text: str, *, origin: str) -> Policy:
    """Parse and validate policy TOML; ``origin`` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError("invalid_policy", f"{origin}: not valid TOML: {error}") from None
    return policy_from_data(data, origin=origin)


def policy_from_data(data: Mapping[str, Any], *, origin: str) -> Policy:
    """Validate already-parsed policy data (arrays of tables for the keyed entries)."""
    keyed = dict(data)
    for table in _KEYED_TABLES:
        if table in keyed:
            keyed[table] = _by_id(keyed[table], table=table, origin=origin)
    try:
        return Policy.model_validate(keyed)
    except ValidationError as error:
        raise PolicyError("invalid_policy", f"{origin}: {_describe(error)}") from None


def _require_shipped(name: str) -> None:
    if name not in shipped_policies():
        raise PolicyError(
            "policy_not_found", f"no shipped policy {name!r} (shipped: {shipped_policies()})"
        )


def _looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.endswith(".toml")


@cache
def _load_shipped(name: str) -> Policy:
    text = _shipped_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")
    policy = parse_policy(text, origin=f"shipped policy {name}.toml")
    return policy.model_copy(update={"original_text": shipped_policy_text(name)})


def _load_file(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError("policy_not_found", f"policy file {str(path)!r} does not exist") from None
    except UnicodeDecodeError as error:
        raise PolicyError(
            "invalid_policy", f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise PolicyError(
            "policy_not_found", f"policy file {str(path)!r} cannot be read: {error.strerror}"
        ) from None
    policy = parse_policy(text, origin=str(path))
    original = _original_beside(path)
    return policy if original is None else policy.model_copy(update={"original_text": original})


def _original_beside(path: Path) -> str | None:
    """The published text ``<name>.ja.txt`` beside ``<name>.toml``, if the operator put
    one there (as the shipped policies have theirs)."""
    original = path.with_name(f"{path.stem}.ja.txt")
    try:
        return original.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(
            "invalid_policy", f"{original}: the policy's text cannot be read as UTF-8 ({error})"
        ) from None


def _by_id(entries: object, *, table: str, origin: str) -> dict[object, object]:
    """``[[purposes]]`` entries -> ``{id: entry}``, refusing entries without or with a
    duplicate id."""
    if not isinstance(entries, list):
        raise PolicyError(
            "invalid_policy", f"{origin}: {table} must be an array of tables ([[{table}]])"
        )
    keyed: dict[object, object] = {}
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "id" not in entry:
            raise PolicyError("invalid_policy", f"{origin}: {table} entry #{position} has no id")
        entry_id = entry["id"]
        if entry_id in keyed:
            raise PolicyError(
                "invalid_policy",
                f"{origin}: {table} entry #{position}: the id {entry_id!r} is declared twice;"
                " ids must be unique",
            )
        keyed[entry_id] = entry
    return keyed


def _describe(error: ValidationError) -> str:
    """Pydantic's errors as ``location: problem`` sentences, one per error."""
    return "; ".join(f"{_location(detail['loc'])}: {_message(detail)}" for detail in error.errors())


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "policy"


def _message(detail: Mapping[str, Any]) -> str:
    if detail["type"] == "missing":
        return "is required but missing"
    if detail["type"] == "extra_forbidden":
        return "is not a known setting (misspelt?)"
    return str(detail["msg"]).removeprefix("Value error, ")
