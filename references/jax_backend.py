"""The backprop protocol in JAX: every gradient from jax.grad / jax.vjp, float64 throughout.

The forward pass, the activations and the losses are written here from the
protocol's definitions (docs/protocol.md); nothing is differentiated by hand, and
nothing comes from the implementation under test: names and input checks come from
the spec table (spec.py) and the protocol's input contract (validate.py).

Speed, and the choice made (8-16-16-4 network, batch 8, tanh, mse; measured by
`python -m benchmarks.reference_costs`, recorded in reports/reference_costs.md):

    exact shapes, eager jax.value_and_grad          ~11 ms a call
    exact shapes, jax.jit: first call (compile)     ~130 ms, then ~0.09 ms
    this backend (padded buckets): first call       ~0.9 s once per (loss, bucket),
                                   then             ~0.7 ms for *any* architecture in the bucket
    (PyTorch eager: ~0.5 ms; impl: ~0.1 ms)
    (compiled with XLA's default options; every jit here now uses jax_compile's cheaper ones:
    FASTEST_COMPILE, and FAST_COMPILE for networks wider than the default buckets, _by_size)

    The suite draws random architectures, so exact-shape jit would compile on nearly
    every example (~130 ms each) and eager is slower still. Every call here is
    padded into a bucket and compiled once per bucket:
      - rows and units to the next power of two above a floor (networks: 16 for
        small ones, else 64 rows and 32 units; see _network_bucket), depth to
        max(8, 2^⌈log2 L⌉), with one uniform width for all layers;
      - padded units have zero weights in and out; padded layers are skipped by
        lax.cond (h passes unchanged, nothing is computed); padded samples and
        outputs are masked out of the loss (the divisor uses the true N and K),
        and softmax gives padded units probability 0 (their logits are −∞);
      - layers run under lax.scan with the activation picked by lax.switch and the
        loss by another lax.switch, so one compiled function serves every depth,
        activation pattern, width and loss of a bucket;
      - network_gradients_many vmaps that function over several data sets of one
        architecture (the suite checks 8 per drawn architecture in one call).
    Padding changes no value: zero terms add exactly, skipped layers pass h as it
    is, and masked entries are replaced by safe values before any log or division, so no NaN
    reaches a gradient. Results agree with the unpadded PyTorch backend to
    rounding (tests/test_references.py).
"""

from __future__ import annotations

import itertools
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import xlogy

from .jax_compile import FAST_COMPILE, jit, keep_executables, kept
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

jax.config.update("jax_enable_x64", True)

__all__ = ["ACTIVATIONS", "LOSSES", *PROTOCOL_FUNCTIONS, "network_gradients_many"]

ROWS_FLOOR, UNITS_FLOOR, DEPTH_FLOOR, FLAT_FLOOR = 64, 32, 8, 1024
ROWS_SMALL, UNITS_SMALL = 16, 16  # the networks' smaller buckets
SAFE = 0.5  # stands in for masked entries: inside every loss's domain


def enable_persistent_cache(path: str | None = None) -> None:
    """Keep compiled kernels on disk between runs: JAX's persistent compilation cache in the
    folder, and the kept executables (jax_compile.Kept: the layer ops' and the network kernels',
    loaded without tracing) in its gradverify-executables/. Default folder:
    $XDG_CACHE_HOME/gradverify/jax (~/.cache/…); GRADVERIFY_JAX_CACHE=off disables both, any
    other value is the folder."""
    import os

    setting = os.environ.get("GRADVERIFY_JAX_CACHE", path or "")
    if setting == "off":
        return
    folder = setting or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "gradverify", "jax")
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    keep_executables(Path(folder) / "gradverify-executables")


def _bucket(n: int, floor: int) -> int:
    """The padded size for n: max(floor, the next power of two ≥ n)."""
    return max(floor, 1 << (max(n, 1) - 1).bit_length())


def _pad(a: np.ndarray, shape: tuple[int, ...], fill: float = 0.0, dtype=np.float64) -> np.ndarray:
    out = np.full(shape, fill, dtype=dtype)
    out[tuple(slice(0, s) for s in a.shape)] = a
    return out


def _mask(shape: tuple[int, int], n: int, k: int) -> np.ndarray:
    """True on the real (n, k) block of a padded (rows, units) array."""
    return (np.arange(shape[0]) < n)[:, None] & (np.arange(shape[1]) < k)[None, :]


