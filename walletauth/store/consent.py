"""Consent history: an append-only list of events per subject, and the state it implies.

Every change of a subject's choices is one row in ``consent_events`` (who, what, the
new value, when, under which policy version); nothing is ever updated in place. The
current :class:`SubjectState` is the last value per (kind, purpose), folded from the
subject's events, which one indexed query returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    text_digest: str | None = None
    """For a consent: the digest of the text consented to (``Policy.consent_digests``)."""


@dataclass(frozen=True, slots=True)
class CurrentTexts:
    """What a consent must have been given to, to count under the policy in force."""

    version: str
    digests: Mapping[str, str]
    """Optional purpose and consent ground id -> digest of its current text."""

    def outdated(self, event: ConsentEvent) -> bool:
        """Was this grant given to another text than the current one? A grant recorded
        before digests were kept counts as given to the text of its own version."""
        current = self.digests.get(event.purpose or "")
        if current is None:
            return False  # no longer a consent purpose: its decision refuses or ignores it
        if event.text_digest is None:
            return event.policy_version != self.version
        return event.text_digest != current


def state_from_events(
    events: Iterable[ConsentEvent], current: CurrentTexts | None = None
) -> SubjectState:
    """Fold events, oldest first, into the subject's current state; with ``current``,
    grants given to an earlier text of their purpose are ``outdated``."""
    consents: dict[str, bool] = {}
    outdated: set[str] = set()
    suspended: set[str] = set()
    age_confirmed = under_guardian_age = guardian_consent = third_party_stopped = False
    for event in events:
        if event.kind == "consent" and event.purpose is not None:
            consents[event.purpose] = event.value
            stale = event.value and current is not None and current.outdated(event)
            (outdated.add if stale else outdated.discard)(event.purpose)
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
        outdated=frozenset(outdated),
    )
