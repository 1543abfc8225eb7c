"""The class's gradebook: the assignment registered once whatever the number of graders
(a lock shared by every grader of the course), SQLite in write-ahead mode so workers do not
block each other, the per-cell summary read back, and nbgrader's CSV export.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbgrader.utils import is_grade

from course_grader.cells import grade_id

if TYPE_CHECKING:
    from traitlets.config import Config

GRADEBOOK_LOCK = 0x6D6963726F677264  # any constant shared by every grader of the course ("microgrd")


@contextlib.contextmanager
def _gradebook_lock(url: str) -> Iterator[None]:
    """One grader at a time sets up a shared PostgreSQL gradebook: nbgrader creates its
    tables and records an assignment without any locking, so two shards meeting an empty
    gradebook would both try (a server-wide advisory lock, released when done). SQLite
    serialises writers itself."""
    if not url.startswith("postgresql"):
        yield
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as con:
            con.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": GRADEBOOK_LOCK})
            try:
                yield
            finally:
                con.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": GRADEBOOK_LOCK})
    finally:
        engine.dispose()


def _has_assignment(url: str, course_id: str, assignment: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(url, course_id) as gb:
        try:
            return bool(gb.find_assignment(assignment).notebooks)
        except MissingEntry:
            return False


def ensure_assignment(root: Path, assignment: str, config: Config) -> None:
    """The gradebook must know the assignment's notebooks and cells before autograde.

    `./course release` records them; on another grading machine (or a fresh gradebook)
    nbgrader's generate_assignment does it here, into a scratch release folder so the
    committed student notebooks are left alone."""
    url, course_id = config.CourseDirectory.db_url, config.CourseDirectory.course_id
    with _gradebook_lock(url):
        if _has_assignment(url, course_id, assignment):
            return
        with tempfile.TemporaryDirectory(prefix="course-release-") as scratch:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "nbgrader",
                    "generate_assignment",
                    assignment,
                    "--force",
                    "--log-level=WARN",
                    f"--CourseDirectory.release_directory={scratch}",
                    f"--CourseDirectory.db_url={url}",
                ],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
            )
        if not _has_assignment(url, course_id, assignment):
            raise SystemExit(f"nbgrader could not record {assignment} in the gradebook:\n{done.stderr[-2000:]}")


def use_wal(url: str) -> None:
    """Write-ahead logging lets readers and the one writer of the moment work at once."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///").split("?")[0]
        with sqlite3.connect(path, timeout=600) as con:
            con.execute("PRAGMA journal_mode=WAL")


def cell_summary(config: Config, assignment: str) -> tuple[list[tuple[str, int, int]], dict[str, float], float]:
    """Per grade cell (in notebook order): students who passed it, students graded; each
    graded student's score; the maximum score. Read back from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
        a = gb.find_assignment(assignment)
        cells: dict[str, list[int]] = {}
        for nb in a.notebooks:
            for cell in sorted(nb.grade_cells, key=lambda c: c.id):
                cells.setdefault(cell.name, [0, 0])
        order = _cell_order(config, assignment) or sorted(cells)
        scores: dict[str, float] = {}
        for sub in a.submissions:
            grades = [g for nb in sub.notebooks for g in nb.grades]
            if not any(g.auto_score is not None or g.manual_score is not None for g in grades):
                continue
            scores[sub.student.id] = float(sub.score) - float(sub.late_submission_penalty or 0)  # as exported
            for nb in sub.notebooks:
                for g in nb.grades:
                    counts = cells.setdefault(g.name, [0, 0])
                    counts[1] += 1
                    counts[0] += bool(g.score is not None and g.max_score and g.score >= g.max_score)
        max_score = float(a.max_score)
    rows = [(name, cells[name][0], cells[name][1]) for name in order if name in cells]
    return rows, scores, max_score


def _cell_order(config: Config, assignment: str) -> list[str | None]:
    folder = Path(config.CourseDirectory.root, config.CourseDirectory.source_directory, assignment)
    names = []
    for path in sorted(folder.glob("*.ipynb")):
        names += [grade_id(cell) for cell in nbformat.read(path, as_version=4).cells if is_grade(cell)]
    return names


def export_csv(root: Path, url: str, dest: Path) -> str | None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            "export",
            f"--to={dest}",
            f"--CourseDirectory.db_url={url}",
            "--log-level=WARN",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else (done.stderr or done.stdout)[-1000:]
