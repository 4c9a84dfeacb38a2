"""Hand-written recurrent layers in CS231n's convention (assignment 3's rnn_layers.py), in NumPy
only: the model solution of the layer protocol's recurrent ops (docs/layers.md).

    rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)
    lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) -> (next_h, next_c, cache)
    <op>_backward(d<outputs>…, cache) -> (d<inputs>…)
    temporal_softmax_loss(x, y, mask) -> (loss, dx)

Sizes: N sequences, T time steps, D input features, H hidden units, V words (or classes), M
outputs. Like impl/layers.py it imports nothing but NumPy and returns new arrays only: nothing
it returns shares memory with an input, and no input (dnext_c included) is changed in place.
"""

from __future__ import annotations

import numpy as np

LAYER_FUNCTIONS = (
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
)
__all__ = ["LAYER_FUNCTIONS", *LAYER_FUNCTIONS]


# --------------------------------------------------------------------------- #
# Vanilla RNN: h_t = tanh(x_t Wx + h_{t−1} Wh + b).
# --------------------------------------------------------------------------- #


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """next_h = tanh(x Wx + prev_h Wh + b).

    x: (N, D), prev_h: (N, H), Wx: (D, H), Wh: (H, H), b: (H,)  ->  next_h (N, H), cache."""
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """With a = x Wx + prev_h Wh + b and tanh'(a) = 1 − tanh²(a) = 1 − next_h²:

        da = dnext_h·(1 − next_h²)
        dx = da Wxᵀ,  dprev_h = da Whᵀ,  dWx = xᵀ da,  dWh = prev_hᵀ da,  db = Σ_n da

    dnext_h: (N, H)  ->  dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,)."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1.0 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """h_t = rnn_step_forward(x_t, h_{t−1}) for t = 0…T−1, from h_{−1} = h0.

    x: (N, T, D), h0: (N, H)  ->  h (N, T, H), cache (one step's cache per t)."""
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev_h, caches = h0, []
    for t in range(T):
        prev_h, step = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(step)
    return h, caches


def rnn_backward(dh, cache):
    """Backpropagation through time. h_t feeds the loss directly (dh[:, t]) and through h_{t+1},
    so the gradient reaching step t is dh_t + dprev_h from step t + 1; the weights' gradients
    are the sums over the steps:

        g_{T−1} = dh_{T−1},   g_t = dh_t + (dprev_h of step t + 1),   dh0 = dprev_h of step 0

    dh: (N, T, H)  ->  dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,)."""
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
