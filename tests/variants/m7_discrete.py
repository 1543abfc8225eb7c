"""m7_discrete submissions: the issue's pitfalls (a merged node's gradient sent to one input
only; weights that do not sum to 1; the surrogate's derivative without 1/temperature; the
score function's sign; a baseline subtracted from the gradient instead of the loss) and a
few more, and a correct solution written differently (a history of dicts built in one pass,
routing by index arithmetic, a gate from Value operations plus a constant, an expected loss
by recursion, an estimator through log-probabilities)."""

ALTERNATIVE = {
    "merge_forward": """
def merge_forward(acts, sims, threshold):
    starts = [0] + [i for i in range(1, len(acts)) if not sims[i - 1] > threshold] + [len(acts)]
    history, outputs = [], []
    for a, b in zip(starts, starts[1:]):
        size = b - a
        history.append([[j, 1 / size] for j in range(a, b)])
        total = acts[a]
        for j in range(a + 1, b):
            total = total + acts[j]
        outputs.append(total / size)
    return outputs, history
""",
    "route_gradients": """
def route_gradients(history, out_grads, n_inputs):
    weight = {}
    for k, entry in enumerate(history):
        for j, w in entry:
            weight[j] = (k, w)
    return [weight[j][1] * out_grads[weight[j][0]] if j in weight else 0.0 for j in range(n_inputs)]
""",
    "merge_grad_check": """
def merge_grad_check(f, xs, h=1e-6, tol=1e-5):
    xs = list(xs)
    leaves = [Value(x) for x in xs]
    out, base = f(leaves)
    out.backward()
    result = []
    for i in range(len(xs)):
        probes = []
        for step in (+h, -h):
            moved = list(xs)
            moved[i] += step
            probes.append(f([Value(v) for v in moved]))
        (lp, dp), (lm, dm) = probes
        num = (lp.data - lm.data) / (2 * h)
        ana = leaves[i].grad
        if not (dp == base and dm == base):
            result.append([ana, num, "flipped"])
            continue
        err = abs(ana - num) / max(abs(ana), abs(num), 1e-8)
        result.append([ana, num, "ok" if err <= tol else "mismatch"])
    return result
""",
    "ste_gate": """
def ste_gate(sim, threshold, temperature):
    soft = ((sim - threshold) / temperature).sigmoid()
    hard = 1.0 if sim.data > threshold.data else 0.0
    return soft + (hard - soft.data)  # the value is hard; the gradient is the soft gate's
""",
    "expected_loss": """
def expected_loss(probs, pattern_loss, prefix=()):
    k = len(prefix)
    if k == len(probs):
        return pattern_loss(prefix)
    p = probs[k]
    taken = expected_loss(probs, pattern_loss, prefix + (1,))
    return p * taken + (1 - p) * expected_loss(probs, pattern_loss, prefix + (0,))
""",
    "reinforce_grad": """
def reinforce_grad(sims, threshold, temperature, gates, loss, baseline=0.0):
    thr = Value(threshold)
    logp = Value(0.0)
    for s, g in zip(sims, gates):
        p = ((s - thr) * (1 / temperature)).sigmoid()
        logp = logp + (p.log() if g else (1 - p).log())
    logp.backward()
    return (loss - baseline) * thr.grad
""",
}

