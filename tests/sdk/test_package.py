"""The SDK's place in the architecture: what it may import, and what it exports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import walletauth.sdk
from walletauth.sdk import SDK_ERROR_CODES, SdkError
from walletauth.sdk.problem import problem_response

SDK_DIR = Path(walletauth.sdk.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_the_sdk_never_imports_the_server_or_the_store():
    sources = sorted(SDK_DIR.glob("*.py"))
    assert sources
    for source in sources:
        forbidden = {
            module
            for module in _imported_modules(source)
            if module.startswith(("walletauth.server", "walletauth.store"))
        }
        assert not forbidden, f"{source.name} imports {forbidden}"


def test_importing_the_sdk_does_not_load_fastapi_or_redis():
    probe = (
        "import sys, walletauth.sdk; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'redis') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_everything_exported_exists():
    for name in walletauth.sdk.__all__:
        assert hasattr(walletauth.sdk, name), name


def test_every_error_code_maps_to_a_problem_with_that_code():
    for code in sorted(SDK_ERROR_CODES):
        answer = problem_response(SdkError(code, "why"))  # type: ignore[arg-type]
        assert answer.status in {400, 401, 409, 500, 503}
        assert f'"code":"{code}"'.encode() in answer.body


def test_an_unknown_error_code_is_a_programming_error():
    with pytest.raises(ValueError, match="made_up"):
        SdkError("made_up", "no")  # type: ignore[arg-type]
