"""Hidden-test probes for ``m7_discrete``: gradients through discrete decisions.

Six graded answers: the merge's forward pass with its history, gradients routed back
through that history, a gradient check that knows when a merge decision flips, the
straight-through gate, the expected loss by enumerating every merge pattern, and the
score-function (REINFORCE) estimator.

The estimator is judged statistically, with seeds this module chooses: the probe asks the
student's ``reinforce_grad`` for its estimate on every merge pattern of a small input (a
deterministic function of the pattern, so asked once each), then draws many patterns with
the probe's own seeds and compares the Monte-Carlo mean with the exact gradient within
``Z`` standard errors of that very sample (``mc_check``). What a record carries is
deterministic: the estimates per pattern, the exact gradient, and the statistics of the
probe's own draws. ``bench/estimator_rates.py`` measures how often a correct estimator
fails and a biased one passes over many seeds.
"""

import functools
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from course_grader.probes.common import call, emit, fail, fmt, num, rel_error, sigmoid, type_name, uniform

Z = 4.0  # standard errors a Monte-Carlo mean may stray from the exact gradient
DRAWS = 400_000  # patterns drawn per statistical check (cheap: the estimates are tabulated)


def _sigmoid_slope_fd(z: float, h: float = 1e-6) -> float:
    """The central difference of sigmoid at z, taken on the side where sigmoid is small (so
    that it keeps its digits far from 0: sigmoid(z) = 1 - sigmoid(-z))."""
    if z > 0:
        return (sigmoid(-(z - h)) - sigmoid(-(z + h))) / (2 * h)
    return (sigmoid(z + h) - sigmoid(z - h)) / (2 * h)


def _groups(sims: Sequence[float], threshold: float, n: int) -> list[list[int]]:
    groups = [[0]] if n else []
    for i in range(1, n):
        if sims[i - 1] > threshold:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _values(Value: type, xs: Sequence[float]) -> list[Any]:
    return [call(functools.partial(Value, x), f"Value({x})") for x in xs]


def _pairs(group: Any, what: str) -> list[tuple[int, float]]:
    items = call(lambda: list(group), f"{what} (a list of (input index, weight) pairs)")
    out = []
    for item in items:
        pair = call(functools.partial(list, item), f"an entry of {what} ((input index, weight))")
        if len(pair) != 2:
            fail(f"each entry of {what} is a pair (input index, weight)", got=repr(pair))
        j, w = pair
        if type(j) is not int:
            fail(f"an input index in {what} should be an int", got=f"{type_name(j)}: {j!r}")
        out.append((j, num(w, f"a weight in {what}")))
    return out


# --- merge history ------------------------------------------------------------------------


