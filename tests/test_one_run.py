"""One run per submission (course_grader/isolation/live.py): the student's code runs once, in
the sandboxed grading kernel, and at each graded test cell the grader's probes question that
kernel's live objects. What the replay process guaranteed still holds: the records are the
grader's, nothing the student's code prints while a probe asks reaches the outputs, and a
kernel that stops serving costs only its own cells from there on."""

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from conftest import COURSE

from course_grader.cells import grade_id, graded_tests
from course_grader.isolation import live, sandbox
from course_grader.judging.reference import records_for
from course_grader.judging.verdict import judged
from course_grader.steps.grading_execute import PROBED, GradingExecute

pytestmark = [pytest.mark.unit, pytest.mark.m1_value]

M = "m1_value"
# Printed by every Value a submission makes: the probes' inputs would show here if kept.
LOUD = """
_quiet_init = Value.__init__
def _loud_init(self, data, *args, **kwargs):
    print("SEEN", repr(data))
    _quiet_init(self, data, *args, **kwargs)
Value.__init__ = _loud_init
"""


def grade(tmp_path: Path, edits: dict[str, Callable[[str], str]] | None = None, sandboxed: bool = True):
    """The instructor notebook (``edits`` applied to its answer cells) run by GradingExecute
    with a plan, as autograding runs it: the notebook with its outputs, and every graded
    cell's outcome."""
    nb = nbformat.read(COURSE.source_notebook(M), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            name = grade_id(cell)
            if edits and name in edits:
                cell.source = edits[name](cell.source)
    folder = tmp_path / M
    shutil.copytree(COURSE.source(M), folder, ignore=shutil.ignore_patterns("*.ipynb"))
    plan = live.Plan()
    GradingExecute(timeout=60, sandbox=sandboxed).preprocess(nb, {PROBED: plan, "metadata": {"path": str(folder)}})
    return nb, plan.result()


def verdicts(outcomes: dict) -> dict[str, str | None]:
    reference = records_for(COURSE.source(M), M, COURSE.reference_cache)
    return {name: judged(name, reference, outcome) for name, outcome in outcomes.items()}


def test_the_students_code_runs_once_in_one_sandbox_and_earns_its_records(tmp_path, monkeypatch):
    made = []
    original = sandbox.Sandbox.__init__

    def counted(self, *args, **kwargs):
        made.append(args[0])
        original(self, *args, **kwargs)

    monkeypatch.setattr(sandbox.Sandbox, "__init__", counted)
    nb, outcomes = grade(tmp_path)
    runs = [folder for folder in made if folder == tmp_path / M]  # sandbox.check makes one of its own
    assert len(runs) == 1, f"the student's code ran in {len(runs)} sandboxes"
    assert set(outcomes) == {grade_id(c) for c in graded_tests(nb)}
    assert verdicts(outcomes) == dict.fromkeys(outcomes), "the instructor's answers earn every record"


def test_what_the_code_prints_while_a_probe_asks_is_not_kept(tmp_path):
    nb, outcomes = grade(tmp_path, {"value_init": lambda source: source + "\n" + LOUD})
    shown = [
        line
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.get("output_type") == "stream"
        for line in out.get("text", "").splitlines()
        if line.startswith("SEEN ")
    ]
    assert shown, "the visible checks make Values: their prints are kept"
    inputs = {
        repr(case["x"])
        for outcome in outcomes.values()
        if outcome.record
        for case in outcome.record["cases"]
        if isinstance(case, dict) and isinstance(case.get("x"), float) and case["x"] != round(case["x"], 2)
    }
    assert inputs, "the probes' records name their (seeded, not round) inputs"
    leaked = {line for line in shown if re.sub(r"^SEEN ", "", line) in inputs}
    assert not leaked, f"a probe's inputs reached the notebook's outputs: {sorted(leaked)[:5]}"


def test_a_kernel_that_stops_serving_costs_only_its_cells_from_there(tmp_path):
    hostile = "import sys\nsys.modules.pop('_course_link', None)\n"
    nb, outcomes = grade(tmp_path, {"value_tanh": lambda source: hostile + source})
    found = verdicts(outcomes)
    names = [grade_id(c) for c in graded_tests(nb)]
    lost = names[names.index("test_tanh") :]
    assert all(found[name] is None for name in names if name not in lost), found
    assert all(found[name] for name in lost), found


def test_without_a_sandbox_the_code_runs_once_too(tmp_path):
    _, outcomes = grade(tmp_path, sandboxed=False)
    assert verdicts(outcomes) == dict.fromkeys(outcomes)
