"""Hidden-test probes for ``m4_training``: the loss, the optimizers, one training step,
the trained network (judged by recomputing its loss from its parameters), stable
softmax, ``safe_log`` and Adam."""

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from course_grader.probes.common import (
    call,
    central_difference,
    emit,
    fail,
    fmt,
    num,
    rel_error,
    type_name,
    uniform,
)
from course_grader.probes.plain_models import mlp_mse


def _values(Value: type, xs: Sequence[float], grads: Sequence[float] = ()) -> list[Any]:
    vs = [Value(x) for x in xs]
    for v, g in zip(vs, grads, strict=False):
        v.grad = g
    return vs


def _grad_of(f: Callable[[list[float]], float], xs: list[float]) -> list[float]:
    return [central_difference(lambda t: f([*xs[:i], t, *xs[i + 1 :]]), xs[i]) for i in range(len(xs))]


# --- the loss -----------------------------------------------------------------------


def probe_mse_loss(Value: type[Any], mse_loss: Callable) -> None:
    rng = random.Random(71)
    cases = []
    for n in (1, 2, 3, 5, 8, 13):
        preds = [uniform(rng, -2, 2) for _ in range(n)]
        targets = [rng.choice([-1.0, 1.0]) if n % 2 else uniform(rng, -1, 1) for _ in range(n)]
        pv = _values(Value, preds)
        loss = call(lambda: mse_loss(pv, targets), f"mse_loss on {n} predictions")
        if not isinstance(loss, Value):
            fail("mse_loss returns a Value (so that backward() can start from it)", got=type_name(loss))
        data = num(loss.data, "the loss")

        def f(p: list[float], targets: list[float] = targets) -> float:
            return sum((a - t) ** 2 for a, t in zip(p, targets, strict=True)) / len(p)

        if rel_error(data, f(preds)) > 1e-9:
            fail(
                "mse_loss is the MEAN of (prediction - target)**2",
                f"{n} predictions",
                fmt(f(preds)),
                fmt(data),
                "divide the sum by the number of points",
            )
        call(lambda: loss.backward(), "backward() from the loss")
        grads = [num(v.grad, "a prediction's grad") for v in pv]
        for i, (got, want) in enumerate(zip(grads, _grad_of(f, preds), strict=True)):
            if rel_error(got, want) > 1e-5:
                fail(
                    f"gradient of mse_loss reaching prediction {i}",
                    f"{n} predictions",
                    fmt(want),
                    fmt(got),
                    "build the loss from Value operations so backward() reaches every prediction",
                )
        cases.append({"n": n, "preds": preds, "targets": targets, "loss": data, "grads": grads})
    emit("test_mse_loss", cases)


# --- optimizers ---------------------------------------------------------------------


def probe_sgd(Value: type, SGD: type) -> None:
    rng = random.Random(73)
    cases = []
    for n, lr in ((1, 0.1), (4, 0.05), (7, 1.5)):
        data = [uniform(rng, -2, 2) for _ in range(n)]
        grads = [uniform(rng, -3, 3) for _ in range(n)]
        params = _values(Value, data, grads)
        ids = [id(p) for p in params]
        opt = call(lambda: SGD(params, lr), f"SGD(params, lr={lr})")
        call(lambda: opt.step(), "SGD.step()")
        after = [num(p.data, "a parameter's data") for p in params]
        for i, (d, g, a) in enumerate(zip(data, grads, after, strict=True)):
            if abs(a - (d - lr * g)) > 1e-12 * max(1.0, abs(d)):
                hint = (
                    (
                        "update the parameters themselves: p.data -= lr * p.grad (new Values made by "
                        "p - lr * p.grad are not the model's parameters)"
                    )
                    if a == d
                    else "p.data -= lr * p.grad"
                )
                fail(
                    f"SGD.step() on parameter {i}",
                    f"data {fmt(d)}, grad {fmt(g)}, lr {lr}",
                    fmt(d - lr * g),
                    fmt(a),
                    hint,
                )
        if [id(p) for p in params] != ids or any(len(p._prev) for p in params):
            fail(
                "SGD.step() changes p.data in place: the parameters stay the same leaf Values",
                hint="never build the update from Value arithmetic",
            )
        if [num(p.grad, "grad") for p in params] != grads:
            fail("SGD.step() leaves the gradients alone (zero_grad() resets them)")
        call(lambda: opt.zero_grad(), "SGD.zero_grad()")
        zeroed = [num(p.grad, "grad") for p in params]
        if any(g != 0 for g in zeroed):
            fail("SGD.zero_grad() sets every parameter's grad to 0", got=str(zeroed))
        call(lambda: opt.step(), "SGD.step() after zero_grad()")
        still = [num(p.data, "data") for p in params]
        if still != after:
            fail("a step with zero gradients changes nothing", expected=str(after), got=str(still))
        cases.append({"lr": lr, "data": data, "grads": grads, "after": after, "zeroed": zeroed})
    emit("test_sgd", cases)


