"""The course as students meet it: JupyterLab in a browser (Debian's Chromium, driven by
Playwright), the student bundle and the solutions opened, every cell run from the menus.

What a person would see is checked: a solution notebook runs to the end with no error box
and draws its graphs (SVG, from Graphviz) and plots (PNG, from matplotlib); a blank
student notebook stops with ``NotImplementedError`` exactly in the cells tagged
``raises-exception`` and nowhere else; nbgrader's extensions load, and its Validate
button passes a solution notebook and fails a blank one with a message a student can read.

Each notebook's screenshot is saved in the test's temporary folder. The browser is
Debian's ``chromium`` and playwright comes from the ``dev`` extra: ``./course test``
installs both.
"""

import shutil
from pathlib import Path

import nbformat
import pytest
from browser import ERROR_MIME, JupyterLab, Notebook, chromium, missing_tools
from conftest import MILESTONES, ROOT

from course_grader.release import RAISES, build_bundle

SVG, PNG = "image/svg+xml", "image/png"
PICTURE_KINDS = {SVG: "graph (SVG)", PNG: "plot (PNG)"}


def _source_notebook(m: str, blank: bool) -> nbformat.NotebookNode:
    folder = ROOT / ("notebooks" if blank else "solutions") / m
    return nbformat.read(folder / f"{m}.ipynb", as_version=4)


