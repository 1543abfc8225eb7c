"""Build and score submissions the way a student would make them: start from the
released notebook and fill in its solution cells.

Used by the round-trip tests (correct, blank and buggy submissions), by the mutation
score (one mutated solution cell at a time) and by instructors checking a new hidden
test. ``score`` grades a notebook through the configured nbgrader pipeline
(``pipeline.py``), quick enough to run hundreds of times.
"""

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import nbformat

from course_grader.cells import answers, grade_id
from course_grader.layout import Course
from course_grader.measuring.pipeline import autograde

# The grade_id of an optional challenge's solution cell: ungraded, with visible checks only.
CHALLENGE_PREFIX = "challenge_"


def solution_cells(notebook: Path) -> dict[str, str]:
    """grade_id -> source of each solution cell of the notebook file, solution markers removed."""
    return answers(nbformat.read(notebook, as_version=4))


def fill(release_notebook: Path, answers: Mapping[str, str]) -> nbformat.NotebookNode:
    """The released notebook with the given solution cells' sources replaced."""
    nb = nbformat.read(release_notebook, as_version=4)
    unknown = set(answers) - {grade_id(c) for c in nb.cells}
    if unknown:
        raise KeyError(f"no solution cells {sorted(unknown)} in {release_notebook}")
    for cell in nb.cells:
        name = grade_id(cell)
        if name is not None and name in answers:
            cell.source = answers[name]
    return nb


def score(
    nb: nbformat.NotebookNode,
    milestone: str,
    root: Path,
    timeout: float = 120.0,
    sandboxed: bool | None = None,
) -> dict[str, float]:
    """grade_id -> points of each graded cell: the submission ``nb`` graded through the
    course's configured nbgrader pipeline (``pipeline.autograde``), next to its milestone's
    shipped files, in the grading sandbox as class grading does (``sandboxed=None``: when
    bubblewrap is installed), with ``timeout`` seconds per cell."""
    if sandboxed is None:
        sandboxed = shutil.which("bwrap") is not None
    course = Course.at(root)
    with tempfile.TemporaryDirectory(prefix="score-") as tmp:
        work = Path(tmp) / milestone
        shutil.copytree(course.release(milestone), work)
        path = work / f"{milestone}.ipynb"
        nbformat.write(nbformat.from_dict(nb), path)
        return autograde(
            path, milestone, course, {"Execute": {"timeout": timeout}, "GradingExecute": {"sandbox": sandboxed}}
        )
