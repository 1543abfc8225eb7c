"""Hidden-test probes for ``m6_attention``: ``@`` on batches of matrices, ``softmax`` with its
exact backward, embeddings, positional encoding, ``LayerNorm``, masked scaled dot-product
attention, splitting and merging heads, multi-head attention, the feed-forward layer, a
post-LN transformer block, an encoder, and a trained encoder (judged on unseen examples by
a forward pass recomputed here, in plain NumPy, from its parameters).

As in ``m5``: every case is seeded, inputs already hold gradient where that tells a mistake
apart, the upstream gradient is random, and the probe drives the backward pass itself. Each
layer is written again here in plain NumPy (``_np_*``); gradients are checked against
central differences of those functions (every entry of a small input, a seeded sample of a
large one: the record carries every entry, and the judge compares it with the reference
solution's). Masked attention is checked exactly: a masked weight is 0.0, and so is the
gradient reaching a key or value no query may look at.

A student's object is only ever used through its public interface, and everything read
from it is validated: in the grader's replay it is a proxy, and an array read from it a copy.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_grader.judging import compare
from course_grader.probes.arrays import (
    Array,
    Shape,
    as_array,
    backprop_from,
    check_grad,
    close,
    const,
    data_of,
    draw,
    expect_tensor,
    finite_differences,
    grad_of,
    new_tensor,
    parameters_of,
    show,
    unbroadcast_to,
)
from course_grader.probes.common import GRAD_TOL, H, call, emit, fail, fmt

Params = list[Array]

EPS = 1e-5  # LayerNorm's
MASKED = -1e9  # what the notebook adds to a masked score
MATMUL = (
    "for out = A @ B on batches: A.grad += unbroadcast(out.grad @ swapaxes(B, -1, -2), A.shape) and "
    "B.grad += unbroadcast(swapaxes(A, -1, -2) @ out.grad, B.shape): X.T reverses EVERY axis, the batch "
    "axes too, and a matrix shared by a batch gets the sum of its gradients"
)
SOFTMAX = (
    "softmax's backward is the whole Jacobian: x.grad += y * (g - (g * y).sum(axis, keepdims=True)); "
    "y * (1 - y) * g is only its diagonal"
)
EMBEDDING = (
    "a token that appears several times receives the sum of its gradients: np.add.at(table.grad, ids, "
    "out.grad); table.grad[ids] += out.grad writes a repeated row only once"
)
MASK = (
    "mask the SCORES before the softmax: scores + np.where(mask, 0.0, -1e9); then a masked weight is "
    "exactly 0 and each row still sums to 1"
)
SCALE = "divide the scores q @ k^T by sqrt(d_k), d_k = q.shape[-1], before the softmax"
MERGE = (
    "merge_heads undoes split_heads: transpose (B, H, T, d) back to (B, T, H, d), THEN reshape to (B, T, D); "
    "reshaping (B, H, T, d) directly mixes up tokens"
)
POST_LN = "post-LN: x = LN1(x + MHA(x, mask)); out = LN2(x + FFN(x)): the LayerNorm comes after each residual sum"


# --- plain NumPy: the course's layers, written again ------------------------------------


def _np_softmax(x: Array, axis: int = -1) -> Array:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_attention(q: Array, k: Array, v: Array, mask: Array | None = None, scale: bool = True) -> tuple[Array, Array]:
    scores = q @ np.swapaxes(k, -1, -2)
    if scale:
        scores = scores / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores + np.where(mask, 0.0, MASKED)
    w = _np_softmax(scores)
    return w @ v, w


def _np_layer_norm(x: Array, gain: Array, bias: Array, eps: float = EPS, ddof: int = 0, inside: bool = True) -> Array:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).sum(axis=-1, keepdims=True) / (x.shape[-1] - ddof)
    scale = np.sqrt(var + eps) if inside else np.sqrt(var) + eps
    return (x - mu) / scale * gain + bias


def _np_split(x: Array, heads: int) -> Array:
    B, T, D = x.shape
    return x.reshape(B, T, heads, D // heads).transpose(0, 2, 1, 3)


def _np_merge(x: Array) -> Array:
    B, Hh, T, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, Hh * d)


def _np_mha(x: Array, p: Sequence[Array], heads: int, mask: Array | None = None) -> tuple[Array, Array]:
    """p: Wq.W, Wq.b, Wk.W, Wk.b, Wv.W, Wv.b, Wo.W, Wo.b."""
    q, k, v = (_np_split(x @ p[2 * i] + p[2 * i + 1], heads) for i in range(3))
    out, w = _np_attention(q, k, v, mask)
    return _np_merge(out) @ p[6] + p[7], w


def _np_ffn(x: Array, p: Sequence[Array]) -> Array:
    return np.maximum(x @ p[0] + p[1], 0.0) @ p[2] + p[3]


def _np_block(x: Array, p: Sequence[Array], heads: int, mask: Array | None = None, pre: bool = False) -> Array:
    """p: the attention's 8, LN1's gain and bias, the feed-forward's 4, LN2's gain and bias."""
    if pre:  # the pitfall, to recognise it
        x = x + _np_mha(_np_layer_norm(x, p[8], p[9]), p[:8], heads, mask)[0]
        return x + _np_ffn(_np_layer_norm(x, p[14], p[15]), p[10:14])
    x = _np_layer_norm(x + _np_mha(x, p[:8], heads, mask)[0], p[8], p[9])
    return _np_layer_norm(x + _np_ffn(x, p[10:14]), p[14], p[15])


def _np_positions(T: int, d: int) -> Array:
    angles = np.arange(T)[:, None] / 10000.0 ** (np.arange(0, d, 2)[None, :] / d)
    pe = np.zeros((T, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d // 2])
    return pe


def _np_encoder(ids: Array, mask: Array | None, p: Sequence[Array], heads: int) -> Array:
    """p: the table, 16 per block, the head's W and b."""
    T, D = ids.shape[1], p[0].shape[1]
    x = p[0][ids] + _np_positions(T, D)
    keys = None if mask is None else mask[:, None, None, :]
    for b in range((len(p) - 3) // 16):
        x = _np_block(x, p[1 + 16 * b : 17 + 16 * b], heads, keys)
    return x[:, 0, :] @ p[-2] + p[-1]


# --- the documented initialisations ----------------------------------------------------


def _linear(rng: np.random.Generator, nin: int, nout: int) -> Params:
    bound = 1.0 / math.sqrt(nin)
    return [rng.uniform(-bound, bound, size=(nin, nout)), rng.uniform(-bound, bound, size=(nout,))]


def _init_mha(rng: np.random.Generator, dim: int) -> Params:
    return [a for _ in range(4) for a in _linear(rng, dim, dim)]


def _init_ffn(rng: np.random.Generator, dim: int, hidden: int) -> Params:
    return [*_linear(rng, dim, hidden), *_linear(rng, hidden, dim)]


def _init_block(rng: np.random.Generator, dim: int, hidden: int) -> Params:
    attn = _init_mha(rng, dim)
    ffn = _init_ffn(rng, dim, hidden)
    return [*attn, np.ones(dim), np.zeros(dim), *ffn, np.ones(dim), np.zeros(dim)]


def _init_encoder(rng: np.random.Generator, vocab: int, dim: int, hidden: int, blocks: int) -> Params:
    table = rng.normal(0.0, 1.0, size=(vocab, dim))
    body = [a for _ in range(blocks) for a in _init_block(rng, dim, hidden)]
    return [table, *body, *_linear(rng, dim, vocab)]


# --- finite differences on a sample of entries ---------------------------------------------


def _picks(rng: np.random.Generator, shape: Shape, most: int) -> list[tuple[int, ...]]:
    """Every index of ``shape`` when there are at most ``most``, else a seeded sample of ``most``."""
    every = list(np.ndindex(shape))
    if len(every) <= most:
        return every
    chosen = rng.choice(len(every), size=most, replace=False)
    return [every[i] for i in sorted(chosen)]


def _fd_sampled(
    f: Callable[..., Array], inputs: Sequence[Array], g: Array, got: list[Array], rng: np.random.Generator, most: int
) -> list[Array]:
    """Central differences of sum(f(*inputs) * g) at a sample of each input's entries; at the
    entries not sampled, the gradient the student's code produced (``got``), so a comparison
    judges exactly the sampled entries (the judge compares every entry with the reference)."""
    out = []
    for i, x in enumerate(inputs):
        d = np.array(got[i], dtype=np.float64)
        for idx in _picks(rng, x.shape, most):
            plus = [np.array(v, dtype=np.float64) for v in inputs]
            minus = [np.array(v, dtype=np.float64) for v in inputs]
            plus[i][idx] += H
            minus[i][idx] -= H
            d[idx] = (float(np.sum(f(*plus) * g)) - float(np.sum(f(*minus) * g))) / (2 * H)
        out.append(d)
    return out


# --- batched @ ------------------------------------------------------------------------------

_MATMUL_CASES: list[tuple[str, Shape, Shape]] = [
    ("TT", (2, 3), (3, 4)),
    ("TT", (2, 3, 4), (4, 2)),
    ("TT", (3, 4), (2, 4, 5)),
    ("TT", (2, 3, 4), (2, 4, 5)),
    ("TT", (2, 1, 3, 4), (3, 4, 2)),
    ("TT", (1, 3, 2), (4, 2, 3)),
    ("TT", (3, 3, 3), (3, 3, 3)),
    ("TT", (2, 2, 3, 3), (3, 3)),
    ("TA", (2, 3, 4), (4, 3)),
    ("TT", (4, 1, 2, 3), (1, 5, 3, 2)),
    ("same", (2, 3, 3), (2, 3, 3)),
    ("same", (3, 3), (3, 3)),
]


def _shifted(prior: Array, make: Callable[[], Array]) -> Callable[[], Array]:
    return lambda: prior + make()


def _matmul_wrong(A: Array, B: Array, G: Array) -> tuple[list[tuple[Callable[[], Array], str]], list]:
    def t(x: Array) -> Array:
        return x.T

    wrong_a = [
        (lambda: unbroadcast_to(G @ t(B), A.shape), MATMUL),
        (lambda: G @ np.swapaxes(B, -1, -2), MATMUL),
        (lambda: unbroadcast_to(np.swapaxes(B, -1, -2) @ G, A.shape), MATMUL),
    ]
    wrong_b = [
        (lambda: unbroadcast_to(t(A) @ G, B.shape), MATMUL),
        (lambda: np.swapaxes(A, -1, -2) @ G, MATMUL),
        (lambda: unbroadcast_to(G @ np.swapaxes(A, -1, -2), B.shape), MATMUL),
    ]
    return wrong_a, wrong_b


def probe_matmul(Tensor: type) -> None:
    rng = np.random.default_rng(601)
    cases = []
    for k, (form, sa, sb) in enumerate(_MATMUL_CASES):
        A = draw(rng, sa)
        B = A if form == "same" else draw(rng, sb)
        pa = draw(rng, sa, -1.0, 1.0) if k % 3 else np.zeros(sa)
        pb = draw(rng, sb, -1.0, 1.0) if k % 3 else np.zeros(sb)
        a = new_tensor(Tensor, A, "A", pa) if form != "AT" else None
        b = new_tensor(Tensor, B, "B", pb) if form in ("TT", "AT") else None
        if form == "same":
            operands: tuple = (a, a)
            shown = f"a = Tensor of shape {sa}, a @ a"
        else:
            operands = (a if a is not None else A.copy(), b if b is not None else B.copy())
            shown = (
                f"a = {'Tensor' if a is not None else 'a NumPy array'} of shape {sa}, "
                f"b = {'Tensor' if b is not None else 'a NumPy array'} of shape {sb}; a @ b"
            )
        out = call(lambda: operands[0] @ operands[1], shown)
        expect_tensor(Tensor, out, "a @ b", shown)
        want = np.matmul(A, B)
        data = data_of(out, "(a @ b)", None)
        if data.shape != want.shape:
            fail(
                "the shape of a @ b",
                shown,
                f"shape {want.shape}",
                f"shape {data.shape}",
                "np.matmul's: batch axes broadcast",
            )
        if not close(data, want, 1e-9, 1e-12):
            fail("forward value of a @ b", shown, show(want), show(data), "np.matmul(a.data, b.data)")
        G = draw(rng, want.shape, -1.0, 1.0)
        backprop_from(out, G, "a @ b", MATMUL)
        rec: dict[str, Any] = {"form": form, "shapes": [list(sa), list(sb)], "out": data.tolist()}
        if form == "same":
            (fd,) = finite_differences(lambda x: np.matmul(x, x), [A], G)
            ga = grad_of(a, "a", None)
            check_grad(ga, pa, fd, "gradient of a @ a reaching a (used on both sides)", shown, shape_hint=MATMUL)
            rec["ga"] = ga.tolist()
        else:
            fda, fdb = finite_differences(np.matmul, [A, B], G)
            wrong_a, wrong_b = _matmul_wrong(A, B, G)
            if a is not None:
                ga = grad_of(a, "a", None)
                check_grad(
                    ga,
                    pa,
                    fda,
                    "gradient of a @ b reaching a",
                    shown + "; out.grad random",
                    [(_shifted(pa, w), h) for w, h in wrong_a],
                    MATMUL,
                )
                rec["ga"] = ga.tolist()
            if b is not None:
                gb = grad_of(b, "b", None)
                check_grad(
                    gb,
                    pb,
                    fdb,
                    "gradient of a @ b reaching b",
                    shown + "; out.grad random",
                    [(_shifted(pb, w), h) for w, h in wrong_b],
                    MATMUL,
                )
                rec["gb"] = gb.tolist()
        cases.append(rec)
    emit("test_matmul", cases)


# --- softmax ---------------------------------------------------------------------------------


def probe_softmax(Tensor: type, softmax: Callable) -> None:
    rng = np.random.default_rng(603)
    inputs: list[tuple[Array, int | None]] = [
        (draw(rng, (5,), -3, 3), None),
        (draw(rng, (3, 4), -3, 3), None),
        (draw(rng, (3, 4), -3, 3), -1),
        (draw(rng, (3, 4), -3, 3), 0),
        (draw(rng, (2, 3, 4), -3, 3), -1),
        (draw(rng, (2, 3, 4), -3, 3), 1),
        (draw(rng, (2, 3, 4), -3, 3), 0),
        (np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1001.0, -1002.0]]), -1),
        (np.array([[2.0, MASKED, 0.5, MASKED], [MASKED, 1.0, MASKED, 1.0]]), -1),  # masked scores
        (np.array([[0.3], [-2.0]]), -1),  # one element per row: the weight is 1, the gradient 0
        (draw(rng, (2, 2, 2, 3), -3, 3) * 10.0, -1),
    ]
    cases = []
    for k, (X, axis) in enumerate(inputs):
        ax = -1 if axis is None else axis
        prior = draw(rng, X.shape, -1.0, 1.0) if k % 2 else np.zeros(X.shape)
        x = new_tensor(Tensor, X, "x", prior)
        expr = "softmax(x)" if axis is None else f"softmax(x, axis={axis})"
        given = f"x = Tensor({show(X)}); {expr}"
        out = call(lambda: softmax(x) if axis is None else softmax(x, axis=axis), given)
        expect_tensor(Tensor, out, expr, given)
        want = _np_softmax(X, ax)
        data = data_of(out, expr, None)
        if data.shape != want.shape:
            fail(f"{expr} keeps x's shape", given, f"shape {want.shape}", f"shape {data.shape}")
        if not np.all(np.isfinite(data)) or not close(data, want, 1e-9, 1e-15):
            hint = "exp(x - max) / sum(exp(x - max)) along the axis, with keepdims=True"
            if np.all(np.isfinite(data)) and axis not in (None, -1) and close(data, _np_softmax(X, -1), 1e-9, 1e-15):
                hint = "normalise along the axis you are given, not always the last one"
            fail(f"forward value of {expr}", given, show(want), show(data), hint)
        if np.any(data[want == 0.0] != 0.0):
            fail(f"{expr}: a weight whose score is -1e9 below the others is exactly 0", given, "0.0", show(data))
        G = draw(rng, X.shape, -1.0, 1.0)
        backprop_from(out, G, expr, SOFTMAX)
        gx = grad_of(x, "x", None)
        (fd,) = finite_differences(lambda z: _np_softmax(z, ax), [X], G)
        Y = want
        diag = Y * (1 - Y) * G
        wrongs = [
            (lambda: prior + diag, SOFTMAX),
            (lambda: prior + Y * (1 - Y), "multiply by out.grad (the chain rule)"),
            (lambda: prior + Y * (G - (G * Y).sum(axis=-1, keepdims=True)), "sum (g * y) along the softmax's axis"),
        ]
        check_grad(gx, prior, fd, f"gradient of {expr} reaching x", given + f"; x.grad = {show(prior)}", wrongs)
        if np.any((gx - prior)[want == 0.0] != 0.0):
            fail(f"{expr}: no gradient reaches an entry whose weight is exactly 0", given, "0.0", show(gx - prior))
        cases.append({"axis": axis, "out": data.tolist(), "grad": gx.tolist()})
    emit("test_softmax", cases)


