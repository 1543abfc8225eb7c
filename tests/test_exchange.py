"""nbgrader's exchange as a JupyterHub course uses it, end to end, on a scratch exchange
folder with two students:

    instructor  release_assignment m1_value
    alice, bob  fetch_assignment → work → validate → submit (bob twice: a draft, then his work)
    instructor  collect → due date → ./course grade m1_value → release_feedback
    alice, bob  fetch_feedback: each gets their own feedback, and nothing of the other's

The instructor side is a scratch copy of the course run with the course's environment;
the students run the student bundle's own environment (``student_python``: nbgrader,
JupyterLab and course_lib installed by ``pip install .``) from their own HOME, whose
``~/.jupyter/nbgrader_config.py`` holds what a hub gives every student: the exchange's
root and the course id.

Two students, two identities. nbgrader's exchange takes the student id from the OS user
(``pwd.getpwuid(os.getuid())``; JUPYTERHUB_USER only counts for a user named ``jovyan``),
so two students need two OS identities. Real unprivileged uids cannot run the students'
Python here (the interpreters the venvs point to live under /root, mode 700), so each
student command runs as root in a private mount namespace (``unshare --mount``) in which
a passwd file of that student's, mapping uid 0 to their name, is bound over /etc/passwd:
nbgrader, unpatched, sees a user called ``alice`` or ``bob``. The test checks that the
identity took (``get_username()`` in each namespace) and that the two submissions arrive
under two student ids, so it cannot pass with one identity for both. Being root, the
students are not stopped by the exchange's permissions; those are asserted as modes, as
nbgrader documents them, and the ones that keep students apart are tried with a real
unprivileged uid (``nobody``, using ``ls`` and ``cat``, which need no Python). Artefact of
the method: ``collect`` warns that alice's submission "is owned by root; cheating
attempt?" (nbgrader compares the submission's owner with the name in it).
"""

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from conftest import COURSE, ROOT, SYSTEM_PATH, copy_course, empty_environment
from nbgrader.api import Gradebook

from course_grader.measuring.submissions import fill, solution_cells

M = "m1_value"
COURSE_ID = "micrograd-course"  # nbgrader_config.py's c.CourseDirectory.course_id
STUDENTS = ("alice", "bob")
ANSWERS = solution_cells(COURSE.source_notebook(M))
BOB_SKIPS = "value_tanh"  # bob hands in everything but tanh: its stub still raises NotImplementedError
NOBODY = 65534
SCORE = re.compile(rf"<h4>{M} \(Score: ([0-9.]+) / ([0-9.]+)\)</h4>")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="two student identities need root and unshare (a private /etc/passwd per student)",
)


@pytest.fixture
def exchange_root() -> Iterator[Path]:
    """The exchange as a hub admin makes it: a folder everyone can reach, mode 777 at its
    root. Outside pytest's own temporary folder (mode 700), so that a real unprivileged
    user can be shown what it may and may not do there."""
    parent = Path(tempfile.mkdtemp(prefix="nbgrader-exchange-"))
    parent.chmod(0o755)
    root = parent / "exchange"
    root.mkdir()
    root.chmod(0o777)
    yield root
    shutil.rmtree(parent)


