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
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import nbjson as nbformat_json

# The student id is the start of the file name, up to the first underscore or space
# (`jsmith_m1_value.ipynb`, `jsmith m1_value.ipynb`, `jsmith.ipynb`). Canvas puts its
# numeric user id second (`smithjane_12345_678_m1_value.ipynb`): pass
# --id-pattern '^[^_]+_(?:LATE_)?(?P<student_id>\d+)_' for that.
DEFAULT_ID_PATTERN = r"^(?P<student_id>[^_\s]+)"
NO_ID = "(no student id)"  # where files whose name holds no student id are reported
REFUSED = "(refused at import)"  # where links and special files nobody's submission can own are reported
SAFE_ID = re.compile(r"[^A-Za-z0-9._@+-]")
# What nbgrader's exchange adds to every submission it collects: not the student's files.
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")


@dataclass
class Intake:
    """What happened to one student's submission on the way in."""

    student: str
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024  # an honest notebook with its plots is well under 1 MB


class NotebookProblem(ValueError):
    """A file nbgrader cannot grade as this course's notebook; the message says why."""


def parse_notebook(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> dict:
    """A submitted notebook's JSON, read as the hostile data it may be: bounded in size,
    strict UTF-8, nested no deeper than Python's parser goes (deeper raises RecursionError,
    which must cost this file only), a JSON object that says nbformat 4."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise NotebookProblem(
                f"{path.name} is too large to grade ({size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.1f} MiB)"
            )
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NotebookProblem(f"{path.name} is not a notebook (not UTF-8 text at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise NotebookProblem(f"{path.name} is not a notebook (not JSON: {exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise NotebookProblem(f"{path.name} is not a notebook (its JSON is nested too deeply to read)") from None
    except OSError as exc:
        raise NotebookProblem(f"{path.name} cannot be read ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("nbformat") != 4:
        got = data.get("nbformat") if isinstance(data, dict) else type(data).__name__
        raise NotebookProblem(f"{path.name} is not a notebook in nbformat 4 (found {str(got)[:20]})")
    return data


def to_notebook(data: dict, name: str) -> nbformat.NotebookNode:
    """Parsed notebook JSON as nbformat reads it (multi-line strings joined), validated.
    Validation repairs duplicated cell ids in place: look for them first (``odd_cells``)."""
    try:
        nb = nbformat_json.to_notebook(data)
        nbformat.validate(nb)
    except RecursionError:
        raise NotebookProblem(f"{name} is not a valid notebook (nested too deeply)") from None
    except (nbformat.ValidationError, AttributeError, KeyError, TypeError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:80]
        raise NotebookProblem(f"{name} is not a valid notebook ({first})") from None
    return nb


def read_notebook(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> nbformat.NotebookNode:
    """A submitted notebook, parsed and validated as hostile data (``parse_notebook``)."""
    return to_notebook(parse_notebook(path, max_bytes), path.name)


def notebook_problem(path: Path) -> str | None:
    """Why nbgrader could not grade this file as a notebook, or None when it can."""
    try:
        read_notebook(path)
    except NotebookProblem as problem:
        return str(problem)
    return None


def odd_cells(data: dict) -> list[str]:
    """Cell-level oddities worth a person's look, from a notebook's JSON before validation
    (which would repair some): duplicated grade or cell ids (grading uses the instructor's
    cells, but which of two copies a reader sees is ambiguous), and attachments (files
    carried inside markdown cells)."""
    cells = [c for c in data.get("cells", []) if isinstance(c, dict)] if isinstance(data.get("cells"), list) else []
    notes = []
    grade_ids = [_nbgrader_meta(c).get("grade_id") for c in cells]
    if dup := sorted({g for g in grade_ids if isinstance(g, str) and grade_ids.count(g) > 1}):
        notes.append("duplicated grade ids (graded once, from the instructor's copy): " + ", ".join(dup[:6]))
    cell_ids = [c.get("id") for c in cells]
    if dup := sorted({i for i in cell_ids if isinstance(i, str) and cell_ids.count(i) > 1}):
        notes.append("duplicated cell ids: " + ", ".join(dup[:6]))
    if n := sum(1 for c in cells if c.get("attachments")):
        notes.append(f"attachments in {n} cell(s) (not graded)")
    return notes


def _nbgrader_meta(cell: dict) -> dict:
    """A cell's nbgrader metadata, or {} where a hostile notebook put something else there."""
    meta = cell.get("metadata", {})
    meta = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return meta if isinstance(meta, dict) else {}


def _nbgrader_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {meta["grade_id"]: c for c in nb.cells if isinstance((meta := _nbgrader_meta(c)).get("grade_id"), str)}


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
    extras = sorted(str(p.relative_to(folder)) for p in walk(folder)[0] if p.name not in (expected, *EXCHANGE_FILES))
    if extras:
        notes.append("extra files: " + ", ".join(extras[:5]) + (" …" if len(extras) > 5 else ""))
    try:
        data = parse_notebook(notebook)
        notes += odd_cells(data)
        submitted = to_notebook(data, notebook.name)
    except NotebookProblem as problem:
        return [*notes, f"unreadable: {problem}"]
    theirs = _nbgrader_cells(submitted)
    ours = _nbgrader_cells(nbformat.read(released, as_version=4))
    if deleted := [g for g in ours if g not in theirs]:
        notes.append("deleted grade cells (put back for grading): " + ", ".join(deleted[:6]))
    edited = [
        g
        for g, c in ours.items()
        if g in theirs
        and c.metadata.nbgrader.get("locked")
        and str(theirs[g].get("source", "")).strip() != c.source.strip()
    ]
    if edited:
        notes.append("edited read-only cells (graded from the instructor's copy): " + ", ".join(edited[:6]))
    keys = ("grade", "solution", "locked", "points", "task")
    changed = [
        g
        for g, c in ours.items()
        if g in theirs and any(_nbgrader_meta(theirs[g]).get(k) != c.metadata.nbgrader.get(k) for k in keys)
    ]
    if changed:
        notes.append("changed nbgrader metadata (graded from the instructor's copy): " + ", ".join(changed[:6]))
    return notes


def _kind(path: Path) -> str | None:
    """None for a regular file with one name; otherwise what it is instead. Links and
    special files are never followed: a symbolic link to the gradebook, a hard link to a
    solution or a FIFO that blocks a reader must cost their sender only."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    if stat.S_ISDIR(st.st_mode):
        return "a folder"
    if not stat.S_ISREG(st.st_mode):
        return "a special file"
    if st.st_nlink > 1:
        return "a hard link"
    return None


def _entries(folder: Path) -> list[tuple[Path, str | None]]:
    """Every entry under ``folder`` but real folders, with ``_kind``; links not followed."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        for name in [*filenames, *(d for d in dirnames if (here / d).is_symlink())]:
            found.append((here / name, _kind(here / name)))
    return sorted(found)


def walk(folder: Path) -> tuple[list[Path], dict[Path, str]]:
    """The regular files under ``folder`` (never following a link), and what each other
    entry is instead: a link, a special file, a folder reached through a link."""
    entries = _entries(folder)
    return [path for path, kind in entries if kind is None], {p: k for p, k in entries if k is not None}


def _refusal(path: Path, folder: Path, kind: str) -> str:
    return f"refused {path.relative_to(folder)}: {kind}"


def remove_refused(folder: Path) -> list[str]:
    """Delete from a submission folder (in ``submitted/``) every entry that is not a regular
    file, before anything reads it; one note each. Only the name goes, never a link's
    target (a hard link's other name stays too)."""
    notes = []
    for path, kind in _entries(folder):
        if kind is not None:
            path.unlink()
            notes.append(f"refused {path.relative_to(folder)}: {kind}")
    return notes


def fingerprint(folder: Path) -> str:
    """Content hash of a submission folder: what changed since it was last graded."""
    h = hashlib.sha256()
    for p in walk(folder)[0]:
        h.update(str(p.relative_to(folder)).encode() + b"\0")
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def id_problem(student: str) -> str | None:
    """Why the name of a folder in submitted/ cannot be graded as a student id, or None.
    nbgrader's formgrader pastes ids into its pages unescaped, and finds a student's folder
    with the id as a glob pattern; nbgrader's exchange takes the id from the name of a folder
    the student makes. An id is what an LMS import makes of a file name (``_student_id``)."""
    if student and not SAFE_ID.search(student):
        return None
    return (
        f"refused: {student!r} cannot be a student id (only letters, digits and ._@+-); "
        "rename the folder to the student's id to grade it"
    )


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
        zip_refused: list[str] = []
        with tempfile.TemporaryDirectory(prefix="course-import-") as tmp:
            with zipfile.ZipFile(source) as archive:
                for member in archive.infolist():
                    if member.is_dir() or "__MACOSX" in member.filename or ".." in Path(member.filename).parts:
                        continue
                    if not stat.S_ISREG(member.external_attr >> 16) and member.external_attr >> 16:
                        zip_refused.append(f"refused {member.filename}: not a regular file in the zip")
                        continue  # a symbolic link (zipfile would write it as a file holding its target)
                    archive.extract(member, tmp)
            top = [p for p in Path(tmp).iterdir()]
            root = (
                top[0]
                if len(top) == 1 and top[0].is_dir() and not _is_nbgrader_layout(Path(tmp), assignment)
                else Path(tmp)
            )
            intakes = import_submissions(root, assignment, submitted, expected, id_pattern)
        if zip_refused:
            intakes.append(Intake(REFUSED, zip_refused))
        return intakes
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is neither a folder nor a zip file of submissions")

    grouped: dict[str, list[tuple[Path, str]]] = {}
    unmatched: list[str] = []
    refused: dict[str, list[str]] = {}
    if _is_nbgrader_layout(source, assignment):
        for folder in sorted(source.glob(f"*/{assignment}")):
            if folder.is_symlink() or folder.parent.is_symlink():
                refused.setdefault(REFUSED, []).append(f"refused {folder.relative_to(source)}: a symbolic link")
                continue
            files, odd = walk(folder)
            grouped[folder.parent.name] = [(p, str(p.relative_to(folder))) for p in files]
            if odd:
                refused[folder.parent.name] = [_refusal(p, folder, kind) for p, kind in odd.items()]
    else:
        pattern = re.compile(id_pattern)
        files, odd = walk(source)
        for p, kind in odd.items():  # the student it names hears of it; else the import's own line
            refused.setdefault(_student_id(p.stem, pattern) or REFUSED, []).append(_refusal(p, source, kind))
        for p in (q for q in files if not q.name.startswith(".")):
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
    for student, named_files in sorted(grouped.items()):
        intake = Intake(student, list(refused.pop(student, [])))
        dest = submitted / student / assignment
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        _place(student, named_files, dest, expected, intake)
        intakes.append(intake)
    if unmatched:
        orphan = Intake(NO_ID, [f"skipped, no student id in the name: {', '.join(unmatched[:5])}"])
        intakes.append(orphan)
    intakes += [Intake(who, notes) for who, notes in refused.items()]
    return intakes
