"""The hidden tests of m6_attention, run in this process on the reference solution, on its
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
from variants import m6_attention as variants

from course_grader.judging.verdict import verdict
from course_grader.probes import m6, records

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "m6_attention" / "m6_attention.ipynb"
SHIPPED = ROOT / "solutions" / "m6_attention"  # tensor.py (milestone 5's answers), engine.py


def reference_cells() -> list[tuple[str | None, str]]:
    return probe_harness.library_cells(NOTEBOOK)


def answers() -> dict[str, str]:
    return probe_harness.answers(reference_cells())


def notebook_code(edited: dict[str, str] | None = None) -> str:
    return probe_harness.library_code(reference_cells(), edited)


@functools.cache
def _fresh_tensor_module() -> None:
    if str(SHIPPED) not in sys.path:
        sys.path.insert(0, str(SHIPPED))


def namespace(edited: dict[str, str] | None = None) -> dict[str, Any]:
    """The notebook's names after running its library cells, answer cells replaced by
    ``edited``. Each namespace gets its own copy of tensor.py's Tensor class: an answer cell
    attaches ``@`` to it, and one variant's ``@`` must not leak into the next namespace."""
    _fresh_tensor_module()
    import importlib

    sys.modules.pop("tensor", None)
    tensor = importlib.import_module("tensor")
    sys.modules.pop("tensor", None)
    ns: dict[str, Any] = {"__name__": "m6_notebook"}
    code = notebook_code(edited)
    sys.modules["tensor"] = tensor
    try:
        exec(compile(code, "<m6 notebook>", "exec"), ns)  # the course's own code
    finally:
        sys.modules.pop("tensor", None)
    return ns


def train(ns: dict[str, Any], lr: float = 0.007, epochs: int = 5) -> Any:
    """The notebook's encoder, trained as the notebook trains it."""
    from course_lib import digit_tasks

    train_set, _ = digit_tasks.make_split(3000, 500, seed=0)
    model = ns["Encoder"](len(digit_tasks.VOCAB), 32, 2, 64, 2, np.random.default_rng(0))
    opt = ns["Adam"](model.parameters(), lr=lr)
    for epoch in range(epochs):
        for ids, mask, targets in digit_tasks.batches(train_set, 64, seed=epoch):
            loss = ns["cross_entropy"](model(ids, mask), targets)
            loss.backward()
            opt.step()
            opt.zero_grad()
    return model


@functools.cache
def trained_reference_model() -> Any:
    return train(namespace())


PROBES: dict[str, Callable[[dict[str, Any]], None]] = {
    "test_matmul": lambda ns: m6.probe_matmul(ns["Tensor"]),
    "test_softmax": lambda ns: m6.probe_softmax(ns["Tensor"], ns["softmax"]),
    "test_embedding": lambda ns: m6.probe_embedding(ns["Tensor"], ns["embedding"], ns["Embedding"]),
    "test_positional_encoding": lambda ns: m6.probe_positional_encoding(ns["positional_encoding"]),
    "test_layer_norm": lambda ns: m6.probe_layer_norm(ns["Tensor"], ns["LayerNorm"]),
    "test_attention": lambda ns: m6.probe_attention(ns["Tensor"], ns["attention"]),
    "test_split_merge_heads": lambda ns: m6.probe_split_merge_heads(ns["Tensor"], ns["split_heads"], ns["merge_heads"]),
    "test_multi_head_attention": lambda ns: m6.probe_multi_head_attention(ns["Tensor"], ns["MultiHeadAttention"]),
    "test_feed_forward": lambda ns: m6.probe_feed_forward(ns["Tensor"], ns["FeedForward"]),
    "test_transformer_block": lambda ns: m6.probe_transformer_block(ns["Tensor"], ns["TransformerBlock"]),
    "test_encoder": lambda ns: m6.probe_encoder(ns["Tensor"], ns["Encoder"]),
    "test_trained": lambda ns: m6.probe_trained(ns["Tensor"], ns.get("model") or train(ns), 2),
}


def run(ns: dict[str, Any], test_id: str) -> dict[str, Any] | str:
    return probe_harness.run(PROBES, ns, test_id)


@functools.cache
def reference() -> dict[str, dict[str, Any]]:
    ns = namespace()
    ns["model"] = trained_reference_model()
    out = {}
    for test_id in PROBES:
        got = run(ns, test_id)
        assert isinstance(got, dict), f"{test_id} fails on the reference solution:\n{got}"
        out[test_id] = got
    return out


def test_splitting_finds_every_answer_cell():
    assert list(answers()) == [
        "tensor_matmul", "softmax", "embedding", "positional_encoding", "layer_norm", "attention",
        "split_merge_heads", "multi_head_attention", "feed_forward", "transformer_block", "encoder",
    ]  # fmt: skip
    ns = namespace(answers())
    assert ns["swap_last"](ns["Tensor"](np.ones((2, 3, 4)))).shape == (2, 4, 3)


