"""m5_tensors submissions: the milestone's classic pitfalls (broadcast gradients not summed
back, ``sum`` putting the gradient back along the wrong axis, log of softmax, gradients
overwritten instead of accumulated, matmul's gradients in the wrong order, and more), and a
correct solution written differently (np.einsum, closures of its own, another unbroadcast,
Adam's state in a dict, transpose through np.transpose and np.moveaxis, ...)."""

ALTERNATIVE = {
    "unbroadcast": """
def unbroadcast(grad, shape):
    lead = grad.ndim - len(shape)
    stretched = [lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1]
    axes = tuple(range(lead)) + tuple(stretched)
    return np.reshape(grad.sum(axis=axes) if axes else grad, shape)
""",
    "tensor_add": """
@attach(Tensor)
def __add__(self, other):
    other = other if isinstance(other, Tensor) else Tensor(other)
    out = Tensor(np.add(self.data, other.data), _children=(self, other), _op="+")

    def _backward():
        for t in (self, other):
            t.grad = t.grad + unbroadcast(out.grad, t.data.shape)

    out._backward = _backward
    return out
""",
    "tensor_mul": """
@attach(Tensor)
def __mul__(self, other):
    other = as_tensor(other)
    a, b = self.data, other.data
    out = Tensor(a * b, (self, other), "*")

    def _backward():
        g = out.grad
        self.grad += unbroadcast(g * b, a.shape)
        other.grad += unbroadcast(g * a, b.shape)

    out._backward = _backward
    return out
""",
    "tensor_pow": """
@attach(Tensor)
def __pow__(self, k):
    assert isinstance(k, (int, float)), "only constant exponents"
    out = Tensor(np.power(self.data, k), (self,), "pow")

    def _backward():
        self.grad += out.grad * (k * np.power(self.data, k - 1))

    out._backward = _backward
    return out
""",
    "tensor_matmul": """
@attach(Tensor)
def __matmul__(self, other):
    other = as_tensor(other)
    out = Tensor(np.einsum("ik,kj->ij", self.data, other.data), (self, other), "@")

    def _backward():
        self.grad += np.einsum("ij,kj->ik", out.grad, other.data)
        other.grad += np.einsum("ik,ij->kj", self.data, out.grad)

    out._backward = _backward
    return out
""",
    "tensor_sum": """
@attach(Tensor)
def sum(self, axis=None, keepdims=False):
    out = Tensor(np.sum(self.data, axis=axis, keepdims=keepdims), (self,), "sum")

    def _backward():
        g = out.grad if keepdims or axis is None else np.expand_dims(out.grad, axis)
        self.grad += np.ones_like(self.data) * g

    out._backward = _backward
    return out
""",
    "tensor_mean": """
@attach(Tensor)
def mean(self, axis=None, keepdims=False):
    n = self.data.size if axis is None else self.data.shape[axis]
    out = Tensor(self.data.mean(axis=axis, keepdims=keepdims), (self,), "mean")

    def _backward():
        g = out.grad
        if axis is not None and not keepdims:
            g = np.expand_dims(g, axis)
        self.grad += np.broadcast_to(g / n, self.data.shape)

    out._backward = _backward
    return out
""",
    "tensor_reshape": """
@attach(Tensor)
def reshape(self, *shape):
    before = self.data.shape
    out = Tensor(np.reshape(self.data, shape), (self,), "reshape")

    def _backward():
        self.grad += np.reshape(out.grad, before)

    out._backward = _backward
    return out
""",
    "tensor_transpose": """
@attach(Tensor)
def transpose(self, *axes):
    perm = list(axes) if axes else list(range(self.data.ndim))[::-1]
    out = Tensor(np.transpose(self.data, perm), (self,), "transpose")

    def _backward():
        # out's axis i is self's axis perm[i]: move it back there
        self.grad += np.moveaxis(out.grad, list(range(len(perm))), perm)

    out._backward = _backward
    return out
""",
    "tensor_exp_log": """
@attach(Tensor)
def exp(self):
    out = Tensor(np.exp(self.data), (self,), "exp")

    def _backward():
        self.grad += np.exp(self.data) * out.grad

    out._backward = _backward
    return out

@attach(Tensor)
def log(self):
    safe = np.clip(self.data, 1e-10, None)
    out = Tensor(np.log(safe), (self,), "log")

    def _backward():
        self.grad += out.grad * (1.0 / safe)

    out._backward = _backward
    return out
""",
    "tensor_tanh_relu": """
@attach(Tensor)
def tanh(self):
    t = np.tanh(self.data)
    out = Tensor(t, (self,), "tanh")

    def _backward():
        self.grad += out.grad * (1.0 - t * t)

    out._backward = _backward
    return out

@attach(Tensor)
def relu(self):
    out = Tensor(self.data * (self.data > 0), (self,), "relu")

    def _backward():
        self.grad += np.where(self.data > 0, out.grad, 0.0)

    out._backward = _backward
    return out
""",
    "log_softmax": """
def log_softmax(logits):
    x = logits.data
    shifted = x - x.max(axis=-1, keepdims=True)
    out = Tensor(shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True)), (logits,), "log_softmax")

    def _backward():
        soft = np.exp(out.data)
        logits.grad += out.grad - soft * out.grad.sum(axis=-1, keepdims=True)

    out._backward = _backward
    return out
""",
    "cross_entropy": """
def cross_entropy(logits, targets):
    classes = logits.shape[1]
    picked = log_softmax(logits) * np.eye(classes)[np.asarray(targets)]
    return picked.sum(axis=1).mean() * -1.0
""",
    "grad_check": """
def grad_check(f, arrays, h=1e-6, tol=1e-5):
    xs = [np.array(a, dtype=float) for a in arrays]
    ts = [Tensor(x) for x in xs]
    f(ts).backward()
    rows = []
    for i, x in enumerate(xs):
        num = np.zeros_like(x)
        for j in range(x.size):
            x.flat[j] += h
            up = f([Tensor(v) for v in xs]).data.item()
            x.flat[j] -= 2 * h
            down = f([Tensor(v) for v in xs]).data.item()
            x.flat[j] += h
            num.flat[j] = (up - down) / (2 * h)
        ana = ts[i].grad
        rel = np.abs(ana - num) / np.maximum(np.maximum(np.abs(ana), np.abs(num)), 1e-8)
        worst = rel.max() if rel.size else np.float64(0.0)
        rows.append((ana, num, worst, worst <= tol))
    return rows
""",
    "linear": """
class Linear:
    def __init__(self, nin, nout, rng):
        k = nin**-0.5
        drawn = rng.uniform(-k, k, size=nin * nout + nout)   # W's entries, then b's: one stream
        self.W = Tensor(drawn[: nin * nout].reshape(nin, nout))
        self.b = Tensor(drawn[nin * nout :])

    def __call__(self, x):
        return (x @ self.W) + self.b

    def parameters(self):
        return [self.W, self.b]
""",
    "mlp": """
class MLP:
    def __init__(self, nin, nouts, rng):
        self.layers = []
        for nout in nouts:
            self.layers.append(Linear(nin, nout, rng))
            nin = nout

    def __call__(self, x):
        *hidden, last = self.layers
        for layer in hidden:
            x = layer(x).tanh()
        return last(x)

    def parameters(self):
        params = []
        for layer in self.layers:
            params.extend(layer.parameters())
        return params

    def zero_grad(self):
        for p in self.parameters():
            p.grad = np.zeros(p.data.shape)
""",
    "sgd": """
class SGD:
    def __init__(self, params, lr):
        self.ps = [p for p in params]
        self.learning_rate = lr

    def step(self):
        for q in self.ps:
            q.data = q.data - self.learning_rate * q.grad

    def zero_grad(self):
        for q in self.ps:
            q.grad = np.zeros_like(q.grad)
""",
    "adam": """
class Adam:
    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8):
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.state = {}
        self.steps = 0

    def step(self):
        self.steps += 1
        b1, b2 = self.betas
        for p in self.params:
            m, v = self.state.get(id(p), (0.0, 0.0))
            m = b1 * m + (1 - b1) * p.grad
            v = b2 * v + (1 - b2) * p.grad * p.grad
            self.state[id(p)] = (m, v)
            m_hat = m / (1 - b1**self.steps)
            v_hat = v / (1 - b2**self.steps)
            p.data = p.data - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def zero_grad(self):
        for p in self.params:
            p.grad.fill(0.0)
""",
}

