"""A picture of a computation graph: one box per Value, showing its op, data and grad.

Why: backpropagation is easiest to believe when you can see it. Drawing the same graph
before and after ``backward()`` shows every ``grad`` filled in, edge by edge.

The drawing reads only the public interface of a Value (``data``, ``grad``, ``_prev``,
``_op``), so it works on any student's Value. Node names in the output are numbered in
the order the graph is walked, never by ``id()``, so the same graph gives the same
picture on every run.
"""

import shutil
from collections.abc import Iterable, Mapping

import graphviz

__all__ = ["DOT_MISSING", "GraphPicture", "draw"]

DOT_MISSING = (
    "Graphviz's `dot` program is not installed, so graphs cannot be drawn. "
    "Install it with `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`, "
    "then restart the kernel."
)


def _children(v: object) -> Iterable[object]:
    prev = getattr(v, "_prev", ())
    return prev if prev is not None else ()


def _walk(root: object, max_nodes: int) -> list[object]:
    """Every Value reachable from ``root``, each once, in first-seen order."""
    seen: dict[int, object] = {id(root): root}
    order = [root]
    i = 0
    while i < len(order):
        for child in _children(order[i]):
            if id(child) not in seen:
                if len(order) >= max_nodes:
                    raise ValueError(
                        f"this graph has more than {max_nodes} Values; draw() is for small "
                        "graphs (pass max_nodes=... to draw a larger one)"
                    )
                seen[id(child)] = child
                order.append(child)
        i += 1
    return order


def _number(x: object) -> str:
    try:
        return f"{float(x):.4f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return repr(x)


class GraphPicture(graphviz.Digraph):
    """A Digraph that introduces itself without a memory address, so a notebook that shows
    one prints the same text on every run."""

    def __repr__(self) -> str:
        return f"<computation graph: {sum(1 for line in self.body if 'shape=record' in line)} Values>"


def draw(
    root: object,
    names: Mapping[str, object] | None = None,
    *,
    rankdir: str = "LR",
    max_nodes: int = 200,
    max_width: float = 10.0,
) -> GraphPicture:
    """Draw the graph that produced ``root``, inputs on the left, ``root`` on the right.

    ``names`` labels some Values, e.g. ``draw(L, names={"a": a, "b": b})``. Each box
    shows ``name | op | data | grad``; leaves have no op. A graph wider than
    ``max_width`` inches is scaled down to fit: JupyterLab never shrinks a picture, and
    the root, the node that matters most, is at the right-hand end.
    """
    if shutil.which("dot") is None:
        raise RuntimeError(DOT_MISSING)
    label_of = {id(v): name for name, v in (names or {}).items()}
    nodes = _walk(root, max_nodes)
    number = {id(v): f"n{i}" for i, v in enumerate(nodes)}
    graph_attr = {"rankdir": rankdir, "size": f"{max_width:g},{2 * max_width:g}"}
    dot = GraphPicture(graph_attr=graph_attr, node_attr={"fontname": "Helvetica"})
    for v in nodes:
        fields = []
        if id(v) in label_of:
            fields.append(label_of[id(v)])
        op = getattr(v, "_op", "")
        if op:
            fields.append(str(op).replace("|", "\\|").replace("<", "\\<").replace(">", "\\>"))
        fields.append(f"data {_number(getattr(v, 'data', '?'))}")
        fields.append(f"grad {_number(getattr(v, 'grad', '?'))}")
        style = {"style": "filled", "fillcolor": "#e8f0fe"} if v is root else {}
        dot.node(number[id(v)], "{ " + " | ".join(fields) + " }", shape="record", **style)
    for v in nodes:
        for child in _children(v):
            dot.edge(number[id(child)], number[id(v)])
    return dot
