"""Red team: every cheat in ``variants/cheats.py`` against its honest baseline.

Each attack is graded with ``submissions.score`` (the student's kernel in the grading
sandbox, then the judge, then nbgrader's own scoring rule), a few at a time in worker
processes. Its baseline -- an honest submission, no cheat in it -- is judged in this process
(``judged_in_process.py``: the same probes, reference and judge; ``test_roundtrip`` holds the
two to the same scores), except where the attack moves cells, which only a kernel run shows.
A cheat must not earn any graded cell more points than the same submission without the
cheat. Attacks that still win are marked ``xfail(strict=True)``: the suite stays green,
the open holes are listed by name, and fixing one turns its test into an XPASS (a
failure) until its mark is removed.
"""

import functools
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import judged_in_process
import nbformat
import pytest
from conftest import COURSE, MILESTONES, ROOT
from variants import apply_edits as apply
from variants.cheats import ATTACKS, Attack

from course_grader.cells import points
from course_grader.judging import reference
from course_grader.measuring.submissions import fill, score, solution_cells

Answers = dict[str, str]
Points = dict[str, float]


def start(milestone: str, base: str) -> Answers:
    """The instructor's answers, or the blank notebook's stubs."""
    folder = {"solution": "solutions", "blank": "notebooks"}[base]
    return solution_cells(ROOT / folder / milestone / f"{milestone}.ipynb")


def submissions(attack: Attack) -> tuple[Answers, Answers]:
    """(baseline, cheat) answers of an attack."""
    baseline = apply(start(attack.milestone, attack.base), attack.wrong)
    return baseline, apply(baseline, attack.cheat)


def moved_first(nb: nbformat.NotebookNode, grade_ids: tuple[str, ...]) -> nbformat.NotebookNode:
    """The notebook with the cells of ``grade_ids`` moved, in that order, to just after its
    first code cell (the imports): a student may hand in cells in any order."""
    if not grade_ids:
        return nb
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    moved = [by_id[g] for g in grade_ids]
    rest = [c for c in nb.cells if all(c is not m for m in moved)]
    at = next(i for i, c in enumerate(rest) if c.cell_type == "code") + 1
    nb.cells = rest[:at] + moved + rest[at:]
    return nb


def grade(job: tuple[str, Answers, tuple[str, ...]]) -> tuple[Points | None, str]:
    """Points per graded cell, or (None, why) when grading raised. A failure to even read
    the release notebook (rewritten by a release run) is tried once more."""
    milestone, answers, first = job
    release = COURSE.release_notebook(milestone)
    error = ""
    for attempt in range(2):
        if attempt:
            time.sleep(2.0)
        try:
            nb = moved_first(fill(release, answers), first)
            return score(nb, milestone, ROOT, timeout=60.0, sandboxed=True), ""
        except Exception as err:  # noqa: BLE001 - a crash is a result here
            error = f"{type(err).__name__}: {err}"
    return None, error


@functools.cache
def full_marks(milestone: str) -> dict[str | None, float]:
    return points(nbformat.read(COURSE.source_notebook(milestone), as_version=4))


def judged(milestone: str, answers: Answers) -> tuple[Points, str]:
    """Points per graded cell of an honest submission, judged in this process."""
    notebook = judged_in_process.notebook(milestone)
    verdicts = notebook.judge(notebook.run(answers))
    return {test: 0.0 if why else full_marks(milestone)[test] for test, why in verdicts.items()}, ""


def _quiet() -> None:
    """Every kernel warns on stderr about TCP; keep the test output readable."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _key(milestone: str, answers: Answers, first: tuple[str, ...] = ()) -> str:
    return milestone + json.dumps([answers, first], sort_keys=True)


@pytest.fixture(scope="module")
def graded() -> dict[str, tuple[Points | None, str]]:
    """Every distinct submission (attacks, baselines, the instructor's answers) -> its grading."""
    for m in MILESTONES:  # the reference records first, so that workers never race to compute them
        reference.records_for(COURSE.source(m), m, ROOT / ".reference")
    jobs = {_key(m, start(m, "solution")): (m, start(m, "solution"), ()) for m in MILESTONES}
    honest: dict[str, tuple[str, Answers]] = {}
    for attack in ATTACKS:
        baseline, cheat = submissions(attack)
        jobs[_key(attack.milestone, cheat, attack.first)] = (attack.milestone, cheat, attack.first)
        if attack.first:
            jobs[_key(attack.milestone, baseline, attack.first)] = (attack.milestone, baseline, attack.first)
        else:
            honest[_key(attack.milestone, baseline)] = (attack.milestone, baseline)
    workers = min(len(jobs), max(2, (os.cpu_count() or 1) + 1))  # kernels spend much time waiting
    context = multiprocessing.get_context("spawn")  # no forked copies of zmq state
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_quiet) as pool:
        graded = pool.map(grade, jobs.values())
        results = {key: judged(*job) for key, job in honest.items()}  # meanwhile, in this process
        results.update(zip(jobs, graded, strict=True))
    for m in MILESTONES:
        points, error = results[_key(m, start(m, "solution"))]
        assert points and all(points.values()), f"the instructor's answers must score full marks in {m}: {error}"
    return results


def _param(attack: Attack):
    marks = []
    if attack.wins or attack.crashes:
        marks.append(pytest.mark.xfail(strict=True, reason=attack.crashes or attack.wins))
    return pytest.param(attack, id=f"{attack.milestone}-{attack.name}", marks=marks)


def test_attack_names_are_unique():
    names = [(a.milestone, a.name) for a in ATTACKS]
    assert len(names) == len(set(names))
    assert {a.milestone for a in ATTACKS} == set(MILESTONES)


@pytest.mark.parametrize("attack", [_param(a) for a in ATTACKS])
def test_cheat_earns_no_more_than_its_baseline(graded, attack: Attack):
    baseline, cheat = submissions(attack)
    base_points, base_error = graded[_key(attack.milestone, baseline, attack.first)]
    assert base_points is not None, f"the baseline could not be graded: {base_error}"
    points, error = graded[_key(attack.milestone, cheat, attack.first)]
    assert points is not None, f"grading the cheat raised {error}"
    assert points.keys() == base_points.keys()
    gained = {cell: f"{base_points[cell]:g} -> {p:g}" for cell, p in points.items() if p > base_points[cell]}
    assert not gained, f"the cheat earns more than its baseline: {gained}"