def probe_merge_forward(Value: type, merge_forward: Callable) -> None:
    rng = random.Random(701)
    specs: list[tuple[list[float], float]] = [
        ([], 0.0),  # one node: nothing to merge
        ([0.9, 0.8, 0.7], 0.5),  # everything merges: one node, the average of four
        ([-0.2, 0.1, 0.0], 0.5),  # nothing merges
        ([0.5, 0.7], 0.5),  # a similarity equal to the threshold does not pass it
    ]
    for n in (2, 3, 4, 5, 6, 7):
        thr = uniform(rng, -0.5, 0.5)
        specs.append(([uniform(rng, -1, 1, avoid=[thr]) for _ in range(n - 1)], thr))
    cases = []
    for sims, thr in specs:
        n = len(sims) + 1
        xs = [uniform(rng, -2, 2) for _ in range(n)]
        given = f"acts {xs}, sims {sims}, threshold {thr}"
        acts = _values(Value, xs)
        result = call(lambda: merge_forward(acts, list(sims), thr), f"merge_forward({given})")
        parts = call(lambda: list(result), "merge_forward's result (outputs, history)")
        if len(parts) != 2:
            fail("merge_forward returns two things: (outputs, history)", given, got=f"{len(parts)} things")
        outputs = call(lambda: list(parts[0]), "the outputs (a list of Values)")
        history = call(lambda: list(parts[1]), "the history (one entry per output node)")
        groups = _groups(sims, thr, n)
        if len(history) != len(groups) or len(outputs) != len(groups):
            fail(
                "one output node (and one history entry) per group of merged inputs: node i+1 joins "
                "node i's group when sims[i] > threshold",
                given,
                f"{len(groups)} output nodes",
                f"{len(outputs)} outputs, {len(history)} history entries",
                "a similarity equal to the threshold does not pass it",
            )
        rec_hist = []
        for k, (group, entry) in enumerate(zip(groups, history, strict=True)):
            pairs = _pairs(entry, f"history[{k}]")
            if sorted(j for j, _ in pairs) != group:
                fail(f"history[{k}] lists the inputs merged into output {k}", given, str(group), str(pairs))
            total = math.fsum(w for _, w in pairs)
            if abs(total - 1.0) > 1e-12:
                fail(
                    f"the weights of history[{k}] sum to 1 (the merged activation is the average)",
                    given,
                    "1",
                    fmt(total),
                    f"a group of {len(group)} inputs gives each the weight 1/{len(group)}",
                )
            for j, w in pairs:
                if abs(w - 1.0 / len(group)) > 1e-12:
                    fail(f"the weight of input {j} in history[{k}]", given, fmt(1.0 / len(group)), fmt(w))
            rec_hist.append(sorted([j, w] for j, w in pairs))
        data = [num(getattr(o, "data", None), "an output node's data (a Value)") for o in outputs]
        for k, group in enumerate(groups):
            want = math.fsum(xs[j] for j in group) / len(group)
            if abs(data[k] - want) > 1e-12 * max(1.0, abs(want)):
                fail(f"output {k} is the average of its group's activations", given, fmt(want), fmt(data[k]))
        c = [uniform(rng, -2, 2) for _ in outputs]
        total_out = outputs[0] * c[0]
        for o, ck in zip(outputs[1:], c[1:], strict=True):
            total_out = total_out + o * ck
        call(lambda: total_out.backward(), "backward() through the merged outputs")
        grads = [num(a.grad, "an input activation's grad") for a in acts]
        for k, group in enumerate(groups):
            for j in group:
                want = c[k] / len(group)
                if abs(grads[j] - want) > 1e-9 * max(1.0, abs(want)):
                    fail(
                        f"the gradient reaching input {j} through output {k}",
                        given + f"; d(loss)/d(output {k}) = {fmt(c[k])}",
                        fmt(want),
                        fmt(grads[j]),
                        "build each output from the inputs with Value operations (weight * act, summed), "
                        "so backward() reaches every input of a merged node",
                    )
        cases.append({"sims": sims, "threshold": thr, "acts": xs, "history": rec_hist, "outputs": data, "grads": grads})
    emit("test_merge_forward", cases)


def probe_route_gradients(route_gradients: Callable) -> None:
    rng = random.Random(709)
    cases = []
    for n in (1, 2, 3, 4, 6, 8):
        thr = uniform(rng, -0.3, 0.3)
        sims = [uniform(rng, -1, 1, avoid=[thr]) for _ in range(n - 1)]
        if n == 8:
            sims = [0.9] * 7  # one node made of all eight
        groups = _groups(sims, thr, n)
        # a history in this module's own form: lists of (index, weight) tuples
        history = [[(j, 1.0 / len(g)) for j in g] for g in groups]
        out_grads = [uniform(rng, -2, 2) for _ in groups]
        given = f"history {history}, out_grads {out_grads}, n_inputs {n}"
        got = call(lambda: list(route_gradients(history, list(out_grads), n)), f"route_gradients({given})")
        grads = [num(g, "an input's gradient") for g in got]
        if len(grads) != n:
            fail("route_gradients returns one gradient per INPUT node", given, str(n), str(len(grads)))
        want = [0.0] * n
        for k, g in enumerate(groups):
            for j in g:
                want[j] += out_grads[k] / len(g)
        for j in range(n):
            if abs(grads[j] - want[j]) > 1e-12 * max(1.0, abs(want[j])):
                k = next(k for k, g in enumerate(groups) if j in g)
                fail(
                    f"the gradient reaching input {j}",
                    given,
                    fmt(want[j]),
                    fmt(grads[j]),
                    f"input {j} was merged into output {k}: it receives its weight times output {k}'s gradient "
                    "(every input of a merged node, never just the first)",
                )
        cases.append({"history": history, "out_grads": out_grads, "grads": grads})
    emit("test_route_gradients", cases)


