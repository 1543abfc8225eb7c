"""Every variant of every milestone judged in this process (``judged_in_process.py``): the
instructor's answers reproduce the grading reference, every correct variant keeps every
point, every pitfall loses the cells it names (and, as in grading, perhaps cells that build
on them: a broken ``+`` loses the trained model too). The probes, their
arguments, the reference and the judge are grading's own, read from the instructor
notebook; nothing here is written per milestone, so a new milestone's variants module is
picked up as it is (``tests/variants/<m>.py``: ALTERNATIVE, ALTERNATIVES, PITFALLS, and
optionally SAYS -- pitfall -> words the first cell it loses must say -- and ROUND_TRIP -- the
pitfalls graded through nbgrader, which a visible check must catch and stock nbgrader must
score as the judge does).
"""

import importlib

import judged_in_process
import pytest
from variants import apply_edits

from course_grader.layout import MILESTONES


def variants(m: str):
    return importlib.import_module(f"variants.{m}")


def correct_variants(m: str) -> dict[str, dict]:
    """name -> edits of the instructor's answers that a correct solution makes."""
    v = variants(m)
    found = {"alternative": dict(getattr(v, "ALTERNATIVE", {}))}
    found.update({f"alt_{name}": edits for name, edits in getattr(v, "ALTERNATIVES", {}).items()})
    return found


def judged(m: str, edits: dict, tests: set[str] | None = None) -> dict[str, str | None]:
    """test grade_id -> why it loses its points, or None; only up to the last of ``tests``."""
    notebook = judged_in_process.notebook(m)
    return notebook.judge(notebook.run(apply_edits(notebook.answers, edits), tests))


@pytest.mark.parametrize("m", MILESTONES)
def test_the_instructor_answers_reproduce_the_grading_reference(m):
    notebook = judged_in_process.notebook(m)
    verdicts = judged(m, {})
    assert list(verdicts) == notebook.tests and notebook.tests, "every graded cell has its probes"
    assert {test: why for test, why in verdicts.items() if why} == {}


@pytest.mark.parametrize(("m", "variant"), [(m, v) for m in MILESTONES for v in correct_variants(m)])
def test_a_correct_variant_keeps_every_point(m, variant):
    lost = {test: why for test, why in judged(m, correct_variants(m)[variant]).items() if why}
    assert lost == {}, f"{variant} is a correct solution"


@pytest.mark.parametrize(("m", "pitfall"), [(m, p) for m in MILESTONES for p in variants(m).PITFALLS])
def test_a_pitfall_loses_the_cells_it_names(m, pitfall):
    edits, loses = variants(m).PITFALLS[pitfall]
    graded = judged_in_process.notebook(m).tests
    assert set(loses) <= set(graded), f"{pitfall} names cells that are not graded tests: {set(loses) - set(graded)}"
    verdicts = judged(m, edits, set(loses))
    kept = {test for test in loses if not verdicts[test]}
    assert loses and not kept, f"{pitfall} keeps the points of {sorted(kept)}"


def says(m: str) -> dict[str, str]:
    return dict(getattr(variants(m), "SAYS", {}))


@pytest.mark.parametrize(("m", "pitfall"), [(m, p) for m in MILESTONES for p in says(m)])
def test_a_pitfall_s_message_names_the_mistake(m, pitfall):
    """The failure a pitfall meets says what is wrong, in the course's words."""
    edits, loses = variants(m).PITFALLS[pitfall]
    why = judged(m, edits, {loses[0]})[loses[0]]
    assert why and says(m)[pitfall] in why, why


def taught(m: str) -> list[str]:
    """The pitfalls a visible check must catch before hand-in: a milestone's ROUND_TRIP list
    where it has one (milestones 5-7 teach the others in issue 28's work), else all."""
    v = variants(m)
    return list(getattr(v, "ROUND_TRIP", v.PITFALLS))


@pytest.mark.parametrize(("m", "pitfall"), [(m, p) for m in MILESTONES for p in taught(m)])
def test_a_pitfall_fails_a_visible_check_before_hand_in(m, pitfall):
    """The notebook teaches the mistake before the grade does: some visible check fails,
    and the first failure is a course message (input, expected, got), not a bare error."""
    notebook = judged_in_process.notebook(m)
    first = notebook.first_visible_failure(apply_edits(notebook.answers, variants(m).PITFALLS[pitfall][0]))
    assert first is not None, "no visible check fails"
    assert "✗" in first, f"the first failure is not a course message: {first[:300]}"


@pytest.mark.parametrize(("m", "variant"), [(m, v) for m in MILESTONES for v in correct_variants(m)])
def test_no_visible_check_rejects_a_correct_variant(m, variant):
    notebook = judged_in_process.notebook(m)
    assert notebook.first_visible_failure(apply_edits(notebook.answers, correct_variants(m)[variant])) is None


@pytest.mark.parametrize(("m", "pitfall"), [(m, p) for m in MILESTONES for p in getattr(variants(m), "ROUND_TRIP", ())])
def test_stock_nbgrader_scores_a_round_trip_pitfall_as_the_judge_does(m, pitfall):
    """Stock nbgrader (no judge) takes a cell's points only when its probe fails in the kernel:
    so wherever a round-trip pitfall's record would differ from the reference's, the probe
    itself must fail, and every cell whose probe passes must keep its points."""
    notebook = judged_in_process.notebook(m)
    outcomes = notebook.run(apply_edits(notebook.answers, variants(m).PITFALLS[pitfall][0]))
    differs = {test for test, why in notebook.judge(outcomes).items() if why and not isinstance(outcomes[test], str)}
    assert differs == set(), f"{pitfall}: the probes of {sorted(differs)} pass in the kernel, the judge takes them"
