"""Hidden-test probes for ``m3_mlp``: ``Neuron``, ``Layer``, ``MLP``, ``parameters()``,
``zero_grad()`` and the random initialisation.

Everything goes through the public interface the notebook documents: a network is built,
its parameters are *set* through ``parameters()`` (layer by layer, neuron by neuron,
weights then bias) to seeded values, and its outputs and gradients are compared with a
plain-float computation of the same network (``plain_models``): forward to 1e-9,
gradients (after ``backward()`` on a seeded weighted sum of the outputs) against central
differences. Nothing depends on the student's random draws except the initialisation
cells, whose records hold only properties of them (range, spread, symmetry broken), never
values.

``Neuron``, ``Layer`` and ``MLP`` are one test: a Neuron is a layer of one neuron, a Layer
a network of one layer. So one ``run`` checks all three, and a ``Part`` (one per class,
below) says only what differs: the cases, how to build one, which plain model is right,
which mistakes to recognise and how to word them.
"""

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from course_grader.probes import plain_models
from course_grader.probes.common import (
    GRAD_TOL,
    call,
    central_difference,
    close,
    emit,
    fail,
    fmt,
    num,
    rel_error,
    student_module,
    type_name,
    uniform,
)
from course_grader.probes.plain_models import count, layout

Floats = list[float]
CountHint = str | Callable[[int], str]

SYMMETRY = (
    "with equal starting values (all zero, say) every neuron of a layer computes the same output and "
    "receives the same gradient, so they stay identical forever (symmetry); draw each weight and bias "
    "with random.uniform(-1, 1)"
)
LINEAR_LAST = (
    "tanh on the output layer (a classic pitfall): the last layer must be linear (nonlin=False), or a "
    "regression output could never leave (-1, 1)"
)
NEURON_COUNT = "a neuron has nin weights and one bias; a parameter missing from parameters() never trains"
ORDER = "parameters() lists layer by layer, neuron by neuron, each neuron's weights and then its bias"
IN_GRAPH = (
    "build the output from the parameters' Values with Value arithmetic (w * x + ...): a number copied "
    "out of a Value (w.data) is cut off from the graph and gets no gradient"
)
KINDS = ("float", "Value", "mixed")  # how the inputs reach the student's code, in turn


# --- wording --------------------------------------------------------------------------


def describe(nin: int, nouts: Sequence[int], k: int) -> str:
    """Which weight or bias parameter number ``k`` is, in the documented order."""
    for li, (a, b, _) in enumerate(layout(nin, nouts), start=1):
        if k < (a + 1) * b:
            j, i = divmod(k, a + 1)
            return f"layer {li}, neuron {j + 1}, " + (f"weight {i + 1}" if i < a else "bias")
        k -= (a + 1) * b
    raise IndexError(k)


def shown(values: Floats) -> str:
    """A list of numbers for a message: whole when short, else its start and its length."""
    if len(values) <= 12:
        return str(values)
    return "[" + ", ".join(str(v) for v in values[:8]) + f", ... ({len(values)} in all)]"


def _short(x: object) -> str:
    text = repr(x)
    return text if len(text) <= 90 else text[:87] + "..."


def count_hint(nin: int, nouts: Sequence[int]) -> Callable[[int], str]:
    """What to say when MLP(nin, nouts).parameters() has ``got`` entries."""

    def hint(got: int) -> str:
        sizes = " + ".join(f"({a}*{b} + {b})" for a, b, _ in layout(nin, nouts))
        if got == sum(a * b for a, b, _ in layout(nin, nouts)):
            return f"the biases are missing: {sizes}; a parameter missing from parameters() never trains"
        if got < count(nin, nouts):
            return f"some are missing: {sizes}; a parameter missing from parameters() never trains"
        return f"{sizes}: each weight and bias once"

    return hint


# --- talking to the student's classes -------------------------------------------------


def construct(cls: type, name: str, args: tuple, nonlin: bool | None = None, keyword_hint: str = "") -> Any:
    """``cls(*args)``, with ``nonlin=`` only when a case sets it: the default must work unasked.
    A failure names the call as ``name``; ``keyword_hint`` says what a refused keyword means."""
    if nonlin is None:
        return call(lambda: cls(*args), name, "is __init__ done?")
    return call(lambda: cls(*args, nonlin=nonlin), name, keyword_hint or "is __init__ done?")


def _neuron_name(nonlin: bool | None, nin: int) -> str:
    return f"Neuron({nin})" if nonlin is None else f"Neuron({nin}, nonlin={nonlin})"


def _make_neuron(Neuron: type, nin: int, nonlin: bool | None) -> Any:
    return construct(Neuron, _neuron_name(nonlin, nin), (nin,), nonlin)


def _make_mlp(MLP: type, nin: int, nouts: list[int]) -> Any:
    return construct(MLP, f"MLP({nin}, {nouts})", (nin, list(nouts)))


