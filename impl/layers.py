"""Hand-written layers in CS231n's convention, in NumPy only: the model solution of the layer
protocol (docs/layers.md) and the implementation the generic layer check verifies.

    <op>_forward(x, <params>…, [<op>_param]) -> (out, cache)
    <op>_backward(dout, cache) -> (dx, d<params>…)        (dx alone for one input)
    <loss>(x, y) -> (loss, dx)

Like impl/backprop.py it imports nothing but NumPy (and the standard library's math, for GELU's
erf), so it can be handed out, graded as a
student file, or copied, as it is. Every backward returns new arrays: nothing it returns shares
memory with an input, and no input is changed in place (the parameter dicts aside, whose
running averages the forward updates, as CS231n's does).
"""

from __future__ import annotations

import math

import numpy as np

LAYER_FUNCTIONS: tuple[str, ...] = (
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "gelu_forward",
    "gelu_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_forward",
    "layernorm_backward",
    "dropout_forward",
    "dropout_backward",
    "softmax_loss",
    "svm_loss",
)
__all__ = ["LAYER_FUNCTIONS", *LAYER_FUNCTIONS]


# --------------------------------------------------------------------------- #
# Affine: out = x̃ w + b, x̃ = x reshaped to (N, D), D = d₁·…·d_k.
# --------------------------------------------------------------------------- #


