"""Cheats: what a student who wants points without the work can put in a solution cell.

Each ``Attack`` starts from the instructor's answers (``base="solution"``) or from the
blank student notebook (``base="blank"``), applies ``wrong`` (the honest mistake the
cheat tries to hide; the baseline is the submission with only that) and then ``cheat``.
Edits have the shape of ``m1_value.PITFALLS``: grade_id -> list of (old, new)
replacements, or a full source string. A cheat *wins* when some graded cell scores more
than in its baseline; ``wins`` holds the reason when it does today (an open hole, marked
xfail in ``tests/test_cheats.py``), or "" when the grader already holds.

Code in here runs as a student's would: once, in a sandboxed grading kernel whose live
objects the grader's probes question (``course_grader/isolation/live.py``), where the grader
package is a stand-in. It may patch anything in that process, but never writes outside its
own scratch folder.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import judged_in_process

from course_grader.layout import MILESTONES
from variants import answer_cells

Edits = dict[str, "list[tuple[str, str]] | str | Callable[[str], str]"]


@dataclass(frozen=True)
class Attack:
    name: str
    milestone: str
    cheat: Edits
    base: str = "solution"  # "solution" (instructor answers) or "blank" (the released stubs)
    wrong: Edits = field(default_factory=dict)  # the baseline's own mistake, kept in the cheat
    wins: str = ""  # why the cheat earns points today ("" = it does not)
    crashes: str = ""  # why grading this submission raises today ("" = it does not)
    note: str = ""  # what ``score`` does not show (e.g. a different working folder)
    first: tuple[str, ...] = ()  # grade ids of cells moved up to just after the first code cell (both notebooks)


# --- building blocks ---------------------------------------------------------------------


def before(first_line: str) -> Callable[[str], list[tuple[str, str]]]:
    """An edit that runs ``code`` at the top of the solution cell beginning with ``first_line``
    (a milestone's first answer cell: before any hidden test)."""
    return lambda code: [(first_line, code + "\n\n" + first_line)]


before_class = before("class Value:")  # m1


def at_top(m: str, code: str) -> Edits:
    """An edit that runs ``code`` at the top of milestone ``m``'s ``CHEAT_CELL`` (its first
    answer cell: before any hidden test), in the instructor's answer or the blank stub."""
    cell = importlib.import_module(f"variants.{m}").CHEAT_CELL
    return {cell: lambda source: code + "\n\n" + source}


def probes_module(m: str) -> str:
    """The probes module a milestone's hidden tests import (``m1`` for ``m1_value``), read
    from its instructor notebook as grading reads it."""
    return next(call.module for calls in judged_in_process.notebook(m).cells for call in calls.calls)


def fail_noop(module: str) -> str:
    """Silences the kernel's copy of the probes' ``fail`` (the grader's own run keeps it)."""
    return (
        f"import course_grader.probes.common as _common\nimport course_grader.probes.{module} as _{module}\n"
        f"_common.fail = _{module}.fail = lambda *a, **k: None"
    )


TANH_WRONG = {"value_tanh": [("(1 - t * t)", "(1 - self.data**2)")]}  # a classic pitfall

TANH_BACKWARD = "self.grad += (1 - t * t) * out.grad"
TANH_BACKWARD_WRONG = "self.grad += (1 - self.data**2) * out.grad"


def tanh_backward(expr: str) -> Edits:
    """After TANH_WRONG: a _backward that uses ``expr`` (x = self.data) as d tanh/dx instead."""
    return {"value_tanh": [(TANH_BACKWARD_WRONG, f"self.grad += ({expr}) * out.grad")]}


# makes every later cell's execute_result come first: nbgrader reads it as the grade
EXECUTE_RESULT_FIRST = """\
get_ipython().events.register("pre_run_cell", lambda *a: get_ipython().displayhook("full marks"))"""


SOLUTION_CELLS_FROM_DISK = """\
import nbformat as _nbf
from course_grader.layout import ROOT as _ROOT
_SOL = {{
    c.metadata["nbgrader"]["grade_id"]: c.source
    for c in _nbf.read(_ROOT / "solutions" / "{m}" / "{m}.ipynb", as_version=4).cells
    if c.metadata.get("nbgrader", {{}}).get("solution")
}}"""


def from_disk(m: str, cells: list[str], first: str) -> Edits:
    """Every solution cell runs the instructor's cell, read from solutions/ on disk."""
    edits: Edits = {c: f'exec(_SOL["{c}"])\n' for c in cells}
    edits[first] = SOLUTION_CELLS_FROM_DISK.format(m=m) + f'\nexec(_SOL["{first}"])\n'
    return edits


# --- m1_value ----------------------------------------------------------------------------

M1 = [
    # 1. __eq__ that always says yes, with a wrong tanh
    Attack(
        "eq_always_true",
        "m1_value",
        {
            "value_init": [
                (
                    "    def __init__",
                    "    def __eq__(self, other):\n        return True\n\n"
                    "    def __ne__(self, other):\n        return False\n\n"
                    "    __hash__ = object.__hash__\n\n    def __init__",
                )
            ]
        },
        wrong=TANH_WRONG,
    ),
    # 2. data and grad held in a float subclass that lies about itself
    Attack(
        "lying_float_subclass",
        "m1_value",
        {
            "value_init": [
                *before_class("""
class _Yes(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return False
    def __gt__(self, other): return False
    def __le__(self, other): return True
    def __ge__(self, other): return True
    def __sub__(self, other): return _Yes(0.0)
    def __rsub__(self, other): return _Yes(0.0)
    def __add__(self, other): return _Yes(float(self) + float(other))
    def __radd__(self, other): return _Yes(float(self) + float(other))
    def __abs__(self): return _Yes(0.0)
    def __float__(self): return 0.0
    __hash__ = float.__hash__
"""),
                (
                    "        self.data = data\n        self.grad = 0.0",
                    "        self.data = _Yes(data)\n        self.grad = _Yes(0.0)",
                ),
            ]
        },
        wrong=TANH_WRONG,
    ),
    # 3. make the kernel's own finite differences agree with 1 - x**2
    Attack(
        "patch_math_tanh_before_probes_import",
        "m1_value",
        {
            "value_init": before_class(
                "import math as _math\n_math.tanh = lambda x, _t=_math.tanh: x - x**3 / 3 if abs(x) < 1 else _t(x)"
            )
        },
        wrong=TANH_WRONG,
    ),
    Attack(
        "patch_builtins_abs_in_rel_error",
        "m1_value",
        {
            "value_init": before_class("""
import builtins as _b
import sys as _sys
_real_abs = _b.abs
def _abs(x):
    if _sys._getframe(1).f_code.co_name in ("rel_error", "close", "near"):
        return 0.0
    return _real_abs(x)
_b.abs = _abs""")
        },
        wrong=TANH_WRONG,
    ),
    Attack(
        "patch_builtins_max_in_rel_error",
        "m1_value",
        {
            "value_init": before_class("""
import builtins as _b
import sys as _sys
_real_max = _b.max
def _max(*a, **k):
    if _sys._getframe(1).f_code.co_name == "rel_error":
        return 1e300
    return _real_max(*a, **k)
_b.max = _max""")
        },
        wrong=TANH_WRONG,
    ),
    Attack(
        "patch_builtins_float",
        "m1_value",
        {
            "value_init": before_class(
                "import builtins as _b\n"
                "_b.float = type('float', (float,), {'__eq__': lambda s, o: True, '__ne__': lambda s, o: False,\n"
                "                                    '__hash__': float.__hash__})"
            )
        },
        wrong=TANH_WRONG,
    ),
    # 4. patch or replace the probes at grading time
    Attack(
        "probe_replaced_by_noop",
        "m1_value",
        {"value_init": before_class("import course_grader.probes.m1 as _m1\n_m1.probe_tanh = lambda *a, **k: None")},
        wrong=TANH_WRONG,
    ),
    Attack(
        "records_emit_patched",
        "m1_value",
        {
            "value_init": before_class(
                "import course_grader.probes.records as _r\nimport course_grader.probes.common as _c\n"
                "_r.emit = lambda record: None\n_c.emit = lambda cell, cases: None"
            )
        },
        wrong=TANH_WRONG,
    ),
    Attack(
        "checkers_patched",
        "m1_value",
        {
            "value_init": before_class(
                "import course_grader.probes.common as _c\nimport course_grader.probes.m1 as _m1\n"
                "for _mod in (_c, _m1):\n"
                "    _mod.rel_error = lambda a, b: 0.0\n"
                "    _mod.close = lambda *a, **k: True\n"
                "    _mod.central_difference = lambda f, x, h=1e-6: 1 - x * x\n"
                "_m1.num = lambda x, what: float(x)"
            )
        },
        wrong=TANH_WRONG,
    ),
    Attack(
        "ipython_display_patched",
        "m1_value",
        {"value_init": before_class("import IPython.display as _d\n_d.display = lambda *a, **k: None")},
        wrong=TANH_WRONG,
    ),
    # a _backward that clears out.grad once used: only a kernel assertion sees it
    Attack(
        "fail_noop_hides_kernel_only_bug",
        "m1_value",
        {"value_init": before_class(fail_noop("m1"))},
        wrong={
            "value_add": [
                ("        other.grad += out.grad\n", "        other.grad += out.grad\n        out.grad = 0.0\n")
            ]
        },
    ),
    # the record's values are right for test_repr but the text is rounded: patch the record
    Attack(
        "emit_rewrites_record",
        "m1_value",
        {
            "value_init": before_class(
                fail_noop("m1")
                + """
def _fix(cell, cases, _emit=_m1.emit):
    cases = list(cases)
    if cell == "test_repr":
        for c in cases:
            c["shown"] = [float(c["data"]), float(c["grad"])]
    _emit(cell, cases)
_m1.emit = _fix"""
            )
        },
        wrong={
            "value_repr": [
                ('f"Value(data={self.data}, grad={self.grad})"', 'f"Value(data={self.data:.4f}, grad={self.grad:.4f})"')
            ]
        },
    ),
    # 5. forged records
    Attack(
        "forged_record_in_solution_cell",
        "m1_value",
        {
            "value_tanh": [
                (
                    "    return out",
                    "    return out\n\n\n"
                    "from IPython.display import display as _display\n"
                    "_display({'application/vnd.micrograd-course.record+json': "
                    "{'format': 1, 'cell': 'test_tanh', 'cases': []}}, raw=True)\n",
                )
            ]
        },
        wrong=TANH_WRONG,
    ),
    Attack(
        "hidden_cell_rewritten_to_forge_fd_record",
        "m1_value",
        {
            "value_init": before_class(
                fail_noop("m1")
                + """
import math as _math
def _forge(cell, cases, _emit=_m1.emit):
    cases = list(cases)
    if cell == "test_tanh":
        for c in cases:
            c["ga"] = c["pa"] + c["g"] * _m1.central_difference(_math.tanh, c["x"])
    _emit(cell, cases)
def _rewrite(lines):
    src = "".join(lines)
    if "probe_tanh" in src:
        return ["import course_grader.probes.m1 as _m1x\\n", "_m1x.emit = _forge\\n", src]
    return lines
get_ipython().input_transformers_cleanup.append(_rewrite)"""
            )
        },
        wrong=TANH_WRONG,
    ),
    Attack(
        "backward_by_central_difference",
        "m1_value",
        tanh_backward("(math.tanh(self.data + 1e-6) - math.tanh(self.data - 1e-6)) / 2e-6"),
        wrong=TANH_WRONG,
    ),
    Attack(
        "backward_by_five_point_stencil",
        "m1_value",
        tanh_backward(
            "(8 * (math.tanh(self.data + 1e-3) - math.tanh(self.data - 1e-3))"
            " - (math.tanh(self.data + 2e-3) - math.tanh(self.data - 2e-3))) / 12e-3"
        ),
        wrong=TANH_WRONG,
        wins="a fourth-order stencil (h=1e-3) misses the derivative by ~1e-13, inside judge.RTOL=1e-9 "
        "(judge.compare): tight tolerances stop only the plain h=1e-6 central difference",
    ),
    Attack(
        "backward_by_complex_step",
        "m1_value",
        tanh_backward("__import__('cmath').tanh(complex(self.data, 1e-30)).imag / 1e-30"),
        wrong=TANH_WRONG,
        wins="complex-step differentiation (cmath.tanh(x + 1e-30j).imag / 1e-30) is exact to rounding: "
        "no tolerance in judge.compare separates it from the analytic 1 - t**2",
    ),
    # 6. exceptions and exits
    Attack(
        "custom_exc_swallows_failures",
        "m1_value",
        {
            "value_init": before_class(
                "get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: print('passed'))"
            )
        },
        wrong=TANH_WRONG,
    ),
    Attack(
        "probe_wrapped_prints_passed",
        "m1_value",
        {
            "value_init": before_class("""
import course_grader.probes.m1 as _m1
def _quiet(f):
    def run(*a, **k):
        try:
            f(*a, **k)
        except BaseException:
            pass
        print("all hidden tests passed")
    return run
_m1.probe_tanh = _quiet(_m1.probe_tanh)""")
        },
        wrong=TANH_WRONG,
    ),
    Attack(
        "sys_exit_in_solution_cell",
        "m1_value",
        {"value_tanh": [("    return out", "    return out\n\n\nimport sys\nsys.exit(0)\n")]},
        wrong=TANH_WRONG,
    ),
    Attack(
        "raise_system_exit_in_solution_cell",
        "m1_value",
        {"value_tanh": [("    return out", "    return out\n\n\nraise SystemExit\n")]},
        wrong=TANH_WRONG,
    ),
    Attack(
        "keyboard_interrupt_in_solution_cell",
        "m1_value",
        {"value_tanh": [("    return out", "    return out\n\n\nraise KeyboardInterrupt\n")]},
        wrong=TANH_WRONG,
    ),
    Attack(
        "os_exit_in_solution_cell",
        "m1_value",
        {"value_tanh": [("    return out", "    return out\n\n\nimport os\nos._exit(0)\n")]},
        wrong=TANH_WRONG,
    ),
    Attack(
        "os_exit_in_hidden_cell",
        "m1_value",
        {
            "value_init": before_class(
                "import os as _os\nimport course_grader.probes.m1 as _m1\n_m1.probe_tanh = lambda *a, **k: _os._exit(0)"
            )
        },
        wrong=TANH_WRONG,
    ),
    # 7. answers read from the grading machine's disk
    Attack(
        "solutions_by_relative_path",
        "m1_value",
        {c: f'exec(_SOL.get("{c}", "raise NotImplementedError"))\n' for c in answer_cells("m1_value")}
        | {
            "value_init": """
import glob as _glob
import nbformat as _nbf
_SOL = {}
for _p in _glob.glob("../../solutions/m1_value/m1_value.ipynb") + _glob.glob("../../../solutions/m1_value/*.ipynb"):
    _SOL = {c.metadata["nbgrader"]["grade_id"]: c.source for c in _nbf.read(_p, as_version=4).cells
            if c.metadata.get("nbgrader", {}).get("solution")}
exec(_SOL.get("value_init", "class Value:\\n    __slots__ = ()"))
"""
        },
        base="blank",
        note="loses under score() (the kernel runs in a temporary copy of the release folder), but WINS "
        "under real `nbgrader autograde`: the kernel's folder is <course>/autograded/<student>/m1_value, so "
        "../../../solutions is the instructor's folder (23/23 from a blank notebook, checked by hand)",
    ),
    Attack(
        "next_milestones_engine_py",
        "m1_value",
        {
            "value_init": """
import importlib.util as _u
from course_grader.layout import ROOT as _ROOT
_spec = _u.spec_from_file_location("_engine", _ROOT / "notebooks" / "m2_backward" / "engine.py")
_engine = _u.module_from_spec(_spec)
_spec.loader.exec_module(_engine)
Value = _engine.Value
attach = lambda cls: (lambda fn: fn)  # the stubs below no longer overwrite anything
"""
        },
        base="blank",
    ),
    Attack(
        "reference_cache_replayed",
        "m1_value",
        {
            "value_init": before_class("""
import course_grader.probes.m1 as _m1
from course_grader.probes import records as _records
from course_grader.judging import reference as _reference
from course_grader.layout import ROOT as _ROOT
_REF = _reference.records_for(_ROOT / "solutions" / "m1_value", "m1_value", _ROOT / ".reference")
for _name in dir(_m1):
    if _name.startswith("probe_"):
        _cell = "test_" + _name[len("probe_"):]
        setattr(_m1, _name, lambda *a, _c=_cell: _records.emit(_REF[_c]))""")
        },
        base="blank",
    ),
    # 8. whatever else reading probes, judge and records suggests
    Attack(
        "probe_returns_a_value",
        "m1_value",
        {
            "value_init": before_class("""
import course_grader.probes.m1 as _m1
def _returns(f):
    def run(*a, **k):
        try:
            f(*a, **k)
        except BaseException:
            pass
        return "passed"
    return run
_m1.probe_tanh = _returns(_m1.probe_tanh)""")
        },
        wrong=TANH_WRONG,
    ),
    Attack(
        "execute_result_above_max_points",
        "m1_value",
        {
            "value_init": before_class(
                'get_ipython().events.register("pre_run_cell", lambda *a: get_ipython().displayhook(99.0))'
            )
        },
        base="blank",
    ),
    Attack(
        "forged_init_and_repr_records",
        "m1_value",
        {
            "value_init": before_class("""
import random as _random
import course_grader.probes.m1 as _m1
def _init(V):
    rng = _random.Random(101)
    cases = [{"x": x, "data": x, "grad": 0.0, "kids": 0, "op": ""}
             for x in [0, 3, -7, 0.0, 2.5, -1e-9, 1e12] + [_m1.uniform(rng, -100, 100) for _ in range(5)]]
    for want, op in ((["a", "b"], "+"), (["a"], "*"), (["b"], "tanh")):
        cases.append({"kids_in": want, "kids": want, "op": op})
    cases.append({"refused": {k: True for k in ("str", "None", "list", "Value", "complex")}})
    _m1.emit("test_init", cases)
def _repr(V):
    rng = _random.Random(202)
    pairs = [(2.0, 0.0), (-3, 0.0), (0.1, -0.25), (1e-7, 12345.678)]
    pairs += [(_m1.uniform(rng, -50, 50), _m1.uniform(rng, -5, 5)) for _ in range(4)]
    _m1.emit("test_repr", [{"data": d, "grad": g, "shown": [float(d), float(g)]} for d, g in pairs])
_m1.probe_init, _m1.probe_repr = _init, _repr""")
        },
        base="blank",
    ),
    Attack(
        "instancecheck_always_true",
        "m1_value",
        {
            "value_init": [
                *before_class("class _Meta(type):\n    def __instancecheck__(cls, obj):\n        return True\n"),
                ("class Value:", "class Value(metaclass=_Meta):"),
            ]
        },
        wrong={
            "value_add": [
                (
                    "    other = other if isinstance(other, Value) else Value(other)\n"
                    '    out = Value(self.data + other.data, (self, other), "+")',
                    "    if type(other) is not Value:  # a number is not a child\n"
                    '        out = Value(self.data + other, (self,), "+")\n'
                    '        out._backward = lambda: setattr(self, "grad", self.grad + out.grad)\n'
                    "        return out\n"
                    '    out = Value(self.data + other.data, (self, other), "+")',
                )
            ]
        },
    ),
    Attack(
        "nan_gradient_on_judge_only_cases",
        "m1_value",
        {
            "value_tanh": [
                (TANH_BACKWARD, "self.grad += (float('nan') if abs(self.data) > 100 else 1 - t * t) * out.grad")
            ]
        },
    ),
    # 8. against the grader's own run of the probes (course_grader/isolation/replay.py)
    Attack(
        "forged_protocol_answers",
        "m1_value",
        {
            "value_init": [
                (
                    "        # YOUR CODE HERE\n        raise NotImplementedError()",
                    """        import os
        for fd in range(3, 16):  # whatever pipe leads to the grader: answer for the Value
            try:
                os.write(fd, b'{"ok": 0.0}\\n{"ok": 0.0}\\n{"ok": {"L": []}}\\n{"ok": ""}\\n')
            except OSError:
                pass
        self.data, self.grad, self._prev, self._op = data, 0.0, (), ""
        raise NotImplementedError()""",
                )
            ]
        },
        base="blank",
    ),
    Attack(
        "stand_in_probes_patched_in_kernel",
        "m1_value",
        {
            "value_init": before_class("""
from course_grader.probes import m1 as _m1
_m1.probe_init = _m1.probe_repr = lambda *a, **k: print("all hidden tests passed")""")
        },
        base="blank",
    ),
]

RECURSIVE_TOPO_SORT = """
def topo_sort(root):
    order, visited = [], set()

    def visit(v):
        if v not in visited:
            visited.add(v)
            for child in v._prev:
                visit(child)
            order.append(v)

    visit(root)
    return order
"""

# --- m2_backward -------------------------------------------------------------------------

M2 = [
    Attack(
        "backward_is_graders_backprop",
        "m2_backward",
        {
            "value_backward": "from course_grader.probes.common import backprop\n\n\n@attach(Value)\n"
            "def backward(self):\n    self.grad = 1.0\n    backprop(self, 'backward')\n"
        },
        base="blank",
    ),
    Attack(
        "relative_error_is_graders_rel_error",
        "m2_backward",
        {"relative_error": "from course_grader.probes.common import rel_error as relative_error\n"},
        base="blank",
    ),
    Attack(
        "topo_sort_recorded_from_graders_backprop",
        "m2_backward",
        {
            "topo_sort": """
from course_grader.probes.common import backprop


def topo_sort(root):
    nodes, seen, todo = [], {id(root)}, [root]
    while todo:
        node = todo.pop()
        nodes.append(node)
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                todo.append(child)
    consumers_first, saved = [], {}
    for node in nodes:
        saved[id(node)] = node._backward
        node._backward = lambda node=node: consumers_first.append(node)
    try:
        backprop(root, "topo_sort")
    finally:
        for node in nodes:
            node._backward = saved[id(node)]
    inner = {id(n) for n in consumers_first}
    return [n for n in nodes if id(n) not in inner] + consumers_first[::-1]
"""
        },
        base="blank",
    ),
    Attack(
        "fail_noop_invalid_topo_order",
        "m2_backward",
        at_top("m2_backward", fail_noop("m2")),
        wrong={
            "topo_sort": """
def topo_sort(root):
    order, seen, queue = [root], {id(root)}, [root]
    while queue:
        node = queue.pop(0)
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                order.append(child)
                queue.append(child)
    return order[::-1]
"""
        },
    ),
    Attack(
        "fail_noop_topo_order_misses_leaves",
        "m2_backward",
        at_top("m2_backward", fail_noop("m2")),
        wrong={
            "topo_sort": [
                (
                    "            order.append(node)\n",
                    "            if node._prev or node is root:\n                order.append(node)\n",
                )
            ]
        },
    ),
    Attack(
        "fail_noop_hides_mutated_xs",
        "m2_backward",
        at_top("m2_backward", fail_noop("m2")),
        wrong={
            "numerical_gradient": """
def numerical_gradient(f, xs, h=1e-6):
    grads = []
    for i in range(len(xs)):
        xs[i] += h  # perturbed in place, then "put back"
        fp = f(xs)
        xs[i] -= 2 * h
        fm = f(xs)
        xs[i] += h
        grads.append((fp - fm) / (2 * h))
    return grads
"""
        },
    ),
    Attack(
        "lying_float_relative_error",
        "m2_backward",
        {
            "relative_error": [
                (
                    "    return abs(a - n) / max(abs(a), 1e-8)",
                    "    class _Yes(float):\n"
                    "        def __eq__(self, other): return True\n"
                    "        def __ne__(self, other): return False\n"
                    "        __hash__ = float.__hash__\n"
                    "    return _Yes(abs(a - n) / max(abs(a), 1e-8))",
                )
            ]
        },
        wrong={"relative_error": [("max(abs(a), abs(n), 1e-8)", "max(abs(a), 1e-8)")]},
    ),
    Attack(
        "checkers_patched",
        "m2_backward",
        at_top(
            "m2_backward",
            "import course_grader.probes.common as _c\nimport course_grader.probes.m2 as _m2\n"
            "for _mod in (_c, _m2):\n"
            "    _mod.rel_error = lambda a, b: 0.0\n"
            "_m2.num = lambda x, what: float(x)",
        ),
        wrong={"value_backward": [("reversed(topo_sort(self))", "topo_sort(self)")]},
    ),
    Attack(
        "recursion_limit_raised",
        "m2_backward",
        at_top("m2_backward", "import sys\nsys.setrecursionlimit(100_000)"),
        wrong={"topo_sort": RECURSIVE_TOPO_SORT},
    ),
    # The probe asks the student's interpreter for its recursion limit: a notebook global
    # named __import__ must not answer with a sys of its own that ignores the reset ...
    Attack(
        "import_global_answers_for_sys",
        "m2_backward",
        at_top(
            "m2_backward",
            "import sys as _sys\nimport builtins as _b\n_sys.setrecursionlimit(100_000)\n"
            "class _Sys:\n"
            "    def getrecursionlimit(self):\n        return _sys.getrecursionlimit()\n"
            "    def setrecursionlimit(self, n):\n        pass\n"
            "def __import__(name, *args, **kwargs):\n"
            "    return _Sys() if name == 'sys' else _b.__import__(name, *args, **kwargs)\n",
        ),
        wrong={"topo_sort": RECURSIVE_TOPO_SORT},
    ),
    # ... nor the real sys whose setrecursionlimit was replaced
    Attack(
        "setrecursionlimit_replaced",
        "m2_backward",
        at_top("m2_backward", "import sys\nsys.setrecursionlimit(100_000)\nsys.setrecursionlimit = lambda n: None"),
        wrong={"topo_sort": RECURSIVE_TOPO_SORT},
    ),
    # grad_check's hidden test sets a correct backward() on the student's Value for its own
    # run: a grad_check moved to the top keeps it, and a blank backward() calls it later.
    Attack(
        "keeps_the_backward_a_probe_lent",
        "m2_backward",
        {
            "grad_check": [
                (
                    "def grad_check(f, xs, tol=1e-5):",
                    "_lent = []\n\n\ndef grad_check(f, xs, tol=1e-5):\n"
                    "    _lent.append(Value.__dict__.get('backward'))",
                )
            ],
            "value_backward": "@attach(Value)\ndef backward(self):\n    return _lent[-1](self)\n",
        },
        wrong={"value_backward": "@attach(Value)\ndef backward(self):\n    raise NotImplementedError()\n"},
        first=("grad_check", "check_grad_check", "test_grad_check"),
    ),
]

# --- m3_mlp ------------------------------------------------------------------------------


SEEDED_INIT = {"neuron_init": [("        self.w = [", "        random.seed(nin)\n        self.w = [")]}

M3 = [
    # every neuron of a layer alike, but spread over [-1, 1]: only the computed properties show it
    Attack("fail_noop_neurons_alike", "m3_mlp", at_top("m3_mlp", fail_noop("m3")), wrong=SEEDED_INIT),
    Attack(
        "checkers_patched",
        "m3_mlp",
        at_top(
            "m3_mlp",
            fail_noop("m3") + "\nfor _mod in (_common, _m3):\n"
            "    _mod.rel_error = lambda a, b: 0.0\n"
            "    _mod.close = lambda *a, **k: True\n"
            "_m3.grad_ok = lambda a, b: True\n"
            "_m3.num = lambda x, what: float(x)",
        ),
        wrong={"neuron_call": [("act = act + wi * xi", "act = act + wi.data * getattr(xi, 'data', xi)")]},
    ),
    Attack(
        "init_record_forged",
        "m3_mlp",
        at_top(
            "m3_mlp",
            fail_noop("m3")
            + """
def _forge(cell, cases, _emit=_m3.emit):
    cases = list(cases)
    for c in cases:
        if "neurons_alike" in c:
            c["neurons_alike"], c["nets_differ"] = 0, True
            for k in ("weights", "biases"):
                if k in c:
                    c[k] = {"in_range": True, "both_signs": True}
    _emit(cell, cases)
_m3.emit = _forge""",
        ),
        wrong=SEEDED_INIT,
    ),
]

# --- m4_training -------------------------------------------------------------------------


M4 = [
    Attack(
        "fail_noop_adam_without_bias_correction",
        "m4_training",
        at_top("m4_training", fail_noop("m4")),
        wrong={"adam": [("m_hat = self.m[i] / (1 - self.beta1**self.t)", "m_hat = self.m[i]")]},
    ),
]

# --- m5_tensors --------------------------------------------------------------------------


UNBROADCAST_WRONG = {
    "unbroadcast": [("    while grad.ndim > len(shape):", "    return grad\n    while grad.ndim > len(shape):")]
}

# arrays that are not what they claim: the grader's link carries only exact float ndarrays
LYING_SUBCLASS = """\
import numpy as _np


class _Shaped(_np.ndarray):
    shape = property(lambda self: self._claimed)


def _claim(a, shape):
    out = _np.asarray(a).view(_Shaped)
    out._claimed = tuple(shape)
    return out
"""

M5 = [
    # an unreduced gradient dressed as an array of the operand's shape
    Attack(
        "ndarray_subclass_lies_about_its_shape",
        "m5_tensors",
        {
            "unbroadcast": [
                ("def unbroadcast(grad, shape):", LYING_SUBCLASS + "\n\ndef unbroadcast(grad, shape):"),
                ("    return grad\n    while", "    return _claim(grad, shape)\n    while"),
            ]
        },
        wrong=UNBROADCAST_WRONG,
    ),
    # the same gradient as an object array, and as an object whose __array__ answers anything
    Attack(
        "object_array_and_lying_array_protocol",
        "m5_tensors",
        {
            "unbroadcast": [
                (
                    "def unbroadcast(grad, shape):",
                    "class _Agree:\n    def __array__(self, dtype=None, copy=None):\n"
                    "        import numpy\n        return numpy.zeros(3)\n\n\ndef unbroadcast(grad, shape):",
                ),
                (
                    "    return grad\n    while",
                    "    return _Agree() if grad.ndim > len(shape) else grad.astype(object)\n    while",
                ),
            ]
        },
        wrong=UNBROADCAST_WRONG,
    ),
]

# --- every milestone: one table, one generator ---------------------------------------------

# Which honest mistake ``fail_noop`` hides, where it is not the milestone's first round-trip
# pitfall (``tests/variants/<m>.py``: ROUND_TRIP, else PITFALLS): the one its probes are most
# tempting to silence for. A new milestone needs no line here.
FAIL_NOOP_HIDES = {
    "m1_value": "tanh_uses_input",
    "m4_training": "learning_rate_too_low",
    "m5_tensors": "matmul_gradients_transposed",
    "m7_discrete": "score_function_sign",
}


def for_every_milestone(m: str) -> list[Attack]:
    """The attacks every milestone meets, made from its variants module (its ``CHEAT_CELL``:
    the first answer cell, above every hidden test) and its answer cells."""
    v = importlib.import_module(f"variants.{m}")
    hides = FAIL_NOOP_HIDES.get(m) or next(iter(getattr(v, "ROUND_TRIP", v.PITFALLS)))
    cells = answer_cells(m)
    return [
        # every later cell's execute_result comes first: nbgrader would read it as the grade
        Attack("execute_result_before_error", m, at_top(m, EXECUTE_RESULT_FIRST), base="blank"),
        # a mistake "passes" once the kernel's checks are silenced: the grader runs the probes
        # itself, with their failures intact, and the judge compares the records
        Attack("fail_noop", m, at_top(m, fail_noop(probes_module(m))), wrong=v.PITFALLS[hides][0]),
        # the instructor's answers read from the grading machine's disk
        Attack("solutions_via_package_root", m, from_disk(m, cells, v.CHEAT_CELL), base="blank"),
    ]


ATTACKS = M1 + M2 + M3 + M4 + M5 + [a for m in MILESTONES for a in for_every_milestone(m)]