# --------------------------------------------------------------------------- #
# Activations φ(z, real) — `real` marks the true units (only softmax needs it).
# --------------------------------------------------------------------------- #


def _softmax(z, real):
    """s_k = e^{z_k − m}/Σ_j e^{z_j − m} over real units (padded logits −∞), m held constant."""
    z = jnp.where(real, z, -jnp.inf)
    e = jnp.exp(z - lax.stop_gradient(z.max(axis=-1, keepdims=True)))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = {
    "identity": lambda z, real: z,
    "sigmoid": lambda z, real: jax.nn.sigmoid(z),
    "tanh": lambda z, real: jnp.tanh(z),
    "relu": lambda z, real: jnp.where(z > 0, z, 0.0),
    "leaky_relu": lambda z, real: jnp.where(z > 0, z, LEAKY_SLOPE * z),
    "softplus": lambda z, real: jnp.logaddexp(z, 0.0),  # log(1 + e^z)
    "softmax": _softmax,
}
_ORDER = tuple(ACTIVATIONS)  # lax.switch index of each activation
_BRANCHES = tuple(ACTIVATIONS[name] for name in _ORDER)


# --------------------------------------------------------------------------- #
# Losses: E = Σ over real entries of an elementwise term t(ŷ, y), divided by N·K or N.
# --------------------------------------------------------------------------- #


def _picked(p, labels):
    """−log ŷ[n, c_n] at the label's column, 0 elsewhere (log only ever sees ŷ[n, c_n])."""
    hit = jnp.arange(p.shape[1])[None, :] == labels[:, None]
    return -jnp.where(hit, jnp.log(jnp.where(hit, p, 1.0)), 0.0)


LOSSES = {
    "mse": (lambda p, y: (p - y) ** 2, "N·K"),
    "sse": (lambda p, y: 0.5 * (p - y) ** 2, "N"),
    "mae": (lambda p, y: jnp.abs(p - y), "N·K"),
    "mape": (lambda p, y: 100.0 * jnp.abs(p - y) / jnp.abs(y), "N·K"),
    "bce": (lambda p, y: -(xlogy(y, p) + xlogy(1.0 - y, 1.0 - p)), "N·K"),
    "cce": (lambda p, y: -xlogy(y, p), "N"),
    "sparse_cce": (_picked, "N"),
}


def _masked_loss(name, p, y, real, n, k):
    """E over the real block of padded ŷ; masked entries become SAFE before the term."""
    term, divisor = LOSSES[name]
    t = jnp.where(real, term(jnp.where(real, p, SAFE), y), 0.0)
    return t.sum() / (n * k if divisor == "N·K" else n)


# --------------------------------------------------------------------------- #
# Compiled kernels, one per (static name, padded shapes).
# --------------------------------------------------------------------------- #


@partial(jit, static_argnames="name")
def _act_forward(name, z, real):
    return ACTIVATIONS[name](z, real)


@partial(jit, static_argnames="name")
def _act_vjp(name, z, real, grad_a):
    _, vjp = jax.vjp(lambda z: ACTIVATIONS[name](z, real), z)
    return vjp(grad_a)[0]


_loss_value = jit(_masked_loss, static_argnames="name")
_loss_grad = jit(jax.grad(_masked_loss, argnums=1), static_argnames="name")


def _dense(x, W, b):
    return x @ W.T + b


_dense_forward = jit(_dense)


@jit
def _dense_vjp(x, W, b, grad_z):
    _, vjp = jax.vjp(_dense, x, W, b)
    return vjp(grad_z)


_LOSS_ORDER = tuple(LOSSES)  # lax.switch index of each loss
_LOSS_BRANCHES = tuple(
    (lambda p, Y, labels, real, n, k, name=name: _masked_loss(name, p, labels if name == "sparse_cce" else Y, real, n, k))
    for name in _LOSS_ORDER
)


