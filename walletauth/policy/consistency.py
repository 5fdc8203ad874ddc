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
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from walletauth.policy.model import Category, Policy

JOINT_USE_GROUND: Final = "joint_use"
"""The ground a provision names to be joint use (共同利用, APPI art. 27(5)(iii)): allowed
only when the policy's ``joint_use.allowed`` is true, refused with
``joint_use_not_allowed`` otherwise. No ground of a policy may take this id."""


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
        *_change_problems(policy),
        *_duplicates("statement", (statement.id for statement in policy.statements)),
        *_duplicates("intake", (intake.id for intake in policy.intakes)),
        *_intake_problems(policy),
    ]


def _change_problems(policy: Policy) -> Iterator[str]:
    yield from _duplicates("change of version", (change.version for change in policy.changes))
    if policy.changes and policy.changes[-1].version != policy.version:
        yield (
            f"the last change entry is version {policy.changes[-1].version!r} but the policy"
            f" is version {policy.version!r}; add a [[changes]] entry for this version"
        )
    if policy.changes and policy.effective_date not in (None, policy.changes[-1].date):
        yield (
            f"effective_date {policy.effective_date} differs from the date of this version's"
            f" change entry ({policy.changes[-1].date})"
        )
    dates = [change.date for change in policy.changes]
    if dates != sorted(dates):
        yield "changes must be listed oldest first"
    consentable = set(policy.consent_digests()) | set(policy.purposes)
    if policy.changes:
        for entry_id in policy.changes[-1].purposes:
            if entry_id not in consentable:
                yield (
                    f"change {policy.version!r} names the unknown purpose {entry_id!r}"
                    f" (known: {sorted(consentable)})"
                )


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
        if purpose.basis == "legal_obligation" and purpose.legal_source is None:
            yield (
                f"purpose {purpose.id!r} has basis 'legal_obligation' but names no"
                " legal_source; name the law that imposes the duty"
            )
        if purpose.basis != "legal_obligation" and purpose.legal_source is not None:
            yield (
                f"purpose {purpose.id!r} names a legal_source but its basis is"
                f" {purpose.basis!r}; only a legal obligation rests on a law"
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
    if JOINT_USE_GROUND in ground_ids:
        yield (
            f"third-party ground {JOINT_USE_GROUND!r} is reserved for joint use, which"
            " [joint_use] allows or refuses; give the ground another id"
        )
    for ground in policy.third_party.grounds:
        if ground.requires_consent_set_by == "operator" and not ground.requires_consent:
            yield (
                f"third-party ground {ground.id!r} says the operator set its consent"
                " requirement but requires no consent"
            )
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


def _intake_problems(policy: Policy) -> Iterator[str]:
    for intake in policy.intakes:
        listed = [*intake.required, *intake.optional]
        for reference in listed:
            category_id, _, field = reference.partition(".")
            category = policy.categories.get(category_id)
            if category is None:
                yield f"intake {intake.id!r} names the unknown category {category_id!r}"
            elif field and field not in category.fields:
                yield f"intake {intake.id!r} names {reference!r}, not a field of {category_id!r}"
        for reference in set(intake.required) & set(intake.optional):
            yield f"intake {intake.id!r} lists {reference!r} as both required and optional"
