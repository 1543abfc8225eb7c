"""The release step: committed files equal its output, nothing leaks to students, and
the student bundle installs and runs on its own."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import COURSE, MILESTONES, ROOT, copy_course, nbgrader

from course_grader.authoring import release
from course_grader.cells import MARKERS
from course_grader.isolation.run_notebook import execute
from course_grader.layout import SHIPPED, Course
from course_grader.measuring.submissions import CHALLENGE_PREFIX, fill, solution_cells

LEAKS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "course_grader", "probe_")


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release step run from scratch on a copy of the course, as `./course release
    m2_backward` runs it: the copy has m1_value released, and releases the next."""
    course = copy_course(tmp_path_factory.mktemp("release"))
    assert Course.at(course).released() == ["m1_value"], "a fresh clone has milestone 1 released"
    for m in MILESTONES:
        for generated in (Course.at(course).release(m)).glob("*"):
            generated.unlink()
        for shipped in (Course.at(course).source(m)).glob("*.py"):
            if release.GENERATED_MARK in shipped.read_text():  # colleague.py is written by hand
                shipped.unlink()
    assert release.main(["m2_backward", "--root", str(course), "--no-execute"]) == 0
    return course


def test_releasing_the_next_milestone_lists_it_and_bundles_it(fresh_release):
    assert Course.at(fresh_release).released() == ["m1_value", "m2_backward"]
    bundle = fresh_release / "dist" / "student"
    assert sorted(p.name for p in bundle.iterdir() if p.name in MILESTONES) == ["m1_value", "m2_backward"]
    assert "Released so far: `m1_value`, `m2_backward`." in (bundle / "README.md").read_text()


def test_releasing_out_of_order_is_refused_and_changes_nothing(tmp_path, capsys):
    course = copy_course(tmp_path)
    before = (Course.at(course).released_file).read_text()
    assert release.main(["m4_training", "--root", str(course), "--no-execute"]) == 1
    err = capsys.readouterr().err
    assert "m2_backward is next, not m4_training" in err and "m2_backward, m3_mlp" in err
    assert release.main(["m5_nothing", "--root", str(course)]) == 1
    assert "no milestone 'm5_nothing'" in capsys.readouterr().err
    assert (Course.at(course).released_file).read_text() == before
    assert not (course / "dist").exists()


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
        ours = {k: v for k, v in files_under(COURSE.source(m)).items() if k.endswith(".py")}
        fresh = {k: v for k, v in files_under(Course.at(fresh_release).source(m)).items() if k.endswith(".py")}
        assert ours == fresh, f"solutions/{m}/ shipped files are out of date: run ./course release"
    assert (Course.at(fresh_release).source("m2_backward") / "engine.py").exists()


def test_drift_is_detected(tmp_path):
    """The drift check is not vacuous: an edited solution changes the release."""
    course = copy_course(tmp_path)
    nb_path = Course.at(course).source_notebook("m1_value")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[0].source += "\n\nAn edit."
    nbformat.write(nb, nb_path)
    release.generate_assignment(course, "m1_value")
    assert files_under(Course.at(course).release("m1_value")) != files_under(COURSE.release("m1_value"))


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
    nb = nbformat.read(COURSE.source_notebook(m), as_version=4)
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
    # lines the milestone hands out itself are given, not answers: colleague.py (written by
    # hand: a fix repeats the broken function's scaffolding), and the earlier milestones'
    # answers it ships (m5's Tensor ** k has the very backward line of milestone 1's Value ** k)
    for given in (COURSE.source(m)).glob("*.py"):
        text = _student_text(given)
        windows = {w for w in windows if w not in text}
    return windows


