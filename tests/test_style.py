"""The habits the course declares, kept: ruff's lint and ruff's format are clean everywhere
ruff looks (notebooks, solutions and generated folders are excluded in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.quick  # ./course test -m quick: the loop to run while editing

RUFF = Path(sys.executable).parent / "ruff"  # installed with the course's dev extra


FIXES = {"check": "./course python -m ruff check --fix .", "format": "./course python -m ruff format ."}


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff_is_clean(args):
    done = subprocess.run([str(RUFF), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    report = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, f"ruff {args[0]} is not clean (fix with `{FIXES[args[0]]}`):\n{report}"