def _network_loss(Ws, bs, loss, acts, units, real_layer, X, Y, labels, real, l2, n, k):
    """E(θ) for stacked, padded layers: Ws (L, B, B), bs (L, B), loss an int (the loss's index),
    acts (L,) ints, units (L, B) bool (the true units of each layer), real_layer (L,) bool.
    Padded layers are skipped by lax.cond (nothing computed, h passes unchanged); Y (R, B) holds
    the targets, labels (R,) the classes of sparse_cce."""

    def layer(h, params):
        W, b, a, u, is_real = params
        return lax.cond(is_real, lambda h: lax.switch(a, _BRANCHES, h @ W.T + b, u), lambda h: h, h), None

    y_pred, _ = lax.scan(layer, X, (Ws, bs, acts, units, real_layer))
    penalty = 0.5 * l2 * jnp.sum(Ws**2)  # padded entries are zeros
    return lax.switch(loss, _LOSS_BRANCHES, y_pred, Y, labels, real, n, k) + penalty


def _by_size(fun, name: str):
    """fun compiled two ways, by the padded width of the network it is called on (Ws's last axis):
    up to UNITS_FLOOR (every network the ci profile draws) with FASTEST_COMPILE, where compiling
    is all that costs (`verify --profile ci`: ~3 s of CPU less than FAST_COMPILE); wider with
    FAST_COMPILE, whose code runs as fast as XLA's default (the benchmarks' 64-128-128-10 network:
    a batched check ~23 ms, ~41 ms with FASTEST_COMPILE)."""
    small, big = kept(fun, f"{name}:small"), kept(fun, f"{name}:big", options=FAST_COMPILE)
    return lambda Ws, *args: (small if Ws.shape[-1] <= UNITS_FLOOR else big)(Ws, *args)


_network_value_and_grad = _by_size(jax.value_and_grad(_network_loss, argnums=(0, 1)), "network_value_and_grad")


@jit
def _momentum(w, g, v, lr, momentum):
    """Δw = −lr·g + momentum·v;  w ← w + Δw   (flat padded vectors)."""
    delta = -lr * g + momentum * v
    return w + delta, delta


# --------------------------------------------------------------------------- #
# The protocol.
# --------------------------------------------------------------------------- #