class Student:
    """One student: a name, a HOME, and commands run as that OS user in their own
    environment (the student bundle's python) from their HOME."""

    def __init__(self, name: str, base: Path, python: Path, exchange: Path) -> None:
        self.name, self.python = name, python
        self.home = base / name
        (self.home / ".jupyter").mkdir(parents=True)
        (self.home / ".jupyter" / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
        )
        self.passwd = base / f"{name}.passwd"  # outside their HOME: nothing of it reaches them
        self.passwd.write_text(f"{name}:x:0:0:{name}:{self.home}:/bin/sh\n")
        self.env = {
            "HOME": str(self.home),
            "USER": name,
            "LOGNAME": name,
            "LANG": "C.UTF-8",
            "PYTHONNOUSERSITE": "1",
            "PATH": os.pathsep.join([str(python.parent), SYSTEM_PATH]),
        }

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        """``python args`` as this student: in a mount namespace of its own whose
        /etc/passwd names uid 0 after the student."""
        command = [
            "unshare",
            "--mount",
            "sh",
            "-c",
            'mount --bind "$0" /etc/passwd && exec "$@"',
            str(self.passwd),
            str(self.python),
            *args,
        ]
        done = subprocess.run(command, cwd=cwd or self.home, env=self.env, capture_output=True, text=True, timeout=300)
        out = done.stdout + done.stderr
        assert not check or done.returncode == 0, f"{self.name}: {' '.join(args)} failed:\n{out[-3000:]}"
        return out

    def nbgrader(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        return self.run("-m", "nbgrader", *args, cwd=cwd, check=check)

    def submit(self, nb: nbformat.NotebookNode) -> str:
        """Write the notebook into the folder fetch_assignment made, and submit; the
        submission's timestamp (nbgrader's "Submitted as: <course> <assignment> <timestamp>")."""
        nbformat.write(nb, self.home / M / f"{M}.ipynb")
        out = self.nbgrader("submit", M)
        found = re.search(rf"Submitted as: {COURSE_ID} {M} (.+)", out)
        assert found, out[-2000:]
        return found.group(1).strip()

    def files(self) -> list[Path]:
        return sorted(p for p in self.home.rglob("*") if p.is_file())


def instructor(course: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True, timeout=300
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{out[-3000:]}"
    return out


def as_nobody(*command: str) -> subprocess.CompletedProcess:
    """A command run by a real unprivileged user, as a student on a hub is."""
    return subprocess.run(
        command,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": SYSTEM_PATH, "LANG": "C"},
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_two_students_through_the_exchange(tmp_path, exchange_root, student_python):
    course = copy_course(tmp_path / "course")
    for name in ("course", "pyproject.toml"):
        shutil.copy2(ROOT / name, course / name)
    on_exchange = f"--Exchange.root={exchange_root}"
    exchange = exchange_root / COURSE_ID
    inbound, outbound, feedback = exchange / "inbound", exchange / "outbound", exchange / "feedback"

    # --- the instructor releases m1_value; nbgrader sets the exchange's permissions up
    instructor(course, "release_assignment", M, on_exchange)
    assert mode(exchange_root) == 0o777
    assert mode(exchange) == mode(outbound) == 0o755, "course and outbound/: everyone reads, the instructor writes"
    assert mode(inbound) == 0o2733 and stat.filemode(inbound.stat().st_mode) == "drwx-ws-wx", (
        "inbound: everyone may write into it but not list it (setgid: submissions take the instructor's group)"
    )
    assert mode(outbound / M) == 0o755 and mode(outbound / M / f"{M}.ipynb") == 0o644

    # --- each student, as their own OS user: fetch, work, validate, submit
    alice, bob = (Student(name, tmp_path / "homes", student_python, exchange_root) for name in STUDENTS)
    for s in (alice, bob):
        assert s.run("-c", "from nbgrader.utils import get_username; print(get_username())").strip() == s.name
        assert f"{COURSE_ID} {M}" in s.nbgrader("list"), "the student sees the released milestone"
        s.nbgrader("fetch_assignment", M)
        assert (s.home / M / f"{M}.ipynb").exists(), "fetch_assignment makes ~/m1_value/"
    fetched = alice.home / M / f"{M}.ipynb"
    work = {
        alice: fill(fetched, ANSWERS),
        bob: fill(fetched, {k: v for k, v in ANSWERS.items() if k != BOB_SKIPS}),
    }
    bob.submit(nbformat.read(bob.home / M / f"{M}.ipynb", as_version=4))  # a first draft: the blank notebook

    nbformat.write(work[alice], alice.home / M / f"{M}.ipynb")
    out = alice.nbgrader("validate", f"{M}.ipynb", cwd=alice.home / M)
    assert "Success! Your notebook passes all the tests." in out, out[-3000:]
    stamps = {alice: alice.submit(work[alice])}

    nbformat.write(work[bob], bob.home / M / f"{M}.ipynb")
    out = bob.nbgrader("validate", f"{M}.ipynb", cwd=bob.home / M, check=False)  # (it exits 0 either way)
    assert "Success!" not in out and "VALIDATION FAILED ON 2 CELL(S)!" in out, out[-3000:]
    failed = out.split("The following cell failed:")[1:]  # each failing cell's source, then its traceback
    assert len(failed) == 2 and all("NotImplementedError" in f for f in failed), out[-3000:]
    assert "out = x.tanh()" in failed[0] and "o = n.tanh()" in failed[1], "the tanh check, then the neuron example"
    stamps[bob] = bob.submit(work[bob])  # handed in anyway

    # --- what the exchange holds now, and what a real unprivileged user can see of it
    submissions = sorted(p.name for p in inbound.iterdir())
    assert [n.split("+")[0] for n in submissions] == ["alice", "bob", "bob"], submissions
    assert all(re.fullmatch(rf"(alice|bob)\+{M}\+[^+]+\+[A-Za-z0-9_-]{{12}}", n) for n in submissions), submissions
    alices = next(inbound / n for n in submissions if n.startswith("alice+"))
    assert mode(alices) == 0o777 and mode(alices / f"{M}.ipynb") == 0o644  # nbgrader's modes: hidden by its name only
    listing = as_nobody("ls", str(inbound))
    assert listing.returncode != 0 and "Permission denied" in listing.stderr, "students cannot list inbound/"
    assert as_nobody("touch", str(inbound / "written-by-nobody")).returncode == 0, "but may write into it"
    (inbound / "written-by-nobody").unlink()
    assert as_nobody("cat", str(outbound / M / f"{M}.ipynb")).returncode == 0, "released files are readable"
    assert as_nobody("cat", str(alices / f"{M}.ipynb")).returncode == 0, (
        "a submission is readable by whoever knows its name: the random suffix is what keeps it private"
    )

    # --- the instructor collects, sets the due date at alice's submission (bob's work comes late), grades
    out = instructor(course, "collect", M, on_exchange)
    collected = sorted(p.parent.name for p in (course / "submitted").glob(f"*/{M}"))
    assert collected == ["alice", "bob"], f"two students, two ids: {collected}\n{out[-2000:]}"
    for s in (alice, bob):
        got = nbformat.read(course / "submitted" / s.name / M / f"{M}.ipynb", as_version=4)
        assert got.cells == work[s].cells, f"{s.name}: collect takes the latest submission"
        assert (course / "submitted" / s.name / M / "timestamp.txt").read_text() == stamps[s]
    instructor(course, "db", "assignment", "add", M, f"--duedate={stamps[alice]}")

    done = subprocess.run(
        [str(course / "course"), "grade", M, "--timeout", "30"],
        cwd=tmp_path,
        env=empty_environment(tmp_path / "instructor-home"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "no submission needs attention" in done.stdout, done.stdout[-3000:]  # nor the exchange's own files
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        a = gb.find_assignment(M)
        full = float(a.max_score)
        scores = {sub.student.id: float(sub.score) for sub in a.submissions}
        late = {sub.student.id: (sub.total_seconds_late, sub.late_submission_penalty) for sub in a.submissions}
        tanh = next(c for nb in a.notebooks for c in nb.grade_cells if c.name == "test_tanh")
        tanh_points = float(tanh.max_score)
    assert scores == {"alice": full, "bob": full - tanh_points} and 0 < full - tanh_points < full, scores
    assert late["alice"] == (0, 0) and late["bob"][0] > 0 and not late["bob"][1], (
        f"the gradebook knows who was late, and by default costs them nothing: {late}"
    )
    for s in (alice, bob):
        assert (course / "feedback" / s.name / M / f"{M}.html").exists(), "./course grade writes the feedback"

    # --- feedback to the exchange, each HTML under a name only its student can compute
    instructor(course, "release_feedback", M, on_exchange)
    released = sorted(feedback.iterdir())
    assert len(released) == 2 and all(re.fullmatch(r"[0-9a-f]{32}\.html", p.name) for p in released), released
    assert mode(feedback) == 0o711, "feedback/: everyone may pass through, nobody may list"
    listing = as_nobody("ls", str(feedback))
    assert listing.returncode != 0 and "Permission denied" in listing.stderr

    # --- each student fetches their own feedback, and sees only their own
    own = {alice: scores["alice"], bob: scores["bob"]}
    for s, other in ((alice, bob), (bob, alice)):
        s.nbgrader("fetch_feedback", M)
        htmls = sorted((s.home / M / "feedback").rglob("*.html"))
        assert [p.relative_to(s.home) for p in htmls] == [Path(M, "feedback", stamps[s], f"{M}.html")], htmls
        shown = [(float(got), float(out_of)) for got, out_of in SCORE.findall(htmls[0].read_text())]
        assert shown == [(own[s], full)], f"{s.name}'s feedback shows {shown}, not their score {own[s]} / {full}"
        theirs = (course / "feedback" / other.name / M / f"{M}.html").read_bytes()
        secret = (course / "submitted" / other.name / M / "submission_secret.txt").read_bytes()
        for path in s.files():
            assert other.name not in str(path.relative_to(s.home)), f"{other.name}'s file in {s.name}'s home: {path}"
            content = path.read_bytes()
            assert content != theirs and secret not in content, f"{other.name}'s feedback or secret in {path}"
