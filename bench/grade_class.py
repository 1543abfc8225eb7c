"""Grading a whole class: the course command, sequential and parallel, against stock nbgrader.

    ./course python bench/grade_class.py [--students 100] [--assignment m1_value] [--jobs N]
                                         [--modes sequential,parallel,stock] [--keep]

A class of synthetic submissions is built in a flat, LMS-style folder
(`<student>_<assignment>.ipynb`), the same every run (seeded):

- ~60 % correct: the instructor's answers;
- ~30 % partly wrong: one of the milestone's pitfalls each (tests/variants), in turn;
- ~10 % broken, in turn: a file that is not JSON, a first solution cell that raises, an
  infinite loop at the top of one solution cell (it costs the per-cell timeout, 10 s here,
  and the cell's answer never runs), a kernel that exits (`os._exit(1)`) at the end of a
  later one.

Each mode grades the class in a fresh scratch copy of the course:

- sequential: `python -m course_grader.classgrade <a> <folder> --jobs 1` (the whole command:
  import, gradebook, reference records, autograde + feedback per student, CSV, summary);
- parallel: the same with `--jobs N`;
- stock: nbgrader as shipped, no judge and no sandbox (nbgrader's default autograde and
  feedback preprocessors restored in the scratch nbgrader_config.py): the same submissions
  imported into `submitted/`, `nbgrader generate_assignment`, then `nbgrader autograde`,
  `nbgrader generate_feedback` and `nbgrader export`, each timed;
- unsafe (not run unless asked): the parallel command with `--unsafe`, which shows what the
  sandbox costs.

Every mode uses a 10 s per-cell timeout. Then the scores are read back from each
gradebook and compared (parallel must equal sequential; the judged scores may be lower
than stock's, never higher, except where stock could not grade a submission at all), and
the times are printed. Figures are printed, never asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import nbformat  # noqa: E402
from conftest import copy_course  # noqa: E402  (tests/conftest.py: a scratch course)
from variants import apply_edits  # noqa: E402  (tests/variants)

from course_grader.classgrade import intake  # noqa: E402
from course_grader.layout import Course  # noqa: E402
from course_grader.measuring.submissions import fill, solution_cells  # noqa: E402

TIMEOUT = 10  # seconds per cell, in every mode
MODES = ("sequential", "parallel", "stock", "unsafe")
DEFAULT_MODES = "sequential,parallel,stock"
BROKEN = ("not_json", "raises_at_import", "infinite_loop", "kernel_crash")

STOCK_CONFIG = """

# --- bench/grade_class.py: stock nbgrader, no judge and no sandbox -----------------------
from nbgrader.converters import Autograde as _Autograde, GenerateFeedback as _GenerateFeedback

