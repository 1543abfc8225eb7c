"""How grading reads the course's nbgrader configuration: ``nbgrader_config.py`` with this
run's options on top, the gradebook's address, and one nbgrader API per worker process.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config


def load_config(root: Path, overrides: dict) -> Config:
    """nbgrader_config.py of the course, with this run's overrides on top."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.merge(Config(overrides))
    return config


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

    config = load_config(Path(root), json.loads(overrides))
    return NbGraderAPI(CourseDirectory(config=config), config=config)
