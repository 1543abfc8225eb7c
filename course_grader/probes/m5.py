"""Hidden-test probes for ``m5_tensors``: a Tensor of float64 arrays, its operations with
broadcasting, the stable log-softmax and cross-entropy, a gradient check, layers, an MLP,
SGD and Adam, and a trained network (judged by recomputing its loss from its parameters).

Every case is seeded (``numpy.random.default_rng``). An operation's inputs already hold
gradient, its upstream gradient is random (never ones), and the probe drives the backward
pass itself (``common.backprop``, after setting ``out.grad``), so one operation is judged by
its own ``_backward``. Gradients are checked against central differences of the same
function written here in plain NumPy; the record holds what the student's code produced,
which the judge compares with the reference solution's.

A student's object is only ever used through the public interface, and everything read
from it is validated (``as_array``): in the grader's replay it is a proxy, and an array read from
it a copy that travelled by value.
"""

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from course_grader.probes.arrays import (
    UNBROADCAST,
    Array,
    Shape,
    as_array,
    as_flag,
    as_scalar,
    backprop_from,
    check_grad,
    close,
    const,
    data_of,
    draw,
    expect_children,
    expect_tensor,
    finite_differences,
    grad_of,
    new_tensor,
    parameters_of,
    show,
    unbroadcast_to,
)
from course_grader.probes.common import (
    FORWARD_TOL,
    GRAD_TOL,
    H,
    call,
    emit,
    fail,
    fmt,
)
from course_grader.probes.plain_models import mlp_forward, mlp_mse

TWICE = "one tensor used twice gets both contributions: with `=` the second overwrites the first; accumulate with +="
SUM_AXIS = (
    "sum(axis=k) without keepdims drops axis k, so out.grad has one axis fewer: put it back first "
    "(np.expand_dims(out.grad, axis)), then broadcast to the input's shape. Broadcasting the "
    "reduced gradient directly lines it up with the LAST axes, which is wrong unless k is the last"
)
MATMUL = (
    "for out = A @ B: A.grad += out.grad @ B.T and B.grad += A.T @ out.grad (each gradient has its "
    "tensor's shape: let the shapes tell you the order)"
)
TRANSPOSE = (
    "transpose's backward undoes the permutation: transpose out.grad by the INVERSE permutation, "
    "np.argsort(axes), not by axes again"
)
STABLE = (
    "compute log_softmax as (x - max) - log(sum(exp(x - max))): log(softmax(x)) overflows in exp, "
    "or takes the log of a probability that rounded to 0"
)


# --- unbroadcast --------------------------------------------------------------------

UNBROADCAST_CASES: list[tuple[Shape, Shape]] = [
    ((4, 3), (3,)),
    ((4, 3), (1, 3)),
    ((4, 3), (4, 1)),
    ((4, 3), ()),
    ((4, 3), (1, 1)),
    ((4, 3), (4, 3)),
    ((3, 3), (3,)),
    ((3, 3), (3, 1)),
    ((3, 3), (1, 3)),
    ((2, 3, 4), (4,)),
    ((2, 3, 4), (3, 1)),
    ((2, 3, 4), (2, 1, 4)),
    ((2, 3, 4), (1, 3, 1)),
    ((2, 3, 4), (1, 1, 1)),
    ((2, 3, 4), ()),
    ((2, 3, 4), (2, 3, 4)),
    ((5,), (1,)),
    ((5,), (5,)),
    ((5,), ()),
    ((), ()),
]


def probe_unbroadcast(unbroadcast: Callable) -> None:
    rng = np.random.default_rng(501)
    cases = []
    for gshape, shape in UNBROADCAST_CASES:
        g = draw(rng, gshape)
        given = f"grad of shape {gshape}, shape {shape}"
        got = call(lambda: unbroadcast(g.copy(), shape), f"unbroadcast({given})")
        want = unbroadcast_to(g, shape)
        got_a = as_array(got, f"unbroadcast's result for {given}")
        if got_a.shape != tuple(shape):
            fail(
                "unbroadcast returns a gradient of exactly the operand's shape",
                given,
                f"shape {shape}",
                f"shape {got_a.shape}",
                "first sum over the leading axes broadcasting added, then (keepdims=True) over each axis "
                "where the operand has size 1",
            )
        if not close(got_a, want, 1e-12, 1e-12):
            fail(
                "unbroadcast sums the gradient over the broadcast axes",
                given + f"; grad = {show(g)}",
                show(want),
                show(got_a),
                "leading axes are the ones broadcasting added: sum axis 0 while the gradient has too many axes; "
                "then sum (keepdims=True) each axis where the operand's size is 1",
            )
        cases.append({"grad": g.tolist(), "shape": list(shape), "out": got_a.tolist()})
    emit("test_unbroadcast", cases)


# --- binary operations with broadcasting --------------------------------------------


@dataclass
class _Binary:
    cell: str
    name: str  # "a + b"
    apply: Callable[[Any, Any], Any]
    f: Callable[[Any, Any], Array]
    cases: list[tuple[str, Shape, Shape]]
    # (A, B, G, shape of a, shape of b) -> mistaken contributions to a's and b's gradients, with hints
    wrong: Callable[[Array, Array, Array, Shape, Shape], list[tuple[str, Callable[[], Array], str]]] = (
        lambda A, B, G, sa, sb: []
    )
    gap: float = 0.0  # keep operands this far from 0
    positive_left: bool = False
    hint: str = ""  # for an exception on the way back


# (form, shape of a, shape of b); forms: TT tensor op tensor, TA tensor op array, TF tensor op
# float, FT float op tensor, same: one tensor on both sides
_BROADCASTING: list[tuple[str, Shape, Shape]] = [
    ("TT", (4, 3), (4, 3)),
    ("TT", (4, 3), (3,)),
    ("TT", (3,), (4, 3)),
    ("TT", (4, 1), (1, 3)),
    ("TT", (1, 3), (4, 1)),
    ("TT", (4, 3), ()),
    ("TT", (), (4, 3)),
    ("TT", (3, 3), (3,)),
    ("TT", (3, 3), (3, 1)),
    ("TT", (2, 3, 4), (3, 1)),
    ("TT", (2, 1, 4), (3, 1)),
    ("TT", (1, 3, 1), (2, 1, 4)),
    ("TT", (), ()),
    ("TA", (3,), (4, 3)),
    ("TA", (2, 3), (2, 3)),
    ("TF", (2, 3), ()),
    ("FT", (), (3, 2)),
    ("same", (3, 4), (3, 4)),
    ("same", (), ()),
]


