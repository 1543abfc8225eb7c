"""How grading reads the course's nbgrader configuration: ``nbgrader_config.py`` with this
run's options on top, the gradebook's address, and one nbgrader API per worker process.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

from course_grader.layout import course_config

if TYPE_CHECKING:
    from nbgrader.apps import NbGraderAPI


def gradebook_url(root: Path, db_url: str | None) -> str:
    """SQLite waits for a busy gradebook rather than failing with "database is locked"."""
    if db_url:
        return db_url
    return f"sqlite:///{root / 'gradebook.db'}?timeout=600"


@functools.cache
def nbgrader_api(root: str, overrides: str) -> NbGraderAPI:
    """One nbgrader API per worker process (and per set of options), built once."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = course_config(Path(root), json.loads(overrides))
    return NbGraderAPI(CourseDirectory(config=config), config=config)
