"""The layer protocol's ops in JAX (docs/layers.md), float64; gradients from jax.vjp.

Each function is ref(arrays, hyper) as references/layer_spec.py describes, written from the
ops' definitions in jax.numpy (jax.nn where it has the op); nothing is differentiated by hand.
`evaluate` runs an op's forward and jax.vjp as one jitted function, compiled once per op, static
hyperparameters and shapes with jax_compile's cheap options: a case is a few numbers, so what it
costs is the compilation (~30 to ~110 ms of CPU per new shape), not the run (~0.05 ms).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from .jax_compile import jit, kept

jax.config.update("jax_enable_x64", True)

Arrays = dict[str, Any]


def affine(a: Arrays, h: dict[str, Any]) -> Any:
    """x (N, d₁…d_k), w (D, M), b (M,) -> (N, M)."""
    x = a["x"]
    return x.reshape(x.shape[0], -1) @ a["w"] + a["b"]


def relu(a: Arrays, h: dict[str, Any]) -> Any:
    return jax.nn.relu(a["x"])


def gelu(a: Arrays, h: dict[str, Any]) -> Any:
    return jax.nn.gelu(a["x"], approximate=False)


def _every(k: int, dims: int) -> tuple[slice, ...]:
    return (slice(None), slice(None), *([slice(None, None, k)] * dims))


def _downsample(a: Arrays, h: dict[str, Any], dims: int) -> Any:
    return a["x"][_every(h["factor"], dims)]


def _upsample(a: Arrays, h: dict[str, Any], dims: int) -> Any:
    x, k = a["x"], h["factor"]
    out = jnp.zeros((*x.shape[:2], *(k * (n - 1) + 1 for n in x.shape[2:])), x.dtype)
    return out.at[_every(k, dims)].set(x)


def downsample1d(a: Arrays, h: dict[str, Any]) -> Any:
    return _downsample(a, h, 1)


def downsample2d(a: Arrays, h: dict[str, Any]) -> Any:
    return _downsample(a, h, 2)


def upsample1d(a: Arrays, h: dict[str, Any]) -> Any:
    return _upsample(a, h, 1)


def upsample2d(a: Arrays, h: dict[str, Any]) -> Any:
    return _upsample(a, h, 2)


def conv_transpose1d(a: Arrays, h: dict[str, Any]) -> Any:
    """x upsampled by the factor, then conv1d at stride 1, no padding."""
    return conv1d({**a, "x": _upsample(a, h, 1)}, {"pad": 0, "stride": 1})


def conv_transpose2d(a: Arrays, h: dict[str, Any]) -> Any:
    return conv({**a, "x": _upsample(a, h, 2)}, {"pad": 0, "stride": 1})


def flatten(a: Arrays, h: dict[str, Any]) -> Any:
    return a["x"].reshape(a["x"].shape[0], -1)


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


def linear_svm_loss(a: Arrays, h: dict[str, Any]) -> Any:
    """CS231n assignment 1's SVM: svm_loss of the scores X·W, plus reg·ΣW²."""
    return svm_loss({"x": a["X"] @ a["W"], "y": a["y"]}, h) + h["reg"] * jnp.sum(a["W"] ** 2)


def linear_softmax_loss(a: Arrays, h: dict[str, Any]) -> Any:
    """CS231n assignment 1's softmax classifier: cross-entropy of the scores X·W, plus reg·ΣW²."""
    return softmax_loss({"x": a["X"] @ a["W"], "y": a["y"]}, h) + h["reg"] * jnp.sum(a["W"] ** 2)


# --------------------------------------------------------------------------- #
# CS231n assignment 3: recurrent networks (the recurrences by jax.lax.scan over the steps)
# --------------------------------------------------------------------------- #


def _rnn_cell(x: Any, h: Any, Wx: Any, Wh: Any, b: Any) -> Any:
    return jnp.tanh(x @ Wx + h @ Wh + b)


def rnn_step(a: Arrays, h: dict[str, Any]) -> Any:
    return _rnn_cell(a["x"], a["prev_h"], a["Wx"], a["Wh"], a["b"])


