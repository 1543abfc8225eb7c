"""Reference records: what the instructor solution's hidden-test cells emit.

They come from running the instructor notebook in a kernel of its own, in a scratch copy
of its folder - never as a pseudo-student in the class gradebook. The result is cached
under a key made of everything that can change it (the notebook, the files shipped with
it, the probes and course_lib), so a class of hundreds runs the solution once.
"""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager

from course_grader import records

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class ReferenceError(RuntimeError):
    """The instructor solution could not produce its records: fix the solution first."""


def fingerprint(assignment_dir: Path) -> str:
    h = hashlib.sha256()
    files = sorted(
        p
        for p in assignment_dir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
    )
    files += sorted((PACKAGE_ROOT / "course_grader" / "probes").glob("*.py"))
    files += sorted((PACKAGE_ROOT / "course_grader").glob("records.py"))
    files += sorted((PACKAGE_ROOT / "course_lib").glob("*.py"))
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:20]


def graded_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The autograded code cells of a notebook (nbgrader grade cells, not solutions)."""
    out = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            out.append(cell)
    return out


def extract(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """grade_id -> record, from an executed instructor notebook; strict about both."""
    found: dict[str, Any] = {}
    for cell in graded_cells(nb):
        grade_id = cell.metadata.nbgrader["grade_id"]
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            raise ReferenceError(
                f"instructor solution fails its own hidden test {grade_id}: "
                f"{errors[0].get('ename')}: {errors[0].get('evalue')}"
            )
        recs = records.in_outputs(cell.get("outputs", []))
        if len(recs) != 1 or recs[0].get("cell") != grade_id:
            raise ReferenceError(
                f"graded cell {grade_id} must emit exactly one record of its own; the solution emitted {len(recs)}"
            )
        found[grade_id] = recs[0]
    return found


def execute(notebook: Path, cwd: Path, timeout: float = 600.0, sandboxed: bool = False) -> nbformat.NotebookNode:
    """Run ``notebook`` top to bottom in a fresh kernel with ``cwd`` as working folder;
    ``sandboxed``: in the grading sandbox (course_grader/sandbox.py), as students' code is."""
    from nbclient import NotebookClient

    from course_grader import sandbox

    nb = nbformat.read(notebook, as_version=4)
    if sandboxed:
        sandbox.check()
    client = NotebookClient(
        nb,
        kernel_manager_class=sandbox.SandboxedKernelManager if sandboxed else AsyncKernelManager,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,  # no timestamps: a re-run leaves the file as it was
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # not its warnings about TCP on loopback
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
    except Exception as err:  # noqa: BLE001 - a dead kernel or a timeout: what ran keeps its outputs
        nb.metadata["execution_error"] = f"{type(err).__name__}: {err}"
    return nb


def records_for(assignment_dir: Path, notebook: str, cache_dir: Path, timeout: float = 600.0) -> dict[str, Any]:
    """The reference records of ``assignment_dir/notebook.ipynb``, computed once per change."""
    key = fingerprint(assignment_dir)
    cached = cache_dir / assignment_dir.name / f"{notebook}.{key}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    source = assignment_dir / f"{notebook}.ipynb"
    if not source.exists():
        raise ReferenceError(f"no instructor notebook {source}")
    with tempfile.TemporaryDirectory(prefix="reference-") as tmp:
        work = Path(tmp) / assignment_dir.name
        shutil.copytree(assignment_dir, work, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        nb = execute(work / source.name, work, timeout)
    found = extract(nb)
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=cached.parent, suffix=".part")
    with os.fdopen(fd, "w") as fh:
        json.dump(found, fh)
    os.replace(tmp_path, cached)  # atomic: parallel graders may race to write it
    return found
