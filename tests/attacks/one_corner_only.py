"""Hostile submission (gradverify attack catalogue): one corner of the domain. network_gradients
and train handle networks of identity layers under mse only and raise NotImplementedError for
every other architecture, hoping that "over random architectures" means the ones it accepts.
Everything else is the bundled model solution (impl/backprop.py). It must earn that corner's share
of the network item (the pair mse × identity and the hidden activation identity), not the whole.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


PROTOCOL_FUNCTIONS = (
    "activation",
    "activation_backward",
    "loss",
    "loss_backward",
    "dense_forward",
    "dense_backward",
    "network_gradients",
    "sgd_momentum_step",
    "train",
)
__all__ = ["ACTIVATIONS", "LOSSES", "PROTOCOL_FUNCTIONS", *PROTOCOL_FUNCTIONS]

LEAKY_SLOPE = 0.01

# --------------------------------------------------------------------------- #
# Input checks. Every public function validates before it computes, so bad
# input ends in a ValueError that says what was expected. The references reuse
# these checks, so every backend rejects the same inputs with the same words.
# --------------------------------------------------------------------------- #


def check_array(where: str, what: str, value: Any, ndim: int) -> np.ndarray:
    """`value` as a finite float64 array of `ndim` dimensions, or ValueError."""
    try:
        if value is None or isinstance(value, (str, bytes, dict)):
            raise TypeError
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: {what} must be an array of numbers, got {type(value).__name__}"
        ) from None
    if arr.ndim != ndim:
        raise ValueError(
            f"{where}: {what} must be {ndim}-D, got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{where}: {what} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {what} must be finite, found NaN or inf")
    return arr


def check_same_shape(where: str, what: str, arr: np.ndarray, shape: tuple) -> None:
    if arr.shape != tuple(shape):
        raise ValueError(f"{where}: {what} must have shape {tuple(shape)}, got {arr.shape}")


def check_name(where: str, kind: str, name: Any, registry: dict) -> str:
    if not isinstance(name, str) or name not in registry:
        raise ValueError(
            f"{where}: unknown {kind} {name!r}; expected one of {sorted(registry)}"
        )
    return name


def check_labels(where: str, y_true: Any, n: int, k: int) -> np.ndarray:
    """Integer class labels of shape (n,) with values in [0, k)."""
    arr = np.asarray(y_true)
    if arr.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: sparse_cce needs integer class labels of shape (N,), got dtype {arr.dtype}"
        )
    if arr.shape != (n,):
        raise ValueError(f"{where}: sparse_cce labels must have shape ({n},), got {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= k):
        raise ValueError(
            f"{where}: sparse_cce labels must lie in [0, {k}), got values in [{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.int64)


def check_loss_inputs(
    where: str, name: Any, y_pred: Any, y_true: Any
) -> tuple[str, np.ndarray, np.ndarray]:
    """Validate a loss call: known name, y_pred (N, K), y_true (N, K) or labels (N,),
    and values inside the loss's domain."""
    name = check_name(where, "loss", name, LOSSES)
    y_pred = check_array(where, "y_pred", y_pred, 2)
    n, k = y_pred.shape
    if name == "sparse_cce":
        y_true = check_labels(where, y_true, n, k)
    else:
        y_true = check_array(where, "y_true", y_true, 2)
        check_same_shape(where, "y_true", y_true, y_pred.shape)
    if name in ("bce", "cce", "sparse_cce") and (y_pred.min() < 0 or y_pred.max() > 1):
        raise ValueError(
            f"{where}: {name} needs probabilities in [0, 1] as y_pred "
            f"(a sigmoid or softmax output), got values in [{y_pred.min():.4g}, {y_pred.max():.4g}]"
        )
    if name in ("bce", "cce") and (y_true.min() < 0 or y_true.max() > 1):
        raise ValueError(
            f"{where}: {name} needs targets in [0, 1], got values in [{y_true.min():.4g}, {y_true.max():.4g}]"
        )
    if name == "mape" and np.any(y_true == 0):
        raise ValueError(f"{where}: mape divides by |y_true|, so targets must be nonzero")
    return name, y_pred, y_true


