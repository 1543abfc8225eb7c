"""The probes' own run of a notebook, in a process of its own: how the reference records
are made, and the parts every run of the probes shares.

The instructor notebook's records (``judging/reference.py``) come from here: the notebook's
code runs in a fresh Python (``rpc.agent_main``) one cell after another, and at each graded
test cell the grader parses which probe the hidden test calls (``probe_calls``) and runs that
probe itself, handing it ``rpc.Proxy`` objects for the notebook's names (``probe_cell``). A
submission's probes run the same way against the grading kernel itself (``live.py``): one
run of the student's code, not two.

The folder the process works in is a copy, so nothing it writes reaches the original.
"""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from course_grader.cells import grade_id, is_graded_test
from course_grader.isolation import cgroups, rpc, sandbox
from course_grader.probes import records
from course_grader.probes.common import HiddenTestFailure

HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
GRACE = 5.0  # seconds past a request's ceiling before the grader gives up on the agent
WALL_FACTOR = 3.0  # a wall-clock ceiling this many times a CPU-time limit (GradingExecute.wall_factor)


class ReplayError(RuntimeError):
    """A hidden test the replay cannot run: the instructor notebook must change."""


@dataclass(frozen=True)
class Outcome:
    """What the grader's own run of one hidden test found: its record, or why none."""

    record: dict[str, Any] | None
    failure: str | None = None
    stopped: bool = False  # the grader's run stopped (the student's process died, hung or flooded it)
    busy: bool = False  # it failed past its time while the machine kept its process waiting for a CPU


@dataclass(frozen=True)
class ProbeCall:
    module: str  # course_grader.probes.<module>
    function: str
    args: list[tuple[str, Any]]  # ("name", notebook name) or ("value", literal)
    kwargs: dict[str, tuple[str, Any]]


def hidden_part(source: str) -> str:
    if HIDDEN[0] not in source:
        return source
    return source.split(HIDDEN[0], 1)[1].split(HIDDEN[1], 1)[0]


def visible_part(source: str) -> str:
    """A graded test cell's source as the student sees it run: what comes before its hidden
    tests (nothing, when the whole cell is hidden tests, as ``hidden_part`` reads it)."""
    return source.split(HIDDEN[0], 1)[0] if HIDDEN[0] in source else ""


def _argument(node: ast.expr) -> tuple[str, Any]:
    if isinstance(node, ast.Name):
        return ("name", node.id)
    try:
        return ("value", ast.literal_eval(node))
    except ValueError as err:
        raise ReplayError(f"a probe's arguments are notebook names or literals, not {ast.unparse(node)}") from err


def probe_calls(source: str) -> list[ProbeCall]:
    """The probe calls of a graded test cell's hidden tests.

    Hidden tests are written as ``from course_grader.probes import m1`` then
    ``m1.probe_init(Value)``; anything else there cannot be replayed, and says so."""
    try:
        tree = ast.parse(hidden_part(source))
    except SyntaxError as err:
        raise ReplayError(f"hidden tests do not parse: {err}") from err
    modules: dict[str, str] = {}
    calls = []
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "course_grader.probes":
            modules.update({alias.asname or alias.name: alias.name for alias in stmt.names})
            continue
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id in modules
            and call.func.attr.startswith("probe_")
            and all(k.arg for k in call.keywords)
        ):
            calls.append(
                ProbeCall(
                    modules[call.func.value.id],
                    call.func.attr,
                    [_argument(a) for a in call.args],
                    {str(k.arg): _argument(k.value) for k in call.keywords},
                )
            )
            continue
        raise ReplayError(
            f"line {stmt.lineno} of a hidden test: hidden tests import course_grader.probes and call its "
            "probe_* functions with notebook names or literals, nothing else (the grader replays them)"
        )
    if not calls:
        raise ReplayError("a graded test cell whose hidden tests call no probe")
    return calls


class Agent:
    """The student's code in a process of its own (in a `sandbox.Sandbox` unless told otherwise)."""

    def __init__(self, folder: Path, *, sandboxed: bool, limits: sandbox.Limits | None = None) -> None:
        agent = Path(rpc.__file__).read_text() + "\nagent_main()\n"
        argv = [sys.executable, "-c", agent]
        variables = {"MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
        env = dict(os.environ, **variables)
        self.box: sandbox.Sandbox | None = None
        if sandboxed:
            limits = limits or sandbox.Limits()
            sandbox.check(limits)
            self.box = sandbox.Sandbox(folder, limits, env=variables)
            argv = self.box.command(argv)
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=folder, env=env
            )
        except BaseException:
            if self.box is not None:
                self.box.close()
            raise
        assert self.process.stdin is not None and self.process.stdout is not None
        self.link = rpc.Link(self.process.stdout.fileno(), self.process.stdin.fileno(), trusting=False)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        if self.box is not None:
            self.box.close()


def _run_probe(link: rpc.Link, call: ProbeCall) -> list[Any]:
    def resolve(arg: tuple[str, Any]) -> Any:
        kind, value = arg
        return link.ask("global", value) if kind == "name" else value

    function = getattr(importlib.import_module(f"course_grader.probes.{call.module}"), call.function)
    try:
        with records.collecting() as found:
            function(*[resolve(a) for a in call.args], **{k: resolve(v) for k, v in call.kwargs.items()})
    finally:
        link.revoke()  # nothing the probe lent stays callable by the student's code
    return found


