"""The trusted pass: each hidden test's probe runs in the grader's process, against the
student's code running in a process of its own.

In the student's kernel the probes are the student's to rewrite: a patched ``emit`` can
write whatever record it likes, and the grader's own helpers are importable there. Here
the student's code runs in a fresh sandboxed Python (``rpc.agent_main``) where
``course_grader`` does not exist, one cell after another as the notebook orders them; at
each graded test cell, the grader parses which probe the hidden test calls and runs that
probe itself, handing it ``rpc.Proxy`` objects for the notebook's names. The records the
judge compares are the ones these probes emit, in the grader's process.

The folder the student's process works in is a copy taken before the grading kernel ran,
so nothing the kernel wrote (a copy of the probes, say) is there.
"""

from __future__ import annotations

import ast
import copy
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from course_grader.cells import grade_id, is_graded_test
from course_grader.isolation import rpc, sandbox
from course_grader.probes import records
from course_grader.probes.common import HiddenTestFailure

HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
GRACE = 5.0  # seconds past a request's budget before the grader gives up on the agent


class ReplayError(RuntimeError):
    """A hidden test the replay cannot run: the instructor notebook must change."""


@dataclass(frozen=True)
class Outcome:
    """What the grader's own run of one hidden test found: its record, or why none."""

    record: dict[str, Any] | None
    failure: str | None = None
    stopped: bool = False  # the grader's run stopped (the student's process died, hung or flooded it)


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


def _probe_cell(link: rpc.Link, grade_id: str, source: str) -> Outcome:
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


def replay(nb: NotebookNode, folder: Path, **options: Any) -> dict[str, Outcome]:
    """grade_id -> Outcome for every graded test cell of ``nb``, the student's code running
    in a copy of ``folder`` (the submission's folder as handed in). Options: ``start``'s."""
    return start(nb, folder, **options).result()


def start(
    nb: NotebookNode,
    folder: Path,
    *,
    sandboxed: bool,
    cell_timeout: float = 60.0,
    notebook_timeout: float = 600.0,
    limits: sandbox.Limits | None = None,
) -> Future[dict[str, Outcome]]:
    """Copy ``folder`` now, then replay ``nb`` in it on a thread of its own: the grading
    kernel can run at the same time (a student's slow cell is then waited for once, not
    twice), and nothing it writes reaches the copy."""
    scratch = Path(tempfile.mkdtemp(prefix="course-replay-work-"))
    work = scratch / folder.name
    sandbox.private_copy(folder, work, sandbox.Limits().copy_mb * 2**20)  # regular files only
    cells = copy.deepcopy(nb.cells)  # the kernel's run fills in outputs meanwhile
    future: Future[dict[str, Outcome]] = Future()

    def run() -> None:
        try:
            future.set_result(_replay(cells, work, sandboxed, cell_timeout, notebook_timeout, limits))
        except BaseException as err:  # noqa: BLE001 - whoever waits for the result gets it
            future.set_exception(err)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    threading.Thread(target=run, name="course-replay", daemon=True).start()
    return future


def _replay(
    cells: list[NotebookNode],
    work: Path,
    sandboxed: bool,
    cell_timeout: float,
    notebook_timeout: float,
    limits: sandbox.Limits | None,
) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    stopped: str | None = None
    started = time.monotonic()
    agent = Agent(work, sandboxed=sandboxed, limits=limits)
    link = agent.link
    link.budget = cell_timeout
    link.bounded = True
    try:
        for index, cell in enumerate(cells):
            if cell.cell_type != "code":
                continue
            test = is_graded_test(cell)
            if stopped is None and time.monotonic() - started > notebook_timeout:
                stopped = f"the notebook used up its {notebook_timeout:g} s"
            if stopped is not None:
                if test:
                    outcomes[_test_id(cell)] = Outcome(None, f"not run: {stopped}", stopped=True)
                continue
            link.start_cell()
            # The agent stops a request at its budget; this is for code that stops the stopping.
            link.deadline = time.monotonic() + (3 * cell_timeout if test else cell_timeout) + GRACE
            try:
                if test:
                    outcomes[_test_id(cell)] = _probe_cell(link, _test_id(cell), cell.source)
                else:
                    try:
                        link.ask("exec", cell.source, f"<cell {index}>")
                    except Exception:  # noqa: BLE001 - a failing cell fails as in a kernel: go on (LinkBroken is not one)
                        pass
            except rpc.LinkBroken as err:
                stopped = f"the student's code stopped answering at code cell {index} ({err})"
                if test:
                    outcomes[_test_id(cell)] = Outcome(None, stopped, stopped=True)
    finally:
        agent.close()
    return outcomes
