"""Hidden-test probes for ``m2_backward``: ``topo_sort``, ``backward()``, the numerical
gradient, the relative error and the gradient checker.

Graphs are built from the shipped ``Value`` (milestone 1's reference code), from seeded
random recipes with shared sub-expressions, and then handed to the student's code.
Orders are judged by validity, never by equality with ours, so Kahn's algorithm or any
other correct traversal keeps full marks.
"""

import math
import random
from collections.abc import Callable
from typing import Any

from course_grader.judging import compare
from course_grader.probes.common import (
    backprop,
    call,
    central_difference,
    emit,
    fail,
    fmt,
    num,
    rel_error,
    student_module,
    type_name,
    uniform,
)

# --- graphs -------------------------------------------------------------------------


def random_recipe(rng: random.Random, n_inputs: int, n_ops: int) -> list[tuple]:
    """A random expression as a list of steps over earlier nodes (so nodes get reused)."""
    steps: list[tuple] = []
    size = n_inputs
    for _ in range(n_ops):
        kind = rng.choice(["+", "*", "-", "tanh", "relu", "sig", "sq", "div", "exp", "log", "+c", "*c"])
        i, j = rng.randrange(size), rng.randrange(size)
        steps.append((kind, i, j, round(rng.uniform(-1.5, 1.5), 3)))
        size += 1
    weights = [round(rng.uniform(-2, 2), 3) for _ in range(3)]
    picks = [rng.randrange(size) for _ in range(3)]
    steps.append(("out", picks, weights))
    return steps


def build(Value: type, xs: list[Any], recipe: list[tuple]) -> tuple[list[Any], Any]:
    """Run a recipe on inputs ``xs`` (Values); return every node and the output."""
    nodes = list(xs)
    for step in recipe:
        if step[0] == "out":
            _, picks, weights = step
            out = nodes[picks[0]] * weights[0]
            for p, w in zip(picks[1:], weights[1:], strict=True):
                out = out + nodes[p] * w
            return nodes, out
        kind, i, j, c = step
        a, b = nodes[i], nodes[j]
        if kind == "+":
            v = a + b
        elif kind == "*":
            v = (a * b).tanh() * 2  # keep magnitudes bounded
        elif kind == "-":
            v = a - b
        elif kind == "tanh":
            v = (a * c).tanh()
        elif kind == "relu":
            v = (a + c).relu()
        elif kind == "sig":
            v = (a * c).sigmoid()
        elif kind == "sq":
            v = (a.tanh() + c) ** 2
        elif kind == "div":
            v = a / (b * b + 1)
        elif kind == "exp":
            v = a.tanh().exp()
        elif kind == "log":
            v = (a * a + 0.5).log()
        elif kind == "+c":
            v = a + c
        else:
            v = c * a
        nodes.append(v)
    raise ValueError("recipe without an output step")


def _kinks(Value: type, xs: list[float], recipe: list[tuple]) -> bool:
    """True when a relu input sits within 1e-3 of 0: finite differences fail there."""
    nodes = build(Value, [Value(x) for x in xs], recipe)[0]
    return any(step[0] == "relu" and abs(nodes[step[1]].data + step[3]) < 1e-3 for step in recipe[:-1])


def labelled(root: Any) -> tuple[dict[int, str], list[list[str]]]:
    """Label every node reachable from ``root`` (breadth first, by the shipped Value's
    fixed child order) and list the edges child -> parent."""
    labels = {id(root): "n0"}
    queue = [root]
    edges = []
    while queue:
        node = queue.pop(0)
        for child in node._prev:
            if id(child) not in labels:
                labels[id(child)] = f"n{len(labels)}"
                queue.append(child)
            edges.append([labels[id(child)], labels[id(node)]])
    return labels, edges


# --- topo_sort ----------------------------------------------------------------------


