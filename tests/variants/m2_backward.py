"""m2_backward submissions: the milestone's classic pitfalls, a correct solution written
differently (Kahn's algorithm), and cheats."""

ALTERNATIVE = {
    "topo_sort": '''
def topo_sort(root):
    """Kahn's algorithm: repeatedly take a node none of whose consumers is left."""
    consumers = {}
    seen = {id(root)}
    pending = [root]
    while pending:
        node = pending.pop()
        for child in node._prev:
            consumers[id(child)] = consumers.get(id(child), 0) + 1
            if id(child) not in seen:
                seen.add(id(child))
                pending.append(child)
    ready, parents_first = [root], []
    while ready:
        node = ready.pop()
        parents_first.append(node)
        for child in node._prev:
            consumers[id(child)] -= 1
            if consumers[id(child)] == 0:
                ready.append(child)
    return parents_first[::-1]
''',
    "value_backward": """
@attach(Value)
def backward(self):
    ordering = topo_sort(self)
    self.grad = 1
    for i in range(len(ordering) - 1, -1, -1):
        ordering[i]._backward()
""",
    "numerical_gradient": """
def numerical_gradient(f, xs, h=1e-6):
    def shifted(i, d):
        return [x + d if j == i else x for j, x in enumerate(xs)]

    return [(f(shifted(i, h)) - f(shifted(i, -h))) / (2 * h) for i in range(len(xs))]
""",
    "relative_error": """
def relative_error(a, n):
    scale = max(abs(a), abs(n))
    return abs(a - n) / (scale if scale > 1e-8 else 1e-8)
""",
    "grad_check": """
def grad_check(f, xs, tol=1e-5):
    leaves = list(map(Value, xs))
    f(leaves).backward()

    def as_float(values):
        return f([Value(v) for v in values]).data

    estimates = numerical_gradient(as_float, xs)
    table = []
    for leaf, estimate in zip(leaves, estimates):
        e = relative_error(leaf.grad, estimate)
        table.append((leaf.grad, estimate, e, bool(e <= tol)))
    return table
""",
}

# correct in other styles (full marks, every visible check passes)
ALTERNATIVES = {
    # each fix composed from operations whose backward is right: no _backward written at
    # all; BROKEN a list, in another order
    "fixes_by_composition": {
        "colleague_fixes": """
colleague.cos = lambda x: colleague.sin(math.pi / 2 - x)
colleague.sqrt = lambda x: x ** 0.5
colleague.hypot = lambda a, b: (a * a + b * b) ** 0.5
colleague.mean = lambda xs: sum(xs) / len(xs)
""",
        "broken_named": """
BROKEN = ["mean", "hypot", "sqrt", "cos"]
""",
    },
    # every operation rewritten, the right ones too, as one dict of replacements
    "every_operation_replaced": {
        "colleague_fixes": """
def _unary(f, df, op):
    def apply(x):
        out = Value(f(x.data), (x,), op)

        def _backward():
            x.grad += df(x.data) * out.grad

        out._backward = _backward
        return out

    return apply


def _sigmoid(t):
    return 1 / (1 + math.exp(-t)) if t >= 0 else math.exp(t) / (1 + math.exp(t))


def _maximum(a, b):
    out = Value(max(a.data, b.data), (a, b), "max")

    def _backward():
        (a if a.data >= b.data else b).grad += out.grad

    out._backward = _backward
    return out


def _hypot(a, b):
    r = math.sqrt(a.data ** 2 + b.data ** 2)
    out = Value(r, (a, b), "hypot")

    def _backward():
        a.grad += out.grad * a.data / r
        b.grad += out.grad * b.data / r

    out._backward = _backward
    return out


def _mean(xs):
    xs = list(xs)
    out = Value(sum(x.data for x in xs) / len(xs), tuple(xs), "mean")

    def _backward():
        share = out.grad / len(xs)
        for x in xs:
            x.grad += share

    out._backward = _backward
    return out


fixed = {
    "sin": _unary(math.sin, math.cos, "sin"),
    "cos": _unary(math.cos, lambda t: -math.sin(t), "cos"),
    "sqrt": _unary(math.sqrt, lambda t: 0.5 / math.sqrt(t), "sqrt"),
    "softplus": _unary(lambda t: max(t, 0) + math.log1p(math.exp(-abs(t))), _sigmoid, "softplus"),
    "absolute": _unary(abs, lambda t: (t > 0) - (t < 0), "abs"),
    "maximum": _maximum,
    "hypot": _hypot,
    "mean": _mean,
}
for name, f in fixed.items():
    setattr(colleague, name, f)
""",
        "broken_named": """
BROKEN = set(["cos", "sqrt"]) | {"hypot", "mean"}
""",
    },
}