# --- embeddings ------------------------------------------------------------------------------


def probe_embedding(Tensor: type, embedding: Callable, Embedding: type) -> None:
    rng = np.random.default_rng(605)
    ids_cases = [
        ((5, 3), np.array([0, 2, 2, 4, 2])),
        ((4, 2), np.array([[1, 1], [3, 1]])),
        ((6, 4), np.array([[[5, 0, 5], [1, 1, 1]], [[2, 3, 4], [0, 0, 5]]])),
        ((3, 5), np.array([2])),
        ((7, 2), np.array([[0, 1, 2, 3, 4, 5, 6]])),
        ((4, 3), np.array([[3, 3, 3, 3], [3, 3, 3, 3]])),
    ]
    cases: list[dict[str, Any]] = []
    for k, (tshape, ids) in enumerate(ids_cases):
        Tb = draw(rng, tshape)
        prior = draw(rng, tshape, -1.0, 1.0) if k % 2 else np.zeros(tshape)
        table = new_tensor(Tensor, Tb, "table", prior)
        given = f"table = Tensor of shape {tshape}, ids = {ids.tolist()}"
        out = call(lambda: embedding(table, ids.copy()), f"embedding({given})")
        expect_tensor(Tensor, out, "embedding(table, ids)", given)
        want = Tb[ids]
        data = data_of(out, "embedding(table, ids)", None)
        if data.shape != want.shape:
            fail(
                "embedding(table, ids) has shape ids.shape + (D,)", given, f"shape {want.shape}", f"shape {data.shape}"
            )
        if not close(data, want, 0, 0):
            fail("embedding(table, ids): row ids[...] of the table", given, show(want), show(data), "table.data[ids]")
        G = draw(rng, want.shape, -1.0, 1.0)
        backprop_from(out, G, "embedding(table, ids)", EMBEDDING)
        gt = grad_of(table, "table", None)
        exact = np.zeros(tshape)
        np.add.at(exact, ids, G)
        overwritten = prior.copy()
        overwritten[ids] += G
        assigned = prior.copy()
        assigned[ids] = G
        check_grad(
            gt,
            prior,
            exact,
            "gradient of embedding(table, ids) reaching the table",
            given + f"; table.grad = {show(prior)}; out.grad random",
            [(const(overwritten), EMBEDDING), (const(assigned), EMBEDDING)],
        )
        cases.append({"ids": ids.tolist(), "out": data.tolist(), "grad": gt.tolist()})
    for vocab, dim, seed in ((20, 8, 3), (5, 2, 4), (12, 6, 5)):
        what = f"Embedding({vocab}, {dim}, rng)"
        layer = call(lambda: Embedding(vocab, dim, np.random.default_rng(seed)), what)
        params = parameters_of(layer, what)
        if len(params) != 1:
            fail(f"{what}.parameters() is [table]", expected="1 tensor", got=f"{len(params)}")
        got = data_of(params[0], f"{what}: the table", None)
        want = np.random.default_rng(seed).normal(0.0, 1.0, size=(vocab, dim))
        if got.shape != want.shape:
            fail(f"{what}: the table has shape (vocab, dim)", expected=f"shape {want.shape}", got=f"shape {got.shape}")
        if not close(got, want, 1e-12, 0):
            fail(
                f"{what}: the table is rng.normal(0.0, 1.0, size=(vocab, dim))",
                f"rng = numpy.random.default_rng({seed})",
                show(want),
                show(got),
            )
        ids = rng.integers(0, vocab, size=(2, 3))
        ids[1, 2] = ids[0, 0]
        out = call(lambda: layer(ids.copy()), f"{what} called on ids")
        data = data_of(out, f"{what}(ids)", (2, 3, dim))
        if not close(data, want[ids], 0, 0):
            fail(f"{what}(ids) is embedding(table, ids)", f"ids = {ids.tolist()}", show(want[ids]), show(data))
        G = draw(rng, (2, 3, dim), -1.0, 1.0)
        backprop_from(out, G, f"{what}(ids)", EMBEDDING)
        exact = np.zeros((vocab, dim))
        np.add.at(exact, ids, G)
        check_grad(
            grad_of(params[0], "the table", None),
            np.zeros((vocab, dim)),
            exact,
            f"gradient of {what}(ids) reaching its table",
            f"ids = {ids.tolist()}",
        )
        cases.append({"layer": [vocab, dim, seed], "table": got.tolist(), "out": data.tolist()})
    emit("test_embedding", cases)


