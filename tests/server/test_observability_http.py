"""Health, metrics, logs and the OpenAPI schema."""

import logging

from tests.server.conftest import sign_in


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_metrics_count_logins_by_outcome_and_nonces_without_addresses_or_ips(client, wallet):
    sign_in(client, wallet)
    nonce = client.get("/auth/nonce").json()["nonce"]
    client.post("/auth/verify", json={"message": wallet.message(nonce), "signature": "0x00"})
    text = client.get("/metrics").text
    assert 'walletauth_logins_total{outcome="ok"} 1.0' in text
    assert 'walletauth_logins_total{outcome="invalid_signature"} 1.0' in text
    assert "walletauth_nonces_issued_total 2.0" in text
    assert 'walletauth_request_duration_seconds_bucket{le="0.005",method="POST"' in text
    assert 'route="/auth/verify"' in text
    assert wallet.address.lower()[2:] not in text.lower()
    assert "127.0.0.1" not in text


def test_logs_name_no_address_and_no_ip(client, wallet, caplog):
    caplog.set_level(logging.DEBUG, logger="walletauth")
    sign_in(client, wallet)
    nonce = client.get("/auth/nonce").json()["nonce"]
    client.post("/auth/verify", json={"message": wallet.message(nonce), "signature": "0x00"})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "subject:" in logged
    assert wallet.address.lower()[2:] not in logged.lower()
    assert "127.0.0.1" not in logged


def test_the_openapi_schema_documents_problem_responses(client):
    schema = client.get("/openapi.json").json()
    assert "Problem" in schema["components"]["schemas"]
    verify = schema["paths"]["/auth/verify"]["post"]["responses"]
    for status in ("400", "401", "403", "413", "422", "429"):
        assert "application/problem+json" in verify[status]["content"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