def expected_pictures(m: str) -> dict[int, dict[str, int]]:
    """cell index -> {mime: how many} of the pictures the executed solution notebook
    stores: what a run in the browser must show at least."""
    found: dict[int, dict[str, int]] = {}
    for i, cell in enumerate(_source_notebook(m, blank=False).cells):
        for out in cell.get("outputs", []):
            for mime in PICTURE_KINDS:
                if mime in out.get("data", {}):
                    found.setdefault(i, {}).setdefault(mime, 0)
                    found[i][mime] += 1
    return found


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's folder: the student bundle in student/ (built from the committed
    notebooks/ by the release step's own function) and each milestone folder of
    solutions/ (with the engine.py / nn.py its notebook imports) in solutions/."""
    root = tmp_path_factory.mktemp("browser-course")
    build_bundle(ROOT, root / "student")
    for m in MILESTONES:
        shutil.copytree(
            ROOT / "solutions" / m, root / "solutions" / m, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_*")
        )
    return root


@pytest.fixture(scope="module")
def lab(course: Path, tmp_path_factory: pytest.TempPathFactory):
    why = missing_tools()
    if why:
        pytest.fail(why, pytrace=False)
    # started in the bundle's folder, as its README says (`jupyter lab` there): nbgrader's
    # Validate reads its configuration from the server's working folder
    server = JupyterLab(course, tmp_path_factory.mktemp("jupyter-home"), cwd=course / "student")
    try:
        server.start()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page(lab: JupyterLab):
    with chromium() as page:
        yield page


def run_in_browser(page, lab: JupyterLab, path: str, expected_cells: int) -> tuple[Notebook, list]:
    nb = Notebook(page, lab, path).open()
    mode = nb.windowing_mode()
    assert mode == "none", f"{path}: the notebook renders with windowing {mode!r}: cells off screen are not in the page"
    cells = nb.run_all()
    assert len(cells) == expected_cells, f"{path}: {len(cells)} cells on the page, the file has {expected_cells}"
    not_run = [c.index for c in cells if c.kind == "code" and not c.ran]
    if not_run:
        stop = next((c for c in reversed(cells[: not_run[0]]) if c.errors), None)
        why = f"; the run stopped at cell {stop.index}: {_describe(stop)}" if stop else ""
        raise AssertionError(f"{path}: Run All Cells left cells {not_run} without an execution count{why}")
    return nb, cells


def shoot(nb: Notebook, cells: list, folder: Path, name: str) -> Path:
    """A screenshot at the first error box, else the first picture, else the top."""
    first = next((c.index for c in cells if c.errors), None)
    if first is None:
        first = next((c.index for c in cells if any(o.pictures for o in c.outputs)), 0)
    nb.scroll_to(max(first - 1, 0))
    return nb.screenshot(folder / f"{name}.png")


def _describe(cell) -> str:
    return "; ".join(f"{o.mime or '?'}: {o.text.strip()[:300]!r}" for o in cell.outputs) or "no output"


@pytest.mark.parametrize("m", MILESTONES)
def test_solution_notebook_runs_without_errors_and_draws(m, lab, page, tmp_path):
    path = f"solutions/{m}/{m}.ipynb"
    source = _source_notebook(m, blank=False)
    nb, cells = run_in_browser(page, lab, path, len(source.cells))
    try:
        shot = shoot(nb, cells, tmp_path, f"solution-{m}")
        errors = [c for c in cells if c.errors]
        assert not errors, (
            f"{path}: error boxes ({ERROR_MIME}) in "
            + "\n".join(f"cell {c.index}: {_describe(c)}" for c in errors)
            + f"\n(screenshot: {shot})"
        )
        wanted = expected_pictures(m)
        assert wanted, f"{path}: the stored solution draws nothing; the browser check would be vacuous"
        missing = [
            f"cell {i}: {PICTURE_KINDS[mime]} x{n} expected, {cells[i].pictures(mime)} shown ({_describe(cells[i])})"
            for i, kinds in sorted(wanted.items())
            for mime, n in kinds.items()
            if cells[i].pictures(mime) < n
        ]
        assert not missing, f"{path}: pictures missing in the browser:\n" + "\n".join(missing) + f"\n({shot})"
        for mime, kind in PICTURE_KINDS.items():
            if any(mime in kinds for kinds in wanted.values()):
                assert sum(c.pictures(mime) for c in cells) >= 1, f"{path}: no {kind} rendered"
    finally:
        nb.close()


@pytest.mark.parametrize("m", MILESTONES)
def test_blank_notebook_raises_not_implemented_exactly_where_tagged(m, lab, page, tmp_path):
    path = f"student/{m}/{m}.ipynb"
    bundle_nb = nbformat.read(Path(lab.root) / path, as_version=4)
    assert bundle_nb.cells == _source_notebook(m, blank=True).cells, f"{path} differs from notebooks/{m}"
    tagged = {i for i, c in enumerate(bundle_nb.cells) if RAISES in c.metadata.get("tags", [])}
    assert tagged, f"{path}: no cell is tagged {RAISES}; the check would be vacuous"
    nb, cells = run_in_browser(page, lab, path, len(bundle_nb.cells))
    try:
        shot = shoot(nb, cells, tmp_path, f"blank-{m}")
        problems = []
        for cell in cells:
            if cell.kind != "code":
                continue
            if cell.index in tagged:
                if not cell.errors:
                    problems.append(f"cell {cell.index} (tagged {RAISES}) shows no error: {_describe(cell)}")
                elif not all(o.last_line.strip().startswith("NotImplementedError") for o in cell.errors):
                    problems.append(f"cell {cell.index} shows an error other than NotImplementedError: "
                                    f"{[o.last_line for o in cell.errors]} ({_describe(cell)})")  # fmt: skip
            elif cell.errors:
                problems.append(f"cell {cell.index} (not tagged {RAISES}) shows an error: {_describe(cell)}")
        assert not problems, f"{path}, run blank:\n" + "\n".join(problems) + f"\n(screenshot: {shot})"
        # cells that do not call student code draw what they draw in the solution
        missing = [
            f"cell {i}: {PICTURE_KINDS[mime]} x{n} expected, {cells[i].pictures(mime)} shown"
            for i, kinds in sorted(expected_pictures(m).items())
            if i not in tagged
            for mime, n in kinds.items()
            if cells[i].pictures(mime) < n
        ]
        assert not missing, f"{path}: pictures missing in the browser:\n" + "\n".join(missing) + f"\n({shot})"
    finally:
        nb.close()


def test_nbgrader_extensions_load(lab, page, tmp_path):
    path = f"student/{MILESTONES[0]}/{MILESTONES[0]}.ipynb"
    nb = Notebook(page, lab, path).open()
    try:
        toolbar = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar")
        button = toolbar.locator(".validate-button")
        assert button.count() == 1, f"{path}: no Validate button in the notebook toolbar"
        assert button.inner_text().strip() == "Validate"
        items = nb.menu_items("Nbgrader")
        for wanted in ("Assignment List", "Formgrader"):
            assert wanted in items, f"the Nbgrader menu lacks {wanted!r}: it has {items}"
        nb.screenshot(tmp_path / "toolbar.png")
    finally:
        nb.close()


VALIDATED = "m2_backward"


def test_validate_passes_a_solution_notebook(lab, page, tmp_path):
    path = f"solutions/{VALIDATED}/{VALIDATED}.ipynb"
    nb = Notebook(page, lab, path).open()
    try:
        passed, text = nb.validate(screenshot=tmp_path / "validate-solution.png")
        assert passed and "Success! Your notebook passes all the tests." in text, (
            f"Validate on {path} says:\n{text[:3000]}"
        )
    finally:
        nb.close()


def test_validate_fails_a_blank_notebook_readably(lab, page, tmp_path):
    path = f"student/{VALIDATED}/{VALIDATED}.ipynb"
    nb = Notebook(page, lab, path).open()
    try:
        passed, text = nb.validate(screenshot=tmp_path / "validate-blank.png")
        assert not passed, (
            f"Validate tells a student whose {path} is blank: {text.strip()!r}. Its hidden-test cells are "
            "empty in the student's copy, and nbgrader validate only judges graded cells, so the "
            "visible checks failing with NotImplementedError go unreported"
        )
        assert "The following cell failed" in text and "NotImplementedError" in text, (
            f"Validate fails {path} without saying which cell and why:\n{text[:3000]}"
        )
    finally:
        nb.close()