def parameters_of(Value: type, module: Any, what: str, expected: int, hint: CountHint = "") -> list[Any]:
    """``module.parameters()`` as a list, checked: a list of distinct Values, ``expected``
    of them, the same objects on every call."""
    got = call(lambda: module.parameters(), f"{what}.parameters()")
    if not isinstance(got, list | tuple):
        fail(
            f"{what}.parameters() should return a list of Values",
            got=f"{type_name(got)}: {_short(got)}",
            hint="collect them in a list (a generator can be read only once, and an optimizer reads them every step)",
        )
    ps = list(got)
    for p in ps:
        if not isinstance(p, Value):
            fail(
                f"{what}.parameters() should hold only Values (the network's weights and biases)",
                got=f"an entry of type {type_name(p)}: {_short(p)}",
                hint="return the Values themselves (w and b), not lists of them or their .data",
            )
    if len({id(p) for p in ps}) != len(ps):
        fail(
            f"{what}.parameters(): every weight and bias should be a Value of its own",
            expected=f"{len(ps)} distinct Values",
            got=f"{len(ps) - len({id(p) for p in ps})} repeated",
            hint="[Value(random.uniform(-1, 1))] * nin repeats ONE Value nin times; draw each weight separately",
        )
    if len(ps) != expected:
        fail(
            f"{what}.parameters() should list every weight and bias, once",
            expected=f"{expected} Values",
            got=f"{len(ps)}",
            hint=hint(len(ps)) if callable(hint) else hint or "a parameter missing from parameters() never trains",
        )
    again = call(lambda: list(module.parameters()), f"{what}.parameters(), called a second time")
    if [id(p) for p in again] != [id(p) for p in ps]:
        fail(
            f"{what}.parameters() should return the network's own Values, the same ones on every call",
            hint="do not build new Values in parameters(): an optimizer changes p.data and the network must see it",
        )
    return ps


def mlp_parameters(Value: type, net: Any, nin: int, nouts: list[int]) -> list[Any]:
    """The checked ``parameters()`` of the student's MLP(nin, nouts)."""
    return parameters_of(Value, net, f"MLP({nin}, {nouts})", count(nin, nouts), count_hint(nin, nouts))


def built_mlp(Value: type, MLP: type, nin: int, nouts: list[int]) -> tuple[str, Any, list[Any]]:
    """(name, network, its checked parameters) of a new MLP(nin, nouts) of the student's."""
    net = _make_mlp(MLP, nin, nouts)
    return f"MLP({nin}, {nouts})", net, mlp_parameters(Value, net, nin, nouts)


def set_parameters(ps: list[Any], theta: Floats, what: str) -> None:
    for p, v in zip(ps, theta, strict=True):
        call(lambda: setattr(p, "data", v), f"setting .data of a parameter of {what}")


def inputs(Value: type, xs: Floats, kind: str) -> list[Any]:
    """The inputs as the student's code receives them: floats, Values, or both mixed."""
    if kind == "float":
        return list(xs)
    if kind == "Value":
        return [Value(v) for v in xs]
    return [Value(v) if i % 2 else v for i, v in enumerate(xs)]


def outputs(Value: type, out: Any, n: int, what: str, given: str, strict: bool = True) -> list[Any]:
    """The output(s) of a layer or a network as a list of Values; a single output must be
    the Value itself (``strict=False`` forgives a list of one, for cells about other things)."""
    if n == 1:
        if isinstance(out, Value):
            return [out]
        if not strict and isinstance(out, list | tuple) and len(out) == 1 and isinstance(out[0], Value):
            return [out[0]]
        fail(
            f"{what} has one output: it should return that Value itself, not a list",
            given,
            "a Value",
            f"{type_name(out)}: {_short(out)}",
            "the classic list-vs-Value pitfall: a layer of one neuron returns outs[0], a layer of several a list "
            "(so a network with one output gives a Value, as a loss expects)",
        )
    if not isinstance(out, list) or len(out) != n or not all(isinstance(o, Value) for o in out):
        fail(
            f"{what} should return a list of {n} Values, one per neuron",
            given,
            f"a list of {n} Values",
            f"{type_name(out)}: {_short(out)}",
        )
    return list(out)


def outputs_on(Value: type, net: Any, xs: Floats, n: int, name: str, given: str) -> list[Any]:
    """The outputs of ``net`` on the floats ``xs``, forgiving a list of one (for the cells
    about parameters, not about what a network returns)."""
    out = call(lambda: net(list(xs)), f"{name}(x)")
    return outputs(Value, out, n, f"{name}(x)", given, strict=False)


def _values(outs: list[Any], what: str) -> Floats:
    return [num(o.data, f"{what}: an output's data") for o in outs]


def _data(ps: list[Any], what: str) -> Floats:
    return [num(p.data, f"{what}: a parameter's data") for p in ps]


def grads_of(vs: list[Any], what: str) -> Floats:
    return [num(v.grad, f"{what}: a grad") for v in vs]


def backward_weighted(outs: list[Any], cs: Floats, what: str) -> Any:
    """L = sum_k c_k * out_k, and L.backward()."""
    loss = outs[0] * cs[0]
    for o, c in zip(outs[1:], cs[1:], strict=True):
        loss = loss + o * c
    call(lambda: loss.backward(), f"backward() through {what}")
    return loss


def gradients(outs: list[Any], cs: Floats, ps: list[Any], name: str) -> Floats:
    """The parameters' grads after ``backward()`` on ``sum_k cs[k] * outs[k]``."""
    backward_weighted(outs, cs, f"{name}(x)")
    return grads_of(ps, name)


# --- comparing with the plain-float network -------------------------------------------


def weighted(outs: Floats, cs: Floats) -> float:
    return sum(o * c for o, c in zip(outs, cs, strict=True))


def forward_matches(got: Floats, expected: Floats) -> bool:
    return len(got) == len(expected) and all(close(g, e) for g, e in zip(got, expected, strict=True))