def check_dense(where: str, x: Any, W: Any) -> tuple[np.ndarray, np.ndarray]:
    x = check_array(where, "x", x, 2)
    W = check_array(where, "W", W, 2)
    if W.shape[1] != x.shape[1]:
        raise ValueError(
            f"{where}: W must have shape (out, in) with in = x.shape[1] = {x.shape[1]}, got {W.shape}"
        )
    return x, W


def check_layers(where: str, layers: Any, n_inputs: int | None = None) -> list[dict]:
    """Layer dicts with W (out, in), b (out,), a known activation, sizes that chain."""
    if not isinstance(layers, (list, tuple)) or len(layers) == 0:
        raise ValueError(f"{where}: layers must be a non-empty list of layer dicts")
    out = []
    fan_in = n_inputs
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not {"W", "b", "activation"} <= set(layer):
            raise ValueError(
                f"{where}: layer {i} must be a dict with keys 'W', 'b' and 'activation'"
            )
        W = check_array(where, f"layer {i} W", layer["W"], 2)
        b = check_array(where, f"layer {i} b", layer["b"], 1)
        check_name(where, f"activation (layer {i})", layer["activation"], ACTIVATIONS)
        if b.shape != (W.shape[0],):
            raise ValueError(
                f"{where}: layer {i} b must have shape ({W.shape[0]},) to match W {W.shape}, got {b.shape}"
            )
        if fan_in is not None and W.shape[1] != fan_in:
            source = "X has" if i == 0 else f"layer {i - 1} has"
            raise ValueError(
                f"{where}: layer sizes don't chain: {source} {fan_in} outputs, "
                f"so layer {i} W must have shape ({W.shape[0]}, {fan_in}), got {W.shape}"
            )
        fan_in = W.shape[0]
        out.append({**layer, "W": W, "b": b})
    return out


def check_net(where: str, net: Any, X: Any, Y: Any) -> tuple[dict, np.ndarray, np.ndarray]:
    """Validate a network call; returns (net with float64 arrays, X, Y)."""
    if not isinstance(net, dict) or not {"layers", "loss"} <= set(net):
        raise ValueError(f"{where}: net must be a dict with keys 'layers', 'loss' and 'l2'")
    X = check_array(where, "X", X, 2)
    layers = check_layers(where, net["layers"], X.shape[1])
    name = check_name(where, "loss", net["loss"], LOSSES)
    l2 = check_scalar(where, "l2", net.get("l2", 0.0), low=0.0)
    out_act = layers[-1]["activation"]
    if name in ("bce", "cce", "sparse_cce") and out_act not in ("sigmoid", "softmax"):
        raise ValueError(
            f"{where}: loss {name!r} needs probabilities, so the output activation "
            f"must be 'sigmoid' or 'softmax', got {out_act!r}"
        )
    n, k = X.shape[0], layers[-1]["W"].shape[0]
    if name == "sparse_cce":
        Y = check_labels(where, Y, n, k)
    else:
        Y = check_array(where, "Y", Y, 2)
        if Y.shape[0] != n:
            raise ValueError(f"{where}: X has {n} samples but Y has {Y.shape[0]}")
        check_same_shape(where, "Y", Y, (n, k))
    return {**net, "layers": layers, "loss": name, "l2": l2}, X, Y


