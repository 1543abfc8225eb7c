"""The course as students meet it: JupyterLab in a browser (Debian's Chromium, driven by
Playwright), the student bundle and the solutions opened, every cell run from the menus.

What a person would see is checked: a solution notebook runs to the end with no error box
and draws its graphs (SVG, from Graphviz) and plots (PNG, from matplotlib); a blank
student notebook stops with ``NotImplementedError`` exactly in the cells tagged
``raises-exception`` and nowhere else; nbgrader's extensions load, and its Validate
button passes a solution notebook and fails a blank one with a message a student can read.

Two servers: the instructor's (this repository's environment, serving a scratch folder),
which has every nbgrader extension; and a student's (the student bundle installed in a
fresh venv, started inside a milestone folder with no nbgrader_config.py near it), which
has only the student side (assignment list, Validate) and whose Validate still fails a
blank notebook: the setting that makes it do so comes from the installed package.

Each notebook's screenshot is saved in the test's temporary folder. The browser is
Debian's ``chromium`` and playwright comes from the ``dev`` extra: ``./course test``
installs both.
"""

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from browser import ERROR_MIME, PANEL, JupyterLab, Notebook, chromium, missing_tools
from conftest import COURSE, MILESTONES, ROOT

from course_grader.authoring.release import RAISES, build_bundle
from course_grader.layout import Course
from course_grader.measuring.submissions import fill, solution_cells

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
    build_bundle(ROOT, root / "student", released=list(MILESTONES))
    for m in MILESTONES:
        shutil.copytree(
            COURSE.source(m), Course.at(root).source(m), ignore=shutil.ignore_patterns("__pycache__", ".ipynb_*")
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
                # a traceback's last line, or the last line of the course's explanation of an
                # error inside a check ("  the error:    NotImplementedError")
                elif not all(
                    re.match(r"(the error:\s+)?NotImplementedError", o.last_line.strip()) for o in cell.errors
                ):
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


# nbgrader 0.9.6's JupyterLab side: plugin id -> the commands it registers, and the Nbgrader
# menu items those commands label. Create Assignment is a right-sidebar panel (and a menu
# item opening it), not a toolbar button.
STUDENT_SIDE = {
    "@jupyter/nbgrader:assignment-list": {"nbgrader:open-assignment-list": "Assignment List"},
    "@jupyter/nbgrader:validate-assignment": {},  # the Validate button of the notebook toolbar
}
INSTRUCTOR_SIDE = {
    "@jupyter/nbgrader:formgrader": {"nbgrader:open-formgrader": "Formgrader",
                                     "nbgrader:open-formgrader-local": "Formgrader (local)"},
    "@jupyter/nbgrader:course-list": {"nbgrader:open-course-list": "Course List"},
    "@jupyter/nbgrader:create-assignment": {"nbgrader:open-create-assignment": "Create assignment"},
}  # fmt: skip
CREATE_ASSIGNMENT_TAB = "Create Assignment"


def nbgrader_side(nb: Notebook) -> dict:
    """What of nbgrader a person sees in a notebook's JupyterLab."""
    validate = nb.page.locator(f"{PANEL} .jp-NotebookPanel-toolbar .validate-button")
    return {
        "plugins": set(nb.plugins("@jupyter/nbgrader:")) - {"@jupyter/nbgrader:menu"},
        "commands": set(nb.commands("nbgrader:")),
        "menu": nb.menu_items("Nbgrader"),
        "right sidebar": nb.sidebar_tabs("right"),
        "toolbar": nb.toolbar_items(),
        "validate": validate.inner_text().strip() if validate.count() == 1 else None,
    }


def test_nbgrader_extensions_load(lab, page, tmp_path):
    """The instructor's JupyterLab has all of nbgrader: student and instructor side."""
    path = f"student/{MILESTONES[0]}/{MILESTONES[0]}.ipynb"
    nb = Notebook(page, lab, path).open()
    try:
        seen = nbgrader_side(nb)
        nb.screenshot(tmp_path / "toolbar.png")
        assert seen["validate"] == "Validate", f"{path}: no Validate button in the notebook toolbar: {seen}"
        everything = {**STUDENT_SIDE, **INSTRUCTOR_SIDE}
        assert seen["plugins"] == set(everything), f"the instructor's nbgrader plugins: {seen}"
        commands = {c: label for side in everything.values() for c, label in side.items()}
        assert set(commands) <= seen["commands"], f"the instructor's nbgrader commands: {seen}"
        for label in commands.values():
            assert label in seen["menu"], f"the Nbgrader menu lacks {label!r}: {seen}"
        assert CREATE_ASSIGNMENT_TAB in seen["right sidebar"], f"no {CREATE_ASSIGNMENT_TAB} panel: {seen}"
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


# --- the student's JupyterLab: the bundle's own environment, started in a milestone folder

STUDENT_MILESTONE = MILESTONES[0]
COURSE_ID = "micrograd"


@pytest.fixture(scope="module")
def student_lab(student_bundle: Path, student_python: Path, tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab as a student starts it: the student bundle installed in a fresh venv
    (``pip install .``), then ``cd m1_value && jupyter lab`` in a copy of the milestone
    folder with no nbgrader_config.py in it or above it. The folder holds the blank notebook
    and complete.ipynb (the blank one with the solution cells filled in). The Jupyter
    settings give an exchange that has released the milestone, as on a JupyterHub."""
    why = missing_tools()
    if why:
        pytest.fail(why, pytrace=False)
    m = STUDENT_MILESTONE
    base = tmp_path_factory.mktemp("student-lab")
    folder = base / "work" / m
    shutil.copytree(student_bundle / m, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(folder, base / "exchange" / COURSE_ID / "outbound" / m)
    complete = fill(folder / f"{m}.ipynb", solution_cells(COURSE.source_notebook(m)))
    nbformat.write(complete, folder / "complete.ipynb")
    configs = [p / "nbgrader_config.py" for p in (folder, *folder.parents) if (p / "nbgrader_config.py").exists()]
    assert not configs, f"{configs}: the student's server must find its settings in its environment alone"
    home = base / "jupyter-home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "nbgrader_config.py").write_text(f"c.Exchange.root = {str(base / 'exchange')!r}\n")
    server = JupyterLab(folder, home, cwd=folder, python=student_python)
    try:
        server.start()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("notebook", ["blank", "complete"])
def test_validate_in_students_jupyterlab_started_in_a_milestone_folder(notebook, student_lab, page, tmp_path):
    """The Validate button, in the student's environment with no nbgrader_config.py near:
    a blank notebook fails, naming a failing cell and NotImplementedError; a complete one
    passes. (With the instructor's environment in the same folder the blank one "passes":
    only the graded cells are judged, and a student's hidden-test cells are empty.)"""
    m = STUDENT_MILESTONE
    path = f"{m}.ipynb" if notebook == "blank" else "complete.ipynb"
    nb = Notebook(page, student_lab, path).open()
    try:
        passed, text = nb.validate(screenshot=tmp_path / f"validate-{notebook}.png")
    finally:
        nb.close()
    if notebook == "blank":
        assert not passed, (
            f"Validate, in a student's JupyterLab started in {m}/, tells a student whose notebook is blank: "
            f"{text.strip()!r}. Validator.validate_all must come from the student package's "
            f"etc/jupyter/nbgrader_config.py in the environment of {student_lab.python}"
        )
        assert "The following cell failed" in text and "NotImplementedError" in text, (
            f"Validate fails a blank {m} without saying which cell and why:\n{text[:3000]}"
        )
    else:
        assert passed and "Success! Your notebook passes all the tests." in text, (
            f"Validate on a complete {m} in the student's JupyterLab says:\n{text[:3000]}"
        )


def test_students_jupyterlab_has_only_the_student_side_of_nbgrader(student_lab, page, tmp_path):
    """Assignment List and Validate; no Formgrader, no Course List, no Create Assignment
    (neither its panel nor its menu item). The Assignment List opens without an error and
    lists the exchange's release (the server's course_list extension is off: the list has
    its own /courses handler)."""
    nb = Notebook(page, student_lab, f"{STUDENT_MILESTONE}.ipynb").open()
    try:
        seen = nbgrader_side(nb)
        nb.screenshot(tmp_path / "student-toolbar.png")
        assert seen["validate"] == "Validate", f"no Validate button in the student's notebook toolbar: {seen}"
        assert seen["plugins"] == set(STUDENT_SIDE), f"the student's nbgrader plugins: {seen}"
        assert seen["commands"] == {c for side in STUDENT_SIDE.values() for c in side}, seen
        assert seen["menu"] == ["Assignment List"], f"the student's Nbgrader menu: {seen}"
        assert CREATE_ASSIGNMENT_TAB not in seen["right sidebar"], seen
        assert not [v for v in seen["toolbar"].values() if "assignment" in v.lower()], seen

        nb.menu("Nbgrader", "Assignment List")
        panel = page.locator(".nbgrader-mainarea-widget:not(.lm-mod-hidden)")
        released = panel.locator("#released_assignments_list .list_item")
        released.first.wait_for(timeout=30_000)
        page.wait_for_timeout(500)  # the other two lists load alongside
        nb.screenshot(tmp_path / "student-assignment-list.png")
        text = panel.inner_text()
        assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").first.inner_text()
        assert "error" not in text.lower(), f"the student's Assignment List shows an error:\n{text}"
        rows = [r.strip().split() for r in released.all_inner_texts()]
        assert rows and rows[0][:2] == [STUDENT_MILESTONE, COURSE_ID], f"released assignments: {rows}\n{text}"
        assert "Fetch" in released.first.inner_text(), text
        page.get_by_role("tab", name="Assignments").locator(".lm-TabBar-tabCloseIcon").click()
    finally:
        nb.close()
