"""Bugs whose hint must hold on the failing case's siblings (gradverify.hints._probes), or not be
given: right, or a constant multiple of right, on the shrunk case only (a case of one entry makes
any wrong number a constant multiple of the right one), and true constant factors that must
still be named. Part of tests.variants.BUGGY."""

from __future__ import annotations

from tests.variants.variant import _v

_SIGMOID_BACKWARD = "    s = _sigmoid(z)\n    return grad_a * s * (1.0 - s)"
_MOMENTUM = (
    "            previous = velocity[i][key] if velocity is not None else np.zeros_like(p[key])\n"
    "            delta[key] = -lr * g[key] + momentum * previous"
)

SIBLINGS = [
    _v(
        "cce_as_elementwise_bce",
        "cce",
        "cce written as elementwise binary cross-entropy, the mean over N·K in the loss and over N in the gradient: "
        "the value is right at K = 2 only, the gradient never the loss's derivative",
        (
            "    return float(-np.sum(_xlogy(y, p)) / p.shape[0])",
            "    return float(-np.mean(_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p)))",
        ),
        ("    return -_div(y, p) / p.shape[0]", "    return -(_div(y, p) - _div(1.0 - y, 1.0 - p)) / p.shape[0]"),
    ),
    _v(
        "sigmoid_derivative_branch_sign",
        "sigmoid",
        "σ'(z) per branch of the stable sigmoid as e^{−|z|}/(1 + e^{−|z|})², the z ≥ 0 branch without the minus of "
        "d(e^{−z})/dz: −1 × σ'(z) for z ≥ 0 only, which on z of shape (1, 1) looks like a flipped sign",
        (_SIGMOID_BACKWARD, "    e = np.exp(-np.abs(z))\n    return grad_a * np.where(z >= 0, -1.0, 1.0) * e / (1.0 + e) ** 2"),
    ),
    _v(
        "tanh_derivative_doubled",
        "tanh",
        "tanh'(z) taken as 2·(1 − tanh²(z)): a true constant factor, on every shape",
        ("    t = np.tanh(z)\n    return grad_a * (1.0 - t * t)", "    t = np.tanh(z)\n    return 2.0 * grad_a * (1.0 - t * t)"),
        hint="half",
    ),
    _v(
        "momentum_velocity_as_positive_step",
        "momentum_step",
        "the velocity kept as the positive step v = α·v + η·g (w −= v) and returned as it is: −Δw on every step, "
        "a true constant factor",
        (_MOMENTUM, _MOMENTUM.replace("previous = velocity[i][key]", "previous = -velocity[i][key]")),
        ("        new_velocity.append(delta)", "        new_velocity.append({k: -v for k, v in delta.items()})"),
        hint="sign",
    ),
    _v(
        "momentum_returns_carried_term",
        "momentum_step",
        "the velocity returned is α·Δw(n), the term the next step adds (which adds it as it is): α × Δw, a ½ at α = ½ only",
        (_MOMENTUM, _MOMENTUM.replace("momentum * previous", "previous")),
        ("        new_velocity.append(delta)", "        new_velocity.append({k: momentum * v for k, v in delta.items()})"),
    ),
    _v(
        "network_without_biases",
        "network",
        "a network without biases: z = x·Wᵀ in the forward pass, bias gradients zero (the derivatives of that loss)",
        ('        z = h @ layer["W"].T + layer["b"]', '        z = h @ layer["W"].T'),
        ('"b": grad_z.sum(axis=0)}', '"b": np.zeros_like(layer["b"])}'),
        hint="forward_pass",
    ),
]
