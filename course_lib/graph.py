"""A picture of a computation graph: one box per Value, showing its op, data and grad.

Why: backpropagation is easiest to believe when you can see it. Drawing the same graph
before and after ``backward()`` shows every ``grad`` filled in, edge by edge.

The drawing reads only the public interface of a Value (``data``, ``grad``, ``_prev``,
``_op``), so it works on any student's Value. Node names in the output are numbered in
the order the graph is walked, never by ``id()``, so the same graph gives the same
picture on every run.

Without Graphviz's ``dot`` program the graph is shown as indented text instead (one line
per Value, its inputs indented under it), after one line on how to install Graphviz. A
missing system program must not stop a notebook: a correct notebook would stop at its
first picture, and nbgrader's Validate would report it as failing.
"""

import re
import shutil
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

import graphviz

__all__ = ["DOT_MISSING", "DOT_MISSING_LINE", "GraphPicture", "GraphText", "draw"]

_HOW_TO_INSTALL = (
    "`sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`, "
    "then restart the kernel."
)

DOT_MISSING = "Graphviz's `dot` program is not installed, so graphs cannot be drawn. Install it with " + _HOW_TO_INSTALL

DOT_MISSING_LINE = (
    "Graphviz's `dot` program is not installed, so this graph is shown as text. For the picture, install it with "
    + _HOW_TO_INSTALL
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


SIDE_BY_SIDE_DEPTH = 4  # ranks a graph may have and keep its boxes' fields side by side


def _depth(nodes: list[object]) -> int:
    """The number of ranks: the longest chain of boxes from the root (``nodes[0]``) down to
    a leaf. Found by relaxing every edge until nothing changes (at most once per node: a
    graph of Values has no cycle) - slow in theory, instant for the small graphs drawn
    here, and not the topological sort that milestone 2 asks students to write."""
    level = {id(nodes[0]): 1} if nodes else {}
    for _ in range(len(nodes)):
        changed = False
        for v in nodes:
            if id(v) not in level:
                continue
            for child in _children(v):
                if level.get(id(child), 0) < level[id(v)] + 1:
                    level[id(child)] = level[id(v)] + 1
                    changed = True
        if not changed:
            break
    return max(level.values(), default=0)


def _number(x: object) -> str:
    try:
        return f"{float(x):.4f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return repr(x)


def _fields(v: object, name: str | None, *, record: bool = False) -> list[str]:
    """What a box shows, in order: ``name`` (when given), op (not for a leaf), data, grad.

    ``record``: for a Graphviz record label, where ``|``, ``<`` and ``>`` in an op are
    record syntax and must be escaped."""
    fields = [name] if name is not None else []
    op = getattr(v, "_op", "")
    if op:
        op = str(op)
        fields.append(op.replace("|", "\\|").replace("<", "\\<").replace(">", "\\>") if record else op)
    fields.append(f"data {_number(getattr(v, 'data', '?'))}")
    fields.append(f"grad {_number(getattr(v, 'grad', '?'))}")
    return fields


def _as_text(rows: list[str], names: list[str | None], kids: list[list[int]]) -> str:
    """The graph as an indented tree: the root (index 0) first, each Value's inputs under it.

    ``rows[i]`` is the fields of the i-th Value of the walk, ``names[i]`` its name,
    ``kids[i]`` the indices of its children in ``_prev`` order. A graph is a DAG, not a
    tree: a Value used twice (``a`` in ``a * b + a``) is written out once, tagged ``#k``,
    and each later use says ``#k (shown above)``, so shared nodes do not blow up into
    repeated subtrees. Tags count up in reading order. The walk is iterative: a graph drawn
    with a large ``max_nodes`` may be deeper than Python's recursion limit.
    """
    uses = [0] * len(rows)
    for children in kids:
        for c in children:
            uses[c] += 1
    tag: dict[int, str] = {}
    lines: list[str] = []
    # (index, prefix of its own line, prefix of its children's lines)
    stack: list[tuple[int, str, str]] = [(0, "", "")]
    while stack:
        i, head, indent = stack.pop()
        if i in tag:
            name = names[i]
            lines.append(f"{head}{tag[i]}{'' if name is None else ' ' + name} (shown above)")
            continue
        if uses[i] > 1:
            tag[i] = f"#{len(tag) + 1}"
            lines.append(f"{head}{tag[i]} {rows[i]}")
        else:
            lines.append(head + rows[i])
        children = kids[i]
        if children:  # pushed last child first, so the first child is shown first
            stack.append((children[-1], indent + "└─ ", indent + "   "))
            stack.extend((c, indent + "├─ ", indent + "│  ") for c in children[-2::-1])
    return "\n".join(lines)


# Which cell last showed DOT_MISSING_LINE: a cell that draws twice says it once.
_install_line_shown_in: list[object] = [None]


def _current_cell() -> object:
    """Something that tells this cell's run from any other, or None outside IPython.

    In a Jupyter kernel it is the id of the execute request (unique per run of a cell);
    the execution count alone would do, but IPython versions disagree on when it moves."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - course_lib is used from notebooks
        return None
    shell = get_ipython()
    if shell is None:
        return None
    header = getattr(shell, "parent_header", None)
    msg_id = header.get("msg_id") if isinstance(header, dict) else None
    return (msg_id, getattr(shell, "execution_count", None))


class GraphText:
    """The graph as text, for when Graphviz's ``dot`` is missing: what ``draw()`` returns then.

    Jupyter shows it as plain text only (a ``text/plain`` bundle, never HTML), since it
    also goes through nbgrader's feedback pages. Shown in a notebook, the install line
    comes once per cell, however many graphs the cell shows; ``str()`` and ``repr()``
    always start with it. The fields are taken when ``draw()`` is called, as the picture's
    are; the tree is laid out only when shown.
    """

    def __init__(self, rows: list[str], names: list[str | None], kids: list[list[int]]) -> None:
        self._graph = (rows, names, kids)

    @cached_property
    def text(self) -> str:
        """The rendering alone, without the install line."""
        return _as_text(*self._graph)

    def __repr__(self) -> str:
        return f"{DOT_MISSING_LINE}\n{self.text}"

    __str__ = __repr__

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict[str, str]:
        cell = _current_cell()
        if cell is not None and cell == _install_line_shown_in[0]:
            return {"text/plain": self.text}
        _install_line_shown_in[0] = cell
        return {"text/plain": repr(self)}


_VIEWBOX = re.compile(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"')
_SCALE = re.compile(r'(<g id="graph0" class="graph" transform=")scale\(([\d.]+) ([\d.]+)\)')
_FRAME = re.compile(r'<polygon fill="white" stroke="transparent" points="([-\d., ]+)"')


def exact_scale(svg: str) -> str:
    """Graphviz writes the scale of a graph shrunk to fit ``size`` with two decimals (0.63
    for 0.6272), so a shrunk graph overflows its frame by up to a few points and loses its
    right-hand end, the root. Rewrite the scale exactly, from the frame and the graph's own
    extent (its background polygon); anything else is left as it is."""
    viewbox, scale, frame = _VIEWBOX.search(svg), _SCALE.search(svg), _FRAME.search(svg)
    if not (viewbox and scale and frame) or scale.group(2) != scale.group(3) or float(scale.group(2)) >= 1:
        return svg
    points = [tuple(map(float, pair.split(","))) for pair in frame.group(1).split()]
    width = max(x for x, _ in points) - min(x for x, _ in points)
    height = max(y for _, y in points) - min(y for _, y in points)
    if width <= 0 or height <= 0:
        return svg
    exact = min(float(viewbox.group(1)) / width, float(viewbox.group(2)) / height)
    return svg[: scale.start()] + f"{scale.group(1)}scale({exact:.6f} {exact:.6f})" + svg[scale.end() :]


class GraphPicture(graphviz.Digraph):
    """A Digraph that introduces itself without a memory address, so a notebook that shows
    one prints the same text on every run.

    ``dot`` can still go missing between ``draw()`` and the display (uninstalled, or a
    kernel whose PATH changed): graphviz then raises ``ExecutableNotFound`` while making
    the SVG, and the cell shows the graph as text instead of an error."""

    as_text: GraphText | None = None  # set by draw(); a copy() of the Digraph has none

    def __repr__(self) -> str:
        return f"<computation graph: {sum(1 for line in self.body if 'shape=record' in line)} Values>"

    def _repr_image_svg_xml(self) -> str:
        return exact_scale(super()._repr_image_svg_xml())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except graphviz.ExecutableNotFound:
            fallback = self.as_text or GraphText([repr(self)], [None], [[]])
            return fallback._repr_mimebundle_()


def draw(
    root: object,
    names: Mapping[str, object] | None = None,
    *,
    rankdir: str = "LR",
    max_nodes: int = 200,
    max_width: float = 10.0,
) -> GraphPicture | GraphText:
    """Draw the graph that produced ``root``, inputs on the left, ``root`` on the right.

    ``names`` labels some Values, e.g. ``draw(L, names={"a": a, "b": b})``. Each box
    shows ``name | op | data | grad``; leaves have no op. A graph wider than
    ``max_width`` inches is scaled down to fit: JupyterLab never shrinks a picture, and
    the root, the node that matters most, is at the right-hand end.

    Without Graphviz's ``dot`` this returns a ``GraphText`` instead of raising: one line
    on how to install Graphviz, then the same fields as an indented tree, so the
    notebook runs on and still validates.
    """
    label_of = {id(v): name for name, v in (names or {}).items()}
    nodes = _walk(root, max_nodes)
    index = {id(v): i for i, v in enumerate(nodes)}
    as_text = GraphText(
        [" | ".join(_fields(v, label_of.get(id(v)))) for v in nodes],
        [label_of.get(id(v)) for v in nodes],
        [[index[id(c)] for c in _children(v)] for v in nodes],
    )
    if shutil.which("dot") is None:
        return as_text
    number = {id(v): f"n{i}" for i, v in enumerate(nodes)}
    # A shallow graph keeps each box's fields side by side (one line per box, compact). A
    # deep one stacks them (name over op over data over grad), so a box is narrow along the
    # graph's depth, and ranks sit closer: a tiny network's graph (9 ranks deep) then fits
    # a notebook at ~70 % with its text at ~10 pt, where side-by-side fields shrank it to
    # 31 % (4 pt).
    stacked = _depth(nodes) > SIDE_BY_SIDE_DEPTH
    graph_attr = {"rankdir": rankdir, "size": f"{max_width:g},{2 * max_width:g}"}
    if stacked:
        graph_attr.update(ranksep="0.3", nodesep="0.15")
    dot = GraphPicture(graph_attr=graph_attr, node_attr={"fontname": "Helvetica"})
    dot.as_text = as_text
    across = rankdir in ("TB", "BT")  # a record's fields run across the rank direction by default
    for v in nodes:
        style = {"style": "filled", "fillcolor": "#e8f0fe"} if v is root else {}
        label = " | ".join(_fields(v, label_of.get(id(v)), record=True))
        if stacked == across:
            label = "{ " + label + " }"
        dot.node(number[id(v)], label, shape="record", **style)
    for v in nodes:
        for child in _children(v):
            dot.edge(number[id(child)], number[id(v)])
    return dot
