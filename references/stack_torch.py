"""A stack of the layer protocol's ops in PyTorch: each op's torch reference (layer_torch, through
its spec entry) composed in order, and torch.autograd through the whole chain, in float64.

    ev = evaluate_stack([(op, arrays, hyper), ...], residual=(0, 3))

`arrays` are each layer's arrays by name (NumPy): x only in the first (the stack's input), a
dropout's keep mask as "mask" (the implementation's, as for the single op). A layer's x is the
output of the one before; at the end of a fork, layers[start:stop], it is f(x) + x, with x the
input of layers[start], so the gradient at that x is the sum of f's and the skip's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class StackEvaluation:
    """The loss; each layer's output (before a fork adds its x; None for the loss); per layer the
    gradient of the loss with respect to each differentiable arg by grad name ("dw", and "dx"
    through that layer alone: the gradient its backward returns); and fork_dx, the gradient at
    the fork's input through f and the skip together (None without a fork)."""

    loss: float
    outs: list[np.ndarray | None]
    grads: list[dict[str, np.ndarray]]
    fork_dx: np.ndarray | None


def _tensor(value: np.ndarray, grad: bool) -> torch.Tensor:
    dtype = torch.int64 if value.dtype.kind in "iu" else torch.float64
    return torch.tensor(value, dtype=dtype, requires_grad=grad)


def evaluate_stack(
    layers: list[tuple[Any, dict[str, np.ndarray], dict[str, Any]]], residual: tuple[int, int] | None
) -> StackEvaluation:
    from .layer_spec import resolve, split

    wanted: list[tuple[int | None, str, torch.Tensor]] = []  # (layer, grad name, tensor); layer None: the fork
    outs: list[torch.Tensor | None] = []
    x: Any = None
    fork_in: Any = None
    loss: Any = None
    for i, (op, arrays, hyper) in enumerate(layers):
        names = {a.name: g for a, g in zip(op.differentiable, op.grads)}
        tensors = {k: _tensor(v, k in names) for k, v in arrays.items()}
        if i == 0:
            x = tensors["x"]
        if residual is not None and i == residual[0]:
            fork_in = x
        if "x" in names:
            tensors["x"] = x.clone()  # its own node: the gradient through this layer alone
        else:
            tensors["x"] = x
        wanted += [(i, g, tensors[k]) for k, g in names.items()]
        out, _ = split(op, resolve(op.torch)(tensors, hyper))
        if op.loss:
            loss, x = out, None
            outs.append(None)
            continue
        outs.append(out)
        x = out + fork_in if residual is not None and i == residual[1] - 1 else out
    if fork_in is not None and fork_in.requires_grad:
        wanted.append((None, "dx", fork_in))
    found = torch.autograd.grad(loss, [t for _, _, t in wanted], allow_unused=True)
    grads: list[dict[str, np.ndarray]] = [{} for _ in layers]
    fork_dx = None
    for (layer, name, t), g in zip(wanted, found):
        value = torch.zeros_like(t).numpy() if g is None else g.detach().numpy().copy()
        if layer is None:
            fork_dx = value
        else:
            grads[layer][name] = value
    return StackEvaluation(float(loss.detach()), [None if o is None else o.detach().numpy().copy() for o in outs], grads, fork_dx)