def _binary(Tensor: type, spec: _Binary, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cases = []
    for k, (form, sa, sb) in enumerate(spec.cases):
        A = draw(rng, sa, 0.2 if spec.positive_left else -2.0, 2.0, spec.gap)
        B = A if form == "same" else draw(rng, sb, -2.0, 2.0, spec.gap)
        pa = draw(rng, sa, -1.0, 1.0) if k % 3 else np.zeros(sa)  # every third starts from zero gradient
        pb = draw(rng, sb, -1.0, 1.0) if k % 3 else np.zeros(sb)
        a = b = None
        if form == "TT":
            a, b = new_tensor(Tensor, A, "A", pa), new_tensor(Tensor, B, "B", pb)
            operands: tuple = (a, b)
            shown = f"a = Tensor of shape {sa}, b = Tensor of shape {sb}"
        elif form == "TA":
            a = new_tensor(Tensor, A, "A", pa)
            operands = (a, B.copy())
            shown = f"a = Tensor of shape {sa}, b = a NumPy array of shape {sb}"
        elif form == "TF":
            B = np.array(float(rng.uniform(0.5, 2.0)))
            a = new_tensor(Tensor, A, "A", pa)
            operands = (a, float(B))
            shown = f"a = Tensor of shape {sa}, b = {fmt(float(B))} (a plain number)"
        elif form == "FT":
            A = np.array(float(rng.uniform(0.5, 2.0)))
            b = new_tensor(Tensor, B, "B", pb)
            operands = (float(A), b)
            shown = f"a = {fmt(float(A))} (a plain number), b = Tensor of shape {sb}"
        else:  # same
            a = new_tensor(Tensor, A, "A", pa)
            operands = (a, a)
            shown = f"a = Tensor of shape {sa}, used on both sides"
        expr = spec.name if form != "same" else spec.name.replace("b", "a")
        given = f"{shown}; computing {expr}"
        out = call(lambda: spec.apply(*operands), f"{expr} with {shown}")
        expect_tensor(Tensor, out, expr, given)
        expect_children(out, [(n, t) for n, t in (("a", a), ("b", b)) if t is not None], expr, given)
        want = np.asarray(spec.f(A, B), dtype=np.float64)
        data = data_of(out, f"({expr})", None)
        if data.shape != want.shape:
            fail(
                f"the shape of {expr}",
                given,
                f"shape {want.shape}",
                f"shape {data.shape}",
                "NumPy's shape for the same operation on the arrays",
            )
        if not close(data, want, FORWARD_TOL, 1e-12):
            fail(f"forward value of {expr}", given, show(want), show(data))
        G = draw(rng, want.shape, -1.0, 1.0)
        backprop_from(out, G, expr, spec.hint or UNBROADCAST)
        gout = grad_of(out, f"({expr})", want.shape)
        if not close(gout, G, 0, 0):
            fail(
                f"the backward pass of {expr} changed out.grad",
                given,
                show(G),
                show(gout),
                "_backward reads out.grad",
            )
        rec: dict[str, Any] = {"form": form, "A": A.tolist(), "B": B.tolist(), "G": G.tolist(), "out": data.tolist()}
        given_g = f"{given}; out.grad random; prior grads "
        if form == "same":
            ga = grad_of(a, "a", None)
            (fd,) = finite_differences(lambda x: spec.f(x, x), [A], G)
            wrongs = [(lambda: fd / 2, TWICE), (lambda: pa + fd / 2, TWICE)]
            check_grad(
                ga, pa, fd, f"gradient of {expr} reaching a (used twice)", given_g + f"a.grad = {show(pa)}", wrongs
            )
            rec["ga"] = ga.tolist()
        else:
            inputs = [A, B]
            fda, fdb = finite_differences(spec.f, inputs, G)
            mistakes = spec.wrong(A, B, G, sa, sb)
            if a is not None:
                ga = grad_of(a, "a", None)
                wrong_a = [(m, h) for who, m, h in mistakes if who == "a"]
                check_grad(ga, pa, fda, f"gradient of {expr} reaching a", given_g + f"a.grad = {show(pa)}", wrong_a)
                rec["ga"] = ga.tolist()
            if b is not None:
                gb = grad_of(b, "b", None)
                wrong_b = [(m, h) for who, m, h in mistakes if who == "b"]
                check_grad(gb, pb, fdb, f"gradient of {expr} reaching b", given_g + f"b.grad = {show(pb)}", wrong_b)
                rec["gb"] = gb.tolist()
        cases.append(rec)
    emit(spec.cell, cases)


def probe_add(Tensor: type) -> None:
    _binary(Tensor, _Binary("test_add", "a + b", lambda x, y: x + y, lambda x, y: x + y, _BROADCASTING), 503)


def _mul_wrong(A: Array, B: Array, G: Array, sa: Shape, sb: Shape) -> list[tuple[str, Callable[[], Array], str]]:
    swapped = "each input's gradient is the OTHER input times out.grad: a.grad += b * out.grad"
    return [
        ("a", lambda: unbroadcast_to(A * G, sa), swapped),
        ("b", lambda: unbroadcast_to(B * G, sb), swapped),
        ("a", lambda: unbroadcast_to(np.broadcast_to(B, G.shape), sa), "multiply by out.grad (the chain rule)"),
        ("b", lambda: unbroadcast_to(np.broadcast_to(A, G.shape), sb), "multiply by out.grad (the chain rule)"),
    ]


def probe_mul(Tensor: type) -> None:
    spec = _Binary("test_mul", "a * b", lambda x, y: x * y, lambda x, y: x * y, _BROADCASTING, _mul_wrong, gap=0.1)
    _binary(Tensor, spec, 505)


# --- pow ------------------------------------------------------------------------------


def probe_pow(Tensor: type) -> None:
    rng = np.random.default_rng(507)
    settings: list[tuple[Shape, int | float, bool]] = [
        ((3, 4), 2, False),
        ((3, 4), 3, False),
        ((2, 3), -1, False),
        ((2, 3), -2, False),
        ((4,), 0.5, True),
        ((2, 2, 2), 1.5, True),
        ((3,), -0.5, True),
        ((), 2, False),
        ((2, 3), 2.0, False),
        ((3,), 1, False),
        ((3,), 0, False),
    ]
    cases = []
    for k, (shape, p, positive) in enumerate(settings):
        A = draw(rng, shape, 0.3 if positive else -2.0, 2.0, 0.0 if positive else 0.3)
        prior = draw(rng, shape, -1.0, 1.0) if k % 4 else np.zeros(shape)
        a = new_tensor(Tensor, A, "A", prior)
        given = f"a = Tensor of shape {shape}, a ** {p!r}"
        out = call(lambda: a**p, given)
        expect_tensor(Tensor, out, f"a ** {p!r}", given)
        expect_children(out, [("a", a)], f"a ** {p!r}", given)
        want = A**p
        data = data_of(out, f"(a ** {p!r})", want.shape)
        if not close(data, want, FORWARD_TOL, 1e-12):
            fail(f"forward value of a ** {p!r}", given + f"; a = {show(A)}", show(want), show(data))
        G = draw(rng, want.shape, -1.0, 1.0)
        backprop_from(out, G, f"a ** {p!r}")
        ga = grad_of(a, "a", None)
        (fd,) = finite_differences(lambda x: x**p, [A], G)
        wrongs = [
            (lambda: prior + p * A**p * G, "the power rule: d(a**k)/da = k * a**(k - 1)"),
            (lambda: prior + A ** (p - 1) * G, "the power rule: d(a**k)/da = k * a**(k - 1) (the factor k?)"),
            (lambda: prior + p * A ** (p - 1), "multiply by out.grad (the chain rule)"),
        ]
        check_grad(ga, prior, fd, f"gradient of a ** {p!r}", given + f"; a = {show(A)}, a.grad = {show(prior)}", wrongs)
        cases.append({"p": p, "A": A.tolist(), "G": G.tolist(), "out": data.tolist(), "ga": ga.tolist()})
    emit("test_pow", cases)


# --- matmul -------------------------------------------------------------------------


def _matmul_wrong(A: Array, B: Array, G: Array, sa: Shape, sb: Shape) -> list[tuple[str, Callable[[], Array], str]]:
    return [
        ("a", lambda: B.T @ G, MATMUL),
        ("a", lambda: G @ B, MATMUL),
        ("a", lambda: (G.T @ B).T if G.shape[0] == B.shape[0] else B @ G.T, MATMUL),
        ("b", lambda: G @ A.T, MATMUL),
        ("b", lambda: A @ G, MATMUL),
        ("b", lambda: G.T @ A, MATMUL),
    ]


def probe_matmul(Tensor: type) -> None:
    shapes: list[tuple[str, Shape, Shape]] = [
        ("TT", (2, 3), (3, 4)),
        ("TT", (4, 2), (2, 1)),
        ("TT", (1, 3), (3, 1)),
        ("TT", (3, 1), (1, 3)),
        ("TT", (5, 3), (3, 2)),
        ("TT", (3, 3), (3, 3)),
        ("TT", (2, 2), (2, 2)),
        ("TA", (2, 3), (3, 2)),
        ("TA", (3, 3), (3, 3)),
        ("same", (3, 3), (3, 3)),
        ("same", (2, 2), (2, 2)),
    ]
    spec = _Binary("test_matmul", "a @ b", lambda x, y: x @ y, lambda x, y: x @ y, shapes, _matmul_wrong, hint=MATMUL)
    _binary(Tensor, spec, 509)


# --- reductions ---------------------------------------------------------------------

_REDUCE_CASES: list[tuple[Shape, int | None, bool]] = [
    ((3, 4), None, False),
    ((3, 4), None, True),
    ((3, 4), 0, False),
    ((3, 4), 1, False),
    ((3, 4), 0, True),
    ((3, 4), 1, True),
    ((3, 4), -1, False),
    ((3, 3), 0, False),
    ((3, 3), 1, False),
    ((3, 3), 1, True),
    ((2, 3, 4), 0, False),
    ((2, 3, 4), 1, False),
    ((2, 3, 4), 2, False),
    ((2, 3, 4), 1, True),
    ((2, 3, 4), -1, True),
    ((2, 2, 2), 1, False),
    ((5,), 0, False),
    ((5,), None, False),
    ((), None, False),
]


def _reduction(Tensor: type, name: str, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    mean = name == "mean"
    f = np.mean if mean else np.sum
    cases = []
    for k, (shape, axis, keepdims) in enumerate(_REDUCE_CASES):
        A = draw(rng, shape)
        prior = draw(rng, shape, -1.0, 1.0) if k % 3 else np.zeros(shape)
        a = new_tensor(Tensor, A, "A", prior)
        args = "" if axis is None and not keepdims else f"axis={axis}, keepdims={keepdims}"
        expr = f"a.{name}({args})"
        given = f"a = Tensor of shape {shape}; {expr}"

        def apply(a: Any = a, axis: int | None = axis, keepdims: bool = keepdims) -> Any:
            if axis is None and not keepdims:
                return getattr(a, name)()
            return getattr(a, name)(axis=axis, keepdims=keepdims)

        out = call(apply, given)
        expect_tensor(Tensor, out, expr, given)
        if name == "sum":  # mean may be built from sum and a product: its children are theirs
            expect_children(out, [("a", a)], expr, given)
        want = np.asarray(f(A, axis=axis, keepdims=keepdims), dtype=np.float64)
        data = data_of(out, f"({expr})", None)
        if data.shape != want.shape:
            fail(
                f"the shape of {expr}",
                given,
                f"shape {want.shape}",
                f"shape {data.shape}",
                "as NumPy's: the axis summed disappears, or stays with size 1 when keepdims=True",
            )
        if not close(data, want, FORWARD_TOL, 1e-12):
            hint = ""
            if mean and axis is not None and close(data, want * A.shape[axis] / max(A.size, 1), 1e-9, 1e-12):
                hint = "mean over an axis divides by that axis's length, not by the number of all elements"
            fail(f"forward value of {expr}", given + f"; a = {show(A)}", show(want), show(data), hint)
        G = draw(rng, want.shape, -1.0, 1.0)
        backprop_from(out, G, expr, SUM_AXIS)
        ga = grad_of(a, "a", None)
        (fd,) = finite_differences(lambda x: f(x, axis=axis, keepdims=keepdims), [A], G)
        scale = 1.0 / (A.size if axis is None else A.shape[axis]) if mean else 1.0
        wrongs: list[tuple[Callable[[], Array], str]] = []
        if axis is not None and not keepdims:
            wrongs.append((lambda: prior + np.broadcast_to(G, shape) * scale, SUM_AXIS))
        if mean and axis is not None:
            wrongs.append(
                (
                    lambda: prior + np.broadcast_to(np.expand_dims(G, axis) if not keepdims else G, shape) / A.size,
                    "mean over an axis divides by that axis's length, not by the number of all elements",
                )
            )
        check_grad(
            ga, prior, fd, f"gradient of {expr}", given + f"; a.grad = {show(prior)}", wrongs, shape_hint=SUM_AXIS
        )
        cases.append(
            {"shape": list(shape), "axis": axis, "keepdims": keepdims, "A": A.tolist(), "G": G.tolist(),
             "out": data.tolist(), "ga": ga.tolist()}
        )  # fmt: skip
    return cases


def _then_broadcast(Tensor: type, name: str, seed: int) -> list[dict[str, Any]]:
    """A reduction whose result is broadcast again later (out = a.sum(axis) * C): the gradient
    arriving at the reduction has been unbroadcast first."""
    rng = np.random.default_rng(seed)
    f = np.mean if name == "mean" else np.sum
    cases = []
    for shape, axis, keepdims, cshape in (
        ((3, 4), 1, True, (3, 4)),
        ((3, 4), 0, False, (2, 4)),
        ((3, 3), 1, False, (3, 3)),
    ):
        A, C = draw(rng, shape), draw(rng, cshape)
        a = new_tensor(Tensor, A, "A")
        expr = f"a.{name}(axis={axis}, keepdims={keepdims}) * C"
        given = f"a = Tensor of shape {shape}, C an array of shape {cshape}; {expr}"
        out = call(lambda: getattr(a, name)(axis=axis, keepdims=keepdims) * C, given)
        want = f(A, axis=axis, keepdims=keepdims) * C
        data = data_of(out, f"({expr})", want.shape)
        if not close(data, want, FORWARD_TOL, 1e-12):
            fail(f"forward value of {expr}", given, show(want), show(data))
        G = draw(rng, want.shape, -1.0, 1.0)
        backprop_from(out, G, expr, SUM_AXIS)
        ga = grad_of(a, "a", shape)
        (fd,) = finite_differences(lambda x: f(x, axis=axis, keepdims=keepdims) * C, [A], G)
        check_grad(ga, np.zeros(shape), fd, f"gradient of {expr}", given, shape_hint=SUM_AXIS)
        cases.append({"A": A.tolist(), "C": C.tolist(), "G": G.tolist(), "out": data.tolist(), "ga": ga.tolist()})
    return cases


def probe_sum(Tensor: type) -> None:
    emit("test_sum", [*_reduction(Tensor, "sum", 511), *_then_broadcast(Tensor, "sum", 512)])


def probe_mean(Tensor: type) -> None:
    emit("test_mean", [*_reduction(Tensor, "mean", 513), *_then_broadcast(Tensor, "mean", 514)])


# --- shapes ---------------------------------------------------------------------------


def probe_reshape_transpose(Tensor: type) -> None:
    rng = np.random.default_rng(515)
    ops: list[tuple[Shape, str, tuple[int, ...]]] = [
        ((2, 3, 4), "reshape", (6, 4)),
        ((2, 3, 4), "reshape", (4, 3, 2)),
        ((6,), "reshape", (2, 3)),
        ((3, 4), "reshape", (12,)),
        ((4,), "reshape", (2, 2, 1)),
        ((3, 3), "reshape", (9, 1)),
        ((2, 3), "transpose", ()),
        ((2, 3), "T", ()),
        ((3, 4), "transpose", (1, 0)),
        ((3, 3), "transpose", (1, 0)),
        ((2, 3, 4), "transpose", (1, 2, 0)),
        ((2, 3, 4), "transpose", (2, 0, 1)),
        ((2, 3, 4), "transpose", (0, 2, 1)),
        ((2, 3, 4), "transpose", ()),
        ((2, 3, 4), "T", ()),
        ((3, 3, 3), "transpose", (1, 2, 0)),
        ((2, 2, 2), "transpose", (2, 0, 1)),
    ]
    cases = []
    for k, (shape, op, args) in enumerate(ops):
        A = draw(rng, shape)
        prior = draw(rng, shape, -1.0, 1.0) if k % 3 else np.zeros(shape)
        a = new_tensor(Tensor, A, "A", prior)
        expr = "a.T" if op == "T" else f"a.{op}({', '.join(map(str, args))})"
        given = f"a = Tensor of shape {shape}; {expr}"

        def apply(a: Any = a, op: str = op, args: tuple = args) -> Any:
            return a.T if op == "T" else getattr(a, op)(*args)

        out = call(apply, given)
        expect_tensor(Tensor, out, expr, given)
        expect_children(out, [("a", a)], expr, given)

        def f(x: Array, op: str = op, args: tuple = args) -> Array:
            if op == "reshape":
                return x.reshape(args)
            return x.transpose(args or None)

        want = f(A)
        data = data_of(out, f"({expr})", None)
        if not close(data, want, 0, 0):
            fail(
                f"forward value of {expr}",
                given,
                f"shape {want.shape}: {show(want)}",
                f"shape {data.shape}: {show(data)}",
            )
        G = draw(rng, want.shape, -1.0, 1.0)
        hint = TRANSPOSE if op != "reshape" else "reshape's backward reshapes out.grad back to the input's shape"
        backprop_from(out, G, expr, hint)
        ga = grad_of(a, "a", None)
        (fd,) = finite_differences(f, [A], G)
        wrongs: list[tuple[Callable[[], Array], str]] = []
        if op == "transpose" and args:
            wrongs.append((lambda: prior + G.transpose(args), TRANSPOSE))
        check_grad(ga, prior, fd, f"gradient of {expr}", given + f"; a.grad = {show(prior)}", wrongs, shape_hint=hint)
        cases.append(
            {"op": op, "args": list(args), "A": A.tolist(), "G": G.tolist(), "out": data.tolist(), "ga": ga.tolist()}
        )
    emit("test_reshape_transpose", cases)


# --- elementwise functions ------------------------------------------------------------


@dataclass
class _Unary:
    name: str  # method name
    f: Callable[[Array], Array]
    exact: Callable[[Array], Array] | None = None  # the derivative where differences cannot be used
    kink: Callable[[Array], Array] = field(default=lambda x: np.zeros(x.shape, dtype=bool))  # where: exact
    wrong: Callable[[Array, Array], list[tuple[Array, str]]] = field(default=lambda x, g: [])


def _unary(Tensor: type, spec: _Unary, inputs: list[Array], rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for k, A in enumerate(inputs):
        prior = draw(rng, A.shape, -1.0, 1.0) if k % 3 else np.zeros(A.shape)
        a = new_tensor(Tensor, A, "A", prior)
        expr = f"a.{spec.name}()"
        given = f"a = Tensor({show(A)}); {expr}"
        out = call(lambda: getattr(a, spec.name)(), given)
        expect_tensor(Tensor, out, expr, given)
        expect_children(out, [("a", a)], expr, given)
        with np.errstate(all="ignore"):
            want = spec.f(A)
        data = data_of(out, f"({expr})", A.shape)
        if not close(data, want, FORWARD_TOL, 1e-300):
            fail(f"forward value of {expr}", given, show(want), show(data))
        G = draw(rng, A.shape, -1.0, 1.0, 0.1)
        backprop_from(out, G, expr)
        ga = grad_of(a, "a", A.shape)
        (fd,) = finite_differences(spec.f, [A], G)
        kink = spec.kink(A)
        if spec.exact is not None and np.any(kink):
            fd = np.where(kink, spec.exact(A) * G, fd)
        with np.errstate(all="ignore"):
            wrongs = [(const(prior + c), h) for c, h in spec.wrong(A, G)]
        check_grad(ga, prior, fd, f"gradient of {expr}", given + f"; a.grad = {show(prior)}", wrongs)
        cases.append({"op": spec.name, "A": A.tolist(), "G": G.tolist(), "out": data.tolist(), "ga": ga.tolist()})
    return cases


LOG_CLAMP = 1e-10


def probe_exp_log(Tensor: type) -> None:
    rng = np.random.default_rng(517)
    exp = _Unary(
        "exp",
        np.exp,
        wrong=lambda x, g: [(x * g, "d exp(x)/dx = exp(x): use out.data"), (np.exp(x), "multiply by out.grad")],
    )
    log = _Unary(
        "log",
        lambda x: np.log(np.maximum(x, LOG_CLAMP)),
        exact=lambda x: 1 / np.maximum(x, LOG_CLAMP),
        kink=lambda x: x < 1e-3,
        wrong=lambda x, g: [
            (g / x, "clamp in the backward pass too: divide out.grad by the clamped input, max(x, 1e-10)"),
            (x * g, "d log(x)/dx = 1/x"),
            (np.log(np.maximum(x, LOG_CLAMP)) * g, "d log(x)/dx = 1/x, not log(x)"),
        ],
    )
    exps = [
        draw(rng, (3, 4), -3, 3),
        draw(rng, (), -3, 3),
        draw(rng, (2, 3, 2), -3, 3),
        np.array([0.0, 10.0, -20.0]),
    ]
    logs = [
        draw(rng, (3, 4), 0.05, 5),
        draw(rng, (), 0.05, 5),
        np.array([[1e-12, 0.0, -2.0], [1e-3, 5e-11, 4.0]]),
        np.array([2.0, 0.0, 1e-10, 3.5]),
        draw(rng, (2, 2, 3), 0.05, 5),
    ]
    emit("test_exp_log", [*_unary(Tensor, exp, exps, rng), *_unary(Tensor, log, logs, rng)])


def probe_tanh_relu(Tensor: type) -> None:
    rng = np.random.default_rng(519)
    tanh = _Unary(
        "tanh",
        np.tanh,
        wrong=lambda x, g: [
            ((1 - x**2) * g, "tanh's derivative is 1 - tanh(x)**2: square out.data, not the input"),
            ((1 - np.tanh(x)) * g, "tanh's derivative is 1 - tanh(x)**2"),
        ],
    )
    relu = _Unary(
        "relu",
        lambda x: np.maximum(x, 0.0),
        exact=lambda x: (x > 0).astype(np.float64),
        kink=lambda x: np.abs(x) < 1e-3,
        wrong=lambda x, g: [
            ((x >= 0) * g, "relu'(0) is 0 in this course: pass the gradient where x > 0, not x >= 0"),
            ((x > 0) * 1.0, "multiply by out.grad (the chain rule)"),
        ],
    )
    tanhs = [draw(rng, (3, 4), -3, 3), draw(rng, (), -2, 2), draw(rng, (2, 3, 2), -3, 3), np.array([0.0, 4.0, -0.5])]
    relus = [
        draw(rng, (3, 4), -2, 2, 0.01),
        np.array([[0.0, 1.5, -1.0], [2.0, 0.0, -0.0]]),
        draw(rng, (), 0.1, 2),
        np.array([0.0]),
        draw(rng, (2, 2, 3), -2, 2, 0.01),
    ]
    emit("test_tanh_relu", [*_unary(Tensor, tanh, tanhs, rng), *_unary(Tensor, relu, relus, rng)])


# --- log-softmax and cross-entropy --------------------------------------------------------


def _log_softmax(x: Array) -> Array:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _logits(rng: np.random.Generator) -> list[Array]:
    return [
        draw(rng, (4, 3), -3, 3),
        draw(rng, (2, 5), -3, 3),
        np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 2000.0]]),
        np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1000.5]]),
        np.array([[800.0, 800.0], [-800.0, 0.0]]),
        draw(rng, (1, 4), -3, 3) + 700.0,
        draw(rng, (3, 1), -3, 3),
    ]


