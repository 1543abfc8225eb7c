"""Grading submissions in a pool of worker processes: each worker grades one submission at
a time with nbgrader's own ``autograde`` (then writes its feedback), and a submission that
timed out while the machine was busy is graded again alone before it costs points.
"""

from __future__ import annotations

import functools
import re
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import nbformat

from course_grader.classgrade.config import nbgrader_api
from course_grader.classgrade.report import Progress
from course_grader.judging.verdict import STOPPED
from course_grader.layout import Course
from course_grader.steps import grading_execute as execute


@dataclass(frozen=True)
class Job:
    root: str
    assignment: str
    student: str
    overrides: str  # JSON of traitlets config overrides (plain data, to cross processes)


@dataclass
class Graded:
    student: str
    ok: bool
    seconds: float
    problems: list[str] = field(default_factory=list)


BUSY = "timed out while the machine was busy"  # how the summary names execute.STARVED
REGRADED = BUSY + " grading others; graded again alone"  # the first line of a submission graded twice


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
        execute.KERNEL_BROKE: "kernel stopped answering (its link to the grader broke)",
        execute.NOT_RUN: "cells not run after it",
        "MemoryError": "ran out of memory (the grading kernel's limit)",
        STOPPED: "the grader's run of the hidden tests stopped",
    }
    said = (STOPPED, *execute.TIMEOUTS)  # the why of a timeout: its CPU limit, or a wait past the ceiling
    return [f"{words[name]}: {n} cell(s)" + (f" ({why[name]})" if name in said else "") for name, n in seen.items()]


EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Unavailable)): ?(.*)$")


def cause(log: str) -> str:
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


def grade_one(job: Job) -> Graded:
    """Autograde one submission, then write its feedback (runs in a worker process)."""
    started = time.monotonic()
    api = nbgrader_api(job.root, job.overrides)
    result = api.autograde(job.assignment, job.student, force=True, create=True)
    problems: list[str] = []
    if not result.get("success"):
        problems.append(f"could not be graded: {cause((result.get('log') or '') + (result.get('error') or ''))}")
        return Graded(job.student, False, time.monotonic() - started, problems)
    folder = Course.at(job.root).autograded(job.student, job.assignment)
    for notebook in sorted(folder.glob("*.ipynb")):
        problems += _cells_to_look_at(notebook)
    feedback = api.generate_feedback(job.assignment, job.student, force=True)
    if not feedback.get("success"):
        problems.append("feedback could not be written: " + (feedback.get("error") or "").strip()[-200:])
    return Graded(job.student, True, time.monotonic() - started, problems)


def run_pool(jobs: list[Job], workers: int, progress: Progress) -> list[Graded]:
    outcomes = []

    def finish(job: Job, result: Callable[[], Graded]) -> None:
        try:
            outcome = result()
        except Exception as exc:  # noqa: BLE001 - a grading that failed costs its own submission only
            outcome = Graded(job.student, False, 0.0, [f"grading process failed: {exc!r}"[:200]])
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


def retry_timeouts_alone(
    jobs: list[Job], outcomes: list[Graded], workers: int, budget: float | None = None
) -> list[Graded]:
    """A submission that timed out while the machine was busy (its sandbox waited for a
    CPU most of the time it was not running: ``execute.STARVED``) is graded again, alone,
    before the timeout costs it points: a loaded machine is not the student's fault. A
    loop or a sleep of the student's own is not graded again. Its summary line says so,
    and what the second grading found.

    The regrades of one run take at most ``budget`` seconds (the first pass's time, say):
    a submission left when it is used up keeps its first grading, and its line says how to
    grade it again."""
    slow = [o.student for o in outcomes if any(p.startswith(BUSY) for p in o.problems)]
    if workers <= 1 or len(jobs) <= 1 or not slow:
        return outcomes
    print(f"grading {len(slow)} submission(s) that timed out while the machine was busy again, alone", file=sys.stderr)
    by_student = {j.student: j for j in jobs}
    progress = Progress(len(slow))
    started = time.monotonic()
    again: dict[str, Graded] = {}
    for student in slow:
        if budget is not None and time.monotonic() - started > budget:
            break
        outcome = run_pool([by_student[student]], 1, progress)[0]
        still = any(p.startswith("timed out") for p in outcome.problems)  # BUSY's words begin so too
        outcome.problems.insert(
            0,
            f"{REGRADED}: " + ("it timed out again" if still else "no timeout then"),
        )
        again[student] = outcome
    left = [s for s in slow if s not in again]
    for outcome in outcomes:
        if outcome.student in left:
            outcome.problems.insert(
                0,
                f"not graded again: this run's time for regrades ({budget:.0f} s, the first pass's) was used up; "
                f"grade it again with --student {outcome.student} --force",
            )
    return [again.get(o.student, o) for o in outcomes]
