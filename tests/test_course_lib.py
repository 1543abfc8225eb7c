"""Unit tests of course_lib: the scaffolding students import."""

import math
import re

import pytest

from course_lib import graph
from course_lib.attach import attach
from course_lib.checks import CheckFailed, check_array, check_close, check_raises, check_true, passed
from course_lib.tables import show_grad_check

pytestmark = pytest.mark.unit


class Node:
    """A stand-in for a student's Value: only the public interface draw() reads."""

    def __init__(self, data, children=(), op=""):
        self.data, self.grad, self._prev, self._op = data, 0.0, tuple(children), op


def test_attach_sets_the_method_on_the_class():
    class Box:
        pass

    @attach(Box)
    def double(self):
        return 2

    assert Box().double() == 2
    assert double.__name__ == "double"


def test_attach_keeps_a_builtin_name_meaning_the_builtin():
    class Box:
        def __init__(self, items):
            self.items = items

    @attach(Box)
    def sum(self, axis=None):  # the very case: a method named like a builtin
        return -1

    assert Box([1]).sum() == -1
    assert sum([1, 2]) == 3  # the cell's name still means Python's sum


def test_check_array_names_shape_then_value_then_pitfall():
    import numpy as np

    check_array(np.array([1.0, 2.0]), [1.0, 2.0 + 1e-12], what="ok")
    with pytest.raises(CheckFailed, match=r"expected: shape \(3,\)"):
        check_array(np.ones((2, 3)), np.ones(3), what="bias gradient")
    with pytest.raises(CheckFailed, match="a NumPy array"):
        check_array([1.0], [1.0], what="a list is not an array")
    with pytest.raises(CheckFailed, match="what forgetting to sum gives"):
        check_array(np.array([2.0, 2.0]), [4.0, 4.0], what="sum", pitfalls={"forgetting to sum": [2.0, 2.0]})
    with pytest.raises(CheckFailed):
        check_array(np.array([np.nan]), [np.nan], what="NaN never passes")


def test_check_true_takes_numpy_truth_but_not_a_truthy_object():
    import numpy as np

    check_true(np.float64(0.5) < 1, what="a NumPy comparison")
    with pytest.raises(CheckFailed):
        check_true(np.float64(2.0) < 1, what="NumPy's false")
    with pytest.raises(CheckFailed):
        check_true([1], what="a truthy list is not True")  # type: ignore[arg-type]


def test_attach_refuses_a_non_class():
    with pytest.raises(TypeError, match="takes a class"):
        attach(3)


def test_check_close_passes_close_numbers():
    check_close(0.1 + 0.2, 0.3, what="sum")


def test_check_close_message_names_concept_input_expected_got_and_hint():
    with pytest.raises(CheckFailed) as err:
        check_close(1.5, 2.0, what="gradient of a + b reaching a", given="a = 2", hint="use +=")
    text = str(err.value)
    for part in ("gradient of a + b reaching a", "input:    a = 2", "expected: 2", "got:      1.5", "hint:     use +="):
        assert part in text


def test_check_close_names_the_pitfall_that_matches():
    with pytest.raises(CheckFailed) as err:
        check_close(0.75, 0.5, what="tanh grad", hint="generic", pitfalls={"1 - x**2": 0.75, "other": 9.0})
    assert "your answer is what 1 - x**2 gives" in str(err.value)
    assert "generic" not in str(err.value)


def test_check_close_refuses_non_numbers_and_nan():
    with pytest.raises(CheckFailed, match="plain number"):
        check_close("1.0", 1.0, what="x")
    with pytest.raises(CheckFailed):
        check_close(float("nan"), 1.0, what="x")
    with pytest.raises(CheckFailed):
        check_close(True, 1.0, what="a bool is not a number here")


def test_check_true_and_raises():
    check_true(True, what="fine")
    with pytest.raises(CheckFailed, match="broken"):
        check_true(False, what="broken", expected="a", got="b")
    with pytest.raises(CheckFailed):
        check_true(1, what="truthy is not True")  # type: ignore[arg-type]
    err = check_raises(lambda: int("x"), ValueError, what="int('x')")
    assert isinstance(err, ValueError)
    with pytest.raises(CheckFailed, match="no error"):
        check_raises(lambda: 1, ValueError, what="nothing raised")
    with pytest.raises(CheckFailed, match="KeyError"):
        check_raises(lambda: {}["k"], ValueError, what="the wrong error")


def test_passed_says_hidden_tests_run_at_grading(capsys):
    passed("addition")
    assert "addition" in capsys.readouterr().out
    passed("x")
    assert "Hidden tests" in capsys.readouterr().out


def test_draw_one_box_per_value_with_op_data_grad():
    a, b = Node(2.0), Node(-3.0)
    m = Node(-6.0, (a, b), "*")
    m.grad = 1.0
    dot = graph.draw(m, names={"a": a, "m": m})
    src = dot.source
    assert src.count("shape=record") == 3
    assert "m | * | data -6.0000 | grad 1.0000" in src
    assert 'label="{' in src  # a shallow graph: each box's fields side by side
    assert "a | data 2.0000 | grad 0.0000" in src
    assert src.count("->") == 2
    assert graph.draw(m, names={"a": a, "m": m}).source == src  # same graph, same picture
    assert "<svg" in dot.pipe(format="svg").decode()


