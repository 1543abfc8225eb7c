"""The set-up files agree with each other, and CI runs exactly what the README says."""

import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {"python-graphviz": "graphviz"}
CONDA_ONLY = {"python", "pip", "graphviz"}  # graphviz on conda-forge is the `dot` program


def pip_section(path: Path) -> list[str]:
    """The requirements under an environment.yml's ``- pip:`` entry."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^  - pip:\s*$", line))
    out = []
    for line in lines[start + 1 :]:
        m = re.match(r"^      - (.+?)\s*$", line)
        if not m:
            break
        out.append(m.group(1))
    return out


def conda_dependencies(path: Path) -> dict[str, str]:
    """name -> version spec of an environment.yml's conda dependencies (not its pip: list)."""
    deps, in_deps = {}, False
    for line in path.read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([A-Za-z0-9_.-]+)\s*([<>=!~,.0-9*]*)\s*$", line)
        if in_deps and m:
            deps[m.group(1)] = m.group(2)
    return deps


def pypi_dependencies(path: Path) -> dict[str, str]:
    project = tomllib.loads(path.read_text())["project"]
    out = {}
    for req in project["dependencies"]:
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", req)
        out[m.group(1).lower()] = m.group(2).replace(" ", "")
    return out


def mapped(conda: dict[str, str]) -> dict[str, str]:
    return {CONDA_TO_PYPI.get(k, k): v for k, v in conda.items() if k not in CONDA_ONLY}


def test_environment_yml_lists_the_same_packages_as_pyproject():
    conda = conda_dependencies(ROOT / "environment.yml")
    assert "graphviz" in conda, "conda users need the dot program too"
    assert mapped(conda) == pypi_dependencies(ROOT / "pyproject.toml")
    # then the course's own package, editable as `./course` installs it
    assert pip_section(ROOT / "environment.yml") == ["-e ."]


def test_student_bundle_environment_matches_its_pyproject():
    bundle = ROOT / "course_grader" / "authoring" / "bundle"
    conda = conda_dependencies(bundle / "environment.yml")
    assert "graphviz" in conda
    assert mapped(conda) == pypi_dependencies(bundle / "pyproject.toml")
    # then course_lib and its Jupyter settings, as the pip path installs them: not editable,
    # since an editable install leaves the data files (Validate's settings) out
    assert pip_section(bundle / "environment.yml") == ["."]
    assert "pip install ." in (bundle / "README.md").read_text()
    assert "pip install -e" not in (bundle / "README.md").read_text()


def test_student_bundle_asks_for_nothing_the_course_does_not_pin_alike():
    course = pypi_dependencies(ROOT / "pyproject.toml")
    student = pypi_dependencies(ROOT / "course_grader" / "authoring" / "bundle" / "pyproject.toml")
    for name, spec in student.items():
        if name in course:
            assert spec == course[name], name


def test_the_mapping_catches_a_disagreement(tmp_path):
    env = tmp_path / "environment.yml"
    env.write_text(
        "name: x\ndependencies:\n  - python>=3.11\n  - python-graphviz>=0.19\n  - pytest>=8,<10\n"
        "  - pip:\n      - -e .\n      - extra\n"
    )
    assert mapped(conda_dependencies(env)) == {"graphviz": ">=0.19", "pytest": ">=8,<10"}
    assert pip_section(env) == ["-e .", "extra"]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines() if line.strip()]


def test_readme_sets_up_in_two_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert len(commands) == 2, commands
    open_cmd, test_cmd = commands
    assert "open" in open_cmd and "test" in test_cmd
    script = (ROOT / ".ci" / "run").read_text()
    ci = [ln.strip() for ln in script.splitlines() if ln.strip() and not ln.startswith("#")]
    assert ci[-1].split("#", 1)[0].strip() == test_cmd, "CI must run the README's test command, as written there, last"
    assert ci[-1] in (ROOT / "README.md").read_text(), "... the README's very line, its comment included"
    # ... in a clean environment: nothing inherited, a system PATH only, a fresh course venv
    assert "env -i" in script and "COURSE_VENV=" in script and "PYTHONNOUSERSITE=1" in script
    path = script.split("PATH=", 1)[1].split()[0].rstrip(")")
    assert set(path.split(":")) <= {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}
