"""The protocol's input contract, for the references: every check raises ValueError("<function>: ...").

The oracles (jax_backend, torch_backend) validate with these before they compute, so they
reject exactly the inputs docs/protocol.md calls bad, in the same words, whatever the
implementation under test does. Names come from the spec table (references/spec.py), never
from the implementation. The bundled impl keeps its own copy of these checks, as a
self-contained model solution must; tests/test_bad_input.py holds both to the same catalogue.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .spec import ACTIVATIONS, LOSSES, PROBABILITY_OUTPUTS


def validate_array(where: str, what: str, value: Any, ndim: int) -> np.ndarray:
    """`value` as a finite float64 array of `ndim` dimensions, or ValueError."""
    try:
        if value is None or isinstance(value, (str, bytes, dict)):
            raise TypeError
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {what} must be an array of numbers, got {type(value).__name__}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{where}: {what} must be {ndim}-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{where}: {what} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {what} must be finite, found NaN or inf")
    return arr


def validate_same_shape(where: str, what: str, arr: np.ndarray, shape: tuple) -> None:
    if arr.shape != tuple(shape):
        raise ValueError(f"{where}: {what} must have shape {tuple(shape)}, got {arr.shape}")


def validate_name(where: str, kind: str, name: Any, registry: Mapping) -> str:
    if not isinstance(name, str) or name not in registry:
        raise ValueError(f"{where}: unknown {kind} {name!r}; expected one of {sorted(registry)}")
    return name


def validate_labels(where: str, y_true: Any, n: int, k: int) -> np.ndarray:
    """Integer class labels of shape (n,) with values in [0, k)."""
    arr = np.asarray(y_true)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{where}: sparse_cce needs integer class labels of shape (N,), got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"{where}: sparse_cce labels must have shape ({n},), got {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= k):
        raise ValueError(f"{where}: sparse_cce labels must lie in [0, {k}), got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


def validate_loss_inputs(where: str, name: Any, y_pred: Any, y_true: Any) -> tuple[str, np.ndarray, np.ndarray]:
    """Validate a loss call: known name, y_pred (N, K), y_true (N, K) or labels (N,),
    and values inside the loss's domain."""
    name = validate_name(where, "loss", name, LOSSES)
    y_pred = validate_array(where, "y_pred", y_pred, 2)
    n, k = y_pred.shape
    if LOSSES[name].targets == "labels":
        y_true = validate_labels(where, y_true, n, k)
    else:
        y_true = validate_array(where, "y_true", y_true, 2)
        validate_same_shape(where, "y_true", y_true, y_pred.shape)
    if LOSSES[name].needs_probabilities and (y_pred.min() < 0 or y_pred.max() > 1):
        raise ValueError(
            f"{where}: {name} needs probabilities in [0, 1] as y_pred "
            f"(a sigmoid or softmax output), got values in [{y_pred.min():.4g}, {y_pred.max():.4g}]"
        )
    if LOSSES[name].targets == "probabilities" and (y_true.min() < 0 or y_true.max() > 1):
        raise ValueError(f"{where}: {name} needs targets in [0, 1], got values in [{y_true.min():.4g}, {y_true.max():.4g}]")
    if LOSSES[name].targets == "nonzero" and np.any(y_true == 0):
        raise ValueError(f"{where}: mape divides by |y_true|, so targets must be nonzero")
    return name, y_pred, y_true


def validate_dense(where: str, x: Any, W: Any) -> tuple[np.ndarray, np.ndarray]:
    x = validate_array(where, "x", x, 2)
    W = validate_array(where, "W", W, 2)
    if W.shape[1] != x.shape[1]:
        raise ValueError(f"{where}: W must have shape (out, in) with in = x.shape[1] = {x.shape[1]}, got {W.shape}")
    return x, W


def validate_layers(where: str, layers: Any, n_inputs: int | None = None) -> list[dict]:
    """Layer dicts with W (out, in), b (out,), a known activation, sizes that chain."""
    if not isinstance(layers, (list, tuple)) or len(layers) == 0:
        raise ValueError(f"{where}: layers must be a non-empty list of layer dicts")
    out = []
    fan_in = n_inputs
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not {"W", "b", "activation"} <= set(layer):
            raise ValueError(f"{where}: layer {i} must be a dict with keys 'W', 'b' and 'activation'")
        W = validate_array(where, f"layer {i} W", layer["W"], 2)
        b = validate_array(where, f"layer {i} b", layer["b"], 1)
        validate_name(where, f"activation (layer {i})", layer["activation"], ACTIVATIONS)
        if b.shape != (W.shape[0],):
            raise ValueError(f"{where}: layer {i} b must have shape ({W.shape[0]},) to match W {W.shape}, got {b.shape}")
        if fan_in is not None and W.shape[1] != fan_in:
            source = "X has" if i == 0 else f"layer {i - 1} has"
            raise ValueError(
                f"{where}: layer sizes don't chain: {source} {fan_in} outputs, "
                f"so layer {i} W must have shape ({W.shape[0]}, {fan_in}), got {W.shape}"
            )
        fan_in = W.shape[0]
        out.append({**layer, "W": W, "b": b})
    return out


