"""Grade a whole class in one command, on every core, with nbgrader doing the grading.

    ./course grade m1_value                      # everything new or changed in submitted/
    ./course grade m1_value exports/m1.zip       # import an LMS export first, then grade
    ./course grade m1_value --student jsmith --force

Each submission is graded by nbgrader's own `autograde` (through its API, in a pool of
worker processes, one submission each at a time), with the preprocessors configured in
`nbgrader_config.py`: the sandboxed, crash-tolerant Execute and the judge. So a later
stock `nbgrader autograde` or a formgrader re-run gives the same scores. Then feedback
for each student, a grades CSV, and a summary: per grade cell how many students passed
it, and the submissions that need a person's attention.

Re-running grades only what is new or changed (the submission's files, or the instructor
solution it is judged against); `--force` regrades everyone selected.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TextIO

import nbformat

from course_grader import execute, intake, reference, sandbox
from course_grader.judge import STOPPED

GRADEBOOK_LOCK = 0x6D6963726F677264  # any constant shared by every grader of the course ("microgrd")
STATE = ".grading"  # <course>/.grading/<assignment>/<student>.json: what was graded, what was odd


@dataclass(frozen=True)
class Job:
    root: str
    assignment: str
    student: str
    overrides: str  # JSON of traitlets config overrides (plain data, to cross processes)


@dataclass
class Outcome:
    student: str
    ok: bool
    seconds: float
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- configuration


def load_config(root: Path, overrides: dict) -> object:
    """nbgrader_config.py of the course, with this run's overrides on top."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.merge(Config(overrides))
    return config


def gradebook_url(root: Path, db_url: str | None) -> str:
    """SQLite waits for a busy gradebook rather than failing with "database is locked"."""
    if db_url:
        return db_url
    return f"sqlite:///{root / 'gradebook.db'}?timeout=600"


@functools.cache
def _api(root: str, overrides: str) -> object:
    """One nbgrader API per worker process (and per set of options), built once."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(Path(root), json.loads(overrides))
    return NbGraderAPI(CourseDirectory(config=config), config=config)


# --------------------------------------------------------------------------- one submission


BUSY = "timed out while the machine was busy"  # how the summary names execute.STARVED


def _cells_to_look_at(notebook: Path) -> list[str]:
    """What the autograded notebook says about cells that timed out, crashed, ran out of memory or never ran."""
    try:
        nb = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError) as exc:
        return [f"autograded notebook unreadable: {exc}"]
    seen: dict[str, int] = {}
    why: dict[str, str] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") in (*execute.STOPPED, "MemoryError", STOPPED):
                seen[out["ename"]] = seen.get(out["ename"], 0) + 1
                why.setdefault(out["ename"], str(out.get("evalue", "")).split(": ", 1)[-1][:160])
    words = {
        execute.INTERRUPTED: "timed out (interrupted)",
        execute.TIMED_OUT: "timed out (killed)",
        execute.STARVED: BUSY,
        execute.KERNEL_DIED: "kernel crashed",
        execute.NOT_RUN: "cells not run after it",
        "MemoryError": "ran out of memory (the grading kernel's limit)",
        STOPPED: "the grader's run of the hidden tests stopped",
    }
    return [f"{words[name]}: {n} cell(s)" + (f" ({why[name]})" if name == STOPPED else "") for name, n in seen.items()]


EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Unavailable)): ?(.*)$")


def _cause(log: str) -> str:
    """The exception that stopped nbgrader, from its log (tracebacks there are indented),
    not its closing "Please see the above traceback"."""
    for line in log.splitlines():
        m = EXCEPTION_LINE.match(line)
        if m and "above traceback" not in m.group(2):
            return f"{m.group(1).rsplit('.', 1)[-1]}: {m.group(2)}"[:200]
    errors = [ln.removeprefix("[ERROR]").strip() for ln in log.splitlines() if ln.startswith("[ERROR]")]
    return (errors or ["unknown error (nbgrader's log says nothing more)"])[0][:200]


def _quiet_worker() -> None:
    """Workers share the terminal with the progress bar: nbconvert warns once per feedback
    that it cannot show a record's MIME type, nbgrader's SQLAlchemy use warns too."""
    warnings.filterwarnings("ignore", message=".*vnd.micrograd-course.record.*")
    warnings.filterwarnings("ignore", module="sqlalchemy")
    warnings.filterwarnings("ignore", module="nbgrader")


def grade_one(job: Job) -> Outcome:
    """Autograde one submission, then write its feedback (runs in a worker process)."""
    started = time.monotonic()
    api = _api(job.root, job.overrides)
    result = api.autograde(job.assignment, job.student, force=True, create=True)
    problems: list[str] = []
    if not result.get("success"):
        problems.append(f"could not be graded: {_cause((result.get('log') or '') + (result.get('error') or ''))}")
        return Outcome(job.student, False, time.monotonic() - started, problems)
    folder = Path(job.root, "autograded", job.student, job.assignment)
    for notebook in sorted(folder.glob("*.ipynb")):
        problems += _cells_to_look_at(notebook)
    feedback = api.generate_feedback(job.assignment, job.student, force=True)
    if not feedback.get("success"):
        problems.append("feedback could not be written: " + (feedback.get("error") or "").strip()[-200:])
    return Outcome(job.student, True, time.monotonic() - started, problems)


# --------------------------------------------------------------------------- the class


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


def ensure_assignment(root: Path, assignment: str, config: object) -> None:
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


def _sqlite_wal(url: str) -> None:
    """Write-ahead logging lets readers and the one writer of the moment work at once."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///").split("?")[0]
        with sqlite3.connect(path, timeout=600) as con:
            con.execute("PRAGMA journal_mode=WAL")