PITFALLS = {
    # (1) broadcast gradients not summed back to the operand's shape
    "add_forgets_unbroadcast": (
        {
            "tensor_add": [
                ("self.grad += unbroadcast(out.grad, self.shape)", "self.grad += out.grad"),
                ("other.grad += unbroadcast(out.grad, other.shape)", "other.grad += out.grad"),
            ]
        },
        ["test_add"],
    ),
    "mul_forgets_unbroadcast": (
        {
            "tensor_mul": [
                ("self.grad += unbroadcast(other.data * out.grad, self.shape)", "self.grad += other.data * out.grad"),
                ("other.grad += unbroadcast(self.data * out.grad, other.shape)", "other.grad += self.data * out.grad"),
            ]
        },
        ["test_mul"],
    ),
    "unbroadcast_sums_trailing_axes": (
        {"unbroadcast": [("grad = grad.sum(axis=0)", "grad = grad.sum(axis=-1)")]},
        ["test_unbroadcast", "test_add"],
    ),
    "unbroadcast_drops_kept_axes": (
        {"unbroadcast": [("grad = grad.sum(axis=axis, keepdims=True)", "grad = grad.sum(axis=axis)")]},
        ["test_unbroadcast"],
    ),
    # (2) sum(axis) without keepdims: the gradient broadcast back along the wrong axis
    "sum_broadcasts_along_wrong_axis": (
        {
            "tensor_sum": [
                ("        if axis is not None and not keepdims:\n            g = np.expand_dims(g, axis)\n", ""),
            ]
        },
        ["test_sum", "test_mean"],
    ),
    # (3) log_softmax as log(softmax): exp overflows, or a probability rounds to 0
    "log_of_softmax": (
        {
            "log_softmax": [
                (
                    "    return shifted - shifted.exp().sum(axis=-1, keepdims=True).log()",
                    "    e = logits.exp()\n    return (e / e.sum(axis=-1, keepdims=True)).log()",
                )
            ]
        },
        ["test_log_softmax", "test_cross_entropy"],
    ),
    "log_of_shifted_softmax": (
        {
            "log_softmax": [
                (
                    "    return shifted - shifted.exp().sum(axis=-1, keepdims=True).log()",
                    "    e = shifted.exp()\n    return (e / e.sum(axis=-1, keepdims=True)).log()",
                )
            ]
        },
        ["test_log_softmax", "test_cross_entropy"],
    ),
    "log_softmax_unshifted": (
        {"log_softmax": [("shift = logits.data.max(axis=-1, keepdims=True)", "shift = 0.0")]},
        ["test_log_softmax", "test_cross_entropy"],
    ),
    # (4) gradients overwritten (=) instead of accumulated (+=)
    "add_overwrites_grad": (
        {
            "tensor_add": [
                ("self.grad += unbroadcast", "self.grad = unbroadcast"),
                ("other.grad += unbroadcast", "other.grad = unbroadcast"),
            ]
        },
        ["test_add"],
    ),
    "mul_overwrites_grad": (
        {
            "tensor_mul": [
                ("self.grad += unbroadcast", "self.grad = unbroadcast"),
                ("other.grad += unbroadcast", "other.grad = unbroadcast"),
            ]
        },
        ["test_mul"],
    ),
    "matmul_overwrites_grad": (
        {
            "tensor_matmul": [
                ("self.grad += out.grad @ other.data.T", "self.grad = out.grad @ other.data.T"),
                ("other.grad += self.data.T @ out.grad", "other.grad = self.data.T @ out.grad"),
            ]
        },
        ["test_matmul"],
    ),
    "pow_overwrites_grad": (
        {"tensor_pow": [("self.grad += k * self.data", "self.grad = k * self.data")]},
        ["test_pow"],
    ),
    "sum_overwrites_grad": (
        {"tensor_sum": [("self.grad += np.broadcast_to(g, self.shape)", "self.grad = np.broadcast_to(g, self.shape)")]},
        ["test_sum"],
    ),
    "transpose_overwrites_grad": (
        {"tensor_transpose": [("self.grad += out.grad.transpose", "self.grad = out.grad.transpose")]},
        ["test_reshape_transpose"],
    ),
    "tanh_overwrites_grad": (
        {
            "tensor_tanh_relu": [
                ("self.grad += (1 - out.data**2) * out.grad", "self.grad = (1 - out.data**2) * out.grad")
            ]
        },
        ["test_tanh_relu"],
    ),
    "log_overwrites_grad": (
        {"tensor_exp_log": [("self.grad += out.grad / clamped", "self.grad = out.grad / clamped")]},
        ["test_exp_log"],
    ),
    # (5) matmul's gradients in the wrong order: shapes fail unless square, where numbers do
    "matmul_gradients_transposed": (
        {
            "tensor_matmul": [
                ("self.grad += out.grad @ other.data.T", "self.grad += other.data.T @ out.grad"),
                ("other.grad += self.data.T @ out.grad", "other.grad += out.grad @ self.data.T"),
            ]
        },
        ["test_matmul", "test_linear", "test_mlp"],
    ),
    "matmul_forgets_transpose": (
        {"tensor_matmul": [("self.grad += out.grad @ other.data.T", "self.grad += out.grad @ other.data")]},
        ["test_matmul"],
    ),
    # and the rest of the milestone's slips
    "pow_forgets_minus_one": (
        {"tensor_pow": [("k * self.data ** (k - 1)", "k * self.data**k")]},
        ["test_pow"],
    ),
    "mean_divides_by_everything": (
        {
            "tensor_mean": [
                (
                    "count = self.data.size if axis is None else np.prod([self.shape[a] for a in np.atleast_1d(axis)])",
                    "count = self.data.size",
                )
            ]
        },
        ["test_mean"],
    ),
    "transpose_backward_same_permutation": (
        {"tensor_transpose": [("out.grad.transpose(np.argsort(axes))", "out.grad.transpose(axes)")]},
        ["test_reshape_transpose"],
    ),
    "exp_derivative_from_input": (
        {"tensor_exp_log": [("self.grad += out.data * out.grad", "self.grad += self.data * out.grad")]},
        ["test_exp_log"],
    ),
    "log_unclamped_backward": (
        {"tensor_exp_log": [("self.grad += out.grad / clamped", "self.grad += out.grad / self.data")]},
        ["test_exp_log"],
    ),
    "tanh_derivative_from_input": (
        {"tensor_tanh_relu": [("(1 - out.data**2)", "(1 - self.data**2)")]},
        ["test_tanh_relu"],
    ),
    "relu_passes_gradient_at_zero": (
        {"tensor_tanh_relu": [("(self.data > 0) * out.grad", "(self.data >= 0) * out.grad")]},
        ["test_tanh_relu"],
    ),
    "cross_entropy_sums_the_batch": (
        {"cross_entropy": [(".sum() * (1.0 / len(targets))", ".sum()")]},
        ["test_cross_entropy"],
    ),
    "grad_check_one_sided": (
        {"grad_check": [("            minus[i][idx] -= h\n", ""), ("/ (2 * h)", "/ h")]},
        ["test_grad_check"],
    ),
    "grad_check_absolute_error": (
        {
            "grad_check": [
                (
                    "err = np.abs(analytic - numeric) / np.maximum(",
                    "err = np.abs(analytic - numeric) + 0 * np.maximum(",
                )
            ]
        },
        ["test_grad_check"],
    ),
    "grad_check_ignores_tol": (
        {"grad_check": [("worst <= tol", "worst <= 1e-5")]},
        ["test_grad_check"],
    ),
    "linear_weights_nout_by_nin": (
        {
            "linear": [
                ("size=(nin, nout)", "size=(nout, nin)"),
                ("return x @ self.W + self.b", "return x @ self.W.T + self.b"),
            ]
        },
        ["test_linear", "test_mlp"],
    ),
    "linear_draws_b_first": (
        {
            "linear": [
                (
                    "        self.W = Tensor(rng.uniform(-bound, bound, size=(nin, nout)))\n"
                    "        self.b = Tensor(rng.uniform(-bound, bound, size=(nout,)))\n",
                    "        self.b = Tensor(rng.uniform(-bound, bound, size=(nout,)))\n"
                    "        self.W = Tensor(rng.uniform(-bound, bound, size=(nin, nout)))\n",
                )
            ]
        },
        ["test_linear", "test_mlp"],
    ),
    "mlp_tanh_on_the_output": (
        {"mlp": [("            if i < len(self.layers) - 1:\n", "            if True:\n")]},
        ["test_mlp"],
    ),
    "mlp_zero_grad_forgets_biases": (
        {
            "mlp": [
                (
                    "        for p in self.parameters():\n            p.grad = np.zeros_like(p.data)",
                    "        for layer in self.layers:\n            layer.W.grad = np.zeros_like(layer.W.data)",
                )
            ]
        },
        ["test_mlp"],
    ),
    "sgd_makes_new_tensors": (
        {
            "sgd": [
                (
                    "        for p in self.params:\n            p.data -= self.lr * p.grad",
                    "        self.params = [p - self.lr * p.grad for p in self.params]",
                )
            ]
        },
        ["test_sgd"],
    ),
    "sgd_zero_grad_does_not_zero": (
        {"sgd": [("            p.grad = np.zeros_like(p.data)", "            p.grad * 0")]},
        ["test_sgd"],
    ),
    "adam_without_bias_correction": (
        {
            "adam": [
                ("m_hat = m / (1 - self.beta1**self.t)", "m_hat = m"),
                ("v_hat = v / (1 - self.beta2**self.t)", "v_hat = v"),
            ]
        },
        ["test_adam"],
    ),
    "adam_forgets_its_state": (
        {
            "adam": [
                (
                    "        self.t += 1\n",
                    "        self.t += 1\n"
                    "        self.m = [np.zeros_like(p.data) for p in self.params]\n"
                    "        self.v = [np.zeros_like(p.data) for p in self.params]\n",
                )
            ]
        },
        ["test_adam"],
    ),
}

