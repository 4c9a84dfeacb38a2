"""Finite differences of any implementation's *own* functions, in float64, NumPy only.

The third witness: it needs neither JAX nor PyTorch and trusts nothing of the
implementation but its forward values. If an implementation's gradient agrees
with finite differences of its own loss but not with the references, its
gradient is consistent and its loss is defined differently.

Derivatives are Richardson-extrapolated central differences:

    D(h)  = (f(x + h·u) − f(x − h·u)) / 2h               error O(h²)
    R(h)  = (4·D(h/2) − D(h)) / 3                         error O(h⁴)

With h = 1e-4·max(1, ‖x‖∞) (and ‖u‖∞ = 1) the truncation error is ~1e-16·f⁽⁵⁾
and the rounding error ~eps·|f|/h ≈ 2e-12·|f|; the step stays far below the
margin the strategies keep from kinks (relu at 0, mae at ŷ = y).

Kinks (relu and leaky_relu at z = 0, mae and mape at ŷ = y) make f piecewise
smooth. A difference quotient whose points straddle a kink measures a mixture of
two slopes, so every derivative here can take a `branch` function: θ ↦ which side
of every kink θ lies on. The step is shrunk (÷10, down to 1e-9·scale) until
x − h·u and x + h·u lie on the same branches as x; if none does, x sits on a kink
and `NotSmoothHere` is raised — the derivative is not defined there.

`directional` costs 4 evaluations whatever the size of x; `gradient` costs 4 per
element, so it is for small arrays and diagnostics. `directional(..., richardson=False)` is the
plain D(h), 2 evaluations, at CENTRAL_STEPS (1e-5 in float64, where its error is least): what
the layer checks take in float64 (docs/layers.md, "Finite differences").

A function computed in float32 (a layer library that declares it) is differenced at points
rounded to float32 with a larger step. The error of R(h) is ~C·h⁴ (truncation) + 3·δf/h
(rounding: δf the error of one evaluation of f, ~k·u·|f| for k roundings of u = 2⁻²⁴ ≈ 6e-8,
and R combines four evaluations with weights up to 8/3h). The best h grows as δf^(1/5): from
float64's 1e-4, by (2⁻²⁴/2⁻⁵³)^(1/5) ≈ 56, to ~6e-3 (a plain central difference, error
C·h² + δf/h, would want δf^(1/3) ≈ 5e-3 alone). Measured on the float32 model solution, 40 cases
of every op at the sizes verify draws (benchmarks/fd_margins.py): the worst
|R − ⟨grad, u⟩| over the finite_diff_float32 limit is 0.22 at h = 5e-3 and 0.14 at 1e-2; at
1e-3 rounding takes it to 0.34 for the ops with kinks and 1.0 for spatial groupnorm (it grows
as 1/h). So the float32 step is 1e-2, and only a kink shrinks it, at most once, to 1e-3; a
point that needs a smaller step is taken for one on a kink (measured: 0, 1 and 4 of 200 float32
cases of relu, svm_loss and max_pool rejected, where float64 rejects none).
"""

from __future__ import annotations

from types import ModuleType
from typing import Callable

import numpy as np

from .spec import KINKED_ACTIVATIONS, KINKED_LOSSES, LEAKY_SLOPE

STEP = 1e-4
MIN_STEP = 1e-9
SHRINK = 10.0
#: The step per dtype of the function differenced (STEP for float64; see the module's docstring).
STEPS = {"float64": STEP, "float32": 1e-2}
#: The step of a plain central difference (`directional(..., richardson=False)`), per dtype:
#: its error h²/6·f⁽³⁾ + ~eps·|f|/h is least near h = eps^(1/3) (see the module's docstring).
CENTRAL_STEPS = {"float64": 1e-5, "float32": 5e-3}
#: The smallest step a kink may shrink it to, per dtype (below it, rounding would swamp a
#: float32 difference).
MIN_STEPS = {"float64": MIN_STEP, "float32": 1e-3}

Branch = Callable[[np.ndarray], np.ndarray]


class NotSmoothHere(ValueError):
    """The point lies on a kink: no step keeps the difference quotient on one branch."""


def step_for(x: np.ndarray, dtype: str = "float64", steps: dict[str, float] = STEPS) -> float:
    """The step for a function computed in `dtype` (from `steps`: STEPS, or CENTRAL_STEPS), scaled
    by ‖x‖∞ when that is above 1."""
    return steps[dtype] * max(1.0, float(np.max(np.abs(x), initial=0.0)))


def _smooth_step(
    x: np.ndarray, u: np.ndarray, h: float, branch: Branch | None, dtype: str = "float64", steps: dict[str, float] = STEPS
) -> float:
    """The largest h·SHRINK^−k whose segment [x − h·u, x + h·u] stays on x's branches, down to
    MIN_STEPS[dtype] (relative to the dtype's step in `steps`)."""
    if branch is None:
        return h
    here = branch(x)
    floor = MIN_STEPS[dtype] * h / steps[dtype]
    while not (np.array_equal(branch(x + h * u), here) and np.array_equal(branch(x - h * u), here)):
        h /= SHRINK
        if h < floor:
            raise NotSmoothHere("the point lies on a kink: every step crosses it")
    return h