def diagnose(got: Floats, alternatives: dict[str, Floats], default: str) -> str:
    for mistake, values in alternatives.items():
        if forward_matches(got, values):
            return f"your outputs are what {mistake} gives"
    return default


def grad_ok(got: float, estimate: float) -> bool:
    """Central differences at h = 1e-6 are good to ~1e-10 here: a relative test, with an
    absolute floor for gradients that are nearly 0 (saturated tanh)."""
    return rel_error(got, estimate) <= GRAD_TOL or abs(got - estimate) <= 1e-7


def check_grads(
    f: Callable[[Floats], float], at: Floats, got: Floats, what: str, given: str, name: Callable[[int], str], hint: str
) -> None:
    for k, g in enumerate(got):

        def fk(t: float, k: int = k) -> float:
            return f([*at[:k], t, *at[k + 1 :]])

        estimate = central_difference(fk, at[k])
        if not grad_ok(g, estimate):
            fail(
                f"{what}: the gradient reaching {name(k)}", given, f"{fmt(estimate)} (finite differences)", fmt(g), hint
            )


def coefficients(rng: random.Random, n: int) -> Floats:
    return [uniform(rng, -2, 2, (0.0,), 0.2) for _ in range(n)]


def draw_theta(rng: random.Random, nin: int, nouts: Sequence[int], large: bool = False) -> Floats:
    """Seeded parameters in [-1.5, 1.5]; with ``large``, the last layer's weights are 2-4 in
    size, so a linear output layer leaves (-1, 1) where a tanh one cannot."""
    theta = []
    for li, (a, b, _) in enumerate(layout(nin, nouts)):
        last = li == len(nouts) - 1
        for _ in range(b):
            for _ in range(a):
                if large and last:
                    theta.append(uniform(rng, 2, 4) * rng.choice((-1, 1)))
                else:
                    theta.append(uniform(rng, -1.5, 1.5))
            theta.append(uniform(rng, -1.5, 1.5))
    return theta


def draw_inputs(rng: random.Random, nin: int) -> Floats:
    return [uniform(rng, -2, 2) for _ in range(nin)]


def _spliced(xs: Floats, at: list[int], values: Floats) -> Floats:
    """xs with the entries at positions ``at`` replaced by ``values``."""
    out = list(xs)
    for k, v in zip(at, values, strict=True):
        out[k] = v
    return out


# --- Neuron, Layer and MLP: one runner, one Part each ---------------------------------


@dataclass(frozen=True)
class Net:
    """One case: the student's object seen as MLP(nin, nouts) (a Neuron is ``nouts=[1]``, a
    Layer ``[nout]``), the inputs handed over as ``inputs`` ("float", "Value" or "mixed")."""

    nin: int
    nouts: list[int]
    inputs: str
    nonlin: bool | None = None  # a Neuron's or Layer's keyword; None leaves it to the default
    large: bool = False  # the last layer's weights 2-4 in size: outputs beyond (-1, 1)

    @property
    def act(self) -> str:
        """A Neuron's or Layer's activation: tanh unless nonlin=False."""
        return "linear" if self.nonlin is False else "tanh"

    @property
    def recorded_nonlin(self) -> bool | str:
        """nonlin as the record holds it: "default" when the case left it out."""
        return "default" if self.nonlin is None else self.nonlin


@dataclass(frozen=True)
class Part:
    """One class under test (Neuron, Layer or MLP): everything ``run`` needs that differs."""

    cell: str  # grade id of the cell that calls this probe
    seed: int
    nets: list[Net]
    name: Callable[[Net], str]  # how a case is named in messages, e.g. "Layer(3, 2, nonlin=False)"
    build: Callable[[type, Net], Any]  # the student's object for a case (or a failure)
    count_hint: Callable[[Net], CountHint]  # what a wrong number of parameters means
    reference: Callable[[Floats, Floats, Net], Floats]  # the right outputs, in plain floats
    mistakes: Callable[[Floats, Floats, Net], dict[str, Floats]]  # the outputs of classic slips
    shape_hint: str  # the hint when no known slip gives the student's outputs
    entry: Callable[[Net, int], str]  # which weight or bias parameter k is
    head: Callable[[Net], dict[str, Any]]  # the record's first fields: which case this was
    single: bool = False  # a Neuron: it returns one Value, shown and recorded as one number
    input_hint: str | None = None  # for a wrong gradient reaching a Value input; None: recorded, not checked
    inputs_read_first: bool = False  # the inputs' grads are read before the parameters' are checked
    call_hint: Callable[[Net], str] = lambda net: ""  # the hint when calling the object raises


@dataclass(frozen=True)
class Trial:
    """One case set up: the seeded numbers the student's object now holds, and its name and
    description for the messages."""

    net: Net
    name: str
    theta: Floats  # the parameters set, in the documented order
    xs: Floats  # the inputs, as floats
    x: list[Any]  # the inputs as handed over: floats, Values or both
    given: str


def run(Value: type, cls: type, part: Part) -> list[dict[str, Any]]:
    """Check every case of ``part`` on the student's ``cls``, return the record cases."""
    rng = random.Random(part.seed)
    return [_run_case(Value, cls, part, net, rng) for net in part.nets]


