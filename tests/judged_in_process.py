"""Any milestone's submission judged in this process, without nbgrader or a sandbox: the
instructor notebook's code cells run in order with a variant's answers swapped in, and at
each graded test cell the probes its hidden tests call (read from the notebook by
``isolation.replay.probe_calls``, as grading reads them) run on the names defined so far;
each record is judged against the grading reference (``judging.reference``) by the judge.

Why: a milestone with dozens of pitfalls and correct variants cannot grade each through
nbgrader in the suite's time (a sandboxed m4 grading is 47 s); the probes, the reference and
the judge are the same functions either way, and a few of each still go through nbgrader
(``test_roundtrip.py``).

Only the cells a probe can depend on run: every answer cell and every cell the release
ships as library code (``export``), and the cells that define a name a probe takes or an
included cell reads (training, data), found from the cells' syntax. Checks and pictures are
left out: they print and draw, and nothing a probe questions comes from them.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import io
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from course_grader.authoring.engine_export import EXPORT_TAG
from course_grader.cells import grade_id, is_graded_test, is_solution, without_markers
from course_grader.isolation.replay import ProbeCall, probe_calls
from course_grader.judging import reference
from course_grader.judging.verdict import verdict
from course_grader.layout import ROOT, Course
from course_grader.probes import records
from course_grader.probes.common import HiddenTestFailure

COURSE = Course.at(ROOT)


def _bound(tree: ast.AST) -> set[str]:
    """The names a cell binds at its top level (defs, classes, imports, assignments, loop
    and ``with`` targets), not the local names inside its functions."""
    names: set[str] = set()
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue  # its body binds its own locals
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return names


def _read(tree: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


@dataclass(frozen=True)
class Cell:
    index: int
    source: str
    answer: str | None  # the grade_id of an answer cell
    test: str | None  # the grade_id of a graded test cell
    calls: tuple[ProbeCall, ...]  # its hidden tests' probes
    library: bool  # an answer, or code the release ships (``export``)
    binds: frozenset[str]
    reads: frozenset[str]


class Notebook:
    """A milestone's instructor notebook, ready to judge variants of its answers."""

    def __init__(self, milestone: str) -> None:
        self.milestone = milestone
        self.folder = COURSE.source(milestone)
        nb = nbformat.read(COURSE.source_notebook(milestone), as_version=4)
        cells = []
        for index, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            test = grade_id(cell) if is_graded_test(cell) else None
            answer = grade_id(cell) if is_solution(cell) else None
            source = without_markers(cell.source) if answer else cell.source
            try:
                tree = ast.parse(source)
            except SyntaxError:
                tree = ast.parse("")
            cells.append(
                Cell(
                    index,
                    source,
                    answer,
                    test,
                    tuple(probe_calls(cell.source)) if test else (),
                    answer is not None or EXPORT_TAG in cell.metadata.get("tags", []),
                    frozenset(_bound(tree)),
                    frozenset(_read(tree)),
                )
            )
        self.cells = cells
        self.tests = [c.test for c in cells if c.test]
        self.answers = {c.answer: c.source for c in cells if c.answer}
        self.run_cells = self._needed()

    def _needed(self) -> set[int]:
        """The cells to run: the library, and for every name a probe takes or a cell to run
        reads, the last cell before it that binds that name (to a fixed point)."""
        keep = {c.index for c in self.cells if c.library and not c.test}
        todo = [(name, c.index) for c in self.cells for call in c.calls
                for kind, name in (*call.args, *call.kwargs.values()) if kind == "name"]  # fmt: skip
        todo += [(name, c.index) for c in self.cells if c.index in keep for name in c.reads]
        seen: set[tuple[str, int]] = set()
        while todo:
            name, before = todo.pop()
            if (name, before) in seen:
                continue
            seen.add((name, before))
            definer = next((c for c in reversed(self.cells[:before]) if not c.test and name in c.binds), None)
            if definer is not None and definer.index not in keep:
                keep.add(definer.index)
                todo += [(read, definer.index) for read in definer.reads]
        return keep

    @contextlib.contextmanager
    def _workdir(self) -> Iterator[Path]:
        """A scratch copy of the milestone's shipped files (engine.py, …), as the folder the
        code runs in and imports from; modules of those names imported earlier are forgotten."""
        shipped = [p for p in self.folder.iterdir() if p.is_file() and p.suffix != ".ipynb"]
        with tempfile.TemporaryDirectory(prefix=f"judged-{self.milestone}-") as tmp:
            for path in shipped:
                shutil.copy2(path, tmp)
            modules = {p.stem for p in shipped if p.suffix == ".py"}
            for name in modules:
                sys.modules.pop(name, None)
            old_cwd, old_path = os.getcwd(), list(sys.path)
            os.chdir(tmp)
            sys.path.insert(0, tmp)
            try:
                yield Path(tmp)
            finally:
                os.chdir(old_cwd)
                sys.path[:] = old_path
                for name in modules:
                    sys.modules.pop(name, None)

    def run(
        self, answers: Mapping[str, str] | None = None, tests: set[str] | None = None
    ) -> dict[str, dict[str, Any] | str]:
        """test grade_id -> the record its probes emit, or the message they fail with, for
        the notebook with ``answers`` (grade_id -> source) in place of the instructor's;
        only up to the last of ``tests`` where they are given (a pitfall's cells are judged
        without the training after them)."""
        return self._run(answers, self.run_cells, until=tests)[0]

    def first_visible_failure(self, answers: Mapping[str, str] | None = None) -> str | None:
        """What the first of the notebook's own cells to fail shows, with ``answers`` in
        place (every cell runs, checks and pictures too, as a student's Validate runs them,
        up to that one): a check's message, or a bare error where a check let the student
        down; None when every cell runs clean."""
        everything = {c.index for c in self.cells if not c.test}
        failures = self._run(answers, everything, stop_at_failure=True)[1]
        return failures[0] if failures else None

    def _run(
        self,
        answers: Mapping[str, str] | None,
        cells: set[int],
        stop_at_failure: bool = False,
        until: set[str] | None = None,
    ) -> tuple[dict[str, dict[str, Any] | str], list[str]]:
        answers = {**self.answers, **(answers or {})}
        ns: dict[str, Any] = {"__name__": "__main__"}
        outcomes: dict[str, dict[str, Any] | str] = {}
        failures: list[str] = []
        with self._workdir(), _drawing_off(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for cell in self.cells:
                if until is not None and until <= set(outcomes):
                    break
                if cell.test:
                    outcomes[cell.test] = _probe(cell.test, cell.calls, ns)
                elif cell.index in cells:
                    source = answers[cell.answer] if cell.answer else cell.source
                    try:
                        exec(compile(source, f"<{self.milestone} cell {cell.index}>", "exec"), ns)
                    except Exception as err:  # noqa: BLE001 - a failing cell fails as in a kernel: go on
                        if not cell.answer:
                            failures.append(_as_shown(err, source))
                            if stop_at_failure:
                                break
        return outcomes, failures

    @functools.cached_property
    def reference(self) -> dict[str, Any]:
        """The records grading judges against (computed by the grader's replay, cached)."""
        return reference.records_for(self.folder, self.milestone, COURSE.reference_cache)

    def judge(self, outcomes: Mapping[str, dict[str, Any] | str]) -> dict[str, str | None]:
        """test grade_id -> why it loses its points (the probe's message or the judge's first
        difference), or None where it keeps them."""
        return {
            test: got if isinstance(got, str) else verdict(test, self.reference[test], [got])
            for test, got in outcomes.items()
        }


@contextlib.contextmanager
def _drawing_off() -> Iterator[None]:
    """Pictures drawn by no window (matplotlib's Agg) while the cells run, and the variable
    that says so taken back afterwards: a kernel this process starts later (nbval's) must
    draw inline as a student's does, or its figures lose their outputs."""
    before = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = before


def _as_shown(err: BaseException, source: str) -> str:
    """The first line a student sees for ``err`` in the kernel: a check's own rendering,
    the course's explanation for an error inside a check cell (``course_lib.explain``), or
    Python's error."""
    from course_lib import explain

    if hasattr(err, "_render_traceback_"):
        return str(err._render_traceback_()[0])
    if explain._CHECK_CELL.search(source):
        return explain.message(err)[0]
    return f"{type(err).__name__}: {err}"


def _probe(test: str, calls: tuple[ProbeCall, ...], ns: dict[str, Any]) -> dict[str, Any] | str:
    """As ``replay.probe_cell``, with the notebook's names taken from ``ns``."""
    try:
        with records.collecting() as found:
            for call in calls:
                function = getattr(importlib.import_module(f"course_grader.probes.{call.module}"), call.function)

                def value(arg: tuple[str, Any]) -> Any:
                    kind, v = arg
                    if kind != "name":
                        return v
                    if v not in ns:
                        raise NameError(f"name {v!r} is not defined")
                    return ns[v]

                function(*[value(a) for a in call.args], **{k: value(v) for k, v in call.kwargs.items()})
    except HiddenTestFailure as failure:
        return str(failure)
    except NameError as err:
        return f"NameError: {err}"
    except Exception as err:  # noqa: BLE001 - what the variant's code raised, through a probe
        return f"the hidden tests stopped: {type(err).__name__}: {err}"
    if len(found) != 1 or found[0].get("cell") != test:
        return f"the hidden tests emitted {len(found)} records for this cell, not one of its own"
    return found[0]


@functools.cache
def notebook(milestone: str) -> Notebook:
    return Notebook(milestone)