c.Autograde.autograde_preprocessors = list(_Autograde.class_traits()["autograde_preprocessors"].default())
c.GenerateFeedback.preprocessors = list(_GenerateFeedback.class_traits()["preprocessors"].default())
"""


@dataclass
class Student:
    id: str
    kind: str  # "correct", "pitfall:<name>" or "broken:<what>"


@dataclass
class Run:
    mode: str
    seconds: float  # the whole thing, as an instructor waits for it
    steps: dict[str, float] = field(default_factory=dict)  # where that time went
    scores: dict[str, float | None] = field(default_factory=dict)  # None: not graded
    max_score: float = 0.0
    notes: list[str] = field(default_factory=list)
    medians: dict[str, float] = field(default_factory=dict)  # per submission


# --------------------------------------------------------------------------- the class


def make_class(folder: Path, assignment: str, n: int, seed: int = 2024) -> list[Student]:
    """n submissions in a flat folder, 60 % correct, 30 % with one pitfall, 10 % broken."""
    folder.mkdir(parents=True, exist_ok=True)
    release = Course.at(ROOT).release_notebook(assignment)
    answers = solution_cells(Course.at(ROOT).source_notebook(assignment))
    pitfalls = importlib.import_module(f"variants.{assignment}").PITFALLS
    broken = round(0.1 * n)
    wrong = round(0.3 * n)
    kinds = [f"broken:{BROKEN[i % len(BROKEN)]}" for i in range(broken)]
    names = list(pitfalls)
    kinds += [f"pitfall:{names[i % len(names)]}" for i in range(wrong)]
    kinds += ["correct"] * (n - broken - wrong)
    random.Random(seed).shuffle(kinds)

    cells = list(answers)
    first, looping, crashing = cells[0], cells[len(cells) // 2], cells[(2 * len(cells)) // 3]
    students = []
    for i, kind in enumerate(kinds):
        student = Student(f"s{i + 1:03d}", kind)
        path = folder / f"{student.id}_{assignment}.ipynb"
        what = kind.partition(":")[2]
        if kind == "correct":
            nb = fill(release, answers)
        elif kind.startswith("pitfall:"):
            nb = fill(release, apply_edits(answers, pitfalls[what][0]))
        elif what == "not_json":
            path.write_text('{"cells": [ this is not json')
            students.append(student)
            continue
        elif what == "raises_at_import":
            nb = fill(release, {**answers, first: 'raise RuntimeError("half-finished")\n' + answers[first]})
        elif what == "infinite_loop":
            nb = fill(
                release,
                {**answers, looping: "while True:  # never gets to the answer\n    pass\n\n" + answers[looping]},
            )
        else:  # kernel_crash
            nb = fill(release, {**answers, crashing: answers[crashing] + "\n\nimport os\nos._exit(1)\n"})
        nbformat.write(nb, path)
        students.append(student)
    return students


# --------------------------------------------------------------------------- grading


def read_scores(course: Path, assignment: str, students: list[Student]) -> tuple[dict[str, float | None], float]:
    """Each student's total from the gradebook; None when nothing of theirs was graded."""
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, float | None] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        max_score = float(gb.find_assignment(assignment).max_score)
        for s in students:
            try:
                sub = gb.find_submission(assignment, s.id)
            except MissingEntry:
                scores[s.id] = None
                continue
            grades = [g for nb in sub.notebooks for g in nb.grades]
            graded = any(g.auto_score is not None or g.manual_score is not None for g in grades)
            scores[s.id] = float(sub.score) if graded else None
    return scores, max_score


def course_command(mode: str, course: Path, folder: Path, assignment: str, jobs: int, log: Path) -> Run:
    """The course's grading command, timed; its progress lines say where the time went."""
    cmd = [
        sys.executable,
        "-m",
        "course_grader.classgrade",
        assignment,
        str(folder),
        "--jobs",
        str(jobs),
        "--timeout",
        str(TIMEOUT),
        "--course",
        str(course),
        "--export",
        str(course / "grades.csv"),
    ]
    if mode == "unsafe":
        cmd.append("--unsafe")
    started = time.perf_counter()
    grading_from = None
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=course, stdout=out, stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:
            out.write(line)
            out.flush()  # the command's stdout goes to the same file
            if grading_from is None and line.startswith("grading "):
                grading_from = time.perf_counter()
        proc.wait()
    seconds = time.perf_counter() - started
    run = Run(mode, seconds)
    text = log.read_text()
    if proc.returncode != 0:
        run.notes.append(f"exit status {proc.returncode}: {text.strip().splitlines()[-1:]}")
    if grading_from is not None:
        run.steps["import, gradebook, reference records"] = grading_from - started
    if m := re.search(r"graded (\d+) submission\(s\) now in (\d+) s", text):
        run.steps[f"autograde + feedback of {m.group(1)} submission(s)"] = float(m.group(2))
        if grading_from is not None:
            run.steps["CSV export, summary"] = seconds - (grading_from - started) - float(m.group(2))
    if m := re.search(r"needs attention \((\d+)\)", text):
        run.notes.append(f"the command says {m.group(1)} submission(s) need attention")
    return run