def probe_log_softmax(Tensor: type, log_softmax: Callable) -> None:
    rng = np.random.default_rng(521)
    inputs = [*_logits(rng), draw(rng, (4,), -3, 3), draw(rng, (2, 2, 3), -3, 3)]
    cases = []
    for k, X in enumerate(inputs):
        prior = draw(rng, X.shape, -1.0, 1.0) if k % 2 else np.zeros(X.shape)
        x = new_tensor(Tensor, X, "logits", prior)
        given = f"logits = Tensor({show(X)})"
        out = call(lambda: log_softmax(x), f"log_softmax({given})")
        expect_tensor(Tensor, out, "log_softmax(logits)", given)
        want = _log_softmax(X)
        data = data_of(out, "log_softmax(logits)", None)
        if data.shape != want.shape:
            fail(
                "log_softmax keeps the logits' shape (over the last axis)",
                given,
                f"shape {want.shape}",
                f"shape {data.shape}",
            )
        if not np.all(np.isfinite(data)) or not close(data, want, 1e-9, 1e-12):
            fail("log_softmax over the last axis", given, show(want), show(data), STABLE)
        G = draw(rng, X.shape, -1.0, 1.0)
        backprop_from(out, G, "log_softmax(logits)")
        gx = grad_of(x, "logits", X.shape)
        (fd,) = finite_differences(_log_softmax, [X], G)
        check_grad(
            gx,
            prior,
            fd,
            "gradient of log_softmax reaching the logits",
            given + f"; logits.grad = {show(prior)}",
            [(lambda: prior + G, "build log_softmax from Tensor operations so the gradient flows through "
              "the log-sum-exp too (subtract the max as a constant)")],
        )  # fmt: skip
        cases.append({"X": X.tolist(), "G": G.tolist(), "out": data.tolist(), "grad": gx.tolist()})
    emit("test_log_softmax", cases)


