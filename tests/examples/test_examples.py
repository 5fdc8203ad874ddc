"""The examples run as they are documented."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_verify_login_example_signs_in_and_refuses_another_site():
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "verify_login.py")],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert "signed in: 0x" in result.stdout
    assert "(eoa)" in result.stdout
    assert "refused for another site: domain_mismatch" in result.stdout
