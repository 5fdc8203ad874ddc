"""The log of provisions of the subject's data to third parties (APPI Art. 29): what the
subject's export lists and what an erasure keeps for the policy's ``record_retention``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from walletauth.policy.evaluate import decide_provision
from walletauth.store.addresses import normalise_address
from walletauth.store.audit import write_audit
from walletauth.store.errors import StoreError, policy_errors_as_store_errors, refuse
from walletauth.store.handle import StoreHandle
from walletauth.store.rights_schema import third_party_provisions
from walletauth.store.subjects import find_with_history, refs_of
from walletauth.store.types import require_aware


def record_provision(
    store: StoreHandle,
    address: str,
    recipient: str,
    categories: Iterable[str],
    ground: str,
    *,
    now: datetime,
    withheld: str | None = None,
) -> None:
    """Log that data of ``categories`` went to ``recipient`` on ``ground``, after the
    policy allowed it for the subject's state right now (refused: nothing is logged).

    The one place a provision is recorded (:func:`walletauth.rights.record_provision`
    checks the request and calls it): the row is what the export lists and what an
    erasure keeps for the policy's ``record_retention``. ``withheld`` names the
    statutory ground it is withheld from the subject's disclosure on."""
    now = require_aware(now)
    names = tuple(categories)
    refs = refs_of(store.secrets, normalise_address(address))
    with store.engine.begin() as connection:
        subject, events = find_with_history(connection, refs, lock=True)
        with policy_errors_as_store_errors():
            refuse(decide_provision(store.policy, ground, store.state_of(events),
                                    categories=names), "third-party provision")
        if subject is None:
            raise StoreError("unknown_subject", "no data is kept about this address")
        connection.execute(
            sa.insert(third_party_provisions).values(
                subject_id=subject.id, recipient=recipient, categories=list(names),
                ground=ground, provided_at=now, policy_version=store.policy.version,
                withheld=withheld,
            )
        )
        # The subject's export shows its audit entries: a withheld provision's names only
        # the ground it is withheld on.
        shown = {"withheld": withheld} if withheld else {"ground": ground}
        write_audit(connection, "third_party_provision", at=now,
                    policy_version=store.policy.version, subject_id=subject.id,
                    detail={**shown, "categories": len(names)})