# --- a gradient check that knows about decisions --------------------------------------------


def _merge_loss(x: Sequence[float], threshold: float) -> tuple[float, tuple[int, ...], list[float]]:
    """The probe's own model, in floats: activations tanh(x), similarity of neighbours their
    product, a hard merge above ``threshold``, the groups' averages against targets."""
    acts = [math.tanh(v) for v in x]
    sims = [acts[i] * acts[i + 1] for i in range(len(acts) - 1)]
    gates = tuple(int(s > threshold) for s in sims)
    groups = _groups(sims, threshold, len(acts))
    targets = (0.3, -0.2, 0.5, 0.1)
    loss = 0.5 * abs(len(groups) - 2)
    grads = [0.0] * len(x)
    for k, g in enumerate(groups):
        avg = math.fsum(acts[j] for j in g) / len(g)
        t = targets[k]
        loss += (avg - t) ** 2
        for j in g:
            grads[j] += 2 * (avg - t) / len(g) * (1 - acts[j] ** 2)
    return loss, gates, grads


@dataclass(frozen=True)
class _Checked:
    """A function handed to the student's merge_grad_check: the merge loss times ``scale``,
    input ``broken``'s gradient (when given) made ``factor`` * g + ``shift``."""

    xs: list[float]
    broken: int | None = None
    kwargs: dict[str, float] = field(default_factory=dict)
    factor: float = 1.5
    shift: float = 0.1
    scale: float = 1.0

    def loss(self, xs: Sequence[float], threshold: float) -> tuple[float, tuple[int, ...], list[float]]:
        loss, gates, grads = _merge_loss(xs, threshold)
        grads = [self.scale * g for g in grads]
        if self.broken is not None:
            grads[self.broken] = grads[self.broken] * self.factor + self.shift
        return self.scale * loss, gates, grads


def _checked_function(Value: type, threshold: float, spec: _Checked) -> Callable[[Any], Any]:
    """f(values) -> (loss, decisions): a Value whose _backward this probe writes (a gradient
    deliberately wrong, when the spec says so), and the merge decisions."""

    def f(values: Any) -> Any:
        vs = list(call(lambda: list(values), "merge_grad_check calls f with a list of Values"))
        xs = [num(getattr(v, "data", None), "an input Value's data") for v in vs]
        loss, gates, grads = spec.loss(xs, threshold)
        out = call(lambda: Value(loss, tuple(vs), "merge_loss"), "Value(data, children, op)")

        def _backward() -> None:
            g = num(out.grad, "the loss's grad")
            for v, d in zip(vs, grads, strict=True):
                now = num(v.grad, "an input's grad")
                call(functools.partial(setattr, v, "grad", now + g * d), "setting an input's grad")

        call(lambda: setattr(out, "_backward", _backward), "setting _backward")
        return out, gates

    return f