def _run_case(Value: type, cls: type, part: Part, net: Net, rng: random.Random) -> dict[str, Any]:
    """Build, set seeded parameters, forward against the plain model, backward against
    finite differences. The draws from ``rng`` come in this order: the records depend on it."""
    name = part.name(net)
    module = part.build(cls, net)
    ps = parameters_of(Value, module, name, count(net.nin, net.nouts), part.count_hint(net))
    trial = _set_up(Value, part, net, name, ps, rng)
    outs, got = _forward(Value, part, module, trial)
    _check_forward(part, trial, got)
    cs = coefficients(rng, net.nouts[-1])
    grads = gradients(outs, cs, ps, name)
    xgrads = _check_gradients(Value, part, trial, cs, grads)
    record = {**part.head(net), "inputs": net.inputs}
    if not part.single:
        record["returns"] = "Value" if net.nouts[-1] == 1 else "list"
    out: float | Floats = got[0] if part.single else got
    return record | {"theta": trial.theta, "x": trial.xs, "c": cs, "out": out, "grads": grads, "xgrads": xgrads}


def _set_up(Value: type, part: Part, net: Net, name: str, ps: list[Any], rng: random.Random) -> Trial:
    """Seeded parameters set through ``ps``, seeded inputs handed over as the case says."""
    theta = draw_theta(rng, net.nin, net.nouts, net.large)
    xs = draw_inputs(rng, net.nin)
    set_parameters(ps, theta, name)
    x = inputs(Value, xs, net.inputs)
    if part.single:
        given = f"{name} with weights {theta[:-1]}, bias {theta[-1]}; x = {xs} (as {net.inputs} inputs)"
    else:
        given = f"{name}, parameters {shown(theta)}; x = {xs} (as {net.inputs} inputs)"
    return Trial(net, name, theta, xs, x, given)


def _forward(Value: type[Any], part: Part, module: Any, trial: Trial) -> tuple[list[Any], Floats]:
    """(the output Values, their data): a Neuron must return a Value, a Layer or an MLP a
    Value when it has one output and a list when several."""
    name, given = trial.name, trial.given
    out = call(lambda: module(trial.x), f"{name}(x)", part.call_hint(trial.net))
    if not part.single:
        outs = outputs(Value, out, trial.net.nouts[-1], f"{name}(x)", given)
        return outs, _values(outs, f"{name}(x)")
    if not isinstance(out, Value):
        fail(f"{name}(x) should return one Value", given, "a Value", f"{type_name(out)}: {_short(out)}")
    return [out], [num(out.data, f"{name}(x).data")]


def _check_forward(part: Part, trial: Trial, got: Floats) -> None:
    """The outputs against the plain model, naming the classic slip they match, if any."""
    name, given, theta, xs = trial.name, trial.given, trial.theta, trial.xs
    expected = part.reference(theta, xs, trial.net)
    if not forward_matches(got, expected):
        diagnosis = diagnose(got, part.mistakes(theta, xs, trial.net), part.shape_hint)
        if part.single:
            fail(f"forward value of {name}", given, fmt(expected[0]), fmt(got[0]), diagnosis)
        else:
            fail(
                f"forward values of {name}",
                given,
                str([fmt(e) for e in expected]),
                str([fmt(g) for g in got]),
                diagnosis,
            )
    if trial.net.large and not any(abs(e) > 1 for e in expected):
        raise AssertionError(f"probe bug: {name} should reach beyond (-1, 1) with large weights")


def _check_gradients(Value: type, part: Part, trial: Trial, cs: Floats, grads: Floats) -> Floats:
    """The parameters' ``grads``, then the Value inputs' grads, against finite differences of
    ``cs . outputs`` in plain floats; returns the inputs' grads (a Neuron's are read before
    its parameters' are checked, a Layer's are recorded and left to the judge)."""
    net, name, theta, xs, x = trial.net, trial.name, trial.theta, trial.xs, trial.x
    where = f"{trial.given}; backward() on " + (f"{cs[0]} * output" if part.single else f"{cs} . outputs")

    def objective(t: Floats, xs: Floats) -> float:
        if part.single:
            return cs[0] * part.reference(t, xs, net)[0]
        return weighted(part.reference(t, xs, net), cs)

    xvals = [v for v in x if isinstance(v, Value)]
    xgrads = grads_of(xvals, name) if part.inputs_read_first else []
    check_grads(lambda t: objective(t, xs), theta, grads, name, where, lambda k: part.entry(net, k), IN_GRAPH)
    if not part.inputs_read_first:
        xgrads = grads_of(xvals, name)
    if part.input_hint is not None:
        value_at = [k for k, v in enumerate(x) if isinstance(v, Value)]
        check_grads(
            lambda t: objective(theta, _spliced(xs, value_at, t)),
            [xs[k] for k in value_at],
            xgrads,
            name,
            where,
            lambda k: f"input x{value_at[k] + 1} (a Value)",
            part.input_hint,
        )
    return xgrads


def _bias_first() -> str:
    return "the bias listed first in parameters() (" + ORDER + ")"


# Neuron(nin, nonlin): nin 1..5, each with nonlin left to its default, True and False
NEURON_CASES = [
    Net(nin, [1], KINDS[i % 3], nonlin)
    for i, (nin, nonlin) in enumerate(itertools.product(range(1, 6), (None, True, False)))
]


