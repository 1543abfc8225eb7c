"""Unit tests of the instructor side: records, the judge's comparison, the engine export
and the workspace copy."""

import math
import sys

import nbformat
import pytest

from course_grader.authoring.engine_export import assemble
from course_grader.authoring.workspace import populate
from course_grader.isolation.replay import Outcome
from course_grader.judging import compare, verdict
from course_grader.layout import MILESTONES, ROOT, Course, ReleaseOrderError
from course_grader.probes import records

pytestmark = pytest.mark.unit


def test_plain_refuses_lying_numbers_and_objects():
    class LyingFloat(float):
        def __eq__(self, other):
            return True

    with pytest.raises(records.RecordError):
        records.plain({"x": LyingFloat(1.0)})
    with pytest.raises(records.RecordError):
        records.plain([object()])
    assert records.plain({"a": [1, 2.5, None, "s", True], "n": math.nan}) == {
        "a": [1, 2.5, None, "s", True],
        "n": "nan",
    }


def test_compare_uses_tight_tolerances():
    assert compare.compare(1.0, 1.0 + 1e-12) is None
    assert compare.compare(1.0, 1.0 + 1e-7) is not None  # finite differences miss by this much
    assert compare.compare(0.0, 1e-17) is None
    assert compare.compare({"a": [1.0, "x"]}, {"a": [1.0, "y"]}) is not None
    assert compare.compare({"a": 1.0}, {"a": 1.0, "b": 2.0}) is not None
    assert compare.compare([1.0], [1.0, 2.0]) is not None
    assert compare.compare(True, 1) is not None
    assert compare.compare(1.0, math.nan) is not None


def test_compare_judges_an_order_by_validity():
    ref = {
        "kind": "m2.topological_order",
        "edges": [["n1", "n0"], ["n2", "n1"], ["n3", "n1"]],
        "order": ["n2", "n3", "n1", "n0"],
    }
    assert compare.compare(ref, {**ref, "order": ["n3", "n2", "n1", "n0"]}) is None  # another valid order
    assert compare.compare(ref, {**ref, "order": ["n1", "n2", "n3", "n0"]}) is not None  # child after parent
    assert compare.compare(ref, {**ref, "order": ["n2", "n3", "n0", "n1"]}) is not None
    assert compare.compare(ref, {**ref, "order": ["n2", "n2", "n1", "n0"]}) is not None
    assert compare.compare(ref, {**ref, "edges": [], "order": ref["order"]}) is not None
    without_kind = {k: v for k, v in ref.items() if k != "kind"}
    # the kind is the reference's: a submitted record must carry the same one
    assert "kind" in compare.compare(ref, {**without_kind, "order": ["n3", "n2", "n1", "n0"]})


def test_a_kind_of_record_is_compared_as_its_probes_module_declares():
    """compare.py names no milestone: a kind is registered next to its probe, when first asked."""
    source = (ROOT / "course_grader" / "judging" / "compare.py").read_text()
    assert "m2" not in source.split('"""', 2)[2] and "mlp" not in source.split('"""', 2)[2]
    from course_grader.probes import m2

    assert compare.comparator("m2.topological_order") == ("order", m2.compare_order)
    with pytest.raises(LookupError, match="no comparison"):
        compare.comparator("m2.no_such_kind")
    with pytest.raises(LookupError):
        compare.comparator("../evil.kind")


def test_a_trained_classifier_is_judged_by_its_held_out_accuracy():
    """m6's kind: predictions (recomputed by the probe from the parameters) against the
    reference's targets; another training path keeps the point, another data set does not."""
    ref = {"kind": "m6.heldout_accuracy", "threshold": 0.75, "seed": 7, "targets": [1, 2, 3, 4], "heads": 2}
    ref_case = {**ref, "predictions": [1, 2, 3, 4]}
    reference = records.make("t", [ref_case])
    other_path = {**ref_case, "predictions": [1, 2, 3, 0]}  # 75 %: enough
    assert verdict.verdict("t", reference, [records.make("t", [other_path])]) is None
    wrong = {**ref_case, "predictions": [(t + 1) % 20 for t in ref["targets"]]}
    assert "accuracy" in (verdict.verdict("t", reference, [records.make("t", [wrong])]) or "")
    other_targets = {**ref_case, "targets": [0, 0, 0, 0], "predictions": [0, 0, 0, 0]}
    assert verdict.verdict("t", reference, [records.make("t", [other_targets])]) is not None
    claims_floats = {**ref_case, "predictions": [1.0, 2.0, 3.0, 4.0]}
    assert verdict.verdict("t", reference, [records.make("t", [claims_floats])]) is not None