def _order(topo_sort: Callable, root: Any, labels: dict[int, str], what: str) -> list[str]:
    result = call(lambda: topo_sort(root), what)
    try:
        result = list(result)
    except TypeError:
        fail(f"{what} should return a list of Values", got=f"{type_name(result)}")
    order = []
    for v in result:
        if id(v) not in labels:
            fail(f"{what} returned something that is not a node of this graph", got=repr(v)[:80])
        order.append(labels[id(v)])
    return order


def check_order(order: list[str], labels: list[str], edges: list[list[str]], what: str) -> None:
    """Each node once, every child before its parent, the root last."""
    missing = sorted(set(labels) - set(order))
    if missing or len(order) != len(set(order)):
        dup = len(order) - len(set(order))
        fail(
            f"{what}: every node of the graph must appear exactly once",
            expected=f"{len(labels)} distinct nodes",
            got=f"{len(order)} entries, {dup} repeated, {len(missing)} missing",
            hint="keep a visited set so a shared node is added once",
        )
    pos = {name: i for i, name in enumerate(order)}
    for child, parent in edges:
        if pos[child] > pos[parent]:
            fail(
                f"{what}: a child must come before the node it feeds (its parent)",
                expected=f"{child} before {parent}",
                got=f"{child} at {pos[child]}, {parent} at {pos[parent]}",
                hint="append a node only after all its children have been appended (post-order)",
            )
    if order[-1] != "n0":
        fail(f"{what}: the output comes last", got=f"last is {order[-1]}")


def probe_topo_sort(Value: type, topo_sort: Callable) -> None:
    rng = random.Random(31)
    cases = []
    graphs = []
    a = Value(2.0)
    graphs.append(("a + a", a + a))
    b = a + a
    graphs.append(("(a + a) + (a + a)", b + b))
    graphs.append(("a leaf alone", Value(1.5)))
    for _ in range(8):
        xs = [Value(uniform(rng, -2, 2)) for _ in range(4)]
        graphs.append(("a random expression", build(Value, xs, random_recipe(rng, 4, 12))[1]))
    for what, root in graphs:
        labels, edges = labelled(root)
        order = _order(topo_sort, root, labels, f"topo_sort on {what}")
        check_order(order, sorted(labels.values()), edges, f"topo_sort on {what}")
        cases.append({"kind": "m2.topological_order", "graph": what, "edges": edges, "order": order})
    emit("test_topo_sort", cases)


@compare.kind("topological_order", judges="order")
def compare_order(ref: dict, got: dict, path: str) -> str | None:
    """A topological order is right when it is valid for the reference's edges, whatever
    order the reference itself chose (Kahn's algorithm and a DFS both earn full marks)."""
    order = got.get("order")
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(ref["order"]):
        return f"{path}: the order should list each of the {len(ref['order'])} nodes exactly once"
    pos = {name: i for i, name in enumerate(order)}
    for child, parent in ref["edges"]:
        if pos[child] > pos[parent]:
            return f"{path}: {child} is listed after {parent}, which uses it"
    if order[-1] != ref["order"][-1]:
        return f"{path}: the output should come last"
    return None


# --- backward -----------------------------------------------------------------------


def _backward(out: Any, what: str) -> None:
    call(lambda: out.backward(), f"{what}: out.backward()")


def _grads(xs: list[Any], what: str) -> list[float]:
    return [num(x.grad, f"{what}: an input's grad") for x in xs]


def _fd_check(
    f: Callable[[list[float]], float],
    values: list[float],
    priors: list[float],
    grads: list[float],
    what: str,
    hint: str = "",
) -> None:
    for i, (x0, prior, got) in enumerate(zip(values, priors, grads, strict=True)):

        def fi(t: float, i: int = i) -> float:
            return f([*values[:i], t, *values[i + 1 :]])

        expected = prior + central_difference(fi, x0)
        if rel_error(got, expected) > 1e-5:
            fail(
                f"{what}: gradient reaching input {i}",
                f"inputs {[fmt(v) for v in values]}; input {i} held grad {fmt(prior)} before",
                f"{fmt(expected)} (finite differences)",
                fmt(got),
                hint,
            )


