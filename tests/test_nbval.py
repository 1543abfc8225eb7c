"""nbval over every notebook: the solutions reproduce their stored outputs (so they are
deterministic from run to run), and the student versions run, raising only in cells
tagged raises-exception.

Reproduce as the judge compares, on any machine: a hidden test's record within the judge's
tolerance (``nbval_records.py``), a passing gradient check's relative error (finite-
difference noise) not digit for digit (``nbval_sanitize.cfg``); everything else exactly.
"""

import os
import subprocess
import sys

import pytest
from conftest import ROOT

TESTS = ROOT / "tests"


def nbval(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "nbval_records",
            f"--nbval-sanitize-with={TESTS / 'nbval_sanitize.cfg'}",
            "-q",
            "--nbval-cell-timeout=300",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "PYTHONPATH": path, **(env or {})},
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


def other_machine() -> dict[str, str]:
    """Variables that make NumPy and OpenBLAS compute as another CPU would: an older BLAS
    kernel, and NumPy's SIMD dispatch narrowed to its baseline (the features it found at run
    time beyond the baseline disabled)."""
    from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__, __cpu_features__

    extra = [f for f in __cpu_dispatch__ if __cpu_features__.get(f) and f not in __cpu_baseline__]
    env = {"OPENBLAS_CORETYPE": "Sandybridge" if os.uname().machine == "x86_64" else "ARMV8"}
    if extra:
        env["NPY_DISABLE_CPU_FEATURES"] = ",".join(extra)
    return env


def test_the_tensor_notebooks_reproduce_on_another_cpu():
    """m5 and m6 stored on one machine, re-run with another BLAS kernel and NumPy's SIMD
    paths narrowed: their gradients differ in the last bits, and nbval still passes, since
    records and noise are compared as the judge compares them."""
    notebooks = [
        str(p.relative_to(ROOT))
        for m in ("m5_tensors", "m6_attention")
        for p in (ROOT / "solutions" / m).glob("*.ipynb")
    ]
    env = other_machine()
    done = nbval("--nbval", *notebooks, env=env)
    assert done.returncode == 0, str(env) + done.stdout[-6000:] + done.stderr[-2000:]
