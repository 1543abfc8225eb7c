"""Put back the grade cells and nbgrader flags a student changed, before nbgrader checks.

nbgrader's OverwriteCells restores a read-only cell's source and its points, but not the
`grade`/`solution`/`locked`/`task` flags: a student who unticks "graded" on a test cell
(or edits the notebook's JSON) makes its checksum disagree for good, and nbgrader then
fails the whole submission ("Inconsistent checksums"). A deleted grade cell simply scores
nothing; nbgrader 0.9.6's own `add_missing_cells` puts it back only when the cell before
it is a solution or grade cell (else a KeyError fails the whole submission; here a
read-only check cell comes first). The gradebook knows every cell: this preprocessor,
before OverwriteCells, makes the submission say what the gradebook says, and puts each
deleted grade cell back after the nearest cell before it that is still there.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry, SourceCell
from nbgrader.preprocessors import NbGraderPreprocessor


class RestoreGradeCells(NbGraderPreprocessor):
    """nbgrader sanitize preprocessor, before OverwriteCells (see nbgrader_config.py)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            try:
                source = gb.find_notebook(info["notebook"], info["assignment"])
            except MissingEntry:
                return nb, resources  # nbgrader itself reports an unknown notebook
            points = {c.name: float(c.max_score) for c in source.grade_cells}
            solutions = {c.name for c in source.solution_cells}
            tasks = {c.name for c in source.task_cells}
            cells = list(source.source_cells)
            locked = {c.name: bool(c.locked) for c in cells}
            order = [c.name for c in cells]
            missing = [
                (c.name, self._grade_cell(c, points[c.name]))
                for c in cells
                if c.name in points and c.name not in solutions and c.name not in _grade_ids(nb)
            ]
        for name, cell in missing:
            self.log.warning("grade cell %s was deleted: put back for grading", name)
            present = _grade_ids(nb)
            before = [n for n in order[: order.index(name)] if n in present]
            at = present[before[-1]] + 1 if before else 0
            nb.cells.insert(at, cell)
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader")
            if not isinstance(meta, dict) or meta.get("grade_id") not in locked:
                continue
            name = meta["grade_id"]
            meta["grade"] = name in points
            meta["solution"] = name in solutions
            meta["locked"] = locked[name]
            if name in tasks:
                meta["task"] = True
            else:
                meta.pop("task", None)
            if name in points:
                meta["points"] = points[name]
            else:
                meta.pop("points", None)
        return nb, resources

    @staticmethod
    def _grade_cell(source: SourceCell, points: float) -> NotebookNode:
        cell = new_code_cell(source.source) if source.cell_type == "code" else new_markdown_cell(source.source)
        cell.metadata.update(editable=False, deletable=False)
        cell.metadata["nbgrader"] = {
            "grade": True,
            "solution": False,
            "locked": bool(source.locked),
            "grade_id": source.name,
            "points": points,
            "checksum": source.checksum,
            "schema_version": 3,
        }
        return cell


def _grade_ids(nb: NotebookNode) -> dict[str, int]:
    """grade_id -> index of every nbgrader cell of the notebook."""
    return {
        meta["grade_id"]: i
        for i, cell in enumerate(nb.cells)
        if isinstance(meta := cell.get("metadata", {}).get("nbgrader"), dict) and meta.get("grade_id")
    }
