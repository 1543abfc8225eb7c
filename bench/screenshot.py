"""The README's picture: a solution notebook run in JupyterLab, at a computation graph.

    ./course python bench/screenshot.py [--milestone m2_backward] [--out docs/notebook.png]

It copies the milestone's solution folder to a temporary folder, starts JupyterLab there
(isolated from your Jupyter settings), opens the notebook in Debian's Chromium through
Playwright at 1280x800, runs all cells from the Run menu, and photographs the first cell
that draws a graph (SVG), with the markdown above it. The driver is tests/browser.py, the
one the browser test uses; it needs /usr/bin/chromium and playwright (``./course test``
installs both).

The picture says what it shows: the cells on screen (found from their boxes in the page
when it is taken) and a SHA-256 of those cells as stored in solutions/<m>/<m>.ipynb go into
the PNG as a text chunk (course_grader/authoring/readme_picture.py), so that a test notices when
those cells change and the picture is stale. Nothing is saved unless the run's outputs of
those cells are the stored ones, no cell shows an error, no dialog is open and the whole
graph is on screen.
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

from course_grader.authoring import readme_picture  # noqa: E402
from course_grader.layout import Course  # noqa: E402


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
    source = Course.at(ROOT).source(m)
    stored = readme_picture.notebook_path(ROOT, m)
    graph = first_graph_cell(stored)
    with tempfile.TemporaryDirectory(prefix="screenshot-") as tmp:
        root = Path(tmp) / "course"
        shutil.copytree(source, root / m, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_*"))
        shot = Path(tmp) / "notebook.png"
        with JupyterLab(root, Path(tmp) / "home") as lab, chromium((args.width, args.height)) as page:
            nb = Notebook(page, lab, f"{m}/{m}.ipynb").open()
            nb.command("application:toggle-left-area")  # the file browser: more room for the notebook
            cells = nb.run_all()
            errors = [c.index for c in cells if c.errors]
            if errors or not any(o.pictures for o in cells[graph].outputs):
                print(f"{m}: errors in cells {errors}, or no picture in cell {graph}: not saved", file=sys.stderr)
                return 1
            nb.command("docmanager:save")  # no unsaved-changes dot on the tab
            page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=15_000)
            page.get_by_text("Saving completed").wait_for(state="hidden", timeout=15_000)
            heading = graph - 1 if cells[graph - 1].kind == "markdown" else graph
            nb.select(heading)
            nb.scroll_to(heading, offset=8)
            nb.screenshot(shot)
            on_screen = nb.on_screen()
            dialogs = page.locator(".jp-Dialog").count()
            nb.close()
        ran = nbformat.read(root / m / f"{m}.ipynb", as_version=4)  # as JupyterLab saved it after the run
        problem = why_not(stored, ran, cells, graph, on_screen, dialogs)
        if problem:
            print(f"{m}: {problem}: not saved", file=sys.stderr)
            return 1
        info = readme_picture.describe(stored, m, sorted(on_screen))
        readme_picture.write(shot, info)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, args.out)
    span = f"cells {info['cells'][0]}-{info['cells'][-1]}"
    print(f"saved {args.out} ({args.width}x{args.height}): {m} {span}, graph in cell {graph}")
    return 0


def why_not(stored: Path, ran, cells: list, graph: int, on_screen: dict, dialogs: int) -> str | None:
    """Why the picture taken is not one to keep, or None."""
    nb = nbformat.read(stored, as_version=4)
    if len(cells) != len(nb.cells) or len(ran.cells) != len(nb.cells):
        return f"{len(cells)} cells on the page, {len(ran.cells)} saved, {len(nb.cells)} in {stored}"
    if dialogs:
        return f"{dialogs} dialog(s) open on the page"
    shown = sorted(on_screen)
    if graph not in on_screen or on_screen[graph]["shown"] < on_screen[graph]["height"] - 1:
        return f"the graph of cell {graph} is not wholly on screen (cells on screen: {shown})"
    # compared as values: JupyterLab writes a stored 4.0 back as 4, which draws the same
    differ = [i for i in shown if readme_picture.cell_record(ran.cells[i]) != readme_picture.cell_record(nb.cells[i])]
    if differ:
        return (
            f"the run's cells {differ} differ from those stored in {stored} (re-execute the solution: "
            "./course release): the picture would not show what the notebook holds"
        )
    return None


if __name__ == "__main__":
    sys.exit(main())
