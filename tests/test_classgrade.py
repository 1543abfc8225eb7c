"""`./course grade`: a class of M1 submissions, good, bad and cheating, graded in one command.

One flat LMS export (one notebook per student, the id in the file name) is graded three
ways in scratch course copies at once: by the course command in parallel, by it
sequentially (a few of the class: the slow one), and by stock nbgrader (its own Execute,
no judge, no sandbox). Every bad
submission has an asserted score and a line in the summary; every cheat scores no more
than the same submission without it; the grader's files and other students' work stay
untouched.
"""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import COURSE, copy_course, make_stock, nbgrader
from nbgrader.api import Gradebook
from variants import apply_edits
from variants.m1_value import PITFALLS

from course_grader.measuring.submissions import fill, solution_cells

M = "m1_value"
RELEASE = COURSE.release_notebook(M)
ANSWERS = solution_cells(COURSE.source_notebook(M))
POINTS = {
    "test_init": 2,
    "test_repr": 1,
    "test_add": 2,
    "test_mul": 2,
    "test_pow": 3,
    "test_neg_sub": 2,
    "test_div": 2,
    "test_tanh": 2,
    "test_exp": 1,
    "test_relu": 2,
    "test_log": 2,
    "test_sigmoid": 2,
}
FULL = sum(POINTS.values())
BEFORE_TANH = sum(POINTS[c] for c in list(POINTS)[: list(POINTS).index("test_tanh")])


def with_tanh(code: str) -> nbformat.NotebookNode:
    """The correct submission, its tanh cell replaced by code."""
    return fill(RELEASE, {**ANSWERS, "value_tanh": code})


def edited(change) -> nbformat.NotebookNode:
    nb = fill(RELEASE, ANSWERS)
    change(nb)
    return nb


def cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _delete(nb, grade_id):
    nb.cells.remove(cell(nb, grade_id))


def _set(nb, grade_id, **fields):
    for key, value in fields.items():
        if key == "source":
            cell(nb, grade_id).source = value
        else:
            cell(nb, grade_id).metadata.nbgrader[key] = value


CHEAT_PREFIX = {
    # Runs first in value_init, then the honest code of the baseline.
    "cheat-hooks": "get_ipython().input_transformers_cleanup.append(\n"
    "    lambda lines: [\"print('passed')\\n\"] if 'HIDDEN TESTS' in ''.join(lines) else lines)\n",
    "cheat-reads-solutions": "import glob, json\n"
    "for path in glob.glob('../../../solutions/m1_value/m1_value.ipynb')[:1]:\n"
    "    exec('\\n'.join(c['source'] for c in json.load(open(path))['cells'] if c['cell_type'] == 'code'))\n",
    "cheat-writes-gradebook": "import sqlite3, pathlib\n"
    "for db in [pathlib.Path('../../../gradebook.db')]:\n"
    "    try:\n"
    "        con = sqlite3.connect(db); con.execute('UPDATE grade SET auto_score = 99'); con.commit()\n"
    "    except Exception:\n"
    "        pass\n",
    "cheat-writes-others": "import pathlib\n"
    "for nb in [*pathlib.Path('../..').glob('*/m1_value/*.ipynb'),\n"
    "           *pathlib.Path('../../../submitted').glob('*/m1_value/*.ipynb')]:\n"
    "    if 'cheat' not in str(nb):\n"
    "        nb.write_text('{}')\n",
    "cheat-forges-records": "import course_grader.probes.records as _records\n"
    "_emit = _records.emit\n"
    "_records.emit = lambda record: _emit({**record, 'cases': [{'passed': True, 'grad': 1.0}]})\n",
    # the kernel's folder was the instructor's autograded/<student>/m1_value/: nbgrader then wrote
    # the graded notebook through a link there, and followed links into feedback
    "cheat-relinks": "import os\n"
    "links = (('m1_value.ipynb', '../../../nbgrader_config.py'), ('grades.txt', '../../../gradebook.db'))\n"
    "for name, target in links:\n"
    "    try:\n"
    "        if os.path.lexists(name):\n"
    "            os.remove(name)\n"
    "        os.symlink(target, name)\n"
    "    except OSError:\n"
    "        pass\n",
    "cheat-fake-passed": "import builtins, math\nbuiltins.abs = lambda x: 0.0\nmath.isclose = lambda *a, **k: True\n",
}


