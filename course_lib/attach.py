"""Attach a function to a class as a method, from a notebook cell of its own.

A notebook teaches one operation per cell (explain, implement, check), but Python wants
a class body in one piece. ``@attach(Value)`` above a ``def`` closes that gap: the cell
defines the function and the decorator sets it on the class, exactly as if it had been
written in the class body.
"""

import builtins
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def attach(cls: type) -> Callable[[F], F]:
    """Return a decorator that sets the decorated function on ``cls`` under its name."""
    if not isinstance(cls, type):
        raise TypeError(f"attach() takes a class, e.g. @attach(Value); got {cls!r}")

    def decorator(fn: F) -> F:
        if not callable(fn) or not hasattr(fn, "__name__"):
            raise TypeError(f"@attach({cls.__name__}) goes above a def; got {fn!r}")
        setattr(cls, fn.__name__, fn)
        # A method named like a builtin (Tensor.sum) must not shadow it in the notebook:
        # after the cell, `sum([1, 2])` still means Python's sum. The class has the method.
        return getattr(builtins, fn.__name__, fn)

    return decorator
