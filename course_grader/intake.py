"""Bring submissions into nbgrader's `submitted/<student>/<assignment>/` layout.

Three shapes arrive: nbgrader's own layout (from `nbgrader collect` or the exchange), a
flat folder of files as a learning management system exports them (one notebook per
student, the student's id in the file name: `jsmith_m1_value.ipynb`), or a zip of either.
Whatever is odd about a submission (a renamed notebook, no notebook, a file that is not a
notebook, extra files) is kept, imported as well as it can be and reported, never
silently dropped: the instructor decides.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

# The student id is the start of the file name, up to the first underscore or space
# (`jsmith_m1_value.ipynb`, `jsmith m1_value.ipynb`, `jsmith.ipynb`). Canvas puts its
# numeric user id second (`smithjane_12345_678_m1_value.ipynb`): pass
# --id-pattern '^[^_]+_(?:LATE_)?(?P<student_id>\d+)_' for that.
DEFAULT_ID_PATTERN = r"^(?P<student_id>[^_\s]+)"
NO_ID = "(no student id)"  # where files whose name holds no student id are reported
SAFE_ID = re.compile(r"[^A-Za-z0-9._@+-]")
# What nbgrader's exchange adds to every submission it collects: not the student's files.
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")


@dataclass
class Intake:
    """What happened to one student's submission on the way in."""

    student: str
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def notebook_problem(path: Path) -> str | None:
    """Why nbgrader could not grade this file as a notebook, or None when it can."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"{path.name} is not a notebook ({type(exc).__name__})"
    except (nbformat.ValidationError, AttributeError, KeyError, TypeError, ValueError) as exc:
        return f"{path.name} is not a valid notebook ({str(exc).splitlines()[0][:80]})"
    return None


def _nbgrader_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {
        c.metadata.nbgrader["grade_id"]: c
        for c in nb.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    }


def inspect(folder: Path, expected: str, released: Path) -> list[str]:
    """What a person should know about a submission folder before trusting its grade:
    no notebook, one that cannot be read, extra files, and edits to what students must not
    change (grade cells deleted, read-only cells edited, nbgrader metadata changed).
    nbgrader already grades the latter against its own copy; this says who tried."""
    notes: list[str] = []
    if not folder.is_dir() or not any(folder.glob("*.ipynb")):
        return [f"missing notebook: no .ipynb in the submission (expected {expected})"]
    notebook = folder / expected
    if not notebook.exists():
        found = ", ".join(sorted(p.name for p in folder.glob("*.ipynb")))
        return [f"missing notebook: {expected} not found (found {found}); import the submission to rename it"]
    extras = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                    if p.is_file() and p.name not in (expected, *EXCHANGE_FILES))
    if extras:
        notes.append("extra files: " + ", ".join(extras[:5]) + (" …" if len(extras) > 5 else ""))
    if problem := notebook_problem(notebook):
        return [*notes, f"unreadable: {problem}"]
    theirs = _nbgrader_cells(nbformat.read(notebook, as_version=4))
    ours = _nbgrader_cells(nbformat.read(released, as_version=4))
    if deleted := [g for g in ours if g not in theirs]:
        notes.append("deleted grade cells (put back for grading): " + ", ".join(deleted[:6]))
    edited = [g for g, c in ours.items() if g in theirs and c.metadata.nbgrader.get("locked")
              and theirs[g].source.strip() != c.source.strip()]
    if edited:
        notes.append("edited read-only cells (graded from the instructor's copy): " + ", ".join(edited[:6]))
    keys = ("grade", "solution", "locked", "points", "task")
    changed = [g for g, c in ours.items() if g in theirs
               and any(theirs[g].metadata.nbgrader.get(k) != c.metadata.nbgrader.get(k) for k in keys)]
    if changed:
        notes.append("changed nbgrader metadata (graded from the instructor's copy): " + ", ".join(changed[:6]))
    return notes


def fingerprint(folder: Path) -> str:
    """Content hash of a submission folder: what changed since it was last graded."""
    h = hashlib.sha256()
    for p in sorted(q for q in folder.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _student_id(stem: str, pattern: re.Pattern[str]) -> str | None:
    m = pattern.search(stem)
    if not m or not m.group("student_id"):
        return None
    return SAFE_ID.sub("-", m.group("student_id").strip()).strip(".-") or None


def _is_nbgrader_layout(source: Path, assignment: str) -> bool:
    return any(p.is_dir() for p in source.glob(f"*/{assignment}"))


def _place(student: str, files: list[tuple[Path, str]], dest: Path, expected: str, intake: Intake) -> None:
    """Copy one student's files to dest/, the notebook under its expected name."""
    notebooks = [(p, name) for p, name in files if name.endswith(".ipynb")]
    if notebooks and not any(name == expected for _, name in notebooks):
        best = max(notebooks, key=lambda pn: (expected[: -len(".ipynb")] in pn[1], pn[0].stat().st_mtime))
        files = [(p, expected if (p, n) == best else n) for p, n in files]
        intake.notes.append(f"renamed notebook: graded {best[1]!r} as {expected!r}")
    for p, name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, target)
        intake.files.append(target)


