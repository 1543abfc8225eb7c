"""The set-up files agree with each other, and CI runs exactly what the README says."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names that differ from PyPI's (COURSE_DESIGN.md, "Packaging notes")
CONDA_TO_PYPI = {"python-graphviz": "graphviz"}
CONDA_ONLY = {"python", "pip", "graphviz"}  # graphviz on conda-forge is the `dot` program


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


def test_student_bundle_environment_matches_its_pyproject():
    bundle = ROOT / "course_grader" / "bundle"
    conda = conda_dependencies(bundle / "environment.yml")
    assert "graphviz" in conda
    assert mapped(conda) == pypi_dependencies(bundle / "pyproject.toml")


def test_student_bundle_asks_for_nothing_the_course_does_not_pin_alike():
    course = pypi_dependencies(ROOT / "pyproject.toml")
    student = pypi_dependencies(ROOT / "course_grader" / "bundle" / "pyproject.toml")
    for name, spec in student.items():
        if name in course:
            assert spec == course[name], name


def test_the_mapping_catches_a_disagreement(tmp_path):
    env = tmp_path / "environment.yml"
    env.write_text("name: x\ndependencies:\n  - python>=3.11\n  - python-graphviz>=0.19\n  - pytest>=8,<10\n")
    assert mapped(conda_dependencies(env)) == {"graphviz": ">=0.19", "pytest": ">=8,<10"}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines() if line.strip()]


def test_readme_sets_up_in_two_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert len(commands) == 2, commands
    open_cmd, test_cmd = commands
    assert "open" in open_cmd and "test" in test_cmd
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert ci[-1] == test_cmd