def check_scalar(
    where: str, what: str, value: Any, *, low: float, high: float | None = None, open_low: bool = False
) -> float:
    """A finite real number in [low, high) — (low, high) with open_low; high=None: no upper bound."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{where}: {what} must be a number, got {type(value).__name__}")
    value = float(value)
    below = value <= low if open_low else value < low
    if high is not None:
        bound = f"{'(' if open_low else '['}{low}, {high})"
    else:
        bound = f"{'>' if open_low else '>='} {low}"
    if not np.isfinite(value) or below or (high is not None and value >= high):
        raise ValueError(f"{where}: {what} must be a finite number {bound}, got {value}")
    return value


def check_hyper(where: str, lr: Any, momentum: Any) -> tuple[float, float]:
    """The learning rate η > 0 and the momentum constant 0 ≤ α < 1."""
    lr = check_scalar(where, "lr", lr, low=0.0, open_low=True)
    return lr, check_scalar(where, "momentum", momentum, low=0.0, high=1.0)


def check_count(where: str, what: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{where}: {what} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_step(
    where: str, params: Any, grads: Any, velocity: Any
) -> tuple[list[dict], list[dict], list[dict] | None]:
    """Validate sgd_momentum_step's lists: grads (and velocity) shaped like params."""
    params = check_layers(where, params)
    if not isinstance(grads, (list, tuple)) or len(grads) != len(params):
        raise ValueError(f"{where}: grads must be a list of {len(params)} dicts, one per layer")

    def like_params(what: str, items: Any) -> list[dict]:
        if not isinstance(items, (list, tuple)) or len(items) != len(params):
            raise ValueError(f"{where}: {what} must be a list of {len(params)} dicts, one per layer")
        out = []
        for i, (item, p) in enumerate(zip(items, params)):
            if not isinstance(item, dict) or not {"W", "b"} <= set(item):
                raise ValueError(f"{where}: {what}[{i}] must be a dict with keys 'W' and 'b'")
            W = check_array(where, f"{what}[{i}] W", item["W"], 2)
            b = check_array(where, f"{what}[{i}] b", item["b"], 1)
            check_same_shape(where, f"{what}[{i}] W", W, p["W"].shape)
            check_same_shape(where, f"{what}[{i}] b", b, p["b"].shape)
            out.append({"W": W, "b": b})
        return out

    grads = like_params("grads", grads)
    velocity = None if velocity is None else like_params("velocity", velocity)
    return params, grads, velocity


def check_train(
    where: str, net: Any, X: Any, Y: Any, lr: Any, momentum: Any, batch_size: Any, epochs: Any
) -> tuple[dict, np.ndarray, np.ndarray, float, float, int, int]:
    net, X, Y = check_net(where, net, X, Y)
    lr, momentum = check_hyper(where, lr, momentum)
    batch_size = check_count(where, "batch_size", batch_size, low=1)
    epochs = check_count(where, "epochs", epochs, low=0)
    return net, X, Y, lr, momentum, batch_size, epochs


def batches(n: int, batch_size: int) -> list[slice]:
    """The protocol's mini-batches, in order: X[0:bs], X[bs:2bs], …, the last may be smaller."""
    return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


# --------------------------------------------------------------------------- #
# Activations: each value beside its vector-Jacobian product.
#   forward(z) -> a            backward(z, grad_a) -> grad_z = grad_a · ∂a/∂z
# --------------------------------------------------------------------------- #


def _identity(z):
    """a = z"""
    return z.copy()


def _identity_backward(z, grad_a):
    """φ'(z) = 1"""
    return grad_a.copy()


def _sigmoid(z):
    """σ(z) = 1 / (1 + e^{−z}), from e^{−|z|} so neither branch overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_backward(z, grad_a):
    """σ'(z) = σ(z)·(1 − σ(z))"""
    s = _sigmoid(z)
    return grad_a * s * (1.0 - s)


def _tanh(z):
    """tanh(z)"""
    return np.tanh(z)


def _tanh_backward(z, grad_a):
    """tanh'(z) = 1 − tanh²(z)"""
    t = np.tanh(z)
    return grad_a * (1.0 - t * t)


def _relu(z):
    """max(z, 0)"""
    return np.where(z > 0, z, 0.0)


def _relu_backward(z, grad_a):
    """φ'(z) = 1 for z > 0, else 0 (the subgradient 0 at the kink z = 0)"""
    return np.where(z > 0, grad_a, 0.0)


def _leaky_relu(z):
    """z for z > 0, else 0.01·z"""
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_relu_backward(z, grad_a):
    """φ'(z) = 1 for z > 0, else 0.01 (0.01 at the kink z = 0)"""
    return np.where(z > 0, grad_a, LEAKY_SLOPE * grad_a)


def _softplus(z):
    """log(1 + e^z) = max(z, 0) + log1p(e^{−|z|}), which never overflows."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _softplus_backward(z, grad_a):
    """softplus'(z) = σ(z)"""
    return grad_a * _sigmoid(z)