def probe_backward(Value: type) -> None:
    """L = (a*b + c)**2 and random expression graphs, inputs already holding gradient."""
    rng = random.Random(41)
    cases = []
    for _ in range(6):
        vals = [uniform(rng, -2, 2) for _ in range(3)]
        priors = [uniform(rng, -1, 1) for _ in range(3)]
        a, b, c = (Value(v) for v in vals)
        for v, p in zip((a, b, c), priors, strict=True):
            v.grad = p
        L = (a * b + c) ** 2
        _backward(L, "L = (a*b + c)**2")
        grads = _grads([a, b, c], "L = (a*b + c)**2")

        def f(t: list[float]) -> float:
            return (t[0] * t[1] + t[2]) ** 2

        _fd_check(
            f, vals, priors, grads, "L = (a*b + c)**2", "visit nodes in reverse topological order, the output first"
        )
        cases.append(
            {"expr": "(a*b+c)**2", "x": vals, "prior": priors, "grads": grads, "out_grad": num(L.grad, "L.grad")}
        )
    while len(cases) < 20:
        recipe = random_recipe(rng, 4, rng.randrange(6, 16))
        vals = [uniform(rng, -2, 2) for _ in range(4)]
        if _kinks(Value, vals, recipe):
            continue
        priors = [uniform(rng, -1, 1) for _ in range(4)]
        xs = [Value(v) for v in vals]
        for x, p in zip(xs, priors, strict=True):
            x.grad = p
        out = build(Value, xs, recipe)[1]
        _backward(out, "a random expression")
        grads = _grads(xs, "a random expression")

        def f_recipe(t: list[float], recipe: list = recipe) -> float:
            return build(Value, [Value(v) for v in t], recipe)[1].data

        _fd_check(
            f_recipe,
            vals,
            priors,
            grads,
            "backward() through a random expression with shared nodes",
            "a node used twice must receive gradient from both uses: each _backward runs once, after all its consumers",
        )
        cases.append(
            {"expr": "random", "x": vals, "prior": priors, "grads": grads, "out_grad": num(out.grad, "out.grad")}
        )
    emit("test_backward", cases)


def probe_reuse(Value: type) -> None:
    """A node used several times: b = a + a, c = b + b, diamonds, a * a."""
    rng = random.Random(43)
    cases = []
    for _ in range(5):
        x = uniform(rng, -2, 2)
        a = Value(x)
        b = a + a
        c = b + b
        _backward(c, "c = b + b with b = a + a")
        d = Value(x)
        e = d * d + d.tanh() * d
        _backward(e, "e = d*d + tanh(d)*d")
        t = math.tanh(x)
        expected = 2 * x + (1 - t * t) * x + t
        if rel_error(num(d.grad, "d.grad"), expected) > 1e-9 or num(a.grad, "a.grad") != 4.0:
            fail(
                "gradients through a node used several times",
                f"x = {fmt(x)}",
                f"a.grad = 4, d.grad = {fmt(expected)}",
                f"a.grad = {fmt(a.grad)}, d.grad = {fmt(d.grad)}",
                "every use of a node adds to its grad; do not overwrite, and visit each node once",
            )
        cases.append({"x": x, "a": num(a.grad, "a.grad"), "b": num(b.grad, "b.grad"), "d": num(d.grad, "d.grad")})
    emit("test_reuse", cases)


