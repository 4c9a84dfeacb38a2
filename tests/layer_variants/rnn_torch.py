"""The recurrent ops' verdicts from torch autograd, with no part of the checker: each op run on
fixed inputs (T = 3 steps, repeated word indices, a mask with zeros) by a variant and by torch,
the recurrences written here in torch (the GRU by torch.nn.GRUCell itself), out and every
gradient compared."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

RNG = np.random.default_rng(11)
N, T, D, H, V = 2, 3, 3, 2, 4


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _close(a, b) -> bool:
    return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-9, atol=1e-12)


def _agree(module, name, inputs, torch_fn, n_outs=1) -> bool:
    """module.<name>_forward and _backward against torch_fn on the same inputs and cotangents."""
    tensors = [_t(a, True) for a in inputs]
    outs = torch_fn(*tensors)
    outs = outs if isinstance(outs, tuple) else (outs,)
    douts = [RNG.standard_normal(o.shape) for o in outs]
    torch.autograd.backward(list(outs), [_t(d) for d in douts])
    got = getattr(module, f"{name}_forward")(*[a.copy() for a in inputs])
    grads = getattr(module, f"{name}_backward")(*[d.copy() for d in douts], got[-1])
    same_out = all(_close(g, o.detach().numpy()) for g, o in zip(got[:n_outs], outs))
    return same_out and all(_close(g, t.grad.numpy()) for g, t in zip(grads, tensors))


def _rnn_cell(x, h, Wx, Wh, b):
    return torch.tanh(x @ Wx + h @ Wh + b)


def _lstm_cell(x, h, c, Wx, Wh, b):
    i, f, o, g = (x @ Wx + h @ Wh + b).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _rnn(x, h0, Wx, Wh, b):
    hs = [h0]
    for t in range(x.shape[1]):
        hs.append(_rnn_cell(x[:, t], hs[-1], Wx, Wh, b))
    return torch.stack(hs[1:], dim=1)


def _lstm(x, h0, Wx, Wh, b):
    hs, c = [h0], torch.zeros_like(h0)
    for t in range(x.shape[1]):
        h, c = _lstm_cell(x[:, t], hs[-1], c, Wx, Wh, b)
        hs.append(h)
    return torch.stack(hs[1:], dim=1)


def _r(*shape):
    return RNG.standard_normal(shape)


def rnn_step(m) -> bool:
    return _agree(m, "rnn_step", [_r(N, D), _r(N, H), _r(D, H), _r(H, H), _r(H)], _rnn_cell)


def rnn(m) -> bool:
    return _agree(m, "rnn", [_r(N, T, D), _r(N, H), _r(D, H), _r(H, H), _r(H)], _rnn)


def lstm_step(m) -> bool:
    inputs = [_r(N, D), _r(N, H), _r(N, H), _r(D, 4 * H), _r(H, 4 * H), _r(4 * H)]
    return _agree(m, "lstm_step", inputs, _lstm_cell, n_outs=2)


def lstm(m) -> bool:
    return _agree(m, "lstm", [_r(N, T, D), _r(N, H), _r(D, 4 * H), _r(H, 4 * H), _r(4 * H)], _lstm)


def gru_step(m) -> bool:
    """torch.nn.GRUCell itself, its weights set to the protocol's transposed (bias_hh 0), and
    its parameters' gradients transposed back; H = 2, where Cho's form differs from torch's."""
    x, h, Wx, Wh, b = _r(N, D), _r(N, H), _r(D, 3 * H), _r(H, 3 * H), _r(3 * H)
    cell = torch.nn.GRUCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        for param, value in ((cell.weight_ih, Wx.T), (cell.weight_hh, Wh.T), (cell.bias_ih, b), (cell.bias_hh, 0 * b)):
            param.copy_(_t(value))
    xt, ht = _t(x, True), _t(h, True)
    out, dout = cell(xt, ht), _r(N, H)
    out.backward(_t(dout))
    got, cache = m.gru_step_forward(x.copy(), h.copy(), Wx.copy(), Wh.copy(), b.copy())
    grads = m.gru_step_backward(dout.copy(), cache)
    expected = (xt.grad, ht.grad, cell.weight_ih.grad.T, cell.weight_hh.grad.T, cell.bias_ih.grad)
    return _close(got, out.detach().numpy()) and all(_close(g, e.numpy()) for g, e in zip(grads, expected))


def word_embedding(m) -> bool:
    x, W = np.array([[0, 2, 0], [3, 2, 0]]), _r(V, D)  # 0 three times, 2 twice
    w = _t(W, True)
    out = F.embedding(torch.tensor(x), w)
    dout = _r(N, T, D)
    out.backward(_t(dout))
    got, cache = m.word_embedding_forward(x.copy(), W.copy())
    return _close(got, out.detach().numpy()) and _close(m.word_embedding_backward(dout.copy(), cache), w.grad.numpy())


def temporal_affine(m) -> bool:
    return _agree(m, "temporal_affine", [_r(N, T, D), _r(D, V), _r(V)], lambda x, w, b: F.linear(x, w.T, b))


def temporal_softmax_loss(m) -> bool:
    """CS231n's convention: the cross-entropy summed over the unmasked steps, divided by N."""
    x, y = _r(N, T, V), np.array([[1, 0, 3], [2, 2, 1]])
    mask = np.array([[True, True, False], [True, False, False]])
    scores = _t(x, True)
    each = F.cross_entropy(scores.flatten(0, 1), torch.tensor(y).flatten(), reduction="none")
    value = (each * torch.tensor(mask, dtype=torch.float64).flatten()).sum() / N
    value.backward()
    loss, dx = m.temporal_softmax_loss(x.copy(), y.copy(), mask.copy())
    return _close(loss, value.item()) and _close(dx, scores.grad.numpy())


RNN_VERDICTS = {
    f.__name__: f for f in (rnn_step, rnn, word_embedding, lstm_step, lstm, gru_step, temporal_affine, temporal_softmax_loss)
}
