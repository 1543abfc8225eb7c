"""Vectorisation, measured: milestone 4's moons network on the scalar engine and on the tensor
engine of milestone 5, side by side.

    ./course python bench/tensor_speed.py [--steps 20]

Both engines are the course's own answers, assembled from the solution cells exactly as the
release ships them (``engine.py`` and ``nn.py`` from milestones 1-3, ``tensor.py`` from
milestone 5). The network is milestone 4's ``MLP(2, [8, 8, 1])``, built on the tensor engine
from a seeded NumPy generator and copied weight for weight into milestone 3's scalar ``MLP``;
both train with full-batch SGD (learning rate 0.1) on the mean squared error against the
moons' labels ±1, the scalar one with milestone 4's loop (collector paused, graph freed). The
losses must agree at every step to 1e-9, or the figures mean nothing and the script says so.

Sizes: milestone 4's 30 points, and 300 points of the same moons (the scalar engine's cost
grows with the data, the tensor engine's barely). Then milestone 6's transformer encoder
(``attention.py``, its answers, on ``tensor.py``) trained as its notebook trains it: the time
of each epoch (3,000 examples in mini-batches of 64) and its held-out accuracy. Figures are
printed, never asserted: the machine is shared and noisy. A step is timed as the median of
its runs.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_modules(folder: Path) -> None:
    """engine.py, nn.py and tensor.py from the solution cells, as the release assembles them."""
    from course_grader.authoring.engine_export import assemble, exported_sources
    from course_grader.layout import Course

    course = Course.at(ROOT)
    modules = {"engine.py": ("m1_value", "m2_backward"), "nn.py": ("m3_mlp",), "tensor.py": ("m5_tensors",)}
    for name, milestones in modules.items():
        cells = [src for m in milestones for src in exported_sources(course.source_notebook(m))]
        (folder / name).write_text(assemble(cells, f"{name}: the course's answers to {', '.join(milestones)}"))
    # milestone 6's cells as they run in its notebook, one after the other: its @attach(Tensor)
    # extends tensor.py's class, which no release step folds into a module (nothing ships m6)
    (folder / "attention.py").write_text("\n\n".join(exported_sources(course.source_notebook("m6_attention"))))
    sys.path.insert(0, str(folder))


def race(n_points: int, steps: int) -> dict[str, float]:
    import nn
    import numpy as np
    from engine import Value
    from tensor import MLP, SGD, Tensor

    from course_lib.datasets import make_moons
    from course_lib.memory import free_graph, paused_gc

    X_list, y_list = make_moons(n_points, noise=0.1, seed=0)
    X, y = np.array(X_list), np.array(y_list).reshape(-1, 1)
    tensor_net = MLP(2, [8, 8, 1], np.random.default_rng(1))
    scalar_net = nn.MLP(2, [8, 8, 1])
    for layer, tensor_layer in zip(scalar_net.layers, tensor_net.layers, strict=True):
        for j, neuron in enumerate(layer.neurons):
            for i, w in enumerate(neuron.w):
                w.data = float(tensor_layer.W.data[i, j])
            neuron.b.data = float(tensor_layer.b.data[j])
    opt = SGD(tensor_net.parameters(), lr=0.1)
    tensor_losses, tensor_times = [], []
    for _ in range(steps):
        start = time.perf_counter()
        loss = ((tensor_net(Tensor(X)) - y) ** 2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        tensor_times.append(time.perf_counter() - start)
        tensor_losses.append(float(loss.data))
    scalar_losses, scalar_times = [], []
    params = scalar_net.parameters()
    for _ in range(steps):
        start = time.perf_counter()
        with paused_gc():
            total = Value(0.0)
            for x, t in zip(X_list, y_list, strict=True):
                total = total + (scalar_net(x) - t) ** 2
            scalar_loss = total * (1.0 / len(X_list))
            scalar_loss.backward()
            for p in params:
                p.data -= 0.1 * p.grad
                p.grad = 0.0
            scalar_losses.append(scalar_loss.data)
            free_graph(scalar_loss)
        scalar_times.append(time.perf_counter() - start)
    gap = max(abs(a - b) for a, b in zip(tensor_losses, scalar_losses, strict=True))
    return {
        "scalar": statistics.median(scalar_times),
        "tensor": statistics.median(tensor_times),
        "gap": gap,
        "final": tensor_losses[-1],
    }


def transformer(epochs: int = 5, lr: float = 0.007) -> None:
    """Milestone 6's encoder, as its notebook trains it: seconds per epoch, held-out accuracy."""
    import numpy as np
    from attention import Encoder
    from tensor import Adam, cross_entropy

    from course_lib import digit_tasks

    train_set, test_set = digit_tasks.make_split(3000, 500, seed=0)
    model = Encoder(len(digit_tasks.VOCAB), 32, 2, 64, 2, np.random.default_rng(0))
    optimizer = Adam(model.parameters(), lr=lr)
    size = sum(p.data.size for p in model.parameters())
    print(f"\nmilestone 6's Encoder (width 32, 2 heads, 2 blocks, {size} parameters), Adam lr {lr}, batches of 64")
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        for ids, mask, targets in digit_tasks.batches(train_set, 64, seed=epoch):
            loss = cross_entropy(model(ids, mask), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        times.append(time.perf_counter() - start)
        print(f"  epoch {epoch + 1}: {times[-1]:.2f} s  (last mini-batch loss {float(loss.data):.4f})")
    ids, mask, _ = digit_tasks.make_batch(test_set)
    predicted = model(ids, mask).data.argmax(axis=1)
    table = digit_tasks.accuracy_by_operation(test_set, predicted)
    correct, total = table["all"]
    per_op = "  ".join(f"{op} {c / t:.1%}" for op, (c, t) in table.items() if op != "all")
    print(f"  median {statistics.median(times):.2f} s per epoch; held-out accuracy {correct / total:.1%} ({per_op})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="training steps per engine and size (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        build_modules(Path(tmp))
        print(f"MLP(2, [8, 8, 1]) on the moons, full-batch SGD lr 0.1, {args.steps} steps, same initial weights")
        print(f"{'points':>7} {'scalar ms/step':>15} {'tensor ms/step':>15} {'ratio':>8}  {'largest loss gap':>16}")
        worst = 0.0
        for n in (30, 300):
            r = race(n, args.steps)
            worst = max(worst, r["gap"])
            ratio = r["scalar"] / r["tensor"]
            print(f"{n:>7} {r['scalar'] * 1e3:>15.3f} {r['tensor'] * 1e3:>15.4f} {ratio:>7.0f}x  {r['gap']:>16.2g}")
        print(
            "losses agree to 1e-9 at every step"
            if worst <= 1e-9
            else f"LOSSES DIFFER by {worst:.3g}: the figures compare different computations"
        )
        transformer()


if __name__ == "__main__":
    main()