def probe_activations(Value: type) -> None:
    """tanh and relu through backward(), in a neuron, with upstream gradients not 1."""
    rng = random.Random(47)
    cases = []
    for act in ("tanh", "relu"):
        n = 0
        while n < 8:
            vals = [uniform(rng, -2, 2) for _ in range(5)]  # x1, x2, w1, w2, b
            pre = vals[0] * vals[2] + vals[1] * vals[3] + vals[4]
            if abs(pre) < 0.05:
                continue
            n += 1
            k = uniform(rng, -2, 2, (0.0,))
            xs = [Value(v) for v in vals]
            z = xs[0] * xs[2] + xs[1] * xs[3] + xs[4]
            o = (z.tanh() if act == "tanh" else z.relu()) * k
            _backward(o, f"a {act} neuron")
            grads = _grads(xs, f"a {act} neuron")

            def f(t: list[float], act: str = act, k: float = k) -> float:
                s = t[0] * t[2] + t[1] * t[3] + t[4]
                return (math.tanh(s) if act == "tanh" else max(s, 0.0)) * k

            _fd_check(f, vals, [0.0] * 5, grads, f"backward() through a {act} neuron")
            cases.append({"act": act, "x": vals, "k": k, "grads": grads})
    emit("test_activations", cases)


def probe_twice(Value: type) -> None:
    """backward() twice on a one-op graph doubles the inputs' grads; the output's grad is
    set to 1, not added to."""
    rng = random.Random(53)
    cases = []
    for op in ("*", "+", "tanh"):
        x, y = uniform(rng, -2, 2), uniform(rng, -2, 2)
        a, b = Value(x), Value(y)
        out = a * b if op == "*" else (a + b if op == "+" else a.tanh())
        _backward(out, f"one {op} node, first call")
        first = [num(a.grad, "a.grad"), num(b.grad, "b.grad")]
        _backward(out, f"one {op} node, second call")
        second = [num(a.grad, "a.grad"), num(b.grad, "b.grad")]
        og = num(out.grad, "out.grad")
        if og != 1.0:
            fail(
                "backward() sets the output's grad to 1 (it does not add 1)",
                f"two calls on one {op} node",
                "1.0",
                fmt(og),
                "write self.grad = 1.0, not self.grad += 1.0",
            )
        for f1, f2 in zip(first, second, strict=True):
            if rel_error(f2, 2 * f1) > 1e-12:
                fail(
                    "calling backward() twice without zeroing doubles the inputs' gradients",
                    f"one {op} node, x = {fmt(x)}, y = {fmt(y)}",
                    fmt(2 * f1),
                    fmt(f2),
                    "backward() must not reset gradients itself: accumulating is the documented behaviour",
                )
        cases.append({"op": op, "x": x, "y": y, "first": first, "second": second, "out": og})
    emit("test_twice", cases)


def probe_deep_chain(Value: type, topo_sort: Callable) -> None:
    """10,000 operations in a chain: no RecursionError, and the right gradient."""
    rng = random.Random(59)
    muls = [round(rng.uniform(0.999, 1.001), 6) for _ in range(10_000)]
    x = Value(0.5)
    y = x
    for m in muls:
        y = y * m + 0.001
    # Python's default limit: a recursive traversal must not pass by raising it, which
    # only moves the crash to the C stack on a deeper graph.
    student_sys = student_module("sys", topo_sort)
    limit = student_sys.getrecursionlimit()
    student_sys.setrecursionlimit(1000)
    try:
        n = len(
            call(
                lambda: list(topo_sort(y)),
                "topo_sort on a 10,000-step chain",
                "use an explicit stack: Python's recursion stops near depth 1,000",
            )
        )
        _backward(y, "a 10,000-step chain")
    finally:
        student_sys.setrecursionlimit(limit)
    got = num(x.grad, "x.grad")
    expected = math.prod(muls)
    if rel_error(got, expected) > 1e-9:
        fail("gradient at the start of a 10,000-step chain", "y = y * m + 0.001, 10,000 times", fmt(expected), fmt(got))
    emit("test_deep_chain", [{"nodes": n, "grad": got, "data": num(y.data, "y.data")}])


# --- numerical gradient, relative error, gradient check -----------------------------