def stock_nbgrader(course: Path, folder: Path, assignment: str, log: Path) -> Run:
    """nbgrader as shipped, one step after the other, each timed."""
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(STOCK_CONFIG)
    run = Run("stock", 0.0)
    with open(log, "w") as out:

        def nbgrader(step: str, *args: str) -> None:
            out.write(f"\n$ nbgrader {' '.join(args)}\n")
            out.flush()
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "nbgrader", *args], cwd=course, stdout=out, stderr=subprocess.STDOUT, check=False
            )
            run.steps[step] = time.perf_counter() - started
            if done.returncode != 0:  # expected of autograde: the broken submissions fail
                run.notes.append(f"nbgrader {args[0]} exited with status {done.returncode}")

        started = time.perf_counter()
        intake.import_submissions(folder, assignment, course / "submitted", f"{assignment}.ipynb")
        run.steps["import (course_grader.classgrade.intake)"] = time.perf_counter() - started
        with tempfile.TemporaryDirectory(prefix="stock-release-") as scratch:
            nbgrader(
                "generate_assignment",
                "generate_assignment",
                assignment,
                "--force",
                f"--CourseDirectory.release_directory={scratch}",
            )
        timeouts = (f"--Execute.timeout={TIMEOUT}", f"--ExecutePreprocessor.timeout={TIMEOUT}")
        nbgrader("autograde", "autograde", assignment, *timeouts)
        nbgrader("generate_feedback", "generate_feedback", assignment)
        nbgrader("export", "export", f"--to={course / 'grades.csv'}")
    failure = r"(?:error processing assignment:|While processing assignment) \S*/submitted/([^/\s]+)/"
    failed = sorted(set(re.findall(failure, log.read_text())))
    if failed:
        run.notes.append(f"nbgrader autograde could not grade {len(failed)} submission(s): {', '.join(failed)}")
    run.seconds = sum(run.steps.values())
    return run


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def per_submission(course: Path, assignment: str, one_at_a_time: bool, inline_feedback: bool) -> dict[str, float]:
    """Median seconds per submission, from the cells' execution timestamps and the files'
    times: before the first cell ran (nbgrader's setup, kernel start; only when one
    submission is graded at a time), the cells, after the last cell (judging, saving the
    grades, writing the notebook), the feedback the course command writes right after."""
    rows = []
    for path in (course / "autograded").glob(f"*/{assignment}/{assignment}.ipynb"):
        stamps = []
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.get("metadata", {}).get("execution", {})
            stamps += [_stamp(meta[k]) for k in ("iopub.execute_input", "shell.execute_reply") if k in meta]
        if not stamps:
            continue
        written = path.stat().st_mtime
        feedback = [p.stat().st_mtime for p in (course / "feedback" / path.parent.parent.name / assignment).glob("*")]
        rows.append((min(stamps), max(stamps), written, max(feedback) if feedback else None))
    rows.sort()
    out: dict[str, list[float]] = {}
    for i, (first, last, written, feedback) in enumerate(rows):
        if one_at_a_time and i:
            prev = rows[i - 1]
            # the course command writes the previous student's feedback before this one starts
            done = prev[3] if prev[3] is not None and prev[3] < first else prev[2]
            out.setdefault("before the first cell (setup, kernel start)", []).append(first - done)
        out.setdefault("running the cells", []).append(last - first)
        out.setdefault("after the last cell (judge if any, save grades)", []).append(written - last)
        if inline_feedback and feedback is not None and feedback >= written:
            out.setdefault("feedback", []).append(feedback - written)
    return {k: statistics.median(v) for k, v in out.items() if v}


# --------------------------------------------------------------------------- report


def band(score: float | None, max_score: float) -> str:
    if score is None:
        return "not graded"
    if score >= max_score:
        return "full marks"
    return "partial" if score > 0 else "zero"