# --- positional encoding ------------------------------------------------------------------------


def probe_positional_encoding(positional_encoding: Callable) -> None:
    cases = []
    for T, d in ((1, 2), (2, 2), (3, 4), (4, 6), (8, 32), (5, 16), (30, 64), (7, 10)):
        given = f"positional_encoding({T}, {d})"
        got = as_array(call(lambda: positional_encoding(T, d), given), f"{given}'s result", None)
        want = _np_positions(T, d)
        if got.shape != want.shape:
            fail(f"{given} is an array of shape (T, d)", given, f"shape {want.shape}", f"shape {got.shape}")
        if not close(got, want, 1e-9, 1e-12):
            angles = np.arange(T)[:, None] / 10000.0 ** (np.arange(0, d, 2)[None, :] / d)
            swapped = np.zeros((T, d))
            swapped[:, 0::2], swapped[:, 1::2] = np.cos(angles), np.sin(angles)
            by_column = np.arange(T)[:, None] / 10000.0 ** (np.arange(0, d, 2)[None, :] / (2 * d))
            odd = np.zeros((T, d))
            odd[:, 0::2], odd[:, 1::2] = np.sin(by_column), np.cos(by_column)
            hint = "sin(p / 10000**(2i/d)) in column 2i, cos of the same angle in column 2i + 1, p = 0 .. T - 1"
            if close(got, swapped, 1e-9, 1e-12):
                hint = "sin goes in the EVEN columns (0, 2, ...), cos in the odd ones"
            elif close(got, odd, 1e-9, 1e-12):
                hint = "the exponent is 2i/d with 2i the even column (0, 2, 4, ...), not i/d"
            elif T > 1 and close(got, _np_positions(T + 1, d)[1:], 1e-9, 1e-12):
                hint = "positions start at 0"
            fail(f"the values of {given}", given, show(want), show(got), hint)
        cases.append({"T": T, "d": d, "pe": got.tolist()})
    emit("test_positional_encoding", cases)


