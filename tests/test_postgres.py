"""A class graded by two machines at once into one PostgreSQL gradebook.

A real PostgreSQL server (Debian's `postgresql` package, which `./course test` installs)
runs on loopback for this module. Two "grading machines" - two copies of the course, as
two computers would each have one - import the same LMS export and start
`./course grade m1_value --db-url … --shard I/2` at the same moment, each grading its half
of the students into the one gradebook. A relay in front of the server holds their first
connections until both have arrived, so both shards meet the empty gradebook together
(creating its tables, recording the assignment) as machines started by one script do.

Then the gradebook must hold every student exactly once with the score their notebook
earns, the two shards must have split the class between them, and the same class graded
on one machine with the default SQLite gradebook must get the same scores, cell by cell.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import COURSE, ROOT, copy_course
from nbgrader.api import Gradebook
from variants import apply_edits
from variants.m1_value import PITFALLS

from course_grader.cells import points as points_per_cell
from course_grader.measuring.submissions import fill, solution_cells

M = "m1_value"
COURSE_ID = "micrograd-course"  # nbgrader_config.py's CourseDirectory.course_id
PITFALL = "tanh_uses_input"  # one wrong method: tanh's backward uses its input, not its output
INSTALL = (
    "`./course test` installs Debian's `postgresql` package when it is missing (the set-up does that as root); "
    "or install it yourself: sudo apt-get install postgresql"
)


# --------------------------------------------------------------------------- the server


def _postgres_bin() -> Path:
    """The folder with initdb and postgres: on PATH, or where Debian's package puts them."""
    on_path = [shutil.which(name) for name in ("initdb", "postgres")]
    if all(on_path):
        return Path(os.path.realpath(on_path[0])).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True):
        if all(os.access(Path(folder, name), os.X_OK) for name in ("initdb", "postgres")):
            return Path(folder)
    pytest.fail(f"PostgreSQL's initdb and postgres are neither on PATH nor in /usr/lib/postgresql/*/bin: {INSTALL}")


