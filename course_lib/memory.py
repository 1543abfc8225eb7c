"""Training fast with flat memory: pause the cyclic garbage collector during a step, and
free the step's graph once the update is done.

Why: every operation's ``_backward`` closure refers to the Value it belongs to, so each
node of a graph sits in a reference cycle. Python's cyclic collector keeps rescanning
those tens of thousands of objects while a step builds them, and that rescanning, not
the arithmetic, is most of micrograd's time. Switching the collector off alone would
leak every graph; cutting each node's links (``_prev`` and ``_backward``) once a step is
over lets plain reference counting free the whole graph at once - as PyTorch frees its
graph after ``backward()``.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["free_graph", "paused_gc"]


def _nothing() -> None:
    return None


def free_graph(root: object) -> None:
    """Cut every link of the graph below ``root`` so reference counting can free it.

    Leaves (parameters, inputs) keep their data and grad; only computed nodes lose
    their children and their ``_backward``. Call it after the update, never before
    ``backward()``. A node already cut has no children, so the walk needs no visited set.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        children = node._prev  # type: ignore[attr-defined]
        if children:
            stack.extend(children)
            node._prev = ()  # type: ignore[attr-defined]
            node._backward = _nothing  # type: ignore[attr-defined]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run a block with the cyclic collector paused, and restore it however it ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