def affine_forward(x, w, b):
    """out = x̃ @ w + b.

    x: (N, d₁, …, d_k), w: (D, M), b: (M,)  ->  out: (N, M), cache (x, w, b)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """With out_nm = Σ_d x̃_nd w_dm + b_m:

        dx̃ = dout @ wᵀ   (then reshaped to x's shape)
        dw = x̃ᵀ @ dout   ∂out_nm/∂w_dm = x̃_nd, summed over the batch
        db = Σ_n dout_n   every row adds b

    dout: (N, M)  ->  dx (N, d₁…d_k), dw (D, M), db (M,)."""
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


# --------------------------------------------------------------------------- #
# ReLU: out = max(0, x); the kink at x = 0 takes the subgradient 0.
# --------------------------------------------------------------------------- #


def relu_forward(x):
    """out = max(0, x), elementwise.  x: any shape -> out: its shape, cache x."""
    return np.maximum(x, 0.0), x


def relu_backward(dout, cache):
    """relu'(x) = 1 for x > 0, 0 for x < 0 (and 0 at x = 0):  dx = dout·[x > 0]."""
    x = cache
    return dout * (x > 0)


# --------------------------------------------------------------------------- #
# GELU, exact: out = x·Φ(x), Φ the standard normal's CDF (CMU 11-785's MyTorch has it).
# --------------------------------------------------------------------------- #

_erf = np.vectorize(math.erf, otypes=[float])


def gelu_forward(x):
    """out = x·Φ(x), Φ(x) = ½(1 + erf(x/√2)).  x: any shape -> out: its shape, cache x."""
    return x * 0.5 * (1.0 + _erf(x / math.sqrt(2.0))).astype(x.dtype), x


def gelu_backward(dout, cache):
    """gelu'(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π):  dx = dout·gelu'(x)."""
    x = cache
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return (dout * (cdf + x * pdf)).astype(x.dtype)


# --------------------------------------------------------------------------- #
# Batch normalisation over the batch (axis 0), per feature.
# --------------------------------------------------------------------------- #


def batchnorm_forward(x, gamma, beta, bn_param):
    """train: μ = mean_n x, σ² = mean_n (x − μ)² (biased), x̂ = (x − μ)/√(σ² + ε),
    out = γ·x̂ + β; the running averages r ← m·r + (1 − m)·(batch statistic) stored in bn_param.
    test: x̂ from bn_param's running_mean and running_var instead.

    x: (N, D), gamma, beta: (D,); bn_param: mode ('train'/'test'), eps (1e-5), momentum (0.9),
    running_mean, running_var (D,), zeros when absent  ->  out (N, D), cache."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        mu, var = running_mean, running_var
    else:
        raise ValueError(f'batchnorm_forward: invalid mode "{mode}"')
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    out = gamma * x_hat + beta
    return out, (mode, x_hat, gamma, inv_std)


def batchnorm_backward(dout, cache):
    """The graph x → (x − μ) → x̂ → out, one step at a time (train mode):

        dγ = Σ_n dout·x̂,  dβ = Σ_n dout,  dx̂ = dout·γ
        dσ² = Σ_n dx̂·(x − μ)·(−½)(σ² + ε)^(−3/2)
        dμ = −Σ_n dx̂/√(σ² + ε) − dσ²·(2/N)·Σ_n (x − μ)      (the second term is 0)
        dx = dx̂/√(σ² + ε) + dσ²·2(x − μ)/N + dμ/N

    In test mode μ and σ² are constants: dx = dx̂/√(σ² + ε).
    dout: (N, D)  ->  dx (N, D), dgamma (D,), dbeta (D,)."""
    mode, x_hat, gamma, inv_std = cache
    N = dout.shape[0]
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dx_hat = dout * gamma
    if mode == "test":
        return dx_hat * inv_std, dgamma, dbeta
    centred = x_hat / inv_std  # x − μ
    dvar = (dx_hat * centred).sum(axis=0) * -0.5 * inv_std**3
    dmu = -(dx_hat * inv_std).sum(axis=0) + dvar * -2.0 * centred.mean(axis=0)
    dx = dx_hat * inv_std + dvar * 2.0 * centred / N + dmu / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The same gradients simplified on paper (train mode):

        dx = (γ/√(σ² + ε))·(dout − mean_n dout − x̂·mean_n(dout·x̂))

    dout: (N, D)  ->  dx (N, D), dgamma (D,), dbeta (D,)."""
    mode, x_hat, gamma, inv_std = cache
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    if mode == "test":
        return dout * gamma * inv_std, dgamma, dbeta
    dx = gamma * inv_std * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------- #
# Layer normalisation over each sample's features (axis 1); no running state.
# --------------------------------------------------------------------------- #


def layernorm_forward(x, gamma, beta, ln_param):
    """μ_n = mean_d x_nd, σ²_n = mean_d (x_nd − μ_n)², x̂ = (x − μ)/√(σ² + ε), out = γ·x̂ + β.

    x: (N, D), gamma, beta: (D,); ln_param: eps (1e-5)  ->  out (N, D), cache."""
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    x_hat = (x - mu) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def layernorm_backward(dout, cache):
    """batchnorm_backward_alt's formula with the roles of the axes swapped: the statistics are
    per sample, so the means run over the features, and γ, β are still summed over the batch:

        dx = (1/√(σ² + ε))·(dx̂ − mean_d dx̂ − x̂·mean_d(dx̂·x̂)),  dx̂ = dout·γ

    dout: (N, D)  ->  dx (N, D), dgamma (D,), dbeta (D,)."""
    x_hat, gamma, inv_std = cache
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - dx_hat.mean(axis=1, keepdims=True) - x_hat * (dx_hat * x_hat).mean(axis=1, keepdims=True))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


# --------------------------------------------------------------------------- #
# Inverted dropout: p is the probability of KEEPING a unit.
# --------------------------------------------------------------------------- #


