"""Which cells of a notebook are which, by nbgrader's own tests (``nbgrader.utils``).

One definition for every part of the grader: a *graded test* is a code cell that nbgrader
grades and that is not a student's answer (its hidden test calls a probe); an *answer* is a
solution cell. Notebooks read here have been validated by nbformat; a submission's raw JSON
is checked first by ``classgrade/intake.py``, which trusts none of its metadata.
"""

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.utils import is_grade, is_solution

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")  # nbgrader's, around an answer


def error_output(ename: str, message: str) -> NotebookNode:
    """An error output as nbgrader reads it (a cell holding one scores 0), with a one-line
    traceback: feedback quotes it, so it never holds hidden-test code."""
    return new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def grade_id(cell: NotebookNode) -> str | None:
    """The cell's nbgrader id, or None for a cell nbgrader does not track."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_graded_test(cell: NotebookNode) -> bool:
    """A code cell nbgrader grades by its outputs: one that holds (hidden) tests."""
    return cell.cell_type == "code" and bool(is_grade(cell)) and not is_solution(cell)


def graded_tests(nb: NotebookNode) -> list[NotebookNode]:
    """The graded test cells of a notebook, in order."""
    return [cell for cell in nb.cells if is_graded_test(cell)]


def points(nb: NotebookNode) -> dict[str | None, float]:
    """grade_id -> the full marks of each graded cell, as nbgrader counts them."""
    return {grade_id(cell): float(cell.metadata.nbgrader.get("points") or 0) for cell in nb.cells if is_grade(cell)}


def total_points(nb: NotebookNode) -> float:
    """The notebook's full marks: the points of every graded cell, as nbgrader counts them."""
    return float(sum(points(nb).values()))


def without_markers(source: str) -> str:
    """A solution cell's source as the answer reads, nbgrader's solution markers removed."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS)


def answers(nb: NotebookNode) -> dict[str, str]:
    """grade_id -> source of each solution cell, nbgrader's solution markers removed."""
    return {cell.metadata.nbgrader["grade_id"]: without_markers(cell.source) for cell in nb.cells if is_solution(cell)}
