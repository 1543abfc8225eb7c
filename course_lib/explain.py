"""When a visible check stops because the student's code raised, say why in course terms.

Why: a check cell calls the student's code. When that code raises (a float overflows in
``engine.__pow__`` because the learning rate is too high, a recursive ``topo_sort`` hits
the recursion limit, a width-1 layer returns a ``Value`` where a list was expected), the
raw traceback runs through files the student never wrote and buries the one useful line.
In a check cell the student sees instead the likely cause in course words, with the
original error on one line below it. Everywhere else (the student's own cells) Python's
traceback is kept: there it points at the student's own line.

A check cell is recognised by its source: every one ends with ``passed(...)``.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable
from typing import Any

# (exception type, a test on its message, the likely cause): the first that matches is said.
CAUSES: list[tuple[type[BaseException], Callable[[str], bool], str]] = [
    (
        OverflowError,
        lambda m: True,
        "a number grew past what a float can hold (about 1.8e308). In training this means the "
        "learning rate is too high: lower it. In exp, an input above about 709 overflows.",
    ),
    (
        RecursionError,
        lambda m: True,
        "a function called itself more deeply than Python allows (about 1,000 calls): "
        "topo_sort (or backward) recursed. Walk the graph with your own stack instead.",
    ),
    (
        TypeError,
        lambda m: "not iterable" in m and "Value" in m,
        "a Value was used where a list was expected: a layer of width 1 returns a single Value, "
        "so an MLP with a width-1 hidden layer must wrap it in a list before the next layer.",
    ),
    (
        TypeError,
        lambda m: "unsupported operand" in m or "can't multiply" in m or "must be real number" in m,
        "an operation got a type it does not handle: is a reflected method (__radd__, __rmul__, ...) "
        "missing, or is a plain number mixed with a list?",
    ),
    (
        ZeroDivisionError,
        lambda m: True,
        "a division by zero: a denominator that can be 0 needs a guard or a floor (the relative "
        "error of two zeros; a derivative such as 1/x or k * x**(k-1) evaluated at 0).",
    ),
    (
        NotImplementedError,
        lambda m: True,
        "a function this check uses still raises NotImplementedError: write it in the cell above.",
    ),
    (
        NameError,
        lambda m: True,
        "a name this check uses is not defined yet: run the cells above it in order (after a "
        "restart, Run All Above), and write the cell that defines it.",
    ),
    (
        AttributeError,
        lambda m: "'NoneType'" in m,
        "something returned None: does every function above end with `return`?",
    ),
]
_CHECK_CELL = re.compile(r"^\s*passed\(", re.MULTILINE)


def likely_cause(err: BaseException) -> str:
    """The course's words for what most often raises ``err`` in a check, or a generic line."""
    message = str(err)
    for kind, matches, cause in CAUSES:
        if isinstance(err, kind) and matches(message):
            return cause
    return "the error came from your code (the cells above this check), not from the check."


def message(err: BaseException) -> list[str]:
    """The lines a student sees: what happened, the likely cause, the original error."""
    original = f"{type(err).__name__}: {err}".splitlines()[0] if str(err) else type(err).__name__
    if len(original) > 300:
        original = original[:300] + " ..."
    return [
        "\x1b[0;31m✗ this check stopped: your code raised an error while the check ran it\x1b[0m",
        f"  likely cause: {likely_cause(err)}",
        f"  the error:    {original}",
    ]


def _in_a_check_cell(shell: Any, tb: Any) -> bool:
    """Whether the cell that raised is a check. IPython keeps each cell's source in
    ``linecache`` under the name its code runs as: the outermost ``<module>`` frame of the
    traceback is the cell. Without one, the last input of IPython's history is."""
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "<module>":
            return bool(_CHECK_CELL.search("".join(linecache.getlines(code.co_filename))))
        tb = tb.tb_next
    inputs = shell.user_ns.get("_ih") or [""]
    return isinstance(inputs[-1], str) and bool(_CHECK_CELL.search(inputs[-1]))


def _handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
    """IPython's custom exception handler: it must show the error itself (IPython drops
    what a handler returns), as an error output so that the cell still counts as failed."""
    if hasattr(value, "_render_traceback_") or not _in_a_check_cell(shell, tb):
        # a check's own failure renders itself; outside a check Python's traceback points
        # at the student's own line
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
        return
    shell._showtraceback(etype, value, message(value))


def install() -> None:
    """Explain errors in check cells of the running IPython kernel (nothing outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((Exception,), _handler)