FUNCTIONS: list[tuple[str, Callable[[list[float]], float], Callable[[list[float]], list[float]]]] = [
    ("x0**2 + 3*x1", lambda t: t[0] ** 2 + 3 * t[1], lambda t: [2 * t[0], 3.0]),
    ("x0**3 * x1", lambda t: t[0] ** 3 * t[1], lambda t: [3 * t[0] ** 2 * t[1], t[0] ** 3]),
    (
        "exp(20*x0) + sin(x1)",
        lambda t: math.exp(20 * t[0]) + math.sin(t[1]),
        lambda t: [20 * math.exp(20 * t[0]), math.cos(t[1])],
    ),
    (
        "tanh(x0*x1) + x2",
        lambda t: math.tanh(t[0] * t[1]) + t[2],
        lambda t: [(1 - math.tanh(t[0] * t[1]) ** 2) * t[1], (1 - math.tanh(t[0] * t[1]) ** 2) * t[0], 1.0],
    ),
    ("sin(40*x0)", lambda t: math.sin(40 * t[0]), lambda t: [40 * math.cos(40 * t[0])]),
]


def probe_numerical_gradient(numerical_gradient: Callable) -> None:
    rng = random.Random(61)
    cases = []
    for name, f, df in FUNCTIONS:
        for _ in range(3):
            xs = [uniform(rng, -0.6, 0.6) for _ in range(len(df([0.0] * 3)))]
            kept = list(xs)
            got = call(lambda: numerical_gradient(f, xs), f"numerical_gradient of {name}")
            got = [num(g, "a numerical gradient") for g in call(lambda: list(got), "its result")]
            if xs != kept:
                fail(
                    "numerical_gradient must leave xs as it found it",
                    f"{name} at {kept}",
                    str(kept),
                    str(xs),
                    "perturb a copy of the list, not xs itself",
                )
            exact = df(xs)
            if len(got) != len(exact):
                fail(
                    f"numerical_gradient of {name} should give one number per input",
                    expected=str(len(exact)),
                    got=str(len(got)),
                )
            for i, (g, e) in enumerate(zip(got, exact, strict=True)):
                if rel_error(g, e) > 1e-6:
                    fail(
                        f"numerical_gradient of {name}, input {i}",
                        f"xs = {xs}",
                        f"about {fmt(e)}",
                        fmt(g),
                        "central difference (f(x+h) - f(x-h)) / (2h) with h = 1e-6 is accurate to ~1e-9 here; "
                        "a one-sided difference or a large h is not",
                    )
            coarse = [
                num(g, "a numerical gradient")
                for g in call(lambda: list(numerical_gradient(f, xs, h=1e-3)), "numerical_gradient(..., h=1e-3)")
            ]
            cases.append({"f": name, "x": kept, "xs_unchanged": xs == kept, "grad": got, "h=1e-3": coarse})
    emit("test_numerical_gradient", cases)


def probe_relative_error(relative_error: Callable) -> None:
    pairs = [
        (1.0, 1.0),
        (0.0, 0.0),
        (2.0, 1.0),
        (-3.0, 3.0),
        (1e-9, 2e-9),
        (1e-12, 0.0),
        (5.0, -1e-9),
        (123456.0, 123456.5),
        (-0.5, -0.25),
        (0.0, 1e-7),
    ]
    cases = []
    for a, n in pairs:
        e = num(call(lambda: relative_error(a, n), f"relative_error({a}, {n})"), "a relative error")
        e2 = num(call(lambda: relative_error(n, a), f"relative_error({n}, {a})"), "a relative error")
        if e < 0 or e != e2:
            fail(
                "relative_error is symmetric and never negative",
                f"a = {a}, n = {n}",
                "the same non-negative number both ways",
                f"{fmt(e)} and {fmt(e2)}",
            )
        if a == n and e != 0:
            fail("relative_error of equal numbers is 0", f"a = n = {a}", "0.0", fmt(e))
        cases.append({"a": a, "n": n, "e": e})
    emit("test_relative_error", cases)


