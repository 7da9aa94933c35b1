"""The layering holds (README, Architecture): import-linter checks the contracts in
pyproject.toml against the code as it is, so an upward import fails here with
import-linter's own account of which import breaks which contract."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_imports_only_the_layers_below_it():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    if result.returncode != 0:
        pytest.fail(f"lint-imports refused the imports:\n{result.stdout}{result.stderr}", pytrace=False)
    assert "3 kept, 0 broken" in result.stdout
