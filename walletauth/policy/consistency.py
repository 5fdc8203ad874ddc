"""Consistency rules a policy must satisfy to be loaded at all.

Field-level rules (a purpose has a basis, a clause is not empty, a retention is a
positive duration...) are checked by the models themselves; these are the rules that
look across entries. Each problem is one sentence naming the entry and what is wrong.

A purpose that no category serves is refused, not merely warned about: a consent
screen would otherwise ask the subject to agree to something that stores nothing, and
in practice such a purpose is a typo in a category's retention table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletauth.policy.model import Category, Policy


def policy_problems(policy: Policy) -> list[str]:
    """Every consistency problem of ``policy``; empty when it may be loaded."""
    return [
        *_keys_match_ids(policy),
        *_purpose_problems(policy),
        *_category_problems(policy),
        *_ground_problems(policy),
        *_duplicates("right", (right.id for right in policy.rights)),
        *_login_problems(policy),
        *_age_problems(policy),
    ]


def _duplicates(kind: str, ids: Iterable[str]) -> Iterator[str]:
    for entry_id, count in Counter(ids).items():
        if count > 1:
            yield f"{kind} {entry_id!r} is declared {count} times; ids must be unique"


def _keys_match_ids(policy: Policy) -> Iterator[str]:
    for kind, table in (("purpose", policy.purposes), ("category", policy.categories)):
        for key, entry in table.items():
            if key != entry.id:
                yield f"{kind} {entry.id!r} is filed under the key {key!r}"


def _purpose_problems(policy: Policy) -> Iterator[str]:
    served = {purpose for category in policy.categories.values() for purpose in category.retention}
    for purpose in policy.purposes.values():
        if purpose.basis == "consent" and purpose.default_on:
            yield (
                f"purpose {purpose.id!r} has basis 'consent' and default_on = true;"
                " consent is never presumed, so a consent purpose must default to off"
            )
        if purpose.id not in served:
            yield (
                f"purpose {purpose.id!r} is served by no category;"
                " list it in the retention table of the categories kept for it"
            )


def _category_problems(policy: Policy) -> Iterator[str]:
    for category in policy.categories.values():
        yield from _category_entry_problems(policy, category)


def _category_entry_problems(policy: Policy, category: Category) -> Iterator[str]:
    if not category.retention:
        yield f"category {category.id!r} serves no purpose; give it a retention per purpose"
    for purpose_id in category.retention:
        if purpose_id not in policy.purposes:
            yield (
                f"category {category.id!r} has a retention for the unknown purpose"
                f" {purpose_id!r} (known: {sorted(policy.purposes)})"
            )
    if not category.fields:
        yield f"category {category.id!r} declares no fields; a record of it could hold nothing"
    if not category.disclosed_on_export and category.withheld_reason is None:
        yield (
            f"category {category.id!r} is not disclosed on export but gives no"
            " withheld_reason; say why, quoting the policy"
        )
    if category.disclosed_on_export and category.withheld_reason is not None:
        yield f"category {category.id!r} has a withheld_reason but is disclosed on export"
    if category.withheld_reason is not None and not category.withheld_clause:
        yield f"category {category.id!r} has a withheld_reason without a withheld_clause"


def _ground_problems(policy: Policy) -> Iterator[str]:
    ground_ids = [ground.id for ground in policy.third_party.grounds]
    yield from _duplicates("third-party ground", ground_ids)
    for ground_id in ground_ids:
        # A consent ground's consent is recorded under its id, next to purpose consents.
        if ground_id in policy.purposes:
            yield f"third-party ground {ground_id!r} has the id of a purpose; ids must differ"
    for ground in policy.third_party.grounds:
        for category_id in ground.categories:
            if category_id not in policy.categories:
                yield (
                    f"third-party ground {ground.id!r} carries the unknown category"
                    f" {category_id!r}"
                )
        yield from _duplicates(f"category of third-party ground {ground.id!r}",
                               ground.categories)


def _login_problems(policy: Policy) -> Iterator[str]:
    login = policy.login
    purpose = policy.purposes.get(login.purpose)
    if purpose is None:
        yield f"login.purpose names the unknown purpose {login.purpose!r}"
    elif purpose.basis == "consent":
        yield (
            f"login.purpose {login.purpose!r} has basis 'consent'; signing in must not"
            " depend on an optional purpose"
        )
    wallet = policy.categories.get(login.wallet_category)
    if wallet is None:
        yield f"login.wallet_category names the unknown category {login.wallet_category!r}"
    elif login.purpose not in wallet.retention:
        yield (
            f"login.wallet_category {wallet.id!r} is not kept for the login purpose"
            f" {login.purpose!r}"
        )
    if login.access_log_category is not None and (
        login.access_log_category not in policy.categories
    ):
        yield (
            f"login.access_log_category names the unknown category {login.access_log_category!r}"
        )


def _age_problems(policy: Policy) -> Iterator[str]:
    if policy.age is None:
        return
    for field in ("confirmation_category", "guardian_consent_category"):
        category_id = getattr(policy.age, field)
        if category_id is not None and category_id not in policy.categories:
            yield f"age.{field} names the unknown category {category_id!r}"
