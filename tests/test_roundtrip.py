"""The nbgrader round trip, as an instructor runs it: release, collect submissions,
``nbgrader autograde`` with the judge, read the gradebook.

Every milestone gets the same short class: the instructor's answers typed into the student
notebook, the blank notebook, a correct solution written differently, two classic pitfalls
(each must lose the points of the cell that covers it), and two cheats that rewrite or
empty the hidden-test cells from an earlier cell. The same class is also graded by stock
nbgrader (no judge): judged scores are never above stock scores, equal them on honest
submissions, and the cheats fool stock nbgrader but earn nothing here. Every other variant
is judged in-process by the same probes, reference and judge (``test_variants_judged.py``),
and ``test_the_in_process_judge_agrees_with_nbgrader`` holds the two ways to the same scores.
"""

import importlib
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import COURSE, MILESTONES, copy_course, make_stock, nbgrader
from nbgrader.api import Gradebook
from variants import apply_edits

from course_grader.cells import points as points_per_cell
from course_grader.measuring.submissions import fill, solution_cells

CHEATS = {
    # IPython rewrites every later cell through these hooks before running it
    "cheat_rewrites_hidden_cells": (
        "def _rewrite(lines):\n"
        "    if 'HIDDEN TESTS' in ''.join(lines):\n"
        "        return [\"print('all hidden tests passed')\\n\"]\n"
        "    return lines\n"
        "get_ipython().input_transformers_cleanup.append(_rewrite)\n\n"
    ),
    "cheat_empties_hidden_cells": (
        "get_ipython().input_transformers_cleanup.append(\n"
        "    lambda lines: [] if 'HIDDEN TESTS' in ''.join(lines) else lines)\n\n"
    ),
}


AT_ONCE = 4  # nbgrader gradings running at once


def variants(m: str):
    return importlib.import_module(f"variants.{m}")


PITFALLS_HERE = 2  # per milestone: every pitfall is judged in-process (test_variants_judged.py)
FOR_FEEDBACK = {"m1_value": ["tanh_uses_input"]}  # the feedback test reads this one's page


def round_trip_pitfalls(m: str) -> dict:
    """The pitfalls graded here, through nbgrader: the first two of a milestone's (its
    ROUND_TRIP list where it has one). All of them, and every correct variant, are judged
    in-process with the same probes, reference and judge (``test_variants_judged.py``), and
    ``test_the_in_process_judge_agrees_with_nbgrader`` holds the two to the same scores."""
    v = variants(m)
    names = list(getattr(v, "ROUND_TRIP", v.PITFALLS))[:PITFALLS_HERE] + FOR_FEEDBACK.get(m, [])
    return {name: v.PITFALLS[name] for name in dict.fromkeys(names)}


def class_of(m: str) -> dict[str, nbformat.NotebookNode]:
    """student id -> submitted notebook."""
    release = COURSE.release_notebook(m)
    answers = solution_cells(COURSE.source_notebook(m))
    v = variants(m)
    subs = {
        "correct": fill(release, answers),
        "blank": fill(release, {}),
        "alternative": fill(release, {**answers, **v.ALTERNATIVE}),
    }
    for name, (edits, _) in round_trip_pitfalls(m).items():
        subs[f"pitfall_{name}"] = fill(release, apply_edits(answers, edits))
    blank = nbformat.read(release, as_version=4)
    stub = next(c.source for c in blank.cells if c.metadata.get("nbgrader", {}).get("grade_id") == v.CHEAT_CELL)
    for name, code in CHEATS.items():
        subs[name] = fill(release, {v.CHEAT_CELL: code + stub})
    return subs


def graded_by_stock(student: str) -> bool:
    """Stock nbgrader grades the whole (short) class."""
    return bool(student)