def _key(root: Path, assignment: str, student: str, solution: str) -> str:
    """What a grade depends on: the submission, and the solution it is judged against
    (`solution`: its fingerprint, hashed once a run, not once a student)."""
    return f"{intake.fingerprint(root / 'submitted' / student / assignment)}:{solution}"


def select(
    root: Path, assignment: str, students: list[str] | None, force: bool, shard: tuple[int, int], solution: str = ""
) -> list[str]:
    """The students to grade now: those named (or all), in this shard, new or changed
    since graded against the solution whose fingerprint is `solution`."""
    present = sorted(
        p.parent.name
        for p in (root / "submitted").glob(f"*/{assignment}")
        if p.is_dir() and intake.id_problem(p.parent.name) is None
    )
    if students:
        missing = sorted(set(students) - set(present))
        if missing:
            raise SystemExit(f"no submission of {assignment} in submitted/ for: {', '.join(missing)}")
        present = [s for s in present if s in students]
    index, count = shard
    present = [s for i, s in enumerate(present) if i % count == index]
    if force:
        return present
    return [s for s in present if read_state(root, assignment, s).get("key") != _key(root, assignment, s, solution)]


def _state_path(root: Path, assignment: str, student: str) -> Path:
    return root / STATE / assignment / f"{student}.json"


def read_state(root: Path, assignment: str, student: str) -> dict:
    try:
        state = json.loads(_state_path(root, assignment, student).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def write_state(root: Path, assignment: str, student: str, **fields: object) -> None:
    path = _state_path(root, assignment, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**read_state(root, assignment, student), **fields}, indent=1))


