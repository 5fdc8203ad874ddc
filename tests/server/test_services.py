"""The registry of services: parsed from settings, checked at start-up, keys compared
in constant time."""

from __future__ import annotations

import hashlib
import hmac
import json
from contextlib import contextmanager, suppress

import pytest
from pydantic import ValidationError

from walletauth.rights import NoticeEndpoint
from walletauth.sdk import new_webhook_secret
from walletauth.server.config import services as services_module
from walletauth.server.config.services import (
    LegacyNoticeEndpoint,
    ServiceConfig,
    ServiceRegistry,
    hash_api_key,
    new_api_key,
)
from walletauth.server.config.settings import Settings
from walletauth.server.web.errors import ServerError

MUSIC_KEY, VIDEO_KEY, PAY_KEY = new_api_key(), new_api_key(), new_api_key()
SECRET = new_webhook_secret()


def registry(services=None, legacy=None) -> ServiceRegistry:
    return ServiceRegistry.from_config(
        {name: ServiceConfig(**entry) for name, entry in (services or {}).items()},
        {name: LegacyNoticeEndpoint(**entry) for name, entry in (legacy or {}).items()},
    )


def three_services() -> ServiceRegistry:
    return registry({
        "music": {"api_key_sha256": hash_api_key(MUSIC_KEY), "purposes": ["service_provision"]},
        "video": {"api_key_sha256": hash_api_key(VIDEO_KEY), "purposes": ["quality_marketing"],
                  "webhook_url": "https://video.example/hooks", "webhook_secrets": [SECRET]},
        "payments": {"api_key_sha256": hash_api_key(PAY_KEY)},
    }, legacy={"archive": {"url": "https://archive.example/hooks", "secrets": [SECRET]}})


@contextmanager
def refused(code: str):
    with pytest.raises(ServerError) as caught:
        yield
    assert caught.value.code == code


def test_a_key_finds_its_service_and_the_purposes_granted_to_it():
    services = three_services()
    music = services.authenticate(MUSIC_KEY)
    video = services.authenticate(VIDEO_KEY)

    assert (music.name, music.purposes) == ("music", frozenset({"service_provision"}))
    assert (video.name, video.purposes) == ("video", frozenset({"quality_marketing"}))
    assert services.authenticate(PAY_KEY).purposes == frozenset()


@pytest.mark.parametrize("key", [None, "", "wa_svc_", "Bearer " + MUSIC_KEY, MUSIC_KEY[7:],
                                 MUSIC_KEY + "x", new_api_key()],
                         ids=["none", "empty", "prefix", "bearer", "unprefixed", "longer", "new"])
def test_any_other_key_is_service_unauthorized(key):
    with refused("service_unauthorized"):
        three_services().authenticate(key)


def test_every_digest_is_compared_whichever_matches(monkeypatch):
    services = three_services()
    compared: list[int] = []
    real_compare = hmac.compare_digest

    def counting(a, b):
        compared[-1] += 1
        return real_compare(a, b)

    monkeypatch.setattr(services_module.hmac, "compare_digest", counting)
    for key in (MUSIC_KEY, PAY_KEY, new_api_key()):
        compared.append(0)
        with suppress(ServerError):
            services.authenticate(key)

    # Three keyed services and one webhook-only one: four comparisons for a hit on the
    # first, a hit on the last and a miss alike, so timing tells nothing about the key.
    assert compared == [4, 4, 4]


def test_a_service_creates_subjects_only_for_the_purposes_its_configuration_names():
    services = registry({
        "signup": {"api_key_sha256": hash_api_key(MUSIC_KEY),
                   "purposes": ["service_provision", "quality_marketing"],
                   "creates_subjects_for": ["service_provision"]},
        "music": {"api_key_sha256": hash_api_key(VIDEO_KEY), "purposes": ["service_provision"]},
    })
    signup, music = services.authenticate(MUSIC_KEY), services.authenticate(VIDEO_KEY)

    assert signup.may_create_subject("service_provision")
    assert not signup.may_create_subject("quality_marketing")
    assert not music.may_create_subject("service_provision")


def test_a_webhook_only_legacy_endpoint_holds_no_key():
    services = three_services()
    archive = services.get("archive")

    assert archive is not None and archive.key_digest is None and not archive.purposes
    assert services.notice_endpoints() == {
        "video": NoticeEndpoint("https://video.example/hooks", (SECRET,)),
        "archive": NoticeEndpoint("https://archive.example/hooks", (SECRET,)),
    }


def test_the_digest_is_normalised_to_lower_case_hex():
    config = ServiceConfig(api_key_sha256=" " + hash_api_key(MUSIC_KEY).upper() + " ")
    assert config.api_key_sha256 == hash_api_key(MUSIC_KEY)
    assert registry({"music": config.model_dump()}).authenticate(MUSIC_KEY).name == "music"


@pytest.mark.parametrize("digest", [
    hash_api_key(MUSIC_KEY)[:63],
    hash_api_key(MUSIC_KEY) + "0",
    "g" * 64,
    MUSIC_KEY,  # the key itself instead of its hash
], ids=["short", "long", "not_hex", "the_key"])
def test_an_invalid_digest_is_refused(digest):
    with pytest.raises(ValidationError, match="64 hex digits"):
        ServiceConfig(api_key_sha256=digest)


@pytest.mark.parametrize("name", ["Music", "9lives", "a" * 16, "", "music app", "müsic"])
def test_a_bad_service_name_is_refused(name):
    with pytest.raises(ValueError, match="service name"):
        registry({name: {"api_key_sha256": hash_api_key(MUSIC_KEY)}})


@pytest.mark.parametrize("name", ["m", "music", "pay-ments_2", "a" * 15])
def test_short_lowercase_names_are_services(name):
    assert name in registry({name: {"api_key_sha256": hash_api_key(MUSIC_KEY)}})