def test_a_tiny_networks_graph_keeps_its_text_readable():
    """m3's picture of MLP(2, [2, 1]): 22 boxes, 9 ranks deep. Shrunk to the notebook's
    width its 14-pt text must stay at 9 pt or more (it was scaled to 31 %, about 4 pt)."""
    xs = [Node(1.0), Node(-1.0)]

    def neuron(inputs, act):
        total = Node(0.0, (Node(0.5), Node(0.0, (Node(0.1), inputs[0]), "*")), "+")
        for x in inputs[1:]:
            total = Node(0.0, (total, Node(0.0, (Node(0.2), x), "*")), "+")
        return Node(0.0, (total,), "tanh") if act else total

    out = neuron([neuron(xs, True), neuron(xs, True)], False)
    svg = graph.draw(out)._repr_image_svg_xml()
    scale = re.search(r"scale\(([0-9.]+)", svg)
    assert scale is None or 14 * float(scale.group(1)) >= 9, scale.group(1)
    assert 'label="{' not in graph.draw(out).source  # deep: fields stacked, boxes narrow


def test_draw_shares_a_reused_node_and_refuses_huge_graphs():
    a = Node(1.0)
    b = Node(2.0, (a, a), "+")
    assert graph.draw(b).source.count("shape=record") == 2
    chain = Node(0.0)
    for _ in range(300):
        chain = Node(0.0, (chain,), "+")
    with pytest.raises(ValueError, match="more than 200"):
        graph.draw(chain)


def test_a_wide_graph_is_scaled_to_fit_a_notebook():
    def width_pt(dot) -> float:
        return float(re.search(r'<svg width="([0-9.]+)pt"', dot.pipe(format="svg").decode()).group(1))

    small = Node(1.0, (Node(2.0),), "+")
    chain = Node(0.0)
    for _ in range(30):
        chain = Node(0.0, (chain,), "+")
    assert width_pt(graph.draw(chain)) <= 10 * 72  # 10 inches at most
    assert width_pt(graph.draw(chain, max_width=4)) <= 4 * 72
    assert width_pt(graph.draw(chain)) > 4 * 72  # scaled to fit, not smaller
    assert width_pt(graph.draw(small)) == width_pt(graph.draw(small, max_width=100))  # a small one is untouched


def test_show_grad_check_prints_one_line_per_input(capsys):
    show_grad_check([(1.0, 1.0000000001, 1e-10, True), (2.0, 3.0, 0.33, False)], ["a", "b"], title="t")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "t"
    assert out[2].startswith("  a") and "✓" in out[2]
    assert "✗" in out[3]
    with pytest.raises(ValueError):
        show_grad_check([(1.0, 1.0, 0.0, True)], ["a", "b"])


def test_course_lib_holds_no_answer():
    """No finite-difference helper, no topological sort, no backward in course_lib."""
    import course_lib

    text = "".join(p.read_text() for p in sorted(__import__("pathlib").Path(course_lib.__file__).parent.glob("*.py")))
    for forbidden in ("2 * h", "(2*h)", "def backward", "def topo", "reversed(", "_backward()"):
        assert forbidden not in text, forbidden


def test_a_failed_check_shows_its_message_not_course_lib_code():
    err = CheckFailed("gradient of tanh\n  expected: 1")
    (shown,) = err._render_traceback_()
    assert "gradient of tanh" in shown and "expected: 1" in shown and "checks.py" not in shown


def test_make_moons_is_seeded_balanced_and_checks_its_arguments():
    from course_lib.datasets import make_moons

    X, y = make_moons(40, seed=3)
    assert len(X) == len(y) == 40 and all(len(p) == 2 for p in X)
    assert sorted(set(y)) == [-1.0, 1.0] and sum(y) == 0
    assert make_moons(40, seed=3) == (X, y) and make_moons(40, seed=4) != (X, y)
    upper = [p for p, t in zip(X, y, strict=True) if t == -1.0]
    assert sum(p[1] for p in upper) / len(upper) > 0.3  # the upper moon is up
    X0, _ = make_moons(10, noise=0.0)
    assert all(abs(math.hypot(p[0], p[1]) - 1) < 1e-12 for p in X0[::2])  # on the unit half circle
    with pytest.raises(ValueError):
        make_moons(1)
    with pytest.raises(ValueError):
        make_moons(10, noise=-1)


def test_free_graph_cuts_every_link_so_refcounting_frees_the_graph():
    import gc
    import weakref

    from course_lib.memory import free_graph, paused_gc

    class V:
        __slots__ = ("__weakref__", "_backward", "_prev")

        def __init__(self, children=()):
            self._prev = tuple(children)
            self._backward = lambda: None

    def op(*children):
        out = V(children)
        out._backward = lambda: out  # a closure referring to its own node: a reference cycle
        return out

    leaf = V()
    with paused_gc():
        assert not gc.isenabled()
        mid = op(leaf, leaf)
        root = op(mid, op(mid))
        probe = weakref.ref(mid)
        free_graph(root)
        del mid, root
        assert probe() is None  # freed by reference counting alone, collector paused
        assert leaf._prev == ()
    assert gc.isenabled()


