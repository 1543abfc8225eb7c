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
import struct
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import nbformat
from nbformat.v4 import nbjson as nbformat_json

# The student id is the start of the file name, up to the first underscore or space
# (`jsmith_m1_value.ipynb`, `jsmith m1_value.ipynb`, `jsmith.ipynb`). Canvas puts its
# numeric user id second (`smithjane_12345_678_m1_value.ipynb`): pass
# --id-pattern '^[^_]+_(?:LATE_)?(?P<student_id>\d+)_' for that.
DEFAULT_ID_PATTERN = r"^(?P<student_id>[^_\s]+)"
NO_ID = "(no student id)"  # where files whose name holds no student id are reported
REFUSED = "(refused at import)"  # where links and special files nobody's submission can own are reported
RENAMED = "(names changed at import)"  # zip members imported under another name (too long, not UTF-8)
SAFE_ID = re.compile(r"[^A-Za-z0-9._@+-]")
MAX_ID_CHARS = 128  # an LMS id or an e-mail address fits; a file name of it (.grading/<id>.json) too
# A file name longer than this (in bytes) is shortened at import: most file systems stop at
# 255, and the notebook's name is rewritten to the assignment's anyway.
MAX_NAME_BYTES = 200
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one file of a zip, uncompressed: twice the largest notebook
MAX_ARCHIVE_BYTES = 2 * 1024 * 1024 * 1024  # everything a zip unpacks to: a class of large notebooks
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
        h.update(os.fsencode(p.relative_to(folder)) + b"\0")  # a name need not be UTF-8
        try:
            with p.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError as exc:  # unreadable: it counts as changed until it can be read
            h.update(f"unreadable {exc.errno} {os.urandom(8).hex()}".encode())
        h.update(b"\0")
    return h.hexdigest()


def id_problem(student: str) -> str | None:
    """Why the name of a folder in submitted/ cannot be graded as a student id, or None.
    nbgrader's formgrader pastes ids into its pages unescaped, and finds a student's folder
    with the id as a glob pattern; nbgrader's exchange takes the id from the name of a folder
    the student makes. An id is what an LMS import makes of a file name (``clean_id``)."""
    if student and not SAFE_ID.search(student) and len(student) <= MAX_ID_CHARS:
        return None
    shown = student if len(student) <= 60 else f"{student[:40]}… ({len(student)} characters)"
    return (
        f"refused: {shown!r} cannot be a student id (only letters, digits and ._@+-, at most {MAX_ID_CHARS}); "
        "rename the folder to the student's id to grade it"
    )


def clean_id(raw: str) -> str | None:
    """The student id a file name's id part becomes: accents folded to their letters
    (``josé`` -> ``jose``), anything else outside SAFE_ID made a dash, dots and dashes
    trimmed from the ends. None when nothing is left or the id is too long to be one."""
    folded = unicodedata.normalize("NFKD", raw.strip()).encode("ascii", "ignore").decode()
    cleaned = SAFE_ID.sub("-", folded).strip(".-")
    return cleaned if cleaned and len(cleaned) <= MAX_ID_CHARS else None


def _raw_id(stem: str, pattern: re.Pattern[str]) -> tuple[str, int] | None:
    """The id part of a file name as written, and where the rest of the name begins."""
    m = pattern.search(stem)
    if not m or not m.group("student_id"):
        return None
    return m.group("student_id").strip(), m.end()


def _is_nbgrader_layout(source: Path, assignment: str) -> bool:
    return any(p.is_dir() for p in source.glob(f"*/{assignment}"))


def _place(student: str, files: list[tuple[Path, str]], dest: Path, expected: str, intake: Intake) -> None:
    """Copy one student's files to dest/, the notebook under its expected name. A file that
    cannot be copied (a name the file system refuses, a read error) costs a line, no more."""
    notebooks = [(p, name) for p, name in files if name.endswith(".ipynb")]
    if notebooks and not any(name == expected for _, name in notebooks):
        best = max(notebooks, key=lambda pn: (expected[: -len(".ipynb")] in pn[1], pn[0].stat().st_mtime))
        files = [(p, expected if (p, n) == best else n) for p, n in files]
        intake.notes.append(f"renamed notebook: graded {printable_name(best[1])!r} as {expected!r}")
    for p, name in files:
        target = dest / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, target)
        except (OSError, ValueError) as exc:
            intake.notes.append(f"not imported: {name!r} ({_why(exc)})")
            continue
        intake.files.append(target)


class MemberProblem(ValueError):
    """Why one member of a zip is not unpacked, in words for the summary."""