def probe_merge_grad_check(Value: type, merge_grad_check: Callable) -> None:
    rng = random.Random(719)
    threshold = 0.2
    specs: list[_Checked] = []
    # a decision on the edge: tanh(x0) * tanh(x1) = threshold + 3e-7, so x1 +- 1e-6 flips it
    x0 = 0.8
    x1 = math.atanh((threshold + 3e-7) / math.tanh(x0))
    specs.append(_Checked([x0, x1, -0.9]))
    specs.append(_Checked([x0, x1, -0.9], 2))  # flipped and a wrong gradient elsewhere
    for _ in range(3):
        specs.append(_Checked([uniform(rng, -1.5, 1.5) for _ in range(3)]))
    specs.append(_Checked([uniform(rng, -1.5, 1.5) for _ in range(4)], 1))
    specs.append(_Checked([uniform(rng, -1.5, 1.5) for _ in range(3)], 0, {"tol": 0.5}))  # a looser tol
    specs.append(_Checked([x0, x1, -0.9], kwargs={"h": 1e-8}))  # a smaller h: nothing flips
    # the relative error, exactly: 5e-5 off is a mismatch at the default tol of 1e-5; 5e-7 off
    # on gradients near 50 is fine (an error |a - n| times the size would say otherwise)
    specs.append(_Checked([uniform(rng, -1.5, 1.5) for _ in range(3)], 1, factor=1 + 5e-5, shift=0.0))
    specs.append(_Checked([uniform(rng, -1.5, 1.5) for _ in range(3)], 1, factor=1 + 5e-7, shift=0.0, scale=50.0))
    # below the 1e-8 floor of the relative error: gradients near 1e-11 and 1e-12, 5% off
    specs.append(_Checked([uniform(rng, -1.5, 1.5) for _ in range(3)], 0, factor=1.05, shift=0.0, scale=1e-11))
    specs.append(_Checked([uniform(rng, -1.5, 1.5) for _ in range(3)], 0, factor=1.05, shift=0.0, scale=1e-12))
    cases = []
    for spec in specs:
        xs, kwargs = spec.xs, spec.kwargs
        h, tol = kwargs.get("h", 1e-6), kwargs.get("tol", 1e-5)
        given = f"xs {xs}" + (f", {kwargs}" if kwargs else "")
        if spec.scale != 1.0:
            given += f"; the loss times {spec.scale:g}"
        f = _checked_function(Value, threshold, spec)
        rows = call(lambda: list(merge_grad_check(f, list(xs), **kwargs)), f"merge_grad_check({given})")
        if len(rows) != len(xs):
            fail("merge_grad_check returns one row per input", given, str(len(xs)), str(len(rows)))
        _, base, grads = spec.loss(xs, threshold)
        rec = []
        for i, row in enumerate(rows):
            what = f"row {i} of merge_grad_check"
            parts = call(functools.partial(list, row), what)
            if len(parts) != 3:
                fail(f"{what} is (analytic, numeric, status)", given, got=repr(parts))
            analytic = num(parts[0], f"the analytic gradient in {what}")
            numeric = num(parts[1], f"the numerical gradient in {what}")
            status = parts[2]
            if abs(analytic - grads[i]) > 1e-12 * max(spec.scale, abs(grads[i])):
                fail(
                    f"{what}: the analytic gradient is input {i}'s .grad after backward()",
                    given,
                    fmt(grads[i]),
                    fmt(analytic),
                )
            up = [*xs[:i], xs[i] + h, *xs[i + 1 :]]
            down = [*xs[:i], xs[i] - h, *xs[i + 1 :]]
            (lu, gu, _), (ld, gd, _) = spec.loss(up, threshold), spec.loss(down, threshold)
            want_numeric = (lu - ld) / (2 * h)
            if abs(numeric - want_numeric) > 1e-6 * max(spec.scale, abs(want_numeric)):
                fail(
                    f"{what}: the numerical gradient is the central difference with h = {h}",
                    given,
                    fmt(want_numeric),
                    fmt(numeric),
                )
            if gu != base or gd != base:
                want = "flipped"
            elif rel_error(analytic, want_numeric) <= tol:
                want = "ok"
            else:
                want = "mismatch"
            if status != want:
                hint = {
                    "flipped": "a merge decision at x + h or x - h differs from the one at x: the difference "
                    "quotient then measures a jump, not a slope. Say 'flipped', never 'mismatch'",
                    "ok": "the decisions do not change within +-h and the relative error is within tol",
                    "mismatch": "the decisions hold within +-h, yet the relative error exceeds tol",
                }[want]
                fail(f"{what}: the status", given, repr(want), repr(status), hint)
            rec.append({"analytic": analytic, "status": want, "numeric": None if want == "flipped" else numeric})
        cases.append({"xs": xs, "kwargs": kwargs, "rows": rec})
    emit("test_merge_grad_check", cases)


# --- the straight-through gate --------------------------------------------------------------