class _RecordingSGD:
    """A correct SGD that logs its calls: train_step is graded on its own, whatever the
    student's SGD does."""

    def __init__(self, params: list[Any], lr: float) -> None:
        self.params, self.lr = list(params), lr
        self.calls: list[str] = []

    def step(self) -> None:
        self.calls.append("step")
        for p in self.params:
            p.data -= self.lr * p.grad

    def zero_grad(self) -> None:
        self.calls.append("zero_grad")
        for p in self.params:
            p.grad = 0.0


def probe_train_step(MLP: type, train_step: Callable) -> None:
    rng = random.Random(79)
    sizes = [2, 3, 1]
    X = [[uniform(rng, -1.5, 1.5), uniform(rng, -1.5, 1.5)] for _ in range(6)]
    y = [rng.choice([-1.0, 1.0]) for _ in X]
    model = MLP(2, sizes[1:])
    params = model.parameters()
    start = [uniform(rng, -1, 1) for _ in params]
    for p, v in zip(params, start, strict=True):
        p.data, p.grad = v, 0.0
    opt = _RecordingSGD(params, 0.2)
    cases = []
    current = list(start)
    for k in range(3):
        loss = call(lambda: train_step(model, X, y, opt), f"train_step, call {k + 1}")
        got_loss = num(getattr(loss, "data", None), "the loss train_step returns (a Value)")
        want_loss = mlp_mse(sizes, current, X, y)
        if rel_error(got_loss, want_loss) > 1e-9:
            fail(
                "train_step returns the loss of the model BEFORE its update",
                f"call {k + 1}",
                fmt(want_loss),
                fmt(got_loss),
            )
        if opt.calls.count("step") != k + 1:
            fail(
                "train_step calls optimizer.step() once per call",
                f"call {k + 1}",
                str(k + 1),
                str(opt.calls.count("step")),
            )
        grad = _grad_of(lambda ps: mlp_mse(sizes, ps, X, y), current)
        expected = [c - 0.2 * g for c, g in zip(current, grad, strict=True)]
        now = [num(p.data, "a parameter") for p in params]
        for i, (e, a) in enumerate(zip(expected, now, strict=True)):
            if abs(a - e) > 1e-6 * max(1.0, abs(e)):
                fail(
                    "one train_step moves each parameter by -lr * (this step's gradient)",
                    f"call {k + 1}, parameter {i}",
                    fmt(e),
                    fmt(a),
                    "zero the gradients every step (optimizer.zero_grad()), or they pile up from earlier steps",
                )
        current = now
        cases.append({"call": k + 1, "loss": got_loss, "params": now})
    emit("test_train_step", cases)


