"""Visible checks: each failure says what was checked, on which input, expected vs got,
and the mistake that most often produces that answer.

Why a module of its own: a bare ``assert a.grad == 3`` tells a student only that
something is wrong. A check that says "gradient of a*b with respect to a, with a=2,
b=-3 and out.grad=1.5: expected -4.5, got 0.0 - did you use = instead of +=?" teaches.

These checks carry no points. Grading runs hidden tests, judged outside the student's
kernel, so editing or patching a check here gains nothing; a passing check says so, and
says that more tests run at grading.
"""

import math
from collections.abc import Callable, Mapping
from typing import TypeGuard

from course_lib import explain

__all__ = ["CheckFailed", "check_array", "check_close", "check_raises", "check_true", "passed"]


class CheckFailed(AssertionError):
    """A visible check found a wrong answer; the message explains what and why."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows: the message alone. The lines of course_lib that raised it
        would only hide the explanation under code the student did not write."""
        return [f"\x1b[0;31m✗ {self.__class__.__name__}:\x1b[0m {self}"]


def _fmt(x: object) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return repr(x)
    return f"{x:.12g}"


def _message(what: str, given: str, expected: str, got: str, hint: str) -> str:
    lines = [f"{what}"]
    if given:
        lines.append(f"  input:    {given}")
    if expected:
        lines.append(f"  expected: {expected}")
    if got:
        lines.append(f"  got:      {got}")
    if hint:
        lines.append(f"  hint:     {hint}")
    return "\n".join(lines)


def _is_number(x: object) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _close(a: float, b: float, rel: float, abs_tol: float) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)


def check_close(
    got: object,
    expected: float,
    *,
    what: str,
    given: str = "",
    hint: str = "",
    pitfalls: Mapping[str, float] | None = None,
    rel: float = 1e-9,
    abs_tol: float = 1e-12,
) -> None:
    """Fail with a teaching message unless ``got`` is a number close to ``expected``.

    ``pitfalls`` maps a description of a known mistake to the number that mistake
    produces; when ``got`` matches one, the message names it instead of the generic
    ``hint``. That is how "did you use 1 - x**2 instead of 1 - tanh(x)**2?" is only
    said to the student who actually did.
    """
    if not _is_number(got):
        raise CheckFailed(
            _message(
                what,
                given,
                _fmt(expected),
                f"{got!r} ({type(got).__name__})",
                "this should be a plain number (int or float)." + (f" {hint}" if hint else ""),
            )
        )
    if math.isfinite(expected) and math.isfinite(got) and _close(got, expected, rel, abs_tol):
        return
    if got == expected:  # equal infinities
        return
    likely = hint
    for mistake, value in (pitfalls or {}).items():
        if _close(got, value, 1e-9, 1e-12):
            likely = f"your answer is what {mistake} gives."
            break
    raise CheckFailed(_message(what, given, _fmt(expected), _fmt(got), likely))


def _array_text(x: object) -> str:
    """An array as a short, stable text: its shape and its rounded values."""
    import numpy as np  # here: milestones 1-4 never need it

    a = np.asarray(x)
    body = np.array2string(a, precision=6, suppress_small=True, threshold=20, max_line_width=100)
    return f"shape {a.shape}: " + " ".join(body.split())


def check_array(
    got: object,
    expected: object,
    *,
    what: str,
    given: str = "",
    hint: str = "",
    pitfalls: Mapping[str, object] | None = None,
    rel: float = 1e-7,
    abs_tol: float = 1e-9,
) -> None:
    """Fail with a teaching message unless ``got`` is a NumPy array of ``expected``'s shape
    with values close to it (NaN nowhere, infinities where ``expected`` has them).

    A wrong *shape* is the most common tensor mistake (a gradient of the broadcast shape, a
    sum that dropped an axis), so it is named first; ``pitfalls`` (mistake -> the array it
    gives) names a wrong value the way ``check_close`` does.
    """
    import numpy as np

    want = np.asarray(expected, dtype=np.float64)
    if isinstance(got, np.generic) and got.dtype.kind in "biuf":
        got = np.asarray(got)  # NumPy's own scalar (what a full reduction returns): a 0-d array
    if not isinstance(got, np.ndarray) or got.dtype.kind not in "biuf":
        kind = f"{type(got).__name__}" + (f" of dtype {got.dtype}" if isinstance(got, np.ndarray) else "")
        raise CheckFailed(
            _message(
                what,
                given,
                _array_text(want),
                kind,
                "this should be a NumPy array of numbers." + (f" {hint}" if hint else ""),
            )
        )
    if got.shape != want.shape:
        raise CheckFailed(
            _message(
                what,
                given,
                f"shape {want.shape}",
                f"shape {got.shape}",
                hint or "a gradient has the shape of the tensor it belongs to",
            )
        )
    if np.allclose(got, want, rtol=rel, atol=abs_tol, equal_nan=False) and not np.isnan(got).any():
        return
    likely = hint
    for mistake, value in (pitfalls or {}).items():
        candidate = np.asarray(value, dtype=np.float64)
        if candidate.shape == got.shape and np.allclose(got, candidate, rtol=1e-9, atol=1e-12):
            likely = f"your answer is what {mistake} gives."
            break
    raise CheckFailed(_message(what, given, _array_text(want), _array_text(got), likely))


def _numpy_true(ok: object) -> bool:
    kind = type(ok)
    return kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_") and bool(ok)


def check_true(
    ok: bool,
    *,
    what: str,
    given: str = "",
    expected: str = "",
    got: str = "",
    hint: str = "",
) -> None:
    """Fail with a teaching message unless ``ok`` is true (for non-numeric facts).

    ``True`` itself, or NumPy's true (``np.float64(x) < 1`` is one), never merely a truthy
    object: a check must not pass on something that only claims to be true."""
    if not (ok is True or _numpy_true(ok)):
        raise CheckFailed(_message(what, given, expected, got, hint))


def check_raises(
    action: Callable[[], object],
    expected: type[BaseException],
    *,
    what: str,
    hint: str = "",
) -> BaseException:
    """Fail unless ``action()`` raises ``expected``; return the exception raised.

    A clear error beats a silent NaN or a complex number several cells later, so the
    course checks that bad input is refused where it enters.
    """
    try:
        result = action()
    except expected as err:
        return err
    except Exception as err:  # noqa: BLE001 - report whatever student code raised
        raise CheckFailed(_message(what, "", expected.__name__, f"{type(err).__name__}: {err}", hint)) from None
    raise CheckFailed(_message(what, "", f"{expected.__name__} raised", f"no error; it returned {result!r}", hint))


def passed(what: str, *, graded: bool = True) -> None:
    """Say what the visible checks covered, and whether grading runs more tests
    (``graded=False`` for an optional challenge, which carries no points)."""
    if graded:
        print(f"✓ {what}: the visible checks pass. Hidden tests check more cases at grading.")
    else:
        print(f"✓ {what}: the visible checks pass. (Optional: it carries no points.)")


explain.install()  # in a notebook, an error raised by student code inside a check says why
