"""Short coverage-guided fuzz runs (atheris) of the parsers and validators that take
untrusted bytes: each raises only its layer's own error. The long runs are
`python -m fuzz.run TARGET -max_total_time=600` (fuzz/run.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
RUNS = 4000


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_short_fuzz_run_finds_nothing(target, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "fuzz.run", target, str(tmp_path / "corpus"),
         f"-runs={RUNS}", "-seed=1", f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert f"Done {RUNS} runs" in run.stderr


def test_a_target_that_breaks_its_contract_is_reported(tmp_path):
    """The harness fails on a foreign exception: feed a target an input known to raise one."""
    import fuzz.targets as targets

    original = targets.parse_policy
    try:
        targets.parse_policy = lambda text, origin: 1 / 0
        with pytest.raises(ZeroDivisionError):
            targets.policy_loader(b"id = 'x'")
    finally:
        targets.parse_policy = original
