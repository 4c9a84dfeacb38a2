"""Variants of impl/layers.py's convolution, pooling and spatial normalisation (CS231n
assignment 2, and 11-785's conv1d and average pooling): the bugs the check must catch and
locate, and right ways to write the ops differently (vectorised, by reshape, by a full
convolution) that must pass. Registered in tests/layer_variants."""

from __future__ import annotations

import ast

from gradverify.diagnoses import Diagnosis
from gradverify.references.compare import Cause
from tests.layer_variants import LAYERS_SOURCE, LayerVariant, _v


def _function(name: str) -> str:
    """The source of impl/layers.py's function `name`, from `def` to its last line, to replace
    whole (ValueError when it is no longer there, so a variant never silently stops applying)."""
    text = LAYERS_SOURCE.read_text(encoding="utf-8")
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            assert node.end_lineno is not None
            return "".join(text.splitlines(keepends=True)[node.lineno - 1 : node.end_lineno])
    raise ValueError(f"impl/layers.py has no function {name}")


_IM2COL = '''def _im2col(x_pad, HH, WW, stride, H_out, W_out):
    """cols[n, (c, k, l), (i, j)] = x̄[n, c, i·s + k, j·s + l], and the index arrays used."""
    rows = stride * np.arange(H_out)[:, None] + np.arange(HH)[None, :]
    cols = stride * np.arange(W_out)[:, None] + np.arange(WW)[None, :]
    I, J = rows[:, :, None, None], cols[None, None, :, :]
    patches = x_pad[:, :, I, J]  # (N, C, H', HH, W', WW)
    N, C = x_pad.shape[:2]
    return patches.transpose(0, 1, 3, 5, 2, 4).reshape(N, C * HH * WW, H_out * W_out), (I, J)


def conv_forward_naive(x, w, b, conv_param):
    """im2col: every window a column, the convolution one matrix product."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols, index = _im2col(x_pad, HH, WW, stride, H_out, W_out)
    out = (w.reshape(F, -1) @ cols).reshape(N, F, H_out, W_out) + b[None, :, None, None]
    return out, (x.shape, x_pad.shape, w, conv_param, cols, index)


def conv_backward_naive(dout, cache):
    """dw = Σ_n dout_n·colsₙᵀ, dcols = wᵀ·dout_n, scattered back by col2im (np.add.at)."""
    x_shape, pad_shape, w, conv_param, cols, (I, J) = cache
    pad = conv_param["pad"]
    N, F, H_out, W_out = dout.shape
    C, HH, WW = w.shape[1:]
    d = dout.reshape(N, F, -1)
    dw = np.einsum("nfp,nkp->fk", d, cols).reshape(w.shape)
    db = dout.sum(axis=(0, 2, 3))
    dcols = (w.reshape(F, -1).T @ d).reshape(N, C, HH, WW, H_out, W_out).transpose(0, 1, 4, 2, 5, 3)
    dx_pad = np.zeros(pad_shape)
    np.add.at(dx_pad, (slice(None), slice(None), I, J), dcols)
    return dx_pad[:, :, pad : pad + x_shape[2], pad : pad + x_shape[3]].copy(), dw, db
'''


_POOL_BY_RESHAPE = '''def max_pool_forward_naive(x, pool_param):
    """Where the windows tile x exactly (stride = pool size), a reshape to
    (N, C, H/PH, PH, W/PW, PW) and a max over the tiles; otherwise the loops."""
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    if not (PH == PW == stride and H % PH == 0 and W % PW == 0):
        return _max_pool_forward_loops(x, pool_param), ((x, pool_param), "loops")
    tiles = x.reshape(N, C, H // PH, PH, W // PW, PW)
    out = tiles.max(axis=(3, 5))
    return out, ((x, tiles, out), "reshape")


def max_pool_backward_naive(dout, cache):
    """dout to where a tile equals its maximum (every tied maximum: none in a random draw)."""
    inner, how = cache
    if how == "loops":
        return _max_pool_backward_loops(dout, inner)
    x, tiles, out = inner
    at_max = tiles == out[:, :, :, None, :, None]
    return (at_max * dout[:, :, :, None, :, None]).reshape(x.shape)


'''


_SPATIAL_BY_RESHAPE = '''def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """batchnorm_forward on x as (N·H·W, C): each channel a feature."""
    N, C, H, W = x.shape
    out, cache = batchnorm_forward(x.transpose(0, 2, 3, 1).reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    """batchnorm_backward_alt on dout as (N·H·W, C)."""
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
'''


