"""The layer catalogue (tests/layer_variants): every buggy variant of impl/layers.py is caught by
the generic check and located (its function, quantity and cause), every correct one passes, and
each verdict agrees with PyTorch autograd computed here, outside the checker."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradverify.layer_hints import layer_hints
from gradverify.profiles import PROFILES
from gradverify.properties.layer_properties import layer_property
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.search import run_property
from tests.layer_variants import BUGGY, CORRECT, LayerVariant
from tests.layer_variants.rnn_torch import RNN_VERDICTS


def _load(variant: LayerVariant, folder: Path):
    path = variant.write(folder)
    spec = importlib.util.spec_from_file_location(f"layer_variant_{variant.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _search(variant: LayerVariant, folder: Path):
    prop = layer_property(LAYER_OPS[variant.op], max_size=3, weight=1.0)  # 15 cases, as verify --profile ci draws
    result, _ = run_property(prop, _load(variant, folder), profile=PROFILES["ci"], seed=0, entries=[], budget=15)
    return result


@pytest.mark.parametrize("name", BUGGY)
def test_every_buggy_layer_variant_is_caught_located_and_diagnosed(name, tmp_path):
    """Caught, at its function and quantity, shrunk to ≤ 2 in every size, and its hint names its
    diagnosis and no other (none for a variant the catalogue has no diagnosis for)."""
    variant = BUGGY[name]
    result = _search(variant, tmp_path)
    assert result.failure is not None
    located = {(c.where.function, c.where.quantity, c.cause) for c in result.failure.comparisons if not c.ok}
    assert variant.located() & located
    sizes = [n for _, v in result.failure.case.dims for n in (v if isinstance(v, tuple) else (v,))]
    assert max(sizes) <= 2  # shrunk
    named = {h.diagnosis for h in layer_hints(result.failure, _load(variant, tmp_path))}
    assert named == ({variant.hint} if variant.hint else set())


@pytest.mark.parametrize("name", CORRECT)
def test_every_correct_layer_variant_passes(name, tmp_path):
    result = _search(CORRECT[name], tmp_path)
    assert result.failure is None and result.error is None and result.examples > 0


# --------------------------------------------------------------------------- #
# The cross-check: each variant's numbers against torch autograd, with no part of the checker.
# --------------------------------------------------------------------------- #

RNG = np.random.default_rng(7)
X, G, B, DOUT = RNG.standard_normal((3, 2)), RNG.standard_normal(2), RNG.standard_normal(2), RNG.standard_normal((3, 2))
LABELS = np.array([0, 1, 1])


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _close(a, b) -> bool:
    return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-9, atol=1e-12)


def _affine(m) -> bool:
    x, w, b = _t(X, True), _t(RNG.standard_normal((2, 4)), True), _t(RNG.standard_normal(4), True)
    out = F.linear(x, w.T, b)
    out.backward(_t(DOUT[:, :1] @ np.ones((1, 4)) + np.arange(4)))
    got_out, cache = m.affine_forward(X.copy(), w.detach().numpy().copy(), b.detach().numpy().copy())
    grads = m.affine_backward(DOUT[:, :1] @ np.ones((1, 4)) + np.arange(4), cache)
    return _close(got_out, out.detach().numpy()) and all(_close(g, t.grad.numpy()) for g, t in zip(grads, (x, w, b)))


def _relu(m) -> bool:
    x = _t(X, True)
    F.relu(x).backward(_t(DOUT))
    out, cache = m.relu_forward(X.copy())
    return _close(out, np.maximum(X, 0)) and _close(m.relu_backward(DOUT.copy(), cache), x.grad.numpy())


def _gelu(m) -> bool:
    x = _t(X, True)
    F.gelu(x, approximate="none").backward(_t(DOUT))
    out, cache = m.gelu_forward(X.copy())
    return _close(out, F.gelu(_t(X), approximate="none").numpy()) and _close(m.gelu_backward(DOUT.copy(), cache), x.grad.numpy())


def _batchnorm(m) -> bool:
    """In both modes, with the running averages given (eps and momentum left to their defaults),
    and with bn_param {"mode": mode} alone, as CS231n's FullyConnectedNet passes it (running
    averages zeros); the backward in train mode, the one it is written for (docs/layers.md)."""
    agree = True
    for mode, given in (("train", True), ("test", True), ("train", False), ("test", False)):
        x, g, b = _t(X, True), _t(G, True), _t(B, True)
        rm, rv = torch.zeros(2, dtype=torch.float64), (torch.ones if given else torch.zeros)(2, dtype=torch.float64)
        out = F.batch_norm(x, rm, rv, g, b, training=mode == "train", momentum=0.1, eps=1e-5)
        out.backward(_t(DOUT))
        bn_param = {"mode": mode, **({"running_mean": np.zeros(2), "running_var": np.ones(2)} if given else {})}
        got, cache = m.batchnorm_forward(X.copy(), G.copy(), B.copy(), bn_param)
        agree &= _close(got, out.detach().numpy()) and _close(bn_param.get("running_mean", np.zeros(2)), rm.numpy())
        for backward in (m.batchnorm_backward, m.batchnorm_backward_alt) if mode == "train" else ():
            agree &= all(_close(a, t.grad.numpy()) for a, t in zip(backward(DOUT.copy(), cache), (x, g, b)))
    return agree


def _layernorm(m) -> bool:
    x, g, b = _t(X, True), _t(G, True), _t(B, True)
    out = F.layer_norm(x, (2,), g, b, eps=1e-5)
    out.backward(_t(DOUT))
    got, cache = m.layernorm_forward(X.copy(), G.copy(), B.copy(), {"eps": 1e-5})
    return _close(got, out.detach().numpy()) and all(
        _close(a, t.grad.numpy()) for a, t in zip(m.layernorm_backward(DOUT.copy(), cache), (x, g, b))
    )


def _dropout(m) -> bool:
    """torch's F.dropout keeps a unit with probability 1 − p_drop and scales it by 1/(1 − p_drop);
    in eval mode it is the identity. Its kept units, scaled, against the variant's."""
    keep = 0.5
    torch.manual_seed(0)
    x = _t(X, True)
    ref = F.dropout(x, p=1 - keep, training=True)
    kept = ref.detach().numpy() != 0
    out, cache = m.dropout_forward(X.copy(), {"p": keep, "mode": "train", "seed": 0})
    mine = out != 0
    scaled = _close(out[mine], X[mine] / keep) and _close(ref.detach().numpy()[kept], X[kept] / keep)
    test = _close(
        m.dropout_forward(X.copy(), {"p": keep, "mode": "test"})[0], F.dropout(x, p=1 - keep, training=False).detach().numpy()
    )
    return scaled and test and _close(m.dropout_backward(DOUT.copy(), cache), DOUT * mine / keep)