def _neuron_mistakes(theta: Floats, xs: Floats, net: Net) -> dict[str, Floats]:
    """What a neuron with the wrong activation, without its bias or with it first outputs."""
    if net.act == "tanh":
        wrong = {  # mistake -> (activation, bias dropped)
            "a linear neuron (no tanh); nonlin=True, the default, means tanh": ("linear", False),
            "relu (this course's neurons use tanh)": ("relu", False),
            "tanh(w . x) without the bias": ("tanh", True),
        }
    else:
        wrong = {
            "tanh; nonlin=False means the linear w . x + b, no activation": ("tanh", False),
            "w . x without the bias": ("linear", True),
        }
    alternatives = {k: [plain_models.neuron(theta, xs, act, drop_bias=drop)] for k, (act, drop) in wrong.items()}
    alternatives[_bias_first()] = [plain_models.neuron(theta, xs, net.act, bias_first=True)]
    return alternatives


NEURON = Part(
    cell="test_neuron",
    seed=71,
    nets=NEURON_CASES,
    name=lambda net: _neuron_name(net.nonlin, net.nin),
    build=lambda Neuron, net: _make_neuron(Neuron, net.nin, net.nonlin),
    count_hint=lambda net: NEURON_COUNT,
    reference=lambda theta, xs, net: [plain_models.neuron(theta, xs, net.act)],
    mistakes=_neuron_mistakes,
    shape_hint="tanh(w . x + b) when nonlin, else w . x + b",
    entry=lambda net, k: f"weight {k + 1}" if k < net.nin else "the bias",
    head=lambda net: {"nin": net.nin, "nonlin": net.recorded_nonlin},
    single=True,
    input_hint="inputs that are Values are part of the graph: multiply them with Value arithmetic",
    inputs_read_first=True,
)

LAYERS = [  # nin, nout, nonlin (None: the default)
    (1, 1, None),
    (2, 1, None),
    (3, 1, False),
    (2, 3, None),
    (3, 2, False),
    (4, 4, True),
    (1, 3, False),
    (5, 2, None),
    (2, 1, True),
    (3, 3, False),
]


def _layer_name(net: Net) -> str:
    nin, nout = net.nin, net.nouts[0]
    return f"Layer({nin}, {nout})" if net.nonlin is None else f"Layer({nin}, {nout}, nonlin={net.nonlin})"


KW_PASSED_ON = "Layer(nin, nout, **kw) passes kw on to each Neuron"


def _layer_mistakes(theta: Floats, xs: Floats, net: Net) -> dict[str, Floats]:
    """What a layer outputs whose neurons ignore nonlin, or that lists each bias first."""
    nin, nout = net.nin, net.nouts[0]
    return {
        "neurons that ignore nonlin (Layer must pass **kw on to Neuron)": plain_models.layer(
            theta, xs, nin, nout, "tanh" if net.act == "linear" else "linear"
        ),
        _bias_first(): plain_models.layer(theta, xs, nin, nout, net.act, bias_first=True),
    }


def _layer_entry(net: Net, k: int) -> str:
    j, i = divmod(k, net.nin + 1)
    return f"neuron {j + 1}'s " + ("bias" if i == net.nin else f"weight {i + 1}")


LAYER = Part(
    cell="test_layer",
    seed=79,
    nets=[Net(nin, [nout], KINDS[i % 3], nonlin) for i, (nin, nout, nonlin) in enumerate(LAYERS)],
    name=_layer_name,
    build=lambda Layer, net: construct(Layer, _layer_name(net), (net.nin, net.nouts[0]), net.nonlin, KW_PASSED_ON),
    count_hint=lambda net: "nout neurons of nin weights and a bias each, neuron by neuron",
    reference=lambda theta, xs, net: plain_models.layer(theta, xs, net.nin, net.nouts[0], net.act),
    mistakes=_layer_mistakes,
    shape_hint="neuron j uses parameters j*(nin+1) ... j*(nin+1)+nin: " + ORDER,
    entry=_layer_entry,
    head=lambda net: {"nin": net.nin, "nout": net.nouts[0], "nonlin": net.recorded_nonlin},
)

ARCHITECTURES = [  # nin, nouts, inputs, last layer's weights large (outputs beyond (-1, 1))
    (3, [4, 4, 1], "float", False),
    (2, [1, 1], "Value", False),  # a hidden layer of width 1
    (1, [3, 1], "mixed", True),
    (2, [3, 2], "float", False),  # two outputs: a list
    (4, [1], "Value", True),  # one layer: linear only
    (2, [1, 3], "float", True),
    (3, [2, 1, 2], "mixed", False),
    (2, [5, 1], "Value", True),
    (3, [4, 4, 1], "Value", True),
]


def _mlp_mistakes(theta: Floats, xs: Floats, net: Net) -> dict[str, Floats]:
    """What a network with a classic slip outputs: tanh on the output, not on the hidden
    layers (or relu), the bias listed first."""
    nin, nouts = net.nin, net.nouts
    return {
        LINEAR_LAST: plain_models.mlp(theta, xs, nin, nouts, last="tanh"),
        "no tanh on the hidden layers (every layer but the last applies tanh)": plain_models.mlp(
            theta, xs, nin, nouts, hidden="linear"
        ),
        "relu on the hidden layers (this course's neurons use tanh)": plain_models.mlp(
            theta, xs, nin, nouts, hidden="relu"
        ),
        _bias_first(): plain_models.mlp(theta, xs, nin, nouts, bias_first=True),
    }


