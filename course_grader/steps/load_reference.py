"""Autograde step 1, before the kernel runs: load the instructor solution's records.

They are computed once per change of the solution (``judging/reference.py``) and kept in
this process's memory from here on: no submission graded in this process can change them
by rewriting the cache on disk. ``JudgeRecords`` reads them from the same place.
"""

from collections.abc import Mapping
from typing import Any

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float

from course_grader.judging.reference import records_for
from course_grader.layout import Course

_LOADED: dict[tuple[str, str], dict[str, Any]] = {}  # reference records, read before any kernel runs


class ReferenceReader(NbGraderPreprocessor):
    """Where the instructor solution's records come from: the course's source directory, as
    nbgrader's CourseDirectory is configured (``layout.Course``)."""

    timeout = Float(600.0, help="Seconds allowed to run an instructor notebook.").tag(config=True)

    def reference(self, info: Mapping[str, str]) -> dict[str, Any]:
        """The instructor solution's records, read once per grading process.

        ``LoadReference`` reads them before the first student kernel runs, and they stay
        in memory: no submission graded in this process can change them by rewriting the
        cache on disk.
        """
        key = (info["assignment"], info["notebook"])
        if key not in _LOADED:
            course = Course.from_config(self.config)
            folder = course.source(info["assignment"])
            _LOADED[key] = records_for(folder, info["notebook"], course.reference_cache, timeout=self.timeout)
        return _LOADED[key]


class LoadReference(ReferenceReader):
    """nbgrader autograde preprocessor, before ``Execute``: load the reference records."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        self.reference(resources["nbgrader"])
        return nb, resources
