"""A submission never costs a classmate anything: honest submissions graded alone, and
again beside the worst neighbours (busy processes in sessions of their own, memory taken
by forked children and the scratch space, a huge file), get the same scores, cell by
cell. The hogs are bounded as a whole by their control groups (course_grader/isolation/cgroups.py),
and what they write stays in their private copies: nothing of it is left in the course.
"""

import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from conftest import COURSE, copy_course, grade_command
from nbgrader.api import Gradebook

from course_grader.isolation import sandbox
from course_grader.measuring.submissions import fill, solution_cells

M = "m4_training"
RELEASE = COURSE.release_notebook(M)
ANSWERS = solution_cells(COURSE.source_notebook(M))
FIRST = "mse_loss"  # the first solution cell: an attack there runs before any hidden test

# Student ids sort so that, two at a time, each honest submission is graded beside an attack.
ATTACKS = {
    # forks busy workers, each in a session of its own, that outlive their cell
    "ahog": "import os\nfor _ in range(12):\n    if os.fork() == 0:\n        os.setsid()\n"
    "        while True:\n            pass\n",
    # children that each take 1 GiB, and the scratch space filled
    "amemory": "import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n"
    "        x = bytearray(2**30)\n        time.sleep(600)\n"
    "try:\n    with open('/tmp/fill', 'wb') as f:\n        for _ in range(4096):\n"
    "            f.write(b'0' * 2**20)\nexcept OSError:\n    pass\n",
    # a 1 GiB file in its own folder (the instructor's autograded/, before the private copy)
    "bdisk": "try:\n    with open('huge.bin', 'wb') as f:\n        for _ in range(1024):\n"
    "            f.write(b'0' * 2**20)\nexcept OSError:\n    pass\n",
}
HONEST = ("alice", "bob")  # graded beside ahog, then amemory and bdisk


def write_class(folder: Path, attackers: bool) -> None:
    folder.mkdir(parents=True)
    for student in HONEST:
        nbformat.write(fill(RELEASE, ANSWERS), folder / f"{student}_{M}.ipynb")
    if attackers:
        for name, code in ATTACKS.items():
            nbformat.write(fill(RELEASE, {**ANSWERS, FIRST: code + ANSWERS[FIRST]}), folder / f"{name}_{M}.ipynb")


def grade(course: Path, export: Path, jobs: int) -> str:
    done = subprocess.run(
        grade_command(course, M, export, "--jobs", str(jobs), "--timeout", "30", "--notebook-timeout", "60"),
        cwd=course,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def cell_scores(course: Path) -> dict[str, dict[str, float]]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {
            s.student.id: {g.name: float(g.score or 0) for nb in s.notebooks for g in nb.grades}
            for s in gb.find_assignment(M).submissions
        }


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("neighbours")
    alone, crowded = copy_course(base / "alone"), copy_course(base / "crowded")
    write_class(base / "honest", attackers=False)
    write_class(base / "class", attackers=True)
    canary = base / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("untouched\n")
    grade(alone, base / "honest", 1)
    return {
        "alone": cell_scores(alone),
        "crowded_summary": grade(crowded, base / "class", 2),
        "crowded": cell_scores(crowded),
        "course": crowded,
        "canary": canary,
    }


def test_honest_scores_are_the_same_beside_the_worst_neighbours(graded):
    for student in HONEST:
        assert graded["crowded"][student] == graded["alone"][student], student
        assert all(graded["alone"][student].values()), f"{student} is a correct submission: full marks"


def test_what_the_neighbours_wrote_is_gone(graded):
    course = graded["course"]
    for path in course.rglob("*"):
        assert not path.is_file() or path.stat().st_size < 64 * 2**20, f"{path} was left behind"
    assert not list(course.glob("autograded/bdisk/*/huge.bin"))
    assert (graded["canary"] / "keep.txt").read_text() == "untouched\n"
    assert shutil.disk_usage(course).free > 2**30


def test_no_process_of_theirs_outlives_their_grading(graded):
    """Every sandbox runs as a user of its own (the grader is root here): none is left."""
    users = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = int(next(line for line in status.read_text().splitlines() if line.startswith("Uid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            continue
        users.append(uid)
    assert not [u for u in users if u >= sandbox.UID_BASE], "a sandbox's process is still running"
