"""m1_value submissions: the milestone's classic pitfalls, a
correct solution written differently, and cheats."""

from variants import answer_cells

ALTERNATIVE = {
    "value_init": """
def _nothing():
    pass


class Value:
    __slots__ = ("data", "grad", "_backward", "_prev", "_op")

    def __init__(self, data, _children=(), _op=""):
        if isinstance(data, bool) or type(data) not in (int, float):
            raise TypeError("a Value holds an int or a float, not %r" % (data,))
        self.data = float(data)
        self.grad = 0
        self._prev = set(_children)
        self._op = _op
        self._backward = _nothing
""",
    "value_repr": """
@attach(Value)
def __repr__(self):
    return "Value(data=" + repr(self.data) + ", grad=" + repr(self.grad) + ")"
""",
    "value_add": """
@attach(Value)
def __add__(self, other):
    rhs = other if isinstance(other, Value) else Value(other)
    result = Value(self.data + rhs.data, (self, rhs), "+")

    def step():
        self.grad = self.grad + result.grad
        rhs.grad = rhs.grad + result.grad

    result._backward = step
    return result


@attach(Value)
def __radd__(self, other):
    return Value(other) + self
""",
    "value_mul": """
@attach(Value)
def __mul__(self, other):
    rhs = other if isinstance(other, Value) else Value(other)
    result = Value(self.data * rhs.data, (self, rhs), "*")

    def step():
        g = result.grad
        self.grad += g * rhs.data
        rhs.grad += g * self.data

    result._backward = step
    return result


@attach(Value)
def __rmul__(self, other):
    return Value(other) * self
""",
    "value_pow": """
@attach(Value)
def __pow__(self, exponent):
    if isinstance(exponent, Value):
        raise TypeError("only numeric exponents")
    result = Value(math.pow(self.data, exponent), (self,), f"**{exponent}")

    def step():
        self.grad += result.grad * exponent * math.pow(self.data, exponent - 1)

    result._backward = step
    return result
""",
    "value_neg_sub": """
@attach(Value)
def __neg__(self):
    result = Value(-self.data, (self,), "neg")

    def step():
        self.grad -= result.grad

    result._backward = step
    return result


@attach(Value)
def __sub__(self, other):
    rhs = other if isinstance(other, Value) else Value(other)
    result = Value(self.data - rhs.data, (self, rhs), "-")

    def step():
        self.grad += result.grad
        rhs.grad -= result.grad

    result._backward = step
    return result


@attach(Value)
def __rsub__(self, other):
    return Value(other) - self
""",
    "value_div": """
@attach(Value)
def __truediv__(self, other):
    rhs = other if isinstance(other, Value) else Value(other)
    result = Value(self.data / rhs.data, (self, rhs), "/")

    def step():
        self.grad += result.grad / rhs.data
        rhs.grad += -self.data / rhs.data**2 * result.grad

    result._backward = step
    return result


@attach(Value)
def __rtruediv__(self, other):
    return Value(other) / self
""",
    "value_tanh": """
@attach(Value)
def tanh(self):
    x = self.data
    if abs(x) > 20:
        t = math.copysign(1.0, x)
    else:
        e2 = math.exp(2 * x)
        t = (e2 - 1) / (e2 + 1)
    result = Value(t, (self,), "tanh")

    def step():
        self.grad += (1 - result.data**2) * result.grad

    result._backward = step
    return result
""",
    "value_exp": """
@attach(Value)
def exp(self):
    result = Value(math.exp(self.data), (self,), "exp")

    def step():
        self.grad += result.data * result.grad

    result._backward = step
    return result
""",
    "value_relu": """
@attach(Value)
def relu(self):
    result = Value(max(0.0, self.data), (self,), "ReLU")

    def step():
        if self.data > 0:
            self.grad += result.grad

    result._backward = step
    return result
""",
    "value_log": """
@attach(Value)
def log(self):
    safe = self.data if self.data > 1e-10 else 1e-10
    result = Value(math.log(safe), (self,), "log")

    def step():
        self.grad += result.grad * (1 / safe)

    result._backward = step
    return result
""",
    "value_sigmoid": """
@attach(Value)
def sigmoid(self):
    s = 0.5 * (1 + math.tanh(self.data / 2))
    result = Value(s, (self,), "sigmoid")

    def step():
        self.grad += s * (1 - s) * result.grad

    result._backward = step
    return result
""",
}

