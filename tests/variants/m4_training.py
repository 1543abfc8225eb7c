"""m4_training submissions: the milestone's classic pitfalls (forgetting zero_grad, a learning rate
too high or too low, updating through the graph), the classic stability slips, a
correct solution written differently (another valid learning rate, PyTorch's step
order, Adam's state in a dict), and cheats."""

ALTERNATIVE = {
    "mse_loss": """
def mse_loss(predictions, targets):
    squares = [(p - t) ** 2 for p, t in zip(predictions, targets)]
    return sum(squares[1:], squares[0]) / len(squares)
""",
    "sgd": """
class SGD:
    def __init__(self, params, lr):
        self.parameters = [p for p in params]
        self.learning_rate = lr

    def step(self):
        for q in self.parameters:
            q.data = q.data - self.learning_rate * q.grad

    def zero_grad(self):
        for q in self.parameters:
            q.grad = 0
""",
    "train_step": """
def train_step(model, X, y, optimizer):
    optimizer.zero_grad()           # PyTorch's order: clear first, then accumulate
    loss = mse_loss(list(map(model, X)), y)
    loss.backward()
    optimizer.step()
    return loss
""",
    "choose_training": """
def choose_training():
    learning_rate = 2e-1
    return learning_rate, 2 * 100
""",
    "softmax": """
def softmax(logits):
    shift = max(z.data for z in logits)
    exps = [(z + (-shift)).exp() for z in logits]
    norm = sum(exps[1:], exps[0])
    return [e * norm**-1 for e in exps]
""",
    "safe_log": """
def safe_log(x):
    return (x if isinstance(x, Value) else Value(x)).log()
""",
    "adam": """
class Adam:
    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8):
        self.ps = list(params)
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.state = {i: (0.0, 0.0) for i in range(len(self.ps))}
        self.steps = 0

    def step(self):
        self.steps += 1
        c1, c2 = 1 - self.b1**self.steps, 1 - self.b2**self.steps
        for i, p in enumerate(self.ps):
            m, v = self.state[i]
            m = self.b1 * m + (1 - self.b1) * p.grad
            v = self.b2 * v + (1 - self.b2) * p.grad * p.grad
            self.state[i] = (m, v)
            p.data -= self.lr * (m / c1) / ((v / c2) ** 0.5 + self.eps)

    def zero_grad(self):
        for p in self.ps:
            p.grad = 0.0
""",
}

PITFALLS = {
    "forgets_zero_grad": (
        {"train_step": [("    optimizer.zero_grad()\n", "")]},
        ["test_train_step"],
    ),
    "learning_rate_too_high": (
        {"choose_training": [("return 0.1, 300", "return 0.7, 300")]},
        ["test_trained"],
    ),
    "learning_rate_too_low": (
        {"choose_training": [("return 0.1, 300", "return 1e-4, 300")]},
        ["test_trained"],
    ),
    "too_few_epochs": (
        {"choose_training": [("return 0.1, 300", "return 0.1, 60")]},
        ["test_trained"],
    ),
    "update_through_graph": (
        {
            "sgd": [
                (
                    "        for p in self.params:\n            p.data -= self.lr * p.grad",
                    "        self.params = [p - self.lr * p.grad for p in self.params]",
                )
            ]
        },
        ["test_sgd", "test_trained"],
    ),
    "sum_not_mean": (
        {"mse_loss": [("return total * (1.0 / len(predictions))", "return total")]},
        ["test_mse_loss"],
    ),
    "softmax_overflows": (
        {"softmax": [("exps = [(v - top).exp() for v in logits]", "exps = [v.exp() for v in logits]")]},
        ["test_softmax"],
    ),
    "safe_log_cuts_the_graph": (
        {"safe_log": [("return x.log()", "return Value(max(x.data, 1e-10)).log()")]},
        ["test_safe_log"],
    ),
    "adam_without_bias_correction": (
        {
            "adam": [
                ("m_hat = self.m[i] / (1 - self.beta1**self.t)", "m_hat = self.m[i]"),
                ("v_hat = self.v[i] / (1 - self.beta2**self.t)", "v_hat = self.v[i]"),
            ]
        },
        ["test_adam"],
    ),
    "adam_state_shared": (
        {
            "adam": [
                (
                    "self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * p.grad",
                    "self.m[0] = self.beta1 * self.m[0] + (1 - self.beta1) * p.grad",
                ),
                ("m_hat = self.m[i] /", "m_hat = self.m[0] /"),
            ]
        },
        ["test_adam"],
    ),
    # the slip the notebook describes: m and v start from zero at every step
    "adam_forgets_its_state": (
        {
            "adam": [
                (
                    "        self.t += 1\n",
                    "        self.t += 1\n        self.m = [0.0] * len(self.params)\n"
                    "        self.v = [0.0] * len(self.params)\n",
                )
            ]
        },
        ["test_adam"],
    ),
}

CHEAT_CELL = "mse_loss"
