"""Variants of impl/layers.py's convolution, pooling and spatial normalisation (CS231n
assignment 2): the bugs the check must catch and locate, and right ways to write the ops
differently (vectorised, by reshape) that must pass. Registered in tests/layer_variants."""

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
        "dw reset for every sample: only the last sample's windows reach dw",
        ("    dw = np.zeros_like(w)\n    for n in range(N):\n", "    for n in range(N):\n        dw = np.zeros_like(w)\n"),
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
        (_function("conv_forward_naive") + "\n\n" + _function("conv_backward_naive"), _IM2COL),
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
        "spatial_batchnorm_by_reshape",
        "spatial_batchnorm",
        "spatial batchnorm as batchnorm on x reshaped to (N·H·W, C), and batchnorm_backward_alt likewise",
        (_function("spatial_batchnorm_forward") + "\n\n" + _function("spatial_batchnorm_backward"), _SPATIAL_BY_RESHAPE),
    ),
)