def dropout_forward(x, dropout_param):
    """train: m_i = [u_i < p], u ~ U[0, 1) from np.random.seed(seed) when a seed is given;
    out = x·m/p, so E[out] = x and test mode needs no scaling.  test: out = x (a copy).

    x: any shape; dropout_param: p, mode, seed (optional)  ->  out (x's shape), cache."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p).astype(x.dtype) / p
        out = x * mask
    elif mode == "test":
        out = x.copy()
    else:
        raise ValueError(f'dropout_forward: invalid mode "{mode}"')
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    """∂out/∂x = m/p in train mode (the forward's mask), 1 in test mode.

    dout: out's shape  ->  dx (x's shape)."""
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return dout * mask
    return dout.copy()


# --------------------------------------------------------------------------- #
# Classifier losses on scores x (N, C) and labels y (N,): mean over the batch.
# --------------------------------------------------------------------------- #


def softmax_loss(x, y):
    """L = −(1/N)·Σ_n log s_n,y_n with s = softmax(x) per row (shifted by the row's max, which
    cancels, so e^x never overflows);  ∂L/∂x_nc = (s_nc − [c = y_n])/N.

    x: (N, C), y: (N,) ints in [0, C)  ->  loss (float), dx (N, C)."""
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].sum() / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1.0
    dx /= N
    return float(loss), dx


def svm_loss(x, y):
    """L = (1/N)·Σ_n Σ_{j≠y_n} max(0, x_nj − x_n,y_n + 1) (margin 1);
    ∂L/∂x_nj = [margin_nj > 0]/N for j ≠ y_n and −(Σ_{j≠y_n} [margin_nj > 0])/N for j = y_n
    (at a margin of exactly 0 the subgradient 0).

    x: (N, C), y: (N,) ints in [0, C)  ->  loss (float), dx (N, C)."""
    N = x.shape[0]
    rows = np.arange(N)
    margins = np.maximum(0.0, x - x[rows, y][:, None] + 1.0)
    margins[rows, y] = 0.0
    loss = margins.sum() / N
    positive = (margins > 0).astype(x.dtype)
    dx = positive.copy()
    dx[rows, y] -= positive.sum(axis=1)
    dx /= N
    return float(loss), dx


# =========================================================================== #
# CS231n assignment 1: linear classifiers, scores s = X·W (W (D, C), X (N, D), y (N,)), each
# loss with reg·ΣW² added (the handout's own line: no ½, so its gradient is 2·reg·W), in the
# handout's two forms: a loop over the samples and one without.
# =========================================================================== #

LINEAR_FUNCTIONS = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
#: CMU 11-785's MyTorch (HW2P1) resamples and flattens (defined at the end of this file).
RESAMPLING_FUNCTIONS = tuple(
    f"{op}_{step}"
    for op in ("downsample1d", "upsample1d", "downsample2d", "upsample2d", "conv_transpose1d", "conv_transpose2d", "flatten")
    for step in ("forward", "backward")
)
LAYER_FUNCTIONS = (*LAYER_FUNCTIONS, *LINEAR_FUNCTIONS, *RESAMPLING_FUNCTIONS)


def svm_loss_naive(W, X, y, reg):
    """L = (1/N)·Σ_n Σ_{j≠y_n} max(0, s_nj − s_n,y_n + 1) + reg·ΣW²; each positive margin adds
    X_n to dW's column j and takes it from column y_n; dW = that/N + 2·reg·W.

    W: (D, C), X: (N, D), y: (N,) ints in [0, C), reg: float  ->  loss (float), dW (D, C)."""
    N, C = X.shape[0], W.shape[1]
    loss, dW = 0.0, np.zeros_like(W)
    for n in range(N):
        scores = X[n] @ W
        for j in range(C):
            margin = scores[j] - scores[y[n]] + 1.0
            if j != y[n] and margin > 0:
                loss += margin
                dW[:, j] += X[n]
                dW[:, y[n]] -= X[n]
    return float(loss / N + reg * np.sum(W * W)), dW / N + 2 * reg * W


def svm_loss_vectorized(W, X, y, reg):
    """svm_loss_naive without the loops: svm_loss of the scores, dW = Xᵀ·∂L/∂s + 2·reg·W.

    W: (D, C), X: (N, D), y: (N,), reg: float  ->  loss (float), dW (D, C)."""
    loss, dscores = svm_loss(X @ W, y)
    return loss + float(reg * np.sum(W * W)), X.T @ dscores + 2 * reg * W


def softmax_loss_naive(W, X, y, reg):
    """L = −(1/N)·Σ_n log p_n,y_n + reg·ΣW², p_n = softmax(s_n) shifted by the row's max;
    sample n adds X_n·(p_nj − [j = y_n]) to dW's column j; dW = that/N + 2·reg·W.

    W: (D, C), X: (N, D), y: (N,) ints in [0, C), reg: float  ->  loss (float), dW (D, C)."""
    N, C = X.shape[0], W.shape[1]
    loss, dW = 0.0, np.zeros_like(W)
    for n in range(N):
        scores = X[n] @ W
        scores = scores - scores.max()
        probs = np.exp(scores) / np.sum(np.exp(scores))
        loss -= np.log(probs[y[n]])
        for j in range(C):
            dW[:, j] += X[n] * (probs[j] - (j == y[n]))
    return float(loss / N + reg * np.sum(W * W)), dW / N + 2 * reg * W


def softmax_loss_vectorized(W, X, y, reg):
    """softmax_loss_naive without the loops: softmax_loss of the scores, dW = Xᵀ·∂L/∂s + 2·reg·W.

    W: (D, C), X: (N, D), y: (N,), reg: float  ->  loss (float), dW (D, C)."""
    loss, dscores = softmax_loss(X @ W, y)
    return loss + float(reg * np.sum(W * W)), X.T @ dscores + 2 * reg * W


# =========================================================================== #
# CS231n assignment 2: convolution, pooling, spatial normalisation.
# =========================================================================== #

CONV_FUNCTIONS = (
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "conv1d_forward",
    "conv1d_backward",
    "avg_pool_forward",
    "avg_pool_backward",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
)
LAYER_FUNCTIONS = (*LAYER_FUNCTIONS, *CONV_FUNCTIONS)
__all__ = ["LAYER_FUNCTIONS", *LAYER_FUNCTIONS]


def _windows(size, window, stride, pad, what):
    """1 + (size + 2·pad − window)/stride windows along an axis; ValueError when they do not tile it."""
    span = size + 2 * pad - window
    if span < 0 or span % stride:
        raise ValueError(f"{what}: a window of {window} with stride {stride} does not tile {size} + 2·{pad}")
    return 1 + span // stride


# --------------------------------------------------------------------------- #
# Convolution (a cross-correlation, as CS231n's), zero padding, one kernel tap at a time.
# --------------------------------------------------------------------------- #


def _zero_pad(x, pad):
    """x̄: x with `pad` zeros on each side of every axis after N and C (H and W, or L); what
    np.pad(x, ((0, 0), (0, 0), (pad, pad), …)) gives, at a thirtieth of its cost on small arrays."""
    inner = tuple(slice(pad, pad + size) for size in x.shape[2:])
    x_pad = np.zeros((*x.shape[:2], *(size + 2 * pad for size in x.shape[2:])), dtype=x.dtype)
    x_pad[(slice(None), slice(None), *inner)] = x
    return x_pad


def _taps(p, q, stride, H_out, W_out):
    """The rows and columns of x̄ that kernel tap (p, q) meets, one per output position:
    x̄[..., i·s + p, j·s + q] for i < H', j < W'."""
    return slice(p, p + stride * H_out, stride), slice(q, q + stride * W_out, stride)


def conv_forward_naive(x, w, b, conv_param):
    """out[n, f, i, j] = Σ_{c,p,q} x̄[n, c, i·s + p, j·s + q]·w[f, c, p, q] + b[f],
    x̄ = x zero-padded by `pad` on each side of H and W, s = stride; summed one kernel tap
    (p, q) at a time, each tap an (N, C, H', W') slice of x̄ through the (F, C) matrix w[:, :, p, q].

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,); conv_param: stride, pad
    ->  out (N, F, H', W'), H' = 1 + (H + 2·pad − HH)/stride (W' alike), cache (x, w, b, conv_param)."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = _windows(H, HH, stride, pad, "conv_forward_naive")
    W_out = _windows(W, WW, stride, pad, "conv_forward_naive")
    x_pad = _zero_pad(x, pad)
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for p in range(HH):
        for q in range(WW):
            rows, cols = _taps(p, q, stride, H_out, W_out)
            out += np.einsum("nchw,fc->nfhw", x_pad[:, :, rows, cols], w[:, :, p, q])
    out += b[None, :, None, None]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """Tap (p, q) carried x̄[n, c, i·s + p, j·s + q] to out[n, f, i, j] through w[f, c, p, q], so,
    tap by tap:

        dx̄[n, c, i·s + p, j·s + q] += Σ_f dout[n, f, i, j]·w[f, c, p, q]   then dx = dx̄ cropped
        dw[f, c, p, q] = Σ_{n,i,j} dout[n, f, i, j]·x̄[n, c, i·s + p, j·s + q]
        db[f] = Σ_{n,i,j} dout[n, f, i, j]

    dout: (N, F, H', W')  ->  dx (N, C, H, W), dw (F, C, HH, WW), db (F,)."""
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    H, W = x.shape[2:]
    HH, WW = w.shape[2:]
    H_out, W_out = dout.shape[2:]
    x_pad = _zero_pad(x, pad)
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for p in range(HH):
        for q in range(WW):
            rows, cols = _taps(p, q, stride, H_out, W_out)
            dx_pad[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, p, q])
            dw[:, :, p, q] = np.einsum("nfhw,nchw->fc", dout, x_pad[:, :, rows, cols])
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


