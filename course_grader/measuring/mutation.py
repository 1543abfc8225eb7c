"""Mutation score: how strong are the hidden tests?

The course standard is that nearly every single-point change to a solution (an operator,
a constant, a deleted line or method) costs points. This module makes such changes
("mutants") to each solution cell, one at a time, grades each mutated submission exactly
as autograding would (``submissions.score``) and reports the mutants that still get full
marks: each survivor shows where the hidden tests are blind.

    python -m course_grader.measuring.mutation m1_value [--root PATH] [--jobs N] [--limit N]
                                              [--cell GRADE_ID] [--operator OP]
                                              [--seed S] [--timeout SEC] [--list]

Mutants are made from the cell's ``ast``, but written back as a precise text edit of the
original source (the rest of the cell, comments included, stays as the author wrote it);
every edit is checked to parse to exactly the intended tree, and falls back to
``ast.unparse`` of the whole cell if it does not.
"""

import argparse
import ast
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_grader.cells import total_points
from course_grader.layout import ROOT, Course
from course_grader.measuring.submissions import CHALLENGE_PREFIX, fill, score, solution_cells

BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.Pow: ast.Mult,
}
ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod)
COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
OPERATORS = (
    "binary-operator",
    "unary-minus-added",
    "unary-minus-removed",
    "not-removed",
    "augmented-assignment",
    "comparison",
    "boolean-operator",
    "constant",
    "string",
    "name-swap",
    "return-none",
    "statement-deleted",
    "function-deleted",
)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
Function = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
Site = ast.expr | ast.stmt  # what a mutation replaces: a node with a place in the text
SNIPPET = 70  # longest before/after text in a report line
CRASHES_SHOWN = 10


class MutationError(RuntimeError):
    """The measurement cannot be made (e.g. the unmutated solution loses points)."""


@dataclass(frozen=True)
class Mutant:
    """One single-point change to one solution cell."""

    cell: str
    operator: str
    line: int
    col: int  # 1-based, tells apart two sites on one line
    before: str
    after: str
    source: str  # the whole mutated cell

    def describe(self) -> str:
        return f"{self.cell} line {self.line}:{self.col} [{self.operator}] {self.before} → {self.after}"


# --------------------------------------------------------------------------- generation


def _canonical(tree: ast.AST) -> str:
    """A tree's identity up to formatting, so text edits can be checked and mutants deduped."""
    return ast.dump(ast.parse(ast.unparse(tree)))


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _docstrings(tree: ast.AST) -> set[ast.Expr]:
    """The ``Expr`` statements that are docstrings: changing or deleting them changes nothing."""
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
            first = body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                out.add(first)
    return out


def _enclosing_functions(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[Function]:
    """The functions a node sits in, innermost first, up to the first class or module."""
    out = []
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.ClassDef):
            break
        if isinstance(node, FUNCTIONS):
            out.append(node)
    return out


def _params(functions: Sequence[Function]) -> list[str]:
    names: list[str] = []
    for fn in functions:
        a = fn.args
        for arg in [*a.posonlyargs, *a.args, a.vararg, *a.kwonlyargs, a.kwarg]:
            if arg is not None and arg.arg not in names:
                names.append(arg.arg)
    return names


def _numbers(value: int | float) -> list[int | float]:
    """What a numeric constant ``c`` becomes: c + 1, 0, -c and, for floats, c * 10."""
    out = [value + 1]
    if value != 0:
        out += [0, -value]
        if isinstance(value, float):
            out.append(value * 10)
    return out