def _loss(m, name: str, torch_loss) -> bool:
    """At scores of size ~3, and at the same with row r's plus 1000·(r + 1) (past exp's overflow,
    the rows 1000 apart)."""
    agree = True
    for scores in (X * 3, X * 3 + 1000.0 * np.arange(1, len(X) + 1)[:, None]):
        x = _t(scores, True)
        value = torch_loss(x, torch.tensor(LABELS))
        value.backward()
        with np.errstate(all="ignore"):  # a variant without the max-shift overflows: its NaN is the verdict
            loss, dx = getattr(m, name)(scores.copy(), LABELS.copy())
        agree &= _close(loss, value.item()) and _close(dx, x.grad.numpy())
    return agree


TORCH_VERDICTS = {
    "affine": _affine,
    "relu": _relu,
    "gelu": _gelu,
    "batchnorm": _batchnorm,
    "layernorm": _layernorm,
    "dropout": _dropout,
    "softmax_loss": lambda m: _loss(m, "softmax_loss", F.cross_entropy),
    "svm_loss": lambda m: _loss(m, "svm_loss", lambda x, y: F.multi_margin_loss(x, y, margin=1.0) * x.shape[1]),
    # CS231n assignment 3: recurrent networks
    **RNN_VERDICTS,
}


# CS231n assignment 2: convolution, pooling, spatial normalisation.


def _grads_agree(got, tensors) -> bool:
    return all(_close(g, t.grad.numpy()) for g, t in zip(got, tensors))


def _conv(m) -> bool:
    """Two settings: stride 2 with padding 1 (so a padding left uncropped shows), stride 1 without."""
    rng = np.random.default_rng(11)
    agree = True
    for stride, pad, size in ((2, 1, 5), (1, 0, 4)):
        x, w = _t(rng.standard_normal((2, 2, size, size)), True), _t(rng.standard_normal((3, 2, 3, 3)), True)
        b = _t(rng.standard_normal(3), True)
        out = F.conv2d(x, w, b, stride=stride, padding=pad)
        dout = rng.standard_normal(out.shape)
        out.backward(_t(dout))
        got, cache = m.conv_forward_naive(*(t.detach().numpy().copy() for t in (x, w, b)), {"stride": stride, "pad": pad})
        agree &= _close(got, out.detach().numpy()) and _grads_agree(m.conv_backward_naive(dout, cache), (x, w, b))
    return agree


