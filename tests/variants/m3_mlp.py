"""m3_mlp submissions: the milestone's classic pitfalls (and a few more), a correct solution written
differently, and cheats."""

ALTERNATIVE = {
    "neuron_init": """
class Neuron:
    def __init__(self, nin, nonlin=True):
        self.bias = Value(2 * random.random() - 1)  # drawn first, stored under other names
        self.weights = tuple(Value(2 * random.random() - 1) for _ in range(nin))
        self.squash = bool(nonlin)

    def parameters(self):
        params = list(self.weights)
        params.append(self.bias)
        return params
""",
    "neuron_call": """
@attach(Neuron)
def __call__(self, x):
    if isinstance(x, Value):  # a single input may come unwrapped
        x = [x]
    total = Value(0.0)
    for i in range(len(self.weights)):
        total = total + x[i] * self.weights[i]
    total = total + self.bias
    if not self.squash:
        return total
    return total.tanh()
""",
    "layer": """
class Layer:
    def __init__(self, nin, nout, **kw):
        self.units = {j: Neuron(nin, **kw) for j in range(nout)}

    def __call__(self, x):
        results = [self.units[j](x) for j in sorted(self.units)]
        if len(results) > 1:
            return results
        return results[0]

    def parameters(self):
        out = []
        for j in sorted(self.units):
            out.extend(self.units[j].parameters())
        return out
""",
    "mlp": """
import itertools


class MLP:
    def __init__(self, nin, nouts):
        widths = (nin, *nouts)
        last = len(nouts) - 1
        self.stack = tuple(
            Layer(a, b, nonlin=(k < last)) for k, (a, b) in enumerate(zip(widths[:-1], widths[1:]))
        )

    def __call__(self, x):
        h = list(x)
        for layer in self.stack:
            h = layer(h)
        return h

    def parameters(self):
        return list(itertools.chain.from_iterable(layer.parameters() for layer in self.stack))
""",
    "mlp_zero_grad": """
@attach(MLP)
def zero_grad(self):
    for layer in self.stack:
        for p in layer.parameters():
            p.grad = 0
""",
}

# name -> (edits: grade_id -> (old, new) replacements or full source, cells that must lose)
PITFALLS = {
    # classic: an activation on the output layer
    "output_activation": (
        {"mlp": [("nonlin=not last", "nonlin=True")]},
        ["test_mlp"],
    ),
    # classic: a parameter missing from parameters()
    "parameters_forget_bias": (
        {"neuron_init": [("return self.w + [self.b]", "return list(self.w)")]},
        ["test_neuron_init", "test_neuron", "test_layer", "test_mlp", "test_parameters", "test_zero_grad"],
    ),
    "parameters_skip_last_layer": (
        {
            "mlp": [
                (
                    "for layer in self.layers:\n            params.extend",
                    "for layer in self.layers[:-1]:\n            params.extend",
                )
            ]
        },
        ["test_parameters", "test_mlp", "test_zero_grad", "test_init"],
    ),
    # classic: all-zero initialisation (symmetry)
    "zero_initialisation": (
        {
            "neuron_init": [
                ("Value(random.uniform(-1, 1)) for _ in range(nin)", "Value(0.0) for _ in range(nin)"),
                ("self.b = Value(random.uniform(-1, 1))", "self.b = Value(0.0)"),
            ]
        },
        ["test_neuron_init", "test_init"],
    ),
    # classic: list vs Value when nout == 1
    "layer_always_returns_a_list": (
        {"layer": [("        if len(outs) == 1:\n            return outs[0]\n", "")]},
        ["test_layer", "test_mlp"],
    ),
    # and more
    "width_one_hidden_layer_breaks": (
        {"mlp": [("x = layer([x] if isinstance(x, Value) else x)", "x = layer(x)")]},
        ["test_mlp"],
    ),
    "kw_not_passed_to_neurons": (
        {"layer": [("Neuron(nin, **kw)", "Neuron(nin)")]},
        ["test_layer", "test_mlp"],
    ),
    "forward_from_data": (
        {"neuron_call": [("act = act + wi * xi", "act = act + wi.data * getattr(xi, 'data', xi)")]},
        ["test_neuron", "test_layer", "test_mlp", "test_parameters"],
    ),
    "init_from_zero_to_one": (
        {
            "neuron_init": [
                ("Value(random.uniform(-1, 1)) for _ in", "Value(random.random()) for _ in"),
                ("self.b = Value(random.uniform(-1, 1))", "self.b = Value(random.random())"),
            ]
        },
        ["test_neuron_init", "test_init"],
    ),
    "one_weight_repeated": (
        {
            "neuron_init": [
                ("[Value(random.uniform(-1, 1)) for _ in range(nin)]", "[Value(random.uniform(-1, 1))] * nin")
            ]
        },
        ["test_neuron_init", "test_neuron", "test_layer", "test_mlp", "test_parameters"],
    ),
    "zero_grad_misses_a_layer": (
        {"mlp_zero_grad": [("for p in self.parameters():", "for p in self.layers[0].parameters():")]},
        ["test_zero_grad"],
    ),
}

CHEAT_CELL = "neuron_init"
