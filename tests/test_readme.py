"""Every code sample in the README runs, and every command it names exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
PYTHON_SAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)


def test_the_readme_opens_with_exactly_two_set_up_commands():
    set_up = TEXT.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", set_up, flags=re.DOTALL)
    assert [c.strip() for c in commands] == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/walletauth serve",
        "scripts/test",
    ]


@pytest.mark.parametrize("sample", PYTHON_SAMPLES, ids=lambda s: s.split("\n", 1)[0][:40])
def test_python_sample_runs(sample: str):
    result = subprocess.run(
        [sys.executable, "-c", sample], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_there_are_python_samples():
    assert len(PYTHON_SAMPLES) >= 3


def test_every_cli_command_the_readme_names_exists():
    named = set(re.findall(r"`walletauth (\w+)", TEXT))
    cli = Path(sys.executable).with_name("walletauth")
    for command in named:
        result = subprocess.run(
            [str(cli), command, "--help"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, f"walletauth {command}: {result.stderr}"


def test_every_endpoint_the_readme_names_is_in_the_openapi_schema(tmp_path):
    from walletauth.server.app import create_app
    from walletauth.server.settings import Settings

    paths = create_app(Settings(data_dir=tmp_path)).openapi()["paths"]
    named = set(re.findall(r"`(?:GET|POST|PUT)(?:\|PUT)? (/[\w./-]+)", TEXT))
    assert named
    for path in named:
        assert path in paths, f"{path} is not served"


def test_the_configuration_table_names_every_setting():
    from walletauth.server.delivery import DeliverySettings
    from walletauth.server.settings import Settings

    table = TEXT.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    # A row may name related variables after the first without the prefix: `_SESSION_TTL`.
    named = set(re.findall(r"`(?:WALLETAUTH)?_(\w+)`", table)) - {"CONFIG"}  # the file
    fields = {*Settings.model_fields, *DeliverySettings.model_fields}
    assert sorted(name.lower() for name in named) == sorted(fields)