# --- LayerNorm --------------------------------------------------------------------------------


def probe_layer_norm(Tensor: type, LayerNorm: type) -> None:
    rng = np.random.default_rng(607)
    settings: list[tuple[int, Array, bool]] = [
        (5, draw(rng, (5,), -3, 3), False),
        (4, draw(rng, (2, 4), -3, 3), True),
        (8, draw(rng, (2, 3, 8), -3, 3), True),
        (2, draw(rng, (3, 2), -3, 3), False),
        (6, 0.7 + 1e-3 * draw(rng, (2, 6)), True),  # tiny variance: where eps shows
        (3, np.array([[2.0, 2.0, 2.0], [1.0, -1.0, 4.0]]), True),  # a constant row
        (16, 100.0 * draw(rng, (2, 16)), False),
    ]
    cases = []
    for k, (dim, X, learned) in enumerate(settings):
        what = f"LayerNorm({dim})"
        ln = call(lambda: LayerNorm(dim), what)
        params = parameters_of(ln, what)
        if len(params) != 2:
            fail(f"{what}.parameters() is [gain, bias]", expected="2 tensors", got=str(len(params)))
        g0 = data_of(params[0], f"{what}: the gain", None)
        b0 = data_of(params[1], f"{what}: the bias", None)
        if g0.shape != (dim,) or b0.shape != (dim,) or np.any(g0 != 1.0) or np.any(b0 != 0.0):
            fail(
                f"{what}: gain = ones({dim}) and bias = zeros({dim}), in that order",
                expected=f"[ones({dim}), zeros({dim})]",
                got=f"[{show(g0)}, {show(b0)}]",
            )
        gain, bias = (draw(rng, (dim,), 0.5, 2.0), draw(rng, (dim,), -1.0, 1.0)) if learned else (g0, b0)
        if learned:
            call(lambda: setattr(params[0], "data", gain.copy()), "setting the gain's data")
            call(lambda: setattr(params[1], "data", bias.copy()), "setting the bias's data")
        prior = draw(rng, X.shape, -1.0, 1.0) if k % 2 else np.zeros(X.shape)
        x = new_tensor(Tensor, X, "x", prior)
        given = f"{what} with gain {show(gain)}, bias {show(bias)}; x = {show(X)}"
        out = call(lambda: ln(x), given)
        expect_tensor(Tensor, out, f"{what}(x)", given)
        want = _np_layer_norm(X, gain, bias)
        data = data_of(out, f"{what}(x)", None)
        if data.shape != want.shape:
            fail(f"{what}(x) keeps x's shape", given, f"shape {want.shape}", f"shape {data.shape}")
        if not close(data, want, 1e-9, 1e-12):
            hint = "(x - mean) / sqrt(var + 1e-5) * gain + bias, mean and var over the last axis"
            if close(data, _np_layer_norm(X, gain, bias, ddof=1), 1e-9, 1e-12):
                hint = "the variance is the biased one: divide by D, not D - 1"
            elif close(data, _np_layer_norm(X, gain, bias, inside=False), 1e-9, 1e-12):
                hint = "eps goes INSIDE the square root: sqrt(var + eps)"
            elif close(data, _np_layer_norm(X, bias, gain), 1e-9, 1e-12):
                hint = "multiply by the gain, then add the bias"
            fail(f"forward value of {what}(x)", given, show(want), show(data), hint)
        G = draw(rng, X.shape, -1.0, 1.0)
        backprop_from(out, G, f"{what}(x)")
        gx = grad_of(x, "x", None)
        ggain = grad_of(params[0], "the gain", (dim,))
        gbias = grad_of(params[1], "the bias", (dim,))
        fdx, fdg, fdb = finite_differences(lambda z, g, b: _np_layer_norm(z, g, b), [X, gain, bias], G)
        check_grad(gx, prior, fdx, f"gradient of {what}(x) reaching x", given + f"; x.grad = {show(prior)}")
        check_grad(ggain, np.zeros(dim), fdg, f"gradient of {what}(x) reaching the gain", given)
        check_grad(gbias, np.zeros(dim), fdb, f"gradient of {what}(x) reaching the bias", given)
        cases.append(
            {
                "dim": dim,
                "out": data.tolist(),
                "gx": gx.tolist(),
                "ggain": ggain.tolist(),
                "gbias": gbias.tolist(),
            }
        )
    emit("test_layer_norm", cases)


# --- attention -------------------------------------------------------------------------------


def _padding(rng: np.random.Generator, B: int, T: int) -> Array:
    """(B, T) True on real tokens: each row keeps at least its first two, some end in padding."""
    lengths = [T if b % 2 == 0 else int(rng.integers(2, T)) for b in range(B)]
    return np.arange(T)[None, :] < np.array(lengths)[:, None]


