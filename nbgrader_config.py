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

from course_grader.exchange import ReleaseReleasedOnly
from course_grader.execute import GradingExecute
from course_grader.judge import JudgeRecords, LoadReference, ReplayProbes
from course_grader.sanitize import RestoreGradeCells
from course_grader.untrusted import SanitizeForViews

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

# The judge runs in nbgrader's own process: it reads the instructor solution's records
# before the student's kernel starts; ReplayProbes runs every hidden test's probe in this
# process against the student's code in a sandboxed process of its own (the records that
# count: course_grader/replay.py); JudgeRecords judges them right after the kernel has
# run, and before grades are saved: a missing or wrong record becomes an error output, so
# nbgrader's gradebook, export, feedback and formgrader all carry the judged score.
#
# GradingExecute is nbgrader's Execute run in a sandbox (course_grader/sandbox.py: the
# kernel sees the Python installation and its own submission folder, nothing else, with
# bounded memory and CPU), which stops at a crashed or stuck kernel instead of losing the
# whole submission. `--GradingExecute.sandbox=False` grades unconfined (not advised).
c.Autograde.autograde_preprocessors = [
    LoadReference,
    ReplayProbes,
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

for judge_step in ("LoadReference", "JudgeRecords"):
    c[judge_step].solutions_dir = os.path.join(here, "solutions")
    c[judge_step].cache_dir = os.path.join(here, ".reference")
# Everything a submission produced is rendered in the formgrader (in the instructor's own
# Jupyter session) and in feedback: SanitizeForViews leaves only what renders inertly
# (course_grader/untrusted.py), once at autograding and again for feedback.
c.SanitizeForViews.solutions_dir = os.path.join(here, "solutions")

# The exchange releases only what `./course release` has released (solutions/released.txt):
# each milestone's folder ships the answers of those before it.
c.ExchangeFactory.release_assignment = ReleaseReleasedOnly

# Feedback shows a failing hidden check's message, never the hidden-test code.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, SanitizeForViews, CSSHTMLHeaderPreprocessor]
c.ClearHiddenTests.enforce_metadata = True
# A student's own files (page.html) do not stay where the formgrader serves them, nor next to
# the feedback (course_grader/untrusted.py).
c.Autograde.post_convert_hook = "course_grader.untrusted.graded_files_only"
c.GenerateFeedback.post_convert_hook = "course_grader.untrusted.feedback_pages_only"