def test_the_statistical_check_separates_estimators_over_a_few_seeds():
    """m7's REINFORCE check (``probes/m7.mc_check``) over 8 seeds: the correct estimator always
    passes, every biased one never does (``bench/estimator_rates.py`` runs 500 seeds)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import estimator_rates
    finally:
        sys.path.remove(str(ROOT / "bench"))
    found = estimator_rates.rates(seeds=8, draws=100_000)
    assert found["correct"] == 1.0
    for name, rate in found.items():
        if name != "correct":
            assert rate == 0.0, f"{name} passes {rate:.0%} of seeds"


def cell(grade_id, outputs):
    c = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS")
    c.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": grade_id, "points": 1}
    c.outputs = [nbformat.from_dict(o) for o in outputs]
    return c


def rec(grade_id, cases):
    return {"output_type": "display_data", "metadata": {}, "data": {records.MIME: records.make(grade_id, cases)}}


def test_judge_notebook_adds_errors_and_trims_tracebacks():
    reference = {t: records.make(t, [{"x": float(i)}]) for i, t in enumerate(("t1", "t2", "t3", "t4", "t5"), 1)}
    trusted = {
        "t1": Outcome(records.make("t1", [{"x": 1.0}])),  # right
        "t2": Outcome(records.make("t2", [{"x": 2.5}])),  # wrong value
        "t3": Outcome(None, "Value(x).data should hold x"),  # the grader's probe failed
        "t4": Outcome(None, "msg"),
    }  # t5: never reached
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("t1", []),
        cell("t2", []),
        cell("t3", [{"output_type": "stream", "name": "stdout", "text": "all tests passed\n"}]),
        cell(
            "t4",
            [
                {
                    "output_type": "error",
                    "ename": "HiddenTestFailure",
                    "evalue": "msg",
                    "traceback": ["secret() line", "HiddenTestFailure: msg"],
                }
            ],
        ),
        cell("t5", [rec("t5", [{"x": 5.0}])]),  # a right record in the kernel's outputs counts for nothing
    ]
    verdicts = verdict.judge_notebook(nb, reference, trusted)
    assert verdicts["t1"] is None
    assert "expected 2.0, got 2.5" in verdicts["t2"]
    assert verdicts["t3"] == "Value(x).data should hold x"
    assert "never reached" in verdicts["t5"]
    errors = [[o for o in c.outputs if o.output_type == "error"] for c in nb.cells]
    assert [len(e) for e in errors] == [0, 1, 1, 1, 1]
    assert "Value(x).data should hold x" in errors[2][0].evalue  # the grader's message, where the kernel has none
    assert errors[3][0].traceback == ["HiddenTestFailure: msg"]  # hidden code never quoted


def test_judge_refuses_forged_cell_ids_and_duplicates():
    reference = {"t1": records.make("t1", [{"x": 1.0}])}
    for found in ([records.make("t9", [{"x": 1.0}])], [records.make("t1", [{"x": 1.0}])] * 2):
        assert verdict.verdict("t1", reference["t1"], found) is not None


def test_judge_requires_a_reference_record_for_every_graded_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell("t1", [])]
    with pytest.raises(LookupError, match="every graded cell"):
        verdict.judge_notebook(nb, {}, {"t1": Outcome(records.make("t1", []))})


def test_assemble_moves_attached_methods_into_the_class_and_drops_unused_imports():
    module = assemble(
        [
            "import math\nimport os\nfrom course_lib.attach import attach",
            "class V:\n    def __init__(self, x):\n        self.x = x",
            "@attach(V)\ndef double(self):\n    return V(self.x * 2)",
            "def helper(v):\n    return math.sqrt(v.x)",
        ],
        "doc",
    )
    assert "@attach" not in module and "import os" not in module and "import math" in module
    assert "    def double(self):" in module
    ns: dict = {}
    exec(module, ns)
    assert ns["V"](3).double().x == 6 and ns["helper"](ns["V"](4)) == 2.0
    with pytest.raises(ValueError, match="not exported before"):
        assemble(["@attach(W)\ndef f(self):\n    pass"], "doc")


def test_workspace_never_overwrites_a_students_work(tmp_path):
    release, work = tmp_path / "release", tmp_path / "work"
    for m in ("m1", "m2"):
        (release / m).mkdir(parents=True)
        (release / m / f"{m}.ipynb").write_text(f"blank {m}")
    (release / "m2" / "engine.py").write_text("m1's answers")
    added, kept = populate(release, work, ["m1"])
    assert sorted(p.name for p in added) == ["m1.ipynb", "nbgrader_config.py"] and not kept
    assert not (work / "m2").exists(), "an unreleased milestone (and the answers it ships) stays out"
    (work / "m1" / "m1.ipynb").write_text("my work")
    added, kept = populate(release, work, ["m1", "m2"])
    assert (work / "m1" / "m1.ipynb").read_text() == "my work"
    assert sorted(p.name for p in added) == ["engine.py", "m2.ipynb"] and len(kept) == 1
    with pytest.raises(FileNotFoundError, match="release"):
        populate(release, work, ["m1", "m3"])


def test_the_released_list_grows_one_milestone_at_a_time_in_order(tmp_path):
    for m in MILESTONES:
        (Course.at(tmp_path).source(m)).mkdir(parents=True)
        (Course.at(tmp_path).source_notebook(m)).write_text("{}")
    assert Course.at(tmp_path).released() == []
    assert Course.at(tmp_path).with_next("m1_value") == ["m1_value"]
    with pytest.raises(ReleaseOrderError, match=r"m1_value is next, not m3_mlp.*of m1_value, m2_backward"):
        Course.at(tmp_path).with_next("m3_mlp")
    with pytest.raises(ReleaseOrderError, match="no milestone 'm9'"):
        Course.at(tmp_path).with_next("m9")
    Course.at(tmp_path).write_released(["m1_value", "m2_backward"])
    assert Course.at(tmp_path).released() == ["m1_value", "m2_backward"]
    assert Course.at(tmp_path).with_next("m2_backward") == ["m1_value", "m2_backward"]
    listed = Course.at(tmp_path).released_file
    listed.write_text("m1_value\nm3_mlp  # skipped m2\n")
    with pytest.raises(ReleaseOrderError, match="in course order with none skipped"):
        Course.at(tmp_path).released()
    listed.write_text("m1_value\nm1_valu\n")
    with pytest.raises(ReleaseOrderError, match="'m1_valu', which is not a milestone"):
        Course.at(tmp_path).released()


def test_an_execute_result_cannot_stand_in_for_a_score():
    """nbgrader reads the first execute_result as partial credit and stops there: the
    judge drops them and puts its error first."""
    reference = {"t1": records.make("t1", [{"x": 1.0}]), "t2": records.make("t2", [{"x": 2.0}])}
    result = {
        "output_type": "execute_result",
        "execution_count": 1,
        "metadata": {},
        "data": {"text/plain": "'full marks'"},
    }
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("t1", [result, rec("t1", [{"x": 1.0}])]),
        cell("t2", [result, {"output_type": "error", "ename": "E", "evalue": "", "traceback": []}]),
    ]
    trusted = {"t1": Outcome(reference["t1"]), "t2": Outcome(None, "wrong")}
    verdicts = verdict.judge_notebook(nb, reference, trusted)
    assert verdicts["t1"] is None
    assert [o.output_type for o in nb.cells[0].outputs] == ["display_data"]
    assert [o.output_type for o in nb.cells[1].outputs] == ["error"]
    from nbgrader.utils import determine_grade

    assert determine_grade(nb.cells[1])[0] == 0


def test_a_trained_network_is_judged_by_recomputing_its_loss():
    ref_case = {
        "kind": "plain_models.trained_mlp",
        "threshold": 0.01,
        "sizes": [1, 1],
        "X": [[1.0], [2.0]],
        "y": [1.0, 2.0],
        "epochs_ok": True,
        "falls": True,
        "params": [0.9, 0.2],
    }
    reference = records.make("t", [ref_case])
    good = {**ref_case, "params": [1.0, 0.0]}  # another path, a better network: right
    assert verdict.verdict("t", reference, [records.make("t", [good])]) is None
    bad = {**ref_case, "params": [0.0, 0.0]}
    assert "recomputed" in verdict.verdict("t", reference, [records.make("t", [bad])])
    moved = {**good, "X": [[1.0], [3.0]]}
    assert verdict.verdict("t", reference, [records.make("t", [moved])]) is not None
    assert verdict.verdict("t", reference, [records.make("t", [{**good, "params": [1.0]}])]) is not None


def test_the_probes_and_the_judge_compute_with_one_plain_mlp():
    """plain_models is the one reference: the judge's mlp_forward is the probes' mlp summed
    exactly, both the course's network (tanh hidden layers, a linear last layer, each
    neuron's weights then its bias), and the probes' mistaken variants are that network with
    one thing changed."""
    from course_grader.probes import plain_models

    sizes, x = [2, 3, 1], [0.5, -1.5]
    params = [0.1 * (k - 6) for k in range(plain_models.count(2, [3, 1]))]
    hidden = [math.tanh(params[3 * j] * x[0] + params[3 * j + 1] * x[1] + params[3 * j + 2]) for j in range(3)]
    by_hand = sum(params[9 + j] * h for j, h in enumerate(hidden)) + params[12]
    assert plain_models.mlp_forward(sizes, params, x) == pytest.approx(by_hand, rel=1e-12)
    assert plain_models.mlp(params, x, 2, [3, 1]) == [pytest.approx(by_hand, rel=1e-12)]
    assert plain_models.mlp(params, x, 2, [3, 1], last="tanh") == [pytest.approx(math.tanh(by_hand), rel=1e-12)]
    assert plain_models.layer(params[:9], x, 2, 3, "tanh") == pytest.approx(hidden, rel=1e-12)
    assert plain_models.neuron([2.0, 3.0, 0.5], [1.0, -1.0], bias_first=True) == 2.0 + 3.0 - 0.5
    assert plain_models.neuron([2.0, 3.0, 0.5], [1.0, -1.0], drop_bias=True) == 2.0 - 3.0
    assert plain_models.mlp_mse([1, 1], [2.0, 1.0], [[1.0], [2.0]], [3.0, 4.0]) == 0.5
    with pytest.raises(ValueError, match=r"MLP\(2, 3, 1\) has 13 parameters, got 12"):
        plain_models.mlp_mse(sizes, params[:-1], [x], [0.0])
    with pytest.raises(ValueError, match="single output"):
        plain_models.mlp_forward([2, 2], [0.0] * 6, x)


def test_a_malformed_record_earns_nothing_and_never_crashes_the_judge():
    reference = records.make("t", [{"x": [1.0]}])
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    forged = {"format": records.FORMAT, "cell": "t", "cases": [{"x": nested}]}
    assert verdict.verdict("t", reference, [forged]) is not None


def test_the_summary_prints_no_control_character_a_submission_chose(capsys):
    from course_grader.classgrade.report import print_summary

    evil = "name\x1b]0;pwned\x07\x1b[2J\x9b1A\u202eevil\r\nnext"
    print_summary("m1_value", [("test_init", 1, 2)], {"a": 1.0}, 2.0, {evil: [evil]}, 1, 1.0)
    out = capsys.readouterr().out
    attention = out[out.index("needs attention") :]
    assert not any(ch in attention for ch in "\x1b\x07\x9b\u202e\r"), repr(attention)
    assert "\\x1b]0;pwned\\x07" in attention and attention.count("\n") == 2  # the header, one line


def test_a_timeout_under_load_is_graded_again_alone_within_the_run_s_budget(monkeypatch):
    """Graded beside others, a submission that timed out while the machine was busy is
    graded again, one at a time, before the timeout costs it points; the summary says what
    the second grading found. A timeout of its own (a loop, a sleep) is not graded again,
    and the regrades stop when the run's budget for them is used up, saying so."""
    from course_grader.classgrade import workers
    from course_grader.classgrade.workers import Graded, Job

    jobs = [Job("/c", "m1_value", s, "{}") for s in ("ann", "ben", "cid", "dee")]
    busy = f"{workers.BUSY}: 1 cell(s)"
    first = [
        Graded("ann", True, 1.0, ["timed out (interrupted): 1 cell(s)"]),  # its own loop or sleep
        Graded("ben", True, 1.0, [busy]),
        Graded("cid", True, 1.0, [busy]),
        Graded("dee", True, 1.0, [busy]),
    ]
    second = {"ben": [], "cid": ["timed out (killed): 1 cell(s)"], "dee": []}
    calls = []
    clock = [0.0]

    def alone(todo, workers, progress):
        calls.append(([j.student for j in todo], workers))
        clock[0] += 10.0  # each regrade takes 10 s
        return [Graded(j.student, True, 10.0, list(second[j.student])) for j in todo]

    monkeypatch.setattr(workers, "run_pool", alone)
    monkeypatch.setattr(workers.time, "monotonic", lambda: clock[0])
    got = {o.student: o.problems for o in workers.retry_timeouts_alone(jobs, [*first], 2, budget=15.0)}
    assert calls == [(["ben"], 1), (["cid"], 1)], "one at a time, until 15 s are used up"
    assert got["ann"] == ["timed out (interrupted): 1 cell(s)"]
    assert got["ben"] == [f"{workers.REGRADED}: no timeout then"]
    assert got["cid"][0].endswith("it timed out again") and got["cid"][1].startswith("timed out (killed)")
    assert got["dee"][0].startswith("not graded again: this run's time for regrades (15 s, the first pass's)")
    assert "--student dee --force" in got["dee"][0] and got["dee"][1] == busy
    calls.clear()
    assert workers.retry_timeouts_alone(jobs, first, 1) == first and not calls, "graded one at a time already"