def probe_attention(Tensor: type, attention: Callable) -> None:
    rng = np.random.default_rng(609)
    pad3 = _padding(rng, 2, 3)
    pad4 = _padding(rng, 2, 4)
    pad5 = _padding(rng, 3, 5)
    settings: list[tuple[Shape, Shape, Shape, Array | None, str]] = [
        ((3, 4), (5, 4), (5, 2), None, "no mask"),
        ((2, 3, 4), (2, 3, 4), (2, 3, 3), pad3[:, None, :], "a padding mask (B, 1, T)"),
        ((2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 3), pad4[:, None, None, :], "a padding mask (B, 1, 1, T)"),
        ((1, 4, 2), (1, 4, 2), (1, 4, 5), np.tril(np.ones((4, 4), dtype=bool)), "a causal mask (T, T)"),
        ((3, 2, 6), (3, 5, 6), (3, 5, 2), pad5[:, None, :], "queries and keys of different lengths, padded keys"),
        ((2, 3, 8), (2, 3, 8), (2, 3, 8), None, "large scores"),
        ((4, 3), (1, 3), (1, 2), None, "a single key"),
        ((2, 3, 3, 2), (2, 3, 4, 2), (2, 3, 4, 4), np.array([True, False, True, True]), "a mask of the keys (T,)"),
    ]
    cases = []
    for k, (sq, sk, sv, mask, label) in enumerate(settings):
        Q, K, V = draw(rng, sq), draw(rng, sk), draw(rng, sv)
        if label == "large scores":
            Q, K = 6.0 * Q, 6.0 * K
        priors = [draw(rng, s, -1.0, 1.0) if k % 2 else np.zeros(s) for s in (sq, sk, sv)]
        q, kk, v = (new_tensor(Tensor, a, n, p) for a, n, p in zip((Q, K, V), "qkv", priors, strict=True))
        given = f"q {sq}, k {sk}, v {sv}, {label}" + ("" if mask is None else f" = {mask.astype(int).tolist()}")
        got = call(
            lambda: attention(q, kk, v) if mask is None else attention(q, kk, v, mask.copy()), f"attention({given})"
        )
        parts = list(call(lambda: list(got), "attention returns (output, weights)"))
        if len(parts) != 2:
            fail("attention returns a pair (output, weights)", given, "2 values", str(len(parts)))
        out, weights = parts
        expect_tensor(Tensor, out, "the output of attention", given)
        expect_tensor(Tensor, weights, "the weights of attention", given)
        want, wwant = _np_attention(Q, K, V, mask)
        w = data_of(weights, "the weights", None)
        if w.shape != wwant.shape:
            fail(
                "the attention weights have the scores' shape (..., T_q, T_k)",
                given,
                f"shape {wwant.shape}",
                f"shape {w.shape}",
            )
        masked = wwant == 0.0
        if not close(w, wwant, 1e-9, 1e-15):
            hint = "softmax(q @ swap_last(k) / sqrt(d_k)) over the last axis (the keys)"
            if close(w, _np_attention(Q, K, V, mask, scale=False)[1], 1e-9, 1e-15):
                hint = SCALE
            elif mask is not None and close(w, _np_attention(Q, K, V)[1] * mask, 1e-9, 1e-15):
                hint = MASK
            elif mask is not None and np.all(np.isfinite(w)) and not close(w.sum(-1), np.ones(w.shape[:-1]), 1e-9, 0):
                hint = MASK
            fail(f"attention's weights, {label}", given, show(wwant), show(w), hint)
        if np.any(w[masked] != 0.0):
            fail(f"a masked weight is exactly 0, {label}", given, "0.0", show(w[masked]), MASK)
        data = data_of(out, "the output", None)
        if data.shape != want.shape:
            fail("attention's output has shape (..., T_q, d_v)", given, f"shape {want.shape}", f"shape {data.shape}")
        if not close(data, want, 1e-9, 1e-12):
            fail(f"attention's output, {label}: weights @ v", given, show(want), show(data))
        G = draw(rng, want.shape, -1.0, 1.0)
        backprop_from(out, G, "attention's output", MASK if mask is not None else "")
        grads = [grad_of(t, n, s) for t, n, s in zip((q, kk, v), "qkv", (sq, sk, sv), strict=True)]
        fds = finite_differences(lambda a, b, c: _np_attention(a, b, c, mask)[0], [Q, K, V], G)
        for name, g, p, fd in zip("qkv", grads, priors, fds, strict=True):
            check_grad(g, p, fd, f"gradient of attention reaching {name}, {label}", given + "; out.grad random")
        if mask is not None:  # a key no query may look at gets exactly no gradient
            never = np.all(np.broadcast_to(masked, wwant.shape), axis=-2)  # (..., T_k)
            for name, g, p, s in (("k", grads[1], priors[1], sk), ("v", grads[2], priors[2], sv)):
                if never.shape == s[:-1] and np.any((g - p)[np.broadcast_to(never[..., None], s)] != 0.0):
                    fail(
                        f"no gradient reaches a {name} that every query masks, {label}",
                        given,
                        "exactly 0",
                        show((g - p)[np.broadcast_to(never[..., None], s)]),
                        MASK,
                    )
        cases.append(
            {
                "label": label,
                "weights": w.tolist(),
                "out": data.tolist(),
                "grads": [g.tolist() for g in grads],
            }
        )
    emit("test_attention", cases)


# --- heads --------------------------------------------------------------------------------


