"""The judge: decides, outside the student's kernel, whether each graded cell's record
is right, and makes nbgrader's own gradebook carry that verdict.

Why outside: a student's code shares the kernel with the hidden tests and can rewrite,
empty or fake what later cells do. So the records that count are not the kernel's:
``ReplayProbes`` (before ``Execute``) has the grader run every hidden test's probe in its
own process against the student's code (``replay``), and a cell earns its points only
when that record is present, well formed and agrees with the record the instructor
solution produced for the same seeded inputs.

``JudgeRecords`` is an nbgrader preprocessor, listed after ``Execute`` in
``Autograde.autograde_preprocessors`` (see ``nbgrader_config.py``). It adds an error
output to every graded cell whose record is missing or wrong, so that nbgrader's own
``SaveAutoGrades`` scores it 0; it never removes an error. Judged scores are therefore
never above stock nbgrader's. It also trims hidden-test tracebacks to their message, so
feedback never quotes hidden-test code.
"""

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from traitlets import Float, Unicode

from course_grader import records

STOPPED = "GradingStopped"  # the grader's run of the hidden tests stopped before this cell's
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
    from course_grader.recompute import mlp_mse

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


def verdict(grade_id: str, reference: Mapping[str, Any] | None, found: list[Any]) -> str | None:
    """Why the cell ``grade_id`` earns nothing, or None when its record is right."""
    if reference is None:
        raise LookupError(
            f"the instructor solution emits no record for graded cell {grade_id!r}: every "
            "graded cell must call a probe (see course_grader.probes)"
        )
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


def _error(ename: str, message: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def judged(grade_id: str, reference: Mapping[str, Any], outcome: Any) -> str | None:
    """Why ``grade_id`` earns nothing, from the grader's own run of its probe
    (a ``replay.Outcome``), or None when its record is right."""
    if reference.get(grade_id) is None:
        return verdict(grade_id, None, [])  # raises: an instructor notebook to fix
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
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        grade_id = meta["grade_id"]
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
                stopped = getattr(trusted.get(grade_id), "stopped", False)
                outputs.insert(0, _error(STOPPED if stopped else "GradingError", f"hidden tests of {grade_id}: {why}"))
        cell.outputs = outputs
    return verdicts


try:  # the preprocessor needs nbgrader; the functions above do not
    from nbgrader.preprocessors import NbGraderPreprocessor
except ImportError:  # pragma: no cover - nbgrader is a dependency of the instructor side
    NbGraderPreprocessor = object  # type: ignore[assignment,misc]


_LOADED: dict[tuple[str, str], dict[str, Any]] = {}  # reference records, read before any kernel runs


class _Reference(NbGraderPreprocessor):  # type: ignore[misc,valid-type]
    """Where the instructor solution's records come from (configured in nbgrader_config.py)."""

    solutions_dir = Unicode("", help="The instructor notebooks (nbgrader's source directory), absolute.").tag(
        config=True
    )
    cache_dir = Unicode("", help="Where reference records are cached (default: <solutions>/../.reference).").tag(
        config=True
    )
    timeout = Float(600.0, help="Seconds allowed to run an instructor notebook.").tag(config=True)

    def reference(self, info: Mapping[str, str]) -> dict[str, Any]:
        """The instructor solution's records, read once per grading process.

        ``LoadReference`` reads them before the first student kernel runs, and they stay
        in memory: no submission graded in this process can change them by rewriting the
        cache on disk.
        """
        from course_grader import reference

        key = (info["assignment"], info["notebook"])
        if key not in _LOADED:
            solutions = Path(self.solutions_dir or "solutions").resolve()
            cache = Path(self.cache_dir).resolve() if self.cache_dir else solutions.parent / ".reference"
            folder = solutions / info["assignment"]
            _LOADED[key] = reference.records_for(folder, info["notebook"], cache, timeout=self.timeout)
        return _LOADED[key]


class LoadReference(_Reference):
    """nbgrader autograde preprocessor, before ``Execute``: load the reference records."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        self.reference(resources["nbgrader"])
        return nb, resources


REPLAYED = "course_replay"  # where ReplayProbes leaves its outcomes in nbgrader's resources


class ReplayProbes(NbGraderPreprocessor):  # type: ignore[misc,valid-type]
    """nbgrader autograde preprocessor, before ``Execute``: the grader runs every hidden
    test's probe itself, against the student's code in a sandboxed process of its own
    (``replay``), while the submission's folder is still as handed in.

    That process runs under the grading kernel's own settings (``GradingExecute``'s
    sandbox, timeout and notebook_timeout, ``SandboxedKernelManager``'s limits), so one
    setting - in nbgrader_config.py, or ``--Execute.timeout`` on the command line - governs
    both places a student's code runs."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from course_grader import replay
        from course_grader.execute import GradingExecute
        from course_grader.sandbox import SandboxedKernelManager

        kernel = GradingExecute(config=self.config)  # its settings only: no kernel starts
        folder = Path(resources.get("metadata", {}).get("path") or ".").resolve()
        resources[REPLAYED] = replay.start(  # runs while the kernel does; JudgeRecords waits
            nb,
            folder,
            sandboxed=kernel.sandbox,
            cell_timeout=float(kernel.timeout or kernel.notebook_timeout),  # None: no per-cell limit
            notebook_timeout=float(kernel.notebook_timeout),
            limits=SandboxedKernelManager.limits_in(self.config),
        )
        return nb, resources


class JudgeRecords(_Reference):
    """nbgrader autograde preprocessor, after ``Execute``: a cell whose probe, run by the
    grader, found no right record gets an error output, first in its cell."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        if REPLAYED not in resources:
            raise RuntimeError(
                "JudgeRecords needs ReplayProbes before Execute in Autograde.autograde_preprocessors "
                "(see the course's nbgrader_config.py)"
            )
        verdicts = judge_notebook(nb, self.reference(info), resources[REPLAYED].result())
        for grade_id, why in verdicts.items():
            if why:
                self.log.warning("%s: %s earns nothing: %s", info["notebook"], grade_id, why)
        return nb, resources