PITFALLS = {
    # the five
    "merged_gradient_to_one_input": (
        {
            "route_gradients": [
                (
                    "        for j, w in contributors:\n            grads[j] += w * out_grads[k]",
                    "        j, w = contributors[0]\n        grads[j] += out_grads[k]",
                )
            ]
        },
        ["test_route_gradients"],
    ),
    "weights_do_not_sum_to_one": (
        {
            "merge_forward": [
                (
                    "history = [[(j, 1.0 / len(group)) for j in group] for group in groups]",
                    "history = [[(j, 0.5 if len(group) > 1 else 1.0) for j in group] for group in groups]",
                )
            ]
        },
        ["test_merge_forward"],
    ),
    "surrogate_without_one_over_temperature": (
        {"ste_gate": [("        slope = s * (1.0 - s) / temperature", "        slope = s * (1.0 - s)")]},
        ["test_ste_gate"],
    ),
    "score_function_sign": (
        {
            "reinforce_grad": [
                ("        score += (g - p) * (-1.0 / temperature)", "        score += (g - p) * (1.0 / temperature)")
            ]
        },
        ["test_reinforce"],
    ),
    "baseline_subtracted_from_the_gradient": (
        {"reinforce_grad": [("    return (loss - baseline) * score", "    return loss * score - baseline")]},
        ["test_reinforce"],
    ),
    # more
    "outputs_mapped_one_to_one": (
        {
            "route_gradients": [
                (
                    "    for k, contributors in enumerate(history):\n        for j, w in contributors:\n"
                    "            grads[j] += w * out_grads[k]",
                    "    for k, g in enumerate(out_grads):\n        grads[k] += g",
                )
            ]
        },
        ["test_route_gradients"],
    ),
    "merge_on_equal_similarity": (
        {"merge_forward": [("        if sims[i - 1] > threshold:", "        if sims[i - 1] >= threshold:")]},
        ["test_merge_forward"],
    ),
    "merged_output_cut_from_the_graph": (
        {"merge_forward": [("            out = out + acts[j] * w", "            out = out + acts[j].data * w")]},
        ["test_merge_forward"],
    ),
    "weighted_routing_without_weights": (
        {"route_gradients": [("            grads[j] += w * out_grads[k]", "            grads[j] += out_grads[k]")]},
        ["test_route_gradients"],
    ),
    "grad_check_blind_to_flips": (
        {
            "merge_grad_check": [
                ("        if up_decisions != decisions or down_decisions != decisions:", "        if False:")
            ]
        },
        ["test_merge_grad_check"],
    ),
    "grad_check_one_sided": (
        {
            "merge_grad_check": [
                ("        numeric = (up.data - down.data) / (2 * h)", "        numeric = (up.data - loss.data) / h")
            ]
        },
        ["test_merge_grad_check"],
    ),
    "ste_soft_forward": (
        {
            "ste_gate": [
                (
                    '    out = Value(1.0 if sim.data > threshold.data else 0.0, (sim, threshold), "ste")',
                    '    out = Value(s, (sim, threshold), "ste")',
                )
            ]
        },
        ["test_ste_gate"],
    ),
    "ste_threshold_same_sign": (
        {"ste_gate": [("        threshold.grad -= slope * out.grad", "        threshold.grad += slope * out.grad")]},
        ["test_ste_gate"],
    ),
    "expected_loss_p_for_every_gate": (
        {"expected_loss": [("            weight = weight * (p if g else 1 - p)", "            weight = weight * p")]},
        ["test_expected_loss"],
    ),
    "reinforce_without_one_over_temperature": (
        {"reinforce_grad": [("        score += (g - p) * (-1.0 / temperature)", "        score += (g - p) * -1.0")]},
        ["test_reinforce"],
    ),
    "reinforce_baseline_ignored": (
        {"reinforce_grad": [("    return (loss - baseline) * score", "    return loss * score")]},
        ["test_reinforce"],
    ),
    "reinforce_biased_by_three_percent": (
        {"reinforce_grad": [("    return (loss - baseline) * score", "    return 1.03 * (loss - baseline) * score")]},
        ["test_reinforce"],
    ),
}

CHEAT_CELL = "merge_forward"

# The pitfalls graded through nbgrader in the round trip (the five and one more);
# every pitfall above is judged in-process by tests/test_variants_judged.py, in seconds.
ROUND_TRIP = (
    "merged_gradient_to_one_input",
    "weights_do_not_sum_to_one",
    "surrogate_without_one_over_temperature",
    "score_function_sign",
    "baseline_subtracted_from_the_gradient",
    "reinforce_biased_by_three_percent",
)
