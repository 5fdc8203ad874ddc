"""README's "Architecture" table as import-linter contracts (pyproject.toml,
[tool.importlinter]): arrows point down only, the pure core imports no I/O library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_import_contracts_hold():
    run = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_the_readme_names_every_dependency_the_contracts_allow():
    """Each package's "depends on" cell lists the walletauth packages it imports."""
    import re

    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `walletauth\.(\w+)` \|.*\| (.*) \|$", readme, flags=re.M))
    for package, cell in rows.items():
        imported = _imported_packages(package)
        named = set(re.findall(r"`(\w+)`", cell))
        if cell.startswith("everything below"):
            named = set(rows) - {package}
        assert imported <= named, f"{package} imports {sorted(imported - named)} not in README"


def _imported_packages(package: str) -> set[str]:
    import re

    found = set()
    for path in (ROOT / "walletauth" / package).rglob("*.py"):
        found |= set(re.findall(r"^\s*(?:from|import) walletauth\.(\w+)", path.read_text(), re.M))
    return found - {package, "errors", "encoding"}
