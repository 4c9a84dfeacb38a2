"""The layer protocol's ops in PyTorch (docs/layers.md), float64; gradients from torch.autograd.

Each function is ref(arrays, hyper) as references/layer_spec.py describes: tensors by name and
the hyperparameters, returning the output (with the new state for batchnorm). Written with
torch.nn.functional where it has the op in CS231n's convention, and converted where the
conventions differ:
  - batchnorm's running variance: torch's buffer takes the unbiased batch variance, CS231n the
    biased one, and torch's momentum is CS231n's 1 − momentum; so the update is written out.
  - svm_loss: F.multi_margin_loss divides each sample's sum by the number of classes C; CS231n's
    does not, so it is multiplied by C.
  - dropout: F.dropout draws its own mask; the check gives the mask the implementation drew.
  - rnn and lstm cells: torch.nn.RNNCell and LSTMCell keep their weights as (out, in) and the
    LSTM's gate blocks in the order i, f, g, o with two biases; CS231n's are (in, out), in the
    order i, f, o, g, with one bias. The cells run through torch.func.functional_call on the
    weights converted exactly (transposed, the o and g blocks swapped, bias_hh zero). GRUCell's
    blocks r, z, n are the protocol's order: its weights are only transposed, bias_hh zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

Arrays = dict[str, torch.Tensor]


def affine(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """x (N, d₁…d_k), w (D, M), b (M,) -> (N, M)."""
    return F.linear(a["x"].flatten(1), a["w"].T, a["b"])


def relu(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.relu(a["x"])


def gelu(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.gelu(a["x"], approximate="none")


def _every(k: int, dims: int) -> tuple[slice, ...]:
    return (slice(None), slice(None), *([slice(None, None, k)] * dims))


def _downsample(a: Arrays, h: dict[str, Any], dims: int) -> torch.Tensor:
    return a["x"][_every(h["factor"], dims)]


def _upsample(a: Arrays, h: dict[str, Any], dims: int) -> torch.Tensor:
    x, k = a["x"], h["factor"]
    out = x.new_zeros((*x.shape[:2], *(k * (n - 1) + 1 for n in x.shape[2:])))
    out[_every(k, dims)] = x
    return out


def downsample1d(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return _downsample(a, h, 1)


def downsample2d(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return _downsample(a, h, 2)


def upsample1d(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return _upsample(a, h, 1)


def upsample2d(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return _upsample(a, h, 2)


def conv_transpose1d(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """x upsampled by the factor, then torch's conv1d at stride 1, no padding."""
    return F.conv1d(_upsample(a, h, 1), a["w"], a["b"])