def _padded_2d(a: np.ndarray, fill: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """a padded to its (rows, units) bucket, and the mask of its real block."""
    shape = (_bucket(a.shape[0], ROWS_FLOOR), _bucket(a.shape[1], UNITS_FLOOR))
    return _pad(a, shape, fill), _mask(shape, *a.shape)


def _crop(a, shape: tuple[int, ...]) -> np.ndarray:
    """The real block of a padded result, sliced in NumPy (slicing a jax.Array compiles per shape)."""
    return np.array(np.asarray(a)[tuple(slice(0, s) for s in shape)], dtype=np.float64)


def activation(name, z):
    name = validate_name("activation", "activation", name, ACTIVATIONS)
    z = validate_array("activation", "z", z, 2)
    zp, real = _padded_2d(z)
    return _crop(_act_forward(name, zp, real), z.shape)


def activation_backward(name, z, grad_a):
    where = "activation_backward"
    name = validate_name(where, "activation", name, ACTIVATIONS)
    z = validate_array(where, "z", z, 2)
    grad_a = validate_array(where, "grad_a", grad_a, 2)
    validate_same_shape(where, "grad_a", grad_a, z.shape)
    zp, real = _padded_2d(z)
    gp, _ = _padded_2d(grad_a)
    return _crop(_act_vjp(name, zp, real, gp), z.shape)


def _loss_args(name: str, y_pred: np.ndarray, y_true: np.ndarray) -> tuple:
    p, real = _padded_2d(y_pred, SAFE)
    if name == "sparse_cce":
        y = _pad(y_true, (p.shape[0],), 0, dtype=np.int64)
    else:
        y = _pad(y_true, p.shape, SAFE)
    return p, y, real, float(y_pred.shape[0]), float(y_pred.shape[1])


def loss(name, y_pred, y_true):
    name, y_pred, y_true = validate_loss_inputs("loss", name, y_pred, y_true)
    return float(_loss_value(name, *_loss_args(name, y_pred, y_true)))


def loss_backward(name, y_pred, y_true):
    name, y_pred, y_true = validate_loss_inputs("loss_backward", name, y_pred, y_true)
    return _crop(_loss_grad(name, *_loss_args(name, y_pred, y_true)), y_pred.shape)


def _dense_args(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple:
    rows, ins, outs = _bucket(x.shape[0], ROWS_FLOOR), _bucket(x.shape[1], UNITS_FLOOR), _bucket(W.shape[0], UNITS_FLOOR)
    return _pad(x, (rows, ins)), _pad(W, (outs, ins)), _pad(b, (outs,))


def dense_forward(x, W, b):
    x, W = validate_dense("dense_forward", x, W)
    b = validate_array("dense_forward", "b", b, 1)
    validate_same_shape("dense_forward", "b", b, (W.shape[0],))
    return _crop(_dense_forward(*_dense_args(x, W, b)), (x.shape[0], W.shape[0]))


def dense_backward(x, W, grad_z):
    x, W = validate_dense("dense_backward", x, W)
    grad_z = validate_array("dense_backward", "grad_z", grad_z, 2)
    validate_same_shape("dense_backward", "grad_z", grad_z, (x.shape[0], W.shape[0]))
    xp, Wp, bp = _dense_args(x, W, np.zeros(W.shape[0]))
    grad_x, grad_W, grad_b = _dense_vjp(xp, Wp, bp, _pad(grad_z, (xp.shape[0], Wp.shape[0])))
    return _crop(grad_x, x.shape), _crop(grad_W, W.shape), _crop(grad_b, (W.shape[0],))


def _network_bucket(n: int, small: int, floor: int) -> int:
    """Two buckets below `floor` (≤ small, ≤ floor), then powers of two."""
    return small if n <= small else _bucket(n, floor)


def _network_args(layers: list[dict], name: str, l2: float, X: np.ndarray, Y: np.ndarray) -> dict:
    """The padded arrays of the network kernel (see the module docstring)."""
    depth = _bucket(len(layers), DEPTH_FLOOR)
    width = _network_bucket(max(X.shape[1], *(layer["W"].shape[0] for layer in layers)), UNITS_SMALL, UNITS_FLOOR)
    rows = _network_bucket(X.shape[0], ROWS_SMALL, ROWS_FLOOR)
    Ws = np.zeros((depth, width, width))
    bs = np.zeros((depth, width))
    acts = np.zeros(depth, dtype=np.int32)
    units = np.ones((depth, width), dtype=bool)
    for i, layer in enumerate(layers):
        out, inp = layer["W"].shape
        Ws[i, :out, :inp] = layer["W"]
        bs[i, :out] = layer["b"]
        acts[i] = _ORDER.index(layer["activation"])
        units[i] = np.arange(width) < out
    k = layers[-1]["W"].shape[0]
    sparse = name == "sparse_cce"
    return dict(
        Ws=Ws,
        bs=bs,
        loss=np.int32(_LOSS_ORDER.index(name)),
        acts=acts,
        units=units,
        real_layer=np.arange(depth) < len(layers),
        X=_pad(X, (rows, width)),
        Y=np.full((rows, width), SAFE) if sparse else _pad(Y, (rows, width), SAFE),
        labels=_pad(Y, (rows,), 0, dtype=np.int64) if sparse else np.zeros(rows, dtype=np.int64),
        real=_mask((rows, width), X.shape[0], k),
        l2=l2,
        n=float(X.shape[0]),
        k=float(k),
    )


def _unpad(gW: np.ndarray, gb: np.ndarray, layers: list[dict]) -> list[dict]:
    return [{"W": _crop(gW[i], layer["W"].shape), "b": _crop(gb[i], layer["b"].shape)} for i, layer in enumerate(layers)]


def _network_gradients(layers: list[dict], name: str, l2: float, X: np.ndarray, Y: np.ndarray):
    """network_gradients on validated input, through the padded compiled kernel."""
    value, (gW, gb) = _network_value_and_grad(*_network_args(layers, name, l2, X, Y).values())
    return float(value), _unpad(np.asarray(gW), np.asarray(gb), layers)


#: Arguments that differ between the networks of one batch (the rest is the shared structure).
_PER_NETWORK = ("Ws", "bs", "X", "Y", "labels")
#: Networks per batched call: a batch is padded to a multiple of this, so one compilation serves.
MANY_BUCKET = 8


def _value_and_grad_many(Ws, bs, loss, acts, units, real_layer, X, Y, labels, real, l2, n, k):
    one = jax.value_and_grad(_network_loss, argnums=(0, 1))
    axes = (0, 0, None, None, None, None, 0, 0, 0, None, None, None, None)
    return jax.vmap(one, in_axes=axes)(Ws, bs, loss, acts, units, real_layer, X, Y, labels, real, l2, n, k)


_network_value_and_grad_many = _by_size(_value_and_grad_many, "network_value_and_grad_many")


def network_gradients_many(nets: list[dict], Xs: list, Ys: list) -> list[tuple[float, list[dict]]]:
    """network_gradients of several networks of one structure (same shapes, activations, loss,
    l2; different weights and data) in one vmapped call: the references' batched lever."""
    where = "network_gradients_many"
    if not nets or not len(nets) == len(Xs) == len(Ys):
        raise ValueError(f"{where}: nets, Xs and Ys must be non-empty lists of one length")
    checked = [validate_net(where, net, X, Y) for net, X, Y in zip(nets, Xs, Ys)]
    validate_same_structure(where, checked)
    args = [_network_args(net["layers"], net["loss"], net["l2"], X, Y) for net, X, Y in checked]
    count = len(args)
    args += [args[0]] * (-count % MANY_BUCKET)
    stacked = {key: (np.stack([a[key] for a in args]) if key in _PER_NETWORK else args[0][key]) for key in args[0]}
    values, (gW, gb) = _network_value_and_grad_many(*stacked.values())  # in the kernel's order
    values, gW, gb = np.asarray(values), np.asarray(gW), np.asarray(gb)
    layers = checked[0][0]["layers"]
    return [(float(values[i]), _unpad(gW[i], gb[i], layers)) for i in range(count)]


def warm_up() -> None:
    """Compile the batched network kernel for the four default buckets (~2 s each; once per
    process, or once per machine with the persistent cache)."""
    for rows, units in itertools.product((ROWS_SMALL, ROWS_FLOOR), (UNITS_SMALL, UNITS_FLOOR)):
        layer = {"W": np.full((units, units), 0.5), "b": np.zeros(units), "activation": "tanh"}
        X, Y = np.ones((rows, units)), np.zeros((rows, units))
        network_gradients_many([{"layers": [layer], "loss": "mse", "l2": 0.0}], [X], [Y])


def network_gradients(net, X, Y):
    net, X, Y = validate_net("network_gradients", net, X, Y)
    return _network_gradients(net["layers"], net["loss"], net["l2"], X, Y)


def _flat(items: list[dict], size: int) -> np.ndarray:
    out = np.zeros(size)
    parts = [item[key].ravel() for item in items for key in ("W", "b")]
    if parts:
        flat = np.concatenate(parts)
        out[: flat.size] = flat
    return out


def _unflat(flat: np.ndarray, like: list[dict]) -> list[dict]:
    out, at = [], 0
    for item in like:
        arrays = {}
        for key in ("W", "b"):
            n = item[key].size
            arrays[key] = np.array(flat[at : at + n]).reshape(item[key].shape)
            at += n
        out.append(arrays)
    return out


def _step(params: list[dict], grads: list[dict], velocity: list[dict] | None, lr: float, momentum: float):
    size = _bucket(sum(p["W"].size + p["b"].size for p in params), FLAT_FLOOR)
    v = _flat(velocity, size) if velocity is not None else np.zeros(size)
    w, delta = _momentum(_flat(params, size), _flat(grads, size), v, lr, momentum)
    w, delta = np.asarray(w), np.asarray(delta)
    new_params = [{**p, **arrays} for p, arrays in zip(params, _unflat(w, params))]
    return new_params, _unflat(delta, params)


def sgd_momentum_step(params, grads, velocity, *, lr, momentum):
    where = "sgd_momentum_step"
    params, grads, velocity = validate_step(where, params, grads, velocity)
    lr, momentum = validate_hyper(where, lr, momentum)
    return _step(params, grads, velocity, lr, momentum)


def train(net, X, Y, *, lr, momentum=0.0, batch_size, epochs):
    net, X, Y, lr, momentum, batch_size, epochs = validate_train("train", net, X, Y, lr, momentum, batch_size, epochs)
    layers, velocity, batch_losses = net["layers"], None, []
    for _ in range(epochs):
        for rows in batches(X.shape[0], batch_size):
            value, grads = _network_gradients(layers, net["loss"], net["l2"], X[rows], Y[rows])
            batch_losses.append(value)
            layers, velocity = _step(layers, grads, velocity, lr, momentum)
    return {**net, "layers": layers}, batch_losses
