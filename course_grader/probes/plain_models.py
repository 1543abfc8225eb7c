"""Plain-float recomputations the judge makes outside the student's kernel.

A trained network is judged by what it does, not by a claim: the record carries the
trained parameters, and the loss is computed here again from them, with the course's
documented architecture (tanh hidden layers, a linear last layer, parameters layer by
layer, neuron by neuron, weights then bias).
"""

import math
from collections.abc import Sequence


def mlp_forward(sizes: Sequence[int], params: Sequence[float], x: Sequence[float]) -> float:
    """The output of MLP(sizes[0], sizes[1:]) with flat ``params``, on input ``x``."""
    expected = sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(sizes) - 1))
    if len(params) != expected:
        raise ValueError(f"MLP{tuple(sizes)} has {expected} parameters, got {len(params)}")
    if sizes[-1] != 1:
        raise ValueError("mlp_forward computes a single output")
    k = 0
    acts = list(x)
    for layer in range(len(sizes) - 1):
        nin, nout = sizes[layer], sizes[layer + 1]
        out = []
        for _ in range(nout):
            s = math.fsum(params[k + i] * acts[i] for i in range(nin)) + params[k + nin]
            k += nin + 1
            out.append(math.tanh(s) if layer < len(sizes) - 2 else s)
        acts = out
    return acts[0]


def mlp_mse(sizes: Sequence[int], params: Sequence[float], X: Sequence[Sequence[float]], y: Sequence[float]) -> float:
    """Mean squared error of that MLP on (X, y)."""
    return math.fsum((mlp_forward(sizes, params, x) - t) ** 2 for x, t in zip(X, y, strict=True)) / len(X)
