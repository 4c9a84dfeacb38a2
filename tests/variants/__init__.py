"""Copies of the bundled impl with one deliberate change each, made from textual patches.

A variant is (claim, [(old text, new text), ...]) applied to impl/backprop.py; each
old text must occur exactly once, so a variant can never silently stop applying.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IMPL_SOURCE = Path(__file__).resolve().parents[2] / "impl" / "backprop.py"


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    patches: tuple[tuple[str, str], ...]
    #: the default rubric's item where the bug lives (None: a correct variant)
    item: str | None = None

    def source(self) -> str:
        text = IMPL_SOURCE.read_text(encoding="utf-8")
        for old, new in self.patches:
            count = text.count(old)
            if count != 1:
                raise ValueError(f"variant {self.name}: the text to replace occurs {count} times, expected once: {old!r}")
            text = text.replace(old, new)
        return text

    def write(self, folder: Path) -> Path:
        path = Path(folder) / f"{self.name}.py"
        path.write_text(self.source(), encoding="utf-8")
        return path


def _v(name: str, item: str | None, description: str, *patches: tuple[str, str]) -> Variant:
    return Variant(name, description, tuple(patches), item)


#: Realistic backprop mistakes, each a one-place change of impl, with the rubric item it breaks.
BUGGY: dict[str, Variant] = {v.name: v for v in [
    _v("sigmoid_derivative_from_z", "sigmoid", "σ'(z) computed from z instead of σ(z): z·(1 − z)",
       ("    s = _sigmoid(z)\n    return grad_a * s * (1.0 - s)", "    return grad_a * z * (1.0 - z)")),
    _v("tanh_derivative_from_z", "tanh", "tanh'(z) computed as 1 − z²",
       ("    t = np.tanh(z)\n    return grad_a * (1.0 - t * t)", "    return grad_a * (1.0 - z * z)")),
    _v("relu_derivative_without_mask", "relu", "relu' passes the gradient through everywhere",
       ("    return np.where(z > 0, grad_a, 0.0)", "    return grad_a.copy()")),
    _v("leaky_relu_slope_in_backward", "leaky_relu", "leaky_relu' uses slope 0.1 for z < 0",
       ("    return np.where(z > 0, grad_a, LEAKY_SLOPE * grad_a)", "    return np.where(z > 0, grad_a, 0.1 * grad_a)")),
    _v("softplus_derivative_sigma_of_minus_z", "softplus", "softplus'(z) taken as σ(−z)",
       ("    return grad_a * _sigmoid(z)\n", "    return grad_a * _sigmoid(-z)\n")),
    _v("softmax_diagonal_jacobian", "softmax", "softmax VJP uses only the diagonal s(1 − s) of the Jacobian",
       ("    return s * (grad_a - np.sum(grad_a * s, axis=-1, keepdims=True))", "    return grad_a * s * (1.0 - s)")),
    _v("mse_gradient_over_n_only", "mse", "mse gradient divides by N instead of N·K",
       ("    return 2.0 * (p - y) / p.size", "    return 2.0 * (p - y) / p.shape[0]")),
    _v("sse_without_half", "sse", "SSE without the ½, in the loss and consistently in its gradient",
       ("    return float(0.5 * np.sum((p - y) ** 2) / p.shape[0])", "    return float(np.sum((p - y) ** 2) / p.shape[0])"),
       ("    return (p - y) / p.shape[0]", "    return 2.0 * (p - y) / p.shape[0]")),
    _v("mae_gradient_sign_flipped", "mae", "mae gradient uses sign(y − ŷ)",
       ("    return np.sign(p - y) / p.size", "    return np.sign(y - p) / p.size")),
    _v("mape_gradient_without_100", "mape", "mape gradient forgets the factor 100",
       ("    return 100.0 * np.sign(p - y) / (np.abs(y) * p.size)", "    return np.sign(p - y) / (np.abs(y) * p.size)")),
    _v("bce_gradient_sign_flipped", "bce", "bce gradient has the wrong sign",
       ("        return -(_div(y, p) - _div(1.0 - y, 1.0 - p)) / p.size", "        return (_div(y, p) - _div(1.0 - y, 1.0 - p)) / p.size")),
    _v("cce_gradient_not_averaged", "cce", "cce gradient not divided by N",
       ("    return -_div(y, p) / p.shape[0]", "    return -_div(y, p)")),
    _v("sparse_cce_mean_over_all_entries", "sparse_cce", "sparse_cce averaged over N·K entries instead of N samples",
       ("        return float(-np.sum(np.log(picked)) / p.shape[0])", "        return float(-np.sum(np.log(picked)) / p.size)"),
       ("        grad[rows, labels] = -1.0 / (p.shape[0] * p[rows, labels])", "        grad[rows, labels] = -1.0 / (p.size * p[rows, labels])")),
    _v("dense_weight_gradient_transposed", "dense", "dense_backward returns x.T @ grad_z, of shape (in, out)",
       ("    return grad_z @ W, grad_z.T @ x, grad_z.sum(axis=0)", "    return grad_z @ W, x.T @ grad_z, grad_z.sum(axis=0)")),
    _v("network_bias_gradient_mean", "network", "network_gradients averages the bias gradient over the batch (the loss already did)",
       ('"b": grad_z.sum(axis=0)}', '"b": grad_z.mean(axis=0)}')),
    _v("l2_penalty_without_half", "l2", "the L2 penalty is λ·Σ‖W‖² while its gradient is λ·W",
       ('    return 0.5 * l2 * sum(float(np.sum(layer["W"] ** 2)) for layer in layers)',
        '    return l2 * sum(float(np.sum(layer["W"] ** 2)) for layer in layers)')),
    _v("momentum_subtracts_previous_step", "momentum_step", "Δw(n) = −η·g(n) − α·Δw(n−1)",
       ("            delta[key] = -lr * g[key] + momentum * previous", "            delta[key] = -lr * g[key] - momentum * previous")),
    _v("train_drops_last_partial_batch", "train_loop", "train skips the last batch when it is smaller than batch_size",
       ("        for rows in batches(X.shape[0], batch_size):", "        for rows in batches(X.shape[0] - X.shape[0] % batch_size, batch_size):")),
]}

SIGMOID_DERIVATIVE_FROM_Z = BUGGY["sigmoid_derivative_from_z"]