def _version(bindir: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", bindir)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    port: int

    def url(self, database: str = "gradebook", port: int | None = None) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port or self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/{database}", autocommit=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Server]:
    """A PostgreSQL server of its own on 127.0.0.1 (trust authentication, no fsync), with an
    empty database `gradebook`; stopped whatever happens."""
    try:
        import psycopg  # noqa: F401 - nbgrader's db_url postgresql+psycopg:// needs it
    except ImportError:
        pytest.fail("psycopg is not installed: ./course test installs the course's [dev] extras (psycopg[binary])")
    bindir = _postgres_bin()
    # initdb and postgres refuse to run as root: as root, run them as nobody
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.fail("setpriv (util-linux) is needed to run PostgreSQL as nobody when the tests run as root")
        nobody = pwd.getpwnam("nobody")
        as_user = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    # under /tmp itself: pytest's own tmp folders may be closed to other users (0700)
    home = Path(tempfile.mkdtemp(prefix="course-pg-", dir="/tmp"))
    server: subprocess.Popen | None = None
    try:
        if as_user:
            os.chown(home, nobody.pw_uid, nobody.pw_gid)
        data, log = home / "data", home / "server.log"
        done = subprocess.run(
            [
                *as_user,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "--auth=trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"initdb failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        for _attempt in range(3):  # a free port may be taken by someone else before the server binds it
            port = _free_port()
            with open(log, "ab") as out:
                server = subprocess.Popen(
                    [
                        *as_user,
                        str(bindir / "postgres"),
                        "-D",
                        str(data),
                        "-p",
                        str(port),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        f"unix_socket_directories={home}",
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            pg = Server(port)
            deadline = time.monotonic() + 60
            while server.poll() is None and time.monotonic() < deadline:
                try:
                    with pg.connect() as con:
                        con.execute("CREATE DATABASE gradebook")
                    break
                except Exception:  # noqa: BLE001 - not accepting connections yet
                    time.sleep(0.2)
            else:
                if server.poll() is None:
                    pytest.fail(f"PostgreSQL did not start within a minute:\n{log.read_text()[-3000:]}")
                continue  # it exited (port taken?): another port
            break
        else:
            pytest.fail(f"PostgreSQL would not start:\n{log.read_text()[-3000:]}")
        yield pg
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGQUIT)  # immediate shutdown, as pg_ctl stop -m immediate
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=20)
        shutil.rmtree(home, ignore_errors=True)


class Gate:
    """A TCP relay in front of the server that holds every connection until `expected` have
    arrived: the shards' first queries then reach the gradebook at the same moment."""

    def __init__(self, target: int, expected: int, patience: float = 120.0) -> None:
        self.target, self.expected, self.patience = target, expected, patience
        self.arrived = 0
        self.opened = threading.Event()
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self.arrived += 1
            if self.arrived >= self.expected:
                self.opened.set()
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        self.opened.wait(self.patience)
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target))
        except OSError:
            client.close()
            return
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        client.close()
        upstream.close()

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(1 << 16):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


# --------------------------------------------------------------------------- the class


def write_class(lms: Path) -> dict[str, float | None]:
    """An LMS export (one notebook per student, the id in the file name): student -> the
    score the notebook must earn (None: not a notebook, 0 or no score)."""
    release = COURSE.release_notebook(M)
    solution = COURSE.source_notebook(M)
    answers = solution_cells(solution)
    points = points_per_cell(nbformat.read(solution, as_version=4))
    full = sum(points.values())
    edits, loses = PITFALLS[PITFALL]
    notebooks = {
        "alice": (fill(release, answers), full),
        "bob": (fill(release, answers), full),
        "carol": (fill(release, answers), full),
        "dave": (fill(release, answers), full),
        "erin": (fill(release, {}), 0.0),
        "frank": (fill(release, {}), 0.0),
        "grace": (fill(release, apply_edits(answers, edits)), full - sum(points[g] for g in loses)),
    }
    lms.mkdir(parents=True)
    expected: dict[str, float | None] = {}
    for student, (nb, score) in notebooks.items():
        nbformat.write(nb, lms / f"{student}_{M}.ipynb")
        expected[student] = score
    (lms / f"heidi_{M}.ipynb").write_text("{this is not json")
    expected["heidi"] = None
    return expected


def grade(course: Path, lms: Path, export: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "course_grader.classgrade",
        M,
        str(lms),
        "--course",
        str(course),
        "--jobs",
        "1",
        "--export",
        str(export),
        *extra,
    ]


def start(cmd: list[str], log: Path) -> tuple[subprocess.Popen, Path]:
    """Run `cmd` in its own process group, its stdout and stderr to log.out and log.err."""
    with open(log.with_suffix(".out"), "w") as out, open(log.with_suffix(".err"), "w") as err:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, start_new_session=True), log


def finish(proc: subprocess.Popen, log: Path, timeout: float = 600) -> str:
    """What the command printed, once it has exited 0."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
    stdout, stderr = log.with_suffix(".out").read_text(), log.with_suffix(".err").read_text()
    assert proc.returncode == 0, f"{log.name} exited {proc.returncode}:\n{stdout[-3000:]}\n{stderr[-4000:]}"
    return stdout


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def graded_now(stdout: str) -> int:
    found = re.findall(rf"^{M}: graded (\d+) submission\(s\) now", stdout, re.MULTILINE)
    assert len(found) == 1, f"no 'graded N submission(s) now' in the summary:\n{stdout[-3000:]}"
    return int(found[0])


def graded_here(course: Path) -> set[str]:
    """The students this course folder graded (./course grade records a key for each)."""
    out = set()
    for path in (course / ".grading" / M).glob("*.json"):
        if "key" in json.loads(path.read_text()):
            out.add(path.stem)
    return out


def scores_in(url: str, students: list[str]) -> dict[str, tuple[float, dict[str, float | None]]]:
    """student -> (total score, grade cell -> score), read back through nbgrader's API."""
    out = {}
    with Gradebook(url, COURSE_ID) as gb:
        for student in students:
            sub = gb.find_submission(M, student)
            cells = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            out[student] = (float(sub.score), cells)
    return out


def needs_attention(stdout: str, student: str) -> list[str]:
    """The summary's lines about `student` under "needs attention"."""
    _, _, tail = stdout.partition("\nneeds attention (")
    lines, current = [], None
    for line in tail.splitlines()[1:]:
        if not line.startswith("  "):
            break
        if line[2:3] != " ":
            current = line.split()[0]
        if current == student:
            lines.append(line.strip())
    return lines


