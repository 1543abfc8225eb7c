"""Without Graphviz's `dot`, every notebook still runs to its end and validates.

A picture cell then shows one line on how to install Graphviz and the graph as indented
text (course_lib/graph.py). `dot` is hidden explicitly here (PATH pointing at an empty
folder), so these tests mean the same on a machine with Graphviz and on one without.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import graphviz
import nbformat
import pytest
from IPython.core.formatters import DisplayFormatter

from course_grader.isolation.run_notebook import execute
from course_grader.layout import MILESTONES, Course
from course_lib import graph

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
COURSE = Course.at(ROOT)
DRAWING = ("m1_value", "m2_backward", "m3_mlp")  # the milestones with a picture cell


class Node:
    """A stand-in for a student's Value: only the public interface draw() reads."""

    def __init__(self, data: float, children: tuple["Node", ...] = (), op: str = "") -> None:
        self.data, self.grad, self._prev, self._op = data, 0.0, tuple(children), op


def shared_graph() -> tuple[Node, dict[str, Node]]:
    """s = a*b + a after backward: ``a`` is used twice, ``b`` has no name."""
    a, b = Node(2.0), Node(-3.0)
    m = Node(-6.0, (a, b), "*")
    s = Node(-4.0, (m, a), "+")
    s.grad, m.grad, a.grad, b.grad = 1.0, 1.0, -2.0, 2.0
    return s, {"a": a, "m": m, "s": s}


SHARED_TEXT = """\
s | + | data -4.0000 | grad 1.0000
├─ m | * | data -6.0000 | grad 1.0000
│  ├─ #1 a | data 2.0000 | grad -2.0000
│  └─ data -3.0000 | grad 2.0000
└─ #1 a (shown above)"""

# What draw() built before the text fallback existed: the picture must not change.
SHARED_SOURCE = (
    "digraph {\n"
    '\tgraph [rankdir=LR size="10,20"]\n'
    "\tnode [fontname=Helvetica]\n"
    '\tn0 [label="{ s | + | data -4.0000 | grad 1.0000 }" fillcolor="#e8f0fe" shape=record style=filled]\n'
    '\tn1 [label="{ m | * | data -6.0000 | grad 1.0000 }" shape=record]\n'
    '\tn2 [label="{ a | data 2.0000 | grad -2.0000 }" shape=record]\n'
    '\tn3 [label="{ data -3.0000 | grad 2.0000 }" shape=record]\n'
    "\tn1 -> n0\n\tn2 -> n0\n\tn2 -> n1\n\tn3 -> n1\n"
    "}\n"
)


@pytest.fixture
def no_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH is an empty folder: neither draw() nor graphviz can find `dot`."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None
    return empty


@pytest.fixture
def fake_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    """draw() believes `dot` is installed, whether or not it is."""
    monkeypatch.setattr(graph.shutil, "which", lambda name, *a, **k: f"/usr/bin/{name}")


def test_install_line_is_one_line_naming_every_way_to_install() -> None:
    line = graph.DOT_MISSING_LINE
    assert "\n" not in line
    for part in ("apt-get install graphviz", "brew install graphviz", "conda install", "restart the kernel"):
        assert part in line, part


def test_draw_without_dot_returns_the_graph_as_text(no_dot: Path) -> None:
    s, names = shared_graph()
    shown = graph.draw(s, names=names)  # no RuntimeError
    assert isinstance(shown, graph.GraphText)
    assert shown.text == SHARED_TEXT
    assert str(shown) == repr(shown) == f"{graph.DOT_MISSING_LINE}\n{SHARED_TEXT}"
    assert graph.draw(s, names=names).text == SHARED_TEXT  # the same on every run: no id() in it
    assert "0x" not in repr(shown)


def test_jupyter_shows_the_text_as_plain_text_only(no_dot: Path) -> None:
    s, names = shared_graph()
    data, _metadata = DisplayFormatter().format(graph.draw(s, names=names))
    assert data == {"text/plain": f"{graph.DOT_MISSING_LINE}\n{SHARED_TEXT}"}  # no HTML, no image


