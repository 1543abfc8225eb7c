"""Reference records: what the instructor solution's hidden tests record.

They come from the grader's own run of the probes (``replay``) against the instructor
notebook, in a process of its own and a scratch copy of its folder - the same path every
submission's records take, and never as a pseudo-student in the class gradebook. The result is cached
under a key made of everything that can change it (the notebook, the files shipped with
it, the probes and course_lib), so a class of hundreds runs the solution once.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager

from course_grader import replay

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
    files += [PACKAGE_ROOT / "course_grader" / name for name in ("records.py", "rpc.py", "replay.py")]
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


def extract(outcomes: dict[str, Any]) -> dict[str, Any]:
    """grade_id -> record, from the grader's run of an instructor notebook; strict about it."""
    found: dict[str, Any] = {}
    for grade_id, outcome in outcomes.items():
        if outcome.record is None:
            raise ReferenceError(f"instructor solution fails its own hidden test {grade_id}: {outcome.failure}")
        found[grade_id] = outcome.record
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
    nb = nbformat.read(source, as_version=4)  # replay() works in a scratch copy of the folder
    found = extract(replay.replay(nb, assignment_dir, sandboxed=False, notebook_timeout=timeout))
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=cached.parent, suffix=".part")
    with os.fdopen(fd, "w") as fh:
        json.dump(found, fh)
    os.replace(tmp_path, cached)  # atomic: parallel graders may race to write it
    return found
