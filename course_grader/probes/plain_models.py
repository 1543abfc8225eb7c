"""The course's networks in plain floats: the one reference that every check outside the
student's kernel computes with.

Two users, one model. The probes of ``m3_mlp`` compare a student's ``Neuron``, ``Layer``
and ``MLP`` with ``neuron``, ``layer`` and ``mlp`` (and recognise a classic mistake by
computing it too: a tanh output layer, a bias listed first, a bias left out). The judge
judges a trained network by what it does, not by a claim: the record carries the trained
parameters and ``mlp_mse`` computes the loss again from them. Both use the course's
documented architecture: tanh hidden layers, a linear last layer, parameters layer by
layer, neuron by neuron, weights then bias.

The one thing the two users want differently is how a neuron adds up ``w . x + b``,
so that is a choice (``total``): see ``running_sum`` and ``exact_sum``.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any

from course_grader.judging import compare

Floats = list[float]
Total = Callable[[float, Floats], float]  # (bias, the products w_i * x_i) -> the pre-activation

ACTIVATIONS: dict[str, Callable[[float], float]] = {
    "tanh": math.tanh,
    "relu": lambda s: max(s, 0.0),  # not the course's; a probe recognises a student's relu with it
    "linear": lambda s: s,
}


def running_sum(bias: float, products: Floats) -> float:
    """``b + w1*x1 + w2*x2 + ...``, added left to right as a Value graph built that way adds:
    the probes' default, so their expected outputs (and the finite differences taken over
    them, which magnify every rounding a millionfold) are the numbers they have always been."""
    s = bias
    for p in products:
        s += p
    return s


def exact_sum(bias: float, products: Floats) -> float:
    """``fsum(w . x) + b``: the judge's loss, recomputed from a trained network's parameters,
    owes nothing to the order in which the student's code happened to add."""
    return math.fsum(products) + bias


def layout(nin: int, nouts: Sequence[int]) -> list[tuple[int, int, bool]]:
    """(inputs, neurons, tanh?) of each layer of MLP(nin, nouts): tanh on all but the last."""
    sizes = [nin, *nouts]
    return [(sizes[i], sizes[i + 1], i != len(nouts) - 1) for i in range(len(nouts))]


def count(nin: int, nouts: Sequence[int]) -> int:
    """How many parameters MLP(nin, nouts) has: nin weights and a bias per neuron."""
    return sum((a + 1) * b for a, b, _ in layout(nin, nouts))


def neuron(
    theta: Sequence[float],
    x: Sequence[float],
    act: str = "linear",
    *,
    bias_first: bool = False,
    drop_bias: bool = False,
    total: Total = running_sum,
) -> float:
    """``act(w . x + b)`` with ``theta`` = the weights, then the bias. The mistakes a probe
    recognises: ``bias_first`` reads the bias first instead, ``drop_bias`` takes the bias
    off again before the activation (a neuron that forgot it)."""
    if bias_first:
        b, ws = theta[0], theta[1:]
    else:
        b, ws = theta[-1], theta[:-1]
    s = total(b, [ws[i] * x[i] for i in range(len(ws))])
    return ACTIVATIONS[act](s - b if drop_bias else s)


def layer(
    theta: Sequence[float], x: Sequence[float], nin: int, nout: int, act: str = "linear", **options: Any
) -> Floats:
    """Layer(nin, nout): ``nout`` neurons on the same ``x``, neuron j's parameters the j-th
    run of nin + 1 in ``theta``; ``options`` go to ``neuron``."""
    return [neuron(theta[j * (nin + 1) : (j + 1) * (nin + 1)], x, act, **options) for j in range(nout)]


def mlp(
    theta: Sequence[float],
    x: Sequence[float],
    nin: int,
    nouts: Sequence[int],
    hidden: str = "tanh",
    last: str = "linear",
    **options: Any,
) -> Floats:
    """MLP(nin, nouts): its layers chained, each taking its run of ``theta``. ``hidden`` and
    ``last`` name the activations (the course's by default, others to recognise a mistake);
    ``options`` go to ``neuron``."""
    k = 0
    out = list(x)
    for a, b, nonlin in layout(nin, nouts):
        n = (a + 1) * b
        out = layer(theta[k : k + n], out, a, b, hidden if nonlin else last, **options)
        k += n
    return out


def mlp_forward(sizes: Sequence[int], params: Sequence[float], x: Sequence[float]) -> float:
    """The output of MLP(sizes[0], sizes[1:]) with flat ``params``, on input ``x``."""
    expected = count(sizes[0], sizes[1:])
    if len(params) != expected:
        raise ValueError(f"MLP{tuple(sizes)} has {expected} parameters, got {len(params)}")
    if sizes[-1] != 1:
        raise ValueError("mlp_forward computes a single output")
    return mlp(params, x, sizes[0], sizes[1:], total=exact_sum)[0]


def mlp_mse(sizes: Sequence[int], params: Sequence[float], X: Sequence[Sequence[float]], y: Sequence[float]) -> float:
    """Mean squared error of that MLP on (X, y)."""
    return math.fsum((mlp_forward(sizes, params, x) - t) ** 2 for x, t in zip(X, y, strict=True)) / len(X)


@compare.kind("trained_mlp", judges="params")
def compare_trained(ref: dict, got: dict, path: str) -> str | None:
    """A trained network (m4, m5) is right when the loss recomputed here from its parameters
    is below the reference's threshold, whatever path training took to get there."""
    params = got.get("params")
    if not isinstance(params, list) or not all(type(p) in (int, float) and math.isfinite(p) for p in params):
        return f"{path}: the trained parameters should be finite numbers"
    try:
        loss = mlp_mse(ref["sizes"], params, ref["X"], ref["y"])
    except ValueError as err:
        return f"{path}: {err}"
    if not loss < ref["threshold"]:
        return (
            f"{path}: the trained network's loss, recomputed from its parameters, is {loss:.6g} "
            f"(it should be below {ref['threshold']})"
        )
    return None
