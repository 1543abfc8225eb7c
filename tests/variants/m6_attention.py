"""m6_attention submissions: the milestone's classic pitfalls (attention without the
1/sqrt(d_k) scale, a mask applied after the softmax, the seed transformer's diagonal-only
softmax backward, an embedding gradient that loses repeated tokens, LayerNorm's eps outside
the square root or an unbiased variance, heads merged without transposing back, sin and cos
swapped, a pre-LN block, a batched @ whose backward transposes every axis, and more), and a
correct solution written differently (np.einsum, closures of their own, a softmax made of
exp and sum, a LayerNorm with its own backward, a loop over the heads with selection
matrices, first-token pooling by a product, ...)."""

ALTERNATIVE = {
    "tensor_matmul": """
@attach(Tensor)
def __matmul__(self, other):
    other = other if isinstance(other, Tensor) else Tensor(other)
    a, b = self.data, other.data
    out = Tensor(np.einsum("...ik,...kj->...ij", a, b), (self, other), "matmul")

    def _backward():
        g = out.grad
        da = np.einsum("...ij,...kj->...ik", g, b)       # the batch axes as broadcast
        db = np.einsum("...ik,...ij->...kj", a, g)
        while da.ndim > a.ndim:
            da = da.sum(axis=0)
        while db.ndim > b.ndim:
            db = db.sum(axis=0)
        self.grad += da.sum(axis=tuple(i for i in range(a.ndim - 2) if a.shape[i] == 1 and da.shape[i] != 1),
                            keepdims=True)
        other.grad += db.sum(axis=tuple(i for i in range(b.ndim - 2) if b.shape[i] == 1 and db.shape[i] != 1),
                             keepdims=True)

    out._backward = _backward
    return out
""",
    # from the tensor operations of milestone 5: no closure of its own
    "softmax": """
def softmax(x, axis=-1):
    e = (x - x.data.max(axis=axis, keepdims=True)).exp()
    return e / e.sum(axis=axis, keepdims=True)
""",
    "embedding": """
def embedding(table, ids):
    ids = np.asarray(ids)
    vocab = table.shape[0]
    out = Tensor(np.take(table.data, ids, axis=0), (table,), "lookup")

    def _backward():
        one_hot = np.eye(vocab)[ids.reshape(-1)]                     # (n, V)
        table.grad += one_hot.T @ out.grad.reshape(-1, table.shape[1])

    out._backward = _backward
    return out


class Embedding:
    def __init__(self, vocab, dim, rng):
        self.table = Tensor(rng.standard_normal((vocab, dim)))

    def __call__(self, ids):
        return embedding(self.table, ids)

    def parameters(self):
        return [self.table]
""",
    "positional_encoding": """
def positional_encoding(T, d):
    pe = np.empty((T, d))
    frequencies = np.exp(-math.log(10000.0) * np.arange(0, d, 2) / d)
    for p in range(T):
        pe[p, 0::2] = np.sin(p * frequencies)
        pe[p, 1::2] = np.cos(p * frequencies)
    return pe
""",
    # a closure of its own: the backward of normalisation written out
    "layer_norm": """
class LayerNorm:
    def __init__(self, dim, eps=1e-5):
        self.gain, self.bias, self.eps = Tensor(np.ones(dim)), Tensor(np.zeros(dim)), eps

    def __call__(self, x):
        mu = x.data.mean(axis=-1, keepdims=True)
        inv = 1.0 / np.sqrt(x.data.var(axis=-1, keepdims=True) + self.eps)
        xhat = (x.data - mu) * inv
        gain, bias = self.gain, self.bias
        out = Tensor(xhat * gain.data + bias.data, (x, gain, bias), "layernorm")

        def _backward():
            g = out.grad
            lead = tuple(range(g.ndim - 1))
            gain.grad += (g * xhat).sum(axis=lead)
            bias.grad += g.sum(axis=lead)
            gx = g * gain.data
            x.grad += inv * (gx - gx.mean(axis=-1, keepdims=True) - xhat * (gx * xhat).mean(axis=-1, keepdims=True))

        out._backward = _backward
        return out

    def parameters(self):
        return [self.gain, self.bias]
""",
    # einsum inside, through two products of its own
    "attention": """
def _product(spec, back_a, back_b, a, b):
    out = Tensor(np.einsum(spec, a.data, b.data), (a, b), "einsum")

    def _backward():
        a.grad += unbroadcast(np.einsum(back_a, out.grad, b.data), a.shape)
        b.grad += unbroadcast(np.einsum(back_b, out.grad, a.data), b.shape)

    out._backward = _backward
    return out


def attention(q, k, v, mask=None):
    scores = _product("...qd,...kd->...qk", "...qk,...kd->...qd", "...qk,...qd->...kd", q, k)
    scores = scores / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores + np.where(mask, 0.0, -1e9)
    weights = softmax(scores)
    return _product("...qk,...kd->...qd", "...qd,...kd->...qk", "...qd,...qk->...kd", weights, v), weights
""",
    "split_merge_heads": """
def _moved(x, shape, perm):
    out = Tensor(np.transpose(x.data.reshape(shape), perm), (x,), "heads")

    def _backward():
        x.grad += np.transpose(out.grad, np.argsort(perm)).reshape(x.shape)

    out._backward = _backward
    return out


def split_heads(x, heads):
    B, T, D = x.shape
    return _moved(x, (B, T, heads, D // heads), (0, 2, 1, 3))


def merge_heads(x):
    B, H, T, d = x.shape
    out = Tensor(np.swapaxes(x.data, 1, 2).reshape(B, T, H * d), (x,), "merge")

    def _backward():
        x.grad += np.swapaxes(out.grad.reshape(B, T, H, d), 1, 2)

    out._backward = _backward
    return out
""",
    # a loop over the heads: each head's features picked (and put back) by a 0/1 matrix
    "multi_head_attention": """
class MultiHeadAttention:
    def __init__(self, dim, heads, rng):
        self.heads, self.dim = heads, dim
        self.Wq, self.Wk, self.Wv, self.Wo = (Linear(dim, dim, rng) for _ in range(4))
        self.weights = None

    def __call__(self, x, mask=None):
        d = self.dim // self.heads
        q, k, v = self.Wq(x), self.Wk(x), self.Wv(x)
        B, T = x.shape[0], x.shape[1]
        merged = None
        weights = []
        for h in range(self.heads):
            pick = np.zeros((self.dim, d))
            pick[h * d:(h + 1) * d, :] = np.eye(d)
            m = None if mask is None else np.broadcast_to(mask, (B, self.heads, T, T))[:, h]
            out, w = attention(q @ pick, k @ pick, v @ pick, m)
            weights.append(w.data)
            part = out @ pick.T
            merged = part if merged is None else merged + part
        self.weights = np.stack(weights, axis=1)
        return self.Wo(merged)

    def parameters(self):
        params = []
        for layer in (self.Wq, self.Wk, self.Wv, self.Wo):
            params += [layer.W, layer.b]
        return params
""",
    "feed_forward": """
class FeedForward:
    def __init__(self, dim, hidden, rng):
        self.lin1 = Linear(dim, hidden, rng)
        self.lin2 = Linear(hidden, dim, rng)

    def __call__(self, x):
        hidden = (x @ self.lin1.W + self.lin1.b).relu()
        return hidden @ self.lin2.W + self.lin2.b

    def parameters(self):
        return [self.lin1.W, self.lin1.b, self.lin2.W, self.lin2.b]
""",
    "transformer_block": """
class TransformerBlock:
    def __init__(self, dim, heads, hidden, rng):
        self.attn = MultiHeadAttention(dim, heads, rng)
        self.ln1 = LayerNorm(dim)
        self.ffn = FeedForward(dim, hidden, rng)
        self.ln2 = LayerNorm(dim)

    def __call__(self, x, mask=None):
        attended = self.attn(x, mask=mask)
        h = self.ln1(attended + x)
        return self.ln2(self.ffn(h) + h)

    def parameters(self):
        return [p for part in (self.attn, self.ln1, self.ffn, self.ln2) for p in part.parameters()]
""",
    # first-token pooling as a product with a (1, T) row that picks position 0
    "encoder": """
class Encoder:
    def __init__(self, vocab, dim, heads, hidden, blocks, rng):
        self.dim = dim
        self.embed = Embedding(vocab, dim, rng)
        self.blocks = []
        for _ in range(blocks):
            self.blocks.append(TransformerBlock(dim, heads, hidden, rng))
        self.head = Linear(dim, vocab, rng)

    def __call__(self, ids, mask=None):
        B, T = np.shape(ids)
        x = self.embed(ids) + Tensor(positional_encoding(T, self.dim))
        keys = None if mask is None else np.reshape(mask, (B, 1, 1, T))
        for block in self.blocks:
            x = block(x, keys)
        first = np.zeros((1, T))
        first[0, 0] = 1.0
        return self.head((Tensor(first) @ x).reshape(B, self.dim))

    def parameters(self):
        return [*self.embed.parameters(), *[p for b in self.blocks for p in b.parameters()], *self.head.parameters()]
""",
}

