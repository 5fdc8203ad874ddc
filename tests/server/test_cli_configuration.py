"""``walletauth serve`` refuses bad settings and policies itself, in one line with exit
code 2, before uvicorn starts (never an "Application startup failed" traceback)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import walletauth.policy

SHIPPED_POLICY = Path(walletauth.policy.__file__).parent / "policies" / "abcrecords.toml"


def serve(tmp_path, **environment):
    """Run ``walletauth serve`` as an operator does; a refusal comes back at once."""
    command = [sys.executable, "-c", "from walletauth.cli import app; app()", "serve",
               "--port", "1"]
    values = {**os.environ, "WALLETAUTH_DATA_DIR": str(tmp_path / "data"), **environment}
    return subprocess.run(command, env=values, capture_output=True, text=True, timeout=60)


def inconsistent_policy(tmp_path):
    text = SHIPPED_POLICY.read_text(encoding="utf-8")
    assert 'purpose = "service_provision"' in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace('purpose = "service_provision"', 'purpose = "nowhere"', 1))
    return path


def assert_refused_in_one_line(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("walletauth: invalid configuration: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_an_inconsistent_policy_file_is_named_with_its_entry(tmp_path):
    path = inconsistent_policy(tmp_path)
    result = serve(tmp_path, WALLETAUTH_POLICY=str(path))
    assert_refused_in_one_line(result, "invalid_policy", str(path), "'nowhere'")


def test_a_policy_file_that_is_not_toml_is_refused(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text("this is = = not toml\n")
    result = serve(tmp_path, WALLETAUTH_POLICY=str(path))
    assert_refused_in_one_line(result, "invalid_policy", "not valid TOML")


def test_an_unknown_policy_name_is_refused(tmp_path):
    result = serve(tmp_path, WALLETAUTH_POLICY="nosuch")
    assert_refused_in_one_line(result, "policy_not_found", "'nosuch'")


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("WALLETAUTH_CHAIN_IDS", "1,mainnet", "WALLETAUTH_CHAIN_IDS[1]"),
        ("WALLETAUTH_RATE_LIMITS", "bogus", "WALLETAUTH_RATE_LIMITS"),
        ("WALLETAUTH_ACCESS_TOKEN_TTL", "soon", "WALLETAUTH_ACCESS_TOKEN_TTL"),
    ],
)
def test_an_invalid_setting_is_named_by_its_variable(tmp_path, variable, value, fragment):
    result = serve(tmp_path, **{variable: value})
    assert_refused_in_one_line(result, fragment)


@pytest.mark.parametrize("algorithm", ["HS256", "none", "es256", "PS256"])
def test_an_id_token_algorithm_other_than_rs256_or_es256_is_refused(tmp_path, algorithm):
    clients = {"wiki": {"name": "Wiki", "public": True, "redirect_uris": ["https://w.example/cb"],
                        "id_token_signed_response_alg": algorithm}}
    result = serve(tmp_path, WALLETAUTH_OIDC_CLIENTS=json.dumps(clients))
    assert_refused_in_one_line(
        result, "WALLETAUTH_OIDC_CLIENTS[wiki][id_token_signed_response_alg]",
        f"unsupported ID token algorithm '{algorithm}': RS256 or ES256")


def test_a_refused_start_leaves_no_data_dir_behind(tmp_path):
    serve(tmp_path, WALLETAUTH_POLICY="nosuch")
    assert not (tmp_path / "data").exists()
