"""A messy LMS export graded the way an instructor would: from a course folder whose path
has a space and non-ASCII letters, while other work keeps the machine busy.

One zip, written by Python's ``zipfile.writestr`` (members with permission bits but no
file-type bits), holds: two files that would both become student ``alice`` (one full
marks, one blank), a notebook whose name is longer than a file system allows, a student
whose cell sleeps past its time, an id that a spreadsheet would read as a formula, and an
honest notebook that displays an SVG with a CSS-escaped ``url(``. Busy processes outside
the grader (not classmates) run the whole time. Every honest student must be graded and
exported with the scores they get alone, every problem must be a readable summary line,
nothing may be merged or lost, and the run's time must stay bounded.
"""

import base64
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest
from conftest import COURSE, ROOT, copy_course, grade_command
from nbgrader.api import Gradebook

from course_grader.measuring.submissions import fill, solution_cells

M = "m1_value"
RELEASE = COURSE.release_notebook(M)
ANSWERS = solution_cells(COURSE.source_notebook(M))
FULL = 23
TANH = 2  # test_tanh's points: what the sleeper loses
TIMEOUT, NOTEBOOK_TIMEOUT = 4, 40  # CPU seconds a cell, a notebook
FORMULA = "+B2-B2+23"
LONG = "carol_" + "x" * 260 + ".ipynb"
SVG_ATTACK = (
    "from IPython.display import SVG, display\n"
    'display(SVG(\'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9">'
    '<rect width="9" height="9" fill="\\\\75 rl(http://127.0.0.1:9/leak)"/></svg>\'))\n'
)
SLEEPER = "import time\ntime.sleep(600)\n"
HONEST = ("dave", FORMULA, "carol", "erin")


def notebook_bytes(answers: dict[str, str]) -> bytes:
    return nbformat.writes(fill(RELEASE, answers)).encode()


def write_zip(path: Path) -> None:
    correct = notebook_bytes(ANSWERS)
    members = {
        f"alice_{M}.ipynb": correct,
        f"alice~_{M}.ipynb": notebook_bytes({}),
        LONG: correct,
        f"sleepy_{M}.ipynb": notebook_bytes({**ANSWERS, "value_tanh": SLEEPER}),
        f"{FORMULA}_{M}.ipynb": correct,
        f"dave_{M}.ipynb": notebook_bytes({**ANSWERS, "value_init": SVG_ATTACK + ANSWERS["value_init"]}),
        f"erin_{M}.ipynb": correct,
    }
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)  # no file-type bits, as an LMS export may carry
    assert all(zi.external_attr >> 16 & 0o170000 == 0 for zi in zipfile.ZipFile(path).infolist())


def course_at(folder: Path) -> Path:
    """A course copy with its own grader and library packages, imported from there."""
    course = copy_course(folder)
    shutil.copytree(ROOT / "course_grader", course / "course_grader", ignore=shutil.ignore_patterns("__pycache__"))
    return course


