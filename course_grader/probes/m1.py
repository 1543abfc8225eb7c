"""Hidden-test probes for ``m1_value``: the Value class, driven through ``_backward()``.

Each ``probe_*`` function is what one graded cell calls. Cases are seeded and random
(plus the edge cases each operation is known for), operands come in every form the
spec promises (Value op Value, Value op number, number op Value, a Value with itself),
inputs already hold gradient, and the upstream gradient is random, never just 1.0.
"""

import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from course_grader.probes.common import (
    GRAD_TOL,
    backprop,
    call,
    central_difference,
    children,
    close,
    emit,
    fail,
    fmt,
    num,
    rel_error,
    sigmoid,
    type_name,
    uniform,
)

Num = float
Local = Callable[..., Num]  # a local derivative, of the op's one or two inputs


@dataclass
class Op:
    """One operation under test."""

    cell: str  # grade id of the cell that calls this probe
    name: str  # how students write it, e.g. "a * b"
    apply: Callable[..., Any]  # applies the student's operation to operands
    f: Callable[..., float]  # the forward value, from math
    arity: int
    op: Callable[[Any], str] | None  # expected _op (primitive ops only)
    wrong_left: dict[str, Local] = field(default_factory=dict)  # mistaken local derivatives
    wrong_right: dict[str, Local] = field(default_factory=dict)
    forms: tuple[str, ...] = ("VV", "VF", "FV", "same")
    reflected: str = ""  # the dunder a "number op Value" form needs
    number_is_child: bool = True  # False for a ** k: the exponent is not a node


def _leaf(Value: type, x: float, grad: float, what: str) -> Any:
    v = call(lambda: Value(x), f"Value({fmt(x)})", "is __init__ done?")
    call(lambda: setattr(v, "grad", grad), f"setting .grad on {what}")
    return v


