"""colleague: eight operations a colleague added to the engine, some of them wrong.

Each function takes Values and returns a new Value the way milestone 1's methods do: the
forward number, the children, the operation's name, and a `_backward` closure that
pushes `out.grad` to the children through the local derivative. The forward numbers are
all right. Some of the `_backward` closures are not.

Section 10 of milestone 2 asks you to find the wrong ones with your own `grad_check`,
name them in `BROKEN`, and fix them in your notebook. Leave this file as it is: your
fixes live in your notebook, and grading imports the file as it was handed out.
"""

import math

from engine import Value

# every operation this module adds, by the name you would use in BROKEN
OPERATIONS = ("sin", "cos", "sqrt", "softplus", "absolute", "maximum", "hypot", "mean")


def sin(x):
    """sin(x)."""
    out = Value(math.sin(x.data), (x,), "sin")

    def _backward():
        x.grad += math.cos(x.data) * out.grad

    out._backward = _backward
    return out


def cos(x):
    """cos(x)."""
    out = Value(math.cos(x.data), (x,), "cos")

    def _backward():
        x.grad += math.sin(x.data) * out.grad

    out._backward = _backward
    return out


def sqrt(x):
    """The square root of x, for x > 0."""
    out = Value(math.sqrt(x.data), (x,), "sqrt")

    def _backward():
        x.grad += 0.5 / out.data

    out._backward = _backward
    return out


def softplus(x):
    """log(1 + e**x), computed without overflow for large x."""
    out = Value(max(x.data, 0.0) + math.log1p(math.exp(-abs(x.data))), (x,), "softplus")

    def _backward():
        # the logistic sigmoid of x, in the form that cannot overflow for either sign
        e = math.exp(-abs(x.data))
        x.grad += (1.0 / (1.0 + e) if x.data >= 0 else e / (1.0 + e)) * out.grad

    out._backward = _backward
    return out


def absolute(x):
    """|x|. At x = 0 the backward sends 0, a choice among the valid subgradients."""
    out = Value(abs(x.data), (x,), "abs")

    def _backward():
        sign = 1.0 if x.data > 0 else -1.0 if x.data < 0 else 0.0
        x.grad += sign * out.grad

    out._backward = _backward
    return out


def maximum(a, b):
    """The larger of a and b. On a tie the gradient goes to a."""
    out = Value(max(a.data, b.data), (a, b), "max")

    def _backward():
        if a.data >= b.data:
            a.grad += out.grad
        else:
            b.grad += out.grad

    out._backward = _backward
    return out


def hypot(a, b):
    """sqrt(a**2 + b**2), the length of the vector (a, b); not both 0."""
    out = Value(math.hypot(a.data, b.data), (a, b), "hypot")

    def _backward():
        a.grad = a.data / out.data * out.grad
        b.grad = b.data / out.data * out.grad

    out._backward = _backward
    return out


def mean(xs):
    """The mean of a non-empty list of Values."""
    xs = list(xs)
    out = Value(sum(x.data for x in xs) / len(xs), tuple(xs), "mean")

    def _backward():
        for x in xs:
            x.grad += out.grad

    out._backward = _backward
    return out


# the functions as handed out, whatever a notebook later puts in their place: the visible
# check of section 10 compares your names with what these do
AS_SHIPPED = {name: globals()[name] for name in OPERATIONS}