def hogs(count: int) -> list[subprocess.Popen]:
    """Busy processes outside the grader, each in a session of its own (so the scheduler
    weighs each like a grading sandbox), ending by themselves after ten minutes."""
    spin = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end:\n    pass\n"
    return [subprocess.Popen([sys.executable, "-c", spin], start_new_session=True) for _ in range(count)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("messy") / "Dokumente" / "ML course für alle"
    course = course_at(base / "course")
    export = base / "LMS export.zip"
    write_zip(export)
    busy = hogs(2 * (len(os.sched_getaffinity(0)) or 1))
    started = time.monotonic()
    try:
        done = subprocess.run(
            grade_command(
                course, M, export, "--jobs", "2", "--timeout", str(TIMEOUT), "--notebook-timeout", str(NOTEBOOK_TIMEOUT)
            ),
            cwd=course,
            env={**os.environ, "PYTHONPATH": str(course)},
            capture_output=True,
            text=True,
            timeout=1500,
        )
    finally:
        for hog in busy:
            hog.kill()
            hog.wait()
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        cells = {
            s.student.id: {g.name: float(g.score or 0) for nb in s.notebooks for g in nb.grades}
            for s in gb.find_assignment(M).submissions
        }
    return {"course": course, "summary": done.stdout, "log": done.stderr, "cells": cells, "seconds": seconds}


def block(summary: str, student: str) -> str:
    """The summary's lines about one student."""
    attention = summary[summary.index("needs attention") :]
    start = attention.index(f"\n  {student} ")
    end = attention.find("\n  ", start + 1)
    while end != -1 and attention[end + 3] == " ":  # continuation lines of the same student
        end = attention.find("\n  ", end + 1)
    return attention[start : end if end != -1 else None]


def test_the_course_grades_from_a_folder_with_a_space_and_honest_scores_are_as_alone(run):
    """The sandbox starts in that folder, and beside busy processes the honest students get
    exactly the scores a correct notebook gets alone: full marks in every cell."""
    assert " " in str(run["course"]) and "ü" in str(run["course"])
    for student in HONEST:
        assert run["cells"].get(student), (student, sorted(run["cells"]), run["summary"][-2000:])
        assert set(run["cells"][student].values()) != {0.0}
        assert sum(run["cells"][student].values()) == FULL, (student, run["cells"][student])


def test_two_files_that_would_be_one_student_are_neither_graded_and_both_named(run):
    assert "alice" not in run["cells"], "neither of alice's two files may be graded as hers"
    lines = block(run["summary"], "alice")
    assert "not imported" in lines and f"'alice_{M}.ipynb'" in lines and f"'alice~_{M}.ipynb'" in lines, lines
    assert not (run["course"] / "submitted" / "alice").exists()


def test_a_name_too_long_for_the_file_system_costs_a_line_not_the_run(run):
    assert run["cells"]["carol"] and "shortened the name of carol_xxx" in run["summary"]


def test_a_sleeper_is_its_own_timeout_never_the_machine_s_and_the_run_is_bounded(run):
    lines = block(run["summary"], "sleepy")
    assert "timed out (interrupted)" in lines and "waiting or sleeping" in lines, lines
    assert "busy" not in lines and "graded again" not in lines, lines
    assert sum(run["cells"]["sleepy"].values()) == FULL - TANH
    # seven submissions' gradings, one sleeping cell's wall-clock ceiling (3 x 4 s), a busy machine
    assert run["seconds"] < 600, run["seconds"]


def test_the_grades_csv_holds_no_formula_a_spreadsheet_would_run(run):
    with (run["course"] / "grades.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    ids = {row["student_id"] for row in rows}
    assert f"'{FORMULA}" in ids and FORMULA not in ids, ids
    for row in rows:
        for value in row.values():
            if value and value[0] in "=+-@\t\r":
                float(value)  # a spreadsheet reads a number as a number: only numbers start so


def test_a_css_escaped_url_in_an_svg_output_is_gone_from_every_view(run):
    """The picture stays (inert), the escaped url( goes: in the autograded notebook the
    formgrader renders and in the feedback page (as an image, MathJax-ignored)."""
    course = run["course"]
    nb = json.loads(next(course.glob(f"autograded/dave/{M}/*.ipynb")).read_text())
    svgs = [
        "".join(out["data"]["image/svg+xml"])
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
        if "image/svg+xml" in out.get("data", {})
    ]
    page = next(course.glob(f"feedback/dave/{M}/*.html")).read_text()
    pictures = [
        base64.b64decode(unquote(data)).decode()
        for data in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=%]+)", page)
    ]
    # the student's picture (9 x 9), not the computation graphs the notebook draws
    theirs = [svg for svg in (*svgs, *pictures) if 'height="9"' in svg]
    assert len(theirs) == 2, (len(svgs), len(pictures), [svg[:200] for svg in (*svgs, *pictures)])
    for svg in theirs:
        assert "<rect" in svg and "rl(" not in svg and "127.0.0.1" not in svg and "\\" not in svg, svg
    for svg in (*svgs, *pictures):
        assert "tex2jax_ignore" in svg, svg[:300]  # MathJax leaves its text alone


def test_no_process_of_theirs_outlives_their_grading_on_a_busy_machine(run):
    """Every sandbox runs as a user of its own (the grader is root here): none is left,
    although the machine was busy while they were killed."""
    from course_grader.isolation import sandbox

    left = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = int(next(line for line in status.read_text().splitlines() if line.startswith("Uid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            continue
        if uid >= sandbox.UID_BASE:
            left.append((status.parent.name, uid))
    assert not left, f"a sandbox's process is still running: {left}"
