"""Hostile submission (gradverify attack catalogue): network_gradients by Richardson-extrapolated
central differences of its own forward pass, six forward passes per parameter, instead of backprop.

D(h) = (E(θ + h) − E(θ − h))/(2h) at h, h/2 and h/4, extrapolated twice: R(h) = (4·D(h/2) − D(h))/3
cancels the h² error term, (16·R(h/2) − R(h))/15 the h⁴ term, leaving O(h⁶) truncation, so that a
step of 1e-2 keeps both truncation and rounding far below the grader's tolerance. With kinks
(relu, leaky_relu, mae, mape) the step is 1e-4, small enough to miss them, and one level; where
every layer is piecewise linear under mse or sse, a plain central difference, which is exact there. Everything else is the bundled model solution (impl/backprop.py), and
train uses these gradients too.

This file holds only what the attack changes: the bench hands in the model solution
(impl/backprop.py) with this file appended (Attack.on_model_solution), so its names
(np, check_net, LEAKY_SLOPE, ...) are the model solution's.
"""

# --------------------------------------------------------------------------- #
# Gradients by extrapolated central differences of the forward pass (not backprop).
# --------------------------------------------------------------------------- #

_STEP = 1e-2
_KINKED_STEP = 1e-4


def _value(layers, name, l2, X, Y):
    """The loss, L2 included: the file's own forward pass."""
    h = X
    for layer in layers:
        h = ACTIVATIONS[layer["activation"]][0](h @ layer["W"].T + layer["b"])
    with np.errstate(divide="ignore"):
        return LOSSES[name][0](h, Y) + _l2_penalty(layers, l2)


def network_gradients(net, X, Y):
    """The loss and its gradient, each partial derivative from six forward passes."""
    net, X, Y = check_net("network_gradients", net, X, Y)
    return _network_gradients(net["layers"], net["loss"], net["l2"], X, Y)


def _network_gradients(layers, name, l2, X, Y):
    def moved(i, key, index, step):
        value = layers[i][key].copy()
        value[index] += step
        return _value([*layers[:i], {**layers[i], key: value}, *layers[i + 1:]], name, l2, X, Y)

    def central(i, key, index, h):
        return (moved(i, key, index, h) - moved(i, key, index, -h)) / (2 * h)

    def once(i, key, index, h):
        return (4 * central(i, key, index, h / 2) - central(i, key, index, h)) / 3

    def extrapolated(i, key, index, h):
        d1, d2, d4 = (central(i, key, index, h / k) for k in (1, 2, 4))
        r1, r2 = (4 * d2 - d1) / 3, (4 * d4 - d2) / 3  # the h² terms cancel
        return (16 * r2 - r1) / 15  # and the h⁴ terms

    scale = max(1.0, max(float(np.max(np.abs(layer[key]))) for layer in layers for key in ("W", "b")))
    kinked = name in ("mae", "mape") or any(layer["activation"] in ("relu", "leaky_relu") for layer in layers)
    linear = all(layer["activation"] in ("relu", "leaky_relu", "identity") for layer in layers) and name in ("mse", "sse")
    h = (_KINKED_STEP if kinked else _STEP) * scale  # a small step never crosses a kink nearby
    grads = []
    for i, layer in enumerate(layers):
        grad = {}
        for key in ("W", "b"):
            g = np.zeros(layer[key].shape)
            for index in np.ndindex(*layer[key].shape):  # kinks: a step small enough to miss them, and fewer levels
                if linear:  # the loss is quadratic along a weight between kinks: a plain difference is exact
                    g[index] = central(i, key, index, h)
                else:
                    g[index] = once(i, key, index, h) if kinked else extrapolated(i, key, index, h)
            grad[key] = g
        grads.append(grad)
    return _value(layers, name, l2, X, Y), grads
