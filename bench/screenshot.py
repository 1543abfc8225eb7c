"""The README's picture: a solution notebook run in JupyterLab, at a computation graph.

    ./course python bench/screenshot.py [--milestone m2_backward] [--out docs/notebook.png]

It copies the milestone's solution folder to a temporary folder, starts JupyterLab there
(isolated from your Jupyter settings), opens the notebook in Debian's Chromium through
Playwright at 1280x800, runs all cells from the Run menu, and photographs the first cell
that draws a graph (SVG), with the markdown above it. The driver is tests/browser.py, the
one the browser test uses; it needs /usr/bin/chromium and playwright (``./course test``
installs both).
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import JupyterLab, Notebook, chromium, missing_tools  # noqa: E402


def first_graph_cell(notebook: Path) -> int:
    """The index of the first cell whose stored outputs hold an SVG picture."""
    nb = nbformat.read(notebook, as_version=4)
    for i, cell in enumerate(nb.cells):
        if any("image/svg+xml" in out.get("data", {}) for out in cell.get("outputs", [])):
            return i
    raise SystemExit(f"{notebook}: no cell draws a graph")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--milestone", default="m2_backward")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "notebook.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args(argv)
    why = missing_tools()
    if why:
        print(why, file=sys.stderr)
        return 1
    m = args.milestone
    source = ROOT / "solutions" / m
    graph = first_graph_cell(source / f"{m}.ipynb")
    with tempfile.TemporaryDirectory(prefix="screenshot-") as tmp:
        root = Path(tmp) / "course"
        shutil.copytree(source, root / m, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_*"))
        with JupyterLab(root, Path(tmp) / "home") as lab, chromium((args.width, args.height)) as page:
            nb = Notebook(page, lab, f"{m}/{m}.ipynb").open()
            nb.command("application:toggle-left-area")  # the file browser: more room for the notebook
            cells = nb.run_all()
            errors = [c.index for c in cells if c.errors]
            if errors or not any(o.pictures for o in cells[graph].outputs):
                print(f"{m}: errors in cells {errors}, or no picture in cell {graph}: not saved", file=sys.stderr)
                return 1
            nb.command("docmanager:save")  # no unsaved-changes dot on the tab
            page.get_by_text("Saving completed").wait_for(state="hidden", timeout=15_000)
            heading = graph - 1 if cells[graph - 1].kind == "markdown" else graph
            nb.select(heading)
            nb.scroll_to(heading, offset=8)
            nb.screenshot(args.out)
            nb.close()
    print(f"saved {args.out} ({args.width}x{args.height}): {m}, cell {graph}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
