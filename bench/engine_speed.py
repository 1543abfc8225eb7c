"""Training speed and memory: the course's engine against micrograd's, side by side.

    ./course python -m pip install micrograd==0.1.0     # benchmark only, never a dependency
    ./course python bench/engine_speed.py [--steps 100] [--skip-notebooks]

The task is micrograd's own demo: a ReLU MLP(2, [16, 16, 1]) with its hinge loss and L2
regularisation, 100 two-moons points, full batch, learning rate decaying from 1.0. The
network is built the same way, from the same seed, on each engine's ``Value``, and the
losses must agree step by step. Each engine runs in a process of its own, so its peak
memory (max RSS) is its own:

- micrograd as shipped (its loop never frees a graph, the cyclic collector stays on);
- the course's engine (``Value`` and ``backward`` assembled from the m1/m2 solution cells,
  exactly what later milestones ship) with milestone 4's training loop: the collector
  paused during a step and the step's graph freed after the update (course_lib.memory);
- the course's engine with a naive loop, for comparison.

Then it times every solution notebook. Figures are printed, never asserted: the machine
is shared and noisy.
"""

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKER = r"""
import gc, json, math, random, resource, sys, time
kind, steps, engine_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "micrograd":
    from micrograd.engine import Value
else:
    sys.path.insert(0, engine_dir)
    from engine import Value
    from course_lib.memory import free_graph, paused_gc

def moons(n, noise=0.1, seed=1):
    from course_lib.datasets import make_moons
    return make_moons(n, noise, seed)

random.seed(1337)
def layer(nin, nout):
    return [([Value(random.uniform(-1, 1)) for _ in range(nin)], Value(0.0)) for _ in range(nout)]
layers = [layer(2, 16), layer(16, 16), layer(16, 1)]
params = [p for L in layers for w, b in L for p in w + [b]]

def forward(x):
    for i, L in enumerate(layers):
        out = [sum((wi * xi for wi, xi in zip(w, x)), b) for w, b in L]
        x = [o.relu() for o in out] if i < len(layers) - 1 else out
    return x[0]

X, y = moons(100)

def step(k):
    scores = [forward(x) for x in X]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum((p * p for p in params))
    loss = data_loss + reg_loss
    for p in params:
        p.grad = 0.0
    loss.backward()
    lr = 1.0 - 0.9 * k / steps
    for p in params:
        p.data -= lr * p.grad
    return loss

losses, rss = [], []
t0 = time.perf_counter()
for k in range(steps):
    if kind == "course":
        with paused_gc():
            loss = step(k)
            losses.append(loss.data)
            free_graph(loss)
    else:
        loss = step(k)
        losses.append(loss.data)
    del loss
    rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
elapsed = time.perf_counter() - t0
print(json.dumps({"losses": losses, "seconds": elapsed, "rss": rss}))
"""


def engine_dir(tmp: Path) -> Path:
    """The course's engine: m1 + m2 exported solution cells, as the release ships them."""
    from course_grader.authoring.engine_export import assemble, exported_sources
    from course_grader.layout import Course

    cells = [src for m in ("m1_value", "m2_backward") for src in exported_sources(Course.at(ROOT).source_notebook(m))]
    (tmp / "engine.py").write_text(assemble(cells, "the course's engine (m1 + m2), for the benchmark"))
    return tmp


def run(kind: str, steps: int, engine: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, kind, str(steps), str(engine)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_notebooks() -> list[tuple[str, float]]:
    from course_grader.isolation.run_notebook import execute
    from course_grader.layout import Course

    out = []
    for m in Course.at(ROOT).present():
        with tempfile.TemporaryDirectory() as tmp:
            import shutil

            work = Path(tmp) / m
            shutil.copytree(Course.at(ROOT).source(m), work)
            t0 = time.perf_counter()
            nb = execute(work / f"{m}.ipynb", work)
            seconds = time.perf_counter() - t0
            errors = sum(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
            out.append((m + (f" ({errors} errors!)" if errors else ""), seconds))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--skip-notebooks", action="store_true")
    args = parser.parse_args()
    try:
        import micrograd  # noqa: F401
    except ImportError:
        raise SystemExit("micrograd is the baseline: ./course python -m pip install micrograd==0.1.0") from None

    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_dir(Path(tmp))
        results = {kind: run(kind, args.steps, engine) for kind in ("micrograd", "course", "course-naive")}

    base = results["micrograd"]["losses"]
    print(f"micrograd demo: ReLU MLP(2, [16, 16, 1]), hinge loss, 100 moons points, {args.steps} full-batch steps\n")
    print(f"{'engine':<34}{'s / step':>10}{'peak MB':>10}{'MB @10%':>10}{'speed-up':>10}{'max |Δloss|':>14}")
    labels = {
        "micrograd": "micrograd 0.1.0 (as shipped)",
        "course": "course engine + m4 loop",
        "course-naive": "course engine, naive loop",
    }
    per_step = {k: r["seconds"] / args.steps for k, r in results.items()}
    for kind, r in results.items():
        diff = max(abs(a - b) for a, b in zip(r["losses"], base, strict=True))
        early = r["rss"][max(0, len(r["rss"]) // 10 - 1)]
        print(
            f"{labels[kind]:<34}{per_step[kind]:>10.3f}{max(r['rss']):>10.0f}{early:>10.0f}"
            f"{per_step['micrograd'] / per_step[kind]:>9.1f}x{diff:>14.2e}"
        )
    same = all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        for r in results.values()
        for a, b in zip(base, r["losses"], strict=True)
    )
    print(f"\nloss: {base[0]:.6f} at step 1, {base[-1]:.6f} at step {args.steps}; the same on every engine: {same}")
    if not args.skip_notebooks:
        print("\nsolution notebooks (a fresh kernel each, run top to bottom):")
        for name, seconds in time_notebooks():
            print(f"  {name:<20}{seconds:>7.1f} s")


if __name__ == "__main__":
    random.seed(0)
    main()
