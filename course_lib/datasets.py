"""Small, seeded datasets to train on.

Why our own: the course trains a network of a few hundred scalar Values, so a task must
be small enough to train in seconds in pure Python, yet not linearly separable, so that
the hidden layers have something to do. Two interleaving half-moons are exactly that.
Seeded, so every run of a notebook trains on the same points and prints the same losses.
"""

import math
import random

__all__ = ["make_moons", "make_spiral"]


def make_moons(n: int = 40, noise: float = 0.1, seed: int = 0) -> tuple[list[list[float]], list[float]]:
    """``n`` points on two interleaving half circles, with Gaussian ``noise``.

    Returns ``(X, y)``: ``X`` a list of ``[x0, x1]`` pairs, ``y`` the labels, -1.0 for the
    upper moon and +1.0 for the lower one, alternating so any prefix is balanced.
    """
    if n < 2:
        raise ValueError(f"make_moons needs at least 2 points, got n={n}")
    if noise < 0:
        raise ValueError(f"noise is a standard deviation and cannot be negative, got {noise}")
    rng = random.Random(seed)
    X: list[list[float]] = []
    y: list[float] = []
    for i in range(n):
        t = rng.uniform(0.0, math.pi)
        if i % 2 == 0:
            x0, x1, label = math.cos(t), math.sin(t), -1.0
        else:
            x0, x1, label = 1.0 - math.cos(t), 0.5 - math.sin(t), 1.0
        X.append([x0 + rng.gauss(0.0, noise), x1 + rng.gauss(0.0, noise)])
        y.append(label)
    return X, y


def make_spiral(
    n_per_class: int = 100, classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[list[list[float]], list[int]]:
    """``classes`` interleaved spiral arms of ``n_per_class`` points each (CS231n's toy set).

    Why: the moons are two classes a few dozen points can show; a spiral of several hundred
    points and three classes needs a wider network and many more steps, which is where the
    scalar engine runs out of patience and the tensor engine does not. Returns ``(X, y)``:
    ``X`` a list of ``[x0, x1]``, ``y`` the class of each point, ``0 .. classes - 1``.
    """
    if n_per_class < 1 or classes < 2:
        raise ValueError(f"make_spiral needs at least 1 point per class and 2 classes, got {n_per_class}, {classes}")
    if noise < 0:
        raise ValueError(f"noise is a standard deviation and cannot be negative, got {noise}")
    rng = random.Random(seed)
    X: list[list[float]] = []
    y: list[int] = []
    for i in range(n_per_class):
        r = i / max(n_per_class - 1, 1)  # from the centre outwards
        for k in range(classes):
            t = 4.0 * r + 2 * math.pi * k / classes + rng.gauss(0.0, noise)
            X.append([r * math.sin(t), r * math.cos(t)])
            y.append(k)
    return X, y
