"""A course works wherever it is put, and a sandbox that cannot start says what failed.

An instructor copies the course into `~/Documents/ML course/`, a folder named in their own
language, deep in a synced drive, or a home folder that is a link to another disk: the
grader must start its sandbox there, and the sandboxed Python must import the stand-in for
the grader package from where that copy's `course_grader` is. Each case copies the course
packages into such a folder, links the test's venv into it (so the Python, too, lives
there, as a fresh install's `.venv` would) and grades from it with ``PYTHONPATH`` pointing
at the copy, which then wins over the editable install.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_grader.isolation import sandbox

REPO = Path(__file__).resolve().parent.parent
LIMITS = sandbox.Limits(memory_mb=1024, cpu_seconds=30)
LONG_PART = "a-rather-long-folder-name-for-a-course-copy"

# Run by the copy's Python, from the copy: check the sandbox, start Python in one on a
# submission folder inside the course, and start a grading kernel there as nbgrader does.
GRADE_HERE = """
import json, subprocess, sys
from pathlib import Path

import course_grader
import nbformat
from nbclient import NotebookClient

from course_grader.isolation import sandbox

limits = sandbox.Limits(memory_mb=1024, cpu_seconds=30)
sandbox.check(limits)
work, inside = Path(sys.argv[1]), sys.argv[2]
box = sandbox.Sandbox(work, limits)
try:
    done = subprocess.run(box.command([sys.executable, "-c", inside]), capture_output=True, text=True, timeout=120)
finally:
    box.close()
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(inside)])
nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
NotebookClient(
    nb, timeout=60, kernel_manager_class=sandbox.SandboxedKernelManager, resources={"metadata": {"path": str(work)}}
).execute()
kernel = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.output_type == "stream")
errors = [o.evalue for o in nb.cells[0].outputs if o.output_type == "error"]
print(json.dumps({"grader": course_grader.__file__, "returncode": done.returncode, "stdout": done.stdout,
                  "stderr": done.stderr[-2000:], "kernel": kernel, "kernel_errors": errors}))
"""


def inside_code(folder: Path) -> str:
    """What the sandboxed Python reports: where it imported the course packages from, what the
    hidden-test call returned, and whether the real grader (one of its own modules) can be
    read under the copy's name or where its links lead."""
    places = [str(folder / "course_grader" / "layout.py"), os.path.realpath(folder / "course_grader" / "layout.py")]
    return (
        "import json, os, course_grader, course_lib\n"
        "from course_grader.probes import m1\n"
        f"print(json.dumps({{'grader': course_grader.__file__, 'lib': course_lib.__file__, "
        f"'probe': m1.probe_init(), 'real_grader_seen': [os.path.exists(p) for p in {places!r}]}}))\n"
    )


def course_folder(tmp_path: Path, kind: str) -> Path:
    """A folder of that kind with the course packages copied in and the venv linked in as
    `.venv`; returned as the instructor names it (through the link, for a linked home)."""
    if kind == "space":
        folder = tmp_path / "ML course"
    elif kind == "non-ASCII":
        folder = tmp_path / "Kurs für Jürgen" / "Übung Nº 1"
    elif kind == "long":
        folder = tmp_path.joinpath(*[LONG_PART] * 5)
        assert len(str(folder)) > 200
    else:  # a home folder reached through a link, as on machines whose /home is elsewhere
        (tmp_path / "disk two" / "home").mkdir(parents=True)
        (tmp_path / "home").symlink_to(Path("disk two", "home"))
        folder = tmp_path / "home" / "course"
    folder.mkdir(parents=True)
    for package in sandbox.PACKAGES:
        shutil.copytree(REPO / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    return folder


@pytest.mark.parametrize("kind", ["space", "non-ASCII", "long", "symlink"])
def test_a_course_grades_wherever_it_is_put(tmp_path, kind):
    folder = course_folder(tmp_path, kind)
    work = folder / "submitted" / "Jürgen Smith" / "m1_value"
    work.mkdir(parents=True)
    python = folder / ".venv" / "bin" / Path(sys.executable).name
    env = {**os.environ, "PYTHONPATH": str(folder)}
    done = subprocess.run(
        [str(python), "-c", GRADE_HERE, str(work), inside_code(folder)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    stand_in = str(folder / "course_grader" / "__init__.py")
    assert seen["grader"] == stand_in, "the grader ran from the copy (the case tests that copy)"
    assert seen["returncode"] == 0, seen["stderr"]
    inside = json.loads(seen["stdout"].strip().splitlines()[-1])
    assert inside["grader"] == stand_in, "the stand-in is bound where the copy's course_grader is"
    assert inside["lib"] == str(folder / "course_lib" / "__init__.py")
    assert inside["probe"] is None, "a hidden-test call in the sandbox does nothing"
    assert inside["real_grader_seen"] == [False, False], "the real grader is readable under no name"
    assert not seen["kernel_errors"], seen["kernel_errors"]
    in_kernel = json.loads(seen["kernel"].strip().splitlines()[-1])
    assert in_kernel["grader"] == stand_in and in_kernel["real_grader_seen"] == [False, False]


@pytest.fixture
def unchecked(monkeypatch):
    """check() as if it had never succeeded in this process."""
    monkeypatch.setattr(sandbox, "_WORKS", set())


def test_a_failed_probe_says_what_failed_not_to_install_bubblewrap(unchecked, monkeypatch):
    """bwrap is there and runs; Python in it fails (here: a broken stand-in, as a stand-in
    bound in the wrong place once failed). The message names the failure, its exit code
    and the course packages' folder, and does not send the instructor to install bubblewrap."""
    broken = 'raise ImportError("the stand-in is broken on purpose")\n'
    monkeypatch.setitem(sandbox.STAND_IN_FILES, "probes/__init__.py", broken)
    with pytest.raises(sandbox.SandboxUnavailable) as raised:
        sandbox.check(LIMITS)
    message = str(raised.value)
    assert "the stand-in is broken on purpose" in message
    assert "exit code 1" in message
    assert str(sandbox.package_dirs()[sandbox.PACKAGES.index("course_grader")]) in message
    assert "install bubblewrap" not in message and "apt-get" not in message


def test_a_sandbox_bwrap_cannot_set_up_says_so_not_to_install_bubblewrap(unchecked, monkeypatch, tmp_path):
    """bwrap runs but cannot build the sandbox (here: a folder to bind that is gone, as a
    course path split at its spaces once was): its own words, not the install advice."""
    roots = sandbox.readable_roots()
    gone = tmp_path / "a folder that is gone"
    monkeypatch.setattr(sandbox, "readable_roots", lambda: [*roots, gone])
    with pytest.raises(sandbox.SandboxUnavailable) as raised:
        sandbox.check(LIMITS)
    message = str(raised.value)
    assert "bwrap could not set up the sandbox" in message and str(gone) in message
    assert "install bubblewrap" not in message and "apt-get" not in message


def test_a_bwrap_that_cannot_run_at_all_is_explained_with_how_to_install(unchecked, monkeypatch, tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("not a program")  # there, but not executable
    which = shutil.which
    monkeypatch.setattr(sandbox.shutil, "which", lambda name, *a, **k: str(fake) if name == "bwrap" else which(name))
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap") as raised:
        sandbox.check(LIMITS)
    assert str(fake) in str(raised.value)