def _cross_entropy(X: Array, t: Array) -> float:
    return float(-_log_softmax(X)[np.arange(len(t)), t].mean())


def probe_cross_entropy(Tensor: type, cross_entropy: Callable) -> None:
    rng = np.random.default_rng(523)
    cases = []
    for k, X in enumerate([*_logits(rng), draw(rng, (6, 4), -3, 3)]):
        t = rng.integers(0, X.shape[1], size=X.shape[0])
        if k == 2:
            t = np.array([2, 0])  # the far-off logits: a loss of 2000 + 2000, halved
        prior = draw(rng, X.shape, -1.0, 1.0) if k % 2 else np.zeros(X.shape)
        x = new_tensor(Tensor, X, "logits", prior)
        given = f"logits = Tensor({show(X)}), targets = {t.tolist()}"
        out = call(lambda: cross_entropy(x, t.copy()), f"cross_entropy({given})")
        expect_tensor(Tensor, out, "cross_entropy(logits, targets)", given)
        want = _cross_entropy(X, t)
        data = data_of(out, "the loss", None)
        if data.size != 1:
            fail(
                "cross_entropy returns a single number (a Tensor of one element)",
                given,
                "1 element",
                f"shape {data.shape}",
            )
        loss = float(data.reshape(()))
        if not (math.isfinite(loss) and abs(loss - want) <= 1e-9 * max(abs(want), 1.0)):
            hint = STABLE
            if math.isfinite(loss) and abs(loss * X.shape[0] - want) <= 1e-9 * max(abs(want), 1.0):
                hint = "the mean over the batch: divide by the number of examples, not the number of classes"
            elif math.isfinite(loss) and abs(loss - want * X.shape[0]) <= 1e-9 * max(abs(want * X.shape[0]), 1.0):
                hint = "the MEAN over the batch, not the sum"
            elif math.isfinite(loss) and abs(loss + want) <= 1e-9 * max(abs(want), 1.0):
                hint = "cross-entropy is MINUS the log-probability of the target class"
            fail(
                "cross_entropy: the mean over the batch of -log_softmax(logits)[i, target i]",
                given,
                fmt(want),
                fmt(loss),
                hint,
            )
        call(lambda: out.backward(), "backward() from the cross-entropy loss")
        gx = grad_of(x, "logits", X.shape)
        (fd,) = finite_differences(lambda z: np.array(_cross_entropy(z, t)), [X], np.array(1.0))
        check_grad(
            gx, prior, fd, "gradient of cross_entropy reaching the logits", given + f"; logits.grad = {show(prior)}"
        )
        cases.append({"X": X.tolist(), "targets": t.tolist(), "loss": loss, "grad": gx.tolist()})
    emit("test_cross_entropy", cases)


