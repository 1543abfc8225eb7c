"""The hidden tests of m5_tensors, run in this process on the reference solution, on its
correct variants and on its pitfalls, without nbgrader: every probe passes on the reference
and records plain data; every correct variant passes every probe with records the judge
(``judging/verdict.py``) accepts against the reference's; every pitfall loses the cells it
names (its probe fails, or its record differs from the reference's)."""

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import probe_harness
import pytest
from variants import apply_edits
from variants import m5_tensors as variants

from course_grader.judging.verdict import verdict
from course_grader.probes import m5, records
from course_grader.probes.common import HiddenTestFailure

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "m5_tensors" / "m5_tensors.ipynb"
ENGINE = ROOT / "solutions" / "m5_tensors"  # engine.topo_sort (the given backward() uses it), nn.py


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
    ns: dict[str, Any] = {"__name__": "m5_notebook"}
    exec(compile(notebook_code(edited), "<m5 notebook>", "exec"), ns)  # the course's own code
    return ns


def train(ns: dict[str, Any], lr: float = 0.05, steps: int = 300) -> tuple:
    """An MLP(2, [8, 8, 1]) trained with Adam on the moons, as the notebook trains it."""
    from course_lib.datasets import make_moons

    Xl, yl = make_moons(40, noise=0.1, seed=0)
    X, y = np.array(Xl), np.array(yl).reshape(-1, 1)
    model = ns["MLP"](2, [8, 8, 1], np.random.default_rng(0))
    opt = ns["Adam"](model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = ((model(ns["Tensor"](X)) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    return model, X, y, losses


PROBES: dict[str, Callable[[dict[str, Any]], None]] = {
    "test_unbroadcast": lambda ns: m5.probe_unbroadcast(ns["unbroadcast"]),
    "test_add": lambda ns: m5.probe_add(ns["Tensor"]),
    "test_mul": lambda ns: m5.probe_mul(ns["Tensor"]),
    "test_pow": lambda ns: m5.probe_pow(ns["Tensor"]),
    "test_matmul": lambda ns: m5.probe_matmul(ns["Tensor"]),
    "test_sum": lambda ns: m5.probe_sum(ns["Tensor"]),
    "test_mean": lambda ns: m5.probe_mean(ns["Tensor"]),
    "test_reshape_transpose": lambda ns: m5.probe_reshape_transpose(ns["Tensor"]),
    "test_exp_log": lambda ns: m5.probe_exp_log(ns["Tensor"]),
    "test_tanh_relu": lambda ns: m5.probe_tanh_relu(ns["Tensor"]),
    "test_log_softmax": lambda ns: m5.probe_log_softmax(ns["Tensor"], ns["log_softmax"]),
    "test_cross_entropy": lambda ns: m5.probe_cross_entropy(ns["Tensor"], ns["cross_entropy"]),
    "test_grad_check": lambda ns: m5.probe_grad_check(ns["Tensor"], ns["grad_check"]),
    "test_linear": lambda ns: m5.probe_linear(ns["Tensor"], ns["Linear"]),
    "test_mlp": lambda ns: m5.probe_mlp(ns["Tensor"], ns["MLP"]),
    "test_sgd": lambda ns: m5.probe_sgd(ns["Tensor"], ns["SGD"]),
    "test_adam": lambda ns: m5.probe_adam(ns["Tensor"], ns["Adam"]),
    "test_trained": lambda ns: m5.probe_trained(ns["Tensor"], *train(ns)),
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


def test_splitting_finds_every_answer_cell():
    cells = answers()
    assert list(cells) == [
        "unbroadcast", "tensor_add", "tensor_mul", "tensor_pow", "tensor_matmul", "tensor_sum", "tensor_mean",
        "tensor_reshape", "tensor_transpose", "tensor_exp_log", "tensor_tanh_relu", "log_softmax", "cross_entropy",
        "grad_check", "linear", "mlp", "sgd", "adam",
    ]  # fmt: skip
    assert "# GIVEN" not in cells["tensor_transpose"] and "Tensor.T = property" not in cells["tensor_transpose"]
    assert cells["tensor_add"].lstrip().startswith("@attach(Tensor)")
    ns = namespace(cells)  # the answers run as cells of their own give the reference back
    assert ns["Tensor"](np.ones((2, 3))).T.shape == (3, 2)


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


@pytest.mark.parametrize("cell", list(variants.ALTERNATIVE))
def test_each_alternative_alone(cell):
    ns = namespace(apply_edits(answers(), {cell: variants.ALTERNATIVE[cell]}))
    for test_id in PROBES:
        got = run(ns, test_id)
        assert isinstance(got, dict), f"{test_id} fails with the alternative {cell}:\n{got}"
        assert verdict(test_id, reference()[test_id], [got]) is None, (cell, test_id)


@pytest.mark.parametrize("pitfall", list(variants.PITFALLS))
def test_pitfall_loses_its_cells(pitfall):
    edits, loses = variants.PITFALLS[pitfall]
    ns = namespace(apply_edits(answers(), edits))
    for test_id in loses:
        got = run(ns, test_id)
        if isinstance(got, dict):
            assert verdict(test_id, reference()[test_id], [got]) is not None, f"{pitfall} passes {test_id}"


@pytest.mark.parametrize("solution", ["reference", "alternative"])
def test_probes_over_the_grader_link(tmp_path, solution):
    """As the grader runs them: each probe in this process, the solution's objects in another
    (``isolation/replay.py``'s agent, unsandboxed here), every value read over the link. The
    records agree with the in-process reference's."""
    from course_grader.isolation.replay import Agent

    agent = Agent(tmp_path, sandboxed=False)
    try:
        link = agent.link
        link.deadline = float("inf")
        edited = None if solution == "reference" else apply_edits(answers(), variants.ALTERNATIVE)
        code = notebook_code(edited)
        link.ask("exec", f"import sys\nsys.path[:0] = [{str(ROOT)!r}, {str(ENGINE)!r}]\n", "<path>")
        link.ask("exec", code, "<m5 reference>")
        link.ask("exec", TRAINING, "<training>")
        args = {
            "test_unbroadcast": ["unbroadcast"],
            "test_log_softmax": ["Tensor", "log_softmax"],
            "test_cross_entropy": ["Tensor", "cross_entropy"],
            "test_grad_check": ["Tensor", "grad_check"],
            "test_linear": ["Tensor", "Linear"],
            "test_mlp": ["Tensor", "MLP"],
            "test_sgd": ["Tensor", "SGD"],
            "test_adam": ["Tensor", "Adam"],
            "test_trained": ["Tensor", "model", "X", "y", "losses"],
        }
        for test_id in PROBES:
            probe = getattr(m5, "probe_" + test_id.removeprefix("test_"))
            names = args.get(test_id, ["Tensor"])
            try:
                with records.collecting() as found:
                    probe(*[link.ask("global", n) for n in names])
            finally:
                link.revoke()
            assert len(found) == 1, test_id
            assert verdict(test_id, reference()[test_id], found) is None, test_id
    finally:
        agent.close()


TRAINING = """
from course_lib.datasets import make_moons
_Xl, _yl = make_moons(40, noise=0.1, seed=0)
X, y = np.array(_Xl), np.array(_yl).reshape(-1, 1)
model = MLP(2, [8, 8, 1], np.random.default_rng(0))
_opt = Adam(model.parameters(), lr=0.05)
losses = []
for _ in range(300):
    _loss = ((model(Tensor(X)) - y) ** 2).mean()
    _opt.zero_grad()
    _loss.backward()
    _opt.step()
    losses.append(_loss.data.item())
"""


HOSTILE = {
    # an answer that returns the wrong kind of thing, or NaN, or the wrong shape: a failure
    # with a message, never a crash of the probe or a hang
    "unbroadcast": "def unbroadcast(grad, shape):\n    return grad.tolist()\n",
    "tensor_add": ("@attach(Tensor)\ndef __add__(self, other):\n    return 3.0\n"),
    "tensor_mul": (
        "@attach(Tensor)\ndef __mul__(self, other):\n    other = as_tensor(other)\n"
        "    return Tensor(np.full(np.broadcast_shapes(self.shape, other.shape), np.nan), (self, other))\n"
    ),
    "tensor_matmul": ("@attach(Tensor)\ndef __matmul__(self, other):\n    return Tensor(np.zeros((7, 7)), (self,))\n"),
    "tensor_sum": (
        "@attach(Tensor)\ndef sum(self, axis=None, keepdims=False):\n"
        "    out = Tensor(self.data.sum(axis=axis, keepdims=keepdims), (self,))\n"
        "    def _backward():\n        self.grad = 'no'\n    out._backward = _backward\n    return out\n"
    ),
    "grad_check": "def grad_check(f, arrays, h=1e-6, tol=1e-5):\n    return None\n",
    "sgd": "class SGD:\n    def __init__(self, params, lr):\n        raise RuntimeError('boom')\n",
    "adam": (
        "class Adam:\n    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8):\n"
        "        self.params = list(params)\n    def step(self):\n"
        "        for p in self.params:\n            p.data = object()\n    def zero_grad(self):\n        pass\n"
    ),
}
HOSTILE_LOSES = {
    "unbroadcast": ["test_unbroadcast"],
    "tensor_add": ["test_add"],
    "tensor_mul": ["test_mul"],
    "tensor_matmul": ["test_matmul"],
    "tensor_sum": ["test_sum"],
    "grad_check": ["test_grad_check"],
    "sgd": ["test_sgd"],
    "adam": ["test_adam"],
}


@pytest.mark.parametrize("cell", list(HOSTILE))
def test_hostile_answers_fail_with_a_message(cell):
    ns = namespace({**answers(), cell: HOSTILE[cell]})
    for test_id in HOSTILE_LOSES[cell]:
        got = run(ns, test_id)
        assert isinstance(got, str) and got, (cell, test_id)


def trained_record(ns: dict[str, Any], lr: float, steps: int) -> dict[str, Any] | str:
    with records.collecting() as found:
        try:
            m5.probe_trained(ns["Tensor"], *train(ns, lr, steps))
        except HiddenTestFailure as failure:
            return str(failure)
    return found[0]


def test_another_training_run_is_judged_by_its_loss():
    """Another learning rate and length: other parameters, but the judge recomputes the loss
    from them and accepts it."""
    got = trained_record(namespace(), 0.02, 400)
    assert isinstance(got, dict), got
    assert got["cases"][0]["params"] != reference()["test_trained"]["cases"][0]["params"]
    assert verdict("test_trained", reference()["test_trained"], [got]) is None


@pytest.mark.parametrize(("lr", "steps", "says"), [(1e-5, 300, "below 0.01"), (0.05, 60, "at least 100")])
def test_training_that_falls_short_fails(lr, steps, says):
    got = trained_record(namespace(), lr, steps)
    assert isinstance(got, str) and says in got, got


def test_a_trained_record_with_other_data_is_refused():
    rec = reference()["test_trained"]
    forged = {**rec, "cases": [{**rec["cases"][0], "X": [[0.0, 0.0]] * len(rec["cases"][0]["X"])}]}
    assert verdict("test_trained", rec, [forged]) is not None