def probe_ste_gate(Value: type, ste_gate: Callable) -> None:
    rng = random.Random(727)
    # (0.4, 0.4): a tie is not "above the threshold", as in merge_forward
    specs = [
        (0.7, 0.5, 0.1),
        (0.3, 0.5, 0.1),
        (0.2, 0.25, 1.0),
        (0.9, -0.4, 0.05),
        (0.1, 0.1 + 2e-3, 0.01),
        (0.4, 0.4, 0.1),
    ]
    for T in (0.05, 0.2, 0.5, 2.0, 5.0):
        thr = uniform(rng, -0.5, 0.5)
        specs.append((uniform(rng, -1, 1, avoid=[thr], gap=0.01), thr, T))
    cases: list[dict[str, Any]] = []
    for sim_x, thr_x, T in specs:
        given = f"sim {sim_x}, threshold {thr_x}, temperature {T}"
        sim, thr = _values(Value, [sim_x, thr_x])
        # gradients already there (from other uses of sim and threshold) are added to, not replaced
        prior = (uniform(rng, -1, 1), uniform(rng, -1, 1)) if len(cases) % 2 else (0.0, 0.0)
        call(functools.partial(setattr, sim, "grad", prior[0]), "setting sim.grad")
        call(functools.partial(setattr, thr, "grad", prior[1]), "setting threshold.grad")
        out = call(lambda: ste_gate(sim, thr, T), f"ste_gate({given})")
        data = num(getattr(out, "data", None), "ste_gate's result (a Value)")
        hard = 1.0 if sim_x > thr_x else 0.0
        if abs(data - hard) > 1e-12:
            fail(
                "the forward pass is HARD: 1.0 when sim > threshold, else 0.0",
                given,
                fmt(hard),
                fmt(data),
                "the sigmoid is only for the backward pass",
            )
        g = uniform(rng, 0.5, 2.0)
        call(lambda: (out * g).backward(), "backward() through ste_gate")
        d_sim = num(sim.grad, "sim.grad") - prior[0]
        d_thr = num(thr.grad, "threshold.grad") - prior[1]

        z = (sim_x - thr_x) / T
        slope = _sigmoid_slope_fd(z) / T  # the surrogate's central difference, in sim
        want_sim, want_thr = g * slope, -g * slope
        exact = g * sigmoid(z) * (1 - sigmoid(z)) / T
        for name, got, want in (("sim", d_sim, want_sim), ("threshold", d_thr, want_thr)):
            if abs(got - want) > 1e-5 * abs(want) + 1e-15:
                hint = "the gradient of sigmoid((sim - threshold) / temperature)"
                if abs(got / T - want) <= 1e-5 * abs(want) + 1e-15:
                    hint = "the chain rule through z = (sim - threshold) / temperature brings a factor 1/temperature"
                elif abs(got + want) <= 1e-5 * abs(want) + 1e-15:
                    hint = "z falls when the threshold rises: its gradient has the opposite sign of sim's"
                elif any(prior) and abs(got + prior[0 if name == "sim" else 1] - want) <= 1e-5 * abs(want) + 1e-15:
                    hint = "add to the gradient (+=): sim and threshold may be used elsewhere too"
                fail(
                    f"the gradient reaching {name} (the surrogate's central difference)",
                    given + f"; d(loss)/d(gate) = {fmt(g)}; grads before: {fmt(prior[0])}, {fmt(prior[1])}",
                    fmt(want),
                    fmt(got),
                    hint,
                )
        cases.append(
            {"sim": sim_x, "threshold": thr_x, "temperature": T, "gate": hard, "grads": [d_sim, d_thr], "exact": exact}
        )
    emit("test_ste_gate", cases)


# --- the expected loss by enumeration -------------------------------------------------------


def _patterns(n: int) -> list[tuple[int, ...]]:
    return list(itertools.product((0, 1), repeat=n))


def _prob(p: Sequence[float], gates: Sequence[int]) -> float:
    out = 1.0
    for pk, g in zip(p, gates, strict=True):
        out *= pk if g else 1 - pk
    return out


