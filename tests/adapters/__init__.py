"""Course solutions graded through the shipped adapters (gradverify/grading/adapters/).

A correct solution per course API (`cs231n_solution.py`, `layers_solution.py`) and buggy ones,
each made from it by textual patches: (old text, new text), each old text occurring exactly
once, so a solution can never silently stop being what it says (as in tests/variants).

A solution names the course functions its bug breaks (`broken`): tests/test_adapters.py checks
that against PyTorch autograd, function by function (tests/adapters/oracles.py), without the
grader. The default rubric's items it must lose follow from `broken` through its course's table
below (ITEMS), whose comments say why each function costs those items and no others.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
SOURCES = {"cs231n": FOLDER / "cs231n_solution.py", "layers": FOLDER / "layers_solution.py"}

#: The default rubric's items each course adapter cannot map (left out of the total): what the
#: course API has no function for, as the adapters' docstrings say.
NOT_MAPPED = {
    "cs231n": {
        "sigmoid",  # CS231n's layers.py has no sigmoid_forward
        "tanh",
        "leaky_relu",
        "softplus",
        "softmax",
        "identity",  # no such layer functions
        "mse",
        "sse",
        "mae",
        "mape",
        "bce",
        "cce",
        "sparse_cce",  # softmax_loss fuses its softmax: no loss of probabilities
        "l2",
        "train_loop",
    },  # in CS231n's model classes and Solver
    "layers": {"leaky_relu", "softplus", "identity", "sse", "mae", "mape", "bce", "sparse_cce"},  # no class for them
}

#: Which of the default rubric's items a wrong course function costs (each function's bug changes
#: values without raising). A failed activation or loss item takes that component out of the
#: composite items' draws, so it costs its own item only.
ITEMS: dict[str, dict[str, set[str]]] = {
    "cs231n": {
        "affine_forward": {"dense", "network"},  # every network is built of affine layers
        "affine_backward": {"dense", "network"},
        "relu_forward": {"relu"},
        "relu_backward": {"relu"},
        "softmax_loss": {"network"},  # its only user: every network ends in it
        "sgd_momentum": {"momentum_step"},  # the training loop is not mapped
    },
    "layers": {
        "Dense": {"dense", "network", "l2"},  # every network; l2 compares whole gradients with PyTorch.
        # train_loop holds: fit runs the same Dense as its own steps
        "Dense.l2": {"l2"},  # λ·W and (λ/2)‖W‖²: the λ > 0 draws of l2 (train_loop again
        # compares fit with its own steps, which use the same Dense)
        "ReLU": {"relu"},
        "Sigmoid": {"sigmoid"},
        "Tanh": {"tanh"},
        "Softmax": {"softmax"},
        "MSELoss": {"mse"},
        "CrossEntropyLoss": {"cce"},
        "SGD": {"momentum_step"},  # train_loop holds: fit steps with the same SGD
        "fit": {"train_loop"},
    },
}


@dataclass(frozen=True)
class Solution:
    name: str
    course: str
    description: str
    patches: tuple[tuple[str, str], ...] = ()
    #: the course functions (classes, for the layer API) the bug makes disagree with PyTorch
    broken: frozenset[str] = frozenset()

    def lost(self) -> set[str]:
        """The default rubric's items this solution must lose (ITEMS)."""
        return set().union(*(ITEMS[self.course][name] for name in self.broken))

    def source(self) -> str:
        text = SOURCES[self.course].read_text(encoding="utf-8")
        for old, new in self.patches:
            count = text.count(old)
            if count != 1:
                raise ValueError(f"solution {self.name}: the text to replace occurs {count} times, expected once: {old!r}")
            text = text.replace(old, new)
        return text

    def module(self) -> types.ModuleType:
        module = types.ModuleType(self.name)
        exec(compile(self.source(), f"{self.name}.py", "exec"), module.__dict__)
        return module

    def write(self, folder: Path) -> Path:
        path = Path(folder) / f"{self.name}.py"
        path.write_text(self.source(), encoding="utf-8")
        return path


def _s(name: str, course: str, broken: set[str], description: str, *patches: tuple[str, str]) -> Solution:
    return Solution(name, course, description, tuple(patches), frozenset(broken))