def import_submissions(
    source: Path, assignment: str, submitted: Path, expected: str, id_pattern: str = DEFAULT_ID_PATTERN
) -> list[Intake]:
    """Copy every submission in `source` (folder or zip) into `submitted/`; one Intake each.

    A student already in `submitted/` is replaced by what `source` holds for them (a later
    export from the LMS is the newer submission); everyone else is left alone.
    """
    if source.is_file() and zipfile.is_zipfile(source):
        with tempfile.TemporaryDirectory(prefix="course-import-") as tmp:
            with zipfile.ZipFile(source) as archive:
                for member in archive.infolist():
                    if member.is_dir() or "__MACOSX" in member.filename or ".." in Path(member.filename).parts:
                        continue
                    archive.extract(member, tmp)
            top = [p for p in Path(tmp).iterdir()]
            root = top[0] if len(top) == 1 and top[0].is_dir() and not _is_nbgrader_layout(Path(tmp), assignment) \
                else Path(tmp)
            return import_submissions(root, assignment, submitted, expected, id_pattern)
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is neither a folder nor a zip file of submissions")

    grouped: dict[str, list[tuple[Path, str]]] = {}
    unmatched: list[str] = []
    if _is_nbgrader_layout(source, assignment):
        for folder in sorted(source.glob(f"*/{assignment}")):
            files = [(p, str(p.relative_to(folder))) for p in sorted(folder.rglob("*")) if p.is_file()]
            grouped[folder.parent.name] = files
    else:
        pattern = re.compile(id_pattern)
        for p in sorted(q for q in source.rglob("*") if q.is_file() and not q.name.startswith(".")):
            match = pattern.search(p.stem)
            student = _student_id(p.stem, pattern)
            if match is None or student is None:
                unmatched.append(p.name)
                continue
            rest = p.stem[match.end() :].lstrip("_- ")
            if not rest and p.suffix != ".ipynb":  # `README`, `index.html`: nobody's work
                unmatched.append(p.name)
                continue
            # `jsmith.ipynb` is jsmith's notebook; `jsmith_notes.txt` an extra file of theirs
            name = f"{rest}{p.suffix}" if rest else (expected if p.suffix == ".ipynb" else p.name)
            grouped.setdefault(student, []).append((p, name))

    intakes = []
    for student, files in sorted(grouped.items()):
        intake = Intake(student)
        dest = submitted / student / assignment
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        _place(student, files, dest, expected, intake)
        intakes.append(intake)
    if unmatched:
        orphan = Intake(NO_ID, [f"skipped, no student id in the name: {', '.join(unmatched[:5])}"])
        intakes.append(orphan)
    return intakes