@pytest.mark.parametrize("name", ["", "-music", "a" * 65, "music app", "music/1"])
def test_a_legacy_name_the_outbox_cannot_hold_is_refused(name):
    with pytest.raises(ValueError, match="notice endpoint name"):
        registry(legacy={name: {"url": "https://music.example/hooks", "secrets": [SECRET]}})


def test_older_legacy_names_keep_working():
    names = ["Music", "music.example", "a" * 64]
    services = registry(legacy={
        name: {"url": "https://music.example/hooks", "secrets": [SECRET]} for name in names})
    assert sorted(services.notice_endpoints()) == sorted(names)


@pytest.mark.parametrize("entry, message", [
    ({"url": "https://m.example/hooks"}, "secrets"),
    ({"url": "https://m.example/hooks", "secrets": []}, "secrets"),
    ({"url": "https://m.example/hooks", "secrets": ["hunter2"]}, "whsec_"),
    ({"url": "ftp://m.example/hooks", "secrets": [SECRET]}, "http"),
    ({"url": "/hooks", "secrets": [SECRET]}, "http"),
    ({"url": "http://m.example:abc/hooks", "secrets": [SECRET]}, "http"),
    ({"url": "http://[::1/hooks", "secrets": [SECRET]}, "http"),
    ({"url": "https://m.example/\x00", "secrets": [SECRET]}, "http"),
    ({"url": "https://m.example/hooks", "secrets": [SECRET], "extra": 1}, "extra"),
])
def test_a_legacy_entry_that_could_not_deliver_is_refused(entry, message):
    with pytest.raises(ValidationError, match=message):
        LegacyNoticeEndpoint(**entry)


@pytest.mark.parametrize("entry, message", [
    ({}, "api_key_sha256, a webhook_url"),
    ({"webhook_url": "https://m.example/hooks"}, "go together"),
    ({"api_key_sha256": hash_api_key(MUSIC_KEY), "webhook_secrets": [SECRET]}, "go together"),
    ({"webhook_url": "https://m.example/hooks", "webhook_secrets": ["whsec_c2hvcnQ="]},
     "24 to 64"),
    ({"webhook_url": "mailto:ops@m.example", "webhook_secrets": [SECRET]}, "http"),
    ({"api_key_sha256": hash_api_key(MUSIC_KEY), "purpose": ["typo"]}, "purpose"),
    ({"api_key_sha256": hash_api_key(MUSIC_KEY), "purposes": ["service_provision"],
      "creates_subjects_for": ["quality_marketing"]}, "not in purposes"),
])
def test_a_service_that_could_not_work_is_refused(entry, message):
    with pytest.raises(ValidationError, match=message):
        ServiceConfig(**entry)


def test_a_refused_secret_is_not_echoed(monkeypatch):
    secret = "whsec_dG9vLXNob3J0LXNlY3JldA=="  # 16 bytes: too short
    with pytest.raises(ValidationError) as directly:
        ServiceConfig(webhook_url="https://m.example/hooks", webhook_secrets=[secret])
    monkeypatch.setenv("WALLETAUTH_SERVICES", json.dumps({"music": {
        "webhook_url": "https://m.example/hooks", "webhook_secrets": [secret]}}))
    with pytest.raises(ValidationError) as at_start_up:
        Settings()

    for refusal in (str(directly.value), str(at_start_up.value)):
        assert "24 to 64" in refusal
        assert "dG9vLXNob3J0LXNlY3JldA" not in refusal


def test_a_name_in_both_settings_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        registry({"music": {"api_key_sha256": hash_api_key(MUSIC_KEY)}},
                 legacy={"music": {"url": "https://music.example/hooks", "secrets": [SECRET]}})


def test_two_services_with_one_key_are_refused():
    digest = hash_api_key(MUSIC_KEY)
    with pytest.raises(ValueError, match="same API key"):
        registry({"music": {"api_key_sha256": digest}, "video": {"api_key_sha256": digest}})


def test_the_environment_registers_services_and_legacy_endpoints(monkeypatch):
    monkeypatch.setenv("WALLETAUTH_SERVICES", json.dumps({"music": {
        "api_key_sha256": hash_api_key(MUSIC_KEY), "purposes": ["service_provision"]}}))
    monkeypatch.setenv("WALLETAUTH_NOTICE_ENDPOINTS", json.dumps({
        "archive": {"url": "https://archive.example/hooks", "secrets": [SECRET]}}))

    services = ServiceRegistry.from_settings(Settings())

    assert services.authenticate(MUSIC_KEY).name == "music"
    assert list(services.notice_endpoints()) == ["archive"]


@pytest.mark.parametrize("variable, value", [
    ("WALLETAUTH_SERVICES", '{"Music": {"api_key_sha256": "' + "0" * 64 + '"}}'),
    ("WALLETAUTH_SERVICES", '{"music": {"api_key_sha256": "abc"}}'),
    ("WALLETAUTH_SERVICES", '{"music": '),
    ("WALLETAUTH_NOTICE_ENDPOINTS", '{"music": {"url": "https://m.example"}}'),
    ("WALLETAUTH_NOTICE_ENDPOINTS", '{"' + "m" * 65 + '": {"url": "https://m.example",'
                                    ' "secrets": ["' + SECRET + '"]}}'),
])
def test_a_bad_registry_stops_the_start_up(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises((ValidationError, ValueError)):
        Settings()


def test_new_keys_are_prefixed_random_and_hashed_as_configured():
    first, second = new_api_key(), new_api_key()
    assert first.startswith("wa_svc_") and len(first) >= 7 + 43 and first != second
    assert hash_api_key(first) == hashlib.sha256(first.encode()).hexdigest()