def the_class() -> dict[str, nbformat.NotebookNode | str | bytes]:
    """student id -> notebook (or raw text or bytes, for a file that is not one)."""
    tanh_bug = apply_edits(ANSWERS, PITFALLS["tanh_uses_input"][0])
    students: dict[str, nbformat.NotebookNode | str | bytes] = {
        "alice": fill(RELEASE, ANSWERS),
        "bob": fill(RELEASE, {}),
        "carol": fill(RELEASE, tanh_bug),
        "loop": with_tanh("while True:\n    pass\n"),
        "exit": with_tanh("import os\nos._exit(3)\n"),
        "segfault": with_tanh("import ctypes\nctypes.string_at(0)\n"),
        "bomb": with_tanh("hog = []\nwhile True:\n    hog.append(bytearray(10**8))\n"),
        "corrupt": "{this is not a notebook",
        "deep": '{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"x": '
        + "[" * 100_000
        + "]" * 100_000
        + "}}",
        "latin": nbformat.writes(fill(RELEASE, ANSWERS)).encode().replace(b"Value", b"Valu\xe9", 1),
        "delgrade": edited(lambda nb: _delete(nb, "test_add")),
        "editvisible": edited(lambda nb: _set(nb, "check_mul", source="print('looks fine')")),
        "metadata": edited(lambda nb: _set(nb, "test_div", points=50, grade=False)),
    }
    # Each cheat on a submission whose tanh is wrong: the cheat must not win tanh back.
    for name, prefix in CHEAT_PREFIX.items():
        students[name] = fill(RELEASE, {**tanh_bug, "value_init": prefix + tanh_bug["value_init"]})
    return students


EXPECTED = {  # judged score and the summary line each bad submission must get
    "alice": (FULL, None),
    "bob": (0, None),
    "carol": (FULL - 2, None),
    # its own loop, or - when this test's three gradings at once starve it of CPU - the machine
    # (then graded again alone): the summary says which
    "loop": (FULL - 2, "timed out (interrupted): 1 cell(s)|timed out while the machine was busy"),
    "exit": (BEFORE_TANH, "kernel crashed: 1 cell(s)"),
    "segfault": (BEFORE_TANH, "kernel crashed: 1 cell(s)"),
    # likewise: its allocations are CPU work too, so a starved machine may be named instead
    "bomb": (
        FULL - 2,
        "ran out of memory (the grading kernel's limit): 1 cell(s)|timed out while the machine was busy",
    ),
    "corrupt": (None, "unreadable: m1_value.ipynb is not a notebook (not JSON"),
    "deep": (None, "unreadable: m1_value.ipynb is not a notebook (its JSON is nested too deeply to read)"),
    "latin": (None, "unreadable: m1_value.ipynb is not a notebook (not UTF-8 text"),
    "eve": (None, f"refused eve_{M}.ipynb: a symbolic link"),
    "renamed": (FULL, "renamed notebook: graded 'My Notebook (1).ipynb' as 'm1_value.ipynb'"),
    "extras": (FULL, "extra files: helper.py"),
    "missing": (None, "missing notebook: no .ipynb in the submission"),
    "delgrade": (FULL, "deleted grade cells (put back for grading): test_add"),
    "editvisible": (FULL, "edited read-only cells (graded from the instructor's copy): check_mul"),
    "metadata": (FULL, "changed nbgrader metadata (graded from the instructor's copy): test_div"),
}
CHEATS_BASELINE = "carol"  # every cheat is carol's submission (tanh wrong) with the cheat in front
# graded one at a time as well: a correct one, a blank one, the cheats' baseline, a crash, and
# the cheats that reach for the course folder or classmates
SEQUENTIAL = (
    "alice",
    "bob",
    "carol",
    "exit",
    "cheat-hooks",
    "cheat-writes-others",
    "cheat-reads-solutions",
    "cheat-relinks",
)


