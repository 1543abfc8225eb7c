"""The digit-operations task milestone 6's transformer learns: ``Max ( 5 3 9 )`` -> ``9``.

Why this task: it is tiny (a 20-token vocabulary, sequences of at most 8 tokens), so a
transformer of a few thousand parameters learns it in seconds on a CPU, yet each operation
needs attention in its own way. ``First`` and ``Second`` look at a fixed position; ``Last``
at a position that depends on the length (only the token after it, ``)``, says which);
``Max`` and ``Min`` at a digit chosen by its *value*, wherever it is. The attention
heatmaps of a trained model show those strategies.

The vocabulary is the one of the NumPy transformer this milestone is modelled on:
``[PAD]`` = 0, ``[EOS]`` = 1, the digits ``'0'``-``'9'`` = 2-11, ``First`` = 12,
``Second`` = 13, ``Last`` = 14, ``Max`` = 15, ``Min`` = 16, ``(`` = 17, ``)`` = 18 and
``,`` = 19. An example is written ``Op ( d d ... )`` with 2 to 5 digits and no commas
(``tokenize`` accepts them, the generator never writes them); its answer is one digit token.

Everything is seeded (``random.Random``), so a notebook trains on the same examples and
prints the same accuracies on every run. No model or gradient lives here: this module
makes data and reads predictions, never computes them.
"""

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DIGIT_IDS",
    "EOS",
    "MAX_ARGS",
    "MAX_LEN",
    "MIN_ARGS",
    "OPERATIONS",
    "PAD",
    "TOKEN_ID",
    "VOCAB",
    "Example",
    "accuracy_by_operation",
    "answer",
    "batches",
    "detokenize",
    "make_batch",
    "make_examples",
    "make_split",
    "show_accuracy",
    "tokenize",
]

VOCAB: tuple[str, ...] = (
    "[PAD]",
    "[EOS]",
    *(str(d) for d in range(10)),
    "First",
    "Second",
    "Last",
    "Max",
    "Min",
    "(",
    ")",
    ",",
)
TOKEN_ID: dict[str, int] = {token: i for i, token in enumerate(VOCAB)}
PAD = TOKEN_ID["[PAD]"]
EOS = TOKEN_ID["[EOS]"]
DIGIT_IDS: tuple[int, ...] = tuple(TOKEN_ID[str(d)] for d in range(10))
OPERATIONS: tuple[str, ...] = ("First", "Second", "Last", "Max", "Min")
MIN_ARGS, MAX_ARGS = 2, 5
MAX_LEN = MAX_ARGS + 3  # Op ( d d d d d )


def tokenize(text: str) -> list[int]:
    """Token ids of a space-separated text, e.g. ``"Max ( 5 3 9 )"`` -> ``[15, 17, 7, 5, 11, 18]``.

    An unknown token is refused by name: a typo should not become a silent ``[PAD]``.
    """
    ids = []
    for token in text.split():
        if token not in TOKEN_ID:
            raise ValueError(f"unknown token {token!r} in {text!r}: the vocabulary is {' '.join(VOCAB)}")
        ids.append(TOKEN_ID[token])
    return ids


def detokenize(ids: Iterable[int]) -> str:
    """The text of token ids, ``[PAD]`` left out (a padded row reads as its example)."""
    out = []
    for i in ids:
        i = int(i)
        if not 0 <= i < len(VOCAB):
            raise ValueError(f"token id {i} is outside the vocabulary (0 .. {len(VOCAB) - 1})")
        if i != PAD:
            out.append(VOCAB[i])
    return " ".join(out)


def answer(op: str, digits: Sequence[int]) -> int:
    """The digit ``op`` picks from ``digits``."""
    if op not in OPERATIONS:
        raise ValueError(f"unknown operation {op!r}: one of {', '.join(OPERATIONS)}")
    if len(digits) < 2:
        raise ValueError(f"an operation takes at least 2 digits, got {list(digits)}")
    picks = {"First": digits[0], "Second": digits[1], "Last": digits[-1], "Max": max(digits), "Min": min(digits)}
    return int(picks[op])


@dataclass(frozen=True)
class Example:
    """One example: an operation on a few digits."""

    op: str
    digits: tuple[int, ...]

    @property
    def text(self) -> str:
        return f"{self.op} ( {' '.join(map(str, self.digits))} )"

    @property
    def ids(self) -> list[int]:
        return tokenize(self.text)

    @property
    def target(self) -> int:
        """The token id of the answer (a digit's id, 2-11)."""
        return TOKEN_ID[str(answer(self.op, self.digits))]


