"""The purpose-tagged record store: the only layer that knows SQL.

Every personal-data record carries its subject, category, purpose, basis, collection
time, expiry and source; writes pass the policy's decisions and minimisation first;
reads are bound to one purpose. Addresses are found by keyed hash and kept only sealed
under a per-subject key held in a separate key store, so erasing a subject (destroying
its key) makes every copy of its records unreadable.
"""

from walletauth.store.audit import AUDIT_EVENTS, AuditEntry, AuditEvent
from walletauth.store.consent import ConsentEvent, ConsentKind
from walletauth.store.erasure import Erasure, RetainedProvisionRecords, RetainedRecords
from walletauth.store.errors import STORE_ERROR_CODES, StoreError
from walletauth.store.migrate import migrate
from walletauth.store.purge import PurgeReport
from walletauth.store.records import Record
from walletauth.store.rekey import RotationReport, VersionUsage
from walletauth.store.secrets import Secrets
from walletauth.store.store import Store

__all__ = [
    "AUDIT_EVENTS",
    "STORE_ERROR_CODES",
    "AuditEntry",
    "AuditEvent",
    "ConsentEvent",
    "ConsentKind",
    "Erasure",
    "PurgeReport",
    "Record",
    "RetainedProvisionRecords",
    "RetainedRecords",
    "RotationReport",
    "Secrets",
    "Store",
    "StoreError",
    "VersionUsage",
    "migrate",
]