def _edits(tree: ast.Module) -> Iterator[tuple[str, Site, ast.AST]]:
    """(operator, node, replacement) for every mutation site; the replacement stands in
    the node's place (a ``Pass`` for a deleted statement or function)."""
    parents = _parents(tree)
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        parent = parents.get(node)
        functions = _enclosing_functions(node, parents)
        if isinstance(node, ast.BinOp):
            if type(node.op) in BINOP_SWAPS:
                yield "binary-operator", node, ast.BinOp(node.left, BINOP_SWAPS[type(node.op)](), node.right)
            if isinstance(node.op, ARITHMETIC):
                for operand in (node.left, node.right):
                    negated = isinstance(operand, ast.UnaryOp) and isinstance(operand.op, ast.USub)
                    if not isinstance(operand, ast.Constant) and not negated:
                        yield "unary-minus-added", operand, ast.UnaryOp(ast.USub(), operand)
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                yield "unary-minus-removed", node, node.operand
            elif isinstance(node.op, ast.Not):
                yield "not-removed", node, node.operand
        elif isinstance(node, ast.AugAssign):
            yield "augmented-assignment", node, ast.Assign([node.target], node.value, type_comment=None)
            if type(node.op) in BINOP_SWAPS and not isinstance(node.op, ast.Pow):
                yield "augmented-assignment", node, ast.AugAssign(node.target, BINOP_SWAPS[type(node.op)](), node.value)
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in COMPARE_SWAPS:
                    ops = [*node.ops[:i], COMPARE_SWAPS[type(op)](), *node.ops[i + 1 :]]
                    yield "comparison", node, ast.Compare(node.left, ops, node.comparators)
        elif isinstance(node, ast.BoolOp):
            swapped = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            yield "boolean-operator", node, ast.BoolOp(swapped, node.values)
        elif isinstance(node, ast.Constant) and not isinstance(parent, ast.JoinedStr | ast.FormattedValue):
            value = node.value
            if isinstance(value, bool):
                yield "constant", node, ast.Constant(not value)
            elif isinstance(value, int | float):
                site: ast.expr = node
                c = value
                if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
                    site, c = parent, -value  # `-1` is one constant to the reader
                for new in _numbers(c):
                    yield "constant", site, ast.Constant(new)
            elif isinstance(value, str) and value and parent not in docstrings:
                yield "string", node, ast.Constant("")
        elif isinstance(node, ast.JoinedStr) and node.values:
            yield "string", node, ast.Constant("")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            params = _params(functions)
            if node.id in params:
                for other in params:
                    if other != node.id:
                        yield "name-swap", node, ast.Name(other, ast.Load())
        if isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                yield "return-none", node, ast.Return(ast.Constant(None))
        if isinstance(node, ast.stmt) and not isinstance(node, ast.Pass) and node not in docstrings:
            if functions and not isinstance(functions[0], ast.Lambda):
                yield "statement-deleted", node, ast.Pass()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
            node.decorator_list or isinstance(parent, ast.ClassDef)
        ):
            yield "function-deleted", node, ast.Pass()


@contextmanager
def _swapped(parents: dict[ast.AST, ast.AST], node: ast.AST, new: ast.AST) -> Iterator[None]:
    """Put ``new`` where ``node`` is in the tree, for the duration of the block."""
    parent = parents[node]
    for name, value in ast.iter_fields(parent):
        if value is node:
            setattr(parent, name, new)
            try:
                yield
            finally:
                setattr(parent, name, node)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is node:
                    value[i] = new
                    try:
                        yield
                    finally:
                        value[i] = node
                    return
    raise LookupError(f"{ast.dump(node)} not found in its parent")


def _span(node: Site) -> tuple[int, int, int, int]:
    """(line, col, end_line, end_col) of a node's text, decorators included."""
    assert node.end_lineno is not None and node.end_col_offset is not None  # ast.parse sets them
    line = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return line, node.col_offset, node.end_lineno, node.end_col_offset


def _splice(source: str, span: tuple[int, int, int, int], text: str) -> str:
    """Replace a span given in ast coordinates (1-based lines, UTF-8 byte columns)."""
    raw = source.encode()
    starts = [0]
    for raw_line in raw.splitlines(keepends=True):
        starts.append(starts[-1] + len(raw_line))
    line, col, end_line, end_col = span
    begin, end = starts[line - 1] + col, starts[end_line - 1] + end_col
    return (raw[:begin] + text.encode() + raw[end:]).decode()


def _render(source: str, tree: ast.Module, node: Site, new: ast.AST, expected: str) -> str:
    """The mutated cell: a text edit of the node's span if it parses to the intended tree."""
    text = ast.unparse(new)
    # an expression may need parentheses to keep precedence; a replaced `elif` keeps an `else:`
    for candidate in (text, f"({text})") if isinstance(new, ast.expr) else (text, f"else: {text}"):
        edited = _splice(source, _span(node), candidate)
        try:
            if _canonical(ast.parse(edited)) == expected:
                return edited
        except SyntaxError:
            pass
    return ast.unparse(tree)


def _before(source: str, node: ast.AST) -> str:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return f"def {node.name}"
    return _snippet(ast.get_source_segment(source, node) or ast.unparse(node))