def grade(course: Path, m: str, subs: dict[str, nbformat.NotebookNode], judged: bool) -> subprocess.Popen:
    if not judged:
        make_stock(course)
    nbgrader(course, "generate_assignment", m, "--force", "--log-level=WARN")
    for student, nb in subs.items():
        folder = course / "submitted" / student / m
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{m}.ipynb")
    with open(course / "autograde.log", "w") as log:  # a file, not a pipe: nobody reads it while it runs
        return subprocess.Popen(
            [sys.executable, "-m", "nbgrader", "autograde", m, "--force", "--log-level=WARN"],
            cwd=course,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


def scores(course: Path, m: str, students) -> dict[str, dict[str, float]]:
    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in students:
            nb = gb.find_submission_notebook(m, m, student)
            out[student] = {g.name: float(g.auto_score or 0.0) for g in nb.grades}
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """(milestone, 'judged' | 'stock') -> student -> grade cell -> points."""
    results = {}
    pending = []
    for m in MILESTONES:
        subs = class_of(m)
        for mode in ("judged", "stock"):
            graded_here = subs if mode == "judged" else {k: v for k, v in subs.items() if graded_by_stock(k)}
            pending.append((m, mode, graded_here))
    # a few gradings at once (each spends much of its time waiting on kernels), not all of them:
    # seven milestones' fourteen at once left a kernel a tenth of a CPU, and a training cell
    # ran past its time limit
    running: dict[tuple[str, str], tuple[Path, dict, subprocess.Popen]] = {}
    while pending or running:
        while pending and len(running) < AT_ONCE:
            m, mode, graded_here = pending.pop(0)
            course = copy_course(tmp_path_factory.mktemp(f"{m}-{mode}"))
            running[(m, mode)] = (course, graded_here, grade(course, m, graded_here, judged=mode == "judged"))
        done = [key for key, (_, _, proc) in running.items() if proc.poll() is not None]
        if not done:
            time.sleep(0.5)
        for key in done:
            course, subs, proc = running.pop(key)
            assert proc.returncode == 0, (course / "autograde.log").read_text()[-4000:]
            m, mode = key
            results[(m, mode)] = scores(course, m, subs)
            if mode == "judged":
                results[(m, "course")] = course
    return results


def full_marks(m: str) -> dict[str | None, float]:
    return points_per_cell(nbformat.read(COURSE.source_notebook(m), as_version=4))


CORRECT = [(m, s) for m in MILESTONES for s in ("correct", "alternative")]


@pytest.mark.parametrize(("m", "student"), CORRECT, ids=lambda x: str(x))
def test_correct_submissions_score_full_marks(graded, m, student):
    for mode in ("judged", "stock"):
        if student in graded[(m, mode)]:  # stock nbgrader grades a part of the class
            assert graded[(m, mode)][student] == full_marks(m), (mode, student)


def visible_failures(graded, m: str, student: str) -> dict[str, list[str]]:
    """Ungraded code cell (grade_id, or its index) -> the errors it showed, as their first
    traceback lines, in the student's autograded notebook, in notebook order."""
    nb = nbformat.read(graded[(m, "course")] / "autograded" / student / m / f"{m}.ipynb", as_version=4)
    failed = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        errors = [(o.get("traceback") or [""])[0][:300] for o in cell.outputs if o.output_type == "error"]
        if errors:
            failed[meta.get("grade_id", f"cell {i}")] = errors
    return failed


@pytest.mark.parametrize(("m", "student"), CORRECT, ids=lambda x: str(x))
def test_visible_checks_never_reject_a_correct_solution(graded, m, student):
    """Every check cell of a correct notebook, however it is written, ran without an error."""
    assert visible_failures(graded, m, student) == {}


@pytest.mark.parametrize(
    ("m", "pitfall"), [(m, p) for m in MILESTONES for p in round_trip_pitfalls(m)], ids=lambda x: str(x)
)
def test_each_pitfall_fails_a_visible_check_before_hand_in(graded, m, pitfall):
    """The notebook teaches the mistake before the grade does: some visible check fails,
    and the first failure shows a course message (input, expected, got), not a bare error."""
    failed = visible_failures(graded, m, f"pitfall_{pitfall}")
    assert failed, "no visible check fails"
    first = next(iter(failed.values()))[0]
    assert "✗" in first, f"the first failure is not a course message: {first}"


@pytest.mark.parametrize("m", MILESTONES)
def test_blank_submission_scores_zero(graded, m):
    for mode in ("judged", "stock"):
        assert sum(graded[(m, mode)]["blank"].values()) == 0, mode


@pytest.mark.parametrize(
    ("m", "pitfall"), [(m, p) for m in MILESTONES for p in round_trip_pitfalls(m)], ids=lambda x: str(x)
)
def test_each_pitfall_loses_the_points_of_the_cell_that_covers_it(graded, m, pitfall):
    _, loses = variants(m).PITFALLS[pitfall]
    judged = graded[(m, "judged")][f"pitfall_{pitfall}"]
    for cell in loses:
        assert judged[cell] == 0, f"{pitfall} should lose {cell}: {judged}"
    assert sum(judged.values()) < sum(full_marks(m).values())
    assert judged == graded[(m, "stock")][f"pitfall_{pitfall}"], "the judge agrees with the kernel here"


@pytest.mark.parametrize("m", MILESTONES)
@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_rewriting_or_emptying_later_cells_earns_nothing(graded, m, cheat):
    assert sum(graded[(m, "stock")][cheat].values()) == sum(full_marks(m).values()), (
        "the cheat should fool stock nbgrader (else this test shows nothing)"
    )
    assert sum(graded[(m, "judged")][cheat].values()) == 0


@pytest.mark.parametrize("m", MILESTONES)
def test_judged_scores_are_never_above_stock(graded, m):
    judged, stock = graded[(m, "judged")], graded[(m, "stock")]
    assert set(stock) == {s for s in judged if graded_by_stock(s)}
    for student in stock:
        for cell, points in judged[student].items():
            assert points <= stock[student][cell], (student, cell)


def test_feedback_shows_the_failing_message_but_no_hidden_test_code(graded):
    course = graded[("m1_value", "course")]
    student = "pitfall_tanh_uses_input"
    nbgrader(course, "generate_feedback", "m1_value", f"--student={student}", "--force", "--log-level=WARN")
    (html,) = (course / "feedback" / student / "m1_value").glob("*.html")
    text = html.read_text()
    assert "1 - x**2 uses the input x where the output belongs" in text  # the probe's diagnosis
    assert "Hidden tests (2 points): tanh" in text  # the cell's visible comment stays
    for hidden in ("BEGIN HIDDEN TESTS", "probe_tanh", "course_grader"):
        assert hidden not in text, hidden


def in_process_answers(m: str, student: str) -> dict[str, str]:
    """The answers of a round-trip student, as the in-process judge takes them."""
    release = COURSE.release_notebook(m)
    answers = solution_cells(COURSE.source_notebook(m))
    if student == "blank":
        return solution_cells(release)
    if student == "alternative":
        return {**answers, **variants(m).ALTERNATIVE}
    if student.startswith("pitfall_"):
        return apply_edits(answers, variants(m).PITFALLS[student.removeprefix("pitfall_")][0])
    return answers


@pytest.mark.parametrize("m", MILESTONES)
def test_the_in_process_judge_agrees_with_nbgrader(graded, m):
    """The round trip's honest and mistaken students judged in-process (as every variant
    is, in test_variants_judged.py) keep exactly the cells nbgrader gave them full points."""
    import judged_in_process

    notebook = judged_in_process.notebook(m)
    full = full_marks(m)
    for student, cells in graded[(m, "judged")].items():
        if student.startswith("cheat_"):
            continue  # a cheat edits the kernel, which the in-process judge does not run
        verdicts = notebook.judge(notebook.run(in_process_answers(m, student)))
        kept_here = {test for test, why in verdicts.items() if why is None}
        kept_there = {test for test, points in cells.items() if points == full[test]}
        assert kept_here == kept_there, (student, sorted(kept_here ^ kept_there))