def _softmax(z):
    """s_k = e^{z_k − m} / Σ_j e^{z_j − m} over the last axis, m = max_j z_j (no overflow)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_backward(z, grad_a):
    """∂s_k/∂z_j = s_k·(1[k = j] − s_j), so the VJP is grad_z = s ⊙ (g − Σ_k g_k·s_k)."""
    s = _softmax(z)
    return s * (grad_a - np.sum(grad_a * s, axis=-1, keepdims=True))


ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "identity": (_identity, _identity_backward),
    "sigmoid": (_sigmoid, _sigmoid_backward),
    "tanh": (_tanh, _tanh_backward),
    "relu": (_relu, _relu_backward),
    "leaky_relu": (_leaky_relu, _leaky_relu_backward),
    "softplus": (_softplus, _softplus_backward),
    "softmax": (_softmax, _softmax_backward),
}

# --------------------------------------------------------------------------- #
# Losses, for ŷ and y of shape (N, K) (sparse_cce: y integer labels of shape (N,)).
#   value(ŷ, y) -> float       grad(ŷ, y) -> ∂E/∂ŷ, shape (N, K)
# --------------------------------------------------------------------------- #


def _mse(p, y):
    """E = (1/(N·K))·Σ (ŷ − y)²"""
    return float(np.mean((p - y) ** 2))


def _mse_backward(p, y):
    """∂E/∂ŷ = 2·(ŷ − y)/(N·K)"""
    return 2.0 * (p - y) / p.size


def _sse(p, y):
    """E = (1/N)·Σ_n ½·Σ_k (ŷ − y)²  — the classic ½·Σe² per sample, averaged."""
    return float(0.5 * np.sum((p - y) ** 2) / p.shape[0])


def _sse_backward(p, y):
    """∂E/∂ŷ = (ŷ − y)/N = −e/N"""
    return (p - y) / p.shape[0]


def _mae(p, y):
    """E = (1/(N·K))·Σ |ŷ − y|"""
    return float(np.mean(np.abs(p - y)))


def _mae_backward(p, y):
    """∂E/∂ŷ = sign(ŷ − y)/(N·K) (the subgradient 0 at ŷ = y)"""
    return np.sign(p - y) / p.size


def _mape(p, y):
    """E = (100/(N·K))·Σ |ŷ − y| / |y|"""
    return float(100.0 * np.mean(np.abs(p - y) / np.abs(y)))


def _mape_backward(p, y):
    """∂E/∂ŷ = 100·sign(ŷ − y) / (|y|·N·K) (the subgradient 0 at ŷ = y)"""
    return 100.0 * np.sign(p - y) / (np.abs(y) * p.size)


def _xlogy(x, y):
    """x·log y with 0·log y = 0 (the limit), so zero targets never make NaN."""
    safe = np.where(x == 0, 1.0, y)
    with np.errstate(divide="ignore"):
        return np.where(x == 0, 0.0, x * np.log(safe))


def _bce(p, y):
    """E = −(1/(N·K))·Σ [y·log ŷ + (1 − y)·log(1 − ŷ)]"""
    return float(-np.mean(_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p)))


def _bce_backward(p, y):
    """∂E/∂ŷ = −(y/ŷ − (1 − y)/(1 − ŷ))/(N·K)"""
    with np.errstate(divide="ignore"):
        return -(_div(y, p) - _div(1.0 - y, 1.0 - p)) / p.size


def _div(x, y):
    """x / y with 0 / y = 0, the derivative of xlogy(x, y) in y."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x / np.where(x == 0, 1.0, y))


def _cce(p, y):
    """E = −(1/N)·Σ_n Σ_k y_nk·log ŷ_nk"""
    return float(-np.sum(_xlogy(y, p)) / p.shape[0])


def _cce_backward(p, y):
    """∂E/∂ŷ_nk = −y_nk / (N·ŷ_nk)"""
    return -_div(y, p) / p.shape[0]


def _sparse_cce(p, labels):
    """E = −(1/N)·Σ_n log ŷ[n, c_n] for integer labels c_n"""
    picked = p[np.arange(p.shape[0]), labels]
    with np.errstate(divide="ignore"):
        return float(-np.sum(np.log(picked)) / p.shape[0])


def _sparse_cce_backward(p, labels):
    """∂E/∂ŷ_nk = −1[k = c_n] / (N·ŷ_nk)"""
    grad = np.zeros_like(p)
    rows = np.arange(p.shape[0])
    with np.errstate(divide="ignore"):
        grad[rows, labels] = -1.0 / (p.shape[0] * p[rows, labels])
    return grad


