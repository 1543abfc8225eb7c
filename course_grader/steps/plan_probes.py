"""Autograde step 2, before the kernel runs: what the grader's probes will ask of it.

The student's code runs once, in the grading kernel (``GradingExecute``); at each graded
test cell the grader's probes question that kernel's live objects (``isolation/live.py``).
This step checks, before any student code runs, that every graded cell's hidden tests are
probe calls the grader can run itself (``replay.probe_calls``: an instructor notebook that
breaks the rule fails here, saying which cell), and leaves the ``live.Plan`` whose outcomes
``GradingExecute`` fills in and ``JudgeRecords`` reads.
"""

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from course_grader.cells import grade_id, graded_tests
from course_grader.isolation import live, replay
from course_grader.steps.grading_execute import PROBED


class PlanProbes(NbGraderPreprocessor):
    """nbgrader autograde preprocessor, before ``GradingExecute``: the plan of the grader's
    own probes, run against the grading kernel itself (one run of the student's code)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        for cell in graded_tests(nb):
            try:
                replay.probe_calls(cell.source)
            except replay.ReplayError as err:
                raise replay.ReplayError(f"graded cell {grade_id(cell)!r}: {err}") from err
        resources[PROBED] = live.Plan()
        return nb, resources