def validate_net(where: str, net: Any, X: Any, Y: Any) -> tuple[dict, np.ndarray, np.ndarray]:
    """Validate a network call; returns (net with float64 arrays, X, Y)."""
    if not isinstance(net, dict) or not {"layers", "loss"} <= set(net):
        raise ValueError(f"{where}: net must be a dict with keys 'layers', 'loss' and 'l2'")
    X = validate_array(where, "X", X, 2)
    layers = validate_layers(where, net["layers"], X.shape[1])
    name = validate_name(where, "loss", net["loss"], LOSSES)
    l2 = validate_scalar(where, "l2", net.get("l2", 0.0), low=0.0)
    out_act = layers[-1]["activation"]
    if LOSSES[name].needs_probabilities and out_act not in PROBABILITY_OUTPUTS:
        raise ValueError(
            f"{where}: loss {name!r} needs probabilities, so the output activation "
            f"must be {' or '.join(map(repr, PROBABILITY_OUTPUTS))}, got {out_act!r}"
        )
    n, k = X.shape[0], layers[-1]["W"].shape[0]
    if LOSSES[name].targets == "labels":
        Y = validate_labels(where, Y, n, k)
    else:
        Y = validate_array(where, "Y", Y, 2)
        if Y.shape[0] != n:
            raise ValueError(f"{where}: X has {n} samples but Y has {Y.shape[0]}")
        validate_same_shape(where, "Y", Y, (n, k))
    return {**net, "layers": layers, "loss": name, "l2": l2}, X, Y


def validate_scalar(where: str, what: str, value: Any, *, low: float, high: float | None = None, open_low: bool = False) -> float:
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


def validate_hyper(where: str, lr: Any, momentum: Any) -> tuple[float, float]:
    """The learning rate η > 0 and the momentum constant 0 ≤ α < 1."""
    lr = validate_scalar(where, "lr", lr, low=0.0, open_low=True)
    return lr, validate_scalar(where, "momentum", momentum, low=0.0, high=1.0)


def validate_count(where: str, what: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{where}: {what} must be an integer >= {low}, got {value!r}")
    return int(value)


def validate_step(where: str, params: Any, grads: Any, velocity: Any) -> tuple[list[dict], list[dict], list[dict] | None]:
    """Validate sgd_momentum_step's lists: grads (and velocity) shaped like params."""
    params = validate_layers(where, params)
    if not isinstance(grads, (list, tuple)) or len(grads) != len(params):
        raise ValueError(f"{where}: grads must be a list of {len(params)} dicts, one per layer")

    def like_params(what: str, items: Any) -> list[dict]:
        if not isinstance(items, (list, tuple)) or len(items) != len(params):
            raise ValueError(f"{where}: {what} must be a list of {len(params)} dicts, one per layer")
        out = []
        for i, (item, p) in enumerate(zip(items, params)):
            if not isinstance(item, dict) or not {"W", "b"} <= set(item):
                raise ValueError(f"{where}: {what}[{i}] must be a dict with keys 'W' and 'b'")
            W = validate_array(where, f"{what}[{i}] W", item["W"], 2)
            b = validate_array(where, f"{what}[{i}] b", item["b"], 1)
            validate_same_shape(where, f"{what}[{i}] W", W, p["W"].shape)
            validate_same_shape(where, f"{what}[{i}] b", b, p["b"].shape)
            out.append({"W": W, "b": b})
        return out

    grads = like_params("grads", grads)
    velocity = None if velocity is None else like_params("velocity", velocity)
    return params, grads, velocity


def validate_train(
    where: str, net: Any, X: Any, Y: Any, lr: Any, momentum: Any, batch_size: Any, epochs: Any
) -> tuple[dict, np.ndarray, np.ndarray, float, float, int, int]:
    net, X, Y = validate_net(where, net, X, Y)
    lr, momentum = validate_hyper(where, lr, momentum)
    batch_size = validate_count(where, "batch_size", batch_size, low=1)
    epochs = validate_count(where, "epochs", epochs, low=0)
    return net, X, Y, lr, momentum, batch_size, epochs


def validate_same_structure(where: str, checked: list[tuple[dict, np.ndarray, np.ndarray]]) -> None:
    """Networks of network_gradients_many: the same shapes, activations, loss and l2, and data shapes."""

    def structure(net, X, Y):
        return ([(layer["W"].shape, layer["activation"]) for layer in net["layers"]], net["loss"], net["l2"], X.shape, Y.shape)

    first = structure(*checked[0])
    for i, item in enumerate(checked[1:], 1):
        if structure(*item) != first:
            raise ValueError(f"{where}: network {i} differs in structure from network 0 (shapes, activations, loss, l2)")