def _student_text(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return "\n".join(_stripped_lines("\n".join(c.source for c in nb.cells)))
    return "\n".join(_stripped_lines(path.read_text()))


def _answers_in(folder: Path, milestone: str) -> list[str]:
    """Files under ``folder`` that hold any of ``milestone``'s solution windows."""
    windows = _solution_windows(milestone)
    assert len(windows) > 10
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md"):
            text = _student_text(path)
            if any(w in text for w in windows):
                found.append(str(path.relative_to(folder)))
    return found


@pytest.mark.parametrize("k", range(len(MILESTONES)), ids=lambda k: f"through-{MILESTONES[k]}")
def test_bundle_released_through_a_milestone_holds_no_answer_to_it_or_later(k, tmp_path):
    """A milestone's answers reach students only with a later milestone's release: the
    bundle released through milestone k holds milestones 1..k and no answer to k or later."""
    released = list(MILESTONES[: k + 1])
    bundle = release.build_bundle(ROOT, tmp_path / "student", released=released)
    assert bundle is not None and (tmp_path / "student.zip").exists()
    folders = sorted(p.name for p in bundle.iterdir() if p.is_dir() and p.name in MILESTONES)
    assert folders == released, "the bundle holds exactly the released milestones"
    assert not (bundle / "solutions").exists() and not (bundle / "course_grader").exists()
    for later in MILESTONES[k:]:
        assert not _answers_in(bundle, later), f"released through {MILESTONES[k]}: {later}'s answers are in it"
    if k:  # the check sees shipped code: the newest milestone ships the answers of the one before
        shipped = _answers_in(bundle, MILESTONES[k - 1])
        assert all(p.startswith(f"{MILESTONES[k]}/") and p.endswith(".py") for p in shipped), shipped
        if any(MILESTONES[k - 1] in sources for sources in SHIPPED.values()):  # m5 ships no m4 code
            assert shipped, f"{MILESTONES[k]} ships {MILESTONES[k - 1]}'s code, yet none of its answers was found"
    readme = (bundle / "README.md").read_text()
    assert "{released_note}" not in readme
    for m in MILESTONES:
        assert (f"| `{m}/` |" in readme) == (m in released), m
    assert f"Released so far: {', '.join(f'`{m}`' for m in released)}." in readme


def test_a_rebuilt_bundle_keeps_its_git_repository(tmp_path):
    """Published as its own repository, the bundle is rebuilt in place at each release:
    its .git stays, the files of the last release are replaced, and the zip holds no .git."""
    dest = tmp_path / "student"
    release.build_bundle(ROOT, dest, released=list(MILESTONES[:1]))
    (dest / ".git").mkdir()
    (dest / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (dest / "stale.txt").write_text("from an older release")
    release.build_bundle(ROOT, dest, released=list(MILESTONES[:2]))
    assert (dest / ".git" / "HEAD").exists() and not (dest / "stale.txt").exists()
    assert (dest / MILESTONES[1]).is_dir()
    import zipfile

    names = zipfile.ZipFile(tmp_path / "student.zip").namelist()
    assert f"student/{MILESTONES[1]}/{MILESTONES[1]}.ipynb" in names
    assert not any("/.git" in n for n in names)


def test_nothing_released_means_no_bundle(tmp_path):
    stale = tmp_path / "student"
    stale.mkdir()
    (stale / "old.ipynb").write_text("{}")
    assert release.build_bundle(ROOT, stale, released=[]) is None
    assert not stale.exists() and not (tmp_path / "student.zip").exists()


def test_the_exchange_releases_only_released_milestones_and_nothing_more(tmp_path):
    """nbgrader's release_assignment carries one milestone; it refuses one that is not
    released, and what it carries holds no answer to that milestone or a later one."""
    course = copy_course(tmp_path / "course")
    exchange = tmp_path / "exchange"
    args = ("--log-level=INFO", f"--Exchange.root={exchange}")
    for k, m in enumerate(MILESTONES):
        Course.at(course).write_released(list(MILESTONES[:k]))
        refused = subprocess.run(
            [sys.executable, "-m", "nbgrader", "release_assignment", m, *args],
            cwd=course,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert refused.returncode != 0 and f"./course release {m}" in refused.stdout + refused.stderr
        assert not (exchange / "micrograd-course" / "outbound" / m).exists()
        Course.at(course).write_released(list(MILESTONES[: k + 1]))
        nbgrader(course, "release_assignment", m, *args)
        outbound = exchange / "micrograd-course" / "outbound" / m
        assert (outbound / f"{m}.ipynb").exists()
        for later in MILESTONES[k:]:
            assert not _answers_in(outbound, later), f"the exchange's {m} holds {later}'s answers"
    assert not (exchange / "micrograd-course" / "outbound" / "solutions").exists()


def test_shipped_engine_is_the_solution_and_readable():
    engine = (COURSE.source("m2_backward") / "engine.py").read_text()
    assert "@attach" not in engine and "BEGIN SOLUTION" not in engine
    answers = solution_cells(COURSE.source_notebook("m1_value"))
    assert "def __add__(self, other):" in engine
    assert len([cell for cell in answers if not cell.startswith(CHALLENGE_PREFIX)]) == 12
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
        for f in (COURSE.release(m)).iterdir():
            if f.is_file():  # not a __pycache__ that a run of the notebooks left
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


def test_bundle_installs_in_a_fresh_venv_and_runs(student_bundle, student_python, tmp_path):
    """Installed as its README says, the bundle's every notebook runs: course_lib comes
    from the installed package, not from the folder it was installed from."""
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
        [str(student_python), "-c", script, *(str(student_bundle / m) for m in MILESTONES)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert done.stdout.split() == [w for m in MILESTONES for w in (m, "ran")]


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _jupyter(python: Path, *args: str) -> str:
    """A jupyter subcommand of ``python``'s environment (jupyter finds its subcommands on PATH)."""
    env = {**os.environ, "PATH": os.pathsep.join([str(python.parent), os.environ["PATH"]])}
    done = subprocess.run([str(python), "-m", "jupyter", *args], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return ANSI.sub("", done.stdout + done.stderr)


def test_students_jupyterlab_has_only_the_student_side_of_nbgrader(student_python):
    labext = _jupyter(student_python, "labextension", "list")
    disabled = labext.split("Disabled extensions:", 1)[1] if "Disabled extensions:" in labext else ""
    for plugin in ("formgrader", "course-list", "create-assignment"):
        assert f"@jupyter/nbgrader:{plugin}" in disabled, labext
    for plugin in ("assignment-list", "validate-assignment"):
        assert f"@jupyter/nbgrader:{plugin}" not in disabled, labext
    server = _jupyter(student_python, "server", "extension", "list")
    states = dict(re.findall(r"nbgrader\.server_extensions\.(\w+) (enabled|disabled)", server))
    assert states == {
        "formgrader": "disabled",
        "course_list": "disabled",
        "assignment_list": "enabled",
        "validate_assignment": "enabled",
    }, server


def _validate(python: Path, notebook: Path, cwd: Path) -> tuple[bool, str]:
    done = subprocess.run(
        [str(python), "-m", "nbgrader", "validate", str(notebook)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout + done.stderr
    return "Success! Your notebook passes all the tests." in out, out


def test_validate_tells_the_truth_wherever_it_runs(student_bundle, student_python, tmp_path):
    """A blank notebook fails and a complete one passes, whether Validate starts at the
    bundle's root, inside the milestone folder, or in a folder like the one
    fetch_assignment makes (no nbgrader_config.py anywhere near it)."""
    m = MILESTONES[0]
    fetched = tmp_path / "home" / m  # what `nbgrader fetch_assignment` makes: a copy of the release
    shutil.copytree(student_bundle / m, fetched, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    complete = fill(student_bundle / m / f"{m}.ipynb", solution_cells(COURSE.source_notebook(m)))
    for folder in (student_bundle / m, fetched):
        nbformat.write(complete, folder / "complete.ipynb")
    places = [  # (the notebook's folder, where Validate starts)
        (student_bundle / m, student_bundle),
        (student_bundle / m, student_bundle / m),
        (fetched, fetched),
        (fetched, tmp_path / "home"),
    ]
    for folder, cwd in places:
        passed, out = _validate(student_python, folder / f"{m}.ipynb", cwd)
        assert not passed and "NotImplementedError" in out, f"blank {folder} from {cwd}:\n{out[-2000:]}"
        passed, out = _validate(student_python, folder / "complete.ipynb", cwd)
        assert passed, f"complete {folder} from {cwd}:\n{out[-3000:]}"


def test_release_cli_reports_failure(tmp_path, capsys):
    course = copy_course(tmp_path)
    nb_path = Course.at(course).source_notebook("m1_value")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("1 / 0"))
    nbformat.write(nb, nb_path)
    before = (Course.at(course).released_file).read_text()
    assert release.main(["m2_backward", "--root", str(course), "--no-bundle"]) == 1
    assert "ZeroDivisionError" in capsys.readouterr().err
    assert (Course.at(course).released_file).read_text() == before, "a failed release releases nothing"


def test_python_runs_the_release_module():
    done = subprocess.run(
        [sys.executable, "-m", "course_grader.authoring.release", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "everything derived from" in done.stdout and "--no-bundle" in done.stdout