def test_the_probe_of_broken_knows_exactly_what_colleague_py_gets_wrong(monkeypatch):
    """m2's colleague.py as handed out: each operation in the probe's uses at seeded inputs,
    against central differences; the ones that fail any use are the probe's WRONG_AS_SHIPPED,
    and the probe covers every operation the file lists."""
    import random
    import sys

    from course_grader.probes import m2
    from course_grader.probes.common import HiddenTestFailure, backprop

    folder = Course.at().source("m2_backward")
    monkeypatch.syspath_prepend(str(folder))
    for name in ("engine", "colleague"):
        sys.modules.pop(name, None)
    import colleague
    from engine import Value

    assert tuple(m2.COLLEAGUE) == colleague.OPERATIONS
    wrong = set()
    rng = random.Random(5)
    for name, arity in m2.COLLEAGUE.items():
        for _ in range(3):
            xs = m2._colleague_inputs(rng, name)
            for _, build in m2._colleague_uses(name, arity, 1.5).values():
                leaves = [Value(x) for x in xs]
                out = build(getattr(colleague, name), leaves)
                out.grad = 1.0
                backprop(out, name)

                def plain(t, build=build):
                    return build(getattr(colleague, name), [Value(v) for v in t]).data

                try:  # the probe's own comparison with central differences
                    m2._fd_check(plain, xs, [0.0] * len(xs), [leaf.grad for leaf in leaves], name)
                except HiddenTestFailure:
                    wrong.add(name)
    for name in ("engine", "colleague"):
        sys.modules.pop(name, None)
    assert wrong == m2.WRONG_AS_SHIPPED


