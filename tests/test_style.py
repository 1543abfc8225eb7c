"""The habits the course declares, kept: ruff's lint is clean everywhere ruff looks (the
instructor notebooks' code cells included), ruff's format on every Python file, and mypy
on the two packages (basic mode: the type hints the code declares hold)."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.unit

TOOLS = Path(sys.executable).parent  # ruff and mypy come with the course's dev extra

CHECKS = {
    "lint": (["ruff", "check", "."], "./course python -m ruff check --fix ."),
    "format": (["ruff", "format", "--check", "."], "./course python -m ruff format ."),
    "types": (["mypy"], "./course python -m mypy  (pyproject.toml's [tool.mypy] says what it checks)"),
}


@pytest.mark.parametrize("check", CHECKS)
def test_the_code_is_clean(check):
    (tool, *args), fix = CHECKS[check]
    done = subprocess.run([str(TOOLS / tool), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, f"{tool} ({check}) is not clean (see with `{fix}`):\n{report}"