# --------------------------------------------------------------------------- the test


def test_two_shards_grade_one_postgres_gradebook(postgres: Server, tmp_path: Path) -> None:
    lms = tmp_path / "lms"
    expected = write_class(lms)
    students = sorted(expected)
    shards = [students[i::2] for i in range(2)]  # ./course grade --shard I/2: sorted, index % 2 == I

    # two grading machines, each with its own copy of the course, started at the same moment
    # (and, meanwhile, the same class on one machine with the default SQLite gradebook)
    machines = [copy_course(tmp_path / f"machine-{i}") for i in range(2)]
    single = copy_course(tmp_path / "sqlite")
    gate = Gate(postgres.port, expected=2)
    runs = []
    try:
        for i, course in enumerate(machines):
            runs.append(
                start(
                    grade(
                        course,
                        lms,
                        tmp_path / f"shard{i}.csv",
                        "--db-url",
                        postgres.url(port=gate.port),
                        "--shard",
                        f"{i}/2",
                    ),
                    tmp_path / f"shard-{i}-of-2",
                )
            )
        runs.append(start(grade(single, lms, tmp_path / "sqlite.csv"), tmp_path / "single-sqlite"))
        *stdouts, alone = [finish(proc, log) for proc, log in runs]
    finally:
        for proc, _ in runs:
            stop(proc)
        gate.close()
    assert gate.opened.is_set(), "the shards never both reached the gradebook"

    # the shards split the class: each graded its own half, together everyone, once
    assert [graded_now(s) for s in stdouts] == [len(s) for s in shards]
    assert sum(graded_now(s) for s in stdouts) == len(students)
    assert [graded_here(course) for course in machines] == [set(s) for s in shards]
    for course, shard in zip(machines, shards, strict=True):  # feedback: where each student was graded
        have = {p.parent.parent.name for p in (course / "feedback").glob(f"*/{M}/{M}.html")}
        assert have == set(shard) - {"heidi"}, (course.name, have)

    # the gradebook: one submission per student (none lost, none twice), one grade per cell
    with postgres.connect("gradebook") as con:
        rows = dict(
            con.execute(
                "SELECT s.student_id, count(*) FROM submitted_assignment s JOIN assignment a ON a.id = s.assignment_id "
                "WHERE a.name = %s GROUP BY s.student_id",
                (M,),
            ).fetchall()
        )
        assert rows == dict.fromkeys(students, 1), rows
        assert con.execute("SELECT count(*) FROM assignment").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM notebook").fetchone()[0] == 1
        cells = con.execute("SELECT count(*) FROM grade_cells").fetchone()[0]
        grades = dict(
            con.execute(
                "SELECT sa.student_id, count(*) FROM grade g JOIN submitted_notebook sn ON sn.id = g.notebook_id "
                "JOIN submitted_assignment sa ON sa.id = sn.assignment_id GROUP BY sa.student_id"
            ).fetchall()
        )
        assert grades == dict.fromkeys(students, cells), grades

    # every score is what the notebook earns
    in_postgres = scores_in(postgres.url(), students)
    for student, want in expected.items():
        assert in_postgres[student][0] == (want or 0.0), (student, in_postgres[student])

    # the broken file is graded by no one silently: its shard's summary says why, readably
    broken = next(i for i, s in enumerate(shards) if "heidi" in s)
    said = needs_attention(stdouts[broken], "heidi")
    assert said and re.match(rf"heidi\s+unreadable: {M}\.ipynb is not a (valid )?notebook", said[0]), stdouts[broken][
        -3000:
    ]
    assert not any("Traceback" in line for line in said), said

    # the grades as the README exports them at the end, from anywhere, with the same db_url
    final = tmp_path / "final.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            "export",
            f"--to={final}",
            f"--CourseDirectory.db_url={postgres.url()}",
            "--log-level=WARN",
        ],
        cwd=machines[0],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(final, newline="") as fh:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh) if row["assignment"] == M}
    assert exported == {s: in_postgres[s][0] for s in students}

    # the same class on one machine, SQLite gradebook (the default): the same scores, cell by cell
    assert graded_now(alone) == len(students)
    assert needs_attention(alone, "heidi")
    assert scores_in(f"sqlite:///{single / 'gradebook.db'}", students) == in_postgres
