"""Adding a milestone is what ARCHITECTURE.md says, and nothing more: a tiny eighth milestone
(``tests/fixtures/m8_fixture/``: its notebook, probes and variants) installed in a copy of
the course with its one entry in ``MILESTONES`` is picked up by the suite's parametrized
tests -- its reference, its correct variant, its pitfalls (judged, and caught by a visible
check), its words, the grader's run of its probes over the link -- with no other edit.

Why a copy and a second pytest: the tests are parametrized when they are collected, from the
course they import; only a course that holds the new milestone shows that they follow it.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "m8_fixture"
NEW = "m8_fixture"
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "dist", "workspace", ".reference", "__pycache__", ".ipynb_checkpoints", "fixtures",
    "autograded", "submitted", "feedback", "release", "gradebook.db",
)  # fmt: skip

# The parametrized tests a new milestone must appear in, and how many cases of it each has:
# the fixture has one alternative, two pitfalls (both taught by a visible check), one SAYS.
EXPECTED = {
    "test_variants_judged.py::test_the_instructor_answers_reproduce_the_grading_reference": 1,
    "test_variants_judged.py::test_a_correct_variant_keeps_every_point": 1,
    "test_variants_judged.py::test_a_pitfall_loses_the_cells_it_names": 2,
    "test_variants_judged.py::test_a_pitfall_s_message_names_the_mistake": 1,
    "test_variants_judged.py::test_a_pitfall_fails_a_visible_check_before_hand_in": 2,
    "test_variants_judged.py::test_no_visible_check_rejects_a_correct_variant": 1,
    "test_rpc.py::test_the_graders_run_records_what_the_kernel_records": 1,
}


def install(course: Path) -> None:
    """The new milestone's own files, and its entry in MILESTONES: what ARCHITECTURE.md lists."""
    (course / "solutions" / NEW).mkdir()
    shutil.copy2(FIXTURE / f"{NEW}.ipynb", course / "solutions" / NEW / f"{NEW}.ipynb")
    shutil.copy2(FIXTURE / "probes.py", course / "course_grader" / "probes" / "m8.py")
    shutil.copy2(FIXTURE / "variants.py", course / "tests" / "variants" / f"{NEW}.py")
    layout = course / "course_grader" / "layout.py"
    text, n = re.subn(r"(\nMILESTONES = \([^)]*)\)", rf'\1, "{NEW}")', layout.read_text(), count=1)
    assert n == 1, "MILESTONES is not where ARCHITECTURE.md says"
    layout.write_text(text)


def test_an_eighth_milestone_is_picked_up_by_its_own_files(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=SKIP)
    install(course)
    env = {**os.environ, "PYTHONPATH": str(course)}  # the copy's course_grader, not this one
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-m", NEW, "-rA",
         "--durations=0", "tests/test_variants_judged.py", "tests/test_rpc.py"],
        cwd=course, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-4000:]
    passed = re.findall(r"^PASSED tests/(\S+?)\[(\S*)\]$", said, re.M)
    found: dict[str, int] = {}
    for test, params in passed:
        assert NEW in params, f"{test}[{params}] ran, but it is not the new milestone's"
        found[test] = found.get(test, 0) + 1
    assert found == EXPECTED, said[-4000:]
