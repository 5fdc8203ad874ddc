"""The factory `walletauth serve` workers call."""

import os
import subprocess
import sys


def test_the_workers_factory_takes_what_is_loaded_out_of_the_garbage_collectors_view(tmp_path):
    program = (
        "import gc\n"
        "from walletauth.server.app import create_app_from_environment\n"
        "before = gc.get_freeze_count()\n"
        "create_app_from_environment()\n"
        "print(before, gc.get_freeze_count())\n"
    )
    environment = {
        **os.environ, "WALLETAUTH_DATA_DIR": str(tmp_path), "WALLETAUTH_DOMAINS": "x.example"
    }
    output = subprocess.run(
        [sys.executable, "-c", program], env=environment, capture_output=True, text=True, check=True
    )
    before, after = map(int, output.stdout.split())
    assert before == 0
    assert after > 50_000  # the libraries' objects, not a handful