@pytest.mark.parametrize("test_id", list(PROBES))
def test_reference_passes_and_records_plain_data(test_id):
    rec = reference()[test_id]
    assert rec["cell"] == test_id and rec["cases"]
    assert records.plain(rec) == rec
    ns = namespace()
    ns["model"] = trained_reference_model()
    assert verdict(test_id, rec, [run(ns, test_id)]) is None  # deterministic


def _layer_probes() -> list[str]:
    return [t for t in PROBES if t != "test_trained"]


def test_every_alternative_passes_with_the_reference_records():
    ns = namespace(apply_edits(answers(), variants.ALTERNATIVE))
    for test_id in _layer_probes():
        got = run(ns, test_id)
        assert isinstance(got, dict), f"{test_id} fails on the alternative solution:\n{got}"
        why = verdict(test_id, reference()[test_id], [got])
        assert why is None, (test_id, why)


@pytest.mark.parametrize("cell", list(variants.ALTERNATIVE))
def test_each_alternative_alone(cell):
    ns = namespace(apply_edits(answers(), {cell: variants.ALTERNATIVE[cell]}))
    for test_id in _layer_probes():
        got = run(ns, test_id)
        assert isinstance(got, dict), f"{test_id} fails with the alternative {cell}:\n{got}"
        assert verdict(test_id, reference()[test_id], [got]) is None, (cell, test_id)


@pytest.mark.parametrize("name", list(variants.ALTERNATIVES))
def test_each_named_alternative(name):
    ns = namespace(apply_edits(answers(), variants.ALTERNATIVES[name]))
    for test_id in _layer_probes():
        got = run(ns, test_id)
        assert isinstance(got, dict), f"{test_id} fails with the alternative {name}:\n{got}"
        assert verdict(test_id, reference()[test_id], [got]) is None, (name, test_id)


def test_the_alternative_trains_and_is_judged_by_its_accuracy():
    """The alternative solution's own training run: other rounding, so other parameters, but
    the judge recomputes held-out accuracy from them and accepts it."""
    ns = namespace(apply_edits(answers(), variants.ALTERNATIVE))
    ns["model"] = train(ns)
    got = run(ns, "test_trained")
    assert isinstance(got, dict), got
    assert verdict("test_trained", reference()["test_trained"], [got]) is None


@pytest.mark.parametrize("pitfall", list(variants.PITFALLS))
def test_pitfall_loses_its_cells(pitfall):
    edits, loses = variants.PITFALLS[pitfall]
    ns = namespace(apply_edits(answers(), edits))
    for test_id in loses:
        with np.errstate(all="ignore"):  # an unshifted softmax overflows, as it should
            got = run(ns, test_id)
        if isinstance(got, dict):
            assert verdict(test_id, reference()[test_id], [got]) is not None, f"{pitfall} passes {test_id}"


def test_pitfall_messages_name_the_mistake():
    """The failure a pitfall meets says what is wrong, in the course's words."""
    for pitfall, (edits, loses) in variants.PITFALLS.items():
        said = variants.SAYS.get(pitfall)
        if said is None:
            continue
        got = run(namespace(apply_edits(answers(), edits)), loses[0])
        assert isinstance(got, str) and said in got, (pitfall, got)


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
        link.ask("exec", f"import sys\nsys.path[:0] = [{str(ROOT)!r}, {str(SHIPPED)!r}]\n", "<path>")
        link.ask("exec", notebook_code(edited), "<m6 reference>")
        link.ask("exec", TRAINING, "<training>")
        args = {
            "test_positional_encoding": ["positional_encoding"],
            "test_softmax": ["Tensor", "softmax"],
            "test_embedding": ["Tensor", "embedding", "Embedding"],
            "test_layer_norm": ["Tensor", "LayerNorm"],
            "test_attention": ["Tensor", "attention"],
            "test_split_merge_heads": ["Tensor", "split_heads", "merge_heads"],
            "test_multi_head_attention": ["Tensor", "MultiHeadAttention"],
            "test_feed_forward": ["Tensor", "FeedForward"],
            "test_transformer_block": ["Tensor", "TransformerBlock"],
            "test_encoder": ["Tensor", "Encoder"],
            "test_trained": ["Tensor", "model"],
        }
        for test_id in PROBES:
            probe = getattr(m6, "probe_" + test_id.removeprefix("test_"))
            names = args.get(test_id, ["Tensor"])
            extra = [2] if test_id == "test_trained" else []
            try:
                with records.collecting() as found:
                    probe(*[link.ask("global", n) for n in names], *extra)
            finally:
                link.revoke()
            assert len(found) == 1, test_id
            assert verdict(test_id, reference()[test_id], found) is None, test_id
    finally:
        agent.close()