_CONV1D_BY_FULL_CONVOLUTION = '''def _correlate(a, kernel):
    """out[n, o, t] = Σ_{i,k} a[n, i, t + k]·kernel[o, i, k]: a stride-1 cross-correlation, no padding."""
    K = kernel.shape[2]
    return np.stack([np.einsum("nik,oik->no", a[:, :, t : t + K], kernel) for t in range(a.shape[2] - K + 1)], axis=2)


def conv1d_backward(dout, cache):
    """MyTorch's way: dout dilated by the stride (stride − 1 zeros between its values) is the
    gradient of the stride-1 output; dx̄ is its full convolution with w (zero-padded by K − 1,
    correlated with w flipped, F and C swapped), dw the correlation of x̄ with it."""
    x, w, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, F, L_out = dout.shape
    K, L = w.shape[2], x.shape[2]
    dilated = np.zeros((N, F, (L_out - 1) * stride + 1))
    dilated[:, :, ::stride] = dout
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    full = np.pad(dilated, ((0, 0), (0, 0), (K - 1, K - 1)))
    dx_pad = _correlate(full, w[:, :, ::-1].transpose(1, 0, 2))
    dw = _correlate(x_pad.transpose(1, 0, 2), dilated.transpose(1, 0, 2)).transpose(1, 0, 2)
    return dx_pad[:, :, pad : pad + L], dw, dout.sum(axis=(0, 2))
'''


_AVG_POOL_BY_RESHAPE = '''def avg_pool_forward(x, pool_param):
    """Where the windows tile x exactly (stride = pool size), a reshape to
    (N, C, H/PH, PH, W/PW, PW) and a mean over the tiles; otherwise the loops."""
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    if not (PH == PW == stride and H % PH == 0 and W % PW == 0):
        return _avg_pool_forward_loops(x, pool_param), ((x.shape, pool_param), "loops")
    out = x.reshape(N, C, H // PH, PH, W // PW, PW).mean(axis=(3, 5))
    return out, ((PH, PW), "reshape")


def avg_pool_backward(dout, cache):
    """Each tile's dout spread evenly: repeated PH times along H and PW times along W, over PH·PW."""
    inner, how = cache
    if how == "loops":
        return _avg_pool_backward_loops(dout, inner)
    PH, PW = inner
    return np.repeat(np.repeat(dout, PH, axis=2), PW, axis=3) / (PH * PW)


'''


#: CS231n's naive form: every output position's window, one at a time (what a student writes).
_CONV_LOOPS = '''def conv_forward_naive(x, w, b, conv_param):
    """out[n, f, i, j] = Σ x̄[n, :, window]·w[f] + b[f], window by window."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = _windows(H, HH, stride, pad, "conv_forward_naive")
    W_out = _windows(W, WW, stride, pad, "conv_forward_naive")
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """Window by window: dx̄[n, :, window] += w[f]·dout[n, f, i, j], dw[f] += x̄[n, :, window]·dout[n, f, i, j]."""
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    H, W = x.shape[2:]
    HH, WW = w.shape[2:]
    N, F, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
                    dx_pad[n, :, rows, cols] += w[f] * dout[n, f, i, j]
                    dw[f] += x_pad[n, :, rows, cols] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db
'''
_CONV_WHOLE = _function("conv_forward_naive") + "\n\n" + _function("conv_backward_naive")


_STATS = (
    "        mu = x.mean(axis=(0, 2, 3), keepdims=True)  # (1, C, 1, 1)\n        var = x.var(axis=(0, 2, 3), keepdims=True)\n"
)


