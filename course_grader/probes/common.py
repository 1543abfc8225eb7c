"""What every probe shares: strict numbers, failure messages, finite differences, a tiny
reverse pass for M1's composite ops, and record emission. The same code runs in a kernel
(nbval, an instructor's own run) and in the grader (``isolation/replay.py``)."""

import importlib
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from course_grader.probes import records

if TYPE_CHECKING:
    import numpy

H = 1e-6  # central-difference step, as milestone 2 teaches
GRAD_TOL = 1e-5  # relative error that passes a gradient check (milestone 2)
FORWARD_TOL = 1e-9


class HiddenTestFailure(AssertionError):
    """A hidden test found a wrong answer. Its message is all that feedback shows."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: never a line of hidden-test code."""
        return [f"HiddenTestFailure: {self}"]


def fail(what: str, given: str = "", expected: str = "", got: str = "", hint: str = "") -> NoReturn:
    lines = [what]
    for label, text in (("input", given), ("expected", expected), ("got", got), ("hint", hint)):
        if text:
            lines.append(f"  {label + ':':<9} {text}")
    raise HiddenTestFailure("\n".join(lines))


def fmt(x: object) -> str:
    if type(x) in (int, float):
        return f"{x:.12g}"
    return repr(x)


def num(x: object, what: str) -> float:
    """``x`` as a float, refusing anything but a plain int or float.

    Exact types on purpose: a float subclass whose ``__eq__`` or ``__sub__`` lies must
    not pass a comparison.
    """
    if type(x) is float:
        return x
    if type(x) is int:
        return float(x)
    fail(f"{what} should be a plain number", got=f"{type_name(x)}: {x!r}")
    raise AssertionError  # unreachable: fail() raises


def array(x: object, what: str) -> "numpy.ndarray":
    """``x`` when it is exactly a ``numpy.ndarray`` of floats, ints or bools; a failure naming
    ``what`` and the type it got otherwise.

    Exact types on purpose, as ``num``: a subclass's operators may lie. And never
    ``numpy.asarray(x)``: in the grader's replay a student's array travels by value
    (``isolation/rpc.py``), so anything else here is a proxy or an object of another kind, and
    converting it would ask the student's object (its ``__array__``) what the answer is.
    """
    import numpy  # here: milestones 1-4 never need it

    if type(x) is numpy.ndarray and x.dtype.kind in "biuf":
        return x
    fail(f"{what} should be a NumPy array of floats", got=_array_kind(x))


def _array_kind(x: object) -> str:
    """What ``x`` is, for ``array``'s failure, alike in a kernel and in the grader's replay:
    an array of a dtype that does not travel by value is a proxy there."""
    name = type_name(x)
    if name != "ndarray":
        return name
    try:
        return f"ndarray of dtype {x.dtype!s}"  # type: ignore[attr-defined]  # asked of its process in the replay
    except Exception:  # noqa: BLE001 - only for the message
        return name


def rel_error(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-8)


def close(a: float, b: float, rel: float = FORWARD_TOL, abs_tol: float = 1e-12) -> bool:
    return math.isfinite(a) and abs(a - b) <= rel * max(abs(a), abs(b)) + abs_tol


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x) without overflow for any float x: the exponent is never positive."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def central_difference(f: Callable[[float], float], x: float, h: float = H) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


def children(v: object, what: str) -> list[object]:
    """The children of ``v`` (its ``_prev``), as a list, failing clearly if unusable."""
    try:
        prev = v._prev  # type: ignore[attr-defined]
        kids = list(prev)
    except Exception as err:
        fail(f"{what}: _prev should be the collection of children", got=f"{type(err).__name__}: {err}")
        raise
    return kids


def backprop(out: object, what: str) -> None:
    """Run every ``_backward`` reachable from ``out``, consumers before producers.

    M1 has no ``backward()`` yet, but subtraction and division are built from other
    operations, so checking their gradients needs this short reverse pass. It is grader
    code, not course_lib: M2 asks students to write it.
    """
    order: list[object] = []
    seen: set[int] = set()
    stack: list[tuple[object, bool]] = [(out, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for child in children(node, what):
            if id(child) not in seen:
                stack.append((child, False))
    for node in reversed(order):
        if children(node, what):
            node._backward()  # type: ignore[attr-defined]


def call(action: Callable[[], Any], what: str, hint: str = "") -> Any:
    """Run student code, turning an exception into a failure that names the step."""
    try:
        return action()
    except HiddenTestFailure:
        raise
    except NotImplementedError:
        fail(f"{what}: not implemented yet", hint="replace `raise NotImplementedError()` with your code")
    except Exception as err:  # noqa: BLE001 - report whatever student code raised
        fail(f"{what} raised {type(err).__name__}: {err}", hint=hint)


def uniform(rng: random.Random, lo: float, hi: float, avoid: Sequence[float] = (), gap: float = 0.05) -> float:
    """A draw from [lo, hi] at least ``gap`` away from each point in ``avoid`` (kinks)."""
    while True:
        x = rng.uniform(lo, hi)
        if all(abs(x - a) >= gap for a in avoid):
            return round(x, 6)


class _StudentModule:
    """``sys`` or ``random`` of the student's process, in the grader's replay: each call is
    one of the interpreter's own functions there, taken before any student code ran
    (``rpc.INTERPRETER``), never looked up through the notebook's names."""

    def __init__(self, link: Any, name: str) -> None:
        self._link, self._name = link, name

    def __getattr__(self, attr: str) -> Callable[..., Any]:
        return lambda *args: self._link.ask("interpreter", f"{self._name}.{attr}", *args)


def student_module(name: str, near: object) -> Any:
    """The module ``name`` of the process the student's code runs in.

    A probe that seeds ``random`` or sets the recursion limit means the student's
    interpreter. In the kernel that is this one; in the grader's replay (``isolation/replay.py``) the
    student's objects are proxies, and the interpreter's functions are asked of the
    student's process."""
    from course_grader.isolation import rpc

    if type(near) is rpc.Proxy:
        return _StudentModule(near._link, name)
    return importlib.import_module(name)


def type_name(x: object) -> str:
    """The name of ``x``'s type as the student's code sees it.

    In the grader's replay a student's object is a ``Proxy`` here: its type's name is asked
    of the student's process, so a message naming the type (``not Value``) is judged by
    what the student wrote, never by the grader's wrapper."""
    from course_grader.isolation import rpc

    if type(x) is rpc.Proxy:
        name = x._link.ask("interpreter", "type.name", x)
        return name if type(name) is str else "?"
    return type(x).__name__


def emit(cell: str, cases: Iterable[Mapping[str, Any]]) -> None:
    records.emit(records.make(cell, cases))
