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
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

torch.set_num_threads(1)

Arrays = dict[str, torch.Tensor]


def affine(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """x (N, d₁…d_k), w (D, M), b (M,) -> (N, M)."""
    return F.linear(a["x"].flatten(1), a["w"].T, a["b"])


def relu(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.relu(a["x"])


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


def evaluate(op: Any, arrays: dict[str, Any], hyper: dict[str, Any], dout: Any) -> Any:
    """The op's torch reference at `arrays` (NumPy, by name) and its VJP of `dout` (None for a
    loss) by torch.autograd, as a layer_spec.Evaluation."""
    from .layer_spec import Evaluation, resolve, split

    names = [arg.name for arg in op.differentiable]
    tensors = {
        k: torch.tensor(v, dtype=torch.int64 if v.dtype.kind in "iu" else torch.float64, requires_grad=k in names)
        for k, v in arrays.items()
    }
    out, state = split(op, resolve(op.torch)(tensors, hyper))
    wrt = [tensors[k] for k in names]
    cotangent = None if dout is None else torch.tensor(dout, dtype=torch.float64)
    grads = torch.autograd.grad(out, wrt, grad_outputs=cotangent, allow_unused=True)
    return Evaluation(
        float(out.detach()) if op.loss else out.detach().numpy().copy(),
        {k: v.detach().numpy().copy() for k, v in state.items()},
        tuple(torch.zeros_like(t).detach().numpy() if g is None else g.numpy().copy() for t, g in zip(wrt, grads)),
    )


# --------------------------------------------------------------------------- #
# CS231n assignment 2: convolution, pooling, spatial normalisation. torch's conv2d is CS231n's
# cross-correlation; group_norm takes γ, β of shape (C,), CS231n's are (1, C, 1, 1).
# --------------------------------------------------------------------------- #


def conv(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    """x (N, C, H, W), w (F, C, HH, WW), b (F,) -> (N, F, H', W')."""
    return F.conv2d(a["x"], a["w"], a["b"], stride=h["stride"], padding=h["pad"])


def max_pool(a: Arrays, h: dict[str, Any]) -> torch.Tensor:
    return F.max_pool2d(a["x"], (h["pool_height"], h["pool_width"]), stride=h["stride"])


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
