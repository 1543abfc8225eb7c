"""nbval over every notebook: the solutions reproduce their stored outputs exactly (so
they are deterministic from run to run), and the student versions run, raising only in
cells tagged raises-exception."""

import subprocess
import sys

import pytest
from conftest import ROOT


def nbval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval-cell-timeout=300", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.mark.parametrize(
    ("mode", "folder"),
    [("--nbval", "solutions"), ("--nbval-lax", "notebooks")],
    ids=["solutions-compare-outputs", "student-versions-run"],
)
def test_nbval(mode, folder):
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / folder).glob("*/*.ipynb"))
    assert len(notebooks) >= 2
    done = nbval(mode, *notebooks)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout.splitlines()[-1]
