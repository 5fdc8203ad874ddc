"""The age rule's two records: the user's own age confirmation, and a guardian's consent
recorded by the operator.

Under a policy with an age rule (METALIVE: 法定代理人の同意 below 13) optional purposes
wait for an age confirmation, and below the guardian age for a guardian's consent. The
confirmation is the user's self-declaration: a yes/no "under the guardian age", never a
birth date. The guardian's consent is what a child must not be able to give themselves,
so it is never taken from the wallet's own session: the operator verifies the guardian
(a signed form, a card check...) and its back office records the consent, naming the
method, through a service credential. The confirmation itself is
:meth:`walletauth.store.Store.confirm_age`.

A guardian's withdrawal takes the child's granted optional purposes out of use at once,
so, like the user's own withdrawal, it tells the registered services: one
``consent.withdrawn`` notice naming the purposes that were in use, committed with the
withdrawal (none when nothing was in use; a notice without purposes would mean all).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from walletauth.rights.errors import RightsError
from walletauth.rights.operations import pending_notices
from walletauth.store import Store
from walletauth.store.outbox import PendingNotice

VERIFICATION_METHOD: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
"""A method's name (``signed_form``, ``card_check``...), never free text: a field for how
the guardian was verified must not become a place for the guardian's name."""


def record_guardian_consent(
    store: Store, address: str, granted: bool, *, method: str, now: datetime,
    notify: Sequence[str] = (),
) -> None:
    """Record (or withdraw) a guardian's consent the operator obtained by ``method``.

    Only for a wallet walletauth knows (``unknown_subject`` otherwise: a back office
    must not create people), and only under a policy with an age rule (``no_age_rule``).
    A withdrawal that takes purposes out of use notices the ``notify`` endpoints.
    """
    if not isinstance(method, str) or not VERIFICATION_METHOD.fullmatch(method):
        raise RightsError("invalid_argument",
                          "method names how the guardian was verified: 1 to 64 of a-z 0-9 _ . -")
    if store.policy.age is None:
        raise RightsError("no_age_rule", f"the policy {store.policy.id!r} has no age rule")
    if not store.consent_history(address) and not store.subject_records(address, now=now):
        raise RightsError("unknown_subject", "no wallet by this address has signed in")

    def withdrawn(purposes: Sequence[str]) -> list[PendingNotice]:
        return pending_notices(store, "consent.withdrawn", purposes, notify, now)

    store.set_guardian_consent(address, granted, now=now, method=method,
                               withdrawal_notices=withdrawn)