def probe_expected_loss(Value: type, expected_loss: Callable) -> None:
    rng = random.Random(733)
    cases = []
    for n in (1, 2, 3, 4):
        ps = [uniform(rng, 0.05, 0.95) for _ in range(n)]
        table = {g: uniform(rng, -1, 3) for g in _patterns(n)}
        given = f"probs {ps}, losses per pattern {[(list(g), v) for g, v in table.items()]}"
        probs = _values(Value, ps)
        leaves: dict[tuple[int, ...], Any] = {}

        def pattern_loss(gates: Any, n: int = n, table: dict = table, leaves: dict = leaves) -> Any:
            seen = [float(v) if type(v) is bool else num(v, "a gate") for v in list(gates)]
            if any(x not in (0.0, 1.0) for x in seen):
                fail(
                    "expected_loss calls pattern_loss with one gate per probability, each 0 or 1", given, got=str(seen)
                )
            key = tuple(int(x) for x in seen)
            if len(key) != n:
                fail("expected_loss calls pattern_loss with one gate per probability", given, str(n), str(len(key)))
            if key not in leaves:
                leaves[key] = call(lambda: Value(table[key]), f"Value({table[key]})")
            return leaves[key]

        out = call(lambda: expected_loss(probs, pattern_loss), f"expected_loss({given})")
        data = num(getattr(out, "data", None), "the expected loss (a Value)")
        want = math.fsum(_prob(ps, g) * v for g, v in table.items())
        if abs(data - want) > 1e-12 * max(1.0, abs(want)):
            fail(
                "the expected loss: the sum over every merge pattern of P(pattern) * loss(pattern)",
                given,
                fmt(want),
                fmt(data),
                "P(pattern) multiplies p for each gate that is 1 and (1 - p) for each gate that is 0",
            )
        call(lambda: out.backward(), "backward() from the expected loss")
        grads = [num(p.grad, "a probability's grad") for p in probs]
        for k in range(n):
            wk = math.fsum(
                (1 if g[k] else -1)
                * _prob([p for i, p in enumerate(ps) if i != k], [x for i, x in enumerate(g) if i != k])
                * v
                for g, v in table.items()
            )
            if abs(grads[k] - wk) > 1e-9 * max(1.0, abs(wk)):
                fail(
                    f"the exact gradient reaching probability {k}",
                    given,
                    fmt(wk),
                    fmt(grads[k]),
                    "build the expected loss from Value operations on the probabilities",
                )
        cases.append({"probs": ps, "table": [[list(g), v] for g, v in table.items()], "value": data, "grads": grads})
    emit("test_expected_loss", cases)


# --- REINFORCE -------------------------------------------------------------------------------


def exact_threshold_grad(sims: Sequence[float], threshold: float, T: float, table: dict) -> float:
    """d E[loss] / d threshold, by enumerating every pattern (the probe's own, in floats)."""
    p = [sigmoid((s - threshold) / T) for s in sims]
    total = []
    for g, loss in table.items():
        # d P(g)/d threshold = P(g) * sum_k (g_k - p_k) * (-1/T)
        total.append(loss * _prob(p, g) * sum((gk - pk) * (-1.0 / T) for gk, pk in zip(g, p, strict=True)))
    return math.fsum(total)


