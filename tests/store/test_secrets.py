"""Server secrets: generated on first start, private, atomic, rotatable."""

from __future__ import annotations

import json
import stat

import pytest

from walletauth.store import Secrets, StoreError


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_generates_private_secrets(tmp_path):
    directory = tmp_path / "secrets"

    secrets = Secrets.load_or_create(directory)

    assert mode_of(directory) == 0o700
    [file] = list(directory.iterdir())
    assert file.name == "v1.json" and mode_of(file) == 0o600
    assert secrets.current.version == 1
    assert len(secrets.current.subject_hmac_key) == len(secrets.current.master_key) == 32
    assert secrets.current.subject_hmac_key != secrets.current.master_key


def test_a_second_start_loads_the_same_secrets(tmp_path):
    first = Secrets.load_or_create(tmp_path / "secrets")

    second = Secrets.load_or_create(tmp_path / "secrets")

    assert second.current.subject_hmac_key == first.current.subject_hmac_key
    assert second.current.master_key == first.current.master_key


def test_rotation_adds_a_version_and_keeps_the_old_ones(tmp_path):
    first = Secrets.load_or_create(tmp_path / "secrets")

    rotated = first.rotate()

    assert rotated.current.version == 2
    assert rotated.version(1).master_key == first.current.master_key
    assert rotated.current.master_key != first.current.master_key
    assert mode_of(tmp_path / "secrets" / "v2.json") == 0o600
    assert sorted(Secrets.load_or_create(tmp_path / "secrets").versions) == [1, 2]
    assert not list((tmp_path / "secrets").glob("*.tmp"))


def test_a_retired_version_is_gone_and_the_current_one_cannot_be_retired(tmp_path):
    rotated = Secrets.load_or_create(tmp_path / "secrets").rotate()

    retired = rotated.retire(1)

    assert sorted(retired.versions) == [2]
    assert sorted(Secrets.load_or_create(tmp_path / "secrets").versions) == [2]
    with pytest.raises(StoreError) as current:
        retired.retire(2)
    with pytest.raises(StoreError) as unknown:
        retired.version(1)
    assert current.value.code == "invalid_argument"
    assert unknown.value.code == "unknown_key_version"


def test_rotating_from_a_stale_copy_does_not_overwrite_a_version(tmp_path):
    stale = Secrets.load_or_create(tmp_path / "secrets")
    stale.rotate()
    written = (tmp_path / "secrets" / "v2.json").read_bytes()

    with pytest.raises(StoreError) as refused:
        stale.rotate()

    assert refused.value.code == "invalid_argument"
    assert (tmp_path / "secrets" / "v2.json").read_bytes() == written


def test_secrets_readable_by_others_are_refused(tmp_path):
    Secrets.load_or_create(tmp_path / "secrets")
    (tmp_path / "secrets" / "v1.json").chmod(0o644)

    with pytest.raises(StoreError) as refused:
        Secrets.load_or_create(tmp_path / "secrets")

    assert refused.value.code == "insecure_secrets"


def test_an_open_secrets_directory_is_refused(tmp_path):
    (tmp_path / "secrets").mkdir(mode=0o755)
    (tmp_path / "secrets").chmod(0o755)

    with pytest.raises(StoreError) as refused:
        Secrets.load_or_create(tmp_path / "secrets")

    assert refused.value.code == "insecure_secrets"


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"version": 1}), json.dumps(
        {"version": 1, "subject_hmac_key": "c2hvcnQ=", "master_key": "c2hvcnQ="})],
)
def test_a_damaged_secrets_file_is_refused_with_a_clear_code(tmp_path, content):
    directory = tmp_path / "secrets"
    directory.mkdir(mode=0o700)
    (directory / "v1.json").write_text(content)
    (directory / "v1.json").chmod(0o600)

    with pytest.raises(StoreError) as refused:
        Secrets.load_or_create(directory)

    assert refused.value.code == "secrets_unreadable"


def test_key_material_never_shows_in_repr(tmp_path):
    secrets = Secrets.load_or_create(tmp_path / "secrets")

    text = repr(secrets) + repr(secrets.current)

    assert secrets.current.master_key.hex() not in text
    assert repr(secrets.current.master_key) not in text