PITFALLS = {
    "forward_order": (
        {"value_backward": [("reversed(topo_sort(self))", "topo_sort(self)")]},
        ["test_backward", "test_reuse", "test_activations", "test_deep_chain"],
    ),
    "backward_resets_gradients": (
        {
            "value_backward": [
                (
                    "    self.grad = 1.0\n",
                    "    for node in topo_sort(self):\n        node.grad = 0.0\n    self.grad = 1.0\n",
                )
            ]
        },
        ["test_twice", "test_backward"],
    ),
    "output_grad_added": (
        {"value_backward": [("self.grad = 1.0", "self.grad += 1.0")]},
        ["test_twice"],
    ),
    "recursive_topo_sort": (
        {
            "topo_sort": """
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
        },
        ["test_deep_chain"],
    ),
    # each node listed when first reached, the list reversed: right on trees and chains,
    # wrong when an inner node is used twice and is reached first from its later consumer
    "reversed_preorder_topo_sort": (
        {
            "topo_sort": """
def topo_sort(root):
    order, visited, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if node not in visited:
            visited.add(node)
            order.append(node)
            stack.extend(node._prev)
    return order[::-1]
"""
        },
        ["test_topo_sort"],
    ),
    "step_too_large": (
        {"numerical_gradient": [("h=1e-6", "h=1e-2")]},
        ["test_numerical_gradient"],
    ),
    "one_sided_difference": (
        {"numerical_gradient": [("(f(plus) - f(minus)) / (2 * h)", "(f(plus) - f(xs)) / h")]},
        ["test_numerical_gradient"],
    ),
    "relative_error_no_floor": (
        {"relative_error": [("max(abs(a), abs(n), 1e-8)", "max(abs(a), abs(n))")]},
        ["test_relative_error"],
    ),
    "grad_check_strict_threshold": (
        {"grad_check": [("err <= tol", "err < tol")]},
        ["test_grad_check"],
    ),
    # section 10: the colleague's operations
    "fix_forgets_out_grad": (
        {"colleague_fixes": [("0.5 / out.data * out.grad", "0.5 / out.data")]},
        ["test_colleague_one_input"],
    ),
    # only the second input overwritten: a use that reuses the first input alone misses it
    "fix_overwrites_one_input": (
        {"colleague_fixes": [("b.grad += b.data", "b.grad = b.data")]},
        ["test_colleague_several_inputs"],
    ),
    "mean_without_one_over_n": (
        {"colleague_fixes": [("x.grad += out.grad / len(xs)", "x.grad += out.grad")]},
        ["test_colleague_several_inputs"],
    ),
    "fix_forgets_a_child": (
        {"colleague_fixes": [('(a, b), "hypot")', '(a,), "hypot")')]},
        ["test_colleague_several_inputs"],
    ),
    # checked on a tie, maximum looked broken: named, though it was right
    "named_a_kink": (
        {"broken_named": [('"mean"}', '"mean", "maximum"}')]},
        ["test_broken_named"],
    ),
    # checked each operation alone only: hypot's overwriting backward went unseen
    "checked_alone_only": (
        {
            "colleague_fixes": [("colleague.hypot = hypot\n", "")],
            "broken_named": [('"hypot", ', "")],
        },
        ["test_colleague_several_inputs", "test_broken_named"],
    ),
}

CHEAT_CELL = "topo_sort"
