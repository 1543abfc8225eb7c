"""Judging a milestone's hidden tests in this process, without nbgrader: the instructor
notebook's library cells run as one piece of code (answer cells swapped for a variant's), a
probe run on the names it defines, its record or its failure message returned.

Why: a milestone with dozens of pitfalls and correct variants cannot grade each through
nbgrader in the suite's time; the probes and the judge are the same functions either way
(``tests/test_m5_probes.py``, ``test_m6_probes.py``, ``test_m7_probes.py`` use this; the round trip grades a
few of each through nbgrader as well).
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import nbformat

from course_grader.authoring.engine_export import EXPORT_TAG
from course_grader.cells import grade_id, without_markers
from course_grader.probes import records
from course_grader.probes.common import HiddenTestFailure

Cells = list[tuple[str | None, str]]
Probes = Mapping[str, Callable[[dict[str, Any]], None]]


def library_cells(notebook: Path) -> Cells:
    """The notebook's library code, in notebook order: the cells tagged ``export`` (imports,
    answers, given helpers: what a later milestone's shipped module is made of), each as
    (grade_id of an answer cell, or None for code the notebook gives; source without solution
    markers). Checks, pictures and training are left out: a variant is judged by the probes."""
    nb = nbformat.read(notebook, as_version=4)
    out: Cells = []
    for cell in nb.cells:
        if cell.cell_type == "code" and EXPORT_TAG in cell.metadata.get("tags", []):
            is_answer = cell.metadata.get("nbgrader", {}).get("solution", False)
            out.append((grade_id(cell) if is_answer else None, without_markers(cell.source)))
    return out


def answers(cells: Cells) -> dict[str, str]:
    """grade_id -> source of every answer cell."""
    return {name: src for name, src in cells if name is not None}


def library_code(cells: Cells, edited: Mapping[str, str] | None = None) -> str:
    """The library cells in one piece, answer cells replaced by ``edited``."""
    return "\n".join(edited[name] if name is not None and edited is not None else src for name, src in cells)


def run(probes: Probes, ns: dict[str, Any], test_id: str) -> dict[str, Any] | str:
    """The record the probe of ``test_id`` emits on the names in ``ns``, or the message it
    failed with."""
    with records.collecting() as found:
        try:
            probes[test_id](ns)
        except HiddenTestFailure as failure:
            return str(failure)
    assert len(found) == 1, f"{test_id} emitted {len(found)} records"
    return found[0]