#: Convolution, pooling and spatial normalisation bugs, each located by the check.
CONV_BUGGY: tuple[LayerVariant, ...] = (
    _v(
        "conv_backward_padding_not_cropped",
        "conv",
        "dx is the gradient of the padded input: the padding never cropped (dx (N, C, H + 2·pad, W + 2·pad))",
        ("    dx = dx_pad[:, :, pad : pad + H, pad : pad + W]\n", "    dx = dx_pad\n"),
        hint=Diagnosis.PADDING_NOT_CROPPED,
        function="conv_backward_naive",
        quantity="dx",
        cause=Cause.SHAPE,
    ),
    _v(
        "conv_dw_not_accumulated_over_batch",
        "conv",
        "CS231n's window-by-window loops with dw reset for every sample: only the last sample's windows reach dw",
        (
            _CONV_WHOLE,
            _CONV_LOOPS.replace(
                "    dw = np.zeros_like(w)\n    for n in range(N):\n", "    for n in range(N):\n        dw = np.zeros_like(w)\n"
            ),
        ),
        hint=Diagnosis.BATCH_OVERWRITTEN,
        function="conv_backward_naive",
        quantity="dw",
    ),
    _v(
        "max_pool_backward_to_every_element",
        "max_pool",
        "dout routed to every element of the window, not only to its maximum",
        (
            "                    di, dj = np.unravel_index(np.argmax(window), window.shape)\n"
            "                    dx[n, c, i * stride + di, j * stride + dj] += dout[n, c, i, j]\n",
            "                    dx[n, c, i * stride : i * stride + PH, j * stride : j * stride + PW] += dout[n, c, i, j]\n",
        ),
        hint=Diagnosis.POOL_EVERY_ELEMENT,
        function="max_pool_backward_naive",
        quantity="dx",
    ),
    _v(
        "conv1d_backward_padding_not_cropped",
        "conv1d",
        "dx is the gradient of the padded input: the padding never cropped (dx (N, C, L + 2·pad))",
        ("    dx = dx_pad[:, :, pad : pad + L]\n", "    dx = dx_pad\n"),
        hint=Diagnosis.PADDING_NOT_CROPPED,
        function="conv1d_backward",
        quantity="dx",
        cause=Cause.SHAPE,
    ),
    _v(
        "conv1d_dw_mean_over_batch",
        "conv1d",
        "dw the mean of the samples' contributions instead of their sum (a loss's 1/N applied again)",
        (
            '        dw += np.einsum("nf,nck->fck", dout[:, :, i], x_pad[:, :, window])\n',
            '        dw += np.einsum("nf,nck->fck", dout[:, :, i], x_pad[:, :, window]) / x.shape[0]\n',
        ),
        hint=Diagnosis.BATCH_MEAN,
        function="conv1d_backward",
        quantity="dw",
    ),
    _v(
        "avg_pool_backward_not_divided",
        "avg_pool",
        "dout given whole to every element of its window, without the 1/(pool_height·pool_width)",
        ("    share = dout / (PH * PW)\n", "    share = dout\n"),
        hint=Diagnosis.POOL_SHARE,
        function="avg_pool_backward",
        quantity="dx",
    ),
    _v(
        "avg_pool_backward_divided_by_window_count",
        "avg_pool",
        "dout divided by the number of windows H'·W' instead of the window's size pool_height·pool_width",
        ("    share = dout / (PH * PW)\n", "    share = dout / (H_out * W_out)\n"),
        hint=Diagnosis.POOL_SHARE,
        function="avg_pool_backward",
        quantity="dx",
    ),
    _v(
        "spatial_batchnorm_per_feature",
        "spatial_batchnorm",
        "train mode normalises each (c, h, w) over the batch alone (x as (N, C·H·W)), not each channel over N·H·W",
        (_STATS, _STATS.replace("axis=(0, 2, 3)", "axis=0").replace("(1, C, 1, 1)", "(1, C, H, W)")),
        hint=Diagnosis.NORM_WRONG_AXIS,
        function="spatial_batchnorm_forward",
        quantity="out",
    ),
    _v(
        "spatial_groupnorm_wrong_grouping",
        "spatial_groupnorm",
        "the channels grouped as C/G groups of G (G taken for the group's size) instead of G groups of C/G",
        ("    groups = x.reshape(N, G, C // G, H, W)", "    groups = x.reshape(N, C // G, G, H, W)"),
        hint=Diagnosis.GROUPS_SWAPPED,
        function="spatial_groupnorm_forward",
        quantity="out",
    ),
)

#: Different but right ways to write these ops: each must pass.
CONV_CORRECT: tuple[LayerVariant, ...] = (
    _v(
        "conv_im2col",
        "conv",
        "conv forward and backward vectorised by im2col: one matrix product, col2im by np.add.at",
        (_CONV_WHOLE, _IM2COL),
    ),
    _v(
        "conv_naive_loops",
        "conv",
        "CS231n's naive conv: every output position's window one at a time, in four nested loops",
        (_CONV_WHOLE, _CONV_LOOPS),
    ),
    _v(
        "max_pool_by_reshape",
        "max_pool",
        "max pooling by a reshape into tiles where stride = pool size and the tiles fit, the loops elsewhere",
        ("def max_pool_forward_naive(x, pool_param):", "def _max_pool_forward_loops(x, pool_param):"),
        ("    return out, (x, pool_param)\n", "    return out\n"),
        ("def max_pool_backward_naive(dout, cache):", "def _max_pool_backward_loops(dout, cache):"),
        ("def spatial_batchnorm_forward(", _POOL_BY_RESHAPE + "def spatial_batchnorm_forward("),
    ),
    _v(
        "conv1d_by_flipped_full_convolution",
        "conv1d",
        "conv1d_backward as 11-785's MyTorch writes it: dout dilated by the stride, dx its full convolution with w flipped",
        (_function("conv1d_backward"), _CONV1D_BY_FULL_CONVOLUTION),
    ),
    _v(
        "avg_pool_by_reshape",
        "avg_pool",
        "average pooling by a reshape into tiles where stride = pool size, its backward by np.repeat; the loops elsewhere",
        ("def avg_pool_forward(x, pool_param):", "def _avg_pool_forward_loops(x, pool_param):"),
        ("    return out, (x.shape, pool_param)\n", "    return out\n"),
        ("def avg_pool_backward(dout, cache):", "def _avg_pool_backward_loops(dout, cache):"),
        ("def spatial_batchnorm_forward(", _AVG_POOL_BY_RESHAPE + "def spatial_batchnorm_forward("),
    ),
    _v(
        "spatial_batchnorm_by_reshape",
        "spatial_batchnorm",
        "spatial batchnorm as batchnorm on x reshaped to (N·H·W, C), and batchnorm_backward_alt likewise",
        (_function("spatial_batchnorm_forward") + "\n\n" + _function("spatial_batchnorm_backward"), _SPATIAL_BY_RESHAPE),
    ),
)