def _over_time(step: Any, x: Any, carry: Any) -> Any:
    """The outputs of carry, out = step(carry, x_t) for t = 0…T−1, stacked as (N, T, ·)."""
    _, outs = jax.lax.scan(step, carry, jnp.swapaxes(x, 0, 1))
    return jnp.swapaxes(outs, 0, 1)


def rnn(a: Arrays, h: dict[str, Any]) -> Any:
    """x (N, T, D), h0 (N, H) -> h (N, T, H)."""

    def step(prev: Any, x_t: Any) -> Any:
        nxt = _rnn_cell(x_t, prev, a["Wx"], a["Wh"], a["b"])
        return nxt, nxt

    return _over_time(step, a["x"], a["h0"])


def word_embedding(a: Arrays, h: dict[str, Any]) -> Any:
    return jnp.take(a["W"], a["x"], axis=0)


def _lstm_cell(x: Any, h: Any, c: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, Any]:
    """(next_h, next_c) with the gate blocks i, f, o, g of a = x Wx + h Wh + b."""
    i, f, o, g = jnp.split(x @ Wx + h @ Wh + b, 4, axis=1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def lstm_step(a: Arrays, h: dict[str, Any]) -> tuple[Any, Any]:
    return _lstm_cell(a["x"], a["prev_h"], a["prev_c"], a["Wx"], a["Wh"], a["b"])


def gru_step(a: Arrays, h: dict[str, Any]) -> Any:
    """Gate blocks r, z, n of x Wx + b and of prev_h Wh; the reset gate scales prev_h Wh_n."""
    prev = a["prev_h"]
    ar, az, an = jnp.split(a["x"] @ a["Wx"] + a["b"], 3, axis=1)
    cr, cz, cn = jnp.split(prev @ a["Wh"], 3, axis=1)
    r, z = jax.nn.sigmoid(ar + cr), jax.nn.sigmoid(az + cz)
    n = jnp.tanh(an + r * cn)
    return (1 - z) * n + z * prev


def lstm(a: Arrays, h: dict[str, Any]) -> Any:
    """x (N, T, D), h0 (N, H) -> h (N, T, H), from c0 = 0."""

    def step(carry: Any, x_t: Any) -> Any:
        prev, c = carry
        nxt, c = _lstm_cell(x_t, prev, c, a["Wx"], a["Wh"], a["b"])
        return (nxt, c), nxt

    return _over_time(step, a["x"], (a["h0"], jnp.zeros_like(a["h0"])))


def temporal_affine(a: Arrays, h: dict[str, Any]) -> Any:
    return jnp.einsum("ntd,dm->ntm", a["x"], a["w"]) + a["b"]


def temporal_softmax_loss(a: Arrays, h: dict[str, Any]) -> Any:
    x, y = a["x"], a["y"]
    picked = jnp.take_along_axis(jax.nn.log_softmax(x, axis=-1), y[..., None], axis=-1)[..., 0]
    return -jnp.sum(jnp.where(a["mask"], picked, 0.0)) / x.shape[0]


def evaluate(op: Any, arrays: dict[str, Any], hyper: dict[str, Any], dout: Any) -> Any:
    """The op's JAX reference at `arrays` (NumPy, by name) and its VJP of `dout` (None for a
    loss: the cotangent 1; a tuple, one per output, for an op with several) by jax.vjp, as a
    layer_spec.Evaluation. Compiled once per op, static hyperparameters and shapes (_compiled):
    ~30 to ~110 ms of CPU, where eager JAX compiles each primitive anew for every new shape (measured:
    2.5× and 4× as long for relu's and batchnorm's ci searches). The arrays go in as NumPy arrays, which the compiled
    function's fast path puts on the device (jnp.asarray first costs ~0.1 ms a case more)."""
    import numpy as np

    from .layer_spec import Evaluation

    # NumPy arrays straight into the compiled function (its fast path puts them on the device)
    names = tuple(arg.name for arg in op.differentiable)
    values = tuple(np.asarray(arrays[k], dtype=np.float64) for k in names)
    fixed = {k: np.asarray(v) for k, v in arrays.items() if k not in names}
    cotangent = None if dout is None else tuple(map(np.asarray, dout)) if isinstance(dout, tuple) else np.asarray(dout)
    # shapes follow the integers (stride, pad, G) and the mode: static; the reals, and what the
    # reference never reads (Hyper.shapes False: dropout's seed), are traced
    unread = {h.name for h in op.hypers if not h.shapes}
    static = tuple(sorted((k, v) for k, v in hyper.items() if not isinstance(v, float) and k not in unread))
    traced = {k: np.asarray(v) for k, v in hyper.items() if isinstance(v, float) or k in unread}
    out, state, grads = _compiled(op, static)(values, fixed, traced, cotangent)
    value = float(out) if op.loss else tuple(map(np.array, out)) if isinstance(out, tuple) else np.array(out)
    return Evaluation(value, {k: np.array(v) for k, v in state.items()}, tuple(np.array(g) for g in grads))


@functools.lru_cache(maxsize=256)
def _compiled(op: Any, static: tuple[tuple[str, Any], ...]) -> Any:
    """jit of (values, fixed, traced, dout) -> (out, state, VJP of dout) for one op and its
    static hyperparameters (a mode, the integers that shapes follow: stride, pad, G); the real
    ones (eps, momentum, p) are traced, so that JAX compiles once per op, mode and shapes, not
    once per value of each."""
    from .layer_spec import LAYER_OPS, resolve, split

    names = tuple(arg.name for arg in op.differentiable)
    ref = resolve(op.jax)

    def run(values: tuple, fixed: dict, traced: dict, dout: Any) -> Any:
        h = {**dict(static), **traced}

        def f(*vals: Any) -> Any:
            return split(op, ref({**fixed, **dict(zip(names, vals))}, h))

        out, vjp, state = jax.vjp(f, *values, has_aux=True)
        return out, state, vjp(jnp.ones_like(out) if dout is None else dout)

    name: str = op.name
    if LAYER_OPS.get(name) is op:  # an op of the table: its reference is this package's own source
        return kept(run, f"layer:{name}:{static}")
    return jit(run)  # a library's own op: its reference may change between runs unseen


# --------------------------------------------------------------------------- #
# CS231n assignment 2: convolution, pooling, spatial normalisation (and 11-785's conv1d and
# average pooling).
# --------------------------------------------------------------------------- #


def conv(a: Arrays, h: dict[str, Any]) -> Any:
    """lax's convolution is a cross-correlation, as CS231n's: x NCHW, w OIHW (F, C, HH, WW)."""
    p, s = h["pad"], h["stride"]
    out = jax.lax.conv_general_dilated(a["x"], a["w"], (s, s), [(p, p), (p, p)], dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return out + a["b"][None, :, None, None]


def max_pool(a: Arrays, h: dict[str, Any]) -> Any:
    window, s = (1, 1, h["pool_height"], h["pool_width"]), h["stride"]
    return jax.lax.reduce_window(a["x"], -jnp.inf, jax.lax.max, window, (1, 1, s, s), "VALID")


def conv1d(a: Arrays, h: dict[str, Any]) -> Any:
    """conv's cross-correlation in one spatial axis: x NCH, w OIH (F, C, K)."""
    p, s = h["pad"], h["stride"]
    out = jax.lax.conv_general_dilated(a["x"], a["w"], (s,), [(p, p)], dimension_numbers=("NCH", "OIH", "NCH"))
    return out + a["b"][None, :, None]


def avg_pool(a: Arrays, h: dict[str, Any]) -> Any:
    """Each window's sum by reduce_window, divided by its PH·PW values."""
    ph, pw, s = h["pool_height"], h["pool_width"], h["stride"]
    total = jax.lax.reduce_window(a["x"], 0.0, jax.lax.add, (1, 1, ph, pw), (1, 1, s, s), "VALID")
    return total / (ph * pw)


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
