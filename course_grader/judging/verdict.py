"""The verdict on each graded cell: it earns its points only when the grader's own run of
its probe (``isolation/replay.py``) produced one record, well formed, of this cell, that
agrees with the instructor solution's record (``compare.py``).

Why the grader's run: a student's code shares the kernel with the hidden tests and can
rewrite, empty or fake what later cells do, so records in the kernel's outputs count for
nothing. ``judge_notebook`` only ever adds an error output (so that nbgrader's own
``SaveAutoGrades`` scores the cell 0) and never removes one: judged scores are never above
stock nbgrader's. It also trims hidden-test tracebacks to their message, so feedback never
quotes hidden-test code.
"""

import json
from collections.abc import Mapping
from typing import Any

from nbformat import NotebookNode

from course_grader.cells import error_output, graded_tests
from course_grader.judging.compare import compare
from course_grader.probes import records

BUSY_NAME = "GradingTimeoutWhileBusy"  # grading_execute.STARVED: the machine, not the code, ran out of time
STOPPED = "GradingStopped"  # the grader's run of the hidden tests stopped before this cell's


def verdict(grade_id: str, reference: Mapping[str, Any], found: list[Any]) -> str | None:
    """Why the cell ``grade_id`` earns nothing, or None when its record is right."""
    if not found:
        return "its hidden tests did not finish (no record was produced)"
    if len(found) > 1:
        return f"it produced {len(found)} records where the hidden tests emit one"
    try:
        got = json.loads(json.dumps(found[0]))  # plain dicts and lists, whatever nbformat made
    except (RecursionError, TypeError, ValueError) as err:  # a malformed record earns nothing
        return f"its record could not be read ({type(err).__name__})"
    reference = json.loads(json.dumps(reference))
    if not isinstance(got, dict) or got.get("cell") != grade_id or got.get("format") != records.FORMAT:
        return "its record is not this cell's"
    try:
        diff = compare(reference.get("cases"), got.get("cases"), "cases")
    except (RecursionError, TypeError, ValueError, KeyError) as err:  # a malformed record earns nothing
        return f"its record could not be judged ({type(err).__name__})"
    return None if diff is None else f"a result differs from the reference solution's: {diff}"


def judged(grade_id: str, reference: Mapping[str, Any], outcome: Any) -> str | None:
    """Why ``grade_id`` earns nothing, from the grader's own run of its probe
    (a ``replay.Outcome``), or None when its record is right."""
    if reference.get(grade_id) is None:
        raise LookupError(
            f"the instructor solution emits no record for graded cell {grade_id!r}: every "
            "graded cell must call a probe (see course_grader.probes)"
        )
    if outcome is None:
        return "the grader's own run of the hidden tests never reached this cell"
    if outcome.failure:
        return outcome.failure
    return verdict(grade_id, reference[grade_id], [outcome.record])


def judge_notebook(nb: NotebookNode, reference: Mapping[str, Any], trusted: Mapping[str, Any]) -> dict[str, str | None]:
    """Judge every graded code cell of an executed notebook in place; return the verdicts.

    ``trusted`` holds what the probes found when the grader ran them itself
    (``replay.replay``): records in the kernel's outputs are the student's to forge, and
    count for nothing."""
    verdicts: dict[str, str | None] = {}
    for cell in graded_tests(nb):
        grade_id = cell.metadata.nbgrader["grade_id"]
        # A probe returns nothing, so an execute_result in a graded cell can only come from
        # student code, and nbgrader reads the first one as the cell's score (stopping
        # there, before any error). Drop them.
        outputs = [o for o in cell.get("outputs", []) if o.get("output_type") != "execute_result"]
        for out in outputs:
            if out.get("output_type") == "error":  # feedback must not quote hidden code
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        why = judged(grade_id, reference, trusted.get(grade_id))
        verdicts[grade_id] = why
        if why is not None:  # an error first, so that nothing before it can count as a score
            errors = [o for o in outputs if o.get("output_type") == "error"]
            if errors:  # the kernel's own message says more than "no record"
                outputs.remove(errors[0])
                outputs.insert(0, errors[0])
            else:
                outcome = trusted.get(grade_id)
                name = STOPPED if getattr(outcome, "stopped", False) else "GradingError"
                if getattr(outcome, "busy", False):  # the class command grades it again, alone
                    name = BUSY_NAME
                outputs.insert(0, error_output(name, f"hidden tests of {grade_id}: {why}"))
        cell.outputs = outputs
    return verdicts