# Unconfined, these would eat the machine's memory or wreck the rest of the stock run.
NOT_FOR_STOCK = ("bomb", "deep", "latin")
CANARY = "canary.txt"  # outside every course folder: a link in the export points at it


def write_lms_export(folder: Path) -> None:
    folder.mkdir(parents=True)
    for student, nb in the_class().items():
        path = folder / f"{student}_{M}.ipynb"
        if isinstance(nb, bytes):
            path.write_bytes(nb)
        elif isinstance(nb, str):
            path.write_text(nb)
        else:
            nbformat.write(nb, path)
    (folder.parent / CANARY).write_text("the instructor's secret\n")
    (folder / f"eve_{M}.ipynb").symlink_to(folder.parent / CANARY)
    nbformat.write(fill(RELEASE, ANSWERS), folder / "renamed_My Notebook (1).ipynb")
    nbformat.write(fill(RELEASE, ANSWERS), folder / f"extras_{M}.ipynb")
    (folder / "extras_helper.py").write_text("HELPER = 1\n")
    (folder / "missing_notes.txt").write_text("I could not finish, sorry\n")


def run_grade(course: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "course_grader.classgrade", M, *args, "--course", str(course), "--timeout", "20"],
        cwd=course,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, f"{out[-3000:]}\n{err[-3000:]}"
    return out


def scores(course: Path) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student.id: float(s.score) for s in gb.find_assignment(M).submissions}


def cell_scores(course: Path) -> dict[str, dict[str, float]]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {
            s.student.id: {g.name: float(g.score or 0) for nb in s.notebooks for g in nb.grades}
            for s in gb.find_assignment(M).submissions
        }


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    export = tmp_path_factory.mktemp("lms") / "export"
    write_lms_export(export)
    parallel = copy_course(tmp_path_factory.mktemp("parallel"))
    own_files = snapshot(parallel)
    sequential = copy_course(tmp_path_factory.mktemp("sequential"))
    subset = export.parent / "subset"  # the sequential run grades a few: it is the slow one
    subset.mkdir()
    for path in export.iterdir():
        if path.name.split("_", 1)[0] in SEQUENTIAL:
            shutil.copy2(path, subset / path.name)
    stock = copy_course(tmp_path_factory.mktemp("stock"))
    procs = [run_grade(parallel, str(export), "--jobs", "2"), run_grade(sequential, str(subset), "--jobs", "1")]
    make_stock(stock)  # its own Execute, no judge, no sandbox, the same submissions
    from course_grader.classgrade import intake

    intake.import_submissions(export, M, stock / "submitted", f"{M}.ipynb")
    for unconfined in (*NOT_FOR_STOCK, *CHEAT_PREFIX):  # cheats fool stock nbgrader (slowly): not compared
        shutil.rmtree(stock / "submitted" / unconfined, ignore_errors=True)
    nbgrader(stock, "generate_assignment", M, "--force", "--log-level=WARN")
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", M, "--log-level=ERROR", "--Execute.timeout=20"],
        cwd=stock,
        capture_output=True,
        timeout=900,
        check=False,
    )
    outputs = [finish(p) for p in procs]
    return {
        "parallel": parallel,
        "sequential": sequential,
        "stock": stock,
        "export": export,
        "summary": outputs[0],
        "summary_sequential": outputs[1],
        "own_files": own_files,
    }


def test_every_submission_gets_its_asserted_score(graded):
    got = scores(graded["parallel"])
    for student, (points, _) in EXPECTED.items():
        if points is None:  # not gradable: no score, or zero
            assert got.get(student, 0.0) == 0.0, student
        else:
            assert got.get(student) == points, (student, got.get(student), points)


