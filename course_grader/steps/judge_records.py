"""Autograde step 4, after the kernel has run: judge each graded cell.

A cell whose probe, run by the grader, found no right record gets an error output first
in its cell (``judging/verdict.py``), so nbgrader's own ``SaveAutoGrades`` scores it 0 and
the gradebook, export, feedback and formgrader all carry the judged score.
"""

from nbformat import NotebookNode

from course_grader.judging.verdict import judge_notebook
from course_grader.steps.grading_execute import PROBED
from course_grader.steps.load_reference import ReferenceReader


class JudgeRecords(ReferenceReader):
    """nbgrader autograde preprocessor, after ``Execute``: a cell whose probe, run by the
    grader, found no right record gets an error output, first in its cell."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        if PROBED not in resources:
            raise RuntimeError(
                "JudgeRecords needs PlanProbes before GradingExecute in Autograde.autograde_preprocessors "
                "(see the course's nbgrader_config.py)"
            )
        verdicts = judge_notebook(nb, self.reference(info), resources[PROBED].result())
        for grade_id, why in verdicts.items():
            if why:
                self.log.warning("%s: %s earns nothing: %s", info["notebook"], grade_id, why)
        return nb, resources
