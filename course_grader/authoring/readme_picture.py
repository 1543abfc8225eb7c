"""What the README's picture shows, and whether it still shows the notebooks as they are.

``docs/notebook.png`` is a solution notebook run in JupyterLab, photographed by
``bench/screenshot.py``. When it takes the picture, the script writes into the PNG itself
(a ``tEXt`` chunk, keyword ``micrograd-course:shows``) what the picture shows: the
milestone, the cells visible on screen (their indices and ids), and a SHA-256 of those
cells as stored in ``solutions/<m>/<m>.ipynb`` (type, source, execution count and
outputs; the outputs are deterministic: nbval compares them exactly). ``stale(root)``
re-reads those cells and says whether the picture still shows them as they are.

Only the cells on screen count: rewriting a cell the picture does not show leaves it
current. No new dependency: the PNG chunk is read and written with zlib and struct.
``python -m course_grader.authoring.readme_picture`` prints the verdict (exit status 1 if stale).
"""

import hashlib
import json
import struct
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import nbformat

from course_grader.layout import ROOT, Course

KEYWORD = "micrograd-course:shows"
PICTURE = Path("docs") / "notebook.png"
REGENERATE = "./course python bench/screenshot.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PictureError(ValueError):
    """Not a PNG, or a PNG whose chunks do not parse."""


def notebook_path(root: Path, milestone: str) -> Path:
    return Course.at(root).source_notebook(milestone)


def cell_record(cell: nbformat.NotebookNode) -> dict:
    return {
        "cell_type": cell.cell_type,
        "source": cell.source,
        "execution_count": cell.get("execution_count"),
        "outputs": cell.get("outputs", []),
    }


def fingerprint(notebook: Path | nbformat.NotebookNode, cells: Sequence[int]) -> str:
    """SHA-256 of the given cells (indices) as stored: type, source, execution count
    (the picture shows it as ``[11]:``) and outputs. Cell metadata and ids do not count."""
    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, str | Path) else notebook
    records = [cell_record(nb.cells[i]) for i in cells]
    blob = json.dumps(records, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def describe(notebook: Path | nbformat.NotebookNode, milestone: str, cells: Sequence[int]) -> dict:
    """What a picture of ``cells`` (consecutive indices) of the milestone's notebook shows."""
    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, str | Path) else notebook
    cells = sorted(cells)
    if not cells or cells != list(range(cells[0], cells[-1] + 1)):
        raise ValueError(f"the cells on screen must be consecutive, not {cells}")
    return {
        "milestone": milestone,
        "cells": cells,
        "ids": [nb.cells[i].get("id") for i in cells],
        "sha256": fingerprint(nb, cells),
    }


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(PNG_SIGNATURE):
        raise PictureError("not a PNG file")
    chunks, pos = [], len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise PictureError(f"a truncated chunk at byte {pos}")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise PictureError(f"a truncated {kind!r} chunk at byte {pos}")
        body = data[pos + 8 : end - 4]
        if struct.unpack(">I", data[end - 4 : end])[0] != zlib.crc32(kind + body):
            raise PictureError(f"a damaged {kind!r} chunk at byte {pos}")
        chunks.append((kind, body))
        pos = end
        if kind == b"IEND":
            break
    if not chunks or chunks[-1][0] != b"IEND":
        raise PictureError("no IEND chunk")
    return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _ours(kind: bytes, body: bytes) -> bool:
    return kind == b"tEXt" and body.split(b"\0", 1)[0] == KEYWORD.encode("latin-1")


def read(png: Path) -> dict | None:
    """What the picture says it shows, or None if it says nothing (no chunk of ours)."""
    for kind, body in _chunks(Path(png).read_bytes()):
        if _ours(kind, body):
            return json.loads(body.split(b"\0", 1)[1].decode("latin-1"))
    return None


def write(png: Path, info: dict) -> None:
    """Store ``info`` in the PNG (replacing what it said before), just before IEND."""
    text = json.dumps(info, sort_keys=True, ensure_ascii=True)
    chunks = [(k, b) for k, b in _chunks(Path(png).read_bytes()) if not _ours(k, b)]
    ours = (b"tEXt", KEYWORD.encode("latin-1") + b"\0" + text.encode("latin-1"))
    chunks.insert(len(chunks) - 1, ours)
    Path(png).write_bytes(PNG_SIGNATURE + b"".join(_chunk(k, b) for k, b in chunks))


def _span(cells: Sequence[int]) -> str:
    return f"cell {cells[0]}" if len(cells) == 1 else f"cells {cells[0]}-{cells[-1]}"


def stale(root: Path, picture: Path | None = None) -> str | None:
    """None if the README's picture shows its cells as the solution notebook stores them
    now; else why not, and what to run."""
    root = Path(root)
    png = picture or root / PICTURE
    shown = png.relative_to(root) if png.is_relative_to(root) else png
    fix = f"run {REGENERATE}"
    if not png.exists():
        return f"{shown} is missing: {fix}"
    try:
        info = read(png)
    except PictureError as err:
        return f"{shown} is not a PNG this check can read ({err}): {fix}"
    if info is None:
        return (
            f"{shown} does not say what it shows (it has no {KEYWORD!r} text chunk, which "
            f"bench/screenshot.py writes), so whether it is current cannot be told: {fix}"
        )
    try:
        m, cells, ids, digest = info["milestone"], list(info["cells"]), list(info["ids"]), info["sha256"]
    except (KeyError, TypeError):
        return f"{shown}: its {KEYWORD!r} text chunk is not what bench/screenshot.py writes ({info!r}): {fix}"
    what = f"{shown} shows {m} {_span(cells)}"
    notebook = notebook_path(root, m)
    if not notebook.exists():
        return f"{what}, and {notebook.relative_to(root)} no longer exists: {fix}"
    nb = nbformat.read(notebook, as_version=4)
    # the cells are found by id where the notebook has ids: cells added or removed above
    # them move them, which alone changes nothing in the picture but their execution count
    if all(ids):
        where = {c.get("id"): i for i, c in enumerate(nb.cells)}
        missing = [i for i in ids if i not in where]
        if missing:
            return f"{what}; cells {missing} are no longer in {notebook.relative_to(root)}: {fix}"
        now = [where[i] for i in ids]
    else:
        now = [i for i in cells if i < len(nb.cells)]
        if len(now) != len(cells):
            return f"{what}; the notebook has {len(nb.cells)} cells now: {fix}"
    if now != list(range(now[0], now[0] + len(now))):
        return f"{what}; they are no longer next to each other (now cells {now}): {fix}"
    if fingerprint(nb, now) != digest:
        moved = "" if now == cells else f" (now {_span(now)})"
        return f"{what} as they were; they have changed since{moved}: {fix}"
    return None


def warn_if_stale(root: Path) -> str | None:
    """For the release step: print a warning if ``root`` has the README's picture and it
    is stale (a course folder without one, such as a test's copy, says nothing)."""
    if not (Path(root) / PICTURE).exists():
        return None
    why = stale(root)
    if why:
        print(f"warning: {why}", file=sys.stderr)
    return why


def main() -> int:
    why = stale(ROOT)
    print(why or f"{PICTURE} is current")
    return 1 if why else 0


if __name__ == "__main__":
    raise SystemExit(main())