def test_the_summary_names_every_problem_and_how_the_class_did(graded):
    summary = graded["summary"]
    attention = summary[summary.index("needs attention") :]
    for student, (_, line) in EXPECTED.items():
        if line:
            block = attention[attention.index(f"  {student} ") :]
            shown = block[: block.find("\n  ", 1)]  # the student's own lines, for the failure message
            assert any(alt in block for alt in line.split("|")), (student, line, shown)
    assert "  alice " not in attention and "  carol " not in attention
    struggles = summary[summary.index("where the class struggles") : summary.index("needs attention")]
    for grade_cell in POINTS:
        assert grade_cell in struggles
    tanh = next(line for line in struggles.splitlines() if "test_tanh" in line)
    passed, total = tanh.split()[1].split("/")
    assert int(total) == sum(1 for points, _ in EXPECTED.values() if points is not None) + len(CHEAT_PREFIX)
    assert int(passed) == sum(1 for points, _ in EXPECTED.values() if points == FULL)


def snapshot(course: Path) -> dict[str, bytes]:
    """The course's own files: what no submission may change."""
    files = [
        course / "nbgrader_config.py",
        *sorted(p for d in ("solutions", "notebooks", "course_lib") for p in (course / d).rglob("*") if p.is_file()),
    ]
    return {str(p.relative_to(course)): p.read_bytes() for p in files}


def test_the_course_own_files_are_byte_for_byte_unchanged(graded):
    assert snapshot(graded["parallel"]) == graded["own_files"]


def test_a_linked_file_is_never_followed(graded):
    assert (graded["export"].parent / CANARY).read_text() == "the instructor's secret\n"
    for course in ("parallel", "sequential", "stock"):
        assert not (graded[course] / "submitted" / "eve").exists()
        for path in graded[course].rglob("*"):
            assert not path.is_symlink(), path
            if path.is_file() and path.suffix in (".ipynb", ".html", ".json", ".csv"):
                assert "the instructor's secret" not in path.read_text(errors="replace"), path


def test_parallel_equals_sequential_cell_by_cell(graded):
    sequential = cell_scores(graded["sequential"])
    assert sorted(sequential) == sorted(SEQUENTIAL)
    assert {s: v for s, v in cell_scores(graded["parallel"]).items() if s in sequential} == sequential


def test_judged_scores_are_never_above_stock_and_equal_on_correct(graded):
    judged, stock = scores(graded["parallel"]), scores(graded["stock"])
    # Not compared: crashes (stock nbgrader loses the whole submission, the course keeps the
    # cells before) and cheats (unconfined, stock runs what the sandbox stops; they are
    # held to their baseline below).
    skip = {"exit", "segfault", *NOT_FOR_STOCK, *CHEAT_PREFIX}
    for student, points in judged.items():
        if student not in skip:
            assert points <= stock.get(student, 0.0), (student, points, stock.get(student))
    for student in ("alice", "renamed", "extras", "editvisible", "metadata", "delgrade"):
        assert judged[student] == stock[student] == FULL, student


@pytest.mark.parametrize("cheat", sorted(CHEAT_PREFIX))
def test_no_cheat_scores_more_than_the_same_submission_without_it(graded, cheat):
    for course in ("parallel", "sequential"):
        got = cell_scores(graded[course])
        if cheat not in got:
            continue  # not in the sequential run's few
        baseline = got[CHEATS_BASELINE]
        assert baseline["test_tanh"] == 0 and sum(baseline.values()) == FULL - 2
        assert all(got[cheat][cell] <= points for cell, points in baseline.items()), (cheat, got[cheat])


def test_the_gradebook_has_one_row_per_student_and_no_cheat_touched_it(graded):
    with Gradebook(f"sqlite:///{graded['parallel'] / 'gradebook.db'}") as gb:
        subs = gb.find_assignment(M).submissions
        ids = [s.student.id for s in subs]
        assert len(ids) == len(set(ids))
        assert all(
            g.auto_score is None or g.auto_score <= g.max_score for s in subs for nb in s.notebooks for g in nb.grades
        )
    for course in ("parallel", "sequential"):
        alice = graded[course] / "submitted" / "alice" / M / f"{M}.ipynb"
        assert nbformat.read(alice, as_version=4).cells, "another student's submission was overwritten"


