"""The pictures of milestones 4-6: the data, the loss as training goes, the decision
boundary a trained network draws, optimizers compared, and where attention looks.

Each function draws on a matplotlib ``Axes`` (a new figure when none is given) and
returns it, so a notebook cell can combine several side by side and end with
``plt.show()``.
"""

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

__all__ = [
    "attention_heatmap",
    "class_regions",
    "compare_curves",
    "decision_boundary",
    "loss_curve",
    "scatter",
    "timings",
]

COLORS = {-1.0: "#d95f02", 1.0: "#1b9e77"}


def _axes(ax: Axes | None, size: tuple[float, float] = (4.5, 3.6)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def scatter(X: Sequence[Sequence[float]], y: Sequence[float], ax: Axes | None = None, title: str = "") -> Axes:
    """The points, coloured by label (-1 and +1)."""
    ax = _axes(ax)
    for label, color in COLORS.items():
        pts = [x for x, t in zip(X, y, strict=True) if t == label]
        ax.scatter(
            [p[0] for p in pts],
            [p[1] for p in pts],
            c=color,
            s=22,
            edgecolors="k",
            linewidths=0.4,
            label=f"y = {label:+.0f}",
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or f"{len(X)} points")
    return ax


def loss_curve(losses: Sequence[float], ax: Axes | None = None, label: str = "", log: bool = True) -> Axes:
    """Loss per epoch; on a log scale by default, where steady progress is a straight line."""
    ax = _axes(ax)
    ax.plot(range(1, len(losses) + 1), losses, label=label or None)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if label:
        ax.legend(fontsize=8)
    return ax


def compare_curves(curves: Mapping[str, Sequence[float]], ax: Axes | None = None, title: str = "") -> Axes:
    """Several loss curves on one log-scale plot, e.g. SGD against Adam."""
    ax = _axes(ax, (5.0, 3.6))
    for name, losses in curves.items():
        loss_curve(losses, ax=ax, label=name)
    if title:
        ax.set_title(title)
    return ax


def decision_boundary(
    predict: Callable[[list[float]], float],
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    ax: Axes | None = None,
    steps: int = 40,
    margin: float = 0.5,
) -> Axes:
    """Shade the plane by the sign of ``predict([x0, x1])``, with the points on top."""
    ax = _axes(ax)
    xs0, xs1 = [p[0] for p in X], [p[1] for p in X]
    lo0, hi0 = min(xs0) - margin, max(xs0) + margin
    lo1, hi1 = min(xs1) - margin, max(xs1) + margin
    g0 = [lo0 + (hi0 - lo0) * i / (steps - 1) for i in range(steps)]
    g1 = [lo1 + (hi1 - lo1) * j / (steps - 1) for j in range(steps)]
    z = [[predict([a, b]) for a in g0] for b in g1]
    ax.contourf(g0, g1, z, levels=[-1e9, 0.0, 1e9], colors=[COLORS[-1.0], COLORS[1.0]], alpha=0.25)
    ax.contour(g0, g1, z, levels=[0.0], colors="k", linewidths=0.8)
    scatter(X, y, ax=ax, title="decision boundary")
    # the shading covers exactly the grid: with the limits adjusted to the data (the
    # scatter's equal aspect, its margins) white bands showed around it; the box adjusts instead
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlim(lo0, hi0)
    ax.set_ylim(lo1, hi1)
    return ax


CLASS_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e")


def class_regions(
    predict: Callable[[list[list[float]]], Sequence[int]],
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    ax: Axes | None = None,
    steps: int = 80,
    margin: float = 0.2,
    title: str = "the class a network picks",
) -> Axes:
    """Colour the plane by the class ``predict`` picks for each point of a grid (one call for
    the whole grid: a tensor model predicts a batch at once), with the points on top."""
    ax = _axes(ax)
    xs0, xs1 = [p[0] for p in X], [p[1] for p in X]
    lo0, hi0 = min(xs0) - margin, max(xs0) + margin
    lo1, hi1 = min(xs1) - margin, max(xs1) + margin
    g0 = [lo0 + (hi0 - lo0) * i / (steps - 1) for i in range(steps)]
    g1 = [lo1 + (hi1 - lo1) * j / (steps - 1) for j in range(steps)]
    classes = list(predict([[a, b] for b in g1 for a in g0]))
    k = max([*y, *classes]) + 1
    z = [classes[j * steps : (j + 1) * steps] for j in range(steps)]
    colors = [CLASS_COLORS[c % len(CLASS_COLORS)] for c in range(k)]
    ax.contourf(g0, g1, z, levels=[c - 0.5 for c in range(k + 1)], colors=colors, alpha=0.25)
    for c in range(k):
        pts = [p for p, t in zip(X, y, strict=True) if t == c]
        ax.scatter(
            [p[0] for p in pts],
            [p[1] for p in pts],
            c=colors[c],
            s=12,
            edgecolors="k",
            linewidths=0.3,
            label=f"class {c}",
        )
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlim(lo0, hi0)
    ax.set_ylim(lo1, hi1)
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(title)
    return ax


def timings(seconds: Mapping[str, float], ax: Axes | None = None, title: str = "time per training step") -> Axes:
    """Horizontal bars of seconds per step, on a log scale (the engines differ by orders of
    magnitude), each labelled with its time."""
    ax = _axes(ax, (5.5, 1.0 + 0.5 * len(seconds)))
    names = list(seconds)
    values = [seconds[n] for n in names]
    ax.barh(names, values, color=CLASS_COLORS[: len(names)])
    ax.set_xscale("log")
    for i, v in enumerate(values):
        ax.text(v, i, f"  {v * 1e3:.3g} ms", va="center", fontsize=8)
    ax.set_xlabel("seconds per step (log scale)")
    ax.set_title(title)
    return ax


def attention_heatmap(
    weights: Sequence[Sequence[float]],
    tokens: Sequence[str],
    ax: Axes | None = None,
    title: str = "",
    label_rows: bool = True,
) -> Axes:
    """One attention map: row i is what query token i looks at, a distribution over the key
    tokens (columns), from 0 (white) to 1 (dark). Padding is left out by passing only the
    real tokens' rows and columns.

    Why a heatmap: each row sums to 1, so a dark cell is where one token takes its
    information from; a trained model's maps show each operation's strategy at a glance."""
    import numpy as np

    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[0] != len(tokens) or w.shape[1] != len(tokens):
        raise ValueError(f"a ({len(tokens)}, {len(tokens)}) map for {len(tokens)} tokens, got shape {w.shape}")
    ax = _axes(ax, (3.2, 3.0))
    ax.imshow(w, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(tokens)), list(tokens), rotation=90, fontsize=7)
    ax.set_yticks(range(len(tokens)), list(tokens) if label_rows else [""] * len(tokens), fontsize=7)
    ax.set_xlabel("looks at (keys)", fontsize=7)
    if label_rows:
        ax.set_ylabel("query", fontsize=7)
    if title:
        ax.set_title(title, fontsize=8)
    return ax