NETWORK = Part(
    cell="test_mlp",
    seed=83,
    nets=[Net(nin, nouts, kind, large=large) for nin, nouts, kind, large in ARCHITECTURES],
    name=lambda net: f"MLP({net.nin}, {net.nouts})",
    build=lambda MLP, net: _make_mlp(MLP, net.nin, net.nouts),
    count_hint=lambda net: count_hint(net.nin, net.nouts),
    reference=lambda theta, xs, net: plain_models.mlp(theta, xs, net.nin, net.nouts),
    mistakes=_mlp_mistakes,
    shape_hint="layers of sizes [nin] + nouts, chained: " + ORDER,
    entry=lambda net, k: describe(net.nin, net.nouts, k),
    head=lambda net: {"nin": net.nin, "nouts": net.nouts},
    input_hint="inputs that are Values are part of the graph",
    call_hint=lambda net: (
        "a hidden layer of one neuron returns a Value, not a list: the next layer still needs a list of inputs"
        if 1 in net.nouts[:-1]
        else ""
    ),
)


def probe_neuron(Value: type, Neuron: type) -> None:
    """Forward and gradients of Neuron(nin, nonlin) for nin 1..5, tanh and linear, with
    inputs as floats, as Values and mixed."""
    emit(NEURON.cell, run(Value, Neuron, NEURON))


def probe_layer(Value: type, Layer: type) -> None:
    """Layer(nin, nout, **kw): nout == 1 returns a Value, nout > 1 a list; every neuron its
    own parameters, in order; nonlin passed on to the neurons."""
    emit(LAYER.cell, run(Value, Layer, LAYER))


def probe_mlp(Value: type, MLP: type) -> None:
    """MLP(nin, nouts) forward and gradients on several architectures (a width-1 hidden
    layer, several outputs, one linear layer), with outputs beyond (-1, 1)."""
    emit(NETWORK.cell, run(Value, MLP, NETWORK))


# --- parameters() and zero_grad() -----------------------------------------------------

COUNTS = [(3, [4, 4, 1]), (2, [1, 1]), (5, [3]), (1, [1]), (4, [6, 5, 3, 1]), (2, [2, 2])]


def _uses(Value: type, MLP: type, nin: int, nout: int) -> list[list[int]]:
    """Which entry of parameters() each neuron of MLP(nin, [nout]) uses as each weight and
    as its bias: parameter k is set to k/1000 (counting from 1), the inputs are all 0 and
    then one-hot, and the outputs are read back in thousandths. So small, the numbers read
    the same through a linear or a tanh output layer: this cell is about the order."""
    name, net, ps = built_mlp(Value, MLP, nin, [nout])
    set_parameters(ps, [(k + 1) / 1000 for k in range(len(ps))], name)
    seen = []
    for hot in [None, *range(nin)]:
        x = [1.0 if i == hot else 0.0 for i in range(nin)]
        outs = outputs(Value, call(lambda: net(x), f"{name}(x)"), nout, f"{name}(x)", f"x = {x}", False)
        seen.append(_values(outs, f"{name}(x)"))
    uses = []
    for j in range(nout):
        bias = seen[0][j]
        used = [round((seen[1 + i][j] - bias) * 1000) for i in range(nin)] + [round(bias * 1000)]
        want = [j * (nin + 1) + i + 1 for i in range(nin + 1)]
        if used != want:
            fail(
                f"{name}: which entry of parameters() each neuron uses",
                "parameter k set to k/1000 (counting from 1); x all 0, then one-hot",
                f"neuron {j + 1} uses parameters {want} (its weights, then its bias)",
                f"it uses {used}",
                ORDER,
            )
        uses.append(used)
    return uses


def _signed(rng: random.Random, lo: float, hi: float) -> float:
    """A draw of size [lo, hi] and random sign: never near 0, so every parameter matters."""
    return uniform(rng, lo, hi) * rng.choice((-1, 1))


def _relative_grads(Value: type, MLP: type, nin: int, nouts: list[int], rng: random.Random) -> dict[str, Any]:
    """Every parameter receives gradient, the one its place in the order says: the grads
    divided by the output bias's, against finite differences of the pre-activation."""
    name, net, ps = built_mlp(Value, MLP, nin, nouts)
    theta = [_signed(rng, 0.2, 1.2) for _ in ps]
    xs = [_signed(rng, 0.3, 1.5) for _ in range(nin)]
    set_parameters(ps, theta, name)
    given = f"{name}, parameters {shown(theta)}; x = {xs}"
    outs = outputs_on(Value, net, xs, 1, name, given)
    c = coefficients(rng, 1)
    grads = gradients(outs, c, ps, name)
    silent = [k for k, g in enumerate(grads) if g == 0.0]
    if silent:
        fail(
            f"{name}: every parameter receives gradient",
            given,
            "a non-zero grad on every parameter after backward()",
            f"{describe(nin, nouts, silent[0])} (entry {silent[0] + 1} of parameters()) has grad 0",
            "a parameter that the forward pass does not use, or uses through .data, never learns",
        )
    ratios = [g / grads[-1] for g in grads]

    def pre(t: Floats) -> float:
        return plain_models.mlp(t, xs, nin, nouts)[0]  # the output layer is linear here

    for k, r in enumerate(ratios):
        estimate = central_difference(lambda t: pre([*theta[:k], t, *theta[k + 1 :]]), theta[k])
        if not grad_ok(r, estimate):
            fail(
                f"{name}: the gradient reaching entry {k + 1} of parameters() ({describe(nin, nouts, k)})",
                given,
                f"{fmt(estimate)} times the output bias's gradient",
                f"{fmt(r)} times",
                ORDER + "; each entry must be the Value the network uses in that place",
            )
    return {"net": name, "theta": theta, "x": xs, "c": c, "relative_grads": ratios}


