"""The class's gradebook: the assignment registered once whatever the number of graders
(a lock shared by every grader of the course), SQLite in write-ahead mode so workers do not
block each other, the per-cell summary read back, and nbgrader's CSV export made inert for
spreadsheets.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbgrader.plugins import CsvExportPlugin
from nbgrader.utils import is_grade

from course_grader.cells import grade_id

if TYPE_CHECKING:
    from nbgrader.api import Gradebook
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


# OWASP's CSV injection rule: a cell a spreadsheet may take for a formula (or a DDE call)
# starts with one of these, possibly after blanks a spreadsheet trims; the full-width forms
# are there because some spreadsheets read them as the ASCII ones.
FORMULA_START = re.compile(r"[\t\r]|[\s\u200b-\u200d\u2060\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20]")
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")  # a score such as -1.5 or 1e-05
NEEDS_QUOTES = re.compile(r'[,"\r\n]')


# nbgrader's export columns of text (an id, a name): a number there is text too
TEXT_COLUMNS = frozenset({"assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email"})


def inert_cell(value: str, number: bool = True) -> str:
    """``value`` as a spreadsheet can only show it: a cell that would start a formula (a
    student id ``+B2-B2+23`` from ``+B2-B2+23_m1_value.ipynb``, ``=HYPERLINK(...)``) gets
    OWASP's single-quote prefix, which spreadsheets show as text. A plain number stays as
    it is where a number belongs (``number``): a negative score is data, not a formula,
    while an id ``+5`` must not become the number 5."""
    if FORMULA_START.match(value) and not (number and PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def inert_csv(text: str) -> str:
    """A CSV's text with every cell made inert (``inert_cell``), read the way a spreadsheet
    reads it (the csv module's default dialect: a bare CR ends a row there too) and written
    back in nbgrader's dialect: comma-separated, lines ending as the header's does, a field
    quoted only where it must be (a comma, a double quote, CR or LF in it). The csv module's
    writer would leave a CR unquoted when lines end in LF, and so split the row on reading."""
    newline = "\r\n" if text.split("\n", 1)[0].endswith("\r") else "\n"

    def field(value: str, text: bool) -> str:
        value = inert_cell(value, number=not text)
        return '"' + value.replace('"', '""') + '"' if NEEDS_QUOTES.search(value) else value

    rows = list(csv.reader(io.StringIO(text, newline="")))
    # a text column's cells below the header; the header and any column nbgrader does not
    # name (none today) keep plain numbers
    text_columns = [name in TEXT_COLUMNS for name in (rows[0] if rows else [])]
    return "".join(
        ",".join(field(v, n > 0 and i < len(text_columns) and text_columns[i]) for i, v in enumerate(row)) + newline
        for n, row in enumerate(rows)
    )


def export_csv(root: Path, url: str, dest: Path) -> str | None:
    """nbgrader's CSV export of the gradebook, written to ``dest`` made inert for
    spreadsheets (``inert_csv``); None, or why it was not written.

    A student id is what the name of a submission's file (within intake's safe characters,
    which keep + and @) or exchange folder said, names come from a roster, and the grades
    sheet is opened in a spreadsheet: nbgrader writes every field as it is. So nbgrader exports to a scratch file beside
    ``dest``, and ``dest`` is replaced in one step by the inert copy: it never holds
    nbgrader's own text, and a failed export leaves the previous one as it was."""
    dest = dest if dest.is_absolute() else root / dest  # where nbgrader, run in root, put it
    try:
        with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as scratch:
            raw, inert = Path(scratch, "nbgrader.csv"), Path(scratch, "inert.csv")
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "nbgrader",
                    "export",
                    f"--to={raw}",
                    f"--CourseDirectory.db_url={url}",
                    "--log-level=WARN",
                ],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                return (done.stderr or done.stdout)[-1000:]
            write_inert(raw, inert)
            if dest.exists():
                shutil.copymode(dest, inert)  # as nbgrader's open(dest, "w") would have kept it
            os.replace(inert, dest)
    except (OSError, csv.Error) as err:
        return f"{type(err).__name__}: {err}"[-1000:]
    return None


def write_inert(raw: Path, inert: Path) -> None:
    """``inert_csv`` of the file nbgrader wrote, whatever its encoding (the characters that
    matter are ASCII), written to ``inert``."""
    with raw.open(encoding="utf-8", errors="surrogateescape", newline="") as f:
        text = f.read()
    with inert.open("w", encoding="utf-8", errors="surrogateescape", newline="") as f:
        f.write(inert_csv(text))


class InertCsvExportPlugin(CsvExportPlugin):
    """nbgrader's CSV export plugin, its file made inert for spreadsheets. The course's
    nbgrader_config.py sets it as ``ExportApp.plugin_class``, so that ``nbgrader export`` run
    by hand (as the README shows) writes what ``./course grade`` writes."""

    def export(self, gradebook: Gradebook) -> None:
        super().export(gradebook)
        dest = Path(self.to or "grades.csv").absolute()
        scratch = dest.with_name(f".{dest.name}.inert")
        write_inert(dest, scratch)
        shutil.copymode(dest, scratch)
        os.replace(scratch, dest)
