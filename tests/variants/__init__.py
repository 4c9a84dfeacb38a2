"""Copies of the bundled impl with one deliberate change each, made from textual patches
(tests/variants/variant.py): the bugs, the correct-but-different, partial and restricted
implementations; the bugs whose hint must hold on the failing case's siblings are in
tests/variants/siblings.py, and part of BUGGY here.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.variants.siblings import SIBLINGS
from tests.variants.variant import IMPL_SOURCE, Variant, _v

__all__ = ["BUGGY", "CORRECT", "IMPL_SOURCE", "PARTIAL", "RESTRICTED", "SIGMOID_DERIVATIVE_FROM_Z", "Variant", "_v"]

#: network_gradients through the public dense_backward, as most students write it (the bundled
#: impl computes each layer's gradients inline)
_NETWORK_THROUGH_DENSE = (
    '        grads[i] = {"W": grad_z.T @ xs[i] + l2 * layer["W"], "b": grad_z.sum(axis=0)}\n        grad_a = grad_z @ layer["W"]\n',
    '        grad_a, grad_W, grad_b = dense_backward(xs[i], layer["W"], grad_z)\n'
    '        grads[i] = {"W": grad_W + l2 * layer["W"], "b": grad_b}\n',
)
_DENSE_TRANSPOSED = (
    "    return grad_z @ W, grad_z.T @ x, grad_z.sum(axis=0)",
    "    return grad_z @ W, x.T @ grad_z, grad_z.sum(axis=0)",
)


#: Realistic backprop mistakes, each a one-place change of impl, with the rubric item it breaks.
BUGGY: dict[str, Variant] = {
    v.name: v
    for v in [
        _v(
            "sigmoid_derivative_from_z",
            "sigmoid",
            "σ'(z) computed from z instead of σ(z): z·(1 − z)",
            ("    s = _sigmoid(z)\n    return grad_a * s * (1.0 - s)", "    return grad_a * z * (1.0 - z)"),
            hint="derivative_from_output",
        ),
        _v(
            "tanh_derivative_from_z",
            "tanh",
            "tanh'(z) computed as 1 − z²",
            ("    t = np.tanh(z)\n    return grad_a * (1.0 - t * t)", "    return grad_a * (1.0 - z * z)"),
            hint="derivative_from_output",
        ),
        _v(
            "relu_derivative_without_mask",
            "relu",
            "relu' passes the gradient through everywhere",
            ("    return np.where(z > 0, grad_a, 0.0)", "    return grad_a.copy()"),
        ),
        _v(
            "leaky_relu_slope_in_backward",
            "leaky_relu",
            "leaky_relu' uses slope 0.1 for z < 0",
            ("    return np.where(z > 0, grad_a, LEAKY_SLOPE * grad_a)", "    return np.where(z > 0, grad_a, 0.1 * grad_a)"),
            hint="leaky_slope",
        ),
        _v(
            "softplus_derivative_sigma_of_minus_z",
            "softplus",
            "softplus'(z) taken as σ(−z)",
            ("    return grad_a * _sigmoid(z)\n", "    return grad_a * _sigmoid(-z)\n"),
        ),
        _v(
            "softmax_diagonal_jacobian",
            "softmax",
            "softmax VJP uses only the diagonal s(1 − s) of the Jacobian",
            ("    return s * (grad_a - np.sum(grad_a * s, axis=-1, keepdims=True))", "    return grad_a * s * (1.0 - s)"),
            hint="softmax_diagonal",
        ),
        _v(
            "mse_gradient_over_n_only",
            "mse",
            "mse gradient divides by N instead of N·K",
            ("    return 2.0 * (p - y) / p.size", "    return 2.0 * (p - y) / p.shape[0]"),
            hint="output_mean",
        ),
        _v(
            "sse_without_half",
            "sse",
            "SSE without the ½, in the loss and consistently in its gradient",
            ("    return float(0.5 * np.sum((p - y) ** 2) / p.shape[0])", "    return float(np.sum((p - y) ** 2) / p.shape[0])"),
            ("    return (p - y) / p.shape[0]", "    return 2.0 * (p - y) / p.shape[0]"),
            hint="half",
        ),
        _v(
            "mae_gradient_sign_flipped",
            "mae",
            "mae gradient uses sign(y − ŷ)",
            ("    return np.sign(p - y) / p.size", "    return np.sign(y - p) / p.size"),
            hint="sign",
        ),
        _v(
            "mape_gradient_without_100",
            "mape",
            "mape gradient forgets the factor 100",
            ("    return 100.0 * np.sign(p - y) / (np.abs(y) * p.size)", "    return np.sign(p - y) / (np.abs(y) * p.size)"),
            hint="percentage",
        ),
        _v(
            "bce_gradient_sign_flipped",
            "bce",
            "bce gradient has the wrong sign",
            (
                "        return -(_div(y, p) - _div(1.0 - y, 1.0 - p)) / p.size",
                "        return (_div(y, p) - _div(1.0 - y, 1.0 - p)) / p.size",
            ),
            hint="sign",
        ),
        _v(
            "cce_gradient_not_averaged",
            "cce",
            "cce gradient not divided by N",
            ("    return -_div(y, p) / p.shape[0]", "    return -_div(y, p)"),
            hint="batch_mean",
        ),
        _v(
            "sparse_cce_mean_over_all_entries",
            "sparse_cce",
            "sparse_cce averaged over N·K entries instead of N samples",
            (
                "        return float(-np.sum(np.log(picked)) / p.shape[0])",
                "        return float(-np.sum(np.log(picked)) / p.size)",
            ),
            (
                "        grad[rows, labels] = -1.0 / (p.shape[0] * p[rows, labels])",
                "        grad[rows, labels] = -1.0 / (p.size * p[rows, labels])",
            ),
            hint="output_mean",
        ),
        _v(
            "dense_weight_gradient_transposed",
            "dense",
            "dense_backward returns x.T @ grad_z, of shape (in, out) (network_gradients does not call it)",
            _DENSE_TRANSPOSED,
            hint="transposed",
        ),
        _v(
            "dense_transposed_in_every_network",
            "dense",
            "dense_backward returns x.T @ grad_z, and network_gradients computes every layer with it: "
            "no network is left to check without it",
            _NETWORK_THROUGH_DENSE,
            _DENSE_TRANSPOSED,
            through_network=True,
            hint="transposed",
            elsewhere=(("network", "backward_pass"),),
        ),
        _v(
            "network_bias_gradient_mean",
            "network",
            "network_gradients averages the bias gradient over the batch (the loss already did)",
            ('"b": grad_z.sum(axis=0)}', '"b": grad_z.mean(axis=0)}'),
            hint="backward_pass",
        ),
        _v(
            "l2_penalty_without_half",
            "l2",
            "the L2 penalty is λ·Σ‖W‖² while its gradient is λ·W",
            (
                '    return 0.5 * l2 * sum(float(np.sum(layer["W"] ** 2)) for layer in layers)',
                '    return l2 * sum(float(np.sum(layer["W"] ** 2)) for layer in layers)',
            ),
            hint="l2_half",
        ),
        _v(
            "momentum_with_dampening",
            "momentum_step",
            "Δw = α·Δw − η·(1 − α)·∂E/∂w (torch's dampening = α)",
            (
                "            delta[key] = -lr * g[key] + momentum * previous",
                "            delta[key] = -lr * (1.0 - momentum) * g[key] + momentum * previous",
            ),
            hint="dampening",
        ),
        _v(
            "momentum_subtracts_previous_step",
            "momentum_step",
            "Δw(n) = −η·g(n) − α·Δw(n−1)",
            (
                "            delta[key] = -lr * g[key] + momentum * previous",
                "            delta[key] = -lr * g[key] - momentum * previous",
            ),
        ),
        _v(
            "momentum_returns_object_arrays",
            "momentum_step",
            "sgd_momentum_step returns its new weights and velocity as arrays of dtype object, as tinynn's "
            "np.array([...], dtype=object) (right values, not numbers the protocol can take)",
            (
                '        new_params.append({**p, "W": p["W"] + delta["W"], "b": p["b"] + delta["b"]})\n        new_velocity.append(delta)',
                '        new_params.append({**p, "W": np.array(p["W"] + delta["W"], dtype=object), "b": np.array(p["b"] + delta["b"], dtype=object)})\n'
                "        new_velocity.append({key: np.array(value, dtype=object) for key, value in delta.items()})",
            ),
            also=("train_loop",),  # train returns what its steps return
        ),
        _v(
            "train_drops_last_partial_batch",
            "train_loop",
            "train skips the last batch when it is smaller than batch_size",
            (
                "        for rows in batches(X.shape[0], batch_size):",
                "        for rows in batches(X.shape[0] - X.shape[0] % batch_size, batch_size):",
            ),
        ),
        # Bugs that show only on some architectures, batch shapes, labels or hyperparameters.
        _v(
            "network_derivative_at_activation_value",
            "network",
            "network_gradients evaluates φ' at φ(z) instead of z (invisible for identity, relu, leaky_relu)",
            (
                '        grad_z = ACTIVATIONS[layer["activation"]][1](zs[i], grad_a)',
                '        grad_z = ACTIVATIONS[layer["activation"]][1](ACTIVATIONS[layer["activation"]][0](zs[i]), grad_a)',
            ),
            hint="backward_pass",
        ),
        _v(
            "network_hidden_layers_skip_derivative",
            "network",
            "hidden layers pass the error back without φ'(z) (only networks of two or more layers)",
            (
                '        grad_z = ACTIVATIONS[layer["activation"]][1](zs[i], grad_a)',
                '        grad_z = ACTIVATIONS[layer["activation"]][1](zs[i], grad_a) if i == len(layers) - 1 else grad_a',
            ),
            hint="backward_pass",
        ),
        _v(
            "l2_gradient_on_biases",
            "l2",
            "the L2 gradient λ·b is added to the bias gradients too (only when λ > 0)",
            ('"b": grad_z.sum(axis=0)}', '"b": grad_z.sum(axis=0) + l2 * layer["b"]}'),
            hint="l2_on_biases",
        ),
        _v(
            "momentum_first_step_doubles",
            "momentum_step",
            "the first step takes Δw(0) = −η·g instead of 0 (only with momentum > 0)",
            (
                "            previous = velocity[i][key] if velocity is not None else np.zeros_like(p[key])",
                "            previous = velocity[i][key] if velocity is not None else -lr * g[key]",
            ),
        ),
        _v(
            "momentum_returns_torch_buffer",
            "momentum_step",
            "the returned velocity is torch's buffer −Δw/η, not Δw",
            ("        new_velocity.append(delta)", "        new_velocity.append({k: -v / lr for k, v in delta.items()})"),
        ),
        _v(
            "train_sums_sample_gradients",
            "train_loop",
            "train sums the gradients of the samples of a batch instead of averaging them (only batches of 2+)",
            (
                '            value, grads = _network_gradients(layers, net["loss"], net["l2"], X[rows], Y[rows])\n',
                '            value, _ = _network_gradients(layers, net["loss"], net["l2"], X[rows], Y[rows])\n'
                '            per_sample = [_network_gradients(layers, net["loss"], net["l2"], X[rows][n : n + 1], Y[rows][n : n + 1])[1] for n in range(len(X[rows]))]\n'
                '            grads = [{key: sum(g[i][key] for g in per_sample) for key in ("W", "b")} for i in range(len(layers))]\n',
            ),
        ),
        _v(
            "train_resets_velocity_each_epoch",
            "train_loop",
            "the velocity starts again from zero every epoch (only with momentum > 0 and 2+ epochs)",
            (
                "    for _ in range(epochs):\n        for rows in batches",
                "    for _ in range(epochs):\n        velocity = None\n        for rows in batches",
            ),
        ),
        _v(
            "softmax_backward_sums_over_batch",
            "softmax",
            "the softmax VJP sums g·s over the batch axis (only batches of 2+)",
            (
                "    return s * (grad_a - np.sum(grad_a * s, axis=-1, keepdims=True))",
                "    return s * (grad_a - np.sum(grad_a * s, axis=0, keepdims=True))",
            ),
        ),
        _v(
            "leaky_relu_forward_slope",
            "leaky_relu",
            "leaky_relu's forward pass uses slope 0.1",
            ("    return np.where(z > 0, z, LEAKY_SLOPE * z)", "    return np.where(z > 0, z, 0.1 * z)"),
            hint="leaky_slope",
        ),
        _v(
            "mape_relative_to_prediction",
            "mape",
            "mape divides by |ŷ| instead of |y| in the loss",
            (
                "    return float(100.0 * np.mean(np.abs(p - y) / np.abs(y)))",
                "    return float(100.0 * np.mean(np.abs(p - y) / np.abs(p)))",
            ),
        ),
        _v(
            "cce_assumes_one_hot",
            "cce",
            "cce takes the argmax of the targets (only soft labels differ)",
            (
                "    return float(-np.sum(_xlogy(y, p)) / p.shape[0])",
                "    return float(-np.sum(np.log(p[np.arange(p.shape[0]), y.argmax(axis=1)])) / p.shape[0])",
            ),
        ),
        _v(
            "dense_bias_gradient_mean",
            "dense",
            "dense_backward averages the bias gradient (only batches of 2+): 1/N, which at N = 2 looks like a ½",
            (
                "    return grad_z @ W, grad_z.T @ x, grad_z.sum(axis=0)",
                "    return grad_z @ W, grad_z.T @ x, grad_z.mean(axis=0)",
            ),
            hint="batch_mean",
        ),
        _v(
            "bce_gradient_missing_negative_class",
            "bce",
            "the bce gradient drops the (1 − y)/(1 − ŷ) term",
            ("        return -(_div(y, p) - _div(1.0 - y, 1.0 - p)) / p.size", "        return -_div(y, p) / p.size"),
            hint="not_derivative",
        ),
        _v(
            "sse_gradient_is_the_error_signal",
            "sse",
            "the sse gradient returns e/N = (y − ŷ)/N, the error signal, instead of −e/N",
            ("    return (p - y) / p.shape[0]", "    return (y - p) / p.shape[0]"),
            hint="sign",
        ),
        _v(
            "mse_halved",
            "mse",
            "mse is taken as ½·mean(e²), consistently in the loss and its gradient",
            ("    return float(np.mean((p - y) ** 2))", "    return float(0.5 * np.mean((p - y) ** 2))"),
            ("    return 2.0 * (p - y) / p.size", "    return (p - y) / p.size"),
            hint="half",
        ),
        _v(
            "softmax_without_max_shift",
            "softmax",
            "softmax as e^z / Σ e^z without subtracting the row max (overflows for z > 709)",
            (
                "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n    return e / e.sum(axis=-1, keepdims=True)",
                "    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)",
            ),
        ),
        _v(
            "softplus_naive",
            "softplus",
            "softplus as log(1 + e^z), which overflows to inf for z > 709",
            ("    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))", "    return np.log1p(np.exp(z))"),
        ),
        _v(
            "relu_backward_from_output_gradient",
            "relu",
            "relu' masks by the sign of grad_a instead of z",
            ("    return np.where(z > 0, grad_a, 0.0)", "    return np.where(grad_a > 0, grad_a, 0.0)"),
        ),
        # Causes the hints must name (gradverify.diagnoses.Diagnosis), each consistent in the loss and its gradient.
        _v(
            "sigmoid_backward_without_grad_a",
            "sigmoid",
            "activation_backward returns σ'(z) itself, not grad_a·σ'(z)",
            ("    s = _sigmoid(z)\n    return grad_a * s * (1.0 - s)", "    s = _sigmoid(z)\n    return s * (1.0 - s)"),
            hint="vjp_without_grad_a",
        ),
        _v(
            "leaky_relu_slope_keras",
            "leaky_relu",
            "leaky_relu with slope 0.2 for z < 0, consistently in both passes",
            ("LEAKY_SLOPE = 0.01", "LEAKY_SLOPE = 0.2"),
            hint="leaky_slope",
        ),
        _v(
            "l2_divided_by_batch",
            "l2",
            "the L2 term (λ/2N)·Σ‖W‖² and its gradient λ·W/N, as when λ/N is added per sample",
            ("value_fn(y_pred, Y) + _l2_penalty(layers, l2)", "value_fn(y_pred, Y) + _l2_penalty(layers, l2) / X.shape[0]"),
            ('"W": grad_z.T @ xs[i] + l2 * layer["W"]', '"W": grad_z.T @ xs[i] + l2 * layer["W"] / X.shape[0]'),
            hint="l2_over_n",
        ),
        _v(
            "mse_summed_over_batch",
            "mse",
            "mse summed over the samples (mean over the outputs only), in the loss and its gradient",
            ("    return float(np.mean((p - y) ** 2))", "    return float(np.sum(np.mean((p - y) ** 2, axis=1)))"),
            ("    return 2.0 * (p - y) / p.size", "    return 2.0 * (p - y) / p.shape[1]"),
            hint="batch_mean",
        ),
        _v(
            "bce_summed_over_outputs_without_gradient",
            "bce",
            "bce summed over the outputs (mean over the samples only), and no loss_backward('bce') of its own "
            "(it raises NotImplementedError): the value that exists is wrong, so bce is wrong, not missing",
            (
                "    return float(-np.mean(_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p)))",
                "    return float(-np.mean(np.sum(_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p), axis=1)))",
            ),
            (
                "    return LOSSES[name][1](y_pred, y_true)\n",
                '    if name == "bce":\n'
                '        raise NotImplementedError("no gradient for bce yet")\n'
                "    return LOSSES[name][1](y_pred, y_true)\n",
            ),
        ),
        _v(
            "mse_summed_over_outputs",
            "mse",
            "mse summed over the outputs (mean over the samples only), in the loss and its gradient",
            ("    return float(np.mean((p - y) ** 2))", "    return float(np.mean(np.sum((p - y) ** 2, axis=1)))"),
            ("    return 2.0 * (p - y) / p.size", "    return 2.0 * (p - y) / p.shape[0]"),
            hint="output_mean",
        ),
        _v(
            "bce_without_negative_class",
            "bce",
            "bce drops the (1 − y)·log(1 − ŷ) term, consistently in the loss and its gradient",
            ("    return float(-np.mean(_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p)))", "    return float(-np.mean(_xlogy(y, p)))"),
            ("        return -(_div(y, p) - _div(1.0 - y, 1.0 - p)) / p.size", "        return -_div(y, p) / p.size"),
            hint="own_loss",
        ),
        _v(
            "cce_backward_as_bce",
            "cce",
            "cce's loss is right, its gradient is elementwise binary cross-entropy's: −(y/ŷ − (1 − y)/(1 − ŷ))/N",
            ("    return -_div(y, p) / p.shape[0]", "    return -(_div(y, p) - _div(1.0 - y, 1.0 - p)) / p.shape[0]"),
            hint="not_derivative",
        ),
        *SIBLINGS,
    ]
}

#: Implementations that are right in another way: the suite must not flag any of them.
CORRECT: dict[str, Variant] = {
    v.name: v
    for v in [
        _v(
            "sigmoid_via_tanh",
            None,
            "σ(z) = ½·(1 + tanh(z/2))",
            (
                "    e = np.exp(-np.abs(z))\n    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
                "    return 0.5 * (1.0 + np.tanh(0.5 * z))",
            ),
        ),
        _v(
            "sigmoid_naive",
            None,
            "σ(z) = 1/(1 + e^{−z}): e^{−z} overflows to inf for z < −709, but 1/inf = 0 is still right",
            (
                "    e = np.exp(-np.abs(z))\n    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
                "    return 1.0 / (1.0 + np.exp(-z))",
            ),
        ),
        _v(
            "softmax_via_logsumexp",
            None,
            "softmax as exp(z − logsumexp(z))",
            (
                "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n    return e / e.sum(axis=-1, keepdims=True)",
                "    m = z.max(axis=-1, keepdims=True)\n    return np.exp(z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))",
            ),
        ),
        _v(
            "relu_subgradient_one_at_zero",
            None,
            "relu'(0) = 1, another subgradient",
            ("    return np.where(z > 0, grad_a, 0.0)", "    return np.where(z >= 0, grad_a, 0.0)"),
        ),
        _v(
            "leaky_relu_via_maximum",
            None,
            "leaky_relu as max(z, 0.01·z), with leaky_relu'(0) = 1",
            ("    return np.where(z > 0, z, LEAKY_SLOPE * z)", "    return np.maximum(z, LEAKY_SLOPE * z)"),
            (
                "    return np.where(z > 0, grad_a, LEAKY_SLOPE * grad_a)",
                "    return np.where(z >= 0, grad_a, LEAKY_SLOPE * grad_a)",
            ),
        ),
        _v(
            "momentum_from_parameter_difference",
            None,
            "new weights first, then Δw as their difference from the old ones",
            (
                '        new_params.append({**p, "W": p["W"] + delta["W"], "b": p["b"] + delta["b"]})\n        new_velocity.append(delta)',
                '        new = {key: p[key] - lr * g[key] + momentum * (velocity[i][key] if velocity is not None else 0.0) for key in ("W", "b")}\n'
                "        new_params.append({**p, **new})\n"
                '        new_velocity.append({key: new[key] - p[key] for key in ("W", "b")})',
            ),
        ),
        _v(
            "network_through_dense_backward",
            None,
            "network_gradients computes every layer's gradients with dense_backward",
            _NETWORK_THROUGH_DENSE,
        ),
        _v(
            "dense_backward_loops",
            None,
            "dense_backward with a loop over samples",
            (
                "    return grad_z @ W, grad_z.T @ x, grad_z.sum(axis=0)",
                "    grad_W = sum(np.outer(grad_z[n], x[n]) for n in range(x.shape[0]))\n"
                "    grad_b = sum(grad_z[n] for n in range(x.shape[0]))\n"
                "    return np.stack([W.T @ grad_z[n] for n in range(x.shape[0])]), grad_W, grad_b",
            ),
        ),
        _v(
            "network_gradients_loops",
            None,
            "weight and bias gradients summed sample by sample",
            (
                '        grads[i] = {"W": grad_z.T @ xs[i] + l2 * layer["W"], "b": grad_z.sum(axis=0)}',
                '        grads[i] = {"W": sum(np.outer(grad_z[n], xs[i][n]) for n in range(len(X))) + l2 * layer["W"],\n'
                '                    "b": sum(grad_z[n] for n in range(len(X)))}',
            ),
        ),
        _v(
            "train_while_loop",
            None,
            "the batches walked with a while loop",
            (
                "        for rows in batches(X.shape[0], batch_size):",
                "        start = 0\n        while start < X.shape[0]:\n            rows = slice(start, start + batch_size)\n            start += batch_size",
            ),
        ),
        _v(
            "bce_clipped",
            None,
            "bce clips ŷ to [1e-12, 1 − 1e-12] before the logs",
            (
                "    return float(-np.mean(_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p)))",
                "    q = np.clip(p, 1e-12, 1.0 - 1e-12)\n    return float(-np.mean(_xlogy(y, q) + _xlogy(1.0 - y, 1.0 - q)))",
            ),
        ),
        _v(
            "sparse_cce_clipped_like_keras",
            None,
            "sparse_cce clips the picked ŷ to [1e-7, 1 − 1e-7] before the log, as Keras does "
            "(with one class, ŷ = 1 and the clip gave a loss of 1e-7 instead of 0: the softmax losses are drawn with K ≥ 2)",
            (
                "    picked = p[np.arange(p.shape[0]), labels]\n",
                "    picked = np.clip(p[np.arange(p.shape[0]), labels], 1e-7, 1.0 - 1e-7)\n",
            ),
        ),
        _v(
            "bce_clipped_like_keras",
            None,
            "bce and its gradient with ŷ clipped to [1e-7, 1 − 1e-7], as Keras does "
            "(no draw puts ŷ that close to 0 or 1: the protocol accepts clipping at ε ≤ 1e-7)",
            (
                "    return float(-np.mean(_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p)))",
                "    p = np.clip(p, 1e-7, 1.0 - 1e-7)\n    return float(-np.mean(_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p)))",
            ),
            (
                "        return -(_div(y, p) - _div(1.0 - y, 1.0 - p)) / p.size",
                "        q = np.clip(p, 1e-7, 1.0 - 1e-7)\n        return -(_div(y, q) - _div(1.0 - y, 1.0 - q)) / p.size",
            ),
        ),
        _v(
            "cce_clipped_like_keras",
            None,
            "cce and its gradient with ŷ clipped to [1e-7, 1 − 1e-7], as Keras does",
            (
                "    return float(-np.sum(_xlogy(y, p)) / p.shape[0])",
                "    return float(-np.sum(_xlogy(y, np.clip(p, 1e-7, 1.0 - 1e-7))) / p.shape[0])",
            ),
            ("    return -_div(y, p) / p.shape[0]", "    return -_div(y, np.clip(p, 1e-7, 1.0 - 1e-7)) / p.shape[0]"),
        ),
        _v(
            "sse_as_mean_of_row_sums",
            None,
            "sse as the mean over samples of ½·Σ_k e²",
            (
                "    return float(0.5 * np.sum((p - y) ** 2) / p.shape[0])",
                "    return float(np.mean(0.5 * np.sum((p - y) ** 2, axis=1)))",
            ),
        ),
    ]
}

#: The output layer as most classifiers write it: softmax and cross-entropy fused, δ = (ŷ − y)/N at
#: the output, with no softmax VJP and no ∂E/∂ŷ of cross-entropy of their own (they raise
#: NotImplementedError with the author's words). The network itself is right.
_FUSED = (
    (
        "    return ACTIVATIONS[name][1](z, grad_a)\n",
        '    if name == "softmax":\n'
        '        raise NotImplementedError("softmax is fused with cross-entropy in network_gradients")\n'
        "    return ACTIVATIONS[name][1](z, grad_a)\n",
    ),
    (
        "    return LOSSES[name][1](y_pred, y_true)\n",
        '    if name in ("cce", "sparse_cce"):\n'
        '        raise NotImplementedError("cross-entropy is fused with softmax in network_gradients")\n'
        "    return LOSSES[name][1](y_pred, y_true)\n",
    ),
    (
        "    grad_a = grad_fn(y_pred, Y)\n    for i in reversed(range(len(layers))):\n        layer = layers[i]\n"
        '        grad_z = ACTIVATIONS[layer["activation"]][1](zs[i], grad_a)\n',
        '    fused = name in ("cce", "sparse_cce")  # the output is softmax: δ = (ŷ − y)/N\n'
        "    grad_a = None if fused else grad_fn(y_pred, Y)\n    for i in reversed(range(len(layers))):\n        layer = layers[i]\n"
        "        if fused and i == len(layers) - 1:\n"
        '            target = np.eye(y_pred.shape[1])[Y] if name == "sparse_cce" else Y\n'
        "            grad_z = (y_pred - target) / X.shape[0]\n"
        "        else:\n"
        '            if layer["activation"] == "softmax":\n'
        '                raise NotImplementedError("softmax is fused with cross-entropy: only as the output under cce")\n'
        '            grad_z = ACTIVATIONS[layer["activation"]][1](zs[i], grad_a)\n',
    ),
)


@dataclass(frozen=True)
class Partial:
    """A variant that implements part of the protocol (what it leaves out raises NotImplementedError):
    `missing` are the default rubric's items it must get "not implemented" for, `wrong` those it
    must fail (its bugs); every other item must pass."""

    variant: Variant
    missing: tuple[str, ...]
    wrong: tuple[str, ...] = ()


#: Partial, fused and other-convention implementations, with the verdict each rubric item must get.
PARTIAL: dict[str, Partial] = {
    p.variant.name: p
    for p in [
        Partial(
            _v(
                "fused_softmax_cce",
                None,
                "softmax and cross-entropy fused in network_gradients (δ = (ŷ − y)/N at the "
                "output); no standalone softmax VJP or cross-entropy gradient",
                *_FUSED,
            ),
            missing=("softmax", "cce", "sparse_cce"),
        ),
        Partial(
            _v(
                "fused_softmax_cce_times_n",
                "network",
                "the fused output layer without the 1/N: gradients N times too large",
                *_FUSED[:2],
                (_FUSED[2][0], _FUSED[2][1].replace("(y_pred - target) / X.shape[0]", "(y_pred - target)")),
                hint="batch_mean",
            ),
            missing=("softmax", "cce", "sparse_cce"),
            wrong=("network", "l2"),
        ),
    ]
}

_NETWORK_START = '    """network_gradients on validated input."""\n    xs, zs = _forward(layers, X)\n'


@dataclass(frozen=True)
class Restricted:
    """Correct code whose networks (network_gradients, and train through it) are part of the
    protocol's only: a fixed depth, or one output unit; a network outside raises `refusal`
    (NotImplementedError, or an AssertionError from an assert on the depth). What it refuses is outside its domain, not missing: every item passes
    but those in `partial`, which earn the share of their domain it covers (the loss and output
    pairs it cannot have) and score more than 0. `inside` is a network it takes: (sizes,
    activations, loss)."""

    variant: Variant
    inside: tuple[tuple[int, ...], tuple[str, ...], str]
    partial: tuple[str, ...] = ()
    #: what it raises on a network outside its domain
    refusal: type[Exception] = NotImplementedError


#: Correct code of a restricted domain, with the items that must earn only part of their points.
RESTRICTED: dict[str, Restricted] = {
    r.variant.name: r
    for r in [
        Restricted(
            _v(
                "fixed_depth_two_layers",
                None,
                "networks of exactly two layers (one hidden layer), as a textbook two-layer MLP; other "
                "depths raise NotImplementedError",
                (
                    _NETWORK_START,
                    '    """network_gradients on validated input."""\n'
                    "    if len(layers) != 2:\n"
                    '        raise NotImplementedError("this network has exactly two layers")\n'
                    "    xs, zs = _forward(layers, X)\n",
                ),
            ),
            inside=((3, 4, 2), ("relu", "sigmoid"), "bce"),
        ),
        Restricted(
            _v(
                "one_output_unit",
                None,
                "networks of one output unit (a binary classifier or a scalar regression); more outputs "
                "raise NotImplementedError",
                (
                    _NETWORK_START,
                    '    """network_gradients on validated input."""\n'
                    "    if Y.ndim != 2 or Y.shape[1] != 1:\n"
                    '        raise NotImplementedError("one output unit only")\n'
                    "    xs, zs = _forward(layers, X)\n",
                ),
            ),
            inside=((3, 4, 1), ("relu", "sigmoid"), "bce"),
            partial=("network", "l2", "train_loop"),
        ),
        Restricted(
            _v(
                "fixed_depth_asserted",
                None,
                "networks of exactly two layers, the depth asserted (an AssertionError for another depth) "
                "instead of NotImplementedError, as student code often does",
                (
                    _NETWORK_START,
                    '    """network_gradients on validated input."""\n'
                    '    assert len(layers) == 2, "this network has exactly two layers"\n'
                    "    xs, zs = _forward(layers, X)\n",
                ),
            ),
            inside=((3, 4, 2), ("relu", "sigmoid"), "bce"),
            refusal=AssertionError,
        ),
    ]
}

SIGMOID_DERIVATIVE_FROM_Z = BUGGY["sigmoid_derivative_from_z"]
