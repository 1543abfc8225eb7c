"""The release step: committed files equal its output, nothing leaks to students, and
the student bundle installs and runs on its own."""

import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest
from conftest import MILESTONES, ROOT, copy_course

from course_grader import release
from course_grader.engine_export import MARKERS
from course_grader.reference import execute
from course_grader.submissions import solution_cells

LEAKS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "course_grader", "probe_")


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release step run from scratch on a copy of the course."""
    course = copy_course(tmp_path_factory.mktemp("release"))
    for m in MILESTONES:
        for generated in (course / "notebooks" / m).glob("*"):
            generated.unlink()
        for shipped in (course / "solutions" / m).glob("*.py"):
            shipped.unlink()
    release.release(course, bundle=True, execute=False)
    return course


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
    }


def test_committed_notebooks_equal_a_fresh_release(fresh_release):
    assert files_under(ROOT / "notebooks") == files_under(fresh_release / "notebooks"), (
        "notebooks/ is out of date: run ./course release and commit the result"
    )


def test_committed_shipped_files_equal_a_fresh_release(fresh_release):
    for m in MILESTONES:
        ours = {k: v for k, v in files_under(ROOT / "solutions" / m).items() if k.endswith(".py")}
        fresh = {k: v for k, v in files_under(fresh_release / "solutions" / m).items() if k.endswith(".py")}
        assert ours == fresh, f"solutions/{m}/ shipped files are out of date: run ./course release"
    assert (fresh_release / "solutions" / "m2_backward" / "engine.py").exists()


def test_drift_is_detected(tmp_path):
    """The drift check is not vacuous: an edited solution changes the release."""
    course = copy_course(tmp_path)
    nb_path = course / "solutions" / "m1_value" / "m1_value.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[0].source += "\n\nAn edit."
    nbformat.write(nb, nb_path)
    release.generate(course, "m1_value")
    assert files_under(course / "notebooks" / "m1_value") != files_under(ROOT / "notebooks" / "m1_value")


@pytest.mark.parametrize("folder", ["notebooks", "dist"])
def test_nothing_for_instructors_reaches_students(fresh_release, folder):
    base = fresh_release / folder
    assert base.exists()
    for path in base.rglob("*"):
        if path.is_file() and path.suffix in (".ipynb", ".py", ".md", ".yml", ".toml", ""):
            text = path.read_text(errors="replace")
            for leak in LEAKS:
                assert leak not in text, f"{path.relative_to(fresh_release)} contains {leak!r}"


def _stripped_lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def _solution_windows(m: str, size: int = 3) -> set[str]:
    """Every run of three consecutive code lines inside m's solution regions: narrative
    may quote a line of an answer as a hint, but not three in a row."""
    nb = nbformat.read(ROOT / "solutions" / m / f"{m}.ipynb", as_version=4)
    windows = set()
    for cell in nb.cells:
        if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        region, inside = [], False
        for line in cell.source.splitlines():
            if line.strip() in MARKERS:
                inside = line.strip() == MARKERS[0]
                if not inside:
                    lines = _stripped_lines("\n".join(region))
                    windows |= {"\n".join(lines[i : i + size]) for i in range(len(lines) - size + 1)}
                    region = []
            elif inside:
                region.append(line)
    return windows


def _student_text(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return "\n".join(_stripped_lines("\n".join(c.source for c in nb.cells)))
    return "\n".join(_stripped_lines(path.read_text()))


def test_bundle_holds_no_answer_before_its_milestone(fresh_release):
    """A milestone's answers reach students only with a later milestone's release."""
    bundle = fresh_release / "dist" / "student"
    assert (bundle / "README.md").exists() and (bundle / "course_lib" / "graph.py").exists()
    assert not (bundle / "solutions").exists() and not (bundle / "course_grader").exists()
    for i, m in enumerate(MILESTONES):
        windows = _solution_windows(m)
        assert len(windows) > 10
        for path in bundle.rglob("*"):
            if not path.is_file() or path.suffix not in (".py", ".ipynb", ".md"):
                continue
            if any(part in MILESTONES[i + 1 :] for part in path.relative_to(bundle).parts):
                continue  # e.g. m2_backward/engine.py ships milestone 1's code, by design
            text = _student_text(path)
            leaked = [w for w in windows if w in text]
            assert not leaked, f"{path.relative_to(bundle)} holds {m}'s answer: {leaked[:1]}"
    engine = _student_text(bundle / "m2_backward" / "engine.py")
    assert any(w in engine for w in _solution_windows("m1_value")), "the check must see shipped code"
    assert (fresh_release / "dist" / "student.zip").exists()


def test_shipped_engine_is_the_solution_and_readable():
    engine = (ROOT / "solutions" / "m2_backward" / "engine.py").read_text()
    assert "@attach" not in engine and "BEGIN SOLUTION" not in engine
    answers = solution_cells(ROOT / "solutions" / "m1_value" / "m1_value.ipynb")
    assert "def __add__(self, other):" in engine and len(answers) == 12
    namespace: dict = {}
    exec(compile(engine, "engine.py", "exec"), namespace)
    v = namespace["Value"](2.0) * 3 + 1
    assert v.data == 7.0


def test_blank_notebooks_raise_not_implemented_exactly_where_tagged(tmp_path):
    """Cells tagged raises-exception call stub code and raise NotImplementedError; no
    other cell of a blank notebook raises anything."""
    for m in MILESTONES:
        folder = tmp_path / m
        folder.mkdir()
        for f in (ROOT / "notebooks" / m).iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
        ran = execute(folder / f"{m}.ipynb", folder)
        tagged = raised = 0
        for i, cell in enumerate(ran.cells):
            if cell.cell_type != "code":
                continue
            errors = [o for o in cell.outputs if o.output_type == "error"]
            if "raises-exception" in cell.metadata.get("tags", []):
                tagged += 1
                assert errors and errors[0].ename == "NotImplementedError", f"{m} cell {i} should raise"
                raised += 1
            else:
                assert not errors, f"{m} cell {i} raises {errors[0].ename}: {errors[0].evalue}"
        assert tagged == raised > 5


def test_bundle_installs_in_a_fresh_venv_and_runs(fresh_release, tmp_path):
    bundle = fresh_release / "dist" / "student"
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    done = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(bundle)],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    script = (
        "import sys, pathlib, nbformat\n"
        "from nbclient import NotebookClient\n"
        "import course_lib, matplotlib, graphviz, nbgrader\n"
        "assert 'site-packages' in course_lib.__file__, course_lib.__file__\n"
        "for m in sys.argv[1:]:\n"
        "    folder = pathlib.Path(m)\n"
        "    nb = nbformat.read(folder / (folder.name + '.ipynb'), as_version=4)\n"
        "    NotebookClient(nb, timeout=300, kernel_name='python3',\n"
        "                   resources={'metadata': {'path': str(folder)}}).execute()\n"
        "    print(folder.name, 'ran')\n"
    )
    done = subprocess.run(
        [str(py), "-c", script, *(str(bundle / m) for m in MILESTONES)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert done.stdout.split() == [w for m in MILESTONES for w in (m, "ran")]


def test_release_cli_reports_failure(tmp_path, capsys):
    course = copy_course(tmp_path)
    nb_path = course / "solutions" / "m1_value" / "m1_value.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("1 / 0"))
    nbformat.write(nb, nb_path)
    assert release.main(["--root", str(course), "--no-bundle"]) == 1
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_python_runs_the_release_module():
    done = subprocess.run([sys.executable, "-m", "course_grader.release", "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "everything derived from" in done.stdout and "--no-bundle" in done.stdout
