"""Hand-written recurrent layers in CS231n's convention (assignment 3's rnn_layers.py, and a GRU
step as torch writes it), in NumPy only: the model solution of the layer protocol's recurrent
ops (docs/layers.md).

    rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)
    lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) -> (next_h, next_c, cache)
    gru_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)
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
    "word_embedding_forward",
    "word_embedding_backward",
    "lstm_step_forward",
    "lstm_step_backward",
    "gru_step_forward",
    "gru_step_backward",
    "lstm_forward",
    "lstm_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
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
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
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
    dx = np.zeros((N, T, D), dtype=dh.dtype)
    dWx, dWh, db = np.zeros((D, H), dtype=dh.dtype), np.zeros((H, H), dtype=dh.dtype), np.zeros(H, dtype=dh.dtype)
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# --------------------------------------------------------------------------- #
# Word embedding: out[n, t] = W[x[n, t]].
# --------------------------------------------------------------------------- #


def word_embedding_forward(x, W):
    """out_ntd = W[x_nt, d]: each index picks a row of W.

    x: (N, T) integers in [0, V), W: (V, D)  ->  out (N, T, D), cache (x, V)."""
    return W[x], (x, W.shape[0])


def word_embedding_backward(dout, cache):
    """dW_v = Σ_{n,t: x_nt = v} dout_nt: a word that occurs twice gets both gradients, so they
    are added with np.add.at (dW[x] += dout would keep only one of them). x has no gradient.

    dout: (N, T, D)  ->  dW (V, D)."""
    x, V = cache
    dW = np.zeros((V, dout.shape[-1]), dtype=dout.dtype)
    np.add.at(dW, x, dout)
    return dW


# --------------------------------------------------------------------------- #
# LSTM: a = x Wx + h Wh + b in four blocks of H, gates i, f, o, g in that order.
# --------------------------------------------------------------------------- #


def _sigmoid(z):
    """σ(z) = 1/(1 + e^(−z)) = ½(1 + tanh(z/2)), the form that never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """a = x Wx + prev_h Wh + b = [a_i | a_f | a_o | a_g],
    i, f, o = σ(a_i), σ(a_f), σ(a_o),  g = tanh(a_g),
    next_c = f·prev_c + i·g,  next_h = o·tanh(next_c).

    x: (N, D), prev_h, prev_c: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    ->  next_h (N, H), next_c (N, H), cache."""
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H]), _sigmoid(a[:, 2 * H : 3 * H])
    g = np.tanh(a[:, 3 * H :])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """next_c reaches the loss directly (dnext_c) and through next_h = o·tanh(next_c):

        dc = dnext_c + dnext_h·o·(1 − tanh²(next_c)),   dprev_c = dc·f
        da_i = dc·g·i(1 − i),  da_f = dc·prev_c·f(1 − f),  da_o = dnext_h·tanh(next_c)·o(1 − o),
        da_g = dc·i·(1 − g²)
        da = [da_i | da_f | da_o | da_g]:  dx = da Wxᵀ, dprev_h = da Whᵀ, dWx = xᵀ da,
        dWh = prev_hᵀ da, db = Σ_n da

    dnext_h, dnext_c: (N, H)  ->  dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H),
    dWh (H, 4H), db (4H,)."""
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1.0 - tanh_c**2)
    da = np.hstack((dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * tanh_c * o * (1 - o), dc * i * (1 - g**2)))
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b):
    """(h_t, c_t) = lstm_step_forward(x_t, h_{t−1}, c_{t−1}) from h0 and c_{−1} = 0; only the
    hidden states are returned.

    x: (N, T, D), h0: (N, H)  ->  h (N, T, H), cache (one step's cache per t)."""
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
    prev_h, prev_c, caches = h0, np.zeros_like(h0), []
    for t in range(T):
        prev_h, prev_c, step = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(step)
    return h, caches


def lstm_backward(dh, cache):
    """BPTT as rnn_backward's, with the cell's gradient carried too: step t gets
    dh_t + dprev_h and dprev_c of step t + 1 (zero after the last step); c0 = 0 is a constant.

    dh: (N, T, H)  ->  dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)."""
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D), dtype=dh.dtype)
    dWx, dWh, db = np.zeros((D, 4 * H), dtype=dh.dtype), np.zeros((H, 4 * H), dtype=dh.dtype), np.zeros(4 * H, dtype=dh.dtype)
    dprev_h, dprev_c = np.zeros((N, H), dtype=dh.dtype), np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t, :] + dprev_h, dprev_c, cache[t])
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# --------------------------------------------------------------------------- #
# GRU: torch.nn.GRUCell's formula, gate blocks r, z, n in that order. CS231n has none; CMU
# 11-785's MyTorch (HW3P1) has GRUCell.
# --------------------------------------------------------------------------- #


