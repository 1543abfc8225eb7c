"""Submissions in every shape an LMS or nbgrader hands over, brought into nbgrader's layout."""

import zipfile
from pathlib import Path

import nbformat
from conftest import ROOT

from course_grader import intake
from course_grader.submissions import fill, solution_cells

M = "m1_value"
EXPECTED = f"{M}.ipynb"
RELEASE = ROOT / "notebooks" / M / EXPECTED


def notebook(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(fill(RELEASE, solution_cells(ROOT / "solutions" / M / EXPECTED)), path)
    return path


def notes(intakes: list[intake.Intake]) -> dict[str, list[str]]:
    return {i.student: i.notes for i in intakes}


def test_flat_lms_export(tmp_path):
    src = tmp_path / "export"
    notebook(src / f"jsmith_{M}.ipynb")
    notebook(src / "ada.ipynb")  # just the id: it is that student's notebook
    notebook(src / "bob_Copy of m1 (2).ipynb")
    (src / "bob_notes.txt").parent.mkdir(exist_ok=True)
    (src / "bob_notes.txt").write_text("notes")
    (src / "README").write_text("no id in this name")
    got = notes(intake.import_submissions(src, M, tmp_path / "submitted", EXPECTED, r"^(?P<student_id>[^_\s.]+)"))
    assert got["jsmith"] == [] and got["ada"] == []
    assert got["bob"] == ["renamed notebook: graded 'Copy of m1 (2).ipynb' as 'm1_value.ipynb'"]
    for student in ("jsmith", "ada", "bob"):
        assert (tmp_path / "submitted" / student / M / EXPECTED).exists(), student
    assert (tmp_path / "submitted" / "bob" / M / "notes.txt").read_text() == "notes"
    assert got[intake.NO_ID] == ["skipped, no student id in the name: README"]
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