def _why(exc: BaseException) -> str:
    if isinstance(exc, MemberProblem):
        return str(exc)
    return getattr(exc, "strerror", None) or f"{type(exc).__name__}: {str(exc)[:80]}"


def _mib(n: int) -> str:
    return f"{n / 2**20:.3g} MiB"


def short_name(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """``name`` if its UTF-8 form fits in ``limit`` bytes, else its start, a hash of the
    whole (two long names stay two) and its extension: the student id at the start and the
    kind of file at the end survive."""
    if len(name.encode(errors="surrogateescape")) <= limit:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix.encode(errors="surrogateescape")) > 16:
        stem, suffix = name, ""
    digest = hashlib.sha256(name.encode(errors="surrogateescape")).hexdigest()[:10]
    tail = f"~{digest}" + (f".{suffix}" if suffix else "")
    room = limit - len(tail.encode(errors="surrogateescape"))
    head = stem.encode(errors="surrogateescape")[:room].decode(errors="ignore")
    return head + tail


def _member_parts(name: str) -> list[str]:
    """A zip member's path as safe parts under the extraction folder: separators of either
    kind, a drive or a leading / dropped. Raises MemberProblem for ``..`` or a NUL."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if parts and re.fullmatch(r"[A-Za-z]:", parts[0]):
        parts = parts[1:]
    if ".." in parts:
        raise MemberProblem("its path leads out of the archive (..)")
    if any("\0" in p for p in parts):
        raise MemberProblem("its name holds a NUL character")
    return parts


def _copy_bounded(src: IO[bytes], target: Path, limit: int) -> int:
    """Stream a member to ``target`` (a new file: never one another member made), never past
    ``limit`` bytes whatever its header says (a zip bomb declares a small size); the bytes
    written. A member that fails part way leaves nothing."""
    written = 0
    with target.open("xb") as out:
        try:
            for block in iter(lambda: src.read(1 << 20), b""):
                written += len(block)
                if written > limit:
                    raise MemberProblem(
                        f"larger than {_mib(limit)} unpacked (the limit for one file, or what was left of the zip's)"
                    )
                out.write(block)
        except BaseException:
            out.close()
            target.unlink(missing_ok=True)
            raise
    return written


def _names_readable(source: Path, scratch: Path) -> tuple[Path, int]:
    """``source``, or a copy of it in ``scratch`` whose members whose names are flagged as
    UTF-8 but are not have the flag cleared (their names then read as code page 437, as
    zip's default): Python's zipfile refuses to open an archive with one such name, which
    would cost the whole class its import. The number of names so read."""
    data = bytearray(source.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(data):
        return source, 0
    size, offset = struct.unpack_from("<II", data, end + 12)
    fixed = 0
    at = offset
    while at + 46 <= min(offset + size, len(data)) and data[at : at + 4] == b"PK\x01\x02":
        (flags,) = struct.unpack_from("<H", data, at + 8)
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        name = bytes(data[at + 46 : at + 46 + name_len])
        if flags & 0x800:
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                struct.pack_into("<H", data, at + 8, flags & ~0x800)
                fixed += 1
        at += 46 + name_len + extra_len + comment_len
    if not fixed:
        return source, 0
    copy = scratch / "names-read.zip"
    copy.write_bytes(bytes(data))
    return copy, fixed


def extract_zip(source: Path, dest: Path) -> list[str]:
    """Unpack the regular files of a zip into ``dest``; one refusal line per member that
    cannot be: a link or special file, a path out of the archive, a name the file system
    refuses (long names are shortened instead), a name that two members share, a member
    that is corrupt, encrypted or too large unpacked, or past the archive's total. Members
    with no file-type bits (as Python's ``zipfile.writestr`` writes them) are files."""
    try:
        return _extract(source, dest)
    except UnicodeDecodeError:  # raised opening the archive, before anything is unpacked
        pass
    with tempfile.TemporaryDirectory(prefix="course-zip-") as scratch:
        readable, renamed = _names_readable(source, Path(scratch))
        if not renamed:
            raise zipfile.BadZipFile("a member's name cannot be read")
        note = f"{renamed} member name(s) of the zip are not the UTF-8 they claim: read as code page 437"
        return [note, *_extract(readable, dest)]


def _where(name: str) -> tuple[str, ...] | None:
    """Where a member lands under the extraction folder (the key two members collide on:
    ``x`` and ``./x``, ``a/x`` and ``a\\x``, ``X`` and ``x`` on a case-insensitive disk), or
    None for a name that cannot be unpacked (``_member_parts`` says why)."""
    try:
        return tuple(short_name(p).casefold() for p in _member_parts(name))
    except MemberProblem:
        return None


def _extract(source: Path, dest: Path) -> list[str]:
    refused: list[str] = []
    total = 0
    with zipfile.ZipFile(source) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        counts: dict[tuple[str, ...] | None, int] = {}
        for m in members:
            counts[_where(m.filename)] = counts.get(_where(m.filename), 0) + 1
        for member in members:
            shown = printable_name(member.filename)
            mode = member.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if kind == stat.S_IFDIR:
                continue
            if "__MACOSX" in member.filename.split("/"):
                refused.append(f"skipped {shown}: macOS's own data about a file, not a submission")
                continue
            if kind not in (0, stat.S_IFREG):  # 0: no type bits, as zipfile.writestr writes them
                refused.append(f"refused {shown}: not a regular file in the zip")
                continue  # a symbolic link (zipfile would write it as a file holding its target)
            if (where := _where(member.filename)) is not None and counts[where] > 1:
                refused.append(f"refused {shown}: {counts[where]} members of the zip would be this one file")
                continue
            try:
                parts = _member_parts(member.filename)
                if not parts:
                    refused.append(f"skipped {shown}: its name is empty")
                    continue
                safe = [short_name(p) for p in parts]
                target = dest.joinpath(*safe)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src:
                    total += _copy_bounded(src, target, min(MAX_MEMBER_BYTES, MAX_ARCHIVE_BYTES - total))
                if safe != parts:
                    short = printable_name(safe[-1])
                    refused.append(f"shortened the name of {shown} (too long for a file name) to {short!r}")
            except Exception as exc:  # noqa: BLE001 - whatever one member does costs that member only
                refused.append(f"refused {shown}: {_why(exc)}")
    return refused


def printable_name(name: str) -> str:
    """A name from a submission, bounded for a summary line (one a file system refuses,
    past 255 bytes, is cut; an odd but possible one is shown whole, escapes and all)."""
    return name if len(name) <= 160 else f"{name[:120]}…({len(name)} characters)"


def _conflicts(by_student: dict[str, list[tuple[Path, str, str]]], source: Path) -> dict[str, str]:
    """The students whose files cannot be told apart, and why: two ids as written that
    clean to one (``alice`` and ``alice~``, ``josé`` and ``josè``, ``Ann`` and ``ann``, which
    a case-insensitive file system would merge), or two files that would both be one file
    of the same student (``jsmith.ipynb`` and ``jsmith_m1_value.ipynb``)."""
    found = {}
    for student, files in by_student.items():
        raws = sorted({raw for _, raw, _ in files})
        targets: dict[str, list[Path]] = {}
        for path, _, name in files:
            targets.setdefault(name, []).append(path)
        same = next((paths for paths in targets.values() if len(paths) > 1), None)
        if len(raws) > 1:
            names = ", ".join(repr(printable_name(str(p.relative_to(source)))) for p, _, _ in files)
            found[student] = f"the ids {', '.join(map(repr, raws))} all become {student!r} (files {names})"
        elif same:
            names = ", ".join(repr(printable_name(str(p.relative_to(source)))) for p in same)
            found[student] = f"{names} would both be {student!r}'s {printable_name(Path(same[0]).name)!r}"
    return found


def _some(names: list[str], shown: int = 8) -> str:
    """Names for one summary line: all of a few, the first of many and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


CLASH = (
    "not imported: {why}; which is this student's is not clear. Rename the files to distinct "
    "ids (or remove the wrong one) and import again"
)


def import_submissions(
    source: Path, assignment: str, submitted: Path, expected: str, id_pattern: str = DEFAULT_ID_PATTERN
) -> list[Intake]:
    """Copy every submission in `source` (folder or zip) into `submitted/`; one Intake each.

    A student already in `submitted/` is replaced by what `source` holds for them (a later
    export from the LMS is the newer submission, and the Intake says it replaced one);
    everyone else is left alone. Files that would become the same student under different
    ids are never merged: that student is not imported (a submission already there stays)
    and the Intake names the files.
    """
    if source.is_file() and zipfile.is_zipfile(source):
        with tempfile.TemporaryDirectory(prefix="course-import-") as tmp:
            try:
                zip_refused = extract_zip(source, Path(tmp))
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
                return [Intake(REFUSED, [f"could not read the zip {source.name}: {_why(exc)}"])]
            top = [p for p in Path(tmp).iterdir()]
            root = (
                top[0]
                if len(top) == 1 and top[0].is_dir() and not _is_nbgrader_layout(Path(tmp), assignment)
                else Path(tmp)
            )
            intakes = import_submissions(root, assignment, submitted, expected, id_pattern)
        renamed = [n for n in zip_refused if not n.startswith(("refused ", "skipped "))]
        if renamed:
            intakes.append(Intake(RENAMED, renamed))
        if refused_here := [n for n in zip_refused if n not in renamed]:
            intakes.append(Intake(REFUSED, refused_here))
        return intakes
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is neither a folder nor a zip file of submissions")

    grouped: dict[str, list[tuple[Path, str, str]]] = {}  # student -> (file, id as written, name there)
    unmatched: list[str] = []
    hidden: list[str] = []  # .DS_Store, .alice_m1_value.ipynb: named, never imported
    elsewhere: list[str] = []  # in an nbgrader layout, files outside any <student>/<assignment>/
    refused: dict[str, list[str]] = {}
    if _is_nbgrader_layout(source, assignment):
        inside = {f for folder in source.glob(f"*/{assignment}") for f in walk(folder)[0]}
        elsewhere = [printable_name(str(p.relative_to(source))) for p in walk(source)[0] if p not in inside]
        for folder in sorted(source.glob(f"*/{assignment}")):
            if folder.is_symlink() or folder.parent.is_symlink():
                refused.setdefault(REFUSED, []).append(f"refused {folder.relative_to(source)}: a symbolic link")
                continue
            files, odd = walk(folder)
            student = folder.parent.name
            grouped[student] = [(p, student, str(p.relative_to(folder))) for p in files]
            if odd:
                refused[student] = [_refusal(p, folder, kind) for p, kind in odd.items()]
    else:
        pattern = re.compile(id_pattern)
        files, odd = walk(source)
        for p, kind in odd.items():  # the student it names hears of it; else the import's own line
            raw = _raw_id(p.stem, pattern)
            who = clean_id(raw[0]) if raw else None
            refused.setdefault(who or REFUSED, []).append(_refusal(p, source, kind))
        hidden = [printable_name(str(q.relative_to(source))) for q in files if q.name.startswith(".")]
        for p in (q for q in files if not q.name.startswith(".")):
            raw = _raw_id(p.stem, pattern)
            made = clean_id(raw[0]) if raw else None
            if raw is None or made is None:
                unmatched.append(printable_name(p.name))
                continue
            rest = p.stem[raw[1] :].lstrip("_- ")
            if not rest and p.suffix != ".ipynb":  # `README`, `index.html`: nobody's work
                unmatched.append(printable_name(p.name))
                continue
            # `jsmith.ipynb` is jsmith's notebook; `jsmith_notes.txt` an extra file of theirs
            name = f"{rest}{p.suffix}" if rest else (expected if p.suffix == ".ipynb" else p.name)
            grouped.setdefault(made, []).append((p, raw[0], name))
    # one folder per id, whatever the case: a case-insensitive file system would merge Ann and ann
    by_fold: dict[str, list[str]] = {}
    for student in grouped:
        by_fold.setdefault(student.casefold(), []).append(student)
    for same in (s for s in by_fold.values() if len(s) > 1):
        for student in same[1:]:
            grouped[same[0]] += grouped.pop(student)
    clashes = _conflicts(grouped, source)

    intakes = []
    for student, named_files in sorted(grouped.items()):
        intake = Intake(student, list(refused.pop(student, [])))
        dest = submitted / student / assignment
        intakes.append(intake)
        if student in clashes:
            intake.notes.insert(0, CLASH.format(why=clashes[student]))
            if dest.exists():
                intake.notes.append("the submission an earlier import brought stays as it was")
            continue
        before = fingerprint(dest) if dest.is_dir() else None
        try:
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
        except OSError as exc:
            intake.notes.insert(0, f"not imported: its folder could not be made ({_why(exc)})")
            continue
        _place(student, [(p, name) for p, _, name in named_files], dest, expected, intake)
        if before is not None and fingerprint(dest) != before:
            intake.notes.append("replaced the submission an earlier import brought (its files differ)")
        raw_ids = {raw for _, raw, _ in named_files}
        if raw_ids != {student}:
            intake.notes.append(f"student id {student!r} made from the file name's {sorted(raw_ids)[0]!r}")
    skipped = [
        ("skipped, no student id in the name", unmatched),
        ("skipped, hidden files (their names start with a dot)", hidden),
        (f"skipped, not in a <student>/{assignment}/ folder", elsewhere),
    ]
    if lines := [f"{why}: {_some(names)}" for why, names in skipped if names]:
        intakes.append(Intake(NO_ID, lines))
    intakes += [Intake(who, notes) for who, notes in refused.items()]
    return intakes