def test_grades_csv_and_feedback_for_every_graded_student(graded):
    course = graded["parallel"]
    rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader((course / "grades.csv").open())}
    assert {s: v for s, v in rows.items() if s in scores(course)} == scores(course)
    for student, (points, _) in EXPECTED.items():
        if points is None:
            continue
        (html,) = (course / "feedback" / student / M).glob("*.html")
        text = html.read_text()
        for hidden in ("BEGIN HIDDEN TESTS", "course_grader", "probe_"):
            assert hidden not in text, (student, hidden)
    crash = (course / "feedback" / "exit" / M / f"{M}.html").read_text()
    assert "The kernel died while running this cell" in crash and "Not run: the kernel died" in crash


def test_rerun_grades_only_what_changed_force_and_one_student(graded):
    course = graded["parallel"]
    out = finish(run_grade(course, "--jobs", "2"))
    assert "graded 0 submission(s) now" in out
    nbformat.write(fill(RELEASE, {}), course / "submitted" / "alice" / M / f"{M}.ipynb")  # alice resubmits, blank
    out = finish(run_grade(course, "--jobs", "2"))
    assert "graded 1 submission(s) now" in out and scores(course)["alice"] == 0.0
    nbformat.write(fill(RELEASE, ANSWERS), course / "submitted" / "alice" / M / f"{M}.ipynb")
    out = finish(run_grade(course, "--student", "alice", "--force"))
    assert "graded 1 submission(s) now" in out and scores(course)["alice"] == FULL
    out = finish(run_grade(course, "--student", "carol", "--force"))
    assert "graded 1 submission(s) now" in out and scores(course)["carol"] == FULL - 2


def test_scores_survive_a_stock_nbgrader_autograde_rerun(graded):
    course = graded["sequential"]
    before = cell_scores(course)
    for student in ("carol", "cheat-hooks", "exit"):
        nbgrader(course, "autograde", M, f"--student={student}", "--force", "--log-level=WARN")
    after = cell_scores(course)
    for student in ("carol", "cheat-hooks", "exit"):
        assert after[student] == before[student], student


def test_grading_refuses_without_a_sandbox_unless_unsafe(graded, tmp_path):
    course = graded["sequential"]
    env_path = tmp_path / "bin"
    env_path.mkdir()
    (env_path / "bwrap").write_text("#!/bin/sh\necho 'bwrap: no permission to create namespaces' >&2\nexit 1\n")
    (env_path / "bwrap").chmod(0o755)
    env = {**os.environ, "PATH": f"{env_path}:{os.environ['PATH']}"}
    cmd = [sys.executable, "-m", "course_grader.classgrade", M, "--course", str(course), "--student", "alice"]
    refused = subprocess.run(cmd, cwd=course, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    assert "refusing to grade" in refused.stderr and "no permission to create namespaces" in refused.stderr
    assert "--unsafe" in refused.stderr
    unsafe = subprocess.run(
        [*cmd, "--unsafe", "--force"], cwd=course, env=env, capture_output=True, text=True, timeout=300
    )
    assert unsafe.returncode == 0, unsafe.stderr[-2000:]
    assert "WARNING: grading without the sandbox" in unsafe.stderr


def test_the_cause_of_a_failed_grading_is_read_from_nbgrader_s_log():
    from course_grader.classgrade.workers import cause

    log = (
        "[ERROR] There was an error processing assignment: submitted/x/m1_value\n"
        "[ERROR] Traceback (most recent call last):\n"
        '      File "nbgrader/converters/base.py", line 390, in convert_notebooks\n'
        "    nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{this'\n"
        "[ERROR] Please see the the above traceback for details on the specific errors on the above failures.\n"
        "nbgrader.converters.base.NbGraderException: Please see the the above traceback for details\n"
    )
    assert cause(log) == "NotJSONError: Notebook does not appear to be JSON: '{this'"
    assert cause("[ERROR] No notebooks were matched\n") == "No notebooks were matched"