def _broken_square(Value: type, v: Any) -> Any:
    """v**2 whose backward is wrong (it uses v, not 2v): a bug grad_check must catch."""
    out = v * v
    out._backward = lambda: setattr(v, "grad", v.grad + v.data * out.grad)
    return out


def _slightly_broken_square(Value: type, v: Any) -> Any:
    """v**2 whose backward is 3e-5 too large: between the default tolerance and 10 times it."""
    out = v * v
    out._backward = lambda: setattr(v, "grad", v.grad + 2 * v.data * (1 + 3e-5) * out.grad)
    return out


def _reference_backward(self: Any) -> None:
    """A correct backward(), swapped in while grad_check is probed: this cell grades the
    checker, so a slip in the student's backward() must not cost its points twice."""
    self.grad = 1.0
    backprop(self, "backward()")


def probe_grad_check(Value: type[Any], grad_check: Callable) -> None:
    saved = Value.__dict__.get("backward")
    Value.backward = _reference_backward
    try:
        cases = _probe_grad_check(Value, grad_check)
    finally:
        if saved is None:
            del Value.backward
        else:
            Value.backward = saved
    emit("test_grad_check", cases)


def _probe_grad_check(Value: type, grad_check: Callable) -> list:
    rng = random.Random(67)
    cases = []
    tests = [
        ("a*b + c", lambda v: v[0] * v[1] + v[2], 3),
        ("tanh(a*b) + a", lambda v: (v[0] * v[1]).tanh() + v[0], 2),
        ("(a / b).exp()", lambda v: (v[0] / v[1]).exp(), 2),
        ("broken a**2 + b", lambda v: _broken_square(Value, v[0]) + v[1], 2),
        ("broken a**2, slightly", lambda v: _slightly_broken_square(Value, v[0]), 1),
    ]
    for name, f, n in tests:
        xs = [uniform(rng, 0.5, 1.5) for _ in range(n)]
        rows = call(lambda: list(grad_check(f, xs)), f"grad_check on {name}")
        if len(rows) != n:
            fail(f"grad_check on {name} gives one row per input", expected=str(n), got=str(len(rows)))

        def plain(t: list[float], f: Callable = f) -> float:
            return f([Value(v) for v in t]).data

        got = []
        for i, row in enumerate(rows):
            try:
                analytic, numeric, err, ok = row
            except (TypeError, ValueError):
                fail("each row of grad_check is (analytic, numeric, relative error, passed)", got=repr(row))
            analytic, numeric, err = (num(v, "a grad_check number") for v in (analytic, numeric, err))
            if type(ok) is not bool:
                fail("the last entry of a grad_check row is True or False", got=repr(ok))
            estimate = central_difference(lambda t: plain([*xs[:i], t, *xs[i + 1 :]]), xs[i])
            if rel_error(numeric, estimate) > 1e-6:
                fail(
                    f"grad_check on {name}, input {i}: the numeric column",
                    f"xs = {xs}",
                    f"about {fmt(estimate)}",
                    fmt(numeric),
                    "use numerical_gradient on lambda t: f([Value(v) for v in t]).data",
                )
            if not name.startswith("broken") and rel_error(analytic, estimate) > 1e-5:
                fail(
                    f"grad_check on {name}, input {i}: the analytic column is the input's grad after backward()",
                    f"xs = {xs}",
                    f"about {fmt(estimate)}",
                    fmt(analytic),
                )
            if abs(err - rel_error(analytic, numeric)) > 1e-12 * max(1.0, err):
                fail(
                    f"grad_check on {name}, input {i}: the error column is relative_error(analytic, numeric)",
                    expected=fmt(rel_error(analytic, numeric)),
                    got=fmt(err),
                )
            if ok != (err <= 1e-5):
                fail(
                    f"grad_check on {name}, input {i}: passed means relative error <= 1e-5",
                    expected=str(err <= 1e-5),
                    got=str(ok),
                )
            got.append([analytic, numeric, err, ok])
        if name.startswith("broken") and got[0][3]:
            fail(
                "grad_check must catch a wrong backward",
                f"{name}: d(a**2)/da computed as a",
                "input 0 fails",
                "it passed",
            )
        cases.append({"f": name, "x": xs, "rows": got})
    # the threshold is inclusive: a relative error equal to tol passes
    xs = [0.7, 1.3, 0.9]
    rows = list(grad_check(tests[0][1], xs))
    err = num(rows[0][2], "a relative error")
    at = [r[3] for r in call(lambda: list(grad_check(tests[0][1], xs, tol=err)), "grad_check(..., tol=...)")]
    below = [r[3] for r in grad_check(tests[0][1], xs, tol=err * 0.5 if err > 0 else -1.0)]
    if at[0] is not True or below[0] is not False:
        fail(
            "grad_check(..., tol=t) passes an input whose relative error is exactly t, and fails it below t",
            expected="True at t, False below",
            got=f"{at[0]} at t, {below[0]} below",
            hint="use <=, not <",
        )
    cases.append({"tol": "inclusive", "at": at[:1], "below": below[:1]})
    return cases


