"""Unit tests of course_lib.digit_tasks (milestone 6's task) and the attention heatmap."""

import numpy as np
import pytest

from course_lib import digit_tasks as dt

pytestmark = pytest.mark.unit


def test_the_vocabulary_is_the_seed_transformers():
    assert len(dt.VOCAB) == 20
    assert (dt.PAD, dt.EOS) == (0, 1)
    assert [dt.TOKEN_ID[str(d)] for d in range(10)] == list(range(2, 12)) == list(dt.DIGIT_IDS)
    assert [dt.TOKEN_ID[op] for op in dt.OPERATIONS] == [12, 13, 14, 15, 16]
    assert [dt.TOKEN_ID[t] for t in "( ) ,".split()] == [17, 18, 19]


def test_tokenize_and_detokenize_round_trip():
    assert dt.tokenize("Max ( 5 3 9 )") == [15, 17, 7, 5, 11, 18]
    assert dt.detokenize([15, 17, 7, 5, 11, 18, 0, 0]) == "Max ( 5 3 9 )"
    assert dt.tokenize("First ( 1 , 2 )") == [12, 17, 3, 19, 4, 18]
    with pytest.raises(ValueError, match="unknown token 'Mean'"):
        dt.tokenize("Mean ( 1 2 )")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        dt.detokenize([20])


@pytest.mark.parametrize(
    ("op", "digits", "want"),
    [
        ("First", (4, 1, 7), 4),
        ("Second", (4, 1, 7), 1),
        ("Last", (4, 1, 7), 7),
        ("Max", (4, 1, 7), 7),
        ("Min", (4, 1, 7), 1),
    ],
)
def test_answer(op, digits, want):
    assert dt.answer(op, digits) == want
    assert dt.Example(op, digits).target == dt.TOKEN_ID[str(want)]


def test_answer_refuses_nonsense():
    with pytest.raises(ValueError, match="unknown operation"):
        dt.answer("Mean", (1, 2))
    with pytest.raises(ValueError, match="at least 2 digits"):
        dt.answer("Max", (1,))


def test_examples_are_seeded_distinct_and_within_the_ranges():
    a = dt.make_examples(300, seed=4)
    assert a == dt.make_examples(300, seed=4) and a != dt.make_examples(300, seed=5)
    assert len(set(a)) == 300
    assert {len(ex.digits) for ex in a} == set(range(dt.MIN_ARGS, dt.MAX_ARGS + 1))
    assert {ex.op for ex in a} == set(dt.OPERATIONS)
    assert all(len(ex.ids) <= dt.MAX_LEN for ex in a)
    with pytest.raises(ValueError, match="between 2 and 5"):
        dt.make_examples(3, min_args=1)


def test_the_split_shares_no_example():
    train, test = dt.make_split(500, 100, seed=0)
    assert len(train) == 500 and len(test) == 100 and not set(train) & set(test)


def test_a_batch_is_padded_with_a_mask():
    ids, mask, targets = dt.make_batch([dt.Example("Max", (5, 3, 9)), dt.Example("Min", (1, 2))])
    assert ids.tolist() == [[15, 17, 7, 5, 11, 18], [16, 17, 3, 4, 18, 0]]
    assert mask.tolist() == [[True] * 6, [True] * 5 + [False]]
    assert targets.tolist() == [11, 3] and ids.dtype == np.int64 and mask.dtype == bool
    with pytest.raises(ValueError, match="at least one example"):
        dt.make_batch([])


def test_batches_cover_an_epoch_once_in_a_seeded_order():
    examples = dt.make_examples(50, seed=1)
    first = [b[2].tolist() for b in dt.batches(examples, 16, seed=3)]
    assert first == [b[2].tolist() for b in dt.batches(examples, 16, seed=3)]
    assert [len(t) for t in first] == [16, 16, 16, 2]
    assert sorted(t for batch in first for t in batch) == sorted(ex.target for ex in examples)


def test_accuracy_by_operation_and_its_table(capsys):
    examples = [dt.Example("Max", (1, 2)), dt.Example("Max", (3, 1)), dt.Example("Min", (5, 6))]
    table = dt.accuracy_by_operation(examples, [dt.TOKEN_ID["2"], dt.TOKEN_ID["1"], dt.TOKEN_ID["5"]])
    assert table["Max"] == (1, 2) and table["Min"] == (1, 1) and table["First"] == (0, 0) and table["all"] == (2, 3)
    assert list(table)[-1] == "all"
    dt.show_accuracy(table, title="t")
    out = capsys.readouterr().out
    assert "t\n" in out and "Max" in out and "50.0%" in out and "66.7%" in out
    with pytest.raises(ValueError, match="3 examples but 2 predictions"):
        dt.accuracy_by_operation(examples, [1, 2])


def test_attention_heatmap_checks_its_shape():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib import plots

    ax = plots.attention_heatmap(np.full((3, 3), 1 / 3), ["a", "b", "c"], title="uniform")
    assert ax.get_title() == "uniform"
    with pytest.raises(ValueError, match=r"a \(2, 2\) map for 2 tokens"):
        plots.attention_heatmap(np.ones((3, 3)), ["a", "b"])
    plt.close("all")