def test_a_cell_that_draws_twice_says_how_to_install_once(no_dot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s, names = shared_graph()
    cell = ["cell 1"]
    monkeypatch.setattr(graph, "_current_cell", lambda: cell[0])
    first, second = graph.draw(s, names=names), graph.draw(s, names=names)
    assert first._repr_mimebundle_()["text/plain"].startswith(graph.DOT_MISSING_LINE)
    assert second._repr_mimebundle_() == {"text/plain": SHARED_TEXT}
    cell[0] = "cell 2"
    assert second._repr_mimebundle_()["text/plain"].startswith(graph.DOT_MISSING_LINE)


def test_text_of_a_reused_input_a_deep_chain_and_a_huge_graph(no_dot: Path) -> None:
    a = Node(1.0)
    double = graph.draw(Node(2.0, (a, a), "+"), names={"a": a})
    assert double.text == "+ | data 2.0000 | grad 0.0000\n├─ #1 a | data 1.0000 | grad 0.0000\n└─ #1 a (shown above)"
    chain = Node(0.0)
    for _ in range(3000):  # deeper than Python's recursion limit
        chain = Node(0.0, (chain,), "+")
    assert len(graph.draw(chain, max_nodes=5000).text.splitlines()) == 3001
    with pytest.raises(ValueError, match="more than 200"):  # the same limit as the picture
        graph.draw(chain)


def test_with_dot_the_picture_is_unchanged(fake_dot: None) -> None:
    s, names = shared_graph()
    picture = graph.draw(s, names=names)
    assert isinstance(picture, graph.GraphPicture)
    assert picture.source == SHARED_SOURCE
    assert repr(picture) == "<computation graph: 4 Values>"


def test_with_dot_jupyter_gets_graphviz_own_bundle(fake_dot: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graphviz.Digraph, "_repr_image_svg_xml", lambda self: "<svg>picture</svg>")
    s, names = shared_graph()
    assert graph.draw(s, names=names)._repr_mimebundle_() == {"image/svg+xml": "<svg>picture</svg>"}


def test_dot_gone_at_display_time_shows_text(no_dot: Path, fake_dot: None) -> None:
    """draw() saw `dot`, then graphviz cannot run it: a real ExecutableNotFound."""
    s, names = shared_graph()
    picture = graph.draw(s, names=names)
    assert isinstance(picture, graph.GraphPicture)
    with pytest.raises(graphviz.ExecutableNotFound):
        picture.pipe(format="svg")
    assert picture._repr_mimebundle_() == {"text/plain": f"{graph.DOT_MISSING_LINE}\n{SHARED_TEXT}"}
    assert DisplayFormatter().format(picture)[0] == {"text/plain": f"{graph.DOT_MISSING_LINE}\n{SHARED_TEXT}"}


def test_a_picture_whose_rendering_raises_executable_not_found_shows_text(
    fake_dot: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(self: graphviz.Digraph, *args: object, **kwargs: object) -> str:
        raise graphviz.backend.ExecutableNotFound(["dot", "-Tsvg"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    s, names = shared_graph()
    picture = graph.draw(s, names=names)
    assert picture._repr_mimebundle_() == {"text/plain": f"{graph.DOT_MISSING_LINE}\n{SHARED_TEXT}"}
    bare = graph.GraphPicture()  # not made by draw(): still no error
    assert bare._repr_mimebundle_() == {"text/plain": f"{graph.DOT_MISSING_LINE}\n<computation graph: 0 Values>"}


# --- the solution notebooks, run and validated with `dot` hidden ---------------------------

VALUE_LINE = re.compile(r"^[│├└─ ]*(#\d+ )?(?:\S.* \| )?data \S+ \| grad \S+$")
SHOWN_ABOVE = re.compile(r"^[│├└─ ]+#\d+( \S.*)? \(shown above\)$")


@pytest.fixture(scope="module")
def course_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every solution folder, copied, with the student bundle's nbgrader configuration."""
    dest = tmp_path_factory.mktemp("no-graphviz")
    for m in MILESTONES:
        shutil.copytree(COURSE.source(m), dest / m, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy2(ROOT / "course_grader" / "authoring" / "bundle" / "nbgrader_config.py", dest / "nbgrader_config.py")
    return dest


def text_of(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        return output.text
    return output.get("data", {}).get("text/plain", "")


@pytest.mark.slow
@pytest.mark.parametrize("m", MILESTONES)
def test_solution_notebook_runs_to_its_end_without_dot(m: str, course_copy: Path, no_dot: Path) -> None:
    folder = course_copy / m
    nb = execute(folder / f"{m}.ipynb", folder, timeout=120)  # the kernel inherits the dot-less PATH
    assert "execution_error" not in nb.metadata, nb.metadata.get("execution_error")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code if c.source.strip()), "the notebook stopped early"
    drawing = 0
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", f"{m}: {output.ename}: {output.evalue}\n{cell.source}"
            assert "image/svg+xml" not in output.get("data", {}), f"{m}: an SVG without dot?\n{cell.source}"
        calls = cell.source.count("draw(")
        if not calls:
            continue
        drawing += 1
        texts = "".join(text_of(o) for o in cell.outputs)
        assert texts.count(graph.DOT_MISSING_LINE) == 1, f"{m}: the install line, once per cell:\n{texts}"
        graphs = [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        assert len(graphs) == calls, f"{m}: one text rendering per draw():\n{cell.source}"
        for output in graphs:
            assert set(output.data) == {"text/plain"}, f"{m}: plain text only, got {sorted(output.data)}"
            lines = output.data["text/plain"].replace(graph.DOT_MISSING_LINE + "\n", "").splitlines()
            assert lines and not lines[0].startswith(("├", "└", "│")), "the root comes first, unindented"
            for line in lines:
                assert VALUE_LINE.match(line) or SHOWN_ABOVE.match(line), f"{m}: not a Value line: {line!r}"
    if m in DRAWING:
        assert drawing > 0, f"{m} draws no graph: this test would check nothing there"


@pytest.mark.slow
def test_validate_passes_without_dot(course_copy: Path, no_dot: Path) -> None:
    """`nbgrader validate` (validate_all, as students have it) on the notebooks that draw."""
    runs = {
        m: subprocess.Popen(
            [sys.executable, "-m", "nbgrader", "validate", f"{m}/{m}.ipynb"],
            cwd=course_copy,
            env={**os.environ, "PATH": str(no_dot)},  # the kernel inherits it
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for m in DRAWING
    }
    try:
        for m, run in runs.items():
            out, _ = run.communicate(timeout=180)
            assert run.returncode == 0 and "Success! Your notebook passes all the tests." in out, f"{m}:\n{out[-3000:]}"
            assert "VALIDATION FAILED" not in out, f"{m}:\n{out[-3000:]}"
    finally:
        for run in runs.values():  # a failure above leaves no validate running
            if run.poll() is None:
                run.kill()
                run.wait()
