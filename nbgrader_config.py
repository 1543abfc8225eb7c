"""nbgrader configuration of the course: nbgrader's standard layout, two folders renamed,
and the judge added to autograding (ARCHITECTURE.md: the route of a submission)."""

import os
import sys

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from course_grader.authoring.exchange import ReleaseReleasedOnly
from course_grader.classgrade.gradebook import InertCsvExportPlugin
from course_grader.steps.grading_execute import GradingExecute
from course_grader.steps.judge_records import JudgeRecords
from course_grader.steps.load_reference import LoadReference
from course_grader.steps.plan_probes import PlanProbes
from course_grader.steps.restore_grade_cells import RestoreGradeCells
from course_grader.steps.sanitize_for_views import SanitizeForViews

c = get_config()  # noqa: F821 - provided by nbgrader's config loader
here = os.path.dirname(os.path.abspath(__file__))

# nbgrader runs some of its tools as programs found on PATH (a new gradebook runs
# `alembic`): find them in this Python's environment even where it is not activated.
tools = os.path.dirname(sys.executable)
if tools not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join(filter(None, [tools, os.environ.get("PATH")]))

c.CourseDirectory.root = here
c.CourseDirectory.course_id = "micrograd-course"
c.CourseDirectory.source_directory = "solutions"  # instructor notebooks (nbgrader "source")
c.CourseDirectory.release_directory = "notebooks"  # generated student versions ("release")

# Autograding, step by step (ARCHITECTURE.md, "from a submission to a grade"); each of the
# course's steps is a file of course_grader/steps/. LoadReference reads the instructor
# solution's records before any student code runs; PlanProbes checks that the grader can run
# every hidden test's probe itself; GradingExecute is nbgrader's Execute in the sandbox, and at
# each graded test cell the grader's probes question that kernel's objects (the records that
# count: the student's code runs once, and no hidden-test code runs in the kernel), crash-tolerant (a stuck
# or dead kernel costs only the cells from there on; `--GradingExecute.sandbox=False` grades
# unconfined, not advised); JudgeRecords gives every graded cell whose record is missing or
# wrong an error output, so nbgrader's own SaveAutoGrades, and so its gradebook, export,
# feedback and formgrader, carry the judged score.
c.Autograde.autograde_preprocessors = [
    LoadReference,
    PlanProbes,
    GradingExecute,
    JudgeRecords,
    SanitizeForViews,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# Before grading, nbgrader's sanitizing steps, with the flags of every nbgrader cell put
# back first (a student who unticked "graded" would otherwise fail the whole submission),
# and grade cells a student deleted put back where they were (they run, and count).
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    RestoreGradeCells,
    OverwriteCells,
    CheckCellMetadata,
]
c.Execute.timeout = 60  # seconds per cell; the slowest honest cell (m4's training) takes ~5 s

# The exchange releases only what `./course release` has released (solutions/released.txt):
# each milestone's folder ships the answers of those before it.
c.ExchangeFactory.release_assignment = ReleaseReleasedOnly

# Feedback shows a failing hidden check's message, never the hidden-test code. Everything a
# submission produced is rendered in the formgrader (in the instructor's own Jupyter
# session) and in feedback: SanitizeForViews leaves only what renders inertly, once at
# autograding and again for feedback.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, SanitizeForViews, CSSHTMLHeaderPreprocessor]
c.ClearHiddenTests.enforce_metadata = True
# A student's own files (page.html) do not stay where the formgrader serves them, nor next to
# the feedback (course_grader/steps/post_convert.py).
c.Autograde.post_convert_hook = "course_grader.steps.post_convert.graded_files_only"
c.GenerateFeedback.post_convert_hook = "course_grader.steps.post_convert.feedback_pages_only"

# `nbgrader export` (by hand, or through ./course grade) writes a grades CSV that no
# spreadsheet evaluates: a student id such as "+B2-B2+23" comes from a submission's name.
c.ExportApp.plugin_class = InertCsvExportPlugin
