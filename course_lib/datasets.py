"""Small, seeded datasets to train on.

Why our own: the course trains a network of a few hundred scalar Values, so a task must
be small enough to train in seconds in pure Python, yet not linearly separable, so that
the hidden layers have something to do. Two interleaving half-moons are exactly that.
Seeded, so every run of a notebook trains on the same points and prints the same losses.
"""

import math
import random

__all__ = ["make_moons"]


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
