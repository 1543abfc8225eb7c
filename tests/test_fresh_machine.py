"""The course on a machine where nothing is installed beyond the operating system and the
course's own environment: `./course grade` run as a subprocess in an empty environment
(`env -i` with a new HOME and a minimal system PATH), as `.ci/run` runs the whole suite.

nbgrader runs programs from PATH (a new gradebook runs `alembic`); the course's command
must find them in its own environment. An earlier CI passed only because the machine had
an `alembic` of its own on PATH.
"""

import shutil
import subprocess

import nbformat
from conftest import COURSE, ROOT, copy_course, empty_environment
from nbgrader.api import Gradebook

from course_grader.measuring.submissions import fill, solution_cells

M = "m1_value"


def test_course_grade_runs_in_an_empty_environment(tmp_path):
    env = empty_environment(tmp_path / "home")
    for tool in ("alembic", "nbgrader", "jupyter"):
        assert shutil.which(tool, path=env["PATH"]) is None, (
            f"{tool} is installed outside the course: the test proves nothing"
        )
    course = copy_course(tmp_path / "course")
    for name in ("course", "pyproject.toml"):
        shutil.copy2(ROOT / name, course / name)
    export = tmp_path / "export"
    export.mkdir()
    release = COURSE.release_notebook(M)
    nbformat.write(fill(release, solution_cells(COURSE.source_notebook(M))), export / f"ada_{M}.ipynb")
    shutil.copy2(release, export / f"bob_{M}.ipynb")  # handed in blank

    done = subprocess.run(
        [str(course / "course"), "grade", M, str(export), "--timeout", "30"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "No such file or directory" not in done.stderr, done.stderr[-3000:]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s.student.id: float(s.score) for s in gb.find_assignment(M).submissions}
        full = gb.find_assignment(M).max_score
    assert scores == {"ada": full, "bob": 0.0} and full > 0, scores
    assert (course / "feedback" / "ada" / M / f"{M}.html").exists()
    assert (tmp_path / "grades.csv").exists(), "the grades CSV lands where the command was run"