# --------------------------------------------------------------------------- #
# Max pooling, no padding; a tie routes the gradient to the first maximum.
# --------------------------------------------------------------------------- #


def max_pool_forward_naive(x, pool_param):
    """out[n, c, i, j] = max of the window x[n, c, i·s : i·s + PH, j·s : j·s + PW], s = stride.

    x: (N, C, H, W); pool_param: pool_height PH, pool_width PW, stride
    ->  out (N, C, H', W'), H' = 1 + (H − PH)/stride (W' alike), cache (x, pool_param)."""
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out = _windows(H, PH, stride, 0, "max_pool_forward_naive")
    W_out = _windows(W, PW, stride, 0, "max_pool_forward_naive")
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + PH, j * stride : j * stride + PW].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """∂out[n, c, i, j]/∂x = 1 at the window's maximum, 0 elsewhere: dout[n, c, i, j] goes to
    the argmax of its window (at a tie the first maximum, row-major, as np.argmax picks it),
    and adds up where overlapping windows share a maximum.

    dout: (N, C, H', W')  ->  dx (N, C, H, W)."""
    x, pool_param = cache
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride : i * stride + PH, j * stride : j * stride + PW]
                    di, dj = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + di, j * stride + dj] += dout[n, c, i, j]
    return dx