# --- the colleague's operations (section 10) ------------------------------------------

# every operation of the shipped colleague.py, by name -> how many inputs it takes (mean:
# a list); asked of the notebook's `colleague` module by these names, never by its own list
COLLEAGUE = {"sin": 1, "cos": 1, "sqrt": 1, "softplus": 1, "absolute": 1, "maximum": 2, "hypot": 2, "mean": 0}
# the operations colleague.py hands out with a wrong backward: the probe of BROKEN knows
# them, so that the kernel's own run grades the names as the judge does
# (tests/test_grader_units.py checks this set against the file)
WRONG_AS_SHIPPED = frozenset({"cos", "sqrt", "hypot", "mean"})
USE_HINTS = {
    "alone": "the local derivative itself is wrong: derive d(out)/d(input) on paper",
    "inside": "right as the whole function, wrong inside a bigger one: multiply the local derivative by out.grad, "
    "and list every input among the output's children",
    "reused": "right once, wrong when an input is used elsewhere too: add to the input's grad (+=), never overwrite it",
    "twice": "wrong when one Value is given twice: each use must add its own share to the grad (+=)",
}


def _colleague_inputs(rng: random.Random, name: str) -> list[float]:
    """Seeded inputs away from each operation's kink and outside its excluded domain."""
    if name == "sqrt":
        return [uniform(rng, 0.2, 3.0)]
    if name == "absolute":
        return [uniform(rng, -3.0, 3.0, avoid=[0.0], gap=0.1)]
    if name == "softplus":
        return [uniform(rng, -6.0, 6.0)]
    if name == "maximum":
        a = uniform(rng, -2.0, 2.0)
        return [a, uniform(rng, -2.0, 2.0, avoid=[a], gap=0.1)]
    if name == "hypot":
        return [uniform(rng, -2.0, 2.0, avoid=[0.0], gap=0.1) for _ in range(2)]
    if name == "mean":
        return [uniform(rng, -2.0, 2.0) for _ in range(rng.randint(2, 4))]
    return [uniform(rng, -3.0, 3.0)]


