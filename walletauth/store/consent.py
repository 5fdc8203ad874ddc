"""Consent history: an append-only list of events per subject, and the state it implies.

Every change of a subject's choices is one row in ``consent_events`` (who, what, the
new value, when, under which policy version); nothing is ever updated in place. The
current :class:`SubjectState` is the last value per (kind, purpose), folded from the
subject's events, which one indexed query returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from walletauth.policy.evaluate import SubjectState

ConsentKind = Literal[
    "consent", "suspension", "third_party_stop", "age_confirmation", "guardian_consent"
]
"""What an event changes; ``value`` means, per kind: consent granted; purpose suspended;
third-party provision stopped; the subject is under the guardian-consent age (an
``age_confirmation`` event is the confirmation itself); the guardian consented."""


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    kind: ConsentKind
    purpose: str | None
    value: bool
    at: datetime
    policy_version: str


def state_from_events(events: Iterable[ConsentEvent]) -> SubjectState:
    """Fold events, oldest first, into the subject's current state."""
    consents: dict[str, bool] = {}
    suspended: set[str] = set()
    age_confirmed = under_guardian_age = guardian_consent = third_party_stopped = False
    for event in events:
        if event.kind == "consent" and event.purpose is not None:
            consents[event.purpose] = event.value
        elif event.kind == "suspension" and event.purpose is not None:
            (suspended.add if event.value else suspended.discard)(event.purpose)
        elif event.kind == "third_party_stop":
            third_party_stopped = event.value
        elif event.kind == "age_confirmation":
            age_confirmed, under_guardian_age = True, event.value
        elif event.kind == "guardian_consent":
            guardian_consent = event.value
    return SubjectState(
        consents=consents,
        suspended=frozenset(suspended),
        age_confirmed=age_confirmed,
        under_guardian_age=under_guardian_age,
        guardian_consent=guardian_consent,
        third_party_stopped=third_party_stopped,
    )