def probe_trained(
    model: Any, X: list[list[float]], y: list[float], losses: Sequence[float], sizes: list[int], threshold: float = 0.01
) -> None:
    """The trained network, judged by recomputing its loss from its parameters."""
    params = [num(p.data, "a trained parameter") for p in model.parameters()]
    loss = mlp_mse(sizes, params, X, y)
    own = sum((num(model(x).data, "a prediction") - t) ** 2 for x, t in zip(X, y, strict=True)) / len(X)
    if rel_error(own, loss) > 1e-9:
        fail(
            "the model's predictions should come from its parameters in the documented order",
            expected=fmt(loss),
            got=fmt(own),
        )
    curve = [num(v, "a loss in the curve") for v in losses]
    if len(curve) < 100:
        fail("train for at least 100 epochs", expected=">= 100 losses", got=str(len(curve)))
    tenth = max(1, len(curve) // 10)
    falls = sum(curve[:tenth]) / tenth > sum(curve[-tenth:]) / tenth
    if not falls:
        fail(
            "the loss should fall on average over training",
            got=f"first epochs {fmt(curve[0])}, last {fmt(curve[-1])}",
            hint="a learning rate too high makes the loss oscillate or explode",
        )
    if not loss < threshold:
        fail(
            f"the trained network's loss should end below {threshold}",
            "recomputed from the trained parameters",
            f"< {threshold}",
            fmt(loss),
            "too low a learning rate barely moves; too high diverges; too few epochs stops early",
        )
    emit(
        "test_trained",
        [
            {
                "kind": "plain_models.trained_mlp",
                "threshold": threshold,
                "sizes": sizes,
                "X": X,
                "y": y,
                "epochs_ok": True,
                "falls": falls,
                "params": params,
            }
        ],
    )


# --- stability ----------------------------------------------------------------------


def _softmax(xs: list[float]) -> list[float]:
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    s = math.fsum(e)
    return [v / s for v in e]


def probe_softmax(Value: type, softmax: Callable) -> None:
    rng = random.Random(83)
    lists = [[1000.0, 1001.0, 1002.0], [-800.0, -801.5], [5.0], [0.0, 0.0, 0.0, 0.0], [710.0, -710.0]]
    lists += [[uniform(rng, -4, 4) for _ in range(rng.randrange(2, 7))] for _ in range(6)]
    cases = []
    for logits in lists:
        vs = _values(Value, logits)
        probs = call(lambda: list(softmax(vs)), f"softmax of {len(logits)} logits")
        data = [num(getattr(p, "data", None), "a probability (a Value)") for p in probs]
        want = _softmax(logits)
        if len(data) != len(want) or any(rel_error(a, b) > 1e-9 for a, b in zip(data, want, strict=False)):
            fail(
                "softmax",
                f"logits {logits}",
                str([fmt(w) for w in want]),
                str([fmt(d) for d in data]),
                "subtract the largest logit before exp: exp(1000) overflows",
            )
        c = [uniform(rng, -2, 2) for _ in logits]
        out = probs[0] * c[0]
        for p, ci in zip(probs[1:], c[1:], strict=True):
            out = out + p * ci
        call(lambda: out.backward(), "backward() through softmax")
        grads = [num(v.grad, "a logit's grad") for v in vs]
        fd = _grad_of(lambda t: sum(a * b for a, b in zip(_softmax(t), c, strict=True)), logits)
        for i, (g, e) in enumerate(zip(grads, fd, strict=True)):
            if abs(g - e) > 1e-5 * max(1.0, abs(e)):
                fail(
                    f"gradient through softmax reaching logit {i}",
                    f"logits {logits}",
                    fmt(e),
                    fmt(g),
                    "build softmax from Value operations (subtract the max as a plain number)",
                )
        cases.append({"logits": logits, "probs": data, "weights": c, "grads": grads})
    emit("test_softmax", cases)


def probe_safe_log(Value: type, safe_log: Callable) -> None:
    rng = random.Random(89)
    xs = [0.5, 2.0, 1e-3, 1e-10, 1e-12, 0.0, -2.0] + [uniform(rng, 0.05, 5) for _ in range(5)]
    cases = []
    for x in xs:
        prior, g = uniform(rng, -1, 1), uniform(rng, 0.5, 2)
        a = _values(Value, [x], [prior])[0]
        out = call(lambda: safe_log(a), f"safe_log(Value({x}))")
        data = num(getattr(out, "data", None), "safe_log's result (a Value)")
        if rel_error(data, math.log(max(x, 1e-10))) > 1e-12:
            fail("safe_log(x) is log(max(x, 1e-10))", f"x = {x}", fmt(math.log(max(x, 1e-10))), fmt(data))
        call(lambda: (out * g).backward(), "backward() through safe_log")
        grad = num(a.grad, "x.grad")
        if grad == prior:
            fail(
                "safe_log must keep the gradient path to x",
                f"x = {x}",
                "a gradient reaching x",
                "none",
                "Value(max(x.data, 1e-10)).log() makes a new leaf: the graph is cut. Use x's own log",
            )
        if x > 1e-3:  # away from the clamp: against central differences of the log itself
            fd = g * central_difference(math.log, x)
            if rel_error(grad - prior, fd) > 1e-5:
                fail("gradient of safe_log", f"x = {x}", f"{fmt(fd)} (finite differences)", fmt(grad - prior))
        cases.append({"x": x, "prior": prior, "g": g, "data": data, "grad": grad})
    emit("test_safe_log", cases)


def probe_adam(Value: type, Adam: type) -> None:
    rng = random.Random(97)
    cases = []
    settings: list[tuple[dict, int]] = [
        ({}, 2),  # the defaults: lr 0.001, betas (0.9, 0.999), eps 1e-8
        ({"lr": 0.01}, 4),
        ({"lr": 0.05, "betas": (0.5, 0.9)}, 3),
        ({"lr": 0.1, "eps": 1e-3}, 3),
    ]
    for kwargs, steps in settings:
        data = [uniform(rng, -1, 1) for _ in range(4)]
        schedule = [[uniform(rng, -2, 2), uniform(rng, -2, 2), 1e-12, 0.0] for _ in range(steps)]
        params = _values(Value, data)
        opt = call(lambda: Adam(params, **kwargs), f"Adam(params, {kwargs})")
        trail = []
        lr, (b1, b2), eps = kwargs.get("lr", 1e-3), kwargs.get("betas", (0.9, 0.999)), kwargs.get("eps", 1e-8)
        m, v, expected = [0.0] * len(data), [0.0] * len(data), list(data)  # Adam by its formulas, in floats
        for t, grads in enumerate(schedule):
            for p, g in zip(params, grads, strict=True):
                p.grad = g
            before = [num(p.data, "data") for p in params]
            call(lambda: opt.step(), f"Adam.step() number {t + 1}")
            after = [num(p.data, "data") for p in params]
            for i, g in enumerate(grads):
                m[i], v[i] = b1 * m[i] + (1 - b1) * g, b2 * v[i] + (1 - b2) * g * g
                m_hat, v_hat = m[i] / (1 - b1 ** (t + 1)), v[i] / (1 - b2 ** (t + 1))
                expected[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
            if t > 0 and any(abs(a - e) > 1e-9 * max(1.0, abs(e)) for a, e in zip(after, expected, strict=True)):
                fail(
                    f"Adam after {t + 1} steps: m and v carry over from step to step",
                    f"{kwargs}, gradients {[fmt(g[0]) for g in schedule[: t + 1]]} for the first parameter",
                    fmt(expected[0]),
                    fmt(after[0]),
                    "keep m, v and t in the optimizer, one m and one v per parameter, never reset in step()",
                )
            if t == 0:  # bias-corrected: m_hat = g, v_hat = g**2, so the step is lr * g / (|g| + eps)
                for i in (0, 1):
                    moved, g = after[i] - before[i], grads[i]
                    want = -lr * g / (abs(g) + eps)
                    if abs(moved - want) > 1e-9 * lr:
                        fail(
                            "Adam's first step is lr * g / (|g| + eps): bias correction makes m_hat = g and "
                            "v_hat = g**2",
                            f"{kwargs}, grad {fmt(g)}",
                            fmt(want),
                            fmt(moved),
                            "divide m by (1 - beta1**t) and v by (1 - beta2**t)",
                        )
            if after[3] != before[3]:
                fail(
                    "a parameter whose gradient is 0 does not move (eps keeps 0/0 away)", got=fmt(after[3] - before[3])
                )
            trail.append(after)
            call(lambda: opt.zero_grad(), "Adam.zero_grad()")
            if any(num(p.grad, "grad") != 0 for p in params):
                fail("Adam.zero_grad() sets every parameter's grad to 0")
        cases.append(
            {
                "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
                "data": data,
                "schedule": schedule,
                "trail": trail,
            }
        )
    # state is per parameter: changing one parameter's gradients leaves another's path alone
    twins = []
    for other in (0.5, -3.0):
        a, b = _values(Value, [0.3, 0.3])
        opt = Adam([a, b], lr=0.01)
        for g in (1.0, -0.5, 2.0):
            a.grad, b.grad = g, other * g
            opt.step()
        twins.append(num(a.data, "data"))
    if twins[0] != twins[1]:
        fail(
            "Adam keeps its moments per parameter",
            "two runs differing only in another parameter's gradients",
            "the same path",
            f"{fmt(twins[0])} and {fmt(twins[1])}",
            "one m and one v for each parameter",
        )
    cases.append({"per_parameter": twins})
    emit("test_adam", cases)
