"""The README's picture (docs/notebook.png) shows the solution notebook as it is now.

bench/screenshot.py writes into the PNG which cells of which milestone are on screen and a
SHA-256 of those cells as stored; course_grader/authoring/readme_picture.py checks them. No browser:
these tests read files only. When the first one fails, regenerate the picture with
``./course python bench/screenshot.py`` and look at it before committing it.
"""

import shutil
import struct
import zlib
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from course_grader.authoring import readme_picture
from course_grader.authoring.readme_picture import KEYWORD, PICTURE, REGENERATE

pytestmark = pytest.mark.unit

SVG = "image/svg+xml"


@pytest.fixture
def info() -> dict:
    found = readme_picture.read(ROOT / PICTURE)
    assert found is not None, readme_picture.stale(ROOT)
    return found


def course_copy(dest: Path, milestone: str) -> Path:
    """The picture and the notebook it shows, where stale() looks for them."""
    (dest / PICTURE).parent.mkdir(parents=True)
    shutil.copy2(ROOT / PICTURE, dest / PICTURE)
    notebook = readme_picture.notebook_path(dest, milestone)
    notebook.parent.mkdir(parents=True)
    shutil.copy2(readme_picture.notebook_path(ROOT, milestone), notebook)
    return dest


def edit(root: Path, milestone: str, change) -> None:
    path = readme_picture.notebook_path(root, milestone)
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def test_the_readme_picture_is_current():
    why = readme_picture.stale(ROOT)
    assert why is None, why


def test_the_picture_shows_a_graph_the_readme_names(info):
    """Not vacuous: the cells it vouches for exist, are consecutive, and one draws a graph."""
    assert f"]({PICTURE.as_posix()})" in (ROOT / "README.md").read_text(), "the README no longer shows the picture"
    nb = nbformat.read(readme_picture.notebook_path(ROOT, info["milestone"]), as_version=4)
    cells = info["cells"]
    assert len(cells) >= 2 and cells == list(range(cells[0], cells[-1] + 1)), info
    assert [nb.cells[i].get("id") for i in cells] == info["ids"], info
    assert any(SVG in out.get("data", {}) for i in cells for out in nb.cells[i].get("outputs", [])), (
        f"{PICTURE} vouches for {info['milestone']} cells {cells}, none of which draws a graph"
    )


def test_changing_a_shown_cell_makes_it_stale(info, tmp_path):
    m, cells = info["milestone"], info["cells"]
    stored = nbformat.read(readme_picture.notebook_path(ROOT, m), as_version=4)
    text = next(i for i in cells if stored.cells[i].cell_type == "markdown")
    graph = next(i for i in cells if any(SVG in o.get("data", {}) for o in stored.cells[i].get("outputs", [])))

    root = course_copy(tmp_path / "text", m)
    edit(root, m, lambda nb: setattr(nb.cells[text], "source", nb.cells[text].source + " Rewritten."))
    why = readme_picture.stale(root)
    assert why == (
        f"{PICTURE.as_posix()} shows {m} cells {cells[0]}-{cells[-1]} as they were; "
        f"they have changed since: run {REGENERATE}"
    ), why

    def redraw(nb):  # the same code, a graph drawn differently: its stored output changes
        out = next(o for o in nb.cells[graph].outputs if SVG in o.get("data", {}))
        assert "grad 0.0000" in out["data"][SVG]
        out["data"][SVG] = out["data"][SVG].replace("grad 0.0000", "grad 0.0001", 1)

    root = course_copy(tmp_path / "output", m)
    edit(root, m, redraw)
    assert "they have changed since" in (readme_picture.stale(root) or ""), "a changed graph went unnoticed"


def test_changing_cells_not_shown_keeps_it_current(info, tmp_path):
    m, cells = info["milestone"], info["cells"]
    root = course_copy(tmp_path, m)

    def elsewhere(nb):
        before, after = cells[0] - 1, cells[-1] + 1
        nb.cells[before].source += "\n# rewritten"
        nb.cells[after].source += "\n# rewritten"
        nb.cells[0].source += " Rewritten."
        nb.cells.insert(1, nbformat.v4.new_markdown_cell("A new cell above the picture's cells."))

    edit(root, m, elsewhere)
    assert readme_picture.stale(root) is None


def test_shown_cells_gone_or_apart_are_stale(info, tmp_path):
    m, cells = info["milestone"], info["cells"]
    root = course_copy(tmp_path / "gone", m)
    edit(root, m, lambda nb: nb.cells.pop(cells[1]))
    assert f"cells ['{info['ids'][1]}'] are no longer in" in (readme_picture.stale(root) or "")
    root = course_copy(tmp_path / "apart", m)
    edit(root, m, lambda nb: nb.cells.insert(cells[1], nbformat.v4.new_markdown_cell("wedged in")))
    assert "no longer next to each other" in (readme_picture.stale(root) or "")


def _strip_ours(png: bytes) -> bytes:
    out, pos = [png[:8]], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        chunk = png[pos : pos + 12 + length]
        if not (chunk[4:8] == b"tEXt" and chunk[8:].startswith(KEYWORD.encode() + b"\0")):
            out.append(chunk)
        pos += 12 + length
    return b"".join(out)


def test_a_picture_that_does_not_say_what_it_shows_is_stale(info, tmp_path):
    root = course_copy(tmp_path, info["milestone"])
    png = root / PICTURE
    png.write_bytes(_strip_ours(png.read_bytes()))
    assert readme_picture.read(png) is None
    why = readme_picture.stale(root)
    assert why is not None and "does not say what it shows" in why and KEYWORD in why and REGENERATE in why, why
    png.write_bytes(b"not a picture")
    assert "is not a PNG this check can read" in (readme_picture.stale(root) or "")
    png.unlink()
    assert readme_picture.stale(root) == f"{PICTURE.as_posix()} is missing: run {REGENERATE}"


def test_write_replaces_the_chunk_and_keeps_the_image(tmp_path):
    png = tmp_path / "p.png"
    pixels = zlib.compress(b"\0\xff\0\0")  # one filter byte, one red pixel

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    plain = png.read_bytes()
    readme_picture.write(png, {"milestone": "m0", "n": 1})
    readme_picture.write(png, {"milestone": "m0", "n": 2})
    data = png.read_bytes()
    assert readme_picture.read(png) == {"milestone": "m0", "n": 2}
    assert data.count(KEYWORD.encode()) == 1
    assert _strip_ours(data) == plain, "writing the chunk changed the image"
    assert data.endswith(chunk(b"IEND", b""))


def test_the_release_step_warning(info, tmp_path, capsys):
    """readme_picture.warn_if_stale(root): silent for a course folder without the picture
    or with a current one, a warning on stderr for a stale one."""
    m = info["milestone"]
    assert readme_picture.warn_if_stale(tmp_path) is None
    root = course_copy(tmp_path / "course", m)
    assert readme_picture.warn_if_stale(root) is None
    assert capsys.readouterr().err == ""
    edit(root, m, lambda nb: setattr(nb.cells[info["cells"][0]], "source", "# Rewritten"))
    why = readme_picture.warn_if_stale(root)
    assert why and capsys.readouterr().err == f"warning: {why}\n"