# --- gradient check ---------------------------------------------------------------------


@dataclass
class _Checked:
    """A function handed to the student's grad_check: its forward in NumPy, and its gradient
    (deliberately wrong in some cases, for grad_check to find) put in place by a _backward
    of the probe's own, so that grad_check is judged whatever the student's operations do."""

    describe: str
    f: Callable[..., float]
    grads: Callable[..., list[Array]]  # the analytic gradient the probe's _backward hands over
    shapes: list[Shape]
    kwargs: dict[str, float] = field(default_factory=dict)
    integers: bool = False  # inputs handed over as integer arrays (grad_check must nudge floats)


def _grad_check_cases() -> list[_Checked]:
    def skew(scale: float, where: tuple) -> Callable[[Array], Array]:
        def g(x: Array) -> Array:
            d = 3 * x**2
            d[where] *= scale
            return d

        return g

    return [
        _Checked(
            "sum(exp(a) * b**2), its gradient right",
            lambda a, b: float(np.sum(np.exp(a) * b**2)),
            lambda a, b: [np.exp(a) * b**2, 2 * np.exp(a) * b],
            [(2, 3), (2, 3)],
        ),
        _Checked(
            "sum(a**3), one entry of its gradient 1.5 times too big",
            lambda a: float(np.sum(a**3)),
            lambda a: [skew(1.5, (1,))(a)],
            [(3,)],
        ),
        _Checked(
            "s**2 * sum(v): a 0-d input and a vector, the vector's gradient doubled",
            lambda s, v: float(s**2 * np.sum(v)),
            lambda s, v: [2 * s * np.sum(v), np.full(v.shape, 2 * s**2)],
            [(), (4,)],
        ),
        _Checked(
            "1e-7 * sum(a**2): tiny values, the gradient doubled (absolute errors all look small)",
            lambda a: float(1e-7 * np.sum(a**2)),
            lambda a: [4e-7 * a],
            [(2, 2)],
        ),
        _Checked(
            "sum(exp(5 * a)) with h=1e-4 and tol=1e-3, its gradient off by 2e-4 (relative)",
            lambda a: float(np.sum(np.exp(5 * a))),
            lambda a: [5 * np.exp(5 * a) * (1 + 2e-4)],
            [(3,)],
            {"h": 1e-4, "tol": 1e-3},
        ),
        _Checked(
            "sum(exp(5 * a)) with the default tol, its gradient off by 2e-4 (relative)",
            lambda a: float(np.sum(np.exp(5 * a))),
            lambda a: [5 * np.exp(5 * a) * (1 + 2e-4)],
            [(3,)],
        ),
        _Checked(
            "sum(a**2) with the default tol, its gradient off by 5e-5 (relative): just over tol",
            lambda a: float(np.sum(a**2)),
            lambda a: [2 * a * (1 + 5e-5)],
            [(2, 2)],
        ),
        _Checked(
            "1e-10 * sum(a**2), its gradient 1.5 times too big: values below the 1e-8 floor",
            lambda a: float(1e-10 * np.sum(a**2)),
            lambda a: [3e-10 * a],
            [(3,)],
        ),
        _Checked(
            "sum(sin(100 * a)), its gradient right (a step other than h = 1e-6 shows)",
            lambda a: float(np.sum(np.sin(100 * a))),
            lambda a: [100 * np.cos(100 * a)],
            [(4,)],
        ),
        _Checked(
            "0.3 * sum(a**3 * b) on integer arrays, its gradient right (nudge a float copy)",
            lambda a, b: float(0.3 * np.sum(a**3 * b)),
            lambda a, b: [0.9 * a**2 * b, 0.3 * a**3],
            [(2, 2), (2, 2)],
            integers=True,
        ),
    ]


def _probe_function(Tensor: type, spec: _Checked) -> Callable[[Any], Any]:
    def f(tensors: Any) -> Any:
        ts = list(call(lambda: list(tensors), "grad_check calls f with a list of Tensors"))
        if len(ts) != len(spec.shapes):
            fail("grad_check calls f with one Tensor per input array", expected=str(len(spec.shapes)), got=str(len(ts)))
        xs = [data_of(t, "an input Tensor of f", s) for t, s in zip(ts, spec.shapes, strict=True)]
        out = call(lambda: Tensor(np.array(spec.f(*xs)), tuple(ts), "f"), "Tensor(value, children, op)")
        local = spec.grads(*xs)

        def _backward() -> None:
            g = float(grad_of(out, "f's output", ()).reshape(()))
            for t, d, s in zip(ts, local, spec.shapes, strict=True):
                now = grad_of(t, "an input Tensor", s)
                v = np.array(now + g * np.asarray(d), dtype=np.float64)  # an array (NumPy makes 0-d sums scalars)
                call(lambda: setattr(t, "grad", v), "setting an input's grad")

        call(lambda: setattr(out, "_backward", _backward), "setting _backward")
        return out

    return f


def _one_sided(f: Callable[..., float], arrays: list[Array], i: int, h: float) -> Array:
    base = f(*arrays)
    out = np.zeros(arrays[i].shape)
    for idx in np.ndindex(arrays[i].shape):
        xs = [a.copy() for a in arrays]
        xs[i][idx] += h
        out[idx] = (f(*xs) - base) / h
    return out