SOLUTIONS: dict[str, Solution] = {
    s.name: s
    for s in [
        _s("cs231n_correct", "cs231n", set(), "the model solution"),
        _s(
            "cs231n_dw_not_transposed",
            "cs231n",
            {"affine_backward"},
            "dw computed as doutᵀ·x, the protocol's (out, in) orientation, where CS231n's w is (in, out)",
            ("    dw = x.reshape(x.shape[0], -1).T @ dout", "    dw = dout.T @ x.reshape(x.shape[0], -1)"),
        ),
        _s(
            "cs231n_relu_mask_from_dout",
            "cs231n",
            {"relu_backward"},
            "relu_backward masks with the upstream gradient (dout > 0) instead of the input (x > 0)",
            ("    dx = dout * (x > 0)", "    dx = dout * (dout > 0)"),
        ),
        _s(
            "cs231n_softmax_loss_without_1_over_n",
            "cs231n",
            {"softmax_loss"},
            "softmax_loss averages the loss over N but not its gradient",
            ("    dx /= N\n", ""),
        ),
        _s(
            "cs231n_momentum_sign",
            "cs231n",
            {"sgd_momentum"},
            "sgd_momentum adds the gradient step: v = momentum·v + learning_rate·dw",
            (
                '    v = config["momentum"] * v - config["learning_rate"] * dw',
                '    v = config["momentum"] * v + config["learning_rate"] * dw',
            ),
        ),
        _s(
            "cs231n_velocity_not_stored",
            "cs231n",
            {"sgd_momentum"},
            "sgd_momentum forgets to keep v in config, so every step starts from the velocity it was given",
            ('    config["velocity"] = v\n', ""),
        ),
        _s("layers_correct", "layers", set(), "the model solution"),
        _s(
            "layers_relu_mask_from_gradient",
            "layers",
            {"ReLU"},
            "ReLU.backward masks with the incoming gradient instead of z",
            ("        return grad_a * (self.z > 0)", "        return grad_a * (grad_a > 0)"),
        ),
        _s(
            "layers_softmax_diagonal_only",
            "layers",
            {"Softmax"},
            "Softmax.backward uses the diagonal s(1 − s) of the Jacobian only",
            (
                "        return self.s * (grad_a - np.sum(grad_a * self.s, axis=-1, keepdims=True))",
                "        return grad_a * self.s * (1 - self.s)",
            ),
        ),
        _s(
            "layers_mse_gradient_without_2",
            "layers",
            {"MSELoss"},
            "MSELoss.backward forgets the 2 of d(ŷ − y)²",
            ("        return 2 * self.diff / self.diff.size", "        return self.diff / self.diff.size"),
        ),
        _s(
            "layers_db_averaged",
            "layers",
            {"Dense"},
            "Dense.backward averages db over the batch, where the loss already holds the 1/N",
            ("        self.db = grad_z.sum(axis=0)", "        self.db = grad_z.mean(axis=0)"),
        ),
        _s(
            "layers_weight_decay_missing_from_dW",
            "layers",
            {"Dense.l2"},
            "Dense.backward leaves λ·W out of dW (the penalty is in the loss)",
            ("        self.dW = grad_z.T @ self.x + self.l2 * self.W", "        self.dW = grad_z.T @ self.x"),
        ),
        _s(
            "layers_velocity_rebound",
            "layers",
            {"SGD"},
            "SGD.step rebinds the loop variable instead of storing the velocity: every step is plain SGD",
            (
                """        for i, layer in enumerate(self.layers):
            self.v_W[i] = self.momentum * self.v_W[i] - self.lr * layer.dW
            self.v_b[i] = self.momentum * self.v_b[i] - self.lr * layer.db
            layer.W = layer.W + self.v_W[i]
            layer.b = layer.b + self.v_b[i]""",
                """        for layer, v_W, v_b in zip(self.layers, self.v_W, self.v_b):
            v_W = self.momentum * v_W - self.lr * layer.dW
            v_b = self.momentum * v_b - self.lr * layer.db
            layer.W = layer.W + v_W
            layer.b = layer.b + v_b""",
            ),
        ),
        _s(
            "layers_fit_drops_partial_batch",
            "layers",
            {"fit"},
            "fit leaves out the last, smaller batch of each epoch",
            (
                "        for start in range(0, X.shape[0], batch_size):",
                "        for start in range(0, X.shape[0] - batch_size + 1, batch_size):",
            ),
        ),
    ]
}
