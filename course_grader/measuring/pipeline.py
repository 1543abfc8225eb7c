"""Grading one notebook through the course's configured nbgrader pipeline, without a class.

The tests, the cheat corpus and the mutation tool grade thousands of notebooks; nbgrader's
``autograde`` app costs a gradebook, a course folder and file copies for each. This runs
the very preprocessors ``nbgrader_config.py`` configures, in nbgrader's order - the
sanitizing ones, then the autograding ones, under ``NBGRADER_EXECUTION=autograde`` - against
a scratch gradebook of this process that nbgrader's own ``generate_assignment``
preprocessors filled from the instructor notebook. The points are read back from that
gradebook, as ``SaveAutoGrades`` wrote them. Nothing is a copy of the pipeline: a step added
to the configuration is a step taken here.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import setenv
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from course_grader.cells import grade_id, graded_tests
from course_grader.layout import Course, course_config

_students = itertools.count()


def _run(steps: list[type], config: Config, nb: NotebookNode, resources: dict) -> NotebookNode:
    """Each preprocessor as nbgrader's exporter runs it: built from the config, called in order."""
    for step in steps:
        nb, resources = step(config=config)(nb, resources)
    return nb


@functools.cache
def _gradebook(root: Path, milestone: str) -> tuple[str, frozenset[str | None]]:
    """A scratch gradebook of this process that knows ``milestone`` as generate_assignment
    would have recorded it (the source cells, hidden tests included, with checksums), and
    the grade_ids of the milestone's graded test cells."""
    course = Course.at(root)
    folder = Path(tempfile.mkdtemp(prefix="gradebook-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    url = f"sqlite:///{folder / 'gradebook.db'}"
    config = course_config(course.root, {"CourseDirectory": {"db_url": url}})
    with Gradebook(url, config.CourseDirectory.course_id) as gb:
        gb.update_or_create_assignment(milestone)
    generate = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
    source = nbformat.read(course.source_notebook(milestone), as_version=4)
    resources = {
        "nbgrader": {"assignment": milestone, "notebook": milestone, "db_url": url},
        "metadata": {"path": str(course.source(milestone))},
    }
    tests = frozenset(grade_id(cell) for cell in graded_tests(source))
    _run(generate.preprocessors, config, source, resources)
    return url, tests


def autograde(
    notebook: Path, milestone: str, course: Course, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, float]:
    """grade_id -> points of every graded cell of ``notebook`` (in a folder of its own, next to
    the files its milestone ships), graded by the configured sanitize and autograde steps."""
    with warnings.catch_warnings():  # nbgrader's SQLAlchemy use warns on every submission
        warnings.simplefilter("ignore", SAWarning)
        return _autograde(notebook, milestone, course, overrides)


def _autograde(
    notebook: Path, milestone: str, course: Course, overrides: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, float]:
    url, tests = _gradebook(course.root, milestone)
    config = course_config(course.root, {**(overrides or {}), "CourseDirectory": {"db_url": url}})
    course_id = config.CourseDirectory.course_id
    student = f"score-{next(_students)}"
    with Gradebook(url, course_id) as gb:
        gb.update_or_create_student(student)
        gb.update_or_create_submission(milestone, student)
    grading = Autograde(coursedir=CourseDirectory(config=config), config=config)
    resources = {
        "unique_key": milestone,
        "nbgrader": {"student": student, "assignment": milestone, "notebook": milestone, "db_url": url},
        "metadata": {"path": str(notebook.parent), "name": milestone},
    }
    nb = nbformat.read(notebook, as_version=4)
    nb = _run(grading.sanitize_preprocessors, config, nb, resources)
    nbformat.write(nb, notebook)  # autograding reads the sanitized notebook, as nbgrader's does
    with setenv(NBGRADER_EXECUTION="autograde"):
        _run(grading.autograde_preprocessors, config, nb, resources)
    with Gradebook(url, course_id) as gb:
        graded = gb.find_submission_notebook(milestone, milestone, student)
        return {g.name: float(g.score or 0.0) for g in graded.grades if g.name in tests}