# Answers of the wrong kind (a list, NaN, a shape of their own, a constructor that raises):
# each loses its cell with a message, never a crash of the probe or a hang.
PITFALLS |= {
    f"hostile_{cell}": ({cell: source}, loses)
    for cell, source, loses in [
        ("unbroadcast", "def unbroadcast(grad, shape):\n    return grad.tolist()\n", ["test_unbroadcast"]),
        ("tensor_add", "@attach(Tensor)\ndef __add__(self, other):\n    return 3.0\n", ["test_add"]),
        (
            "tensor_mul",
            "@attach(Tensor)\ndef __mul__(self, other):\n    other = as_tensor(other)\n"
            "    return Tensor(np.full(np.broadcast_shapes(self.shape, other.shape), np.nan), (self, other))\n",
            ["test_mul"],
        ),
        (
            "tensor_matmul",
            "@attach(Tensor)\ndef __matmul__(self, other):\n    return Tensor(np.zeros((7, 7)), (self,))\n",
            ["test_matmul"],
        ),
        (
            "tensor_sum",
            "@attach(Tensor)\ndef sum(self, axis=None, keepdims=False):\n"
            "    out = Tensor(self.data.sum(axis=axis, keepdims=keepdims), (self,))\n"
            "    def _backward():\n        self.grad = 'no'\n    out._backward = _backward\n    return out\n",
            ["test_sum"],
        ),
        ("grad_check", "def grad_check(f, arrays, h=1e-6, tol=1e-5):\n    return None\n", ["test_grad_check"]),
        ("sgd", "class SGD:\n    def __init__(self, params, lr):\n        raise RuntimeError('boom')\n", ["test_sgd"]),
        (
            "adam",
            "class Adam:\n    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8):\n"
            "        self.params = list(params)\n    def step(self):\n"
            "        for p in self.params:\n            p.data = object()\n    def zero_grad(self):\n        pass\n",
            ["test_adam"],
        ),
    ]
}

