"""Reference records: what the instructor solution's hidden tests record.

They come from the grader's own run of the probes (``isolation/replay.py``) against the instructor
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

from course_grader.isolation import replay
from course_grader.layout import ROOT


class ReferenceError(RuntimeError):
    """The instructor solution could not produce its records: fix the solution first."""


def fingerprint(assignment_dir: Path) -> str:
    h = hashlib.sha256()
    files = sorted(
        p
        for p in assignment_dir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
    )
    files += sorted((ROOT / "course_grader" / "probes").glob("*.py"))  # records.py too
    files += [ROOT / "course_grader" / "isolation" / name for name in ("rpc.py", "replay.py")]
    files += sorted((ROOT / "course_lib").glob("*.py"))
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:20]


def extract(outcomes: dict[str, Any]) -> dict[str, Any]:
    """grade_id -> record, from the grader's run of an instructor notebook; strict about it."""
    found: dict[str, Any] = {}
    for grade_id, outcome in outcomes.items():
        if outcome.record is None:
            raise ReferenceError(f"instructor solution fails its own hidden test {grade_id}: {outcome.failure}")
        found[grade_id] = outcome.record
    return found


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