def probe_cell(link: rpc.Link, grade_id: str, source: str) -> Outcome:
    try:
        found: list[Any] = []
        for call in probe_calls(source):
            found += _run_probe(link, call)
    except HiddenTestFailure as failure:
        return Outcome(None, str(failure))
    except rpc.LinkBroken:
        raise
    except NameError as err:  # a name the notebook never defined
        return Outcome(None, f"NameError: {err}")
    except Exception as err:  # noqa: BLE001 - what the student's code raised, through a probe
        return Outcome(None, f"the hidden tests stopped: {type(err).__name__}: {err}")
    if len(found) != 1 or found[0].get("cell") != grade_id:
        return Outcome(None, f"the hidden tests emitted {len(found)} records for this cell, not one of its own")
    return Outcome(found[0])


def _test_id(cell: NotebookNode) -> str:
    """A graded test cell's grade_id: nbgrader (CheckCellMetadata, generate_assignment) refuses
    a grade cell without one before the probes are replayed."""
    name = grade_id(cell)
    assert name is not None
    return name


def replay(
    nb: NotebookNode,
    folder: Path,
    *,
    sandboxed: bool,
    cell_timeout: float = 60.0,
    notebook_timeout: float = 600.0,
    limits: sandbox.Limits | None = None,
    wall_factor: float = WALL_FACTOR,
) -> dict[str, Outcome]:
    """grade_id -> Outcome for every graded test cell of ``nb``, its code running in a copy
    of ``folder``: nothing it writes reaches the original."""
    scratch = Path(tempfile.mkdtemp(prefix="course-replay-work-"))
    try:
        work = scratch / folder.name
        sandbox.private_copy(folder, work, sandbox.Limits().copy_mb * 2**20)  # regular files only
        return _replay(nb.cells, work, sandboxed, cell_timeout, notebook_timeout, limits, wall_factor)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _replay(
    cells: list[NotebookNode],
    work: Path,
    sandboxed: bool,
    cell_timeout: float,
    notebook_timeout: float,
    limits: sandbox.Limits | None,
    wall_factor: float = WALL_FACTOR,
) -> dict[str, Outcome]:
    """Limits are CPU time where the sandbox's control group counts it (a request: the
    agent's own timers; the notebook: the group's total), with wall-clock ceilings
    ``wall_factor`` times larger, as in the grading kernel (``GradingExecute``)."""
    outcomes: dict[str, Outcome] = {}
    stopped: str | None = None
    busy = False
    began = time.monotonic()
    agent = Agent(work, sandboxed=sandboxed, limits=limits)
    cgroup = agent.box.cgroup if agent.box is not None else None
    first = cgroup.sample() if cgroup is not None else None
    factor = wall_factor if first is not None and first.cpu is not None else 1.0
    link = agent.link
    link.budget = cell_timeout
    link.ceiling = cell_timeout * factor
    link.bounded = True
    try:
        for index, cell in enumerate(cells):
            if cell.cell_type != "code":
                continue
            test = is_graded_test(cell)
            if stopped is None:
                stopped, busy = _notebook_spent(began, first, cgroup, notebook_timeout, factor)
            if stopped is not None:
                if test:
                    outcomes[_test_id(cell)] = Outcome(None, f"not run: {stopped}", stopped=True, busy=busy)
                continue
            link.start_cell()
            start = cgroup.sample() if cgroup is not None else None
            # The agent stops a request at its budget; this is for code that stops the stopping.
            link.deadline = time.monotonic() + (3 * cell_timeout if test else cell_timeout) * factor + GRACE
            try:
                if test:
                    outcomes[_test_id(cell)] = probe_cell(link, _test_id(cell), cell.source)
                else:
                    try:
                        link.ask("exec", cell.source, f"<cell {index}>")
                    except Exception:  # noqa: BLE001 - a failing cell fails as in a kernel: go on (LinkBroken is not one)
                        pass
            except rpc.LinkBroken as err:
                stopped = f"the student's code stopped answering at code cell {index} ({err})"
                if test:
                    outcomes[_test_id(cell)] = Outcome(None, stopped, stopped=True)
            if test and start is not None and cgroup is not None:
                blame_a_busy_machine(outcomes, _test_id(cell), start, cgroup.sample(), cell_timeout)
    finally:
        agent.close()
    return outcomes


def _notebook_spent(
    began: float, first: cgroups.Sample | None, cgroup: cgroups.Cgroup | None, notebook_timeout: float, factor: float
) -> tuple[str | None, bool]:
    """Why the notebook's budget is used up before the next cell (or None), and whether the
    machine is to blame: the wall-clock ceiling reached while the student's process mostly
    waited for a CPU (as ``GradingExecute._notebook_budget`` decides for the kernel)."""
    now = cgroup.sample() if cgroup is not None else None
    out = cgroups.overrun(notebook_timeout, notebook_timeout * factor, began, first, now)
    if out is None:
        return None, False
    if out.starved and out.spent is not None:
        return f"{out.why} (the machine was busy: the grader's run had {out.spent.describe()})", True
    return out.why, False


def blame_a_busy_machine(
    outcomes: dict[str, Outcome], test: str, start: cgroups.Sample, end: cgroups.Sample, cell_timeout: float
) -> None:
    """A hidden test that failed after running longer than its CPU limit, while the
    student's process spent most of the time it was not running waiting for a CPU, failed
    because the machine was busy: marked so (the class command grades it again, alone)."""
    outcome = outcomes.get(test)
    spent = cgroups.Interval.between(start, end)
    if outcome is None or outcome.record is not None or spent is None:
        return
    if "used up its CPU time" in (outcome.failure or ""):  # its own doing (rpc._too_long's words)
        return
    if spent.wall > cell_timeout and spent.starved:
        why = f"{outcome.failure} (the machine was busy: the grader's run had {spent.describe()})"
        outcomes[test] = Outcome(None, why, stopped=outcome.stopped, busy=True)