class Progress:
    """A progress bar on a terminal; a line every tenth of the way in a log."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        # the stderr of the moment, not of import time (a test harness swaps it)
        stream = stream if stream is not None else sys.stderr
        self.total, self.done, self.attention, self.stream = total, 0, 0, stream
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self._last_tenth = -1

    def step(self, outcome: Outcome) -> None:
        self.done += 1
        self.attention += bool(outcome.problems)
        elapsed = int(time.monotonic() - self.started)
        width = 30
        filled = width * self.done // max(self.total, 1)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} graded, "
            f"{self.attention} need attention, {elapsed // 60}:{elapsed % 60:02d}"
        )
        if self.tty:
            self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
        elif (tenth := 10 * self.done // max(self.total, 1)) != self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(line + "\n")
        self.stream.flush()


def run_pool(jobs: list[Job], workers: int, progress: Progress) -> list[Outcome]:
    outcomes = []

    def finish(job: Job, result: Callable[[], Outcome]) -> None:
        try:
            outcome = result()
        except Exception as exc:  # noqa: BLE001 - a grading that failed costs its own submission only
            outcome = Outcome(job.student, False, 0.0, [f"grading process failed: {exc!r}"[:200]])
        outcomes.append(outcome)
        progress.step(outcome)

    if workers <= 1:
        _quiet_worker()
        for job in jobs:
            finish(job, functools.partial(grade_one, job))
        return outcomes
    context = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_quiet_worker) as pool:
        futures = {pool.submit(grade_one, job): job for job in jobs}
        for future in as_completed(futures):
            finish(futures[future], future.result)
    return outcomes


def retry_timeouts_alone(jobs: list[Job], outcomes: list[Outcome], workers: int) -> list[Outcome]:
    """A submission that timed out while the machine was busy (its sandbox got too little
    CPU: ``execute.STARVED``) is graded again, alone, before the timeout costs it points: a
    loaded machine is not the student's fault. A loop of the student's own, which had its
    share of CPU, is not. Its summary line says so, and what the second grading found."""
    slow = {o.student for o in outcomes if any(p.startswith(BUSY) for p in o.problems)}
    if workers <= 1 or len(jobs) <= 1 or not slow:
        return outcomes
    print(f"grading {len(slow)} submission(s) that timed out again, one at a time", file=sys.stderr)
    again = {o.student: o for o in run_pool([j for j in jobs if j.student in slow], 1, Progress(len(slow)))}
    for outcome in again.values():
        still = any(p.startswith("timed out") for p in outcome.problems)  # BUSY's words begin so too
        outcome.problems.insert(
            0,
            "timed out while the machine was busy grading others; graded again alone: "
            + ("it timed out again" if still else "no timeout then"),
        )
    return [again.get(o.student, o) for o in outcomes]


def cell_summary(config: object, assignment: str) -> tuple[list[tuple[str, int, int]], dict[str, float], float]:
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
    rows = [(name, *cells[name]) for name in order if name in cells]
    return rows, scores, max_score


def _cell_order(config: object, assignment: str) -> list[str]:
    folder = Path(config.CourseDirectory.root, config.CourseDirectory.source_directory, assignment)
    names = []
    for path in sorted(folder.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                names.append(meta["grade_id"])
    return names


def export_csv(root: Path, url: str, dest: Path) -> str | None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            "export",
            f"--to={dest}",
            f"--CourseDirectory.db_url={url}",
            "--log-level=WARN",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else (done.stderr or done.stdout)[-1000:]


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """A line for the instructor's terminal: names and messages come from submissions (file
    names, cell ids, exception text), and a control character in them could move the
    cursor, rewrite earlier lines, retitle the window or write the clipboard."""
    return CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text)).replace("\n", " ")


def print_summary(
    assignment: str,
    rows: list[tuple[str, int, int]],
    scores: dict[str, float],
    max_score: float,
    attention: dict[str, list[str]],
    graded_now: int,
    seconds: float,
    out=None,
) -> None:
    w = (out or sys.stdout).write
    w(f"\n{assignment}: graded {graded_now} submission(s) now in {seconds:.0f} s; {len(scores)} in the gradebook")
    if scores:
        mean = sum(scores.values()) / len(scores)
        full = sum(1 for v in scores.values() if v >= max_score)
        w(f", mean {mean:.1f}/{max_score:g}, {full} with full marks")
    w("\n\nwhere the class struggles (students who passed each grade cell):\n")
    width = max((len(r[0]) for r in rows), default=10)
    for name, passed, graded in sorted(rows, key=lambda r: (r[1] / max(r[2], 1), rows.index(r))):
        share = passed / graded if graded else 0.0
        bar = "#" * round(20 * share)
        w(f"  {name:<{width}}  {passed:>4}/{graded:<4} {bar:<20} {100 * share:5.1f} %\n")
    if attention:
        w(f"\nneeds attention ({len(attention)}):\n")
        for student in sorted(attention):
            for i, problem in enumerate(attention[student]):
                w(f"  {printable(student) if i == 0 else '':<24} {printable(problem)}\n")
    else:
        w("\nno submission needs attention\n")


def parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="./course grade",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("assignment", help="the milestone, e.g. m1_value")
    p.add_argument(
        "submissions",
        nargs="?",
        type=Path,
        help="a folder or .zip to import first: nbgrader's <student>/<assignment>/ layout, "
        "or one notebook per student with the student id in the file name",
    )
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.add_argument("--force", action="store_true", help="regrade even what has not changed")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel graders (default: all cores)")
    p.add_argument("--timeout", type=int, default=60, help="seconds a cell may run (default 60)")
    p.add_argument("--notebook-timeout", type=int, default=600, help="seconds for a whole notebook (default 600)")
    p.add_argument("--memory", type=int, default=sandbox.Limits.memory_mb, help="MiB per grading kernel")
    p.add_argument("--cpu", type=int, default=sandbox.Limits.cpu_seconds, help="CPU seconds per grading kernel")
    p.add_argument(
        "--unsafe",
        action="store_true",
        help="grade without the sandbox (students' code can then read the solutions and the gradebook)",
    )
    p.add_argument(
        "--without-cgroups",
        action="store_true",
        help="where no control group can be made: bound each sandbox per process only (a submission "
        "that forks busy processes can then slow its classmates' grading)",
    )
    p.add_argument(
        "--db-url",
        help="gradebook URL (default: SQLite gradebook.db in the course folder; "
        "postgresql+psycopg://user@host/db to share one between grading machines)",
    )
    p.add_argument("--shard", default="0/1", help="I/N: grade the I-th of N slices of the students (from 0)")
    p.add_argument(
        "--id-pattern",
        default=intake.DEFAULT_ID_PATTERN,
        help="regular expression with a student_id group, matched at the start of a flat file's name",
    )
    p.add_argument("--export", type=Path, default=Path("grades.csv"), help="grades CSV (default grades.csv)")
    p.add_argument("--course", type=Path, default=reference.PACKAGE_ROOT, help=argparse.SUPPRESS)
    return p.parse_args(list(argv) if argv is not None else None)


def main(argv: Iterable[str] | None = None) -> int:
    args = parse_args(argv)
    root = args.course.resolve()
    index, _, count = args.shard.partition("/")
    shard = (int(index), int(count or 1))
    if not 0 <= shard[0] < shard[1]:
        raise SystemExit(f"--shard {args.shard}: expected I/N with 0 <= I < N")
    url = gradebook_url(root, args.db_url)
    overrides = {
        "CourseDirectory": {"root": str(root), "db_url": url},
        "Execute": {"timeout": args.timeout},
        "GradingExecute": {"sandbox": not args.unsafe, "notebook_timeout": args.notebook_timeout},
        "SandboxedKernelManager": {
            "memory_mb": args.memory,
            "cpu_seconds": args.cpu,
            "use_cgroups": not args.without_cgroups,
        },
        "Autograde": {"create_student": True},
    }
    config = load_config(root, overrides)
    if not (root / config.CourseDirectory.source_directory / args.assignment).is_dir():
        raise SystemExit(f"no assignment {args.assignment!r} in {config.CourseDirectory.source_directory}/")
    if args.unsafe:
        print(
            "WARNING: grading without the sandbox: students' code can read and write the course folder", file=sys.stderr
        )
    else:
        try:
            sandbox.check(sandbox.Limits(args.memory, args.cpu, cgroups=not args.without_cgroups))
        except sandbox.SandboxUnavailable as exc:
            print(f"refusing to grade: {exc}", file=sys.stderr)
            return 2

    expected = f"{args.assignment}.ipynb"
    released = root / config.CourseDirectory.release_directory / args.assignment / expected
    imported: list[str] = []  # who this run's import brought in (some perhaps with nothing gradable)
    if args.submissions:
        for nobody in (intake.NO_ID, intake.REFUSED):  # what an earlier import could not place
            _state_path(root, args.assignment, nobody).unlink(missing_ok=True)
        for got in intake.import_submissions(
            args.submissions.resolve(), args.assignment, root / "submitted", expected, args.id_pattern
        ):
            write_state(root, args.assignment, got.student, imported=got.notes, refused=[])
            imported.append(got.student)
    # Links and special files never reach nbgrader (which would follow them) nor a kernel,
    # whichever way a submission arrived (an LMS zip, nbgrader's exchange, a copy by hand).
    unsafe_ids = []  # folder names no id can have (nbgrader's exchange takes them from students): not graded
    for folder in sorted((root / "submitted").glob(f"*/{args.assignment}")):
        if problem := intake.id_problem(folder.parent.name):
            write_state(root, args.assignment, folder.parent.name, refused=[problem])
            unsafe_ids.append(folder.parent.name)
        elif notes := intake.remove_refused(folder):
            write_state(root, args.assignment, folder.parent.name, refused=notes)
    _sqlite_wal(url)
    ensure_assignment(root, args.assignment, config)
    reference.records_for(root / "solutions" / args.assignment, args.assignment, root / ".reference")

    solution = reference.fingerprint(root / "solutions" / args.assignment)
    todo = select(root, args.assignment, args.student, args.force, shard, solution)
    started = time.monotonic()
    jobs = [Job(str(root), args.assignment, s, json.dumps(overrides)) for s in todo]
    print(
        f"grading {len(jobs)} submission(s) of {args.assignment} with {min(args.jobs, max(len(jobs), 1))} "
        f"worker(s){'' if args.unsafe else ', sandboxed'}",
        file=sys.stderr,
    )
    outcomes = retry_timeouts_alone(jobs, run_pool(jobs, args.jobs, Progress(len(jobs))), args.jobs)
    for outcome in outcomes:
        try:
            found = intake.inspect(root / "submitted" / outcome.student / args.assignment, expected, released)
        except Exception as exc:  # noqa: BLE001 - a hostile file costs its own submission a line, no more
            found = [f"could not be inspected: {type(exc).__name__}: {str(exc)[:120]}"]
        write_state(
            root,
            args.assignment,
            outcome.student,
            key=_key(root, args.assignment, outcome.student, solution),
            ok=outcome.ok,
            seconds=round(outcome.seconds, 1),
            problems=found + outcome.problems,
        )
    seconds = time.monotonic() - started
    attention = {}
    # this run's students, graded or not, and whoever this import brought nothing gradable of
    for student in sorted({*select(root, args.assignment, args.student, True, shard), *imported, *unsafe_ids}):
        state = read_state(root, args.assignment, student)
        if notes := state.get("imported", []) + state.get("refused", []) + state.get("problems", []):
            attention[student] = notes

    export = args.export if args.export.is_absolute() else Path.cwd() / args.export
    if error := export_csv(root, url, export):
        attention.setdefault("(export)", []).append(f"grades CSV not written: {error.strip()[-200:]}")
    rows, scores, max_score = cell_summary(config, args.assignment)
    print_summary(args.assignment, rows, scores, max_score, attention, len(jobs), seconds)
    print(f"\nfeedback: {root / 'feedback'}/<student>/{args.assignment}/   grades: {export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