# name -> (edits: grade_id -> (old, new) replacements or full source, cells that must lose)
PITFALLS = {
    "assign_not_accumulate": (
        {
            "value_add": [
                ("self.grad += out.grad", "self.grad = out.grad"),
                ("other.grad += out.grad", "other.grad = out.grad"),
            ],
            "value_mul": [
                ("self.grad += other.data", "self.grad = other.data"),
                ("other.grad += self.data", "other.grad = self.data"),
            ],
        },
        ["test_add", "test_mul"],
    ),
    "no_reflected_ops": (
        {
            "value_add": [("@attach(Value)\ndef __radd__", "def __radd__")],
            "value_mul": [("@attach(Value)\ndef __rmul__", "def __rmul__")],
        },
        ["test_add", "test_mul"],
    ),
    "division_sign": (
        {"value_div": ALTERNATIVE["value_div"].replace("rhs.grad += -self.data", "rhs.grad += self.data")},
        ["test_div"],
    ),
    "power_negative_exponent": (
        {"value_pow": [("k * self.data ** (k - 1) * out.grad", "k * math.prod([self.data] * int(k - 1)) * out.grad")]},
        ["test_pow", "test_div"],
    ),
    "tanh_uses_input": (
        {"value_tanh": [("(1 - t * t)", "(1 - self.data**2)")]},
        ["test_tanh"],
    ),
    "log_backward_unclamped": (
        {"value_log": [("out.grad / x", "out.grad / self.data")]},
        ["test_log"],
    ),
    "sigmoid_overflows": (
        {
            "value_sigmoid": [
                (
                    "    if x >= 0:\n        s = 1.0 / (1.0 + math.exp(-x))\n    else:\n"
                    "        e = math.exp(x)\n        s = e / (1.0 + e)",
                    "    s = 1.0 / (1.0 + math.exp(-x))",
                )
            ]
        },
        ["test_sigmoid"],
    ),
    "relu_gradient_at_zero": (
        {"value_relu": [("(out.data > 0)", "(self.data >= 0)")]},
        ["test_relu"],
    ),
    "repr_rounds": (
        {
            "value_repr": [
                ('f"Value(data={self.data}, grad={self.grad})"', 'f"Value(data={self.data:.4f}, grad={self.grad:.4f})"')
            ]
        },
        ["test_repr"],
    ),
    "init_accepts_anything": (
        {
            "value_init": [
                (
                    "        if not isinstance(data, (int, float)):\n"
                    "            raise TypeError(\n"
                    '                f"Value wraps a plain number (int or float), got {type(data).__name__}: '
                    '{data!r}"\n            )\n',
                    "",
                )
            ]
        },
        ["test_init"],
    ),
}

CHEAT_CELL = "value_init"

# More correct solutions, each in another style (issue 17): name -> edits of the
# instructor's answers, as for PITFALLS. Each must keep full marks and pass every visible check.
_ONE_CLASS = '''
import math


class Value:
    """Everything in one class, as many students write it."""

    def __init__(self, data, _children=(), _op=""):
        if type(data) not in (int, float):
            raise TypeError(f"Value needs an int or a float, not {type(data).__name__}")
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    def _lift(self, other):
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other):
        other = self._lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    __radd__ = __add__

    def __mul__(self, other):
        other = self._lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    __rmul__ = __mul__

    def __pow__(self, k):
        if isinstance(k, Value):
            raise TypeError("the exponent must be a number, not a Value")
        if not isinstance(k, (int, float)):
            return NotImplemented
        if self.data < 0 and not float(k).is_integer():
            raise ValueError(f"({self.data}) ** {k} would be complex")
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return -self + other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return self**-1 * other

    def _unary(self, data, op, local):
        out = Value(data, (self,), op)

        def _backward():
            self.grad += local * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, "tanh", 1 - t * t)

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, "exp", e)

    def relu(self):
        on = self.data > 0
        return self._unary(self.data if on else 0.0, "ReLU", 1.0 if on else 0.0)

    def log(self):
        x = max(self.data, 1e-10)
        return self._unary(math.log(x), "log", 1 / x)

    def sigmoid(self):
        x = self.data
        s = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        return self._unary(s, "sigmoid", s * (1 - s))
'''
_LATER_CELLS = answer_cells("m1_value")[1:]  # every answer cell after value_init

ALTERNATIVES = {
    # the TypeError names only the type it got; for a Value that is "Value" (issue 17: the
    # grader once saw its own wrapper's type here and took 2 points)
    "message_names_the_type": {
        "value_init": [
            (
                'f"Value wraps a plain number (int or float), got {type(data).__name__}: {data!r}"',
                'f"Value needs an int or a float, not {type(data).__name__}"',
            )
        ],
    },
    # ... or only the value, as str() prints it
    "message_names_the_value": {
        "value_init": [
            (
                'f"Value wraps a plain number (int or float), got {type(data).__name__}: {data!r}"',
                'f"cannot make a Value of {data}"',
            )
        ],
    },
    # a / b as a times the reciprocal of b, through __rtruediv__: three nodes, not two
    "division_by_composition": {
        "value_div": [
            ("return self * other**-1", "return self * (1 / other)"),
            ("return other * self**-1", "return Value(other) * self**-1"),
        ],
    },
    # the whole Value in the first cell; the later cells left with a comment
    "one_class": {"value_init": _ONE_CLASS, **{cell: "# written in the class above\n" for cell in _LATER_CELLS}},
}
