"""How reliably milestone 7's statistical check judges a REINFORCE estimator.

The hidden test of ``reinforce_grad`` (``course_grader/probes/m7.py``, ``probe_reinforce``)
draws many merge patterns with seeds it chooses and passes an estimator when the Monte-Carlo
mean lies within ``Z`` standard errors of the exact gradient, with and without a baseline,
on each of its small inputs. Here the same check runs over many seeds on estimators that
are right and on estimators that are wrong by a few percent: a correct one must pass
(almost) always, a biased one fail (almost) always.

    python bench/estimator_rates.py [--seeds 500] [--draws 400000]

prints, for each estimator, the fraction of seeds on which the probe's verdict was "pass".
"""

import argparse
import math
import time
from collections.abc import Callable

from course_grader.probes import m7
from course_grader.probes.common import sigmoid

Estimator = Callable[[list[float], float, float, tuple[int, ...], float, float], float]


def score(sims: list[float], thr: float, T: float, gates: tuple[int, ...]) -> float:
    return sum((g - sigmoid((s - thr) / T)) * (-1.0 / T) for s, g in zip(sims, gates, strict=True))


def correct(sims, thr, T, gates, loss, b):  # type: ignore[no-untyped-def]
    return (loss - b) * score(sims, thr, T, gates)


def scaled(k: float) -> Estimator:
    return lambda sims, thr, T, gates, loss, b: k * correct(sims, thr, T, gates, loss, b)


def shifted(frac: float) -> Estimator:
    """An estimator off by ``frac`` of the exact gradient's size (a constant bias)."""

    def est(sims, thr, T, gates, loss, b):  # type: ignore[no-untyped-def]
        return correct(sims, thr, T, gates, loss, b) + frac * SIZE[tuple(sims)]

    return est


SIZE: dict[tuple[float, ...], float] = {}  # |exact gradient| of each case, filled by verdict()

ESTIMATORS: dict[str, Estimator] = {
    "correct": correct,
    "2% too large": scaled(1.02),
    "3% too large": scaled(1.03),
    "5% too small": scaled(0.95),
    "shifted by 2% of |gradient|": shifted(0.02),
    "shifted by 3% of |gradient|": shifted(0.03),
    "wrong sign": scaled(-1.0),
    "baseline subtracted from the gradient": lambda sims, thr, T, gates, loss, b: loss * score(sims, thr, T, gates) - b,
}


def verdict(estimator: Estimator, seed: int, draws: int) -> bool:
    """The probe's decision on ``estimator`` with the seeds ``seed`` picks: every case's mean
    within Z standard errors, with no baseline and with the mean loss as baseline."""
    for i in range(len(m7.REINFORCE_CASES)):
        sims, thr, T, table, patterns, probs = m7.reinforce_case(i)
        exact = m7.exact_threshold_grad(sims, thr, T, table)
        SIZE[tuple(sims)] = abs(exact)
        mean_loss = math.fsum(p * table[g] for g, p in zip(patterns, probs, strict=True))
        for k, b in enumerate((0.0, mean_loss)):
            est = [estimator(sims, thr, T, g, table[g], b) for g in patterns]
            if not m7.mc_check(est, probs, exact, seed * 1000 + 10 * i + k, draws)["agrees"]:
                return False
    return True


def rates(seeds: int, draws: int) -> dict[str, float]:
    return {name: sum(verdict(est, s, draws) for s in range(seeds)) / seeds for name, est in ESTIMATORS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--draws", type=int, default=m7.DRAWS)
    args = parser.parse_args()
    start = time.perf_counter()
    found = rates(args.seeds, args.draws)
    print(f"{args.seeds} seeds, {args.draws} draws per check, Z = {m7.Z:g}  ({time.perf_counter() - start:.0f} s)")
    print(f"{'estimator':<42} {'passes':>8}")
    for name, rate in found.items():
        kind = "false fail" if name == "correct" else "false pass"
        wrong = 1 - rate if name == "correct" else rate
        print(f"{name:<42} {rate:8.1%}   ({kind} rate {wrong:.2%})")


if __name__ == "__main__":
    main()
