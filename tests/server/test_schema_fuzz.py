"""schemathesis against the served OpenAPI schema: no generated input gets a 500, and
every answer matches what the schema documents.

Schema-valid bodies may still be refused (a JSON schema cannot describe a signed SIWE
message), so that one check is left out. The operations are driven with hypothesis
directly: schemathesis' own pytest plugin does not run under pytest 9.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.server.conftest import make_settings, serving

EXAMPLES_PER_OPERATION = 50


@pytest.fixture(scope="module")
def served_schema(tmp_path_factory):
    settings_ = make_settings(tmp_path_factory.mktemp("fuzz"), rate_limits="off")
    with serving(settings_) as (url, _app):
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


def operation_ids():
    from walletauth.server.app import create_app
    from walletauth.server.settings import Settings

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