# --------------------------------------------------------------------------- #
# 1-D convolution (a cross-correlation, as conv's), zero padding at both ends. CS231n has none;
# CMU 11-785's MyTorch (HW2P1) has Conv1d, with these shapes.
# --------------------------------------------------------------------------- #


def conv1d_forward(x, w, b, conv_param):
    """out[n, f, i] = Σ_{c,k} x̄[n, c, i·s + k]·w[f, c, k] + b[f],
    x̄ = x zero-padded by `pad` at both ends of L, s = stride.

    x: (N, C, L), w: (F, C, K), b: (F,); conv_param: stride, pad
    ->  out (N, F, L'), L' = 1 + (L + 2·pad − K)/stride, cache (x, w, conv_param)."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, L = x.shape
    F, _, K = w.shape
    L_out = _windows(L, K, stride, pad, "conv1d_forward")
    x_pad = _zero_pad(x, pad)
    out = np.zeros((N, F, L_out), dtype=x.dtype)
    for i in range(L_out):
        window = x_pad[:, :, i * stride : i * stride + K]  # (N, C, K)
        out[:, :, i] = np.einsum("nck,fck->nf", window, w) + b
    return out, (x, w, conv_param)


def conv1d_backward(dout, cache):
    """Each out[n, f, i] saw the window x̄[n, :, i·s : i·s + K] through w[f], so, window by window:

        dx̄[n, :, window] += Σ_f dout[n, f, i]·w[f]      then dx = dx̄ with the padding cropped
        dw[f] += Σ_n dout[n, f, i]·x̄[n, :, window]      summed over every sample and window
        db[f] = Σ_{n,i} dout[n, f, i]

    dout: (N, F, L')  ->  dx (N, C, L), dw (F, C, K), db (F,)."""
    x, w, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    L, K = x.shape[2], w.shape[2]
    x_pad = _zero_pad(x, pad)
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for i in range(dout.shape[2]):
        window = slice(i * stride, i * stride + K)
        dx_pad[:, :, window] += np.einsum("nf,fck->nck", dout[:, :, i], w)
        dw += np.einsum("nf,nck->fck", dout[:, :, i], x_pad[:, :, window])
    dx = dx_pad[:, :, pad : pad + L]
    db = dout.sum(axis=(0, 2))
    return dx, dw, db


# --------------------------------------------------------------------------- #
# Average pooling, no padding: each window's mean. CS231n has max pooling only; CMU 11-785's
# MyTorch (HW2P1) has MeanPool2d. No "_naive" suffix: CS231n gives that to the loop versions of
# the ops it also ships fast (Cython) versions of, and average pooling has no such pair.
# --------------------------------------------------------------------------- #


def avg_pool_forward(x, pool_param):
    """out[n, c, i, j] = (1/(PH·PW))·Σ of the window x[n, c, i·s : i·s + PH, j·s : j·s + PW], s = stride.

    x: (N, C, H, W); pool_param: pool_height PH, pool_width PW, stride
    ->  out (N, C, H', W'), H' = 1 + (H − PH)/stride (W' alike), cache (x.shape, pool_param)."""
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out = _windows(H, PH, stride, 0, "avg_pool_forward")
    W_out = _windows(W, PW, stride, 0, "avg_pool_forward")
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + PH, j * stride : j * stride + PW].mean(axis=(2, 3))
    return out, (x.shape, pool_param)


