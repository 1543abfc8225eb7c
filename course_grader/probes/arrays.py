"""The array toolkit the tensor milestones' probes share (m5's Tensor, m6's attention).

Why a module of its own: every tensor probe reads what the student's code returns the same
guarded way (only exact float arrays of our own, copied; a proxy in the grader's replay), drives
one operation's backward pass itself, and compares a gradient with central differences of the
same function in plain NumPy, naming the known mistake that explains a wrong gradient. Milestone
6 uses these exactly as milestone 5 does, so they are public here rather than private to m5.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_grader.probes.common import GRAD_TOL, H, array, backprop, call, children, fail, fmt, num, type_name

Array = np.ndarray
Shape = tuple[int, ...]

UNBROADCAST = (
    "broadcasting stretched this operand (or added leading axes): sum out.grad back down to the "
    "operand's shape with unbroadcast(grad, shape) before adding it to .grad"
)
ACCUMULATE = "the tensor already held gradient and yours replaced it: accumulate with +=, not ="
NEVER_ARRIVED = "no gradient arrived: does the op set out._backward, and does it update this input's grad?"


# --- reading what the student's code returns ----------------------------------------

NUMPY_SCALARS = ("float64", "float32", "float16", "longdouble", "int64", "int32", "int16", "int8")


def as_array(x: object, what: str, shape: Shape | None = None) -> Array:
    """``x`` as a float64 array of our own: a NumPy array of numbers (or, where a 0-d array is
    expected, a plain or NumPy number), failing with ``what`` otherwise, or if its shape is not
    ``shape``."""
    if type(x) is np.ndarray:
        a = np.array(array(x, what), dtype=np.float64)
    elif shape in ((), None) and (type(x) in (int, float) or type_name(x) in NUMPY_SCALARS):
        v = x if type(x) in (int, float) else call(lambda: float(x), f"reading {what} as a number")  # type: ignore[arg-type]
        a = np.array(num(v, what))
    else:
        array(x, what)  # fails, naming what it got
        raise AssertionError  # unreachable
    if shape is not None and a.shape != tuple(shape):
        fail(f"{what} should have shape {tuple(shape)}", got=f"shape {a.shape}")
    return a


def as_scalar(x: object, what: str) -> float:
    """A number the student's code returned: plain, NumPy's, or an array of one element."""
    if type(x) in (int, float):
        return num(x, what)
    a = as_array(x, what)
    if a.size != 1:
        fail(f"{what} should be a single number", got=f"an array of shape {a.shape}")
    return float(a.reshape(()))


def as_flag(x: object, what: str) -> bool:
    if type(x) is bool:
        return x
    if type_name(x) in ("bool", "bool_"):  # NumPy's bool: numpy.bool_ (numpy.bool in NumPy 2)
        got = call(lambda: bool(x), f"reading {what}")
        if type(got) is bool:
            return got
    fail(f"{what} should be True or False", got=f"{type_name(x)}")
    raise AssertionError  # unreachable


def data_of(t: object, what: str, shape: Shape | None = None) -> Array:
    return as_array(call(lambda: t.data, f"reading {what}.data"), f"{what}.data", shape)  # type: ignore[attr-defined]


def grad_of(t: object, what: str, shape: Shape | None = None) -> Array:
    return as_array(call(lambda: t.grad, f"reading {what}.grad"), f"{what}.grad", shape)  # type: ignore[attr-defined]


def new_tensor(Tensor: type, a: Array, what: str, prior: Array | None = None) -> Any:
    t = call(lambda: Tensor(a.copy()), f"Tensor({what})")
    if prior is not None:
        call(lambda: setattr(t, "grad", prior.copy()), f"setting {what}.grad")
    return t


def expect_tensor(Tensor: type, out: object, expr: str, given: str) -> None:
    if not call(lambda: isinstance(out, Tensor), f"isinstance({expr}, Tensor)"):
        fail(f"{expr} should return a new Tensor", given, "a Tensor", type_name(out))


def expect_children(out: Any, tensors: Sequence[tuple[str, Any]], expr: str, given: str) -> None:
    """Milestone 1's design, kept: ``out`` lists its tensor operands as children (``_prev``,
    which ``backward()`` walks to reach them) and names its operation (``_op``)."""
    kids = {id(k) for k in children(out, expr)}
    missing = [name for name, t in tensors if id(t) not in kids]
    if missing:
        fail(
            f"children (_prev) of {expr}",
            given,
            f"{' and '.join(missing)} among them",
            f"{len(kids)} child(ren) without {' and '.join(missing)}",
            "pass the operands as _children when you build out: backward() walks _prev to reach them",
        )
    op = call(lambda: out._op, f"({expr})._op")
    if type(op) is not str or not op:
        fail(f"_op of {expr}", given, "a short name of the operation, e.g. '+' or 'sum'", repr(op))


def backprop_from(out: Any, g: Array, what: str, hint: str = "") -> None:
    """Set ``out.grad`` to ``g`` and run every ``_backward`` reachable from it (the probe's own
    reverse pass: an operation is judged on its own ``_backward``)."""
    call(lambda: setattr(out, "grad", g.copy()), f"setting ({what}).grad")
    call(lambda: backprop(out, what), f"the backward pass through {what}", hint)


# --- plain NumPy --------------------------------------------------------------------


def finite_differences(f: Callable[..., Array], inputs: Sequence[Array], g: Array, h: float = H) -> list[Array]:
    """Central differences of sum(f(*inputs) * g) with respect to each input."""

    def loss(xs: list[Array]) -> float:
        return float(np.sum(np.asarray(f(*xs)) * g))

    grads = []
    for i, x in enumerate(inputs):
        d = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            plus = [np.array(v, dtype=np.float64) for v in inputs]
            minus = [np.array(v, dtype=np.float64) for v in inputs]
            plus[i][idx] += h
            minus[i][idx] -= h
            d[idx] = (loss(plus) - loss(minus)) / (2 * h)
        grads.append(d)
    return grads


def unbroadcast_to(g: Array, shape: Shape) -> Array:
    """The probe's own unbroadcast."""
    g = np.asarray(g, dtype=np.float64)
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def close(got: Array, want: Array, rtol: float = 1e-12, atol: float = 1e-12) -> bool:
    """Same shape, and each entry equal or within ``rtol`` (relative) plus ``atol``; NaN never."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        near = np.abs(got - want) <= rtol * np.maximum(np.abs(got), np.abs(want)) + atol
        return bool(np.all(near | (got == want)))


def show(a: object) -> str:
    if isinstance(a, (np.ndarray, np.generic)):
        a = np.asarray(a)
        if a.ndim == 0:
            return fmt(float(a))
        return np.array2string(a, precision=6, separator=", ", threshold=24, max_line_width=100).replace("\n", "")
    return fmt(a)


def draw(rng: np.random.Generator, shape: Shape, lo: float = -2.0, hi: float = 2.0, gap: float = 0.0) -> Array:
    """Uniform in [lo, hi], each at least ``gap`` away from 0."""
    a = rng.uniform(lo, hi, size=shape)
    if gap:
        a = np.where(np.abs(a) < gap, np.copysign(gap, a) + a, a)
    return np.array(a, dtype=np.float64)


def const(a: Array) -> Callable[[], Array]:
    return lambda: a


def check_grad(
    got: Array,
    prior: Array,
    want: Array,
    what: str,
    given: str,
    wrong: Sequence[tuple[Callable[[], Array], str]] = (),
    shape_hint: str = UNBROADCAST,
) -> None:
    """``got`` (the tensor's grad after the pass) against ``prior + want`` (``want``: central
    differences, or the exact derivative where differences cannot reach); on a mismatch, the
    first known mistake that explains ``got``."""
    if got.shape != prior.shape:
        fail(
            f"{what}: a tensor's grad keeps the tensor's shape {prior.shape}",
            given,
            f"shape {prior.shape}",
            f"shape {got.shape}",
            shape_hint,
        )
    if close(got - prior, want, GRAD_TOL, 1e-6):
        return
    right = prior + want
    candidates: list[tuple[Callable[[], Array], str]] = [*wrong]
    if np.any(prior != 0):
        candidates.append((lambda: want, ACCUMULATE))
    candidates.append((lambda: prior, NEVER_ARRIVED))
    hint = "compare your local derivative with the notebook's table"
    for make, text in candidates:
        try:
            cand = np.asarray(make(), dtype=np.float64)
        except (ArithmeticError, ValueError):
            continue
        if cand.shape == got.shape and not close(cand, right, 1e-6, 1e-8) and close(got, cand, 1e-6, 1e-8):
            hint = text
            break
    if not np.all(np.isfinite(got)):
        hint = f"the gradient is not finite. {hint}"
    fail(what, given, show(right), show(got), hint)


def parameters_of(model: Any, what: str) -> list[Any]:
    return list(call(lambda: list(model.parameters()), f"{what}.parameters()"))
