"""A stateful schemathesis run: wallets sign in for real (nonce, then a signed verify), then
call the /me/* operations with generated input under their token, send rights requests
with a real signed proof and generated fields, and sign out, in orders hypothesis picks.
No step gets a 500 and every answer matches the served schema.

A JSON schema cannot describe a signed SIWE message, so the links nonce -> verify -> /me/*
are followed by the rules below rather than by OpenAPI links; each generated case is
schemathesis' own, validated by it (the positive-data check left out, as in
test_schema_fuzz)."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, rule, run_state_machine_as_test
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.rights.helpers import signed_request
from tests.server.conftest import Wallet, make_settings, serving, sign_in

SIGNED_REQUESTS = {"export": "/me/export", "erase": "/me/erase",
                   "correct": "/me/corrections", "restrict": "/me/restrictions",
                   "stop-third-party": "/me/third-party/stop"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    settings_ = make_settings(tmp_path_factory.mktemp("stateful"), rate_limits="off")
    with serving(settings_) as (url, _app), httpx.Client(base_url=url, timeout=30) as http:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json"), http


def _me_operations(schema) -> list[tuple[str, str]]:
    return [(path, method) for path, methods in schema.raw_schema["paths"].items()
            if path.startswith("/me/") for method in methods]


def test_signed_in_flows_never_get_a_server_error(served):
    schema, http = served
    operations = _me_operations(schema)
    assert {path for path, _method in operations} >= set(SIGNED_REQUESTS.values())

    class SignedInFlows(RuleBasedStateMachine):
        sessions = Bundle("sessions")

        @rule(target=sessions)
        def sign_in(self) -> tuple[Wallet, dict[str, str]]:
            wallet = Wallet()
            answer = sign_in(http, wallet)
            assert answer.status_code == 200, answer.text
            return wallet, {"Authorization": f"Bearer {answer.json()['access_token']}"}

        @rule(session=sessions, operation=st.sampled_from(operations), data=st.data())
        def generated_call(self, session, operation, data) -> None:
            _wallet, bearer = session
            path, method = operation
            case = data.draw(schema[path][method].as_strategy())
            case.call_and_validate(headers=bearer, excluded_checks=[positive_data_acceptance])

        @rule(session=sessions, kind=st.sampled_from(sorted(SIGNED_REQUESTS)), data=st.data())
        def signed_rights_request(self, session, kind, data) -> None:
            wallet, bearer = session
            case = data.draw(schema[SIGNED_REQUESTS[kind]]["POST"].as_strategy())
            if isinstance(case.body, dict):  # generated fields around a real proof
                case.body.update(signed_request(http, wallet, kind))
            case.call_and_validate(headers=bearer, excluded_checks=[positive_data_acceptance])

        @rule(session=sessions)
        def sign_out(self, session) -> None:
            _wallet, bearer = session
            answer = http.post("/auth/logout", headers=bearer)
            assert answer.status_code in {204, 401}, answer.text

    run_state_machine_as_test(SignedInFlows, settings=settings(
        max_examples=60, stateful_step_count=12, deadline=None, derandomize=True,
        database=None, suppress_health_check=list(HealthCheck)))