# more correct answers, each graded alone in the round trip (alt_<name>) and in-process
ALTERNATIVES = {
    # softmax as exp(log_softmax): milestone 5's stable log_softmax works on the last axis,
    # so another axis is moved there and back
    "softmax_from_log_softmax": {
        "softmax": """
def softmax(x, axis=-1):
    n = len(x.shape)
    axis = axis % n
    if axis == n - 1:
        return log_softmax(x).exp()
    order = [a for a in range(n) if a != axis] + [axis]
    return log_softmax(x.transpose(*order)).exp().transpose(*np.argsort(order).tolist())
"""
    },
}

PITFALLS = {
    # (1) the seed transformer's softmax backward: the Jacobian's diagonal only
    "softmax_diagonal_backward": (
        {"softmax": [("x.grad += y * (g - (g * y).sum(axis=axis, keepdims=True))", "x.grad += y * (1 - y) * g")]},
        ["test_softmax", "test_attention", "test_multi_head_attention", "test_transformer_block", "test_encoder"],
    ),
    "softmax_unshifted": (
        {"softmax": [("shifted = x.data - x.data.max(axis=axis, keepdims=True)", "shifted = x.data")]},
        ["test_softmax"],
    ),
    # (2) attention's scores not divided by sqrt(d_k)
    "attention_unscaled": (
        {"attention": [("(q @ swap_last(k)) * (1.0 / math.sqrt(d_k))", "q @ swap_last(k)")]},
        ["test_attention", "test_multi_head_attention", "test_transformer_block", "test_encoder"],
    ),
    # (3) the mask applied after the softmax: masked weights 0, rows no longer summing to 1
    "mask_after_softmax": (
        {
            "attention": [
                ("    if mask is not None:\n        scores = scores + np.where(mask, 0.0, -1e9)\n", ""),
                (
                    "    weights = softmax(scores, axis=-1)\n",
                    "    weights = softmax(scores, axis=-1)\n    if mask is not None:\n"
                    "        weights = weights * np.where(mask, 1.0, 0.0)\n",
                ),
            ]
        },
        ["test_attention", "test_multi_head_attention", "test_transformer_block", "test_encoder"],
    ),
    "mask_ignored": (
        {"attention": [("        scores = scores + np.where(mask, 0.0, -1e9)\n", "        pass\n")]},
        ["test_attention", "test_multi_head_attention", "test_transformer_block", "test_encoder"],
    ),
    # (4) repeated tokens: a fancy-index += writes a repeated row once
    "embedding_overwrites_repeats": (
        {"embedding": [("np.add.at(table.grad, ids, out.grad)", "table.grad[ids] += out.grad")]},
        ["test_embedding", "test_encoder"],
    ),
    "embedding_scaled_init": (
        {"embedding": [("rng.normal(0.0, 1.0, size=(vocab, dim))", "rng.normal(0.0, 1.0, size=(vocab, dim)) * 0.02")]},
        ["test_embedding", "test_encoder"],
    ),
    # (5) LayerNorm: eps outside the square root, or the unbiased variance
    "layer_norm_eps_outside": (
        {"layer_norm": [("(variance + self.eps) ** -0.5", "(variance**0.5 + self.eps) ** -1")]},
        ["test_layer_norm", "test_transformer_block", "test_encoder"],
    ),
    "layer_norm_unbiased_variance": (
        {
            "layer_norm": [
                (
                    "variance = (centred**2).mean(axis=-1, keepdims=True)",
                    "variance = (centred**2).sum(axis=-1, keepdims=True) * (1.0 / (x.shape[-1] - 1))",
                )
            ]
        },
        ["test_layer_norm", "test_transformer_block", "test_encoder"],
    ),
    # (6) heads merged by a reshape alone
    "merge_without_transpose": (
        {
            "split_merge_heads": [
                ("return x.transpose(0, 2, 1, 3).reshape(B, T, H * d)", "return x.reshape(B, T, H * d)")
            ]
        },
        ["test_split_merge_heads", "test_multi_head_attention", "test_transformer_block", "test_encoder"],
    ),
    # (7) sin and cos swapped
    "positional_sin_cos_swapped": (
        {
            "positional_encoding": [
                ("pe[:, 0::2] = np.sin(angles)", "pe[:, 0::2] = np.cos(angles)"),
                ("pe[:, 1::2] = np.cos(angles)", "pe[:, 1::2] = np.sin(angles)"),
            ]
        },
        ["test_positional_encoding", "test_encoder"],
    ),
    "positional_exponent_i_over_d": (
        {"positional_encoding": [("10000.0 ** (two_i / d)", "10000.0 ** (two_i / (2 * d))")]},
        ["test_positional_encoding", "test_encoder"],
    ),
    # (8) pre-LN where the course asks for post-LN
    "pre_ln_block": (
        {
            "transformer_block": [
                (
                    "        x = self.ln1(x + self.attn(x, mask))\n        return self.ln2(x + self.ffn(x))",
                    "        x = x + self.attn(self.ln1(x), mask)\n        return x + self.ffn(self.ln2(x))",
                )
            ]
        },
        ["test_transformer_block", "test_encoder"],
    ),
    # (9) the batched @'s backward with X.T, which reverses the batch axes too
    "matmul_backward_without_swapaxes": (
        {
            "tensor_matmul": [
                ("np.swapaxes(other.data, -1, -2)", "other.data.T"),
                ("np.swapaxes(self.data, -1, -2)", "self.data.T"),
            ]
        },
        ["test_matmul"],
    ),
    "matmul_backward_not_summed_over_the_batch": (
        {
            "tensor_matmul": [
                (
                    "other.grad += unbroadcast(np.matmul(np.swapaxes(self.data, -1, -2), out.grad), other.shape)",
                    "other.grad += np.matmul(np.swapaxes(self.data, -1, -2), out.grad)",
                )
            ]
        },
        ["test_matmul"],
    ),
    # and the rest of the milestone's slips
    "mha_draws_wo_first": (
        {
            "multi_head_attention": [
                (
                    "        self.Wq = Linear(dim, dim, rng)\n",
                    "        self.Wo = Linear(dim, dim, rng)\n        self.Wq = Linear(dim, dim, rng)\n",
                ),
                ("        self.Wo = Linear(dim, dim, rng)\n        self.weights", "        self.weights"),
            ]
        },
        ["test_multi_head_attention", "test_transformer_block", "test_encoder"],
    ),
    "mha_forgets_output_projection": (
        {"multi_head_attention": [("return self.Wo(merge_heads(out))", "return merge_heads(out)")]},
        ["test_multi_head_attention", "test_transformer_block", "test_encoder"],
    ),
    "ffn_tanh": (
        {"feed_forward": [("self.lin1(x).relu()", "self.lin1(x).tanh()")]},
        ["test_feed_forward", "test_transformer_block", "test_encoder"],
    ),
    "encoder_pools_the_last_token": (
        {"encoder": [("first[0, 0, 0] = 1.0", "first[0, -1, 0] = 1.0")]},
        ["test_encoder"],
    ),
    "encoder_ignores_the_mask": (
        {"encoder": [("            x = block(x, keys)", "            x = block(x)")]},
        ["test_encoder"],
    ),
}