def conv_transpose2d(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.conv2d(_upsample(a, h, 2), a["w"], a["b"])


def flatten(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return a["x"].flatten(1)


def batchnorm(a: Arrays, h: dict[str, Any]) -> tuple[torch.Tensor, Arrays]:
    """(out, {running_mean, running_var}): batch statistics in train mode, running ones in test."""
    x, m = a["x"], h["momentum"]
    train = h["mode"] == "train"
    out = F.batch_norm(
        x, a["running_mean"].clone(), a["running_var"].clone(), a["gamma"], a["beta"], training=train, eps=h["eps"]
    )
    if not train:
        return out, {"running_mean": a["running_mean"], "running_var": a["running_var"]}
    mean, var = x.mean(dim=0), x.var(dim=0, unbiased=False)
    return out, {"running_mean": m * a["running_mean"] + (1 - m) * mean, "running_var": m * a["running_var"] + (1 - m) * var}


def layernorm(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.layer_norm(a["x"], a["x"].shape[1:], a["gamma"], a["beta"], eps=h["eps"])


def dropout(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """x·mask/p in train mode (mask the implementation's), x in test mode."""
    return a["x"] * a["mask"] / h["p"] if h["mode"] == "train" else a["x"]


def softmax_loss(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.cross_entropy(a["x"], a["y"])


def svm_loss(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.multi_margin_loss(a["x"], a["y"], p=1, margin=1.0) * a["x"].shape[1]


def linear_svm_loss(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """CS231n assignment 1's SVM: svm_loss of the scores X·W, plus reg·ΣW²."""
    return svm_loss({"x": a["X"] @ a["W"], "y": a["y"]}, h) + h["reg"] * torch.sum(a["W"] ** 2)


def linear_softmax_loss(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """CS231n assignment 1's softmax classifier: cross-entropy of the scores X·W, plus reg·ΣW²."""
    return F.cross_entropy(a["X"] @ a["W"], a["y"]) + h["reg"] * torch.sum(a["W"] ** 2)


# --------------------------------------------------------------------------- #
# CS231n assignment 3: recurrent networks
# --------------------------------------------------------------------------- #


def _rnn_cell(x: torch.Tensor, h: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """torch.nn.RNNCell (tanh) on CS231n's weights: weight_ih = Wxᵀ, weight_hh = Whᵀ, bias_ih = b."""
    cell = torch.nn.RNNCell(Wx.shape[0], Wh.shape[0], nonlinearity="tanh", dtype=torch.float64)
    params = {"weight_ih": Wx.T, "weight_hh": Wh.T, "bias_ih": b, "bias_hh": torch.zeros_like(b)}
    return torch.func.functional_call(cell, params, (x, h))


def rnn_step(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return _rnn_cell(a["x"], a["prev_h"], a["Wx"], a["Wh"], a["b"])


def rnn(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """x (N, T, D), h0 (N, H) -> h (N, T, H), one cell per step."""
    hs, prev = [], a["h0"]
    for t in range(a["x"].shape[1]):
        prev = _rnn_cell(a["x"][:, t], prev, a["Wx"], a["Wh"], a["b"])
        hs.append(prev)
    return torch.stack(hs, dim=1)


def word_embedding(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.embedding(a["x"], a["W"])


def _gates(w: torch.Tensor) -> torch.Tensor:
    """CS231n's gate blocks i, f, o, g (along the last axis) in torch's order i, f, g, o."""
    i, f, o, g = w.chunk(4, dim=-1)
    return torch.cat([i, f, g, o], dim=-1)


def _lstm_cell(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor, b: torch.Tensor) -> Any:
    """torch.nn.LSTMCell on CS231n's weights: weight_ih = gates(Wx)ᵀ, weight_hh = gates(Wh)ᵀ,
    bias_ih = gates(b), bias_hh = 0. Returns (next_h, next_c)."""
    cell = torch.nn.LSTMCell(Wx.shape[0], Wh.shape[0], dtype=torch.float64)
    params = {"weight_ih": _gates(Wx).T, "weight_hh": _gates(Wh).T, "bias_ih": _gates(b), "bias_hh": torch.zeros_like(b)}
    return torch.func.functional_call(cell, params, (x, (h, c)))


def lstm_step(a: Arrays, h: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    return tuple(_lstm_cell(a["x"], a["prev_h"], a["prev_c"], a["Wx"], a["Wh"], a["b"]))


def gru_step(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """torch.nn.GRUCell on the protocol's weights: weight_ih = Wxᵀ, weight_hh = Whᵀ (the gate
    blocks r, z, n in torch's order already), bias_ih = b, bias_hh = 0; so n = tanh(x Wx_n + b_n
    + r·(prev_h Wh_n)), the reset gate applied after Wh_n's product, as torch applies it."""
    Wx, Wh, b = a["Wx"], a["Wh"], a["b"]
    cell = torch.nn.GRUCell(Wx.shape[0], Wh.shape[0], dtype=torch.float64)
    params = {"weight_ih": Wx.T, "weight_hh": Wh.T, "bias_ih": b, "bias_hh": torch.zeros_like(b)}
    return torch.func.functional_call(cell, params, (a["x"], a["prev_h"]))


def lstm(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """x (N, T, D), h0 (N, H) -> h (N, T, H), from c0 = 0."""
    hs, prev, c = [], a["h0"], torch.zeros_like(a["h0"])
    for t in range(a["x"].shape[1]):
        prev, c = _lstm_cell(a["x"][:, t], prev, c, a["Wx"], a["Wh"], a["b"])
        hs.append(prev)
    return torch.stack(hs, dim=1)


def temporal_affine(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.linear(a["x"], a["w"].T, a["b"])


def temporal_softmax_loss(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """F.cross_entropy per step (reduction "none"), times the mask, summed, divided by N."""
    x = a["x"]
    each = F.cross_entropy(x.flatten(0, 1), a["y"].flatten(), reduction="none")
    return (each * a["mask"].flatten()).sum() / x.shape[0]


def evaluate(op: Any, arrays: dict[str, Any], hyper: dict[str, Any], dout: Any) -> Any:
    """The op's torch reference at `arrays` (NumPy, by name) and its VJP of `dout` (None for a
    loss; a tuple, one per output, for an op with several) by torch.autograd, as a
    layer_spec.Evaluation."""
    from .layer_spec import Evaluation, resolve, split

    names = [arg.name for arg in op.differentiable]
    # from_numpy shares the caller's arrays (~1 µs, torch.tensor's copy ~5): the references
    # never write to their inputs, and autograd forbids writing to a leaf that requires grad
    tensors = {
        k: torch.from_numpy(np.require(v, np.int64 if v.dtype.kind in "iu" else np.float64, "W")).requires_grad_(k in names)
        for k, v in arrays.items()
    }
    out, state = split(op, resolve(op.torch)(tensors, hyper))
    wrt = [tensors[k] for k in names]
    several = isinstance(out, tuple)
    outs = list(out) if several else [out]
    cotangents = (
        None if dout is None else [torch.from_numpy(np.require(d, np.float64, "W")) for d in (dout if several else [dout])]
    )
    grads = torch.autograd.grad(outs, wrt, grad_outputs=cotangents, allow_unused=True)
    values = [o.detach().numpy().copy() for o in outs]
    return Evaluation(
        float(out.detach()) if op.loss else (tuple(values) if several else values[0]),
        {k: v.detach().numpy().copy() for k, v in state.items()},
        tuple(torch.zeros_like(t).detach().numpy() if g is None else g.numpy().copy() for t, g in zip(wrt, grads)),
    )


# --------------------------------------------------------------------------- #
# CS231n assignment 2: convolution, pooling, spatial normalisation (and 11-785's conv1d and
# average pooling). torch's conv2d is CS231n's cross-correlation; group_norm takes γ, β of shape (C,), CS231n's are (1, C, 1, 1).
# --------------------------------------------------------------------------- #


def conv(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """x (N, C, H, W), w (F, C, HH, WW), b (F,) -> (N, F, H', W')."""
    return F.conv2d(a["x"], a["w"], a["b"], stride=h["stride"], padding=h["pad"])


def max_pool(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.max_pool2d(a["x"], (h["pool_height"], h["pool_width"]), stride=h["stride"])


def conv1d(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """x (N, C, L), w (F, C, K), b (F,) -> (N, F, L'): torch's conv1d is a cross-correlation too."""
    return F.conv1d(a["x"], a["w"], a["b"], stride=h["stride"], padding=h["pad"])


def avg_pool(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """No padding, so count_include_pad does not arise: every window divides by its PH·PW values."""
    return F.avg_pool2d(a["x"], (h["pool_height"], h["pool_width"]), stride=h["stride"])


def spatial_batchnorm(a: Arrays, h: dict[str, Any]) -> tuple[torch.Tensor, Arrays]:
    """batchnorm over (N, H, W) per channel; the running averages converted as batchnorm's."""
    x, m = a["x"], h["momentum"]
    train = h["mode"] == "train"
    out = F.batch_norm(
        x, a["running_mean"].clone(), a["running_var"].clone(), a["gamma"], a["beta"], training=train, eps=h["eps"]
    )
    if not train:
        return out, {"running_mean": a["running_mean"], "running_var": a["running_var"]}
    mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
    return out, {"running_mean": m * a["running_mean"] + (1 - m) * mean, "running_var": m * a["running_var"] + (1 - m) * var}


def spatial_groupnorm(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.group_norm(a["x"], h["G"], a["gamma"].flatten(), a["beta"].flatten(), eps=h["eps"])