def probe_grad_check(Tensor: type, grad_check: Callable) -> None:
    rng = np.random.default_rng(525)
    cases = []
    for spec in _grad_check_cases():
        arrays = [draw(rng, s, -1.0, 1.0, 0.2) for s in spec.shapes]
        if spec.integers:
            arrays = [np.where(a < 0, -1, 1) * rng.integers(1, 4, size=a.shape) for a in arrays]
        h, tol = spec.kwargs.get("h", H), spec.kwargs.get("tol", GRAD_TOL)
        given = f"f = {spec.describe}; arrays {[show(a) for a in arrays]}" + (f"; {spec.kwargs}" if spec.kwargs else "")
        f = _probe_function(Tensor, spec)
        rows = call(lambda: grad_check(f, [a.copy() for a in arrays], **spec.kwargs), f"grad_check({given})")
        rows = list(call(lambda: list(rows), "grad_check's rows"))
        if len(rows) != len(arrays):
            fail("grad_check returns one row per input array", given, str(len(arrays)), str(len(rows)))
        floats = [a.astype(np.float64) for a in arrays]
        analytic_want = spec.grads(*floats)
        numeric_want = finite_differences(lambda *xs: np.array(spec.f(*xs)), floats, np.array(1.0), h)
        rec_rows = []
        for i, row in enumerate(rows):
            what = f"row {i} of grad_check"
            if call(lambda: len(row), f"the length of {what}") != 4:
                fail(f"{what} is (analytic, numeric, worst relative error, passed)", given)
            parts = [call(lambda: row[j], f"{what}[{j}]") for j in range(4)]
            shape = spec.shapes[i]
            analytic = as_array(parts[0], f"the analytic gradient in {what}", shape)
            numeric = as_array(parts[1], f"the numerical gradient in {what}", shape)
            worst = as_scalar(parts[2], f"the worst relative error in {what}")
            passed = as_flag(parts[3], f"passed in {what}")
            if not close(analytic, analytic_want[i], 1e-12, 1e-20):
                fail(
                    f"{what}: the analytic gradient is input {i}'s .grad after f(tensors).backward()",
                    given, show(analytic_want[i]), show(analytic),
                )  # fmt: skip
            if not close(numeric, numeric_want[i], 1e-8, 1e-10):
                one_sided = _one_sided(spec.f, floats, i, h)
                hint = f"(f(x + h) - f(x - h)) / (2 * h) for each entry, with h = {h}"
                if close(numeric, one_sided, 1e-6, 1e-9):
                    hint = (
                        "use the CENTRAL difference (f(x + h) - f(x - h)) / (2h): a one-sided one is far less accurate"
                    )
                fail(f"{what}: the numerical gradient", given, show(numeric_want[i]), show(numeric), hint)
            with np.errstate(all="ignore"):
                errs = np.abs(analytic - numeric) / np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1e-8)
            mine = float(errs.max()) if errs.size else 0.0
            if not (math.isfinite(worst) and abs(worst - mine) <= 1e-4 * mine + 1e-8):
                hint = "the relative error |a - n| / max(|a|, |n|, 1e-8), element by element; report the largest"
                if errs.size and abs(worst - float(np.abs(analytic - numeric).max())) <= 1e-12:
                    hint = "an absolute error hides wrong small gradients: divide by max(|a|, |n|, 1e-8)"
                fail(f"{what}: the worst relative error", given, fmt(mine), fmt(worst), hint)
            if passed != (mine <= tol):
                fail(
                    f"{what}: passed is whether the worst relative error is at most tol",
                    given + f"; worst relative error {mine:.3g}",
                    str(mine <= tol),
                    str(passed),
                    "compare with the tol argument (1e-5 by default)",
                )
            # the worst error of a right gradient is rounding noise: recorded as 0 below 1e-6
            rec_rows.append(
                {
                    "analytic": analytic.tolist(),
                    "worst": float(f"{worst:.3g}") if worst > 1e-6 else 0.0,
                    "passed": passed,
                }
            )
        cases.append({"f": spec.describe, "arrays": [a.tolist() for a in arrays], "rows": rec_rows})
    emit("test_grad_check", cases)


# --- layers and networks -----------------------------------------------------------------


def _draws(seed: int, sizes: Sequence[int]) -> list[Array]:
    """The documented initialisation of MLP(sizes[0], sizes[1:], default_rng(seed)): per layer
    W (nin, nout) then b (nout,), each rng.uniform(-1/sqrt(nin), 1/sqrt(nin))."""
    rng = np.random.default_rng(seed)
    out = []
    for nin, nout in itertools.pairwise(sizes):
        bound = 1.0 / math.sqrt(nin)
        out.append(rng.uniform(-bound, bound, size=(nin, nout)))
        out.append(rng.uniform(-bound, bound, size=(nout,)))
    return out


def _init_hint(got: Array, want: Array, others: list[Array], nin: int) -> str:
    bound = 1.0 / math.sqrt(nin)
    if got.size and np.max(np.abs(got)) > bound:
        return f"draw from rng.uniform(-1/sqrt(nin), 1/sqrt(nin)): |values| stay below {fmt(bound)}"
    if any(close(np.sort(got.reshape(-1)), np.sort(o.reshape(-1)), 1e-12, 0) for o in others):
        return "draw W first, then b (the draws come from one generator, in that order)"
    if got.size == want.size and close(got.reshape(-1), want.T.reshape(-1), 1e-12, 0):
        return "draw W with size=(nin, nout) directly"
    return "rng.uniform(-bound, bound, size=(nin, nout)) for W, then size=(nout,) for b, with the rng passed in"


