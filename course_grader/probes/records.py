"""Records: plain data that a hidden-test cell emits for the judge.

A grade cell earns points only when its record is present and right, and "right" is
decided outside the student's process (``judging/verdict.py``). So a record must be plain JSON
data the student's code produced (values, gradients, counts), never a verdict, and
identical from run to run so that nbval can compare solution notebooks.

Records travel as ``display_data`` of their own MIME type: JupyterLab shows nothing for
it, nbgrader does not truncate it (it truncates streams), and it is not an
``execute_result`` that nbgrader would read as partial credit.
"""

import contextlib
import json
import math
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

MIME = "application/vnd.micrograd-course.record+json"
FORMAT = 1


class RecordError(ValueError):
    """A record is malformed: not plain finite JSON data of the expected shape."""


def plain(x: Any) -> Any:
    """Convert ``x`` to plain JSON data, refusing anything that is not exactly that.

    Exact type checks on purpose: a float subclass that "equals anything", or an object
    with a lying ``__float__``, must not slip through as a number.
    """
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x
    if t is float:
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if t in (list, tuple):
        return [plain(v) for v in x]
    if t is dict:
        out = {}
        for k, v in x.items():
            if type(k) is not str:
                raise RecordError(f"record keys must be strings, got {k!r}")
            out[k] = plain(v)
        return out
    raise RecordError(f"a record holds only plain data; got {t.__name__}")


def make(cell: str, cases: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Build the record for grade cell ``cell`` from its cases."""
    return {"format": FORMAT, "cell": cell, "cases": plain(list(cases))}


_LOCAL = threading.local()  # .collectors, innermost last: where emit() puts records in the grader's process


def _collectors() -> list[list[Any]]:
    if not hasattr(_LOCAL, "collectors"):
        _LOCAL.collectors = []
    return _LOCAL.collectors


@contextlib.contextmanager
def collecting() -> Iterator[list[Any]]:
    """Records emitted inside the block go to the list it gives, not to the display: the
    grader runs probes in its own process (``isolation/replay.py``) and keeps what they record."""
    found: list[Any] = []
    _collectors().append(found)
    try:
        yield found
    finally:
        _collectors().remove(found)


def emit(record: Mapping[str, Any]) -> None:
    """Display ``record`` in the current cell (kernel side), or hand it to the grader."""
    payload = json.loads(json.dumps(plain(dict(record)), allow_nan=False))
    if _collectors():
        _collectors()[-1].append(payload)
        return
    from IPython.display import display

    display({MIME: payload}, raw=True)


def in_outputs(outputs: Iterable[Mapping[str, Any]]) -> list[Any]:
    """Every record payload among a cell's outputs, in order."""
    found = []
    for out in outputs:
        if out.get("output_type") in ("display_data", "execute_result", "update_display_data"):
            data = out.get("data") or {}
            if MIME in data:
                found.append(data[MIME])
    return found