def gru_step_forward(x, prev_h, Wx, Wh, b):
    """a = x Wx + b = [a_r | a_z | a_n],  c = prev_h Wh = [c_r | c_z | c_n],
    r = σ(a_r + c_r),  z = σ(a_z + c_z),  n = tanh(a_n + r·c_n),
    next_h = (1 − z)·n + z·prev_h.

    The reset gate scales prev_h Wh_n, after the product (torch's GRUCell; Cho et al.'s original
    GRU takes (r·prev_h) Wh_n instead, a different function). b is torch's bias_ih; its bias_hh,
    which r would scale too, is 0.

    x: (N, D), prev_h: (N, H), Wx: (D, 3H), Wh: (H, 3H), b: (3H,)  ->  next_h (N, H), cache."""
    H = prev_h.shape[1]
    a = x @ Wx + b
    c = prev_h @ Wh
    r = _sigmoid(a[:, :H] + c[:, :H])
    z = _sigmoid(a[:, H : 2 * H] + c[:, H : 2 * H])
    c_n = c[:, 2 * H :]
    n = np.tanh(a[:, 2 * H :] + r * c_n)
    next_h = (1 - z) * n + z * prev_h
    return next_h, (x, prev_h, Wx, Wh, r, z, n, c_n)


def gru_step_backward(dnext_h, cache):
    """prev_h reaches next_h directly (z·prev_h) and through the three products c = prev_h Wh:

        dn = dnext_h·(1 − z),   dz = dnext_h·(prev_h − n)
        da_n = dn·(1 − n²),   dc_n = da_n·r,   dr = da_n·c_n
        da_r = dr·r(1 − r),   da_z = dz·z(1 − z)
        da = [da_r | da_z | da_n],  dc = [da_r | da_z | dc_n]:
        dx = da Wxᵀ,  dWx = xᵀ da,  db = Σ_n da,  dWh = prev_hᵀ dc,  dprev_h = dc Whᵀ + dnext_h·z

    dnext_h: (N, H)  ->  dx (N, D), dprev_h (N, H), dWx (D, 3H), dWh (H, 3H), db (3H,)."""
    x, prev_h, Wx, Wh, r, z, n, c_n = cache
    dn = dnext_h * (1 - z)
    dz = dnext_h * (prev_h - n)
    da_n = dn * (1 - n**2)
    da_r = da_n * c_n * r * (1 - r)
    da_z = dz * z * (1 - z)
    da = np.hstack((da_r, da_z, da_n))
    dc = np.hstack((da_r, da_z, da_n * r))
    dprev_h = dc @ Wh.T + dnext_h * z
    return da @ Wx.T, dprev_h, x.T @ da, prev_h.T @ dc, da.sum(axis=0)


# --------------------------------------------------------------------------- #
# Temporal affine and the masked temporal softmax loss: every step at once.
# --------------------------------------------------------------------------- #


def temporal_affine_forward(x, w, b):
    """out_nt = x_nt w + b at every step.

    x: (N, T, D), w: (D, M), b: (M,)  ->  out (N, T, M), cache (x, w)."""
    return x @ w + b, (x, w)


def temporal_affine_backward(dout, cache):
    """dx = dout wᵀ,  dw = Σ_{n,t} x_ntᵀ dout_nt,  db = Σ_{n,t} dout_nt.

    dout: (N, T, M)  ->  dx (N, T, D), dw (D, M), db (M,)."""
    x, w = cache
    D, M = w.shape
    return dout @ w.T, x.reshape(-1, D).T @ dout.reshape(-1, M), dout.sum(axis=(0, 1))


def temporal_softmax_loss(x, y, mask):
    """L = −(1/N)·Σ_{n,t} mask_nt·log softmax(x_nt)[y_nt]: summed over the steps the mask keeps,
    divided by N only (CS231n's convention, not by the number of kept steps);
    ∂L/∂x_ntv = mask_nt·(softmax(x_nt)_v − [v = y_nt])/N.

    x: (N, T, V), y: (N, T) ints in [0, V), mask: (N, T) booleans  ->  loss (float), dx (N, T, V)."""
    N, T, V = x.shape
    flat = x.reshape(N * T, V)
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows, labels, keep = np.arange(N * T), y.reshape(-1), mask.reshape(-1)
    loss = -(keep * log_probs[rows, labels]).sum() / N
    dx = np.exp(log_probs)
    dx[rows, labels] -= 1.0
    dx *= keep[:, None] / N
    return float(loss), dx.reshape(N, T, V)