def _colleague_uses(name: str, arity: int, c: float) -> dict[str, tuple[str, Callable]]:
    """use -> (its formula, a function of the operation and the list of input Values).

    Each use shows a different class of wrong backward: the local derivative itself
    (alone), a forgotten ``* out.grad`` or a child missing from ``_prev`` (inside: out.grad
    is not 1, the inputs are results of other operations), a grad overwritten with ``=``
    (reused, twice: the input's grad is not 0 when the operation's runs)."""

    def apply(op: Callable, v: list[Any]) -> Any:
        return op(list(v)) if arity == 0 else op(*v)

    def twice(op: Callable, v: list[Any]) -> Any:
        return op([v[0], *v]) if arity == 0 else op(v[0], v[0])

    args = {0: "xs", 1: "x", 2: "a, b"}[arity]
    uses = {
        "alone": (f"{name}({args})", apply),
        # inputs that are results themselves: their _backward runs only if the output lists
        # them among its children
        "inside": (
            f"{name}(each input * {abs(c)}) * {c} + 1",
            lambda op, v: apply(op, [x * abs(c) for x in v]) * c + 1,
        ),
        # every input's grad is not 0 when the operation's _backward runs
        "reused": (f"{name}({args}) * first input + last input", lambda op, v: apply(op, v) * v[0] + v[-1]),
    }
    if arity != 1:
        form = "[v0, *xs]" if arity == 0 else "a, a"
        uses["twice"] = (f"{name}({form}) * {c} + first input", lambda op, v: twice(op, v) * c + v[0])
    return uses


COLLEAGUE_CELLS = {  # graded cell -> (its seed, the operations it judges): two cells, for partial credit
    "test_colleague_one_input": (1010, ("sin", "cos", "sqrt", "softplus", "absolute")),
    "test_colleague_several_inputs": (1011, ("maximum", "hypot", "mean")),
}


def probe_colleague(Value: type, colleague: Any, cell: str) -> None:
    """The operations of the colleague's module that ``cell`` judges, as the notebook left
    them (the fixes in place), in three or four uses at seeded inputs: the gradients and
    the forward number. Gradients come from a reference reverse pass (``backprop``), so a
    slip in the student's backward() is not charged here again."""
    if cell not in COLLEAGUE_CELLS:
        raise ValueError(f"no graded cell {cell!r} for the colleague's operations")
    seed, names = COLLEAGUE_CELLS[cell]
    rng = random.Random(seed)
    cases = []
    for name in names:
        arity = COLLEAGUE[name]
        op = call(lambda: getattr(colleague, name), f"colleague.{name}")
        for trial in range(3):
            c = round(rng.choice([-1, 1]) * rng.uniform(0.5, 2.0), 3)
            xs = _colleague_inputs(rng, name)
            for use, (form, build_use) in _colleague_uses(name, arity, c).items():
                what = f"colleague.{name}, {use}: {form}"
                leaves = [Value(x) for x in xs]
                out = call(lambda: build_use(op, leaves), what)
                y = num(call(lambda: out.data, what), f"{what}: the output's data")
                out.grad = 1.0
                call(lambda: backprop(out, what), f"{what}: the backward pass")
                grads = _grads(leaves, what)

                def plain(t: list[float], b: Callable = build_use) -> float:
                    return num(b(op, [Value(v) for v in t]).data, what)

                if trial == 0:
                    _fd_check(plain, xs, [0.0] * len(xs), grads, what, USE_HINTS[use])
                cases.append({"form": f"{name} {use}", "x": xs, "y": y, "g": grads})
    emit(cell, cases)


def probe_broken_named(broken: Any) -> None:
    """The names in BROKEN, as a sorted set: judged against the operations that were wrong
    as shipped (the reference record)."""
    names = call(lambda: list(broken), "BROKEN", hint="a set of names, e.g. {'sin', 'cos'}")
    for n in names:
        if type(n) is not str:
            fail("BROKEN holds the operations' names as strings", got=f"{type_name(n)} {fmt(n)}")
        if n not in COLLEAGUE:
            fail(
                "each name in BROKEN is one of colleague.OPERATIONS",
                expected=", ".join(COLLEAGUE),
                got=repr(n),
                hint="write the name alone: 'cos', not 'colleague.cos' or 'cos()'",
            )
    if set(names) != WRONG_AS_SHIPPED:
        fail(
            "BROKEN names exactly the operations whose backward was wrong as handed out",
            got=repr(sorted(set(names))),
            hint="a name too many: was it checked on a kink? A name missing: was each operation checked "
            "inside a bigger function and with an input used again, not only alone?",
        )
    emit("test_broken_named", [{"named": sorted(set(names))}])