def compare(runs: dict[str, Run], students: list[Student]) -> None:
    kinds = {s.id: s.kind for s in students}
    print("\nscores (from each gradebook)")
    for run in runs.values():
        counts = {b: 0 for b in ("full marks", "partial", "zero", "not graded")}
        for sid in kinds:
            counts[band(run.scores[sid], run.max_score)] += 1
        mean = sum(v or 0.0 for v in run.scores.values()) / max(len(kinds), 1)
        print(
            f"  {run.mode:<11} "
            + ", ".join(f"{n} {b}" for b, n in counts.items())
            + f"; mean {mean:.2f}/{run.max_score:g}"
        )

    groups: dict[str, list[str]] = {}
    for s in students:
        groups.setdefault(s.kind if s.kind.startswith("broken") else s.kind.partition(":")[0], []).append(s.id)
    print("\nmean score by kind of submission (n/g: not graded)")
    print(f"  {'kind':<25} {'n':>3}  " + "".join(f"{m:>16}" for m in runs))
    for kind, ids in sorted(groups.items()):
        cells = []
        for run in runs.values():
            got = [run.scores[i] for i in ids]
            graded = [v for v in got if v is not None]
            text = f"{sum(graded) / len(graded):.2f}" if graded else "-"
            if len(graded) < len(got):
                text += f" ({len(got) - len(graded)} n/g)"
            cells.append(f"{text:>16}")
        print(f"  {kind:<25} {len(ids):>3}  " + "".join(cells))

    if "sequential" in runs and "parallel" in runs:
        seq, par = runs["sequential"].scores, runs["parallel"].scores
        bad = [sid for sid in kinds if seq[sid] != par[sid]]
        print(f"\nparallel vs sequential: {len(bad)} mismatch(es) in {len(kinds)} students (must be 0)")
        for sid in bad:
            print(f"  {sid} ({kinds[sid]}): sequential {seq[sid]}, parallel {par[sid]}")
    judged = runs.get("sequential") or runs.get("parallel") or runs.get("unsafe")
    if judged and "stock" in runs:
        stock = runs["stock"].scores
        both = [sid for sid in kinds if judged.scores[sid] is not None and stock[sid] is not None]
        above = [sid for sid in both if judged.scores[sid] > stock[sid]]
        below = [sid for sid in both if judged.scores[sid] < stock[sid]]
        correct = [sid for sid in both if kinds[sid] == "correct"]
        unequal = [sid for sid in correct if judged.scores[sid] != stock[sid]]
        print(f"\njudged ({judged.mode}) vs stock, {len(both)} students graded by both:")
        print(f"  judged <= stock: {len(both) - len(above)}/{len(both)} (above stock: {len(above)}, must be 0)")
        print(f"  judged < stock: {len(below)} (the judge caught what stock's visible and hidden tests let through)")
        print(f"  correct submissions equal: {len(correct) - len(unequal)}/{len(correct)} (must be all)")
        for sid in above + unequal:
            print(f"    {sid} ({kinds[sid]}): judged {judged.scores[sid]}, stock {stock[sid]}")
        for sid in below:
            print(f"    lower: {sid} ({kinds[sid]}): judged {judged.scores[sid]}, stock {stock[sid]}")
        only = [sid for sid in kinds if (judged.scores[sid] is None) != (stock[sid] is None)]
        for sid in only:
            print(f"  graded by one only: {sid} ({kinds[sid]}): judged {judged.scores[sid]}, stock {stock[sid]}")


