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
import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from course_grader.classgrade import intake
from course_grader.classgrade.config import gradebook_url
from course_grader.classgrade.gradebook import cell_summary, ensure_assignment, export_csv, use_wal
from course_grader.classgrade.report import Progress, print_summary
from course_grader.classgrade.state import read_state, select, state_path, submission_key, write_state
from course_grader.classgrade.workers import REGRADED, Job, retry_timeouts_alone, run_pool
from course_grader.isolation import sandbox
from course_grader.judging import reference
from course_grader.layout import ROOT, Course, course_config


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
    p.add_argument("--timeout", type=int, default=60, help="CPU seconds a cell may use (default 60)")
    p.add_argument("--notebook-timeout", type=int, default=600, help="CPU seconds for a whole notebook (default 600)")
    p.add_argument(
        "--wall-factor",
        type=float,
        default=3.0,
        help="wall-clock ceiling of a cell or notebook, as a multiple of its CPU limit (default 3): "
        "for code that waits or sleeps instead of computing",
    )
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
    p.add_argument("--course", type=Path, default=ROOT, help=argparse.SUPPRESS)
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
        "GradingExecute": {
            "sandbox": not args.unsafe,
            "notebook_timeout": args.notebook_timeout,
            "wall_factor": max(args.wall_factor, 1.0),
        },
        "SandboxedKernelManager": {
            "memory_mb": args.memory,
            "cpu_seconds": args.cpu,
            "use_cgroups": not args.without_cgroups,
        },
        "Autograde": {"create_student": True},
    }
    config = course_config(root, overrides)
    course = Course.at(root)
    if not course.source(args.assignment).is_dir():
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
    released = course.release_notebook(args.assignment)
    imported: list[str] = []  # who this run's import brought in (some perhaps with nothing gradable)
    if args.submissions:
        for nobody in (intake.NO_ID, intake.REFUSED, intake.RENAMED):  # what an earlier import said of no one
            state_path(root, args.assignment, nobody).unlink(missing_ok=True)
        source = args.submissions.resolve()
        if not source.exists():
            raise SystemExit(f"no such folder or zip of submissions: {args.submissions}")
        try:
            got_all = intake.import_submissions(
                source, args.assignment, course.submitted_dir, expected, args.id_pattern
            )
        except Exception as exc:  # noqa: BLE001 - a broken export stops the import, not the grading
            got_all = [intake.Intake(intake.REFUSED, [f"the import stopped: {type(exc).__name__}: {str(exc)[:160]}"])]
        for got in got_all:
            write_state(root, args.assignment, got.student, imported=got.notes, refused=[])
            imported.append(got.student)
    # Links and special files never reach nbgrader (which would follow them) nor a kernel,
    # whichever way a submission arrived (an LMS zip, nbgrader's exchange, a copy by hand).
    unsafe_ids = []  # folder names no id can have (nbgrader's exchange takes them from students): not graded
    for folder in sorted(course.submitted_dir.glob(f"*/{args.assignment}")):
        if problem := intake.id_problem(folder.parent.name):
            write_state(root, args.assignment, folder.parent.name, refused=[problem])
            unsafe_ids.append(folder.parent.name)
        elif notes := intake.remove_refused(folder):
            write_state(root, args.assignment, folder.parent.name, refused=notes)
    use_wal(url)
    ensure_assignment(root, args.assignment, config)
    reference.records_for(course.source(args.assignment), args.assignment, course.reference_cache)

    solution = reference.fingerprint(course.source(args.assignment))
    todo = select(root, args.assignment, args.student, args.force, shard, solution)
    started = time.monotonic()
    jobs = [Job(str(root), args.assignment, s, json.dumps(overrides)) for s in todo]
    print(
        f"grading {len(jobs)} submission(s) of {args.assignment} with {min(args.jobs, max(len(jobs), 1))} "
        f"worker(s){'' if args.unsafe else ', sandboxed'}",
        file=sys.stderr,
    )
    first_pass = run_pool(jobs, args.jobs, Progress(len(jobs)))
    outcomes = retry_timeouts_alone(jobs, first_pass, args.jobs, budget=max(time.monotonic() - started, 60.0))
    regraded = sum(1 for o in outcomes if any(p.startswith(REGRADED) for p in o.problems))
    for outcome in outcomes:
        try:
            found = intake.inspect(course.submitted(outcome.student, args.assignment), expected, released)
        except Exception as exc:  # noqa: BLE001 - a hostile file costs its own submission a line, no more
            found = [f"could not be inspected: {type(exc).__name__}: {str(exc)[:120]}"]
        write_state(
            root,
            args.assignment,
            outcome.student,
            key=submission_key(root, args.assignment, outcome.student, solution),
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
    print_summary(args.assignment, rows, scores, max_score, attention, len(jobs), seconds, regraded=regraded)
    feedback = course.root / course.directory.feedback_directory
    print(f"\nfeedback: {feedback}/<student>/{args.assignment}/   grades: {export}")
    return 0