TRAINING = """
from course_lib import digit_tasks
_train, _ = digit_tasks.make_split(3000, 500, seed=0)
model = Encoder(20, 32, 2, 64, 2, np.random.default_rng(0))
_opt = Adam(model.parameters(), lr=0.007)
for _epoch in range(5):
    for _ids, _mask, _targets in digit_tasks.batches(_train, 64, seed=_epoch):
        _loss = cross_entropy(model(_ids, _mask), _targets)
        _loss.backward()
        _opt.step()
        _opt.zero_grad()
"""


HOSTILE = {
    # an answer that returns the wrong kind of thing, NaN or the wrong shape: a failure with a
    # message, never a crash of the probe or a hang
    "softmax": "def softmax(x, axis=-1):\n    return x.data.tolist()\n",
    "positional_encoding": "def positional_encoding(T, d):\n    return [[0.0] * d] * T\n",
    "attention": "def attention(q, k, v, mask=None):\n    return q\n",
    "layer_norm": (
        "class LayerNorm:\n    def __init__(self, dim, eps=1e-5):\n        self.gain = Tensor(np.ones(dim))\n"
        "        self.bias = Tensor(np.zeros(dim))\n    def __call__(self, x):\n"
        "        return Tensor(np.full(x.shape, np.nan), (x,))\n    def parameters(self):\n"
        "        return [self.gain, self.bias]\n"
    ),
    "encoder": (
        "class Encoder:\n    def __init__(self, vocab, dim, heads, hidden, blocks, rng):\n"
        "        raise RuntimeError('boom')\n"
    ),
}
HOSTILE_LOSES = {
    "softmax": ["test_softmax"],
    "positional_encoding": ["test_positional_encoding"],
    "attention": ["test_attention"],
    "layer_norm": ["test_layer_norm"],
    "encoder": ["test_encoder"],
}


@pytest.mark.parametrize("cell", list(HOSTILE))
def test_hostile_answers_fail_with_a_message(cell):
    ns = namespace({**answers(), cell: HOSTILE[cell]})
    for test_id in HOSTILE_LOSES[cell]:
        got = run(ns, test_id)
        assert isinstance(got, str) and got, (cell, test_id)


def test_an_untrained_model_fails_and_says_why():
    ns = namespace()
    ns["model"] = train(ns, lr=1e-5, epochs=1)
    got = run(ns, "test_trained")
    assert isinstance(got, str) and "at least 95%" in got, got


def test_a_model_whose_forward_lies_is_refused():
    """A model whose own forward pass answers from elsewhere (here: the right answers, looked
    up) is judged by its parameters: its logits disagree with the recomputed ones."""
    ns = namespace()
    honest = ns["Encoder"](20, 32, 2, 64, 2, np.random.default_rng(0))

    class Liar:
        def parameters(self):
            return honest.parameters()

        def __call__(self, ids, mask=None):
            from course_lib import digit_tasks

            logits = np.zeros((len(ids), 20))
            for i, row in enumerate(ids):
                ex = digit_tasks.tokenize(digit_tasks.detokenize(row))
                op, digits = digit_tasks.VOCAB[ex[0]], [int(digit_tasks.VOCAB[t]) for t in ex[2:-1]]
                logits[i, digit_tasks.TOKEN_ID[str(digit_tasks.answer(op, digits))]] = 10.0
            return ns["Tensor"](logits)

    ns["model"] = Liar()
    got = run(ns, "test_trained")
    assert isinstance(got, str) and "come from its parameters" in got, got


def test_a_trained_record_with_other_predictions_is_refused():
    rec = reference()["test_trained"]
    case = rec["cases"][0]
    wrong = [(t + 1) % 20 for t in case["targets"]]
    forged = {**rec, "cases": [{**case, "predictions": wrong}]}
    assert "accuracy" in (verdict("test_trained", rec, [forged]) or "")
    other_targets = {**rec, "cases": [{**case, "targets": [*case["predictions"][:-1], 0]}]}
    assert verdict("test_trained", rec, [other_targets]) is not None


@pytest.mark.parametrize("pitfall", variants.ROUND_TRIP)
def test_a_round_trip_pitfall_fails_in_the_kernel_where_it_loses(pitfall):
    """Graded by stock nbgrader too, a pitfall loses exactly what the judge takes: wherever
    its record would differ from the reference's, the probe itself fails (in the kernel)."""
    edits, loses = variants.PITFALLS[pitfall]
    ns = namespace(apply_edits(answers(), edits))
    for test_id in _layer_probes():
        got = run(ns, test_id)
        if isinstance(got, dict):
            assert test_id not in loses, f"{pitfall} passes {test_id} in the kernel"
            assert verdict(test_id, reference()[test_id], [got]) is None, (pitfall, test_id)
