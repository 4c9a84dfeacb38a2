"""Hostile submission (gradverify attack catalogue): network_gradients by complex-step differentiation
of its own forward pass, one complex forward pass per parameter, instead of backprop.

∂E/∂θ = Im E(θ + i·h) / h with h = 1e-200: no subtractive cancellation, exact to rounding, so it
matches the references as backprop does; it costs one forward pass per parameter. Everything
else is the bundled model solution (impl/backprop.py), and train uses these gradients too.

This file holds only what the attack changes: the bench hands in the model solution
(impl/backprop.py) with this file appended (Attack.on_model_solution), so its names
(np, check_net, LEAKY_SLOPE, ...) are the model solution's.
"""

# --------------------------------------------------------------------------- #
# Gradients by complex-step differentiation of the forward pass (not backprop).
# --------------------------------------------------------------------------- #

_STEP = 1e-200

_COMPLEX_ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.where(z.real > 0, z, 0.0),
    "leaky_relu": lambda z: np.where(z.real > 0, z, LEAKY_SLOPE * z),
    "softplus": lambda z: np.log(1.0 + np.exp(z)),
    "softmax": lambda z: (lambda e: e / e.sum(axis=-1, keepdims=True))(np.exp(z - z.real.max(axis=-1, keepdims=True))),
}


def _complex_loss(name, p, y):
    """The loss of complex predictions, analytic in ŷ wherever the real loss is differentiable."""
    if name == "mse":
        return np.mean((p - y) ** 2)
    if name == "sse":
        return 0.5 * np.sum((p - y) ** 2) / p.shape[0]
    if name == "mae":
        return np.mean(np.sign((p - y).real) * (p - y))
    if name == "mape":
        return 100.0 * np.mean(np.sign((p - y).real) * (p - y) / np.abs(y))
    if name == "bce":
        return -np.mean(np.where(y == 0, 0, y * np.log(p)) + np.where(y == 1, 0, (1 - y) * np.log(1 - p)))
    if name == "cce":
        return -np.sum(np.where(y == 0, 0, y * np.log(np.where(y == 0, 1, p)))) / p.shape[0]
    return -np.sum(np.log(p[np.arange(p.shape[0]), y])) / p.shape[0]


def _complex_value(layers, name, l2, X, Y):
    """The loss, L2 included, of a network whose parameters may be complex: the forward pass."""
    h = X
    for layer in layers:
        h = _COMPLEX_ACTIVATIONS[layer["activation"]](h @ layer["W"].T + layer["b"])
    return _complex_loss(name, h, Y) + 0.5 * l2 * sum(np.sum(layer["W"] ** 2) for layer in layers)


def network_gradients(net, X, Y):
    """The loss and its gradient, each partial derivative from one complex forward pass."""
    net, X, Y = check_net("network_gradients", net, X, Y)
    return _network_gradients(net["layers"], net["loss"], net["l2"], X, Y)


def _network_gradients(layers, name, l2, X, Y):
    with np.errstate(all="ignore"):
        value = float(_complex_value(layers, name, l2, X, Y).real)
        grads = []
        for i, layer in enumerate(layers):
            grad = {}
            for key in ("W", "b"):
                g = np.zeros(layer[key].shape)
                for index in np.ndindex(*layer[key].shape):
                    moved = layer[key].astype(complex)
                    moved[index] += 1j * _STEP
                    trial = [*layers[:i], {**layer, key: moved}, *layers[i + 1:]]
                    g[index] = _complex_value(trial, name, l2, X, Y).imag / _STEP
                grad[key] = g
            grads.append(grad)
    return value, grads