# Training judged by what it reached: another rate and length trains other parameters and
# keeps the point (the judge recomputes the loss from them); too slow or too short loses it.
ALTERNATIVES = {"another_training_run": {"choose_training": [("return 0.05, 300", "return 0.02, 400")]}}
PITFALLS |= {
    "learning_rate_too_low": ({"choose_training": [("return 0.05, 300", "return 1e-5, 300")]}, ["test_trained"]),
    "too_few_steps": ({"choose_training": [("return 0.05, 300", "return 0.05, 60")]}, ["test_trained"]),
}
SAYS = {"learning_rate_too_low": "below 0.01", "too_few_steps": "at least 100"}

CHEAT_CELL = "unbroadcast"

# The pitfalls graded through nbgrader in the round trip (the five, Adam's bias
# correction and two of milestones 1-2's classics, once more on arrays); every pitfall above
# is judged in-process by tests/test_variants_judged.py, against the same probes and judge, in seconds.
ROUND_TRIP = (
    "add_forgets_unbroadcast",
    "sum_broadcasts_along_wrong_axis",
    "log_of_softmax",
    "mul_overwrites_grad",
    "matmul_gradients_transposed",
    "adam_without_bias_correction",
    "tanh_derivative_from_input",
    "grad_check_one_sided",
)