def _max_pool(m) -> bool:
    """2×2 windows with stride 2 (the tiles a reshape takes) and 3×3 with stride 1 (overlapping)."""
    rng = np.random.default_rng(11)
    agree = True
    for size, stride in ((2, 2), (3, 1)):
        x = _t(rng.standard_normal((2, 2, 4, 4)), True)
        out = F.max_pool2d(x, size, stride=stride)
        dout = rng.standard_normal(out.shape)
        out.backward(_t(dout))
        pool_param = {"pool_height": size, "pool_width": size, "stride": stride}
        got, cache = m.max_pool_forward_naive(x.detach().numpy().copy(), pool_param)
        agree &= _close(got, out.detach().numpy()) and _close(m.max_pool_backward_naive(dout, cache), x.grad.numpy())
    return agree


def _conv1d(m) -> bool:
    """As conv's: stride 2 with padding 1 (a padding left uncropped shows), stride 1 without."""
    rng = np.random.default_rng(11)
    agree = True
    for stride, pad, length in ((2, 1, 5), (1, 0, 4)):
        x, w, b = (
            _t(rng.standard_normal((2, 2, length)), True),
            _t(rng.standard_normal((3, 2, 3)), True),
            _t(rng.standard_normal(3), True),
        )
        out = F.conv1d(x, w, b, stride=stride, padding=pad)
        dout = rng.standard_normal(out.shape)
        out.backward(_t(dout))
        got, cache = m.conv1d_forward(*(t.detach().numpy().copy() for t in (x, w, b)), {"stride": stride, "pad": pad})
        agree &= _close(got, out.detach().numpy()) and _grads_agree(m.conv1d_backward(dout, cache), (x, w, b))
    return agree


def _avg_pool(m) -> bool:
    """2×2 windows with stride 2 (the tiles a reshape takes) and 3×3 with stride 1 (overlapping),
    on a 6×4 image: neither has as many windows as a window has values."""
    rng = np.random.default_rng(11)
    agree = True
    for size, stride in ((2, 2), (3, 1)):
        x = _t(rng.standard_normal((2, 2, 6, 4)), True)
        out = F.avg_pool2d(x, size, stride=stride)
        dout = rng.standard_normal(out.shape)
        out.backward(_t(dout))
        pool_param = {"pool_height": size, "pool_width": size, "stride": stride}
        got, cache = m.avg_pool_forward(x.detach().numpy().copy(), pool_param)
        agree &= _close(got, out.detach().numpy()) and _close(m.avg_pool_backward(dout, cache), x.grad.numpy())
    return agree


def _spatial_batchnorm(m) -> bool:
    rng = np.random.default_rng(11)
    agree, x0, dout = True, rng.standard_normal((2, 3, 2, 2)), rng.standard_normal((2, 3, 2, 2))
    for mode in ("train", "test"):
        x, g, b = _t(x0, True), _t(rng.standard_normal(3), True), _t(rng.standard_normal(3), True)
        rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
        out = F.batch_norm(x, rm, rv, g, b, training=mode == "train", momentum=0.1, eps=1e-5)
        out.backward(_t(dout))
        bn_param = {"mode": mode, "running_mean": np.zeros(3), "running_var": np.ones(3)}
        got, cache = m.spatial_batchnorm_forward(x0.copy(), g.detach().numpy().copy(), b.detach().numpy().copy(), bn_param)
        agree &= _close(got, out.detach().numpy()) and _close(bn_param.get("running_mean", np.zeros(2)), rm.numpy())
        agree &= _grads_agree(m.spatial_batchnorm_backward(dout.copy(), cache), (x, g, b))
    return agree


def _spatial_groupnorm(m) -> bool:
    """6 channels in G = 2 groups of 3: a grouping of G channels each differs."""
    rng = np.random.default_rng(11)
    x, dout = _t(rng.standard_normal((2, 6, 2, 2)), True), rng.standard_normal((2, 6, 2, 2))
    g, b = _t(rng.standard_normal((1, 6, 1, 1)), True), _t(rng.standard_normal((1, 6, 1, 1)), True)
    out = F.group_norm(x, 2, g.flatten(), b.flatten(), eps=1e-5)
    out.backward(_t(dout))
    arrays = (t.detach().numpy().copy() for t in (x, g, b))
    got, cache = m.spatial_groupnorm_forward(*arrays, 2, {"eps": 1e-5})
    return _close(got, out.detach().numpy()) and _grads_agree(m.spatial_groupnorm_backward(dout.copy(), cache), (x, g, b))