def avg_pool_backward(dout, cache):
    """∂out[n, c, i, j]/∂x = 1/(PH·PW) at every element of its window, 0 elsewhere: each
    dout[n, c, i, j]/(PH·PW) is spread over its window, and adds up where windows overlap.

    dout: (N, C, H', W')  ->  dx (N, C, H, W)."""
    x_shape, pool_param = cache
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out, W_out = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    share = dout / (PH * PW)
    for i in range(H_out):
        for j in range(W_out):
            dx[:, :, i * stride : i * stride + PH, j * stride : j * stride + PW] += share[:, :, i, j, None, None]
    return dx


# --------------------------------------------------------------------------- #
# Spatial batch normalisation: batchnorm per channel over its N·H·W values.
# --------------------------------------------------------------------------- #


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """batchnorm_forward with each channel a feature and its N·H·W values the batch: μ_c, σ²_c
    over axes (0, 2, 3), x̂ = (x − μ_c)/√(σ²_c + ε), out = γ_c·x̂ + β_c; running averages per channel.

    x: (N, C, H, W), gamma, beta: (C,); bn_param as batchnorm_forward's, running_mean and
    running_var (C,)  ->  out (N, C, H, W), cache."""
    mode = bn_param["mode"]
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    C = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(C, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(C, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=(0, 2, 3), keepdims=True)  # (1, C, 1, 1)
        var = x.var(axis=(0, 2, 3), keepdims=True)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu.mean(axis=(0, 2, 3))  # (C,)
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var.mean(axis=(0, 2, 3))
    elif mode == "test":
        mu, var = running_mean.reshape(1, C, 1, 1), running_var.reshape(1, C, 1, 1)
    else:
        raise ValueError(f'spatial_batchnorm_forward: invalid mode "{mode}"')
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)
    return out, (mode, x_hat, gamma, inv_std)


