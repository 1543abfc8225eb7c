"""What the instructor sees while and after a class is graded: a progress line, then a
summary per graded cell and the submissions that need a person's attention. Everything
quoted from a submission is made printable first (no terminal control characters).
"""

from __future__ import annotations

import re
import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # workers import this module
    from course_grader.classgrade.workers import Graded


class Progress:
    """A progress bar on a terminal; a line every tenth of the way in a log."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        # the stderr of the moment, not of import time (a test harness swaps it)
        stream = stream if stream is not None else sys.stderr
        self.total, self.done, self.attention, self.stream = total, 0, 0, stream
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self._last_tenth = -1

    def step(self, outcome: Graded) -> None:
        self.done += 1
        self.attention += bool(outcome.problems)
        elapsed = int(time.monotonic() - self.started)
        width = 30
        filled = width * self.done // max(self.total, 1)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} graded, "
            f"{self.attention} need attention, {elapsed // 60}:{elapsed % 60:02d}"
        )
        if self.tty:
            self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
        elif (tenth := 10 * self.done // max(self.total, 1)) != self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(line + "\n")
        self.stream.flush()


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """A line for the instructor's terminal: names and messages come from submissions (file
    names, cell ids, exception text), and a control character in them could move the
    cursor, rewrite earlier lines, retitle the window or write the clipboard."""
    # a name read from the file system may hold bytes that are not UTF-8 (lone surrogates):
    # printed as escapes, since writing them would raise and stop the summary
    safe = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return CONTROL.sub(lambda m: repr(m.group())[1:-1], safe).replace("\n", " ")


def print_summary(
    assignment: str,
    rows: list[tuple[str, int, int]],
    scores: dict[str, float],
    max_score: float,
    attention: dict[str, list[str]],
    graded_now: int,
    seconds: float,
    out=None,
    regraded: int = 0,
) -> None:
    w = (out or sys.stdout).write
    again = f" ({regraded} of them graded again alone: they timed out while the machine was busy)" if regraded else ""
    w(f"\n{assignment}: graded {graded_now} submission(s) now in {seconds:.0f} s{again}")
    w(f"; {len(scores)} in the gradebook")
    if scores:
        mean = sum(scores.values()) / len(scores)
        full = sum(1 for v in scores.values() if v >= max_score)
        w(f", mean {mean:.1f}/{max_score:g}, {full} with full marks")
    w("\n\nwhere the class struggles (students who passed each grade cell):\n")
    width = max((len(r[0]) for r in rows), default=10)
    for name, passed, graded in sorted(rows, key=lambda r: (r[1] / max(r[2], 1), rows.index(r))):
        share = passed / graded if graded else 0.0
        bar = "#" * round(20 * share)
        w(f"  {name:<{width}}  {passed:>4}/{graded:<4} {bar:<20} {100 * share:5.1f} %\n")
    if attention:
        w(f"\nneeds attention ({len(attention)}):\n")
        for student in sorted(attention):
            for i, problem in enumerate(attention[student]):
                w(f"  {printable(student) if i == 0 else '':<24} {printable(problem)}\n")
    else:
        w("\nno submission needs attention\n")
