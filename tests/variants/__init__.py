"""Submissions for the round-trip tests: how students get things right and wrong.

Each variant edits the instructor's answers (solution cells, keyed by grade_id) the way
a student's notebook would differ. ``loses`` names the graded cells that must score 0.
"""


def answer_cells(milestone: str) -> list[str]:
    """The graded solution cells of a milestone, in notebook order (optional challenges left
    out), read from its instructor notebook: the one list of them."""
    from course_grader.layout import ROOT, Course
    from course_grader.measuring.submissions import CHALLENGE_PREFIX, solution_cells

    cells = solution_cells(Course.at(ROOT).source_notebook(milestone))
    return [c for c in cells if not c.startswith(CHALLENGE_PREFIX)]


def apply_edits(answers: dict[str, str], edits: dict) -> dict[str, str]:
    """The answers with ``edits`` made: a grade_id maps to a whole new source, to a function
    of the old one, or to a list of (old, new) replacements, each of which must find its
    ``old`` text."""
    out = dict(answers)
    for grade_id, edit in edits.items():
        if isinstance(edit, str):
            out[grade_id] = edit
            continue
        if callable(edit):
            out[grade_id] = edit(out[grade_id])
            continue
        for old, new in edit:
            assert old in out[grade_id], f"{grade_id}: {old!r} not in the answer (update the variant)"
            out[grade_id] = out[grade_id].replace(old, new)
    return out