def mutants(cell: str, source: str) -> list[Mutant]:
    """Every distinct single-point mutant of one solution cell, in source order.

    Mutants that unparse to the original, or to a mutant already made, are dropped.
    A cell that is not plain Python (e.g. IPython magics) has none.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    parents = _parents(tree)
    seen = {_canonical(tree)}
    found: list[tuple[tuple[int, int], Mutant]] = []
    for operator, node, new in list(_edits(tree)):
        if not hasattr(new, "lineno"):  # unparse wants locations; reused nodes keep theirs
            ast.copy_location(new, node)
        with _swapped(parents, node, new):
            expected = _canonical(tree)
            if expected in seen:
                continue
            seen.add(expected)
            mutated = _render(source, tree, node, new, expected)
        after = _snippet(ast.unparse(new))
        mutant = Mutant(cell, operator, node.lineno, node.col_offset + 1, _before(source, node), after, mutated)
        found.append(((node.lineno, node.col_offset), mutant))
    found.sort(key=lambda item: item[0])  # stable: same site keeps generation order
    return [m for _, m in found]


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Result:
    """One graded mutant. ``points`` is None if grading itself crashed (counted killed)."""

    mutant: Mutant
    points: float | None
    error: str = ""

    def killed(self, full: float) -> bool:
        return self.points is None or self.points < full


@dataclass
class Report:
    milestone: str
    full: float
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # cells that are not plain Python

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def killed(self) -> int:
        return sum(r.killed(self.full) for r in self.results)

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0

    def survivors(self) -> list[Result]:
        return [r for r in self.results if not r.killed(self.full)]

    def render(self) -> str:
        cells: dict[str, list[Result]] = {}
        for r in self.results:
            cells.setdefault(r.mutant.cell, []).append(r)
        width = max([len(c) for c in cells] + [4])
        lines = [f"{self.milestone}: {self.total} mutants, full marks {self.full:g}, {self.seconds:.0f} s"]
        lines += [f"  {'cell':<{width}}  killed/total"]
        for cell, rs in cells.items():
            lines.append(f"  {cell:<{width}}  {sum(r.killed(self.full) for r in rs):>3}/{len(rs)}")
        lines += [f"  {cell}: not plain Python, no mutants" for cell in self.skipped]
        survivors = self.survivors()
        lines.append(f"survivors ({len(survivors)}):" if survivors else "survivors: none")
        lines += [f"  {r.mutant.describe()}" for r in survivors]
        crashed = [r for r in self.results if r.points is None]
        if crashed:
            lines.append(f"grading crashed ({len(crashed)}, counted as killed; check the harness if many):")
            lines += [f"  {r.mutant.describe()}: {r.error}" for r in crashed[:CRASHES_SHOWN]]
            if len(crashed) > CRASHES_SHOWN:
                lines.append(f"  … and {len(crashed) - CRASHES_SHOWN} more")
        lines.append(f"mutation score: {self.killed}/{self.total} killed ({self.percent:.1f}%)")
        return "\n".join(lines)


def full_marks(notebook: Path) -> float:
    """The points a perfect submission gets: the sum over the graded cells."""
    return total_points(nbformat.read(notebook, as_version=4))


def _quiet_worker() -> None:
    """Pool initializer: every kernel prints a TCP warning to stderr; hundreds drown the report.
    Grading errors are returned, not printed, so nothing of ours is lost."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _grade(
    milestone: str, root: Path, answers: dict[str, str], timeout: float, attempts: int = 2
) -> tuple[float | None, str]:
    """Total points of one submission; (None, why) if grading itself failed.

    A submission that crashes or hangs its kernel still gets points from ``score`` (what
    ran before); an exception here is the harness failing (a kernel that would not start,
    the release folder rewritten mid-run), so it is tried once more before giving up."""
    release = Course.at(root).release_notebook(milestone)
    error = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(2.0)
        try:
            return sum(score(fill(release, answers), milestone, root, timeout=timeout).values()), ""
        except Exception as err:  # noqa: BLE001 - reported with the mutant, never lost
            error = f"{type(err).__name__}: {err}"
    return None, error


def _grade_job(job: tuple[str, Path, dict[str, str], float]) -> tuple[float | None, str]:
    return _grade(*job)