def _draw(rng: random.Random, min_args: int, max_args: int) -> Example:
    op = OPERATIONS[rng.randrange(len(OPERATIONS))]
    n = rng.randint(min_args, max_args)
    return Example(op, tuple(rng.randrange(10) for _ in range(n)))


def make_examples(
    n: int, seed: int = 0, min_args: int = MIN_ARGS, max_args: int = MAX_ARGS, exclude: Iterable[Example] = ()
) -> list[Example]:
    """``n`` distinct examples drawn with ``seed``: an operation uniformly, a count of digits
    uniformly in ``min_args .. max_args``, each digit uniformly 0-9. None of ``exclude``
    (a held-out set stays unseen)."""
    if not MIN_ARGS <= min_args <= max_args <= MAX_ARGS:
        raise ValueError(f"the number of digits is between {MIN_ARGS} and {MAX_ARGS}, got {min_args} .. {max_args}")
    possible = len(OPERATIONS) * sum(10**k for k in range(min_args, max_args + 1))
    banned = set(exclude)
    if n < 0 or n > (possible - len(banned)) // 2:
        raise ValueError(f"cannot draw {n} distinct examples of {min_args} to {max_args} digits")
    rng = random.Random(seed)
    seen: set[Example] = set()
    out: list[Example] = []
    while len(out) < n:
        ex = _draw(rng, min_args, max_args)
        if ex in seen or ex in banned:
            continue
        seen.add(ex)
        out.append(ex)
    return out


def make_split(n_train: int, n_test: int, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """A training set and a held-out set with no example in common (so held-out accuracy
    measures what was learned, not what was remembered)."""
    test = make_examples(n_test, seed=seed + 1)
    return make_examples(n_train, seed=seed, exclude=test), test


def make_batch(examples: Sequence[Example]) -> tuple[Any, Any, Any]:
    """``(ids, mask, targets)`` as NumPy arrays: ``ids`` (B, T) int64, each row padded with
    ``[PAD]`` to the longest example (T); ``mask`` (B, T) bool, True on real tokens and
    False on padding (what attention may look at); ``targets`` (B,) int64, the answers' token ids."""
    import numpy as np  # here: the rest of course_lib works without NumPy

    if not examples:
        raise ValueError("a batch needs at least one example")
    rows = [ex.ids for ex in examples]
    T = max(len(r) for r in rows)
    ids = np.full((len(rows), T), PAD, dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    return ids, ids != PAD, np.array([ex.target for ex in examples], dtype=np.int64)


def batches(examples: Sequence[Example], size: int, seed: int) -> Iterable[tuple[Any, Any, Any]]:
    """One epoch of mini-batches (``make_batch``), in an order shuffled with ``seed``."""
    if size < 1:
        raise ValueError(f"a batch holds at least one example, got size={size}")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    for start in range(0, len(order), size):
        yield make_batch([examples[i] for i in order[start : start + size]])


def accuracy_by_operation(examples: Sequence[Example], predicted: Iterable[int]) -> dict[str, tuple[int, int]]:
    """operation -> (correct, total) for predicted token ids, one per example, in
    ``OPERATIONS`` order; ``"all"`` last."""
    predicted = [int(p) for p in predicted]
    if len(predicted) != len(examples):
        raise ValueError(f"{len(examples)} examples but {len(predicted)} predictions")
    counts = {op: [0, 0] for op in OPERATIONS}
    for ex, p in zip(examples, predicted, strict=True):
        counts[ex.op][0] += p == ex.target
        counts[ex.op][1] += 1
    table = {op: (c, t) for op, (c, t) in counts.items()}
    table["all"] = (sum(c for c, _ in table.values()), len(examples))
    return table


def show_accuracy(table: Mapping[str, tuple[int, int]], title: str = "") -> None:
    """Print ``accuracy_by_operation``'s table with fixed-width numbers (nbval compares the text)."""
    if title:
        print(title)
    print(f"  {'operation':<10}{'correct':>9}{'total':>7}{'accuracy':>10}")
    for op, (correct, total) in table.items():
        acc = f"{correct / total:.1%}" if total else "-"
        print(f"  {op:<10}{correct:>9}{total:>7}{acc:>10}")