def directional(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    u: np.ndarray,
    h: float | None = None,
    branch: Branch | None = None,
    *,
    dtype: str = "float64",
    richardson: bool = True,
) -> float:
    """f'(x; u) ≈ R(h), the derivative of scalar f at x along u (4 evaluations of f), or, not
    `richardson`, the plain central difference D(h) (2 evaluations). `dtype`: what f computes in;
    its points x ± h·u are rounded to it (the step is STEPS[dtype], CENTRAL_STEPS[dtype] for D,
    unless `h` is given)."""
    x = np.asarray(x, dtype=np.float64)
    scale = float(np.max(np.abs(u), initial=0.0))
    if scale == 0.0:
        return 0.0
    u = np.asarray(u, dtype=np.float64) / scale
    steps = STEPS if richardson else CENTRAL_STEPS
    h = _smooth_step(x, u, step_for(x, dtype, steps) if h is None else h, branch, dtype, steps)

    def central(step: float) -> float:
        return (float(f((x + step * u).astype(dtype, copy=False))) - float(f((x - step * u).astype(dtype, copy=False)))) / (
            2.0 * step
        )

    return scale * (4.0 * central(h / 2.0) - central(h)) / 3.0 if richardson else scale * central(h)


def gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float | None = None, branch: Branch | None = None) -> np.ndarray:
    """∇f(x), one Richardson central difference per element."""
    x = np.asarray(x, dtype=np.float64)
    h = step_for(x) if h is None else h
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1.0
        out[idx] = directional(f, x, e, h, branch)
    return out


# --------------------------------------------------------------------------- #
# Which side of each kink: relu/leaky_relu pre-activations and mae/mape residuals.
# --------------------------------------------------------------------------- #


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


#: Forward values of the spec's activations, only to find which side of each kink a point is
#: on (the derivatives themselves never come from here). Keys: references/spec.py's ACTIVATIONS.
FORWARD: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda z: z,
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),  # σ(z) without overflow
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "softmax": _softmax,
}


def network_branch(net: dict, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The signs of every kinked pre-activation (and of ŷ − y for mae/mape), as one vector."""
    signs = []
    h = np.asarray(X, dtype=np.float64)
    for layer in net["layers"]:
        z = h @ np.asarray(layer["W"], dtype=np.float64).T + np.asarray(layer["b"], dtype=np.float64)
        if layer["activation"] in KINKED_ACTIVATIONS:
            signs.append(np.sign(z).ravel())
        h = FORWARD[layer["activation"]](z)
    if net["loss"] in KINKED_LOSSES:
        signs.append(np.sign(h - Y).ravel())
    return np.concatenate(signs) if signs else np.zeros(0)


def _has_kinks(net: dict) -> bool:
    return net["loss"] in KINKED_LOSSES or any(layer["activation"] in KINKED_ACTIVATIONS for layer in net["layers"])


# --------------------------------------------------------------------------- #
# The protocol's functions as scalar functions of one array.
# --------------------------------------------------------------------------- #

PARAMS = ("W", "b")


def _with(net: dict, layer: int, param: str, theta: np.ndarray) -> dict:
    layers = [dict(layer) for layer in net["layers"]]
    layers[layer][param] = theta
    return {**net, "layers": layers}


def network_loss(module: ModuleType, net: dict, X: np.ndarray, Y: np.ndarray, layer: int, param: str) -> Callable:
    """θ ↦ the loss_value of module.network_gradients with net's layer[param] replaced by θ."""
    return lambda theta: module.network_gradients(_with(net, layer, param, theta), X, Y)[0]


def _branch(net: dict, X: np.ndarray, Y: np.ndarray, layer: int, param: str) -> Branch | None:
    if not _has_kinks(net):
        return None
    return lambda theta: network_branch(_with(net, layer, param, theta), X, Y)


def network_gradients(module: ModuleType, net: dict, X: np.ndarray, Y: np.ndarray) -> list[dict]:
    """Every ∂E/∂W and ∂E/∂b of the module's own loss_value, element by element."""
    return [
        {
            p: gradient(
                network_loss(module, net, X, Y, i, p), np.asarray(layer[p], dtype=np.float64), branch=_branch(net, X, Y, i, p)
            )
            for p in PARAMS
        }
        for i, layer in enumerate(net["layers"])
    ]


def network_directional(
    module: ModuleType, net: dict, X: np.ndarray, Y: np.ndarray, layer: int, param: str, u: np.ndarray
) -> float:
    """The derivative of the module's loss_value along u in one parameter array."""
    theta = np.asarray(net["layers"][layer][param], dtype=np.float64)
    return directional(network_loss(module, net, X, Y, layer, param), theta, u, branch=_branch(net, X, Y, layer, param))


def activation_vjp(module: ModuleType, name: str, z: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
    """grad_a · ∂φ(z)/∂z from module.activation: the gradient of z ↦ ⟨grad_a, φ(z)⟩."""
    branch = np.sign if name in KINKED_ACTIVATIONS else None
    return gradient(lambda zz: float(np.sum(grad_a * module.activation(name, zz))), z, branch=branch)


def loss_gradient(module: ModuleType, name: str, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """∂E/∂ŷ from module.loss."""
    branch = (lambda p: np.sign(p - y_true)) if name in KINKED_LOSSES else None
    return gradient(lambda p: module.loss(name, p, y_true), y_pred, branch=branch)


def dense_vjp(
    module: ModuleType, x: np.ndarray, W: np.ndarray, b: np.ndarray, grad_z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grad_x, grad_W, grad_b) of ⟨grad_z, dense_forward(x, W, b)⟩ from module.dense_forward."""

    def inner(x_, W_, b_) -> float:
        return float(np.sum(grad_z * module.dense_forward(x_, W_, b_)))

    return (gradient(lambda v: inner(v, W, b), x), gradient(lambda v: inner(x, v, b), W), gradient(lambda v: inner(x, W, v), b))