def _check_params(params: list[Any], sizes: Sequence[int], seed: int, what: str) -> list[Array]:
    want = _draws(seed, sizes)
    if len(params) != len(want):
        fail(f"{what}.parameters() lists W and b of each layer", expected=f"{len(want)} tensors", got=str(len(params)))
    got = []
    for i, (p, w) in enumerate(zip(params, want, strict=True)):
        name = f"{'W' if i % 2 == 0 else 'b'} of layer {i // 2}"
        d = data_of(p, f"{what}: {name}", None)
        if d.shape != w.shape:
            hint = "W has shape (nin, nout), so that x @ W works on a batch x of shape (batch, nin)"
            if i % 2:
                hint = "b has shape (nout,): one bias per output, broadcast over the batch"
            fail(f"{what}: the shape of {name}", f"sizes {list(sizes)}", f"shape {w.shape}", f"shape {d.shape}", hint)
        if not close(d, w, 1e-12, 0):
            fail(
                f"{what}: the initial values of {name}",
                f"sizes {list(sizes)}, rng = numpy.random.default_rng({seed})",
                show(w),
                show(d),
                _init_hint(d, w, want, sizes[i // 2]),
            )
        got.append(d)
    return got


def _forward(params: list[Array], x: Array) -> Array:
    n = len(params) // 2
    for i in range(n):
        x = x @ params[2 * i] + params[2 * i + 1]
        if i < n - 1:
            x = np.tanh(x)
    return x


def _network(Tensor: type, build: Callable[[np.random.Generator], Any], sizes: list[int], seed: int, what: str,
             batch: int, rng: np.random.Generator) -> dict[str, Any]:  # fmt: skip
    model = call(lambda: build(np.random.default_rng(seed)), what)
    params = parameters_of(model, what)
    init = _check_params(params, sizes, seed, what)
    X = draw(rng, (batch, sizes[0]))
    x = new_tensor(Tensor, X, "x")
    given = f"{what} with rng = numpy.random.default_rng({seed}); x of shape {X.shape}"
    out = call(lambda: model(x), f"{given}: calling it on x")
    expect_tensor(Tensor, out, f"{what}(x)", given)
    want = _forward(init, X)
    data = data_of(out, f"{what}(x)", None)
    if data.shape != want.shape:
        fail(f"the output of {what}(x)", given, f"shape {want.shape}", f"shape {data.shape}")
    if not close(data, want, 1e-9, 1e-12):
        hint = "x @ W + b for each layer, tanh between the layers, none after the last"
        n = len(init) // 2
        if n > 1 and close(data, np.tanh(want), 1e-9, 1e-12):
            hint = "no tanh after the last layer: the output layer is linear"
        fail(f"the output of {what}(x)", given, show(want), show(data), hint)
    G = draw(rng, want.shape, -1.0, 1.0)
    backprop_from(out, G, f"{what}(x)")
    grads = []
    fds = finite_differences(lambda *ps: _forward(list(ps[1:]), ps[0]), [X, *init], G)
    for i, (p, fd) in enumerate(zip(params, fds[1:], strict=True)):
        name = f"{'W' if i % 2 == 0 else 'b'} of layer {i // 2}"
        g = grad_of(p, f"{what}: {name}", init[i].shape)
        check_grad(g, np.zeros(init[i].shape), fd, f"gradient reaching {name}", given + "; out.grad random")
        grads.append(g.tolist())
    gx = grad_of(x, "x", X.shape)
    check_grad(gx, np.zeros(X.shape), fds[0], "gradient reaching the input x", given + "; out.grad random")
    return {"sizes": sizes, "seed": seed, "init": [p.tolist() for p in init], "X": X.tolist(), "G": G.tolist(),
            "out": data.tolist(), "grads": grads, "gx": gx.tolist(), "model": model, "params": params}  # fmt: skip


def _plain(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in ("model", "params")}


def probe_linear(Tensor: type, Linear: type) -> None:
    rng = np.random.default_rng(527)
    cases = []
    for nin, nout, batch, seed in ((3, 2, 4, 1), (1, 4, 3, 2), (5, 1, 2, 3), (4, 4, 5, 4), (2, 3, 1, 5)):
        rec = _network(Tensor, lambda r: Linear(nin, nout, r), [nin, nout], seed,
                       f"Linear({nin}, {nout}, rng)", batch, rng)  # fmt: skip
        layer, params = rec["model"], rec["params"]
        again = parameters_of(layer, "the layer")
        if len(again) != len(params) or any(p is not q for p, q in zip(again, params, strict=False)):
            fail("Linear.parameters() returns the layer's own tensors, [W, b], the same ones every time")
        cases.append(_plain(rec))
    emit("test_linear", cases)


def probe_mlp(Tensor: type, MLP: type) -> None:
    rng = np.random.default_rng(529)
    cases = []
    for nin, nouts, batch, seed in ((2, [3, 1], 4, 11), (3, [4, 4, 2], 3, 12), (1, [1], 2, 13), (2, [8, 8, 1], 5, 14)):
        what = f"MLP({nin}, {nouts}, rng)"
        rec = _network(Tensor, lambda r: MLP(nin, list(nouts), r), [nin, *nouts], seed, what,
                       batch, rng)  # fmt: skip
        model, params = rec["model"], rec["params"]
        call(lambda: model.zero_grad(), f"{what}.zero_grad()")
        again = parameters_of(model, what)
        if len(again) != len(params) or any(p is not q for p, q in zip(again, params, strict=False)):
            fail(f"{what}.parameters() returns the same tensors every time (the model's own)")
        for i, p in enumerate(params):
            g = grad_of(p, f"parameter {i} after zero_grad()", None)
            if g.shape != _rec_shape(rec, i) or np.any(g != 0):
                fail(
                    f"{what}.zero_grad() sets every parameter's grad to zeros of its shape",
                    f"parameter {i}",
                    f"zeros of shape {_rec_shape(rec, i)}",
                    show(g),
                )
        cases.append(_plain(rec))
    emit("test_mlp", cases)


def _rec_shape(rec: dict[str, Any], i: int) -> Shape:
    return np.asarray(rec["init"][i]).shape


# --- optimizers ------------------------------------------------------------------------

_OPT_SHAPES: list[Shape] = [(3,), (2, 2), (), (2, 1, 3)]


def _leaves(Tensor: type, rng: np.random.Generator) -> tuple[list[Any], list[Array]]:
    datas = [draw(rng, s, -1.0, 1.0) for s in _OPT_SHAPES]
    return [new_tensor(Tensor, d, f"a parameter of shape {d.shape}") for d in datas], datas


def _set_grads(params: list[Any], grads: list[Array]) -> None:
    for p, g in zip(params, grads, strict=True):
        call(lambda: setattr(p, "grad", g.copy()), "setting a parameter's grad")


def _datas(params: list[Any]) -> list[Array]:
    return [data_of(p, f"parameter {i}", s) for i, (p, s) in enumerate(zip(params, _OPT_SHAPES, strict=True))]


def _same_leaves(params: list[Any], originals: list[Any], name: str) -> None:
    if len(params) != len(originals) or any(p is not q for p, q in zip(params, originals, strict=True)):
        fail(f"{name} changes p.data in place: the parameters stay the same Tensors", hint="never replace them")
    for p in params:
        if len(list(call(lambda: list(p._prev), "a parameter's _prev"))):
            fail(
                f"{name}.step() changes p.data in place: a parameter stays a leaf",
                hint="p.data -= lr * p.grad; a Tensor built by p - lr * p.grad is not the model's parameter",
            )


def _zero_grad(opt: Any, params: list[Any], name: str) -> list[list[Any]]:
    call(lambda: opt.zero_grad(), f"{name}.zero_grad()")
    zeroed = []
    for i, (p, s) in enumerate(zip(params, _OPT_SHAPES, strict=True)):
        g = grad_of(p, f"parameter {i} after zero_grad()", None)
        if g.shape != s or np.any(g != 0):
            fail(f"{name}.zero_grad() sets every parameter's grad to zeros of its shape", f"parameter {i}",
                 f"zeros of shape {s}", show(g))  # fmt: skip
        zeroed.append(g.tolist())
    return zeroed


def probe_sgd(Tensor: type, SGD: type) -> None:
    rng = np.random.default_rng(531)
    cases = []
    for lr in (0.1, 0.05, 1.5):
        params, datas = _leaves(Tensor, rng)
        originals = list(params)
        grads = [draw(rng, d.shape, -3.0, 3.0) for d in datas]
        _set_grads(params, grads)
        opt = call(lambda: SGD(params, lr), f"SGD(params, lr={lr})")
        trail = []
        for step in range(2):
            call(lambda: opt.step(), f"SGD.step() number {step + 1}")
            _same_leaves(params, originals, "SGD")
            after = _datas(params)
            for i, (d, g, a) in enumerate(zip(datas, grads, after, strict=True)):
                want = d - lr * g
                if not close(a, want, 1e-12, 1e-15):
                    hint = "p.data -= lr * p.grad"
                    if close(a, d, 0, 0):
                        hint = ("update the parameters themselves: p.data -= lr * p.grad (new Tensors made by "
                                "p - lr * p.grad are not the model's parameters)")  # fmt: skip
                    fail(f"SGD.step() on parameter {i}", f"data {show(d)}, grad {show(g)}, lr {lr}", show(want),
                         show(a), hint)  # fmt: skip
                if not close(grad_of(params[i], f"parameter {i}", None), g, 0, 0):
                    fail("SGD.step() leaves the gradients alone (zero_grad() resets them)")
            datas = after
            trail.append([a.tolist() for a in after])
        zeroed = _zero_grad(opt, params, "SGD")
        call(lambda: opt.step(), "SGD.step() after zero_grad()")
        still = _datas(params)
        if not all(close(s, a, 0, 0) for s, a in zip(still, datas, strict=True)):
            fail("a step with zero gradients changes nothing", expected=str([show(a) for a in datas]),
                 got=str([show(s) for s in still]))  # fmt: skip
        cases.append({"lr": lr, "grads": [g.tolist() for g in grads], "trail": trail, "zeroed": zeroed})
    emit("test_sgd", cases)


def probe_adam(Tensor: type, Adam: type) -> None:
    rng = np.random.default_rng(533)
    cases: list[dict[str, Any]] = []
    settings: list[tuple[dict, int]] = [
        ({}, 2),  # the defaults: lr 0.001, betas (0.9, 0.999), eps 1e-8
        ({"lr": 0.01}, 4),
        ({"lr": 0.05, "betas": (0.5, 0.9)}, 3),
        ({"lr": 0.1, "eps": 1e-3}, 3),
    ]
    for kwargs, steps in settings:
        params, datas = _leaves(Tensor, rng)
        originals = list(params)
        opt = call(lambda: Adam(params, **kwargs), f"Adam(params, {kwargs})")
        lr, (b1, b2), eps = kwargs.get("lr", 1e-3), kwargs.get("betas", (0.9, 0.999)), kwargs.get("eps", 1e-8)
        m = [np.zeros(d.shape) for d in datas]
        v = [np.zeros(d.shape) for d in datas]
        expected = [d.copy() for d in datas]
        schedule, trail = [], []
        for t in range(1, steps + 1):
            grads = [draw(rng, d.shape, -2.0, 2.0) for d in datas]
            grads[0][0] = 0.0  # a zero gradient: eps keeps 0/0 away, the entry does not move
            grads[0][1] = 1e-12
            _set_grads(params, grads)
            before = _datas(params)
            call(lambda: opt.step(), f"Adam.step() number {t}")
            _same_leaves(params, originals, "Adam")
            after = _datas(params)
            for i, g in enumerate(grads):
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                expected[i] = expected[i] - lr * (m[i] / (1 - b1**t)) / (np.sqrt(v[i] / (1 - b2**t)) + eps)
            if t == 1:  # bias-corrected: m_hat = g and v_hat = g**2, so the step is lr * g / (|g| + eps)
                for i, g in enumerate(grads):
                    want = -lr * g / (np.abs(g) + eps)
                    if not close(after[i] - before[i], want, 1e-9, 1e-9 * lr):
                        fail(
                            "Adam's first step is lr * g / (|g| + eps): bias correction makes m_hat = g and "
                            "v_hat = g**2",
                            f"{kwargs}, parameter {i}, grad {show(g)}",
                            show(want),
                            show(after[i] - before[i]),
                            "divide m by (1 - beta1**t) and v by (1 - beta2**t), with t the number of steps so far",
                        )
            for i, (a, e) in enumerate(zip(after, expected, strict=True)):
                if not close(a, e, 1e-9, 1e-12):
                    fail(
                        f"Adam after {t} steps: m and v carry over from step to step",
                        f"{kwargs}, parameter {i}",
                        show(e),
                        show(a),
                        "keep m, v and t in the optimizer, one m and one v per parameter (arrays of its shape), "
                        "never reset in step()",
                    )
            if after[0][0] != before[0][0]:
                fail("a parameter entry whose gradient is 0 does not move (eps keeps 0/0 away)",
                     got=fmt(float(after[0][0] - before[0][0])))  # fmt: skip
            schedule.append([g.tolist() for g in grads])
            trail.append([a.tolist() for a in after])
        zeroed = _zero_grad(opt, params, "Adam")
        cases.append(
            {"kwargs": {k: list(x) if isinstance(x, tuple) else x for k, x in kwargs.items()},
             "data": [d.tolist() for d in datas], "schedule": schedule, "trail": trail, "zeroed": zeroed}
        )  # fmt: skip
    # state is per parameter: changing one parameter's gradients leaves another's path alone
    twins = []
    for other in (0.5, -3.0):
        a = new_tensor(Tensor, np.array([0.3, -0.2]), "a")
        b = new_tensor(Tensor, np.array([0.3, -0.2]), "b")
        opt = call(lambda: Adam([a, b], lr=0.01), "Adam([a, b], lr=0.01)")
        for gv in (1.0, -0.5, 2.0):
            call(lambda: setattr(a, "grad", np.array([gv, -gv])), "setting a.grad")
            call(lambda: setattr(b, "grad", np.array([other * gv, gv])), "setting b.grad")
            call(lambda: opt.step(), "Adam.step()")
        twins.append(data_of(a, "a", (2,)))
    if not close(twins[0], twins[1], 0, 0):
        fail(
            "Adam keeps its moments per parameter",
            "two runs differing only in another parameter's gradients",
            "the same path",
            f"{show(twins[0])} and {show(twins[1])}",
            "one m and one v for each parameter",
        )
    cases.append({"per_parameter": twins[0].tolist()})
    emit("test_adam", cases)


# --- the trained network --------------------------------------------------------------


def _flat(params: list[Array]) -> list[float]:
    """The parameters in plain_models' order: per layer, neuron by neuron, its weights (a column
    of W) and then its bias."""
    flat: list[float] = []
    for W, b in zip(params[::2], params[1::2], strict=True):
        for j in range(W.shape[1]):
            flat.extend(float(w) for w in W[:, j])
            flat.append(float(b[j]))
    return flat


def probe_trained(
    Tensor: type,
    model: Any,
    X: Any,
    y: Any,
    losses: Sequence[Any],
    sizes: Sequence[int] = (2, 8, 8, 1),
    threshold: float = 0.01,
    min_steps: int = 100,
) -> None:
    """The trained network, judged by recomputing its loss from its parameters."""
    sizes = list(sizes)
    Xa = as_array(X, "X")
    if Xa.ndim != 2 or Xa.shape[1] != sizes[0] or len(Xa) == 0:
        fail(f"X holds the points, shape (n, {sizes[0]})", got=f"shape {Xa.shape}")
    ya = as_array(y, "y")
    if ya.size != len(Xa) or ya.ndim not in (1, 2):
        fail("y holds one label per point, shape (n, 1)", expected=f"shape ({len(Xa)}, 1)", got=f"shape {ya.shape}")
    params = parameters_of(model, "the model")
    if len(params) != 2 * (len(sizes) - 1):
        fail(f"MLP{tuple(sizes)}.parameters() lists W and b of each layer", expected=str(2 * (len(sizes) - 1)),
             got=str(len(params)))  # fmt: skip
    datas = []
    for i, p in enumerate(params):
        nin, nout = sizes[i // 2], sizes[i // 2 + 1]
        d = data_of(p, f"trained parameter {i}", (nin, nout) if i % 2 == 0 else (nout,))
        if not np.all(np.isfinite(d)):
            fail("every trained parameter is finite", f"parameter {i}", "finite numbers", show(d),
                 "a learning rate too high makes training diverge")  # fmt: skip
        datas.append(d)
    flat = _flat(datas)
    Xl, yl = Xa.tolist(), ya.reshape(-1).tolist()
    loss = mlp_mse(sizes, flat, Xl, yl)
    # the model's own predictions come from these parameters, in the documented architecture
    xt = call(lambda: Tensor(Xa.copy()), "Tensor(X)")
    preds = data_of(call(lambda: model(xt), "the trained model on X"), "the model's predictions", (len(Xa), 1))
    want = np.array([mlp_forward(sizes, flat, x) for x in Xl]).reshape(-1, 1)
    if not close(preds, want, 1e-9, 1e-12):
        fail(
            "the model's predictions come from its parameters: x @ W + b per layer, tanh between layers",
            expected=show(want),
            got=show(preds),
        )
    curve = [as_scalar(v, "a loss in the curve") for v in call(lambda: list(losses), "the list of losses")]
    if len(curve) < min_steps:
        fail(f"train for at least {min_steps} steps", expected=f">= {min_steps} losses", got=str(len(curve)))
    tenth = max(1, len(curve) // 10)
    falls = sum(curve[:tenth]) / tenth > sum(curve[-tenth:]) / tenth
    if not falls:
        fail(
            "the loss should fall on average over training",
            got=f"first steps {fmt(curve[0])}, last {fmt(curve[-1])}",
            hint="a learning rate too high makes the loss oscillate or explode",
        )
    if not loss < threshold:
        fail(
            f"the trained network's loss should end below {threshold}",
            "recomputed from the trained parameters",
            f"< {threshold}",
            fmt(loss),
            "too low a learning rate barely moves; too high diverges; too few steps stops early",
        )
    emit(
        "test_trained",
        [
            {
                "kind": "plain_models.trained_mlp",
                "threshold": threshold,
                "sizes": sizes,
                "X": Xl,
                "y": yl,
                "steps_ok": True,
                "falls": falls,
                "params": flat,
            }
        ],
    )