def spatial_batchnorm_backward(dout, cache):
    """batchnorm_backward_alt's formula, the means over each channel's N·H·W values (train):

        dx = (γ_c/√(σ²_c + ε))·(dout − mean dout − x̂·mean(dout·x̂)),  test: dx = dout·γ_c/√(σ²_c + ε)
        dγ = Σ_{n,h,w} dout·x̂,  dβ = Σ_{n,h,w} dout

    dout: (N, C, H, W)  ->  dx (N, C, H, W), dgamma (C,), dbeta (C,)."""
    mode, x_hat, gamma, inv_std = cache
    axes = (0, 2, 3)
    dgamma = (dout * x_hat).sum(axis=axes)
    dbeta = dout.sum(axis=axes)
    scale = gamma.reshape(1, -1, 1, 1) * inv_std
    if mode == "test":
        return dout * scale, dgamma, dbeta
    dx = scale * (dout - dout.mean(axis=axes, keepdims=True) - x_hat * (dout * x_hat).mean(axis=axes, keepdims=True))
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------- #
# Spatial group normalisation: layernorm within G groups of contiguous channels.
# --------------------------------------------------------------------------- #


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Each sample's C channels split into G contiguous groups of C/G; μ, σ² (biased) over a
    group's (C/G)·H·W values, x̂ = (x − μ_ng)/√(σ²_ng + ε), out = γ_c·x̂ + β_c.

    x: (N, C, H, W), gamma, beta: (1, C, 1, 1) (as CS231n's notebook makes them; its docstring
    says (C,)), G a divisor of C; gn_param: eps (1e-5)  ->  out (N, C, H, W), cache."""
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    if C % G:
        raise ValueError(f"spatial_groupnorm_forward: G = {G} does not divide C = {C}")
    groups = x.reshape(N, G, C // G, H, W)  # group g: channels g·C/G … (g + 1)·C/G − 1
    mu = groups.mean(axis=(2, 3, 4), keepdims=True)
    inv_std = 1.0 / np.sqrt(groups.var(axis=(2, 3, 4), keepdims=True) + eps)
    x_hat = ((groups - mu) * inv_std).reshape(N, C, H, W)
    return gamma * x_hat + beta, (G, x_hat, gamma, inv_std)


def spatial_groupnorm_backward(dout, cache):
    """layernorm_backward within each group: with dx̂ = dout·γ and the means over a group's
    (C/G)·H·W values,

        dx = (1/√(σ² + ε))·(dx̂ − mean dx̂ − x̂·mean(dx̂·x̂))
        dγ = Σ_{n,h,w} dout·x̂,  dβ = Σ_{n,h,w} dout, both (1, C, 1, 1) as γ and β

    dout: (N, C, H, W)  ->  dx (N, C, H, W), dgamma, dbeta (1, C, 1, 1)."""
    G, x_hat, gamma, inv_std = cache
    N = dout.shape[0]
    dx_hat = (dout * gamma).reshape(N, G, -1)
    x_hat_g = x_hat.reshape(N, G, -1)
    mean_dx_hat = dx_hat.mean(axis=2, keepdims=True)
    mean_dx_hat_x_hat = (dx_hat * x_hat_g).mean(axis=2, keepdims=True)
    dx = inv_std.reshape(N, G, 1) * (dx_hat - mean_dx_hat - x_hat_g * mean_dx_hat_x_hat)
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True)
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    return dx.reshape(dout.shape), dgamma, dbeta


# =========================================================================== #
# CMU 11-785's MyTorch (HW2P1): resampling along the spatial axes (the last one or two), and
# flattening. resample_param: {"factor": k}.
# =========================================================================== #


def _every(k, dims):
    """The index that keeps every k-th sample of the last `dims` axes."""
    return (slice(None), slice(None), *([slice(None, None, k)] * dims))


def _downsample_forward(x, resample_param, dims):
    k = resample_param["factor"]
    return x[_every(k, dims)].copy(), (x.shape, k, dims)


def _downsample_backward(dout, cache):
    """The adjoint of keeping every k-th sample: dout where they were, zeros elsewhere."""
    shape, k, dims = cache
    dx = np.zeros(shape, dtype=dout.dtype)
    dx[_every(k, dims)] = dout
    return dx


def _upsample_forward(x, resample_param, dims):
    k = resample_param["factor"]
    out = np.zeros((*x.shape[:2], *(k * (n - 1) + 1 for n in x.shape[2:])), dtype=x.dtype)
    out[_every(k, dims)] = x
    return out, (k, dims)


def _upsample_backward(dout, cache):
    """The adjoint of spreading x k apart with zeros between: dout at every k-th sample."""
    k, dims = cache
    return dout[_every(k, dims)].copy()


def downsample1d_forward(x, resample_param):
    """out = x[:, :, ::k].  x: (N, C, L); resample_param: factor k  ->  out (N, C, (L − 1)//k + 1), cache."""
    return _downsample_forward(x, resample_param, 1)


def downsample1d_backward(dout, cache):
    """dx = zeros of x's shape with dx[:, :, ::k] = dout.  dout: (N, C, Lo)  ->  dx (N, C, L)."""
    return _downsample_backward(dout, cache)


def upsample1d_forward(x, resample_param):
    """out[:, :, ::k] = x, zeros elsewhere.  x: (N, C, L); resample_param: factor k  ->  out (N, C, k·(L − 1) + 1), cache."""
    return _upsample_forward(x, resample_param, 1)


def upsample1d_backward(dout, cache):
    """dx = dout[:, :, ::k].  dout: (N, C, Lo)  ->  dx (N, C, L)."""
    return _upsample_backward(dout, cache)


def downsample2d_forward(x, resample_param):
    """out = x[:, :, ::k, ::k].  x: (N, C, H, W); resample_param: factor k  ->  out (N, C, Ho, Wo), cache."""
    return _downsample_forward(x, resample_param, 2)


def downsample2d_backward(dout, cache):
    """dx = zeros of x's shape with dx[:, :, ::k, ::k] = dout.  dout: (N, C, Ho, Wo)  ->  dx (N, C, H, W)."""
    return _downsample_backward(dout, cache)


def upsample2d_forward(x, resample_param):
    """out[:, :, ::k, ::k] = x, zeros elsewhere.  x: (N, C, H, W); resample_param: factor k  ->  out, cache."""
    return _upsample_forward(x, resample_param, 2)


def upsample2d_backward(dout, cache):
    """dx = dout[:, :, ::k, ::k].  dout: (N, C, Ho, Wo)  ->  dx (N, C, H, W)."""
    return _upsample_backward(dout, cache)


def flatten_forward(x):
    """out = x.reshape(N, d₁·…·d_k).  x: (N, d₁, …, d_k)  ->  out (N, Πd), cache x's shape."""
    return x.reshape(x.shape[0], -1).copy(), x.shape


def flatten_backward(dout, cache):
    """dx = dout.reshape(x's shape).  dout: (N, Πd)  ->  dx (N, d₁, …, d_k)."""
    return dout.reshape(cache).copy()


def conv_transpose1d_forward(x, w, b, conv_param):
    """out = conv1d (stride 1, no padding) of upsample1d(x, k).  x: (N, C, L), w: (F, C, K), b: (F,);
    conv_param: factor k  ->  out (N, F, k·(L − 1) + 1 − K + 1), cache."""
    up, up_cache = upsample1d_forward(x, {"factor": conv_param["factor"]})
    out, conv_cache = conv1d_forward(up, w, b, {"stride": 1, "pad": 0})
    return out, (up_cache, conv_cache)


def conv_transpose1d_backward(dout, cache):
    """The convolution's backward, then the upsampling's: dx = dup[:, :, ::k].  -> (dx, dw, db)."""
    up_cache, conv_cache = cache
    dup, dw, db = conv1d_backward(dout, conv_cache)
    return upsample1d_backward(dup, up_cache), dw, db


def conv_transpose2d_forward(x, w, b, conv_param):
    """out = conv (stride 1, no padding) of upsample2d(x, k).  x: (N, C, H, W), w: (F, C, HH, WW), b: (F,);
    conv_param: factor k  ->  out (N, F, Ho, Wo), cache."""
    up, up_cache = upsample2d_forward(x, {"factor": conv_param["factor"]})
    out, conv_cache = conv_forward_naive(up, w, b, {"stride": 1, "pad": 0})
    return out, (up_cache, conv_cache)


def conv_transpose2d_backward(dout, cache):
    """The convolution's backward, then the upsampling's.  -> (dx, dw, db)."""
    up_cache, conv_cache = cache
    dup, dw, db = conv_backward_naive(dout, conv_cache)
    return upsample2d_backward(dup, up_cache), dw, db
