"""What was graded: one small JSON file per student and assignment under ``.grading/``,
keyed by the submission's files and the instructor solution, so a re-run grades only what
is new or changed, and remembers what was odd about each submission.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from course_grader.classgrade import intake
from course_grader.layout import Course


def submission_key(root: Path, assignment: str, student: str, solution: str) -> str:
    """What a grade depends on: the submission, and the solution it is judged against
    (`solution`: its fingerprint, hashed once a run, not once a student)."""
    return f"{intake.fingerprint(Course.at(root).submitted(student, assignment))}:{solution}"


def select(
    root: Path, assignment: str, students: list[str] | None, force: bool, shard: tuple[int, int], solution: str = ""
) -> list[str]:
    """The students to grade now: those named (or all), in this shard, new or changed
    since graded against the solution whose fingerprint is `solution`."""
    present = sorted(
        p.parent.name
        for p in Course.at(root).submitted_dir.glob(f"*/{assignment}")
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
    return [
        s
        for s in present
        if read_state(root, assignment, s).get("key") != submission_key(root, assignment, s, solution)
    ]


def state_path(root: Path, assignment: str, student: str) -> Path:
    """<course>/.grading/<assignment>/<student>.json: what was graded, what was odd. A name
    no file can have (a folder in submitted/ named past the file system's limit, with a
    slash-like or NUL character) is stored under a hash of it instead: writing its state
    must never stop the run."""
    plain = student not in ("", ".", "..") and not {"/", "\0"} & set(student)
    if not plain or len(student.encode(errors="surrogateescape")) > intake.MAX_ID_CHARS:
        student = "~" + hashlib.sha256(student.encode(errors="surrogateescape")).hexdigest()[:32]
    return Course.at(root).grading_state / assignment / f"{student}.json"


def read_state(root: Path, assignment: str, student: str) -> dict:
    try:
        state = json.loads(state_path(root, assignment, student).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def write_state(root: Path, assignment: str, student: str, **fields: object) -> None:
    path = state_path(root, assignment, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**read_state(root, assignment, student), **fields}, indent=1))