def mc_check(estimates: Sequence[float], probs: Sequence[float], exact: float, seed: int, draws: int = DRAWS) -> dict:
    """Draw ``draws`` patterns with ``probs`` from ``seed``; the sample mean of their
    estimates, its standard error, and whether it lies within Z standard errors of ``exact``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    table = np.array(estimates, dtype=np.float64)
    idx = rng.choice(len(table), size=draws, p=np.array(probs) / math.fsum(probs))
    sample = table[idx]
    mean = float(sample.mean())
    se = float(sample.std(ddof=1) / math.sqrt(draws))
    var = float(sample.var(ddof=1))
    return {"mean": mean, "se": se, "var": var, "agrees": bool(abs(mean - exact) <= Z * se)}


REINFORCE_CASES: list[tuple[list[float], float, float, int]] = [  # sims, threshold, temperature, seed
    ([0.4], 0.3, 0.2, 1),
    ([0.6, 0.1], 0.3, 0.25, 2),
    ([0.5, 0.2, 0.35], 0.3, 0.2, 3),
    ([0.2, 0.45], 0.3, 0.5, 4),
]


def reinforce_case(i: int) -> tuple[list[float], float, float, dict, list[tuple[int, ...]], list[float]]:
    """The probe's i-th small input: sims, threshold, temperature, the loss of every pattern
    (an offset of 3 that a baseline removes), the patterns and their probabilities."""
    sims, thr, T, _ = REINFORCE_CASES[i]
    rng = random.Random(739 + i)
    patterns = _patterns(len(sims))
    table = {g: 3.0 + uniform(rng, -1, 1) for g in patterns}
    p = [sigmoid((s - thr) / T) for s in sims]
    return sims, thr, T, table, patterns, [_prob(p, g) for g in patterns]


def probe_reinforce(reinforce_grad: Callable) -> None:
    cases = []
    for i in range(len(REINFORCE_CASES)):
        sims, thr, T, table, patterns, probs = reinforce_case(i)
        seed = 7000 + 97 * REINFORCE_CASES[i][3]
        exact = exact_threshold_grad(sims, thr, T, table)
        mean_loss = math.fsum(p * table[g] for g, p in zip(patterns, probs, strict=True))
        given = f"sims {sims}, threshold {thr}, temperature {T}"

        def estimates(
            baseline: Callable[[tuple[int, ...]], float], given: str = given, sims: list = sims
        ) -> list[float]:
            out = []
            for g in patterns:
                b = baseline(g)
                est = call(
                    functools.partial(reinforce_grad, list(sims), thr, T, list(g), table[g], b),
                    f"reinforce_grad({given}, gates {list(g)}, loss {fmt(table[g])}, baseline {fmt(b)})",
                )
                out.append(num(est, "reinforce_grad's estimate"))
            return out

        plain = estimates(lambda g: 0.0)
        again = []  # the same samples again, the baseline left to its default (0.0, no baseline)
        for g in patterns:
            est = call(
                functools.partial(reinforce_grad, list(sims), thr, T, list(g), table[g]),
                f"reinforce_grad({given}, gates {list(g)}, loss {fmt(table[g])}) without a baseline",
            )
            again.append(num(est, "reinforce_grad's estimate"))
        if again != plain:
            fail(
                "reinforce_grad is a function of its arguments, and without a baseline the baseline is 0.0: "
                "the same sample gives the same estimate",
                given,
                str([fmt(x) for x in plain]),
                str([fmt(x) for x in again]),
            )
        based = estimates(lambda g: mean_loss)
        acting = estimates(lambda g: 0.5 * table[g])  # a baseline that depends on the sampled action
        runs = {
            "no baseline": mc_check(plain, probs, exact, seed),
            "baseline": mc_check(based, probs, exact, seed + 1),
            "action-dependent baseline": mc_check(acting, probs, exact, seed + 2),
        }
        sample = f"{DRAWS} merge patterns drawn with the grader's seed, {given}"
        for name in ("no baseline", "baseline"):
            r = runs[name]
            if not r["agrees"]:
                hint = "the score function is d log P(gates) / d threshold = sum_k (g_k - p_k) * (-1 / temperature)"
                if abs(r["mean"] + exact) <= Z * r["se"]:
                    hint = "the sign: the estimate is (loss - baseline) * d log P / d threshold, not its negative"
                elif name == "baseline":
                    hint = "subtract the baseline from the LOSS, then multiply by the score: (loss - b) * score"
                fail(
                    f"REINFORCE ({name}): the Monte-Carlo mean should agree with the exact gradient within "
                    f"{Z:g} standard errors",
                    sample,
                    f"{fmt(exact)} (exact, by enumerating every pattern)",
                    f"{fmt(r['mean'])} +- {r['se']:.3g} (standard error)",
                    hint,
                )
        ratio = runs["baseline"]["var"] / runs["no baseline"]["var"]
        if not ratio < 1:
            fail(
                "a baseline (the mean loss) reduces the estimator's variance",
                sample,
                "a variance ratio below 1",
                f"{ratio:.3g}",
                "(loss - baseline) * score: a baseline that is ignored changes nothing",
            )
        if runs["action-dependent baseline"]["agrees"]:
            fail(
                "a baseline that depends on the sampled gates biases the estimate",
                sample + ", baseline 0.5 * loss(gates)",
                f"a mean away from {fmt(exact)}",
                fmt(runs["action-dependent baseline"]["mean"]),
                "the baseline is subtracted from the loss of the sample it is given",
            )
        cases.append(
            {
                "sims": sims,
                "threshold": thr,
                "temperature": T,
                "exact": exact,
                "estimates": plain,
                "with_baseline": based,
                "variance_ratio": ratio,
                "stats": runs,
            }
        )
    emit("test_reinforce", cases)
