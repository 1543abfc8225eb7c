"""Printed tables of results a student computed.

Why: a gradient check is only useful if you can read it at a glance. ``show_grad_check``
prints one line per input with the analytic and numerical gradients, their relative
error and a pass mark, with fixed-width numbers so that a run prints the same text each
time (nbval compares it).
"""

from collections.abc import Iterable, Sequence

__all__ = ["show_grad_check"]


def show_grad_check(rows: Iterable[Sequence[object]], names: Sequence[str] | None = None, title: str = "") -> None:
    """Print rows of ``(analytic, numeric, relative error, passed)``, one per input."""
    rows = list(rows)
    names = list(names) if names is not None else [f"x{i}" for i in range(len(rows))]
    if len(names) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(names)} names")
    if title:
        print(title)
    print(f"  {'input':<8}{'analytic':>14}{'numeric':>14}{'rel. error':>12}")
    for name, row in zip(names, rows, strict=True):
        if len(row) != 4:
            raise ValueError(f"a grad_check row is (analytic, numeric, relative error, passed), got {row!r}")
        analytic, numeric, err, ok = row
        mark = "✓" if ok else "✗  <- check this op's _backward"
        print(f"  {name:<8}{analytic:>14.6f}{numeric:>14.6f}{err:>12.1e}  {mark}")
