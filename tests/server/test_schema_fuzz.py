"""schemathesis against the served OpenAPI schema: no generated input gets a 500, and
every answer matches what the schema documents; the services API also with a registered
service's valid API key.

Schema-valid bodies may still be refused (a JSON schema cannot describe a signed SIWE
message), so that one check is left out. The operations are driven with hypothesis
directly: schemathesis' own pytest plugin does not run under pytest 9.
"""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.server.conftest import Wallet, make_settings, serving, sign_in
from walletauth.server.config.services import hash_api_key, new_api_key

EXAMPLES_PER_OPERATION = 50


@pytest.fixture(scope="module")
def served_schema(tmp_path_factory):
    settings_ = make_settings(tmp_path_factory.mktemp("fuzz"), rate_limits="off")
    with serving(settings_) as (url, _app):
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


def operation_ids():
    from walletauth.server.app import create_app
    from walletauth.server.config.settings import Settings

    paths = create_app(Settings()).openapi()["paths"]
    return [f"{method.upper()} {path}" for path, methods in paths.items() for method in methods]


@pytest.mark.parametrize("operation_id", operation_ids())
def test_no_generated_request_gets_a_server_error(served_schema, operation_id):
    method, path = operation_id.split(" ", 1)
    operation = served_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def call(case):
        # A schema cannot say what a valid SIWE message or signature is, so a schema-valid
        # body may well be refused with a 4xx problem; every other check applies.
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    call()


SERVICE_KEY = new_api_key()
SERVICE_PURPOSES = {"abcrecords": ["service_provision", "quality_marketing"],
                    "metalive": ["live_streaming", "support", "analytics_marketing"]}


@pytest.fixture(scope="module", params=["abcrecords", "metalive"])
def service_api(request, tmp_path_factory):
    """A server with a registered service (it may create subjects and record guardian
    consents) and one signed-in wallet; its schema and the ids worth sending."""
    name = request.param
    purposes = SERVICE_PURPOSES[name]
    services = {"fuzz": {"api_key_sha256": hash_api_key(SERVICE_KEY), "purposes": purposes,
                         "creates_subjects_for": purposes[:1],
                         "records_guardian_consent": True}}
    settings_ = make_settings(tmp_path_factory.mktemp("fuzz-services"), rate_limits="off",
                              policy=name, services=services)
    wallet = Wallet()
    with serving(settings_) as (url, app), httpx.Client(base_url=url, timeout=30) as http:
        assert sign_in(http, wallet).status_code == 200
        policy = app.state.runtime.policy
        known = {
            "address": [wallet.address, Wallet().address],
            "purpose": [*purposes, *policy.purposes],
            "categories": [[c] for c in policy.categories],
            "ground": [g.id for g in policy.third_party.grounds],
            # (category, purpose) pairs the service may write, so that the data is looked at
            "category": [(c.id, p) for c in policy.categories.values() for p in purposes
                         if p in c.purposes] or list(policy.categories),
        }
        yield schemathesis.openapi.from_url(f"{url}/openapi.json"), known


def service_operation_ids():
    return [op for op in operation_ids() if op.split(" ", 1)[1].startswith("/services/v1/")]


@st.composite
def with_known_ids(draw, cases, known):
    """A generated case whose fields are, now and then, ids the server knows: random
    strings alone would stop at the first lookup and never reach the store."""
    case = draw(cases)
    if isinstance(case.body, dict):
        for field, values in known.items():
            if field in case.body and draw(st.booleans()):
                value = draw(st.sampled_from(values))
                if isinstance(value, tuple):  # a category with a purpose it may be kept for
                    case.body["category"], case.body["purpose"] = value
                else:
                    case.body[field] = value
    return case


@pytest.mark.parametrize("operation_id", service_operation_ids())
def test_no_generated_service_call_with_a_valid_key_gets_a_server_error(service_api,
                                                                        operation_id):
    schema, known = service_api
    method, path = operation_id.split(" ", 1)
    operation = schema[path][method]
    key = {"Authorization": f"Bearer {SERVICE_KEY}"}

    @given(case=with_known_ids(operation.as_strategy(), known))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def call(case):
        case.call_and_validate(headers=key, excluded_checks=[positive_data_acceptance])

    call()