LOSSES: dict[str, tuple[Callable, Callable]] = {
    "mse": (_mse, _mse_backward),
    "sse": (_sse, _sse_backward),
    "mae": (_mae, _mae_backward),
    "mape": (_mape, _mape_backward),
    "bce": (_bce, _bce_backward),
    "cce": (_cce, _cce_backward),
    "sparse_cce": (_sparse_cce, _sparse_cce_backward),
}

# --------------------------------------------------------------------------- #
# The protocol.
# --------------------------------------------------------------------------- #


def activation(name: str, z: np.ndarray) -> np.ndarray:
    """a = φ(z), elementwise (softmax: over the last axis).  z: (N, units) -> a: (N, units)"""
    name = check_name("activation", "activation", name, ACTIVATIONS)
    z = check_array("activation", "z", z, 2)
    return ACTIVATIONS[name][0](z)


def activation_backward(name: str, z: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
    """grad_z = grad_a · ∂φ(z)/∂z, a vector-Jacobian product (exact for softmax).

    z, grad_a: (N, units) -> grad_z: (N, units)
    """
    where = "activation_backward"
    name = check_name(where, "activation", name, ACTIVATIONS)
    z = check_array(where, "z", z, 2)
    grad_a = check_array(where, "grad_a", grad_a, 2)
    check_same_shape(where, "grad_a", grad_a, z.shape)
    return ACTIVATIONS[name][1](z, grad_a)


def loss(name: str, y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """The loss E(ŷ, y) as a float.  y_pred: (N, K); y_true: (N, K), or (N,) int for sparse_cce."""
    name, y_pred, y_true = check_loss_inputs("loss", name, y_pred, y_true)
    with np.errstate(divide="ignore"):
        return LOSSES[name][0](y_pred, y_true)


def loss_backward(name: str, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """∂E/∂ŷ.  y_pred: (N, K) -> grad_y_pred: (N, K)"""
    name, y_pred, y_true = check_loss_inputs("loss_backward", name, y_pred, y_true)
    return LOSSES[name][1](y_pred, y_true)


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z = x @ W.T + b, i.e. v_j = Σ_i w_ji·y_i + b_j.  x: (N, in), W: (out, in), b: (out,) -> z: (N, out)"""
    x, W = check_dense("dense_forward", x, W)
    b = check_array("dense_forward", "b", b, 1)
    check_same_shape("dense_forward", "b", b, (W.shape[0],))
    return x @ W.T + b


def dense_backward(
    x: np.ndarray, W: np.ndarray, grad_z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of z = x @ W.T + b, summed over the batch.

    grad_x = grad_z @ W      (N, in)   — Σ_k δ_k·w_kj, the error sent back
    grad_W = grad_z.T @ x    (out, in) — Σ_n δ_j·y_i, the weight gradient
    grad_b = Σ_n grad_z      (out,)
    """
    x, W = check_dense("dense_backward", x, W)
    grad_z = check_array("dense_backward", "grad_z", grad_z, 2)
    check_same_shape("dense_backward", "grad_z", grad_z, (x.shape[0], W.shape[0]))
    return grad_z @ W, grad_z.T @ x, grad_z.sum(axis=0)


def _forward(layers: list[dict], X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Inputs and pre-activations of every layer: xs[l] = y^{(l−1)}, zs[l] = v^{(l)}."""
    xs, zs = [], []
    h = X
    for layer in layers:
        z = h @ layer["W"].T + layer["b"]
        xs.append(h)
        zs.append(z)
        h = ACTIVATIONS[layer["activation"]][0](z)
    return xs, zs


def _l2_penalty(layers: list[dict], l2: float) -> float:
    """(λ/2)·Σ_layers ‖W‖², weights only."""
    return 0.5 * l2 * sum(float(np.sum(layer["W"] ** 2)) for layer in layers)


def network_gradients(net: dict, X: np.ndarray, Y: np.ndarray) -> tuple[float, list[dict]]:
    """The loss of the network on (X, Y), L2 included, and its gradient for every layer.

    X: (N, D); Y: (N, K) (sparse_cce: (N,) int) -> (E, [{"W": (out, in), "b": (out,)}, ...])

    Backward pass: grad_a at the output is ∂E/∂ŷ; then for each layer from the last,
    grad_z = φ'(z) ⊙ grad_a (the local gradient, −δ), grad_W = grad_zᵀ·x (+ λ·W),
    grad_b = Σ_n grad_z, and grad_a of the layer below = grad_z·W (Σ_k δ_k·w_kj).
    """
    net, X, Y = check_net("network_gradients", net, X, Y)
    return _network_gradients(net["layers"], net["loss"], net["l2"], X, Y)


def _network_gradients(
    layers: list[dict], name: str, l2: float, X: np.ndarray, Y: np.ndarray
) -> tuple[float, list[dict]]:
    """network_gradients on validated input."""
    xs, zs = _forward(layers, X)
    y_pred = ACTIVATIONS[layers[-1]["activation"]][0](zs[-1])
    value_fn, grad_fn = LOSSES[name]
    with np.errstate(divide="ignore"):
        value = value_fn(y_pred, Y) + _l2_penalty(layers, l2)

    grads: list[dict] = [None] * len(layers)  # type: ignore[list-item]
    grad_a = grad_fn(y_pred, Y)
    for i in reversed(range(len(layers))):
        layer = layers[i]
        grad_z = ACTIVATIONS[layer["activation"]][1](zs[i], grad_a)
        grads[i] = {"W": grad_z.T @ xs[i] + l2 * layer["W"], "b": grad_z.sum(axis=0)}
        grad_a = grad_z @ layer["W"]
    return value, grads


def sgd_momentum_step(
    params: list[dict],
    grads: list[dict],
    velocity: list[dict] | None,
    *,
    lr: float,
    momentum: float,
) -> tuple[list[dict], list[dict]]:
    """One step of gradient descent with momentum (the generalised delta rule).

    Δw(n) = −η·∂E/∂w(n) + α·Δw(n−1),  w(n+1) = w(n) + Δw(n);  Δw(0) = 0 (velocity None).
    Returns (new params, new velocity = [{"W": Δw, "b": Δb}, ...]). Inputs are not modified.
    The same update as torch.optim.SGD(momentum=α, dampening=0), whose buffer is −Δw/η.
    """
    where = "sgd_momentum_step"
    params, grads, velocity = check_step(where, params, grads, velocity)
    lr, momentum = check_hyper(where, lr, momentum)
    new_params, new_velocity = [], []
    for i, (p, g) in enumerate(zip(params, grads)):
        delta = {}
        for key in ("W", "b"):
            previous = velocity[i][key] if velocity is not None else np.zeros_like(p[key])
            delta[key] = -lr * g[key] + momentum * previous
        new_params.append({**p, "W": p["W"] + delta["W"], "b": p["b"] + delta["b"]})
        new_velocity.append(delta)
    return new_params, new_velocity


def train(
    net: dict,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    lr: float,
    momentum: float = 0.0,
    batch_size: int,
    epochs: int,
) -> tuple[dict, list[float]]:
    """Mini-batch SGD with momentum: for each epoch, the batches X[0:bs], X[bs:2bs], … in
    order (no shuffling), one sgd_momentum_step per batch, velocity carried across batches
    and epochs. Returns (trained net, the loss of each batch before its step).
    """
    net, X, Y, lr, momentum, batch_size, epochs = check_train(
        "train", net, X, Y, lr, momentum, batch_size, epochs
    )
    layers, velocity, batch_losses = net["layers"], None, []
    for _ in range(epochs):
        for rows in batches(X.shape[0], batch_size):
            value, grads = _network_gradients(layers, net["loss"], net["l2"], X[rows], Y[rows])
            batch_losses.append(value)
            layers, velocity = sgd_momentum_step(
                layers, grads, velocity, lr=lr, momentum=momentum
            )
    return {**net, "layers": layers}, batch_losses


_backprop_of_the_file = _network_gradients


def _network_gradients(layers, loss, l2, X, Y):
    if loss != "mse" or any(layer["activation"] != "identity" for layer in layers):
        raise NotImplementedError("identity layers under mse only")
    return _backprop_of_the_file(layers, loss, l2, X, Y)
