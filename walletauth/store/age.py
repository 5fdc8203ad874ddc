"""The policy's age rule: the subject's age confirmation and a guardian's consent, kept
as state events (and, where the policy names a category for them, as records for export).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from walletauth.policy.evaluate import SubjectState, decide_use
from walletauth.policy.model import AgeRule, Policy
from walletauth.store.errors import StoreError
from walletauth.store.handle import StoreHandle
from walletauth.store.outbox import PendingNotice
from walletauth.store.subject_state import state_event


def confirm_age(
    store: StoreHandle, address: str, *, under_guardian_age: bool, now: datetime
) -> None:
    """Record the subject's age confirmation (and whether a guardian must consent).

    Kept as a consent event (for the state) and, where the policy names a category
    for it, as a record of that category (for export). Refused (``no_age_rule``)
    under a policy without an age rule: nothing would ask for it, so nothing is kept.
    A confirmation of being under the guardian age is final
    (``age_confirmation_final``): otherwise a child could undo it by declaring again
    and skip the guardian; confirming it again, or moving an adult below, is allowed.

    Confirming it without a guardian's consent on record also deletes, in the same
    transaction, what was kept before the answer that the age rule does not let be
    kept now (e.g. a first sign-in's access log): nothing about the child is kept
    beyond the wallet record and the age rule's own records.
    """
    category = _age_rule(store.policy).confirmation_category
    evidence = {"under_guardian_age": under_guardian_age, "confirmed_at": now.isoformat()}
    state_event(
        store, address, "age_confirmation", None, under_guardian_age, now, "age_confirmation",
        evidence=(category, evidence) if category else None,
        check=None if under_guardian_age else _refuse_growing_up,
        discard_for=(lambda state: replace(state, age_confirmed=True,
                                           under_guardian_age=True))
        if under_guardian_age else None,
    )


def set_guardian_consent(
    store: StoreHandle, address: str, granted: bool, *, now: datetime,
    method: str | None = None,
    withdrawal_notices: Callable[[Sequence[str]], Sequence[PendingNotice]] | None = None,
) -> None:
    """Record a guardian's consent (``method``: how it was obtained) or its withdrawal;
    ``no_age_rule`` under a policy without an age rule.

    ``withdrawal_notices`` turns the optional purposes the change takes out of use
    into notices enqueued in the same transaction; it is not called when none are.
    Which purposes were in use is read under the subject's lock, so a consent the
    user changes at the same moment is either in the notice or decided after it.
    """
    category = _age_rule(store.policy).guardian_consent_category
    evidence = {"method": method, "granted_at": now.isoformat()}

    def notices_for(before: SubjectState) -> Sequence[PendingNotice]:
        if withdrawal_notices is None:
            return ()
        after = replace(before, guardian_consent=granted)
        lost = _purposes_taken_out_of_use(store.policy, before, after)
        return withdrawal_notices(lost) if lost else ()

    state_event(
        store, address, "guardian_consent", None, granted, now, "guardian_consent",
        evidence=(category, evidence) if category and granted else None,
        notices_for=notices_for,
    )


def _age_rule(policy: Policy) -> AgeRule:
    if policy.age is None:
        raise StoreError("no_age_rule",
                         f"the policy {policy.id!r} has no age rule: nothing to record")
    return policy.age


def _refuse_growing_up(state: SubjectState) -> None:
    if state.age_confirmed and state.under_guardian_age:
        raise StoreError("age_confirmation_final",
                         "the subject is confirmed under the guardian age; a new"
                         " declaration cannot undo that")


def _purposes_taken_out_of_use(
    policy: Policy, before: SubjectState, after: SubjectState
) -> tuple[str, ...]:
    """The optional purposes in use under ``before`` that ``after`` no longer allows, in
    the policy's order."""
    return tuple(
        purpose.id for purpose in policy.purposes.values()
        if purpose.optional and decide_use(policy, purpose.id, before).allowed
        and not decide_use(policy, purpose.id, after).allowed
    )
