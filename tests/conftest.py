"""Shared fixtures: the repository root, and a scratch copy of the course in which
nbgrader can release, collect and grade without touching the real one."""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from course_grader.authoring import release
from course_grader.layout import MILESTONES, ROOT, Course

COURSE = Course.at(ROOT)  # the repository's own course: every path in it

# Kernels and tools the tests start import the course's modules from the repository's own
# folders (notebooks/m2_backward/engine.py, say): no __pycache__ may be left there.
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
sys.dont_write_bytecode = True
# Every course copy a test makes (and every grading it runs) shares one cache of the
# instructor solutions' records, keyed by their content: m4's alone takes half a minute.
os.environ.setdefault("COURSE_REFERENCE_CACHE", str(ROOT / ".reference"))


# What each slower test file drives, as pytest markers (`./course test -m nbgrader`, …); the
# quick files mark themselves `unit` (`./course test --quick`). A test parametrized by a
# milestone is marked with its name too (`./course test -m m3_mlp`).
DRIVES = {
    "test_roundtrip": ("nbgrader",),
    "test_classgrade": ("nbgrader",),
    "test_messy_class": ("nbgrader",),
    "test_release": ("nbgrader",),
    "test_exchange": ("nbgrader",),
    "test_hostile_views": ("nbgrader", "browser"),
    "test_neighbours": ("nbgrader",),
    "test_fresh_machine": ("nbgrader",),
    "test_cheats": ("nbgrader",),
    "test_postgres": ("nbgrader", "postgres"),
    "test_browser": ("browser",),
    "test_nbval": ("nbval",),
}


def pytest_configure(config: pytest.Config) -> None:
    for m in MILESTONES:
        config.addinivalue_line("markers", f"{m}: tests of milestone {m} (parametrized by it)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # the code's habits first (lint, format, types): such an error shows in seconds, not at the end
    items.sort(key=lambda item: item.path.stem != "test_style")
    for item in items:
        for marker in DRIVES.get(item.path.stem, ()):
            item.add_marker(marker)
        params = getattr(getattr(item, "callspec", None), "params", {})
        for value in params.values():
            for m in value if isinstance(value, tuple) else (value,):
                if isinstance(m, str) and m in MILESTONES:
                    item.add_marker(m)


def copy_course(dest: Path) -> Path:
    """The parts of the repository nbgrader and the release step need, copied to dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("solutions", "notebooks", "course_lib"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    return dest


def make_stock(course: Path) -> None:
    """Turn a course copy's nbgrader configuration into stock nbgrader: its own Execute in
    the grader's process, with the real probes in the kernel, and no judge."""
    config = course / "nbgrader_config.py"
    text = config.read_text()
    swaps = (
        ("    LoadReference,\n", ""),
        ("    PlanProbes,\n", ""),
        ("    JudgeRecords,\n", ""),
        ("    SanitizeForViews,\n", ""),
        ("    GradingExecute,\n", "    Execute,\n"),
        ("from nbgrader.preprocessors import (", "from nbgrader.preprocessors import (\n    Execute,"),
    )
    for ours, theirs in swaps:
        assert ours in text, f"nbgrader_config.py changed: {ours!r} is not in it"
        text = text.replace(ours, theirs)
    config.write_text(text)


def grade_command(course: Path, milestone: str, submissions: Path, *options: str) -> list[str]:
    """``./course grade <milestone> <submissions> <options>`` on a course copy, as the tests
    run it: this Python, the copy named with --course."""
    return [
        sys.executable,
        "-m",
        "course_grader.classgrade",
        milestone,
        str(submissions),
        "--course",
        str(course),
        *options,
    ]


def nbgrader(course: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def released_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course copy whose gradebook knows every milestone (generate_assignment run)."""
    course = copy_course(tmp_path_factory.mktemp("course"))
    for m in MILESTONES:
        nbgrader(course, "generate_assignment", m, "--force", "--log-level=WARN")
    return course


@pytest.fixture(scope="session")
def student_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The student bundle with every milestone released, from the committed notebooks."""
    built = release.build_bundle(ROOT, tmp_path_factory.mktemp("bundle") / "student", released=list(MILESTONES))
    assert built is not None
    return built


@pytest.fixture(scope="session")
def student_python(student_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtual environment with the student bundle installed as its
    README says (``pip install .``): a student's environment, not the instructor's."""
    env = tmp_path_factory.mktemp("student-venv") / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "."],
        cwd=student_bundle,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return python


# The course's command run as on a fresh machine (test_fresh_machine.py, test_exchange.py):
# an empty environment with a new HOME and a minimal system PATH, pointed at the course
# environment these tests run in so that it installs nothing.

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def course_venv() -> Path:
    """The environment these tests run in, which `./course` made: the command is pointed at
    it (COURSE_VENV) so that it installs nothing, and would notice if it had to."""
    from hashlib import sha256

    venv = Path(sys.prefix)
    stamp = venv / ".course-installed"
    want = sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    assert stamp.exists() and stamp.read_text().strip() == want, (
        f"run the tests through `./course test`: {venv} is not the course environment it made"
    )
    return venv


def empty_environment(home: Path) -> dict[str, str]:
    """`env -i` with a new HOME (created), a minimal system PATH and COURSE_VENV."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "PATH": SYSTEM_PATH,
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "COURSE_VENV": str(course_venv()),
    }
