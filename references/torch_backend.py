"""The backprop protocol in PyTorch: every gradient from torch.autograd, float64 throughout.

The forward pass, the activations and the losses are written here from the
protocol's definitions (docs/protocol.md); nothing is differentiated by hand.
`sgd_momentum_step` and `train` use torch.optim.SGD(momentum=m, dampening=0),
whose momentum buffer is buf(n) = m·buf(n−1) + g(n) = −Δw(n)/lr.

Speed (`python -m benchmarks.reference_costs`, reports/reference_costs.md): eager
autograd with exact shapes, ~0.5 ms a call on the 8-16-16-4 network. PyTorch has no
tracing cost, so nothing is cached. One intra-op thread: the tensors are small, and
two threads made the same call slower here (0.74 ms vs 0.46 ms; 1.06 vs 0.76 ms on
64-128-128-10, batch 32).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .spec import LEAKY_SLOPE, PROTOCOL_FUNCTIONS, batches
from .validate import (
    validate_same_structure,
    validate_array,
    validate_dense,
    validate_hyper,
    validate_loss_inputs,
    validate_name,
    validate_net,
    validate_same_shape,
    validate_step,
    validate_train,
)

torch.set_num_threads(1)

__all__ = ["ACTIVATIONS", "LOSSES", *PROTOCOL_FUNCTIONS, "network_gradients_many"]

DTYPE = torch.float64


def _t(array: np.ndarray, grad: bool = False) -> torch.Tensor:
    """A float64 tensor holding a copy of `array`."""
    return torch.tensor(np.asarray(array, dtype=np.float64), dtype=DTYPE, requires_grad=grad)


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().numpy().copy()


def _softmax(z: torch.Tensor) -> torch.Tensor:
    """s_k = e^{z_k − m}/Σ_j e^{z_j − m}, m = max_j z_j held constant (it cancels)."""
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values.detach())
    return e / e.sum(dim=-1, keepdim=True)


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": lambda z: torch.where(z > 0, z, torch.zeros_like(z)),
    "leaky_relu": lambda z: torch.where(z > 0, z, LEAKY_SLOPE * z),
    "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),  # log(1 + e^z)
    "softmax": _softmax,
}


def _picked(p: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """−log ŷ[n, c_n] as an (…, N, 1) column."""
    return -torch.log(p.gather(-1, labels[..., None]))


# name -> (elementwise term t(ŷ, y), divisor of Σ t: "N·K" or "N")
LOSSES = {
    "mse": (lambda p, y: (p - y) ** 2, "N·K"),
    "sse": (lambda p, y: 0.5 * (p - y) ** 2, "N"),
    "mae": (lambda p, y: torch.abs(p - y), "N·K"),
    "mape": (lambda p, y: 100.0 * torch.abs(p - y) / torch.abs(y), "N·K"),
    "bce": (lambda p, y: -(torch.xlogy(y, p) + torch.xlogy(1.0 - y, 1.0 - p)), "N·K"),
    "cce": (lambda p, y: -torch.xlogy(y, p), "N"),
    "sparse_cce": (_picked, "N"),
}


def _loss(name: str, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """E for ŷ of shape (N, K); for a stack (S, N, K) of S networks' outputs, Σ_s E_s."""
    term, divisor = LOSSES[name]
    n = p.shape[-2] * (p.shape[-1] if divisor == "N·K" else 1)
    return term(p, y).sum() / n


def _target(name: str, y: np.ndarray) -> torch.Tensor:
    return torch.tensor(y, dtype=torch.int64) if name == "sparse_cce" else _t(y)


def activation(name, z):
    name = validate_name("activation", "activation", name, ACTIVATIONS)
    z = validate_array("activation", "z", z, 2)
    return _np(ACTIVATIONS[name](_t(z)))