def probe_parameters(Value: type, MLP: type) -> None:
    """parameters(): the count (41 for MLP(3, [4, 4, 1]), not the 33 of a classic slip), distinct
    Values, the documented order (which parameter each neuron uses) and that every one
    of them receives gradient.

    The gradients are recorded divided by the output bias's own gradient: that ratio is
    d(pre-activation)/d(parameter), the same whatever the output layer's activation, so
    a wrong activation costs the forward-pass cell, not this one."""
    rng = random.Random(89)
    cases: list[dict[str, Any]] = []
    for nin, nouts in COUNTS:
        name, _, ps = built_mlp(Value, MLP, nin, nouts)
        cases.append({"net": name, "count": len(ps)})
    for nin, nout in ((3, 4), (1, 2), (2, 1)):
        cases.append({"net": f"MLP({nin}, [{nout}])", "uses": _uses(Value, MLP, nin, nout)})
    for nin, nouts in ((3, [4, 4, 1]), (2, [3, 1]), (1, [2, 2, 1])):
        cases.append(_relative_grads(Value, MLP, nin, nouts, rng))
    emit("test_parameters", cases)


ZERO_GRAD_NETS = [(3, [4, 4, 1]), (2, [3, 2]), (1, [2, 2, 1])]


def _zeroed(Value: type, MLP: type, nin: int, nouts: list[int], rng: random.Random) -> dict[str, Any]:
    """Two passes without zeroing, grads set by hand, zero_grad(), then one pass more: the
    grads all 0 after zero_grad(), the data untouched, the last pass's grads the first's."""
    name, net, ps = built_mlp(Value, MLP, nin, nouts)
    theta = draw_theta(rng, nin, nouts)
    xs = draw_inputs(rng, nin)
    set_parameters(ps, theta, name)
    cs = coefficients(rng, nouts[-1])

    def one_pass() -> Floats:
        return gradients(outputs_on(Value, net, xs, nouts[-1], name, ""), cs, ps, name)

    first = one_pass()
    one_pass()  # without zeroing: the gradients add up
    held = [uniform(rng, -1, 1, (0.0,), 0.1) for _ in ps]
    for p, g in zip(ps, held, strict=True):  # and some set by hand
        p.grad = g
    call(lambda: net.zero_grad(), f"{name}.zero_grad()")
    zeroed = grads_of(ps, name)
    nonzero = [k for k, g in enumerate(zeroed) if g != 0.0]
    if nonzero:
        k = nonzero[0]
        fail(
            f"{name}.zero_grad() sets the grad of every parameter to 0",
            f"grads held {held[:3]}...",
            "every grad 0",
            f"{describe(nin, nouts, k)} (entry {k + 1} of parameters()) has grad {fmt(zeroed[k])}",
            "for p in self.parameters(): p.grad = 0.0",
        )
    data = _data(ps, name)
    if data != theta:
        k = next(k for k, (a, b) in enumerate(zip(data, theta, strict=True)) if a != b)
        fail(
            f"{name}.zero_grad() changes the grads only, never the data",
            expected=f"{describe(nin, nouts, k)} still {fmt(theta[k])}",
            got=fmt(data[k]),
        )
    again = one_pass()
    drift = [a - b for a, b in zip(again, first, strict=True)]
    for k, d in enumerate(drift):
        if abs(d) > 1e-12 * max(1.0, abs(first[k])):
            fail(
                f"{name}: backward() after zero_grad() gives the gradients of a single pass",
                f"x = {xs}",
                f"{describe(nin, nouts, k)}: {fmt(first[k])}, as after the first backward()",
                fmt(again[k]),
            )
    return {"net": name, "held": held, "zeroed": zeroed, "data": data, "again_minus_first": drift}


def probe_zero_grad(Value: type, MLP: type) -> None:
    """zero_grad() sets every parameter's grad to 0 and leaves data alone; a backward()
    after it gives the gradients of a single pass."""
    rng = random.Random(97)
    emit("test_zero_grad", [_zeroed(Value, MLP, nin, nouts, rng) for nin, nouts in ZERO_GRAD_NETS])


# --- the random initialisation --------------------------------------------------------


def _init_properties(values: Floats) -> dict[str, bool]:
    return {
        "in_range": all(-1.0 <= v <= 1.0 for v in values),
        "both_signs": min(values) < -0.5 and max(values) > 0.5,
    }


def _check_range(values: Floats, what: str) -> None:
    outside = [v for v in values if not -1.0 <= v <= 1.0]
    if outside:
        fail(
            f"{what}: every weight and bias starts in [-1, 1]",
            expected="values drawn with random.uniform(-1, 1)",
            got=f"{len(outside)} of {len(values)} outside, e.g. {fmt(outside[0])}",
        )


def _check_spread(values: Floats, what: str, kind: str) -> None:
    """Uniform on [-1, 1]: reaching out towards both ends, about half negative. The band
    for "about half" is six standard deviations wide, so a correct draw never misses it."""
    negative = sum(v < 0 for v in values) / len(values)
    band = max(0.2, 6 * math.sqrt(0.25 / len(values)))
    if not (min(values) < -0.5 and max(values) > 0.5 and abs(negative - 0.5) <= band):
        fail(
            f"{what}: the starting {kind} should spread over [-1, 1]",
            f"{len(values)} {kind}",
            "uniform on [-1, 1]: about half negative, some near -1 and some near 1",
            f"min {fmt(min(values))}, max {fmt(max(values))}, {negative:.0%} negative",
            "random.uniform(-1, 1) for each weight and for the bias (random.random() alone is never negative)",
        )


