"""Submissions in every shape an LMS or nbgrader hands over, brought into nbgrader's layout."""

import json
import os
import re
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import COURSE

from course_grader.classgrade import intake
from course_grader.measuring.submissions import fill, solution_cells

pytestmark = pytest.mark.unit

M = "m1_value"
EXPECTED = f"{M}.ipynb"
RELEASE = COURSE.release_notebook(M)


def notebook(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(fill(RELEASE, solution_cells(COURSE.source_notebook(M))), path)
    return path


def notes(intakes: list[intake.Intake]) -> dict[str, list[str]]:
    return {i.student: i.notes for i in intakes}


def test_flat_lms_export(tmp_path):
    src = tmp_path / "export"
    notebook(src / f"jsmith_{M}.ipynb")
    notebook(src / "ada.ipynb")  # just the id: it is that student's notebook
    notebook(src / "bob_Copy of m1 (2).ipynb")
    notebook(src / f".hidden_{M}.ipynb")
    (src / ".DS_Store").write_bytes(b"\0")
    (src / "bob_notes.txt").parent.mkdir(exist_ok=True)
    (src / "bob_notes.txt").write_text("notes")
    (src / "README").write_text("no id in this name")
    got = notes(intake.import_submissions(src, M, tmp_path / "submitted", EXPECTED, r"^(?P<student_id>[^_\s.]+)"))
    assert got["jsmith"] == [] and got["ada"] == []
    assert got["bob"] == ["renamed notebook: graded 'Copy of m1 (2).ipynb' as 'm1_value.ipynb'"]
    for student in ("jsmith", "ada", "bob"):
        assert (tmp_path / "submitted" / student / M / EXPECTED).exists(), student
    assert (tmp_path / "submitted" / "bob" / M / "notes.txt").read_text() == "notes"
    assert got[intake.NO_ID] == [
        "skipped, no student id in the name: README",
        f"skipped, hidden files (their names start with a dot): .DS_Store, .hidden_{M}.ipynb",
    ]
    assert sorted(p.name for p in (tmp_path / "submitted").iterdir()) == ["ada", "bob", "jsmith"]
    assert intake.inspect(tmp_path / "submitted" / "bob" / M, EXPECTED, RELEASE) == ["extra files: notes.txt"]


def test_canvas_names_with_an_id_pattern(tmp_path):
    src = tmp_path / "export"
    notebook(src / f"smithjane_12345_678910_{M}.ipynb")
    notebook(src / f"doejohn_LATE_23456_678911_{M}.ipynb")
    pattern = r"^[^_]+_(?:LATE_)?(?P<student_id>\d+)_"
    got = notes(intake.import_submissions(src, M, tmp_path / "submitted", EXPECTED, pattern))
    assert sorted(got) == ["12345", "23456"]
    assert got["12345"] == ["renamed notebook: graded '678910_m1_value.ipynb' as 'm1_value.ipynb'"]
    assert (tmp_path / "submitted" / "23456" / M / EXPECTED).exists()


def test_zip_of_nbgrader_layout_and_a_later_import_replaces_only_those_students(tmp_path):
    layout = tmp_path / "collected"
    notebook(layout / "ann" / M / EXPECTED)
    notebook(layout / "ben" / M / EXPECTED)
    (layout / "ben" / M / "timestamp.txt").write_text("2026-11-20 10:00:00 UTC")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in layout.rglob("*"):
            z.write(p, Path("collected") / p.relative_to(layout))
    submitted = tmp_path / "submitted"
    notebook(submitted / "cid" / M / EXPECTED)  # already there, not in the zip: kept
    got = notes(intake.import_submissions(archive, M, submitted, EXPECTED))
    assert sorted(got) == ["ann", "ben"]
    (layout / "loose.txt").write_text("whose?")
    got = notes(intake.import_submissions(layout, M, submitted, EXPECTED))
    assert got[intake.NO_ID] == [f"skipped, not in a <student>/{M}/ folder: loose.txt"]
    assert (submitted / "ben" / M / "timestamp.txt").exists() and (submitted / "cid" / M / EXPECTED).exists()


def test_inspect_names_what_a_person_should_look_at(tmp_path):
    folder = tmp_path / "s" / M
    assert intake.inspect(folder, EXPECTED, RELEASE)[0].startswith("missing notebook")
    folder.mkdir(parents=True)
    (folder / EXPECTED).write_text("{not json")
    assert intake.inspect(folder, EXPECTED, RELEASE)[0].startswith("unreadable: m1_value.ipynb is not a")
    nb = nbformat.read(notebook(folder / EXPECTED), as_version=4)
    assert intake.inspect(folder, EXPECTED, RELEASE) == []
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    nb.cells.remove(by_id["test_add"])
    by_id["check_mul"].source = "pass"
    by_id["test_div"].metadata.nbgrader["points"] = 99
    nbformat.write(nb, folder / EXPECTED)
    assert intake.inspect(folder, EXPECTED, RELEASE) == [
        "deleted grade cells (put back for grading): test_add",
        "edited read-only cells (graded from the instructor's copy): check_mul",
        "changed nbgrader metadata (graded from the instructor's copy): test_div",
    ]
    (folder / EXPECTED).rename(folder / "mine.ipynb")
    assert "m1_value.ipynb not found (found mine.ipynb)" in intake.inspect(folder, EXPECTED, RELEASE)[0]


def test_fingerprint_changes_with_any_file(tmp_path):
    folder = tmp_path / "s"
    notebook(folder / EXPECTED)
    before = intake.fingerprint(folder)
    assert intake.fingerprint(folder) == before
    (folder / "extra.py").write_text("x = 1")
    assert intake.fingerprint(folder) != before


# --------------------------------------------------------------------------- hostile files


def test_a_hostile_notebook_file_is_named_never_raised(tmp_path):
    """Each costs its own submission a clear line: nothing raises out of the reader."""
    good = notebook(tmp_path / "good.ipynb")
    cases = {
        "deep.ipynb": (
            '{"cells": [], "metadata": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}, "
            '"nbformat": 4, "nbformat_minor": 5}'
        ).encode(),
        "latin1.ipynb": good.read_bytes().replace(b"Value", "Valu\u00e9".encode("latin-1"), 1),
        "v3.ipynb": b'{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}',
        "list.ipynb": b"[1, 2, 3]",
        "invalid.ipynb": b'{"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "bogus"}], "metadata": {}}',
        "huge.ipynb": good.read_bytes() + b" " * 4096,
    }
    expected = {
        "deep.ipynb": "nested too deeply",
        "latin1.ipynb": "not UTF-8 text",
        "v3.ipynb": "not a notebook in nbformat 4 (found 3)",
        "list.ipynb": "not a notebook in nbformat 4 (found list)",
        "invalid.ipynb": "is not a valid notebook",
        "huge.ipynb": "too large to grade",
    }
    limit = good.stat().st_size + 1024  # the huge one is just past it
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(intake.NotebookProblem, match=re.escape(expected[name])):
            intake.read_notebook(path, max_bytes=limit if name == "huge.ipynb" else intake.MAX_NOTEBOOK_BYTES)
    assert intake.read_notebook(good, max_bytes=limit).cells


def test_inspect_survives_hostile_metadata_and_names_duplicates_and_attachments(tmp_path):
    folder = tmp_path / "s" / M
    nb = nbformat.read(notebook(folder / EXPECTED), as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    nb.cells.append(nbformat.from_dict({**graded[0], "id": "copy-of-a-grade-cell"}))
    nb.cells[0].metadata["nbgrader"] = ["not", "a", "dict"]
    nb.cells[1].id = nb.cells[2].id
    nb.cells[3] = nbformat.v4.new_markdown_cell("![x](attachment:x.png)", attachments={"x.png": {"image/png": "AA=="}})
    (folder / EXPECTED).write_text(json.dumps(nb))  # nbformat.write would repair the duplicated id
    got = intake.inspect(folder, EXPECTED, RELEASE)
    grade_id = graded[0].metadata.nbgrader.grade_id
    assert f"duplicated grade ids (graded once, from the instructor's copy): {grade_id}" in got
    assert f"duplicated cell ids: {nb.cells[2].id}" in got
    assert "attachments in 1 cell(s) (not graded)" in got


def _hostile_export(src: Path, outside: Path) -> None:
    """A flat LMS export with a link to a file outside, a link to a folder, a FIFO and a
    hard link, beside an honest notebook."""
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "gradebook.db").write_text("secret")
    notebook(src / f"honest_{M}.ipynb")
    (src / f"eve_{M}.ipynb").symlink_to(outside / "gradebook.db")
    (src / "mal_notes").symlink_to(outside, target_is_directory=True)
    os.mkfifo(src / "fifo_pipe.txt")
    os.link(outside / "gradebook.db", src / "hardy_solutions.txt")


def test_links_and_special_files_are_refused_at_import(tmp_path):
    src, outside = tmp_path / "export", tmp_path / "outside"
    _hostile_export(src, outside)
    submitted = tmp_path / "submitted"
    got = notes(intake.import_submissions(src, M, submitted, EXPECTED))
    assert got["honest"] == []
    assert got["eve"] == [f"refused eve_{M}.ipynb: a symbolic link"]
    assert got["mal"] == ["refused mal_notes: a symbolic link"]
    assert got["fifo"] == ["refused fifo_pipe.txt: a special file"]
    assert got["hardy"] == ["refused hardy_solutions.txt: a hard link"]
    copied = [p for p in submitted.rglob("*") if p.is_file() or p.is_symlink()]
    assert copied == [submitted / "honest" / M / EXPECTED], copied
    assert (outside / "gradebook.db").read_text() == "secret"


def test_links_in_a_zip_or_in_submitted_are_refused(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(notebook(tmp_path / "nb.ipynb"), f"ann_{M}.ipynb")
        link = zipfile.ZipInfo(f"bob_{M}.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "../../../../gradebook.db")
    got = notes(intake.import_submissions(archive, M, tmp_path / "submitted", EXPECTED))
    assert got["ann"] == [] and "bob" not in got
    assert got[intake.REFUSED] == [f"refused bob_{M}.ipynb: not a regular file in the zip"]
    # what nbgrader's exchange collected, or someone copied in by hand
    folder = tmp_path / "submitted" / "cid" / M
    notebook(folder / EXPECTED)
    (folder / "solutions").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(folder / "pipe")
    assert intake.remove_refused(folder) == ["refused pipe: a special file", "refused solutions: a symbolic link"]
    assert sorted(p.name for p in folder.iterdir()) == [EXPECTED] and tmp_path.is_dir()
    assert intake.inspect(folder, EXPECTED, RELEASE) == []


def test_a_folder_name_that_cannot_be_a_student_id_is_named():
    """nbgrader's exchange takes ids from folder names students choose; the formgrader
    pastes ids into its pages unescaped."""
    assert intake.id_problem("jsmith") is None and intake.id_problem("j.smith@uni+1") is None
    for bad in ('"><img src=x onerror=alert(1)>', "a b", "x[1]*", "", "\x1b]0;t\x07"):
        assert "cannot be a student id" in intake.id_problem(bad), bad


# --------------------------------------------------------------------------- bookkeeping


def test_files_that_would_become_one_student_are_never_merged(tmp_path):
    """`alice` and `alice~`, `josé` and `josè`, `Ann` and `ann` (one folder on a
    case-insensitive file system), `dan.ipynb` and `dan_m1_value.ipynb`: neither file is
    graded, both are named with the id; a student already imported keeps that submission."""
    src, submitted = tmp_path / "export", tmp_path / "submitted"
    earlier = notebook(submitted / "alice" / M / EXPECTED).read_bytes()
    for name in (f"alice_{M}.ipynb", f"alice~_{M}.ipynb", f"josé_{M}.ipynb", f"josè_{M}.ipynb"):
        notebook(src / name)
    for name in (f"Ann_{M}.ipynb", f"ann_{M}.ipynb", "dan.ipynb", f"dan_{M}.ipynb", f"erin_{M}.ipynb"):
        notebook(src / name)
    got = notes(intake.import_submissions(src, M, submitted, EXPECTED))
    assert got["erin"] == []
    for student, files in {
        "alice": (f"alice_{M}.ipynb", f"alice~_{M}.ipynb"),
        "jose": (f"josé_{M}.ipynb", f"josè_{M}.ipynb"),
        "Ann": (f"Ann_{M}.ipynb", f"ann_{M}.ipynb"),
        "dan": ("dan.ipynb", f"dan_{M}.ipynb"),
    }.items():
        line = got[student][0]
        assert line.startswith("not imported: ") and f"{student!r}" in line, line
        assert all(repr(f) in line for f in files), line
    assert "the ids 'alice', 'alice~' all become 'alice'" in got["alice"][0]
    assert got["alice"][1] == "the submission an earlier import brought stays as it was"
    assert (submitted / "alice" / M / EXPECTED).read_bytes() == earlier
    assert sorted(p.name for p in submitted.iterdir()) == ["alice", "erin"]


def test_an_id_is_folded_to_ascii_and_says_so_and_a_later_import_that_replaces_says_so(tmp_path):
    src, submitted = tmp_path / "export", tmp_path / "submitted"
    notebook(src / f"josé_{M}.ipynb")
    notebook(src / f"fay_{M}.ipynb")
    assert notes(intake.import_submissions(src, M, submitted, EXPECTED)) == {
        "jose": ["student id 'jose' made from the file name's 'josé'"],
        "fay": [],
    }
    again = notes(intake.import_submissions(src, M, submitted, EXPECTED))
    assert again["fay"] == []  # the same files: nothing replaced
    nb = nbformat.read(src / f"fay_{M}.ipynb", as_version=4)
    nb.cells[-1].source += "\n# edited"
    nbformat.write(nb, src / f"fay_{M}.ipynb")
    later = notes(intake.import_submissions(src, M, submitted, EXPECTED))
    assert later["fay"] == ["replaced the submission an earlier import brought (its files differ)"]


def _zip(path: Path, members: dict[str, bytes], **infos: zipfile.ZipInfo) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(infos.get(name) or name, data)
    return path


def test_a_zip_written_by_python_with_long_odd_and_duplicate_names_imports_everyone_else(tmp_path, monkeypatch):
    """One member's name, path or size costs that member a line; everyone else is imported.
    zipfile.writestr's members carry no file-type bits: they are regular files."""
    good = notebook(tmp_path / "nb.ipynb").read_bytes()
    long_name = "carol_" + "x" * 260 + ".ipynb"
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"ann_{M}.ipynb", good)  # permission bits 0o600, no type bits
        z.writestr(long_name, good)
        z.writestr("/abs/ben_m1_value.ipynb", good)  # an absolute path stays inside
        z.writestr(f"../out_{M}.ipynb", good)
        z.writestr(f"dup_{M}.ipynb", good)
        z.writestr(f"dup_{M}.ipynb", b"{}")
        z.writestr(f"fay_{M}.ipynb", good)
        z.writestr(f"./fay_{M}.ipynb", b"{}")  # the same file once unpacked: neither may win
        z.writestr(f"big_{M}.ipynb", good + b" " * 4096)
    assert all(stat.S_IFMT(i.external_attr >> 16) == 0 for i in zipfile.ZipFile(archive).infolist())
    monkeypatch.setattr(intake, "MAX_MEMBER_BYTES", len(good) + 1024)
    submitted = tmp_path / "submitted"
    got = notes(intake.import_submissions(archive, M, submitted, EXPECTED))
    for student in ("ann", "carol", "ben"):
        assert intake.read_notebook(submitted / student / M / EXPECTED).cells, student
    refused = got[intake.REFUSED]
    assert got[intake.RENAMED][0].startswith("shortened the name of carol_xxx"), got
    assert len(got[intake.RENAMED][0]) < 400, (
        "a long name is shortened in the summary too (both would be 480 characters)"
    )
    assert f"refused ../out_{M}.ipynb: its path leads out of the archive (..)" in refused
    assert f"refused dup_{M}.ipynb: 2 members of the zip would be this one file" in refused
    assert f"refused ./fay_{M}.ipynb: 2 members of the zip would be this one file" in refused
    assert any(line.startswith(f"refused big_{M}.ipynb: larger than") for line in refused), refused
    assert sorted(p.name for p in submitted.iterdir()) == ["ann", "ben", "carol"]
    unpacked = tmp_path / "a" / "b"
    unpacked.mkdir(parents=True)
    intake.extract_zip(archive, unpacked)
    assert not (tmp_path / "a" / f"out_{M}.ipynb").exists() and (unpacked / "abs" / f"ben_{M}.ipynb").exists()


def test_a_corrupt_member_or_a_corrupt_zip_costs_a_line(tmp_path):
    good = notebook(tmp_path / "nb.ipynb").read_bytes()
    archive = _zip(tmp_path / "class.zip", {f"ann_{M}.ipynb": good, f"bad_{M}.ipynb": good})
    data = bytearray(archive.read_bytes())
    second = data.index(b'"nbformat"', data.index(f"bad_{M}".encode()))  # bad's stored bytes
    data[second] ^= 0xFF
    archive.write_bytes(bytes(data))
    got = notes(intake.import_submissions(archive, M, tmp_path / "submitted", EXPECTED))
    assert got["ann"] == []
    assert [line for line in got[intake.REFUSED] if line.startswith(f"refused bad_{M}.ipynb: ")], got
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[:-30])  # no central directory: not a zip any more
    with pytest.raises(FileNotFoundError, match="neither a folder nor a zip"):
        intake.import_submissions(truncated, M, tmp_path / "submitted", EXPECTED)


def test_a_name_past_the_file_system_s_limit_has_a_state_file(tmp_path):
    from course_grader.classgrade import state

    long_id = "x" * 300
    path = state.state_path(tmp_path, M, long_id)
    assert len(path.name) < 64 and path == state.state_path(tmp_path, M, long_id)
    state.write_state(tmp_path, M, long_id, refused=["r"])
    assert state.read_state(tmp_path, M, long_id) == {"refused": ["r"]}
    assert "cannot be a student id" in intake.id_problem(long_id)


def test_a_member_name_that_is_not_the_utf_8_it_claims_costs_a_line_not_the_zip(tmp_path):
    """Python's zipfile refuses to open an archive holding one such name: everyone else
    must still be imported, and the odd name is read and said."""
    good = notebook(tmp_path / "nb.ipynb").read_bytes()
    archive = _zip(tmp_path / "class.zip", {f"ann_{M}.ipynb": good, f"bob\u00e9_{M}.ipynb": good})
    archive.write_bytes(archive.read_bytes().replace("bob\u00e9".encode(), b"bob\xff\xfe"))
    with pytest.raises(UnicodeDecodeError):
        zipfile.ZipFile(archive)
    got = notes(intake.import_submissions(archive, M, tmp_path / "submitted", EXPECTED))
    assert got["ann"] == []
    assert "1 member name(s) of the zip are not the UTF-8 they claim" in got[intake.RENAMED][0]
    assert sorted(p.name for p in (tmp_path / "submitted").iterdir())[0] == "ann"


def test_the_summary_prints_a_name_that_is_not_utf_8():
    import io

    from course_grader.classgrade.report import print_summary, printable

    name = b"bob\xff_m1.ipynb".decode("utf-8", "surrogateescape")  # as os.listdir gives it
    out = io.StringIO()
    print_summary(M, [], {}, 1.0, {"(no student id)": [f"skipped: {name}"]}, 0, 1.0, out=out)
    out.getvalue().encode("utf-8")  # writable to a UTF-8 terminal or log
    assert "\\udcff" in printable(name)


def test_a_file_name_that_is_not_utf_8_is_fingerprinted_and_imported(tmp_path):
    src = tmp_path / "export"
    notebook(src / f"alice_{M}.ipynb")
    odd = os.fsdecode(b"alice_\xff.txt")
    (src / odd).write_text("notes")
    submitted = tmp_path / "submitted"
    for _ in range(2):  # the second import fingerprints the first one's folder
        assert notes(intake.import_submissions(src, M, submitted, EXPECTED))["alice"] == []
    assert intake.fingerprint(submitted / "alice" / M)