def activation_backward(name, z, grad_a):
    where = "activation_backward"
    name = validate_name(where, "activation", name, ACTIVATIONS)
    z = validate_array(where, "z", z, 2)
    grad_a = validate_array(where, "grad_a", grad_a, 2)
    validate_same_shape(where, "grad_a", grad_a, z.shape)
    zt = _t(z, grad=True)
    (grad_z,) = torch.autograd.grad(ACTIVATIONS[name](zt), zt, grad_outputs=_t(grad_a))
    return _np(grad_z)


def loss(name, y_pred, y_true):
    name, y_pred, y_true = validate_loss_inputs("loss", name, y_pred, y_true)
    return float(_loss(name, _t(y_pred), _target(name, y_true)))


def loss_backward(name, y_pred, y_true):
    name, y_pred, y_true = validate_loss_inputs("loss_backward", name, y_pred, y_true)
    p = _t(y_pred, grad=True)
    (grad,) = torch.autograd.grad(_loss(name, p, _target(name, y_true)), p)
    return _np(grad)


def _dense(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x·Wᵀ + b; also for stacks x (S, N, in), W (S, out, in), b (S, out)."""
    return x @ W.mT + b.unsqueeze(-2)


def dense_forward(x, W, b):
    x, W = validate_dense("dense_forward", x, W)
    b = validate_array("dense_forward", "b", b, 1)
    validate_same_shape("dense_forward", "b", b, (W.shape[0],))
    return _np(_dense(_t(x), _t(W), _t(b)))


def dense_backward(x, W, grad_z):
    x, W = validate_dense("dense_backward", x, W)
    grad_z = validate_array("dense_backward", "grad_z", grad_z, 2)
    validate_same_shape("dense_backward", "grad_z", grad_z, (x.shape[0], W.shape[0]))
    xt, Wt, bt = _t(x, grad=True), _t(W, grad=True), _t(np.zeros(W.shape[0]), grad=True)
    grads = torch.autograd.grad(_dense(xt, Wt, bt), (xt, Wt, bt), grad_outputs=_t(grad_z))
    return tuple(_np(g) for g in grads)


def _network_loss(tensors: list[torch.Tensor], net: dict, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """E(θ) = loss(φ_L(…φ_1(X·W_1ᵀ + b_1)…), Y) + (λ/2)·Σ‖W_l‖², tensors = [W_1, b_1, W_2, b_2, …].
    With every tensor stacked over S networks of one structure, the S values E_s(θ_s): the
    networks share nothing, so the gradient of Σ_s E_s for θ_s is exactly that of E_s."""
    h = X
    for layer, W, b in zip(net["layers"], tensors[0::2], tensors[1::2]):
        h = ACTIVATIONS[layer["activation"]](_dense(h, W, b))
    term, divisor = LOSSES[net["loss"]]
    data = term(h, Y).sum(dim=(-2, -1)) / (h.shape[-2] * (h.shape[-1] if divisor == "N·K" else 1))
    return data + 0.5 * net["l2"] * sum((W**2).sum(dim=(-2, -1)) for W in tensors[0::2])


def _leaves(layers: list[dict]) -> list[torch.Tensor]:
    return [_t(layer[key], grad=True) for layer in layers for key in ("W", "b")]


def _as_layers(layers: list[dict], tensors: list[torch.Tensor]) -> list[dict]:
    return [{**layer, "W": _np(W), "b": _np(b)} for layer, W, b in zip(layers, tensors[0::2], tensors[1::2])]


def network_gradients(net, X, Y):
    net, X, Y = validate_net("network_gradients", net, X, Y)
    tensors = _leaves(net["layers"])
    value = _network_loss(tensors, net, _t(X), _target(net["loss"], Y))
    grads = torch.autograd.grad(value, tensors)
    return value.item(), [{"W": _np(gW), "b": _np(gb)} for gW, gb in zip(grads[0::2], grads[1::2])]


def network_gradients_many(nets: list[dict], Xs: list, Ys: list) -> list[tuple[float, list[dict]]]:
    """network_gradients of several networks of one structure (same shapes, activations, loss,
    l2; different weights and data), as one stacked autograd call."""
    where = "network_gradients_many"
    if not nets or not len(nets) == len(Xs) == len(Ys):
        raise ValueError(f"{where}: nets, Xs and Ys must be non-empty lists of one length")
    checked = [validate_net(where, net, X, Y) for net, X, Y in zip(nets, Xs, Ys)]
    validate_same_structure(where, checked)
    first = checked[0][0]
    tensors = [
        torch.tensor(np.stack([net["layers"][i][key] for net, _, _ in checked]), dtype=DTYPE, requires_grad=True)
        for i in range(len(first["layers"]))
        for key in ("W", "b")
    ]
    X = torch.tensor(np.stack([X for _, X, _ in checked]), dtype=DTYPE)
    targets = np.stack([Y for _, _, Y in checked])
    Y = torch.tensor(targets, dtype=torch.int64) if first["loss"] == "sparse_cce" else torch.tensor(targets, dtype=DTYPE)
    values = _network_loss(tensors, first, X, Y)
    grads = torch.autograd.grad(values.sum(), tensors)
    return [
        (values[s].item(), [{"W": _np(gW[s]), "b": _np(gb[s])} for gW, gb in zip(grads[0::2], grads[1::2])])
        for s in range(len(checked))
    ]


def _sgd(tensors: list[torch.Tensor], lr: float, momentum: float) -> torch.optim.SGD:
    return torch.optim.SGD(tensors, lr=lr, momentum=momentum, dampening=0.0)


def _corrections(optimizer: torch.optim.SGD, tensors: list[torch.Tensor], lr: float) -> list[np.ndarray]:
    """Δw of the step just taken: −lr·buf with momentum, −lr·g without (no buffer then)."""
    out = []
    for t in tensors:
        buf = optimizer.state[t].get("momentum_buffer")
        step = buf if buf is not None else t.grad
        if step is None:  # sgd_momentum_step sets every tensor's .grad before the step
            raise ValueError("a tensor has neither a momentum buffer nor a gradient")
        out.append(_np(-lr * step))
    return out


def sgd_momentum_step(params, grads, velocity, *, lr, momentum):
    where = "sgd_momentum_step"
    params, grads, velocity = validate_step(where, params, grads, velocity)
    lr, momentum = validate_hyper(where, lr, momentum)
    tensors = _leaves(params)
    optimizer = _sgd(tensors, lr, momentum)
    flat_grads = [g[key] for g in grads for key in ("W", "b")]
    for t, g in zip(tensors, flat_grads):
        t.grad = _t(g)
    if velocity is not None and momentum > 0:
        for t, v in zip(tensors, (v[key] for v in velocity for key in ("W", "b"))):
            optimizer.state[t]["momentum_buffer"] = _t(-v / lr)  # buf(n−1) = −Δw(n−1)/lr
    optimizer.step()
    deltas = _corrections(optimizer, tensors, lr)
    return _as_layers(params, tensors), [{"W": dW, "b": db} for dW, db in zip(deltas[0::2], deltas[1::2])]


def train(net, X, Y, *, lr, momentum=0.0, batch_size, epochs):
    net, X, Y, lr, momentum, batch_size, epochs = validate_train("train", net, X, Y, lr, momentum, batch_size, epochs)
    tensors = _leaves(net["layers"])
    optimizer = _sgd(tensors, lr, momentum)
    Xt, Yt = _t(X), _target(net["loss"], Y)
    batch_losses = []
    for _ in range(epochs):
        for rows in batches(X.shape[0], batch_size):
            optimizer.zero_grad()
            value = _network_loss(tensors, net, Xt[rows], Yt[rows])
            value.backward()
            batch_losses.append(value.item())
            optimizer.step()
    return {**net, "layers": _as_layers(net["layers"], tensors)}, batch_losses
