"""Settings: defaults that work alone, environment variables, a TOML file."""

from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import pytest
from pydantic import ValidationError

from walletauth.server.config.settings import LoginDomain, RateLimits, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("WALLETAUTH_"):
            monkeypatch.delenv(name)


def test_defaults_serve_localhost_with_sqlite_in_the_data_dir():
    settings = Settings()
    assert settings.domains == (LoginDomain(authority="localhost:8000"),)
    assert settings.chain_ids == (1,)
    assert settings.redis_url is None
    assert settings.policy == "abcrecords"
    assert (
        settings.sqlalchemy_url == f"sqlite:///{Path('.walletauth').resolve()}/walletauth.sqlite3"
    )
    assert settings.nonce_ttl == timedelta(minutes=5)
    assert settings.rate_limits == RateLimits()
    assert settings.cookie_secure


def test_environment_variables_take_lists_and_maps_in_plain_form(monkeypatch):
    monkeypatch.setenv("WALLETAUTH_DOMAINS", "app.example, https://www.example:8443")
    monkeypatch.setenv("WALLETAUTH_CHAIN_IDS", "1,137")
    monkeypatch.setenv("WALLETAUTH_RPC_URLS", "1=http://node-a,137=http://node-b")
    monkeypatch.setenv("WALLETAUTH_CORS_ORIGINS", "https://app.example")
    monkeypatch.setenv("WALLETAUTH_TRUSTED_PROXIES", "10.0.0.0/8,::1")
    monkeypatch.setenv("WALLETAUTH_ACCESS_TOKEN_TTL", "120")
    monkeypatch.setenv("WALLETAUTH_INSECURE_HTTP", "true")
    settings = Settings()
    assert settings.domains == (
        LoginDomain(authority="app.example"),
        LoginDomain(authority="www.example:8443", scheme="https"),
    )
    assert settings.chain_ids == (1, 137)
    assert settings.rpc_urls == {1: "http://node-a", 137: "http://node-b"}
    assert settings.cors_origins == ("https://app.example",)
    assert settings.trusted_proxies == (ip_network("10.0.0.0/8"), ip_network("::1/128"))
    assert settings.access_token_ttl == timedelta(seconds=120)
    assert not settings.cookie_secure
    assert settings.issuer == "https://app.example"


@pytest.mark.parametrize(("domain", "issuer"), [
    ("localhost:8000", "http://localhost:8000"),
    ("127.0.0.1:9000", "http://127.0.0.1:9000"),
    ("[::1]:8000", "http://[::1]:8000"),
    ("app.example", "https://app.example"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),  # plain http: loopback only
    ("https://localhost:8443", "https://localhost:8443"),
])
def test_the_issuer_follows_the_first_domains_scheme(domain, issuer):
    assert Settings(domains=[domain, "other.example"]).issuer == issuer


def test_environment_variables_also_take_json(monkeypatch):
    monkeypatch.setenv("WALLETAUTH_CHAIN_IDS", "[10, 8453]")
    monkeypatch.setenv("WALLETAUTH_RPC_URLS", '{"10": "http://op"}')
    settings = Settings()
    assert settings.chain_ids == (10, 8453)
    assert settings.rpc_urls == {10: "http://op"}


@pytest.mark.parametrize("value", ["off", "OFF", "false", "0"])
def test_rate_limits_switch_off(monkeypatch, value):
    monkeypatch.setenv("WALLETAUTH_RATE_LIMITS", value)
    assert not Settings().rate_limits.enabled


def test_rate_limits_take_named_numbers(monkeypatch):
    monkeypatch.setenv("WALLETAUTH_RATE_LIMITS", "nonce=5,verify=3,failed=2,window=10")
    assert Settings().rate_limits == RateLimits(
        nonce_per_ip=5, verify_per_ip=3, failed_verify_per_address=2, window_seconds=10
    )


def test_rights_requests_have_a_limit_and_window_of_their_own(monkeypatch):
    assert (RateLimits().rights_per_subject, RateLimits().rights_window_seconds) == (30, 86400)
    monkeypatch.setenv("WALLETAUTH_RATE_LIMITS", "rights=4,rights_window=3600")
    assert Settings().rate_limits == RateLimits(rights_per_subject=4, rights_window_seconds=3600)


def test_a_toml_file_named_by_walletauth_config_is_read(monkeypatch, tmp_path):
    config = tmp_path / "walletauth.toml"
    config.write_text(
        'domains = ["login.example"]\nchain_ids = [137]\nredis_url = "redis://cache:6379/0"\n'
        "nonce_ttl = 60\n[rate_limits]\nenabled = false\n"
    )
    monkeypatch.setenv("WALLETAUTH_CONFIG", str(config))
    monkeypatch.setenv("WALLETAUTH_CHAIN_IDS", "1")  # the environment wins over the file
    settings = Settings()
    assert settings.domains == (LoginDomain(authority="login.example"),)
    assert settings.chain_ids == (1,)
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.nonce_ttl == timedelta(seconds=60)
    assert not settings.rate_limits.enabled


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WALLETAUTH_DOMAINS", "https://app.example/path"),
        ("WALLETAUTH_DOMAINS", ","),
        ("WALLETAUTH_CHAIN_IDS", "one"),
        ("WALLETAUTH_RATE_LIMITS", "nonce"),
        ("WALLETAUTH_TRUSTED_PROXIES", "not-a-network"),
    ],
)
def test_bad_values_are_refused_at_start_up(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises((ValidationError, ValueError)):
        Settings()