# pitfall -> words the first cell it loses says (tests/test_variants_judged.py)
SAYS = {
    "softmax_diagonal_backward": "only its diagonal",
    "attention_unscaled": "sqrt(d_k)",
    "mask_after_softmax": "before the softmax",
    "embedding_overwrites_repeats": "np.add.at",
    "layer_norm_eps_outside": "INSIDE the square root",
    "layer_norm_unbiased_variance": "biased one",
    "merge_without_transpose": "THEN reshape",
    "positional_sin_cos_swapped": "EVEN columns",
    "positional_exponent_i_over_d": "not i/d",
    "pre_ln_block": "post-LN",
    "matmul_backward_without_swapaxes": "X.T reverses EVERY axis",
    "encoder_ignores_the_mask": "pass the padding mask",
}

# Answers of the wrong kind (a list, NaN, a constructor that raises): each loses its cell
# with a message, never a crash of the probe or a hang.
PITFALLS |= {
    f"hostile_{cell}": ({cell: source}, loses)
    for cell, source, loses in [
        ("softmax", "def softmax(x, axis=-1):\n    return x.data.tolist()\n", ["test_softmax"]),
        (
            "positional_encoding",
            "def positional_encoding(T, d):\n    return [[0.0] * d] * T\n",
            ["test_positional_encoding"],
        ),
        ("attention", "def attention(q, k, v, mask=None):\n    return q\n", ["test_attention"]),
        (
            "layer_norm",
            "class LayerNorm:\n    def __init__(self, dim, eps=1e-5):\n        self.gain = Tensor(np.ones(dim))\n"
            "        self.bias = Tensor(np.zeros(dim))\n    def __call__(self, x):\n"
            "        return Tensor(np.full(x.shape, np.nan), (x,))\n    def parameters(self):\n"
            "        return [self.gain, self.bias]\n",
            ["test_layer_norm"],
        ),
        (
            "encoder",
            "class Encoder:\n    def __init__(self, vocab, dim, heads, hidden, blocks, rng):\n"
            "        raise RuntimeError('boom')\n",
            ["test_encoder"],
        ),
    ]
}

