"""Build and score submissions the way a student would make them: start from the
released notebook and fill in its solution cells.

Used by the round-trip tests (correct, blank and buggy submissions), by the mutation
score (one mutated solution cell at a time) and by instructors checking a new hidden
test. ``score`` runs a notebook and judges it exactly as autograding does, without a
gradebook, so it is quick enough to run hundreds of times.
"""

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import nbformat

from course_grader import judge, reference, replay
from course_grader.engine_export import MARKERS

# The grade_id of an optional challenge's solution cell: ungraded, with visible checks only.
CHALLENGE_PREFIX = "challenge_"


def solution_cells(notebook: Path) -> dict[str, str]:
    """grade_id -> source of each solution cell, solution markers removed."""
    nb = nbformat.read(notebook, as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = "\n".join(ln for ln in cell.source.splitlines() if ln.strip() not in MARKERS)
    return out


def fill(release_notebook: Path, answers: Mapping[str, str]) -> nbformat.NotebookNode:
    """The released notebook with the given solution cells' sources replaced."""
    nb = nbformat.read(release_notebook, as_version=4)
    unknown = set(answers) - {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if unknown:
        raise KeyError(f"no solution cells {sorted(unknown)} in {release_notebook}")
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def points(nb: nbformat.NotebookNode) -> dict[str, float]:
    """grade_id -> points earned by each graded cell of an executed, judged notebook,
    by nbgrader's own rule (utils.determine_grade)."""
    from nbgrader.utils import determine_grade

    out = {}
    for cell in reference.graded_cells(nb):
        earned, _ = determine_grade(cell)
        out[cell.metadata.nbgrader["grade_id"]] = float(earned or 0.0)
    return out


def restore_locked(nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> None:
    """Put back every graded or read-only cell from the instructor notebook, hidden tests
    included, as nbgrader's OverwriteCells does at autograding."""
    by_id = {
        c.metadata.nbgrader["grade_id"]: c
        for c in source.cells
        if "nbgrader" in c.get("metadata", {}) and not c.metadata.nbgrader.get("solution")
    }
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in by_id:
            cell.source = by_id[grade_id].source
            cell.cell_type = by_id[grade_id].cell_type


def score(
    nb: nbformat.NotebookNode,
    milestone: str,
    root: Path,
    timeout: float = 120.0,
    sandboxed: bool | None = None,
) -> dict[str, float]:
    """Run a submission next to its milestone's shipped files, have the grader run its
    probes (``replay``), and judge it, in the grading sandbox as class grading does
    (``sandboxed=None``: when bubblewrap is installed)."""
    if sandboxed is None:
        sandboxed = shutil.which("bwrap") is not None
    solutions = root / "solutions" / milestone
    ref = reference.records_for(solutions, milestone, root / ".reference")
    with tempfile.TemporaryDirectory(prefix="score-") as tmp:
        work = Path(tmp) / milestone
        shutil.copytree(root / "notebooks" / milestone, work)
        path = work / f"{milestone}.ipynb"
        nb = nbformat.from_dict(nb)
        restore_locked(nb, nbformat.read(solutions / f"{milestone}.ipynb", as_version=4))
        nbformat.write(nb, path)
        trusted = replay.start(nb, work, sandboxed=sandboxed, cell_timeout=timeout)
        ran = reference.execute(path, work, timeout, sandboxed=sandboxed)
    judge.judge_notebook(ran, ref, trusted.result())
    return points(ran)
