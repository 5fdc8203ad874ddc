"""The sign-in's plan (walletauth.store.logins.LoginPlan) decides each of its collections
exactly as :func:`walletauth.policy.evaluate.decide_collection` does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletauth.policy.evaluate import SubjectState, decide_collection
from walletauth.policy.loader import load_policy
from walletauth.store.logins import LoginPlan

POLICIES = ("abcrecords", "metalive")


def _states(policy_id: str) -> st.SearchStrategy[SubjectState]:
    policy = load_policy(policy_id)
    ids = sorted(policy.purposes) + [ground.id for ground in policy.third_party.grounds]
    return st.builds(
        SubjectState,
        consents=st.dictionaries(st.sampled_from(ids), st.booleans()),
        suspended=st.frozensets(st.sampled_from(sorted(policy.purposes))),
        age_confirmed=st.booleans(),
        under_guardian_age=st.booleans(),
        guardian_consent=st.booleans(),
        third_party_stopped=st.booleans(),
    )


@pytest.mark.parametrize("policy_id", POLICIES)
def test_the_plan_writes_a_wallet_record_and_access_logs(policy_id):
    plan = LoginPlan.of(load_policy(policy_id))
    assert plan.wallet.category == plan.policy.login.wallet_category
    assert plan.access_log  # the equivalence below covers access-log decisions too


@pytest.mark.parametrize("policy_id", POLICIES)
@given(data=st.data())
def test_a_plans_collection_decisions_are_decide_collections(policy_id, data):
    plan = LoginPlan.of(load_policy(policy_id))
    state = data.draw(_states(policy_id))
    for kept in (plan.wallet, *plan.access_log):
        assert plan.may_collect(kept, state) == decide_collection(
            plan.policy, kept.category, kept.purpose, state
        )
