"""The hidden tests of m7_discrete, run in this process on the reference solution, on its
correct variants and on its pitfalls, without nbgrader: every probe passes on the reference
and records plain data; every correct variant passes every probe with records the judge
(``judging/verdict.py``) accepts against the reference's; every pitfall loses the cells it
names (its probe fails, or its record differs from the reference's). And the statistical
check of REINFORCE, over a few seeds: a correct estimator passes, estimators biased by a few
percent fail (``bench/estimator_rates.py`` measures the rates over many)."""

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import probe_harness
import pytest
from variants import apply_edits
from variants import m7_discrete as variants

from course_grader.judging.verdict import verdict
from course_grader.probes import m7, records

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "m7_discrete" / "m7_discrete.ipynb"
ENGINE = ROOT / "solutions" / "m7_discrete"  # engine.py, as the release ships it


def reference_cells() -> list[tuple[str | None, str]]:
    return probe_harness.library_cells(NOTEBOOK)


def answers() -> dict[str, str]:
    return probe_harness.answers(reference_cells())


def notebook_code(edited: dict[str, str] | None = None) -> str:
    return probe_harness.library_code(reference_cells(), edited)


def namespace(edited: dict[str, str] | None = None) -> dict[str, Any]:
    """The notebook's names after running its cells, answer cells replaced by ``edited``."""
    if str(ENGINE) not in sys.path:
        sys.path.insert(0, str(ENGINE))
    ns: dict[str, Any] = {"__name__": "m7_notebook"}
    exec(compile(notebook_code(edited), "<m7 notebook>", "exec"), ns)  # the course's own code
    return ns


PROBES: dict[str, Callable[[dict[str, Any]], None]] = {
    "test_merge_forward": lambda ns: m7.probe_merge_forward(ns["Value"], ns["merge_forward"]),
    "test_route_gradients": lambda ns: m7.probe_route_gradients(ns["route_gradients"]),
    "test_merge_grad_check": lambda ns: m7.probe_merge_grad_check(ns["Value"], ns["merge_grad_check"]),
    "test_ste_gate": lambda ns: m7.probe_ste_gate(ns["Value"], ns["ste_gate"]),
    "test_expected_loss": lambda ns: m7.probe_expected_loss(ns["Value"], ns["expected_loss"]),
    "test_reinforce": lambda ns: m7.probe_reinforce(ns["reinforce_grad"]),
}
ARGS = {
    "test_merge_forward": ["Value", "merge_forward"],
    "test_route_gradients": ["route_gradients"],
    "test_merge_grad_check": ["Value", "merge_grad_check"],
    "test_ste_gate": ["Value", "ste_gate"],
    "test_expected_loss": ["Value", "expected_loss"],
    "test_reinforce": ["reinforce_grad"],
}


def run(ns: dict[str, Any], test_id: str) -> dict[str, Any] | str:
    return probe_harness.run(PROBES, ns, test_id)


@functools.cache
def reference() -> dict[str, dict[str, Any]]:
    ns = namespace()
    out = {}
    for test_id in PROBES:
        got = run(ns, test_id)
        assert isinstance(got, dict), f"{test_id} fails on the reference solution:\n{got}"
        out[test_id] = got
    return out


def test_every_graded_cell_has_a_probe():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    graded = [c.metadata.nbgrader["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded == list(PROBES)
    assert list(answers()) == [
        "merge_forward", "route_gradients", "merge_grad_check", "ste_gate", "expected_loss", "reinforce_grad",
    ]  # fmt: skip


@pytest.mark.parametrize("test_id", list(PROBES))
def test_reference_passes_and_records_plain_data(test_id):
    rec = reference()[test_id]
    assert rec["cell"] == test_id and rec["cases"]
    assert records.plain(rec) == rec
    assert verdict(test_id, rec, [run(namespace(), test_id)]) is None  # deterministic


def test_every_alternative_passes_with_the_reference_records():
    ns = namespace(apply_edits(answers(), variants.ALTERNATIVE))
    for test_id in PROBES:
        got = run(ns, test_id)
        assert isinstance(got, dict), f"{test_id} fails on the alternative solution:\n{got}"
        assert verdict(test_id, reference()[test_id], [got]) is None, test_id


@pytest.mark.parametrize("pitfall", list(variants.PITFALLS))
def test_pitfall_loses_its_cells(pitfall):
    edits, loses = variants.PITFALLS[pitfall]
    ns = namespace(apply_edits(answers(), edits))
    for test_id in loses:
        got = run(ns, test_id)
        if isinstance(got, dict):
            assert verdict(test_id, reference()[test_id], [got]) is not None, f"{pitfall} passes {test_id}"
    for test_id in set(PROBES) - set(loses):  # and keeps every other cell
        got = run(ns, test_id)
        assert isinstance(got, dict) and verdict(test_id, reference()[test_id], [got]) is None, (pitfall, test_id)


def test_round_trip_pitfalls_exist():
    assert set(variants.ROUND_TRIP) <= set(variants.PITFALLS) and len(variants.ROUND_TRIP) <= 6
    assert variants.CHEAT_CELL in answers()


def test_the_notebooks_training_story():
    """The naive routing's loss rises in every epoch; the three remedies' losses fall."""
    ns = namespace()
    naive = ns["train_routed"](ns["naive_route"])
    fixed = ns["train_routed"](ns["route_gradients"])
    assert ns["count_moves"](naive) == (0, ns["EPOCHS"])
    assert ns["count_moves"](fixed) == (ns["EPOCHS"], 0)
    for curve in (ns["train_ste"](), ns["train_reinforce"]()):
        assert curve[-1] < curve[0] / 2


@pytest.mark.parametrize("solution", ["reference", "alternative"])
def test_probes_over_the_grader_link(tmp_path, solution):
    """As the grader runs them: each probe in this process, the solution's objects in another
    (``isolation/replay.py``'s agent, unsandboxed here), every value read over the link."""
    from course_grader.isolation.replay import Agent

    agent = Agent(tmp_path, sandboxed=False)
    try:
        link = agent.link
        link.deadline = float("inf")
        edited = None if solution == "reference" else apply_edits(answers(), variants.ALTERNATIVE)
        link.ask("exec", f"import sys\nsys.path[:0] = [{str(ROOT)!r}, {str(ENGINE)!r}]\n", "<path>")
        link.ask("exec", notebook_code(edited), "<m7 reference>")
        for test_id in PROBES:
            probe = getattr(m7, "probe_" + test_id.removeprefix("test_"))
            try:
                with records.collecting() as found:
                    probe(*[link.ask("global", n) for n in ARGS[test_id]])
            finally:
                link.revoke()
            assert len(found) == 1, test_id
            assert verdict(test_id, reference()[test_id], found) is None, test_id
    finally:
        agent.close()


# --- the statistical check's reliability, over a few seeds (the bench runs many) -----------------


def test_estimator_rates_over_a_few_seeds():
    sys.path.insert(0, str(ROOT / "bench"))
    import estimator_rates

    found = estimator_rates.rates(seeds=8, draws=100_000)
    assert found["correct"] == 1.0
    for name, rate in found.items():
        if name != "correct":
            assert rate == 0.0, f"{name} passes {rate:.0%} of seeds"
