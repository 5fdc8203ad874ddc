"""The purpose-tagged record store: what the HTTP service and the rights layer call.

:class:`Store` is a handle (:class:`~walletauth.store.handle.StoreHandle`: the engines,
the key store, the policy, the secrets) with the calls of each concept's module bound
to it; the code is in those modules. Policy decisions come from
:mod:`walletauth.policy.evaluate`; the store only asks them and keeps the answer, never
re-implements them in SQL.
"""

from __future__ import annotations

from walletauth.policy.model import Policy
from walletauth.store import (
    age,
    audit,
    logins,
    oidc_clients,
    oidc_grants,
    purge,
    purpose_records,
    rekey,
    short_lived,
    subject_state,
)
from walletauth.store.engines import create_engine, default_keystore_url
from walletauth.store.handle import StoreHandle
from walletauth.store.keystore import KeyStore
from walletauth.store.migrate import upgrade_engine
from walletauth.store.secrets import Secrets


class Store(StoreHandle):
    """Purpose-tagged personal-data records, consent, audit and short-lived state.

    Whole-subject operations (erasure, correction, restriction and its lifting, the stop
    of third-party provision, the requests log) are not here: the layers above reach them
    through :mod:`walletauth.rights`, which logs each request and its notices."""

    @classmethod
    def open(
        cls, url: str, *, policy: Policy, secrets: Secrets, keystore_url: str | None = None
    ) -> Store:
        """Connect, upgrade both schemas to head, and return a ready store."""
        engine = create_engine(url)
        key_engine = create_engine(keystore_url or default_keystore_url(url))
        try:
            upgrade_engine(engine, "records")
            upgrade_engine(key_engine, "keystore")
        except BaseException:
            engine.dispose()
            key_engine.dispose()
            raise
        return cls(engine, KeyStore(key_engine, secrets), policy=policy, secrets=secrets)

    # sign-ins (the fast path)
    record_login = logins.record_login
    sign_in_many = logins.sign_in_many
    record_logins = logins.record_logins

    # records kept for a purpose
    put_record = purpose_records.put_record
    records = purpose_records.records
    subject_records = purpose_records.subject_records

    # consent and the subject's state (the module's own name is bound last: from that
    # line on it names the method in this class body)
    set_consent = subject_state.set_consent
    consents = subject_state.consents
    consent_history = subject_state.consent_history
    confirm_age = age.confirm_age
    set_guardian_consent = age.set_guardian_consent
    subject_state = subject_state.subject_state

    # audit, retention, secrets
    audit = audit.audit
    purge_step = purge.purge_step
    purge = purge.purge
    rotate_secrets = rekey.rotate_secrets
    secrets_usage = rekey.secrets_usage
    pending_rotation = rekey.pending_rotation

    # the OpenID Provider's grants (ended by erasure, withdrawal and logout)
    record_oidc_grant = oidc_grants.record_grant
    end_oidc_session_grants = oidc_grants.end_session_grants

    # short-lived state (without Redis)
    use_nonce = short_lived.use_nonce
    create_session = short_lived.create_session
    session_active = short_lived.session_active
    rotate_session = short_lived.rotate_session
    end_family_if_rotated = short_lived.end_family_if_rotated
    revoke_session = short_lived.revoke_session
    revoke_sessions_of = short_lived.revoke_sessions_of

    # OpenID Connect clients registered over RFC 7591 (configured ones are settings)
    register_oidc_client = oidc_clients.register_oidc_client
    oidc_client = oidc_clients.oidc_client