def test_a_machine_busy_with_others_is_told_from_a_sandbox_that_waits_for_itself():
    """The wait that blames the machine is the longest of any one thread: many threads of
    the sandbox waking at once wait for each other, and summed would fake a busy machine."""
    from course_grader.isolation.cgroups import Interval, Sample

    start = Sample(0.0, 0.0, {1: 0.0, 2: 0.0})
    slept = Interval.between(start, Sample(30.0, 0.2, {1: 0.1, 2: 0.0}))
    starved = Interval.between(start, Sample(30.0, 5.0, {1: 20.0, 2: 0.5}))
    many = Interval.between(start, Sample(30.0, 3.0, {tid: 4.0 for tid in range(60)}))  # 240 s summed
    assert slept is not None and not slept.starved
    assert starved is not None and starved.starved and starved.waited == 20.0
    assert many is not None and not many.starved and many.waited == 4.0
    assert Interval.between(start, Sample(30.0, None, {})) is None  # no CPU accounting: unknown


def test_a_notebook_s_budget_is_cpu_time_with_a_wall_clock_ceiling_blamed_only_on_waiting(monkeypatch):
    """The one rule the grading kernel and the grader's run share (cgroups.overrun)."""
    from course_grader.isolation import cgroups
    from course_grader.isolation.cgroups import Sample

    monkeypatch.setattr(cgroups.time, "monotonic", lambda: 100.0)
    first = Sample(0.0, 0.0, {1: 0.0})
    assert cgroups.overrun(60, 180, 0.0, first, Sample(100.0, 30.0, {1: 5.0})) is None
    used = cgroups.overrun(60, 180, 0.0, first, Sample(100.0, 60.0, {1: 0.0}))
    assert used is not None and used.starved is False and "used up its 60 s of CPU time" in used.why
    slept = cgroups.overrun(60, 90, 0.0, first, Sample(100.0, 1.0, {1: 0.1}))
    waited = cgroups.overrun(60, 90, 0.0, first, Sample(100.0, 20.0, {1: 70.0}))
    unknown = cgroups.overrun(60, 90, 0.0, None, None)
    assert slept is not None and slept.starved is False and "ran past its 90 s" in slept.why
    assert waited is not None and waited.starved is True
    assert unknown is not None and unknown.starved is None
