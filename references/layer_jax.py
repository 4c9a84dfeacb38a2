"""The layer protocol's ops in JAX (docs/layers.md), float64; gradients from jax.vjp.

Each function is ref(arrays, hyper) as references/layer_spec.py describes, written from the
ops' definitions in jax.numpy (jax.nn where it has the op); nothing is differentiated by hand.
Run eagerly: the cases are a few numbers each, and a compile per drawn shape would cost more.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

Arrays = dict[str, Any]


def affine(a: Arrays, h: dict[str, Any]) -> Any:
    """x (N, d₁…d_k), w (D, M), b (M,) -> (N, M)."""
    x = a["x"]
    return x.reshape(x.shape[0], -1) @ a["w"] + a["b"]


def relu(a: Arrays, h: dict[str, Any]) -> Any:
    return jax.nn.relu(a["x"])


def _normalise(x: Any, mean: Any, var: Any, eps: float) -> Any:
    return (x - mean) / jnp.sqrt(var + eps)


def batchnorm(a: Arrays, h: dict[str, Any]) -> tuple[Any, Arrays]:
    """(out, {running_mean, running_var}): batch statistics in train mode, running ones in test."""
    x, m = a["x"], h["momentum"]
    if h["mode"] != "train":
        out = a["gamma"] * _normalise(x, a["running_mean"], a["running_var"], h["eps"]) + a["beta"]
        return out, {"running_mean": a["running_mean"], "running_var": a["running_var"]}
    mean, var = jnp.mean(x, axis=0), jnp.var(x, axis=0)
    out = a["gamma"] * _normalise(x, mean, var, h["eps"]) + a["beta"]
    return out, {"running_mean": m * a["running_mean"] + (1 - m) * mean, "running_var": m * a["running_var"] + (1 - m) * var}


def layernorm(a: Arrays, h: dict[str, Any]) -> Any:
    x = a["x"]
    mean, var = jnp.mean(x, axis=1, keepdims=True), jnp.var(x, axis=1, keepdims=True)
    return a["gamma"] * _normalise(x, mean, var, h["eps"]) + a["beta"]


def dropout(a: Arrays, h: dict[str, Any]) -> Any:
    """x·mask/p in train mode (mask the implementation's), x in test mode."""
    return a["x"] * a["mask"] / h["p"] if h["mode"] == "train" else a["x"]


def softmax_loss(a: Arrays, h: dict[str, Any]) -> Any:
    x, y = a["x"], a["y"]
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(x, axis=1), y[:, None], axis=1))


def svm_loss(a: Arrays, h: dict[str, Any]) -> Any:
    x, y = a["x"], a["y"]
    correct = jnp.take_along_axis(x, y[:, None], axis=1)
    margins = jnp.maximum(0.0, x - correct + 1.0)
    others = jnp.arange(x.shape[1])[None, :] != y[:, None]
    return jnp.sum(jnp.where(others, margins, 0.0)) / x.shape[0]


def evaluate(op: Any, arrays: dict[str, Any], hyper: dict[str, Any], dout: Any) -> Any:
    """The op's JAX reference at `arrays` (NumPy, by name) and its VJP of `dout` (None for a
    loss: the cotangent 1) by jax.vjp, as a layer_spec.Evaluation. Compiled once per op,
    hyperparameters and shapes (_compiled): ~30 ms, where eager JAX spends ~1 s compiling each
    primitive anew for every new shape."""
    import numpy as np

    from .layer_spec import Evaluation

    names = tuple(arg.name for arg in op.differentiable)
    values = tuple(jnp.asarray(arrays[k], dtype=jnp.float64) for k in names)
    fixed = {k: jnp.asarray(v) for k, v in arrays.items() if k not in names}
    out, state, grads = _compiled(op, tuple(sorted(hyper.items())))(values, fixed, None if dout is None else jnp.asarray(dout))
    return Evaluation(
        float(out) if op.loss else np.array(out), {k: np.array(v) for k, v in state.items()}, tuple(np.array(g) for g in grads)
    )


@functools.lru_cache(maxsize=256)
def _compiled(op: Any, hyper: tuple[tuple[str, Any], ...]) -> Any:
    """jit of (values, fixed, dout) -> (out, state, VJP of dout) for one op and hyperparameters."""
    from .layer_spec import resolve, split

    names = tuple(arg.name for arg in op.differentiable)
    ref, h = resolve(op.jax), dict(hyper)

    def run(values: tuple, fixed: dict, dout: Any) -> Any:
        def f(*vals: Any) -> Any:
            return split(op, ref({**fixed, **dict(zip(names, vals))}, h))

        out, vjp, state = jax.vjp(f, *values, has_aux=True)
        return out, state, vjp(jnp.ones_like(out) if dout is None else dout)

    return jax.jit(run)


# --------------------------------------------------------------------------- #
# CS231n assignment 2: convolution, pooling, spatial normalisation.
# --------------------------------------------------------------------------- #


def conv(a: Arrays, h: dict[str, Any]) -> Any:
    """lax's convolution is a cross-correlation, as CS231n's: x NCHW, w OIHW (F, C, HH, WW)."""
    p, s = h["pad"], h["stride"]
    out = jax.lax.conv_general_dilated(a["x"], a["w"], (s, s), [(p, p), (p, p)], dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return out + a["b"][None, :, None, None]


def max_pool(a: Arrays, h: dict[str, Any]) -> Any:
    window, s = (1, 1, h["pool_height"], h["pool_width"]), h["stride"]
    return jax.lax.reduce_window(a["x"], -jnp.inf, jax.lax.max, window, (1, 1, s, s), "VALID")


def spatial_batchnorm(a: Arrays, h: dict[str, Any]) -> tuple[Any, Arrays]:
    """batchnorm over axes (0, 2, 3) per channel, with running averages per channel."""
    x, m, c = a["x"], h["momentum"], (1, -1, 1, 1)
    gamma, beta = a["gamma"].reshape(c), a["beta"].reshape(c)
    if h["mode"] != "train":
        out = gamma * _normalise(x, a["running_mean"].reshape(c), a["running_var"].reshape(c), h["eps"]) + beta
        return out, {"running_mean": a["running_mean"], "running_var": a["running_var"]}
    mean, var = jnp.mean(x, axis=(0, 2, 3)), jnp.var(x, axis=(0, 2, 3))
    out = gamma * _normalise(x, mean.reshape(c), var.reshape(c), h["eps"]) + beta
    return out, {"running_mean": m * a["running_mean"] + (1 - m) * mean, "running_var": m * a["running_var"] + (1 - m) * var}


def spatial_groupnorm(a: Arrays, h: dict[str, Any]) -> Any:
    """Statistics over each (sample, group of C/G contiguous channels); γ, β (1, C, 1, 1)."""
    x = a["x"]
    groups = x.reshape(x.shape[0], h["G"], -1)
    mean, var = jnp.mean(groups, axis=2, keepdims=True), jnp.var(groups, axis=2, keepdims=True)
    return a["gamma"] * _normalise(groups, mean, var, h["eps"]).reshape(x.shape) + a["beta"]