def _diagnose(got: float, prior: float, g: float, local: float, wrong: Mapping[str, Local], args: tuple) -> str:
    """Name the mistake that produces ``got``, when a known one does."""

    def near(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-6 * max(abs(a), abs(b), 1e-6)

    if near(got, prior) and not near(g * local, 0.0):
        return "the gradient never arrived: does the op set out._backward, and does it update this input?"
    if prior != 0 and near(got, g * local):
        return "the input already held gradient and yours replaced it: accumulate with +=, not ="
    if near(got, prior + local) and not near(g, 1.0):
        return "the upstream gradient out.grad was ignored: multiply the local derivative by it (chain rule)"
    for mistake, wrong_local in wrong.items():
        try:
            if near(got, prior + g * wrong_local(*args)):
                return mistake
        except (ArithmeticError, ValueError):
            pass
    return "compare your local derivative with the table in the notebook"


def _check_grad(
    got: float, prior: float, g: float, local: float, what: str, given: str, wrong: Mapping[str, Local], args: tuple
) -> None:
    expected = prior + g * local
    if rel_error(got, expected) > GRAD_TOL:
        fail(what, given, fmt(expected), fmt(got), _diagnose(got, prior, g, local, wrong, args))


def _labels(kids: list, named: dict[int, str]) -> list[str]:
    out = []
    for k in kids:
        if id(k) in named:
            out.append(named[id(k)])
        else:
            out.append("const:" + fmt(num(getattr(k, "data", None), "a child's data")))
    return sorted(set(out))


def run(Value: type[Any], spec: Op, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``spec`` to every case, check what the kernel can, return the record cases."""
    out_cases = []
    for case in cases:
        form, x, y, g, pa, pb = (case[k] for k in ("form", "x", "y", "g", "pa", "pb"))
        a = b = None
        if form == "V":
            a = _leaf(Value, x, pa, "a")
            operands: tuple = (a,)
            lv, rv = x, None
            shown = f"a = Value({fmt(x)})"
        elif form == "VV":
            a, b = _leaf(Value, x, pa, "a"), _leaf(Value, y, pb, "b")
            operands, lv, rv = (a, b), x, y
            shown = f"a = Value({fmt(x)}), b = Value({fmt(y)})"
        elif form == "VF":
            a = _leaf(Value, x, pa, "a")
            operands, lv, rv = (a, y), x, y
            shown = f"a = Value({fmt(x)}), b = {fmt(y)} (a plain number)"
        elif form == "FV":
            b = _leaf(Value, y, pb, "b")
            operands, lv, rv = (x, b), x, y
            shown = f"a = {fmt(x)} (a plain number), b = Value({fmt(y)})"
        else:  # "same": one Value used as both operands
            a = _leaf(Value, x, pa, "a")
            operands, lv, rv = (a, a), x, x
            shown = f"a = Value({fmt(x)}), used on both sides"
        expr = spec.name if form != "same" else spec.name.replace("b", "a")
        given = f"{shown}; computing {expr}"
        hint = ""
        if form == "FV" and spec.reflected:
            hint = f"a number on the left needs {spec.reflected}"
        out = call(lambda: spec.apply(*operands), f"{expr} with {shown}", hint)
        if not isinstance(out, Value):
            fail(f"{expr} should return a new Value", given, "a Value", f"{type_name(out)}: {out!r}")
        args = (lv,) if spec.arity == 1 else (lv, rv)
        expected = spec.f(*args)
        data = num(out.data, f"({expr}).data")
        if not close(data, expected):
            fail(f"forward value of {expr}", given, fmt(expected), fmt(data))
        g0 = num(out.grad, f"({expr}).grad")
        if g0 != 0:
            fail(f"a new Value's grad should start at 0 ({expr})", given, "0.0", fmt(g0))
        rec: dict[str, Any] = {"form": form, "x": x, "y": y, "g": g, "pa": pa, "pb": pb, "data": data, "g0": g0}
        if spec.op is not None:
            named = {id(v): n for n, v in (("a", a), ("b", b)) if v is not None}
            kids = _labels(children(out, expr), named)
            want = sorted(
                {named[id(v)] for v in operands if id(v) in named}
                | {"const:" + fmt(float(v)) for v in operands if not isinstance(v, Value) and spec.number_is_child}
            )
            if kids != want:
                fail(
                    f"children (_prev) of {expr}",
                    given,
                    str(want),
                    str(kids),
                    "pass the operands as _children when you build out (wrap a number in a Value first)",
                )
            op = out._op
            if type(op) is not str or op != spec.op(rv):
                fail(f"_op of {expr}", given, repr(spec.op(rv)), repr(op))
            rec["kids"], rec["op"] = kids, op
        call(lambda: setattr(out, "grad", g), f"setting ({expr}).grad")
        if spec.op is not None:
            call(lambda: out._backward(), f"({expr})._backward()")
        else:
            call(lambda: backprop(out, expr), f"propagating through {expr}")
        given_g = f"{given}; out.grad = {fmt(g)}"
        if num(out.grad, "out.grad") != g:
            fail(
                f"_backward of {expr} changed out.grad",
                given_g,
                fmt(g),
                fmt(out.grad),
                "_backward reads out.grad; it writes only the inputs' grads",
            )
        rec["gout"] = num(out.grad, "out.grad")  # what the probe checked, for the judge too
        if a is not None:
            rec["ga"] = num(a.grad, "a.grad")
        if b is not None:
            rec["gb"] = num(b.grad, "b.grad")
        if not case.get("judge_only"):
            _check_grads_reaching_inputs(spec, form, args, rec, g, pa, pb, expr, given_g)
        out_cases.append(rec)
    return out_cases


def _check_grads_reaching_inputs(
    spec: Op, form: str, args: tuple, rec: dict, g: float, pa: float, pb: float, expr: str, given: str
) -> None:
    if spec.arity == 1:
        local = central_difference(spec.f, args[0])
        given += f" (a.grad was {fmt(pa)} before)"
        _check_grad(rec["ga"], pa, g, local, f"gradient of {expr} reaching a", given, spec.wrong_left, args)
        return
    lv, rv = args
    if form == "same":
        local = central_difference(lambda t: spec.f(t, t), lv)
        given += f" (a.grad was {fmt(pa)} before)"
        both = {m: (lambda x, y, wl=wl, m=m: wl(x, y) + _right(spec, m, x, y)) for m, wl in spec.wrong_left.items()}
        _check_grad(rec["ga"], pa, g, local, f"gradient of {expr} reaching a (used twice)", given, both, args)
        return
    if "ga" in rec:
        local = central_difference(lambda t: spec.f(t, rv), lv)
        _check_grad(
            rec["ga"],
            pa,
            g,
            local,
            f"gradient of {expr} reaching a",
            given + f" (a.grad was {fmt(pa)} before)",
            spec.wrong_left,
            args,
        )
    if "gb" in rec:
        local = central_difference(lambda t: spec.f(lv, t), rv)
        _check_grad(
            rec["gb"],
            pb,
            g,
            local,
            f"gradient of {expr} reaching b",
            given + f" (b.grad was {fmt(pb)} before)",
            spec.wrong_right,
            args,
        )


def _right(spec: Op, mistake: str, x: float, y: float) -> float:
    wr = spec.wrong_right.get(mistake)
    return wr(x, y) if wr else central_difference(lambda t: spec.f(x, t), y)


# --- case generation ---------------------------------------------------------------


def binary_cases(
    seed: int, spec: Op, lo: float, hi: float, n: int = 6, avoid_right: tuple = (), extra: tuple = ()
) -> list[dict[str, Any]]:
    """``n`` random cases per form, plus ``extra`` (form, x, y, judge_only) cases."""
    rng = random.Random(seed)
    cases = []
    for form in spec.forms:
        for _ in range(n):
            cases.append(
                {
                    "form": form,
                    "x": uniform(rng, lo, hi, avoid_right if form == "same" else ()),
                    "y": uniform(rng, lo, hi, avoid_right),
                    "g": uniform(rng, -2.0, 2.0, (0.0, 1.0)),
                    "pa": uniform(rng, -1.0, 1.0),
                    "pb": uniform(rng, -1.0, 1.0),
                }
            )
    for form, x, y, judge_only in extra:
        cases.append(
            {
                "form": form,
                "x": x,
                "y": y,
                "g": uniform(rng, -2.0, 2.0, (0.0, 1.0)),
                "pa": uniform(rng, -1.0, 1.0),
                "pb": uniform(rng, -1.0, 1.0),
                "judge_only": judge_only,
            }
        )
    return cases


def unary_cases(
    seed: int, lo: float, hi: float, n: int = 10, avoid: tuple = (), extra: tuple = ()
) -> list[dict[str, Any]]:
    """``n`` random cases in [lo, hi] away from ``avoid``, plus ``extra`` (x, judge_only)."""
    rng = random.Random(seed)
    xs = [(uniform(rng, lo, hi, avoid), False) for _ in range(n)] + list(extra)
    return [
        {
            "form": "V",
            "x": x,
            "y": None,
            "g": uniform(rng, -2.0, 2.0, (0.0, 1.0)),
            "pa": uniform(rng, -1.0, 1.0),
            "pb": 0.0,
            "judge_only": jo,
        }
        for x, jo in xs
    ]


# --- the operations ----------------------------------------------------------------

ADD = Op("test_add", "a + b", lambda p, q: p + q, lambda x, y: x + y, 2, lambda y: "+", reflected="__radd__")
MUL = Op(
    "test_mul",
    "a * b",
    lambda p, q: p * q,
    lambda x, y: x * y,
    2,
    lambda y: "*",
    wrong_left={"d(a*b)/da is b, not a: did you multiply by self.data instead of other.data?": lambda x, y: x},
    wrong_right={"d(a*b)/db is a, not b: did you multiply by other.data instead of self.data?": lambda x, y: y},
    reflected="__rmul__",
)
POW = Op(
    "test_pow",
    "a ** k",
    lambda p, k: p**k,
    lambda x, k: x**k,
    2,
    lambda k: f"**{k}",
    forms=("VF",),
    number_is_child=False,
    wrong_left={
        "d(x**k)/dx is k * x**(k-1): you used k * x**k": lambda x, k: k * x**k,
        "d(x**k)/dx is k * x**(k-1): you left out the factor k": lambda x, k: x ** (k - 1),
    },
)
NEG = Op("test_neg_sub", "-a", lambda p: -p, lambda x: -x, 1, None)
SUB = Op(
    "test_neg_sub",
    "a - b",
    lambda p, q: p - q,
    lambda x, y: x - y,
    2,
    None,
    wrong_right={"d(a-b)/db is -1: check the sign of the gradient reaching b": lambda x, y: 1.0},
    reflected="__rsub__",
)
DIV = Op(
    "test_div",
    "a / b",
    lambda p, q: p / q,
    lambda x, y: x / y,
    2,
    None,
    wrong_left={"d(a/b)/da is 1/b": lambda x, y: y},
    wrong_right={
        "d(a/b)/db is -a/b**2: the sign is wrong": lambda x, y: x / y**2,
        "d(a/b)/db is -a/b**2, not -a/b": lambda x, y: -x / y,
    },
    reflected="__rtruediv__",
)


TANH = Op(
    "test_tanh",
    "a.tanh()",
    lambda p: p.tanh(),
    math.tanh,
    1,
    lambda _: "tanh",
    wrong_left={
        "1 - x**2 uses the input x where the output belongs: "
        "d tanh(x)/dx = 1 - tanh(x)**2 = 1 - out.data**2": lambda x: 1 - x * x,
        "d tanh(x)/dx = 1 - t**2, not 1 - t": lambda x: 1 - math.tanh(x),
    },
)
EXP = Op(
    "test_exp",
    "a.exp()",
    lambda p: p.exp(),
    math.exp,
    1,
    lambda _: "exp",
    wrong_left={"d exp(x)/dx is exp(x) (out.data), not x": lambda x: x},
)
RELU = Op(
    "test_relu",
    "a.relu()",
    lambda p: p.relu(),
    lambda x: x if x > 0 else 0.0,
    1,
    lambda _: "ReLU",
    wrong_left={"relu passes the gradient only where x > 0 (and relu'(0) = 0)": lambda x: 1.0},
)
LOG = Op(
    "test_log",
    "a.log()",
    lambda p: p.log(),
    lambda x: math.log(max(x, 1e-10)),
    1,
    lambda _: "log",
    wrong_left={"d log(x)/dx is 1/x, not log(x)": lambda x: math.log(x), "d log(x)/dx is 1/x, not x": lambda x: x},
)
SIGMOID = Op(
    "test_sigmoid",
    "a.sigmoid()",
    lambda p: p.sigmoid(),
    sigmoid,
    1,
    lambda _: "sigmoid",
    wrong_left={
        "d sigmoid(x)/dx = s * (1 - s) with s = out.data; you used s alone": lambda x: sigmoid(x),
        "d sigmoid(x)/dx = s * (1 - s), not 1 - s**2 (that is tanh's)": lambda x: 1 - sigmoid(x) ** 2,
    },
)


# --- one function per graded cell -------------------------------------------------


def probe_init(Value: type) -> None:
    """``Value(data, _children=(), _op='')``: data, grad 0, children, op, bad input."""
    rng = random.Random(101)
    cases = []
    for x in [0, 3, -7, 0.0, 2.5, -1e-9, 1e12] + [uniform(rng, -100, 100) for _ in range(5)]:
        v = call(lambda: Value(x), f"Value({fmt(x)})")
        data, grad = num(v.data, f"Value({fmt(x)}).data"), num(v.grad, f"Value({fmt(x)}).grad")
        if data != x:
            fail("Value(x).data should hold x", f"Value({fmt(x)})", fmt(x), fmt(data))
        if grad != 0:
            fail(
                "a new Value's grad starts at 0",
                f"Value({fmt(x)})",
                "0.0",
                fmt(grad),
                "set self.grad = 0.0 in __init__",
            )
        kids = children(v, f"Value({fmt(x)})")
        if kids:
            fail(
                "a Value built from a number has no children",
                f"Value({fmt(x)})",
                "no children",
                f"{len(kids)} children",
            )
        if v._op != "":
            fail("a Value built from a number has _op ''", f"Value({fmt(x)})", "''", repr(v._op))
        call(
            lambda: v._backward(),
            f"Value({fmt(x)})._backward() on a leaf",
            "a leaf's _backward does nothing (e.g. lambda: None)",
        )
        if num(v.grad, "grad") != 0:
            fail("a leaf's _backward should do nothing", f"Value({fmt(x)})", "grad 0.0", fmt(v.grad))
        cases.append({"x": x, "data": data, "grad": grad, "kids": len(kids), "op": v._op})
    a, b = Value(1.5), Value(-2.0)
    for kids_in, op in (((a, b), "+"), ((a, a), "*"), ((b,), "tanh")):
        v = call(lambda: Value(0.25, kids_in, op), f"Value(0.25, _children, {op!r})")
        got = sorted({("a" if k is a else "b" if k is b else "?") for k in children(v, "Value")})
        want = sorted({("a" if k is a else "b") for k in kids_in})
        if got != want or v._op != op:
            fail(
                "Value(data, _children, _op) should remember its children (as a set) and its op",
                f"_children = {want}, _op = {op!r}",
                f"{want}, {op!r}",
                f"{got}, {v._op!r}",
            )
        cases.append({"kids_in": want, "kids": got, "op": v._op})
    u, w = Value(1.0), Value(2.0)
    u.grad = 5.0
    if num(w.grad, "grad") != 0:
        fail(
            "each Value has its own grad",
            "u.grad = 5.0, then w.grad",
            "0.0",
            fmt(w.grad),
            "set self.grad in __init__, not on the class",
        )
    refused = {}
    for label, bad in (("str", "3.0"), ("None", None), ("list", [1.0]), ("Value", Value(1.0)), ("complex", 1j)):
        try:
            Value(bad)
        except TypeError as err:
            message = str(err)
            if not any(name in message for name in (type_name(bad), repr(bad), str(bad))):
                fail(
                    f"the TypeError of Value({bad!r}) should say what it got",
                    got=repr(message),
                    hint=f"mention its type ({type_name(bad)}) or its value",
                )
            refused[label] = True
        except Exception as err:  # noqa: BLE001 - report whatever student code raised
            fail(f"Value({bad!r}) should raise TypeError", got=f"{type(err).__name__}: {err}")
        else:
            fail(
                f"Value({bad!r}) should raise TypeError: a Value wraps a plain number",
                got="no error",
                hint="check isinstance(data, (int, float)) in __init__",
            )
    cases.append({"refused": refused})
    emit("test_init", cases)


_REPR = re.compile(r"^Value\(data=(?P<data>[^,]+), grad=(?P<grad>[^)]+)\)$")


def probe_repr(Value: type) -> None:
    """``repr(v)`` is ``Value(data=…, grad=…)`` with both numbers as Python prints them."""
    rng = random.Random(202)
    pairs = [(2.0, 0.0), (-3, 0.0), (0.1, -0.25), (1e-7, 12345.678)]
    pairs += [(uniform(rng, -50, 50), uniform(rng, -5, 5)) for _ in range(4)]
    cases = []
    for d, g in pairs:
        v = Value(d)
        v.grad = g
        text = call(lambda: repr(v), f"repr(Value({fmt(d)}))")
        m = _REPR.match(text) if type(text) is str else None
        want = f"Value(data={d!r}, grad={g!r})"
        if m is None:
            fail("repr should look like Value(data=..., grad=...)", f"data={d!r}, grad={g!r}", want, repr(text))
        try:
            rd, rg = float(m["data"]), float(m["grad"])
        except ValueError:
            fail("repr should show data and grad as numbers", f"data={d!r}, grad={g!r}", want, text)
        if rd != d or rg != g:
            fail(
                "repr should show this Value's data and grad, exactly",
                f"data={d!r}, grad={g!r}",
                want,
                text,
                "use {self.data} and {self.grad} in an f-string",
            )
        cases.append({"data": d, "grad": g, "shown": [rd, rg]})
    emit("test_repr", cases)


def probe_add(Value: type) -> None:
    emit(
        ADD.cell,
        run(
            Value,
            ADD,
            binary_cases(
                11,
                ADD,
                -5,
                5,
                extra=(("VV", 123456789.25, -2.5e7, True), ("FV", 3, -4.5, False), ("VF", 0.5, 2, False)),
            ),
        ),
    )


def probe_mul(Value: type) -> None:
    emit(
        MUL.cell,
        run(
            Value,
            MUL,
            binary_cases(
                12, MUL, -5, 5, extra=(("VV", 3.0e5, -2.0e5, True), ("VV", 0.0, 4.0, False), ("FV", -2, 1.25, False))
            ),
        ),
    )


def probe_pow(Value: type) -> None:
    rng = random.Random(13)
    cases = []
    for k in (2, 3, -1, -2, 0.5, 1.5, 0, 1, 2.0, -0.5):
        lo = 0.2 if (isinstance(k, float) and not k.is_integer()) or k <= 0 else -3.0
        for _ in range(2):
            x = uniform(rng, lo, 3.0, (0.0,), 0.2)
            cases.append(
                {
                    "form": "VF",
                    "x": x,
                    "y": k,
                    "g": uniform(rng, -2, 2, (0.0, 1.0)),
                    "pa": uniform(rng, -1, 1),
                    "pb": 0.0,
                }
            )
    cases.append({"form": "VF", "x": 250.0, "y": 2, "g": 1.75, "pa": 0.5, "pb": 0.0, "judge_only": True})
    rec = run(Value, POW, cases)
    errors = {}
    for label, action, exc in (
        ("Value ** Value", lambda: Value(2.0) ** Value(3.0), TypeError),
        ("negative base, fractional power", lambda: Value(-8.0) ** (1 / 3), ValueError),
        ("Value ** a string", lambda: Value(2.0) ** "3", TypeError),
    ):
        try:
            result = action()
        except exc:
            errors[label] = exc.__name__
        except Exception as err:  # noqa: BLE001 - report whatever student code raised
            fail(f"{label} should raise {exc.__name__}", got=f"{type(err).__name__}: {err}")
        else:
            fail(
                f"{label} should raise {exc.__name__} with a clear message",
                got=f"{result!r}",
                hint="Python would silently give a complex number (or we would need d/dk); refuse it",
            )
    root = call(lambda: Value(0.0) ** 0.5, "Value(0.0) ** 0.5", "zero to a fractional power is 0, not an error")
    if num(root.data, "(Value(0.0) ** 0.5).data") != 0:
        fail("Value(0.0) ** 0.5 is 0", expected="0.0", got=fmt(root.data))
    rec.append({"errors": errors, "zero_root": num(root.data, "data")})
    emit(POW.cell, rec)


def probe_neg_sub(Value: type) -> None:
    neg = run(Value, NEG, unary_cases(14, -5, 5, n=6))
    sub = run(Value, SUB, binary_cases(15, SUB, -5, 5, extra=(("VV", 9.0e7, 1.5, True),)))
    emit("test_neg_sub", neg + sub)


def probe_div(Value: type) -> None:
    rng = random.Random(16)
    cases = binary_cases(16, DIV, -4, 4, avoid_right=(0.0,), extra=(("VV", 4.0e6, 0.75, True),))
    for c in cases:  # keep divisors away from zero
        if abs(c["y"]) < 0.5:
            c["y"] = round(c["y"] + (0.5 if c["y"] >= 0 else -0.5), 6)
        if c["form"] == "same" and abs(c["x"]) < 0.5:
            c["x"] = round(0.5 + rng.random(), 6)
    emit(DIV.cell, run(Value, DIV, cases))


def probe_tanh(Value: type) -> None:
    extra = ((0.0, False), (4.0, False), (-5.5, False), (30.0, False), (-800.0, True), (800.0, True))
    emit(TANH.cell, run(Value, TANH, unary_cases(17, -3, 3, extra=extra)))


def probe_exp(Value: type) -> None:
    extra = ((0.0, False), (-30.0, False), (12.5, True))
    emit(EXP.cell, run(Value, EXP, unary_cases(18, -4, 4, extra=extra)))


def probe_relu(Value: type) -> None:
    extra = ((0.0, True), (-0.0, True), (1e-9, True), (-1e-9, True), (7.0e8, True))
    cases = unary_cases(19, -3, 3, avoid=(0.0,), extra=extra)
    rec = run(Value, RELU, cases)
    for c in rec:  # relu'(0) = 0 by the course's convention: the kernel can say so
        if c["x"] == 0 and c["ga"] != c["pa"]:
            fail(
                "relu'(0) is 0 by convention: at x = 0 no gradient passes",
                f"a = Value({c['x']!r})",
                fmt(c["pa"]),
                fmt(c["ga"]),
                "pass gradient only where out.data > 0 (strictly)",
            )
    emit(RELU.cell, rec)


def probe_log(Value: type) -> None:
    extra = ((1.0, False), (1e-10, True), (0.0, True), (-3.0, True), (1e-12, True), (2.0e9, True))
    cases = unary_cases(20, 0.05, 10, extra=extra)
    rec = run(Value, LOG, cases)
    for c in rec:  # the clamp is part of the spec: forward already checked against it
        if c["x"] <= 1e-10 and not math.isfinite(c["ga"]):
            fail(
                "log's backward must clamp too: 1 / max(x, 1e-10)",
                f"a = Value({c['x']!r})",
                "a finite gradient",
                fmt(c["ga"]),
            )
    emit(LOG.cell, rec)


def probe_sigmoid(Value: type) -> None:
    extra = (
        (0.0, False),
        (6.0, False),
        (-6.0, False),
        (40.0, False),
        (-40.0, False),
        (800.0, True),
        (-800.0, True),
        (-745.5, True),
    )
    emit(SIGMOID.cell, run(Value, SIGMOID, unary_cases(21, -4, 4, extra=extra)))
