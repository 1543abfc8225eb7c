"""Comparing a submission's record with the reference's: numbers within tight tolerances,
structures field by field, and kinds of answer that have more than one right form (a
topological order valid for the reference's edges; a trained network whose loss, recomputed
here from its parameters, is below the reference's threshold; a trained classifier whose
predictions on held-out examples, recomputed by the probe from its parameters, reach the
reference's accuracy on the reference's targets).

Pure functions of plain data: the first difference, worded for the student, or None.
"""

import math
from collections.abc import Mapping
from typing import Any

from course_grader.probes.plain_models import mlp_mse

RTOL = 1e-9  # tight: finite-difference gradients miss by 1e-7 and more on our cases
ATOL = 1e-12  # for values that are 0 in one summation order and 1e-17 in another


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
    if isinstance(ref, dict) and {"edges", "order"} <= set(ref) and isinstance(got, dict):
        return _compare_order(ref, got, path, rtol, atol)
    if isinstance(ref, dict) and ref.get("recompute") == "mlp_mse" and isinstance(got, dict):
        return _compare_trained(ref, got, path, rtol, atol)
    if isinstance(ref, dict) and ref.get("recompute") == "heldout_accuracy" and isinstance(got, dict):
        return _compare_accuracy(ref, got, path, rtol, atol)
    if isinstance(ref, dict):
        if set(ref) != set(got):
            return f"{path}: expected fields {sorted(ref)}, got {sorted(got)}"
        for k in ref:
            diff = compare(ref[k], got[k], f"{path}.{k}" if not path.startswith("case") else f"{path}: {k}", rtol, atol)
            if diff:
                return diff
        return None
    return None if ref == got else f"{path}: expected {ref!r}, got {got!r}"


def _compare_order(ref: dict, got: dict, path: str, rtol: float, atol: float) -> str | None:
    """A topological order is right when it is valid for the reference's edges, whatever
    order the reference itself chose (Kahn's algorithm and a DFS both earn full marks)."""
    rest = compare(
        {k: v for k, v in ref.items() if k != "order"}, {k: v for k, v in got.items() if k != "order"}, path, rtol, atol
    )
    if rest:
        return rest
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


def _compare_trained(ref: dict, got: dict, path: str, rtol: float, atol: float) -> str | None:
    """A trained network is right when the loss recomputed here from its parameters is
    below the reference's threshold, whatever path training took to get there."""
    if got.get("recompute") != "mlp_mse":
        return f"{path}: not a record of a trained network"
    rest = compare(
        {k: v for k, v in ref.items() if k not in ("params", "recompute")},
        {k: v for k, v in got.items() if k not in ("params", "recompute")},
        path,
        rtol,
        atol,
    )
    if rest:
        return rest
    params = got.get("params")
    if not isinstance(params, list) or not all(type(p) in (int, float) and math.isfinite(p) for p in params):
        return f"{path}: the trained parameters should be finite numbers"
    try:
        loss = mlp_mse(ref["sizes"], params, ref["X"], ref["y"])
    except ValueError as err:
        return f"{path}: {err}"
    if not loss < ref["threshold"]:
        return (
            f"{path}: the trained network's loss, recomputed from its parameters, is {loss:.6g} "
            f"(it should be below {ref['threshold']})"
        )
    return None


def _compare_accuracy(ref: dict, got: dict, path: str, rtol: float, atol: float) -> str | None:
    """A trained classifier is right when its predictions on the held-out examples (computed
    by the probe from its parameters, not by its own forward pass) get at least the
    reference's threshold of the reference's targets right, whatever its training path."""
    if got.get("recompute") != "heldout_accuracy":
        return f"{path}: not a record of a trained classifier"
    rest = compare(
        {k: v for k, v in ref.items() if k not in ("predictions", "recompute")},
        {k: v for k, v in got.items() if k not in ("predictions", "recompute")},
        path,
        rtol,
        atol,
    )
    if rest:
        return rest
    targets, predicted = ref["targets"], got.get("predictions")
    if not isinstance(predicted, list) or len(predicted) != len(targets) or not all(type(p) is int for p in predicted):
        return f"{path}: one predicted token per held-out example is expected"
    accuracy = sum(p == t for p, t in zip(predicted, targets, strict=True)) / len(targets)
    if not accuracy >= ref["threshold"]:
        return (
            f"{path}: the trained model's accuracy on held-out examples, recomputed from its parameters, is "
            f"{accuracy:.1%} (it should be at least {ref['threshold']:.0%})"
        )
    return None