def mutants_of(
    milestone: str, root: Path = ROOT, cells: Sequence[str] = (), operators: Sequence[str] = ()
) -> tuple[dict[str, str], list[Mutant], list[str]]:
    """(answers, mutants, skipped cells) of a milestone's solution cells, optionally only
    those ``cells`` and ``operators``."""
    answers = solution_cells(Course.at(root).source_notebook(milestone))
    unknown = set(cells) - set(answers)
    if unknown:
        raise MutationError(f"no solution cells {sorted(unknown)} in {milestone}; it has {sorted(answers)}")
    unknown = set(operators) - set(OPERATORS)
    if unknown:
        raise MutationError(f"no operators {sorted(unknown)}; there are {list(OPERATORS)}")
    found: list[Mutant] = []
    skipped = []
    for cell, source in answers.items():
        if cells and cell not in cells:
            continue
        if cell.startswith(CHALLENGE_PREFIX) and cell not in cells:
            continue  # an optional challenge carries no points: no hidden test can kill its mutants
        try:
            ast.parse(source)
        except SyntaxError:
            skipped.append(cell)
            continue
        found += [m for m in mutants(cell, source) if not operators or m.operator in operators]
    return answers, found, skipped


def sample(found: list[Mutant], limit: int | None, seed: int = 0) -> list[Mutant]:
    """``limit`` of the mutants, chosen by ``seed``, in their original order."""
    if limit is None or limit >= len(found):
        return found
    return [found[i] for i in sorted(random.Random(seed).sample(range(len(found)), max(limit, 0)))]


def run(
    milestone: str,
    root: Path = ROOT,
    jobs: int | None = None,
    limit: int | None = None,
    cells: Sequence[str] = (),
    seed: int = 0,
    operators: Sequence[str] = (),
    timeout: float = 60.0,
    progress: bool = False,
) -> Report:
    """Grade every mutant of a milestone (or a seeded sample of ``limit`` of them)."""
    start = time.monotonic()
    root = Path(root).resolve()
    answers, found, skipped = mutants_of(milestone, root, cells, operators)
    found = sample(found, limit, seed)
    full = full_marks(Course.at(root).source_notebook(milestone))
    # Also fills the reference cache in <root>/.reference before workers could race for it.
    got, error = _grade(milestone, root, answers, timeout)
    if got is None or got < full:
        raise MutationError(
            f"the unmutated {milestone} solution scores {got if got is not None else 'nothing'}/{full:g}"
            f"{': ' + error if error else ''}; fix it before measuring the hidden tests"
        )
    jobs_list = [(milestone, root, {**answers, m.cell: m.source}, timeout) for m in found]
    results: list[Result] = []
    if jobs_list:
        workers = max(1, min(jobs or os.cpu_count() or 1, len(jobs_list)))
        context = multiprocessing.get_context("spawn")  # no forked copies of zmq state
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_quiet_worker) as pool:
            for i, (m, (points, err)) in enumerate(zip(found, pool.map(_grade_job, jobs_list), strict=True)):
                results.append(Result(m, points, err))
                if progress:
                    print(f"\r{milestone}: {i + 1}/{len(found)} mutants graded", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
    return Report(milestone, full, results, time.monotonic() - start, skipped)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_grader.measuring.mutation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("milestone")
    parser.add_argument("--root", type=Path, default=ROOT, help="course repository (default: this one)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel kernels (default: CPU count)")
    parser.add_argument("--limit", type=int, default=None, help="grade only a seeded sample of N mutants")
    parser.add_argument("--cell", action="append", default=[], help="only this solution cell (repeatable)")
    parser.add_argument("--operator", action="append", default=[], choices=OPERATORS, help="only this operator")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --limit sample")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per notebook cell")
    parser.add_argument("--list", action="store_true", help="print the mutants without grading them")
    args = parser.parse_args(argv)
    try:
        if args.list:
            _, found, _ = mutants_of(args.milestone, args.root.resolve(), args.cell, args.operator)
            found = sample(found, args.limit, args.seed)
            for m in found:
                print(m.describe())
            print(f"{len(found)} mutants")
            return 0
        report = run(
            args.milestone,
            args.root,
            args.jobs,
            args.limit,
            args.cell,
            args.seed,
            args.operator,
            args.timeout,
            sys.stderr.isatty(),
        )
    except MutationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(report.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