def timing_table(runs: dict[str, Run], n: int, jobs: int) -> None:
    rows: list[tuple[str, float]] = []
    labels = {
        "sequential": "course command, --jobs 1",
        "parallel": f"course command, --jobs {jobs}",
        "unsafe": f"course command, --jobs {jobs} --unsafe",
    }
    for mode in ("sequential", "parallel", "unsafe"):
        if mode in runs:
            rows.append((labels[mode], runs[mode].seconds))
    stock = runs.get("stock")
    ref = None
    if stock:
        auto = stock.steps["autograde"]
        full = auto + stock.steps["generate_feedback"] + stock.steps["export"]
        rows += [
            ("stock nbgrader: autograde only", auto),
            ("stock: autograde + feedback + export", full),
            ("stock: all (with import, generate_assignment)", stock.seconds),
        ]
        ref = full
    print(f"\ntimes for {n} submissions (wall clock)")
    head = f"  {'mode':<47} {'seconds':>8} {'s/sub':>7}"
    if ref:
        head += f" {'stock/mode':>11} {'mode/stock':>11}   (stock = autograde + feedback + export)"
    print(head)
    for label, seconds in rows:
        line = f"  {label:<47} {seconds:8.1f} {seconds / n:7.2f}"
        if ref:
            line += f" {ref / seconds:10.2f}x {seconds / ref:10.2f}x"
        print(line)
    if "sequential" in runs and "parallel" in runs:
        print(
            f"  speed-up of --jobs {jobs} over --jobs 1: {runs['sequential'].seconds / runs['parallel'].seconds:.2f}x"
        )
    if stock:
        auto = stock.steps["autograde"]
        for mode in ("sequential", "parallel", "unsafe"):
            if mode in runs:
                print(f"  {labels[mode]} vs stock autograde only: {runs[mode].seconds / auto:.2f}x the time")
    print("\nwhere the time went")
    for run in runs.values():
        print(f"  {run.mode}:")
        for step, seconds in run.steps.items():
            print(f"    {step:<48} {seconds:8.1f} s")
        for step, seconds in run.medians.items():
            print(f"    per submission, median: {step:<48} {seconds:6.2f} s")
        for note in run.notes:
            print(f"    note: {note}")


def machine() -> str:
    import nbgrader

    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    return (
        f"machine: {os.cpu_count()} cores ({platform.machine()}, {platform.platform()}), "
        f"Python {platform.python_version()}, nbgrader {nbgrader.__version__}, bwrap "
        f"{'yes' if shutil.which('bwrap') else 'no'}; load average {', '.join(f'{x:.2f}' for x in load)}"
    )


# --------------------------------------------------------------------------- main


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=100, help="class size (default 100)")
    p.add_argument("--assignment", default="m1_value", help="milestone (default m1_value)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="workers of the parallel mode (all cores)")
    p.add_argument(
        "--modes", default=DEFAULT_MODES, help=f"comma-separated subset of {', '.join(MODES)} (default {DEFAULT_MODES})"
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch folders (courses, class, logs)")
    args = p.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - set(MODES):
        p.error(f"unknown mode(s): {', '.join(sorted(unknown))}")

    base = Path(tempfile.mkdtemp(prefix="grade-class-"))
    print(machine())
    print(f"scratch: {base}{'' if args.keep else ' (removed at the end; --keep keeps it)'}")
    try:
        folder = base / "class"
        students = make_class(folder, args.assignment, args.students)
        counts: dict[str, int] = {}
        for s in students:
            counts[s.kind.partition(":")[0]] = counts.get(s.kind.partition(":")[0], 0) + 1
        broken = sorted({s.kind for s in students if s.kind.startswith("broken")})
        print(
            f"class: {len(students)} submissions of {args.assignment} in {folder}: "
            + ", ".join(f"{n} {k}" for k, n in counts.items())
            + f" ({', '.join(b.partition(':')[2] for b in broken)}); per-cell timeout {TIMEOUT} s",
            flush=True,
        )

        runs: dict[str, Run] = {}
        for mode in modes:
            course = copy_course(base / mode)
            log = base / f"{mode}.log"
            print(f"\n[{time.strftime('%H:%M:%S')}] {mode}: grading in {course} (log {log})", flush=True)
            if mode == "stock":
                run = stock_nbgrader(course, folder, args.assignment, log)
            else:
                run = course_command(
                    mode, course, folder, args.assignment, 1 if mode == "sequential" else args.jobs, log
                )
            run.scores, run.max_score = read_scores(course, args.assignment, students)
            one_at_a_time = mode == "stock" or mode == "sequential" or args.jobs == 1
            run.medians = per_submission(course, args.assignment, one_at_a_time, mode != "stock")
            runs[mode] = run
            print(f"[{time.strftime('%H:%M:%S')}] {mode}: {run.seconds:.1f} s", flush=True)

        compare(runs, students)
        timing_table(runs, len(students), args.jobs)
        print("\n" + machine())
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