def _split(values: Floats, nin: int, nouts: Sequence[int]) -> tuple[Floats, Floats]:
    """(weights, biases) of a flat parameter list, by the documented order."""
    weights, biases = [], []
    i = 0
    for a, b, _ in layout(nin, nouts):
        for _ in range(b):
            weights += values[i : i + a]
            biases.append(values[i + a])
            i += a + 1
    return weights, biases


def probe_neuron_init(Value: type, Neuron: type) -> None:
    """Neuron(nin): nin + 1 parameters, random in [-1, 1] (weights and bias alike), not
    all equal, a fresh draw for every neuron. Only properties are recorded: the values
    are the student's random draws."""
    student_random = student_module("random", Neuron)  # the student's code draws from it
    state = student_random.getstate()
    student_random.seed(73)
    try:
        cases = []
        weights: Floats = []
        biases: Floats = []
        for nin in range(1, 6):
            for nonlin in (None, False):
                name = _neuron_name(nonlin, nin)
                neuron = _make_neuron(Neuron, nin, nonlin)
                values = _data(parameters_of(Value, neuron, name, nin + 1, NEURON_COUNT), name)
                _check_range(values, name)
                if len(set(values)) == 1:
                    fail(
                        f"{name}: its weights and bias all start at the same value",
                        got=f"all {fmt(values[0])}",
                        hint=SYMMETRY,
                    )
                weights += values[:-1]
                biases.append(values[-1])
                cases.append(
                    {
                        "neuron": name,
                        "count": len(values),
                        "in_range": all(-1.0 <= v <= 1.0 for v in values),
                        "distinct": len(set(values)),
                    }
                )
        more = []
        for nin, times in ((3, 30), (1, 200)):
            name = f"Neuron({nin})"
            for _ in range(times):
                values = _data(parameters_of(Value, _make_neuron(Neuron, nin, None), name, nin + 1), name)
                _check_range(values, name)
                weights += values[:-1]
                biases.append(values[-1])
                more.append(tuple(values))
        if len(set(more)) != len(more):
            fail(
                "neurons built one after the other should start differently",
                "30 x Neuron(3), 200 x Neuron(1)",
                f"{len(more)} different sets of parameters",
                f"{len(set(more))} different",
                SYMMETRY,
            )
        _check_spread(weights, "Neuron(nin)", "weights")
        _check_spread(biases, "Neuron(nin)", "biases")
        cases.append(
            {
                "neurons": len(more),
                "different": len(set(more)),
                "weights": _init_properties(weights),
                "biases": _init_properties(biases),
            }
        )
    finally:
        student_random.setstate(state)
    emit("test_neuron_init", cases)


def probe_init(Value: type, MLP: type) -> None:
    """A fresh MLP's parameters: in [-1, 1], spread over it, no two neurons of a layer
    alike (symmetry broken), and two networks built in a row differ. Only these properties
    are recorded: the values are the student's random draws."""
    student_random = student_module("random", MLP)  # the student's code draws from it
    state = student_random.getstate()
    student_random.seed(101)
    try:
        cases = []
        for nin, nouts in ((8, [16, 16, 1]), (3, [4, 4, 1]), (2, [3, 2])):
            name = f"MLP({nin}, {nouts})"
            nets = [_make_mlp(MLP, nin, nouts) for _ in range(2)]
            values = [_data(mlp_parameters(Value, net, nin, nouts), name) for net in nets]
            for v in values:
                _check_range(v, name)
                if len(set(v)) == 1:
                    fail(f"{name}: every parameter starts at the same value", got=f"all {fmt(v[0])}", hint=SYMMETRY)
            i = 0
            alike = 0
            for li, (a, b, _) in enumerate(layout(nin, nouts), start=1):
                neurons = [tuple(values[0][i + j * (a + 1) : i + (j + 1) * (a + 1)]) for j in range(b)]
                i += (a + 1) * b
                alike += len(neurons) - len(set(neurons))
                if len(set(neurons)) != len(neurons):
                    fail(
                        f"{name}: no two neurons of layer {li} may start alike",
                        expected=f"{b} different neurons",
                        got=f"{len(set(neurons))} different",
                        hint=SYMMETRY,
                    )
            if values[0] == values[1]:
                fail(
                    f"two {name} built one after the other should start differently",
                    hint="draw fresh random numbers in each Neuron's __init__ (never seed inside your classes)",
                )
            case = {
                "net": name,
                "count": len(values[0]),
                "in_range": all(-1.0 <= v <= 1.0 for v in values[0] + values[1]),
                "neurons_alike": alike,
                "nets_differ": values[0] != values[1],
            }
            if nin == 8:  # big enough for the spread to be certain; the values themselves are never recorded
                (w0, b0), (w1, b1) = _split(values[0], nin, nouts), _split(values[1], nin, nouts)
                _check_spread(w0 + w1, name, "weights")
                _check_spread(b0 + b1, name, "biases")
                case["weights"], case["biases"] = _init_properties(w0 + w1), _init_properties(b0 + b1)
            cases.append(case)
    finally:
        student_random.setstate(state)
    emit("test_init", cases)