# A model whose own forward pass answers from elsewhere (the right answers, looked up) is
# judged by its parameters: the logits recomputed from them disagree with its own.
FORWARD_LIES = """

_HonestEncoder = Encoder


class Encoder(_HonestEncoder):
    def __call__(self, ids, mask=None):
        logits = np.zeros((len(ids), len(digit_tasks.VOCAB)))
        for i, row in enumerate(np.asarray(ids)):
            ex = digit_tasks.tokenize(digit_tasks.detokenize(row))
            op, digits = digit_tasks.VOCAB[ex[0]], [int(digit_tasks.VOCAB[t]) for t in ex[2:-1]]
            logits[i, digit_tasks.TOKEN_ID[str(digit_tasks.answer(op, digits))]] = 10.0
        return Tensor(logits)
"""
PITFALLS |= {
    "untrained": ({"choose_training": [("return 0.007, 5", "return 1e-5, 1")]}, ["test_trained"]),
    "forward_lies": (
        {"choose_training": [("    return 0.007, 5", "    return 0.007, 5\n" + FORWARD_LIES)]},
        ["test_trained"],
    ),
}
SAYS |= {"untrained": "at least 95%", "forward_lies": "come from its parameters"}

CHEAT_CELL = "tensor_matmul"

# The pitfalls graded through nbgrader in the round trip (the milestone's own: the seed's
# softmax backward, attention's scale and mask, repeated tokens, LayerNorm's eps, merging
# heads, positions, post-LN); every pitfall above is judged in-process by
# tests/test_variants_judged.py, against the same probes and judge, in seconds.
ROUND_TRIP = (
    "softmax_diagonal_backward",
    "attention_unscaled",
    "mask_after_softmax",
    "embedding_overwrites_repeats",
    "layer_norm_eps_outside",
    "merge_without_transpose",
    "positional_sin_cos_swapped",
    "pre_ln_block",
)