def probe_split_merge_heads(Tensor: type, split_heads: Callable, merge_heads: Callable) -> None:
    rng = np.random.default_rng(611)
    cases = []
    for k, (shape, heads) in enumerate(
        (((1, 3, 8), 2), ((2, 4, 6), 3), ((2, 2, 4), 1), ((3, 1, 4), 4), ((2, 5, 12), 4))
    ):
        B, T, D = shape
        X = draw(rng, shape)
        prior = draw(rng, shape, -1.0, 1.0) if k % 2 else np.zeros(shape)
        x = new_tensor(Tensor, X, "x", prior)
        given = f"x of shape {shape}, {heads} heads"
        parts = call(lambda: split_heads(x, heads), f"split_heads({given})")
        expect_tensor(Tensor, parts, "split_heads(x, heads)", given)
        want = _np_split(X, heads)
        pdata = data_of(parts, "split_heads(x, heads)", None)
        if not close(pdata, want, 0, 0):
            fail(
                "split_heads: (B, T, D) -> (B, H, T, D // H), head h holding features h*d .. (h+1)*d - 1",
                given,
                f"shape {want.shape}: {show(want)}",
                f"shape {pdata.shape}: {show(pdata)}",
                "x.reshape(B, T, H, d).transpose(0, 2, 1, 3)",
            )
        back = call(lambda: merge_heads(parts), f"merge_heads(split_heads({given}))")
        expect_tensor(Tensor, back, "merge_heads(...)", given)
        bdata = data_of(back, "merge_heads(split_heads(x))", None)
        if not close(bdata, X, 0, 0):
            fail("merge_heads(split_heads(x, heads)) is x, exactly", given, show(X), show(bdata), MERGE)
        G = draw(rng, shape, -1.0, 1.0)
        backprop_from(back, G, "merge_heads(split_heads(x))", MERGE)
        gx = grad_of(x, "x", shape)
        check_grad(gx, prior, G, "gradient of merge_heads(split_heads(x)) reaching x", given)
        Y = draw(rng, (B, heads, T, D // heads))
        y = new_tensor(Tensor, Y, "y")
        merged = call(lambda: merge_heads(y), f"merge_heads of a ({B}, {heads}, {T}, {D // heads}) tensor")
        mwant = _np_merge(Y)
        mdata = data_of(merged, "merge_heads(y)", None)
        if not close(mdata, mwant, 0, 0):
            fail(
                "merge_heads: (B, H, T, d) -> (B, T, H * d), token t's features from every head in head order",
                f"y of shape {Y.shape}",
                f"shape {mwant.shape}: {show(mwant)}",
                f"shape {mdata.shape}: {show(mdata)}",
                MERGE,
            )
        G2 = draw(rng, mwant.shape, -1.0, 1.0)
        backprop_from(merged, G2, "merge_heads(y)", MERGE)
        gy = grad_of(y, "y", Y.shape)
        check_grad(
            gy,
            np.zeros(Y.shape),
            _np_split(G2, heads),
            "gradient of merge_heads(y) reaching y",
            f"y of shape {Y.shape}",
            shape_hint=MERGE,
        )
        cases.append(
            {
                "heads": heads,
                "split": pdata.tolist(),
                "gx": gx.tolist(),
                "merged": mdata.tolist(),
                "gy": gy.tolist(),
            }
        )
    emit("test_split_merge_heads", cases)


# --- layers with parameters: one helper for all ------------------------------------------------


def _check_init(params: list[Any], want: Params, names: list[str], what: str, how: str) -> list[Array]:
    if len(params) != len(want):
        fail(
            f"{what}.parameters() lists {len(want)} tensors: {', '.join(names)}",
            expected=str(len(want)),
            got=str(len(params)),
            hint=how,
        )
    got = []
    for p, w, name in zip(params, want, names, strict=True):
        d = data_of(p, f"{what}: {name}", None)
        if d.shape != w.shape:
            fail(f"{what}: the shape of {name}", expected=f"shape {w.shape}", got=f"shape {d.shape}", hint=how)
        if not close(d, w, 1e-12, 0):
            others = [n for n, o in zip(names, want, strict=True) if o.shape == d.shape and close(d, o, 1e-12, 0)]
            hint = how + (f" (yours holds what {others[0]} should)" if others else "")
            fail(f"{what}: the initial values of {name}", expected=show(w), got=show(d), hint=hint)
        got.append(d)
    return got


def _zero_grads(params: list[Any], shapes: list[Shape]) -> None:
    for p, s in zip(params, shapes, strict=True):
        call(lambda: setattr(p, "grad", np.zeros(s)), "setting a parameter's grad")


def _layer_case(
    Tensor: type,
    model: Any,
    params: list[Any],
    values: Params,
    names: list[str],
    f: Callable[..., Array],
    X: Array,
    mask: Array | None,
    what: str,
    given: str,
    rng: np.random.Generator,
    wrong_forward: Sequence[tuple[Callable[[], Array], str]] = (),
    most: int = 12,
) -> dict[str, Any]:
    """One forward and backward pass of a layer on x (with ``values`` in its parameters):
    its output against ``f(X, *values)``, every gradient against central differences of
    ``f`` (a sample of each large tensor's entries). The record: output and gradients."""
    _zero_grads(params, [v.shape for v in values])
    x = new_tensor(Tensor, X, "x")
    out = call(lambda: model(x) if mask is None else model(x, mask.copy()), given)
    expect_tensor(Tensor, out, f"{what}(x)", given)
    want = f(X, *values)
    data = data_of(out, f"{what}(x)", None)
    if data.shape != want.shape:
        fail(f"the shape of {what}(x)", given, f"shape {want.shape}", f"shape {data.shape}")
    if not close(data, want, 1e-9, 1e-12):
        hint = ""
        for make, text in wrong_forward:
            if close(data, make(), 1e-9, 1e-12):
                hint = text
                break
        fail(f"the output of {what}(x)", given, show(want), show(data), hint)
    G = draw(rng, want.shape, -1.0, 1.0)
    backprop_from(out, G, f"{what}(x)")
    got = [grad_of(x, "x", X.shape)] + [
        grad_of(p, f"{what}: {n}", v.shape) for p, n, v in zip(params, names, values, strict=True)
    ]
    fds = _fd_sampled(f, [X, *values], G, got, rng, most)
    for g, fd, name in zip(got, fds, ["x", *names], strict=True):
        check_grad(g, np.zeros(g.shape), fd, f"gradient of {what}(x) reaching {name}", given + "; out.grad random")
    return {"out": data.tolist(), "grads": [g.tolist() for g in got]}


def _set_values(params: list[Any], values: Params) -> None:
    for p, v in zip(params, values, strict=True):
        call(lambda: setattr(p, "data", v.copy()), "setting a parameter's data")


_MHA_NAMES = ["Wq.W", "Wq.b", "Wk.W", "Wk.b", "Wv.W", "Wv.b", "Wo.W", "Wo.b"]
_FFN_NAMES = ["lin1.W", "lin1.b", "lin2.W", "lin2.b"]
_BLOCK_NAMES = (
    [f"attn.{n}" for n in _MHA_NAMES]
    + ["ln1.gain", "ln1.bias"]
    + [f"ffn.{n}" for n in _FFN_NAMES]
    + [
        "ln2.gain",
        "ln2.bias",
    ]
)
LINEARS = "each a milestone-5 Linear(nin, nout, rng): W drawn first, then b, from the rng passed in"


def _mask_for(kind: str, rng: np.random.Generator, B: int, T: int) -> Array | None:
    if kind == "padding":
        return _padding(rng, B, T)[:, None, None, :]
    if kind == "causal":
        return np.tril(np.ones((T, T), dtype=bool))
    return None


def probe_multi_head_attention(Tensor: type, MultiHeadAttention: type) -> None:
    rng = np.random.default_rng(613)
    cases = []
    for dim, heads, seed, B, T, kind in (
        (4, 1, 21, 2, 3, None),
        (6, 2, 22, 2, 4, "padding"),
        (8, 2, 23, 1, 5, "causal"),
        (8, 4, 24, 3, 3, "padding"),
        (6, 3, 25, 2, 2, None),
    ):
        what = f"MultiHeadAttention({dim}, {heads}, rng)"
        model = call(lambda: MultiHeadAttention(dim, heads, np.random.default_rng(seed)), what)
        params = parameters_of(model, what)
        values = _check_init(
            params,
            _init_mha(np.random.default_rng(seed), dim),
            _MHA_NAMES,
            what,
            f"Wq, Wk, Wv, Wo created in that order, {LINEARS}; parameters() lists [W, b] of each",
        )
        mask = _mask_for(kind or "", rng, B, T)
        X = draw(rng, (B, T, dim))
        given = f"{what} with rng = numpy.random.default_rng({seed}); x of shape {X.shape}, " + (
            "no mask" if mask is None else f"a {kind} mask {mask.astype(int).tolist()}"
        )

        def f(x: Array, *p: Array, heads: int = heads, mask: Array | None = mask) -> Array:
            return _np_mha(x, p, heads, mask)[0]

        def unsplit(X: Array = X, values: Params = values, mask: Array | None = mask) -> Array:
            q, k, v = (X @ values[2 * i] + values[2 * i + 1] for i in range(3))
            return _np_attention(q, k, v, mask)[0] @ values[6] + values[7]

        def merged_wrong(X: Array = X, values: Params = values, heads: int = heads, mask: Array | None = mask) -> Array:
            q, k, v = (_np_split(X @ values[2 * i] + values[2 * i + 1], heads) for i in range(3))
            out, _ = _np_attention(q, k, v, mask)
            return out.reshape(X.shape) @ values[6] + values[7]

        wrong: list[tuple[Callable[[], Array], str]] = [
            (merged_wrong, MERGE),
            (
                unsplit,
                "split each projection into heads (B, H, T, d) before the attention: each head attends on its own",
            ),
        ]
        rec = _layer_case(Tensor, model, params, values, _MHA_NAMES, f, X, mask, what, given, rng, wrong)
        weights = as_array(call(lambda: model.weights, f"{what}.weights"), f"{what}.weights (a NumPy array)", None)
        wwant = _np_mha(X, values, heads, mask)[1]
        if weights.shape != wwant.shape or not close(weights, wwant, 1e-9, 1e-15):
            fail(
                f"{what}.weights: the attention weights of the last call, (B, H, T, T)",
                given,
                f"shape {wwant.shape}: {show(wwant)}",
                f"shape {weights.shape}: {show(weights)}",
                "self.weights = weights.data, from attention(Q, K, V, mask)",
            )
        rec["weights"] = weights.tolist()
        rec["config"] = [dim, heads, seed]
        cases.append(rec)
    emit("test_multi_head_attention", cases)


def _away_from_kinks(pre: Array, gap: float = 1e-4) -> bool:
    return bool(np.all(np.abs(pre) > gap))


def probe_feed_forward(Tensor: type, FeedForward: type) -> None:
    rng = np.random.default_rng(615)
    cases = []
    for dim, hidden, seed, shape in (
        (4, 6, 31, (2, 3, 4)),
        (3, 5, 32, (4, 3)),
        (8, 16, 33, (1, 2, 8)),
        (2, 3, 34, (2, 2)),
    ):
        what = f"FeedForward({dim}, {hidden}, rng)"
        model = call(lambda: FeedForward(dim, hidden, np.random.default_rng(seed)), what)
        params = parameters_of(model, what)
        values = _check_init(
            params,
            _init_ffn(np.random.default_rng(seed), dim, hidden),
            _FFN_NAMES,
            what,
            f"Linear(dim, hidden, rng) then Linear(hidden, dim, rng), {LINEARS}",
        )
        X = draw(rng, shape)
        while not _away_from_kinks(X @ values[0] + values[1]):
            X = draw(rng, shape)
        given = f"{what} with rng = numpy.random.default_rng({seed}); x of shape {shape}"

        def f(x: Array, *p: Array) -> Array:
            return _np_ffn(x, p)

        wrong = [
            (
                lambda X=X, values=values: np.tanh(X @ values[0] + values[1]) @ values[2] + values[3],
                "relu between the two layers, not tanh",
            ),
            (lambda X=X, values=values: np.maximum(_np_ffn(X, values), 0.0), "no relu after the second layer"),
        ]
        rec = _layer_case(Tensor, model, params, values, _FFN_NAMES, f, X, None, what, given, rng, wrong, most=64)
        rec["config"] = [dim, hidden, seed]
        cases.append(rec)
    emit("test_feed_forward", cases)


def probe_transformer_block(Tensor: type, TransformerBlock: type) -> None:
    rng = np.random.default_rng(617)
    cases = []
    for dim, heads, hidden, seed, B, T, kind in (
        (8, 2, 16, 41, 2, 3, "padding"),
        (6, 3, 12, 42, 1, 4, None),
        (4, 1, 8, 43, 2, 3, "causal"),
    ):
        what = f"TransformerBlock({dim}, {heads}, {hidden}, rng)"
        model = call(lambda: TransformerBlock(dim, heads, hidden, np.random.default_rng(seed)), what)
        params = parameters_of(model, what)
        values = _check_init(
            params,
            _init_block(np.random.default_rng(seed), dim, hidden),
            _BLOCK_NAMES,
            what,
            "attn = MultiHeadAttention(dim, heads, rng), ln1 = LayerNorm(dim), ffn = FeedForward(dim, "
            "hidden, rng), ln2 = LayerNorm(dim), created and listed in that order",
        )
        for i in (8, 9, 14, 15):  # learned LayerNorm gains and biases: each must be used where it belongs
            values[i] = draw(rng, (dim,), 0.5, 1.5) if i in (8, 14) else draw(rng, (dim,), -0.5, 0.5)
        _set_values(params, values)
        mask = _mask_for(kind or "", rng, B, T)
        X = draw(rng, (B, T, dim))
        for _ in range(50):  # keep the feed-forward's relu away from its kink for the differences
            h = _np_layer_norm(X + _np_mha(X, values[:8], heads, mask)[0], values[8], values[9])
            if _away_from_kinks(h @ values[10] + values[11]):
                break
            X = draw(rng, (B, T, dim))
        given = (
            f"{what} with rng = numpy.random.default_rng({seed}), LayerNorm gains and biases set; "
            f"x of shape {X.shape}, " + ("no mask" if mask is None else f"a {kind} mask")
        )

        def f(x: Array, *p: Array, heads: int = heads, mask: Array | None = mask) -> Array:
            return _np_block(x, p, heads, mask)

        wrong = [
            (lambda X=X, values=values, heads=heads, mask=mask: _np_block(X, values, heads, mask, pre=True), POST_LN)
        ]
        rec = _layer_case(Tensor, model, params, values, _BLOCK_NAMES, f, X, mask, what, given, rng, wrong, most=8)
        rec["config"] = [dim, heads, hidden, seed]
        cases.append(rec)
    emit("test_transformer_block", cases)


def _encoder_names(blocks: int) -> list[str]:
    return ["embed.table", *[f"block {b}: {n}" for b in range(blocks) for n in _BLOCK_NAMES], "head.W", "head.b"]


def probe_encoder(Tensor: type, Encoder: type) -> None:
    rng = np.random.default_rng(619)
    cases = []
    for vocab, dim, heads, hidden, blocks, seed, B, T in ((20, 8, 2, 16, 1, 51, 3, 6), (12, 6, 3, 8, 2, 52, 2, 5)):
        what = f"Encoder({vocab}, {dim}, {heads}, {hidden}, {blocks}, rng)"
        model = call(lambda: Encoder(vocab, dim, heads, hidden, blocks, np.random.default_rng(seed)), what)
        params = parameters_of(model, what)
        names = _encoder_names(blocks)
        values = _check_init(
            params,
            _init_encoder(np.random.default_rng(seed), vocab, dim, hidden, blocks),
            names,
            what,
            "embed = Embedding(vocab, dim, rng), then each TransformerBlock(dim, heads, hidden, rng), "
            "then head = Linear(dim, vocab, rng): created and listed in that order",
        )
        mask = _padding(rng, B, T)
        ids = np.where(mask, rng.integers(1, vocab, size=(B, T)), 0)
        ids[0, 1] = ids[0, 2] = ids[1, 0]  # a token used several times
        given = (
            f"{what} with rng = numpy.random.default_rng({seed}); ids {ids.tolist()}, mask {mask.astype(int).tolist()}"
        )
        for with_mask in (True, False):
            _zero_grads(params, [v.shape for v in values])
            out = call(
                lambda: model(ids.copy(), mask.copy()) if with_mask else model(ids.copy()),
                given + ("" if with_mask else " (no mask)"),
            )
            expect_tensor(Tensor, out, f"{what}(ids, mask)", given)
            want = _np_encoder(ids, mask if with_mask else None, values, heads)
            data = data_of(out, f"{what}(ids, mask)", None)
            if data.shape != want.shape:
                fail(
                    f"the logits of {what}(ids, mask): (B, vocab)", given, f"shape {want.shape}", f"shape {data.shape}"
                )
            if not close(data, want, 1e-9, 1e-12):
                hint = (
                    "embedding + positional_encoding(T, dim); every block with mask[:, None, None, :]; the vector "
                    "at position 0; the head"
                )
                if with_mask and close(data, _np_encoder(ids, None, values, heads), 1e-9, 1e-12):
                    hint = "pass the padding mask to every block, as mask[:, None, None, :] (it masks the keys)"
                fail(f"the logits of {what}(ids{', mask' if with_mask else ''})", given, show(want), show(data), hint)
            cases.append(
                {
                    "config": [vocab, dim, heads, hidden, blocks, seed],
                    "ids": ids.tolist(),
                    "mask": with_mask,
                    "out": data.tolist(),
                }
            )
        G = draw(rng, want.shape, -1.0, 1.0)
        backprop_from(out, G, f"{what}(ids)")  # the last pass: without the mask
        got = [grad_of(p, f"{what}: {n}", v.shape) for p, n, v in zip(params, names, values, strict=True)]
        fds = _fd_sampled(lambda *p: _np_encoder(ids, None, p, heads), values, G, got, rng, 4)
        for g, fd, name in zip(got, fds, names, strict=True):
            check_grad(
                g, np.zeros(g.shape), fd, f"gradient of {what}(ids) reaching {name}", given + "; out.grad random"
            )
        cases.append({"grads": [g.tolist() for g in got]})
    emit("test_encoder", cases)


# --- the trained encoder --------------------------------------------------------------------

HELDOUT_SEED, HELDOUT_N, THRESHOLD = 6006, 600, 0.95


def _heldout() -> tuple[list[Any], Array, Array, Array]:
    """Examples the notebook's training never saw (its training set is excluded), padded."""
    from course_lib import digit_tasks

    train, _ = digit_tasks.make_split(3000, 500, seed=0)  # the notebook's
    examples = digit_tasks.make_examples(HELDOUT_N, seed=HELDOUT_SEED, exclude=train)
    ids, mask, targets = digit_tasks.make_batch(examples)
    return examples, ids, mask, targets


def probe_trained(Tensor: type, model: Any, heads: int) -> None:
    """The trained encoder, judged by held-out accuracy recomputed here from its parameters
    (the documented architecture and order), and its own logits required to agree."""
    if type(heads) is not int or heads < 1:
        fail("the number of heads is a positive int", got=repr(heads))
    params = parameters_of(model, "the trained model")
    if len(params) < 19 or (len(params) - 3) % 16:
        fail(
            "the trained Encoder's parameters(): the table, 16 per block, the head's W and b",
            expected="3 + 16 * blocks tensors",
            got=str(len(params)),
        )
    blocks = (len(params) - 3) // 16
    values = [data_of(p, f"trained parameter {i}", None) for i, p in enumerate(params)]
    vocab, dim = values[0].shape if values[0].ndim == 2 else (0, 0)
    hidden = values[11].shape[1] if values[11].ndim == 2 else 0
    if not vocab or dim % heads:
        fail(
            "the trained model's embedding table is (vocab, dim), dim a multiple of the heads", got=str(values[0].shape)
        )
    want = [np.zeros(v.shape) for v in _init_encoder(np.random.default_rng(0), vocab, dim, hidden, blocks)]
    for i, (v, w, name) in enumerate(zip(values, want, _encoder_names(blocks), strict=True)):
        if v.shape != w.shape:
            fail(
                f"trained parameter {i} ({name}) has the documented shape",
                expected=f"shape {w.shape}",
                got=f"shape {v.shape}",
            )
        if not np.all(np.isfinite(v)):
            fail(f"every trained parameter is finite ({name} is not)", hint="a learning rate too high diverges")
    examples, ids, mask, targets = _heldout()
    if vocab <= int(ids.max()):
        fail("the model's vocabulary holds the task's 20 tokens", got=f"a table of {vocab} rows")
    logits = _np_encoder(ids, mask, values, heads)
    own = data_of(
        call(lambda: model(ids.copy(), mask.copy()), "the trained model on held-out examples"),
        "the model's logits",
        logits.shape,
    )
    if not close(own, logits, 1e-7, 1e-9):
        fail(
            "the model's logits come from its parameters, in the documented architecture",
            f"{HELDOUT_N} held-out examples",
            show(logits[:2]),
            show(own[:2]),
            "embedding + positions, post-LN blocks with the padding mask, position 0, the head",
        )
    predicted = logits.argmax(axis=1)
    correct = predicted == targets
    accuracy = float(correct.mean())
    if not accuracy >= THRESHOLD:
        per_op: dict[str, tuple[int, int]] = {}
        for ex, ok in zip(examples, correct, strict=True):
            n, c = per_op.get(ex.op, (0, 0))
            per_op[ex.op] = (n + 1, c + int(ok))
        shown = ", ".join(f"{op} {c / n:.0%}" for op, (n, c) in per_op.items())
        fail(
            f"the trained model answers at least {THRESHOLD:.0%} of unseen examples",
            f"{HELDOUT_N} examples the training set does not hold, recomputed from the parameters",
            f">= {THRESHOLD:.0%}",
            f"{accuracy:.1%} ({shown})",
            "a learning rate between 0.003 and 0.01 and 4 to 8 epochs; too high a rate diverges",
        )
    emit(
        "test_trained",
        [
            {
                "kind": "m6.heldout_accuracy",
                "threshold": THRESHOLD,
                "seed": HELDOUT_SEED,
                "targets": targets.tolist(),
                "predictions": predicted.tolist(),
                "heads": heads,
            }
        ],
    )


@compare.kind("heldout_accuracy", judges="predictions")
def compare_accuracy(ref: dict, got: dict, path: str) -> str | None:
    """A trained classifier is right when its predictions on the held-out examples (computed
    by the probe from its parameters, not by its own forward pass) get at least the
    reference's threshold of the reference's targets right, whatever its training path."""
    targets, predicted = ref["targets"], got.get("predictions")
    if not isinstance(predicted, list) or len(predicted) != len(targets) or not all(type(p) is int for p in predicted):
        return f"{path}: one predicted token per held-out example is expected"
    accuracy = sum(p == t for p, t in zip(predicted, targets, strict=True)) / len(targets)
    if not accuracy >= ref["threshold"]:
        return (
            f"{path}: the trained model's accuracy on held-out examples, recomputed from its parameters, is "
            f"{accuracy:.1%} (it should be at least {ref['threshold']:.0%})"
        )
    return None


__all__ = [
    "GRAD_TOL",
    "fmt",
    "probe_attention",
    "probe_embedding",
    "probe_encoder",
    "probe_feed_forward",
    "probe_layer_norm",
    "probe_matmul",
    "probe_multi_head_attention",
    "probe_positional_encoding",
    "probe_softmax",
    "probe_split_merge_heads",
    "probe_trained",
    "probe_transformer_block",
]