def _linear_classifier(m, name: str, torch_loss) -> bool:
    """CS231n A1's (loss, dW) = name(W, X, y, reg) against torch's loss of X·W plus reg·ΣW², at
    reg 0.7, and at X with a last feature of 1000·(n + 1) and W a last row of ones (each row's
    scores 1000 apart, past exp's overflow)."""
    rng = np.random.default_rng(5)
    W0, X0, reg = rng.standard_normal((3, 4)), rng.standard_normal((3, 3)), 0.7
    shifted = (np.hstack([X0, 1000.0 * np.arange(1, 4)[:, None]]), np.vstack([W0, np.ones((1, 4))]))
    agree = True
    for X_, W_ in ((X0, W0), shifted):
        W = _t(W_, True)
        value = torch_loss(_t(X_) @ W, torch.tensor(LABELS)) + reg * (W**2).sum()
        value.backward()
        with np.errstate(all="ignore"):  # a variant without the max-shift overflows: its NaN is the verdict
            loss, dW = getattr(m, name)(W_.copy(), X_.copy(), LABELS.copy(), reg)
        agree &= bool(np.isclose(loss, value.item(), rtol=1e-9)) and _close(dW, W.grad.numpy())
    return agree


def _svm_torch(x, y):
    return F.multi_margin_loss(x, y, margin=1.0) * x.shape[1]


def _spread(x: torch.Tensor, k: int) -> torch.Tensor:
    """x (N, C, L) with k − 1 zeros between its samples, in torch: (N, C, k·(L − 1) + 1)."""
    out = torch.zeros((*x.shape[:2], k * (x.shape[2] - 1) + 1), dtype=torch.float64)
    out[:, :, ::k] = x
    return out


def _resampled(m, op: str, torch_op) -> bool:
    """op's forward and backward against torch's on (2, 2, 5), factors 2 and 3 (neither divides 5)."""
    rng = np.random.default_rng(12)
    agree = True
    for k in (2, 3):
        x = _t(rng.standard_normal((2, 2, 5)), True)
        out = torch_op(x, k)
        dout = rng.standard_normal(out.shape)
        out.backward(_t(dout))
        try:
            got, cache = getattr(m, f"{op}_forward")(x.detach().numpy().copy(), {"factor": k})
            dx = getattr(m, f"{op}_backward")(dout.copy(), cache)
        except ValueError:  # a wrong shape met on the way
            return False
        agree &= _close(got, out.detach().numpy()) and _close(dx, x.grad.numpy())
    return agree


def _flatten(m) -> bool:
    rng = np.random.default_rng(13)
    x, dout = _t(rng.standard_normal((2, 2, 3)), True), rng.standard_normal((2, 6))
    x.flatten(1).backward(_t(dout))
    out, cache = m.flatten_forward(x.detach().numpy().copy())
    return _close(out, x.detach().numpy().reshape(2, 6)) and _close(m.flatten_backward(dout.copy(), cache), x.grad.numpy())


def _conv_transpose1d(m) -> bool:
    """Upsampled by 2, then a stride-1 convolution of kernel 2, against torch's of the same."""
    rng = np.random.default_rng(14)
    x, w, b = (_t(rng.standard_normal(s), True) for s in ((2, 2, 3), (3, 2, 2), (3,)))
    out = F.conv1d(_spread(x, 2), w, b)
    dout = rng.standard_normal(out.shape)
    out.backward(_t(dout))
    got, cache = m.conv_transpose1d_forward(*(t.detach().numpy().copy() for t in (x, w, b)), {"factor": 2})
    return _close(got, out.detach().numpy()) and _grads_agree(m.conv_transpose1d_backward(dout, cache), (x, w, b))


TORCH_VERDICTS |= {
    "downsample1d": lambda m: _resampled(m, "downsample1d", lambda x, k: x[:, :, ::k]),
    "upsample1d": lambda m: _resampled(m, "upsample1d", _spread),
    "flatten": _flatten,
    "conv_transpose1d": _conv_transpose1d,
    **{
        f"svm_loss_{style}": lambda m, s=style: _linear_classifier(m, f"svm_loss_{s}", _svm_torch)
        for style in ("naive", "vectorized")
    },
    **{
        f"softmax_loss_{style}": lambda m, s=style: _linear_classifier(m, f"softmax_loss_{s}", F.cross_entropy)
        for style in ("naive", "vectorized")
    },
    "conv": _conv,
    "max_pool": _max_pool,
    "conv1d": _conv1d,
    "avg_pool": _avg_pool,
    "spatial_batchnorm": _spatial_batchnorm,
    "spatial_groupnorm": _spatial_groupnorm,
}

#: Bugs of the convention, not of the numbers: torch has nothing to say about them.
NOT_NUMBERS = {"dropout_seed_ignored", "dropout_test_returns_x", "relu_forward_in_place"}


@pytest.mark.parametrize("name", [*BUGGY, *CORRECT])
def test_every_variant_s_verdict_matches_torch_autograd(name, tmp_path):
    variant = BUGGY.get(name) or CORRECT[name]
    agrees = TORCH_VERDICTS[variant.op](_load(variant, tmp_path))
    assert agrees is (name in CORRECT or name in NOT_NUMBERS)