def test_paused_gc_restores_the_collector_even_on_error():
    import gc

    from course_lib.memory import paused_gc

    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_report_prints_first_every_and_last_epoch(capsys):
    from course_lib.progress import report

    for epoch in range(25):
        report(epoch, 25, 1.0 / (epoch + 1), every=10)
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[1] for ln in lines] == ["1/25", "10/25", "20/25", "25/25"]
    assert lines[-1].endswith("loss 0.04")


def test_plots_draw_on_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib import plots
    from course_lib.datasets import make_moons

    X, y = make_moons(20)
    ax = plots.scatter(X, y)
    assert len(ax.collections) == 2
    ax = plots.decision_boundary(lambda p: p[1] - 0.25, X, y, steps=10)
    assert ax.get_title() == "decision boundary"
    ax = plots.compare_curves({"SGD": [1.0, 0.5, 0.1], "Adam": [1.0, 0.1, 0.01]})
    assert [line.get_label() for line in ax.get_lines()] == ["SGD", "Adam"]
    assert ax.get_yscale() == "log"
    plt.close("all")


SHRUNK_SVG = """<svg width="720pt" height="80pt"
 viewBox="0.00 0.00 720.00 79.65" xmlns="http://www.w3.org/2000/svg">
<g id="graph0" class="graph" transform="scale(0.63 0.63) rotate(0) translate(4 123)">
<polygon fill="white" stroke="transparent" points="-4,4 -4,-123 1144,-123 1144,4 -4,4"/>
</g></svg>"""


def test_a_shrunk_graph_fits_its_frame_exactly():
    """Graphviz rounds the scale of a shrunk graph to 0.63, and 1148 pt x 0.63 overflows a
    720 pt frame: the root's box would lose its right-hand end."""
    fixed = graph.exact_scale(SHRUNK_SVG)
    scale = float(re.search(r"scale\(([\d.]+) ", fixed).group(1))
    assert 1148 * scale <= 720.0 + 1e-9 and 127 * scale <= 79.65 + 1e-9
    assert scale == pytest.approx(79.65 / 127, abs=1e-6)
    assert fixed.replace(f"{scale:.6f} {scale:.6f}", "0.63 0.63") == SHRUNK_SVG, "nothing else changes"
    unscaled = SHRUNK_SVG.replace("scale(0.63 0.63)", "scale(1 1)")
    assert graph.exact_scale(unscaled) == unscaled
    assert graph.exact_scale("<svg>not graphviz</svg>") == "<svg>not graphviz</svg>"


@pytest.fixture
def shell(capsys):
    """An IPython shell in this process, with course_lib's explanations installed."""
    from IPython.core.interactiveshell import InteractiveShell

    from course_lib import explain

    sh = InteractiveShell.instance()
    explain.install()
    sh.run_cell("from course_lib.checks import check_true, passed")
    capsys.readouterr()
    yield sh
    sh.set_custom_exc((), None)
    InteractiveShell.clear_instance()  # later tests expect no IPython in this process


@pytest.mark.parametrize(
    ("code", "cause", "original"),
    [
        ("def f(x):\n    return f(x)\nf(1)", "topo_sort (or backward) recursed", "RecursionError: maximum recursion"),
        ("x = 10.0\nfor _ in range(20):\n    x = x**2", "lower it", "OverflowError:"),
        ("for a in 1.5:\n    pass", "came from your code", "TypeError: 'float' object is not iterable"),
        ("1 + [2]", "an operation got a type it does not handle", "TypeError: unsupported operand"),
        ("class Value: pass\nlist(Value())", "a layer of width 1 returns a single Value", "not iterable"),
        ("def g():\n    raise NotImplementedError()\ng()", "still raises NotImplementedError", "NotImplementedError"),
        ("set(BROKEN_NAMES_NEVER_DEFINED)", "Run All Above", "NameError: name 'BROKEN_NAMES_NEVER_DEFINED'"),
    ],
)
def test_an_error_inside_a_check_is_said_in_course_words_with_the_original_on_one_line(
    shell, capsys, code, cause, original
):
    result = shell.run_cell(code + "\npassed('the thing')")
    out = capsys.readouterr().out
    assert result.error_in_exec is not None  # the cell still failed
    assert "this check stopped" in out and cause in out and original in out
    assert "Traceback" not in out
    assert len(out.strip().splitlines()) == 3


def test_an_error_outside_a_check_keeps_pythons_traceback_and_a_check_failure_its_message(shell, capsys):
    shell.run_cell("def f(x):\n    return f(x)\nf(1)")
    out = capsys.readouterr().out
    assert "Traceback" in out and "this check stopped" not in out
    shell.run_cell("check_true(False, what='the concept', got='3')\npassed('x')")
    out = capsys.readouterr().out
    assert "CheckFailed" in out and "the concept" in out and "this check stopped" not in out
