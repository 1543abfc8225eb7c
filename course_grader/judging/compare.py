"""Comparing a submission's record with the reference's: numbers within tight tolerances,
structures field by field, and -- for kinds of answer that have more than one right form --
the comparison that kind declares.

A record case that has more than one right form names its kind (``"kind": "m2.topological_order"``);
the probes module before the dot declares how that kind is compared, next to the probe that
emits it (``@compare.kind("topological_order", judges="order")`` in ``probes/m2.py``), and registers it when
first asked. The kind is read from the *reference* (the instructor's record), never from the
submission, which only has to carry the same one. Nothing here is specific to a milestone.

Pure functions of plain data: the first difference, worded for the student, or None.
"""

import importlib
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

RTOL = 1e-9  # tight: finite-difference gradients miss by 1e-7 and more on our cases
ATOL = 1e-12  # for values that are 0 in one summation order and 1e-17 in another

# (reference, submitted, path) -> the first difference in the kind's own fields, or None
Comparator = Callable[[dict, dict, str], "str | None"]
# kind -> (the field its comparison judges, that comparison); every other field compares plainly
KINDS: dict[str, tuple[str, Comparator]] = {}
_MODULE = re.compile(r"[a-z][a-z0-9_]*")


def kind(name: str, judges: str) -> Callable[[Comparator], Comparator]:
    """Register the decorated function as the comparison of the field ``judges`` of records
    of kind ``<the calling probes module>.<name>``: declared where the probe that emits it
    lives. The record's other fields are compared plainly first."""

    def register(fn: Comparator) -> Comparator:
        module = fn.__module__.rsplit(".", 1)[-1]
        KINDS[f"{module}.{name}"] = (judges, fn)
        return fn

    return register


def comparator(name: str) -> tuple[str, Comparator]:
    """The field and comparison declared for kind ``name`` (``<probes module>.<kind>``),
    importing that probes module when it has not been yet. A reference naming an unknown
    kind is the course's bug, not a student's: it raises."""
    if name not in KINDS:
        module = name.split(".", 1)[0]
        if _MODULE.fullmatch(module):
            importlib.import_module(f"course_grader.probes.{module}")
    if name not in KINDS:
        raise LookupError(f"no comparison is declared for records of kind {name!r}")
    return KINDS[name]


def _without(record: dict, field: str) -> dict:
    """The record without its kind (already found equal) and the field its kind judges."""
    return {k: v for k, v in record.items() if k not in ("kind", field)}


def _numbers(a: Any, b: Any) -> bool:
    return type(a) in (int, float) and type(b) in (int, float)


def _describe(case: Any) -> str:
    if isinstance(case, Mapping):
        keys = [k for k in ("form", "x", "y", "g") if case.get(k) is not None]
        return ", ".join(f"{k}={case[k]!r}" for k in keys)
    return ""


def compare(ref: Any, got: Any, path: str = "record", rtol: float = RTOL, atol: float = ATOL) -> str | None:
    """The first difference between a reference record and a submitted one, or None."""
    if _numbers(ref, got):
        if math.isfinite(got) and abs(ref - got) <= rtol * max(abs(ref), abs(got)) + atol:
            return None
        return f"{path}: expected {ref!r}, got {got!r}"
    if type(ref) is not type(got):
        return f"{path}: expected {type(ref).__name__} {ref!r}, got {type(got).__name__} {got!r}"
    if isinstance(ref, list):
        if len(ref) != len(got):
            return f"{path}: expected {len(ref)} entries, got {len(got)}"
        for i, (r, g) in enumerate(zip(ref, got, strict=True)):
            where = f"{path}[{i}]"
            if path.endswith("cases") and _describe(r):
                where = f"case {i} ({_describe(r)})"
            diff = compare(r, g, where, rtol, atol)
            if diff:
                return diff
        return None
    if isinstance(ref, dict) and isinstance(ref.get("kind"), str):
        if got.get("kind") != ref["kind"]:
            return f"{path}: expected a record of kind {ref['kind']!r}, got {got.get('kind')!r}"
        own, judge = comparator(ref["kind"])
        return compare(_without(ref, own), _without(got, own), path, rtol, atol) or judge(ref, got, path)
    if isinstance(ref, dict):
        if set(ref) != set(got):
            return f"{path}: expected fields {sorted(ref)}, got {sorted(got)}"
        for k in ref:
            diff = compare(ref[k], got[k], f"{path}.{k}" if not path.startswith("case") else f"{path}: {k}", rtol, atol)
            if diff:
                return diff
        return None
    return None if ref == got else f"{path}: expected {ref!r}, got {got!r}"
