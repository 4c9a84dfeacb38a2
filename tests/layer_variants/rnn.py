"""Recurrent-layer variants of impl/rnn_layers.py (CS231n assignment 3, and the GRU step): bugs
students write in BPTT, the LSTM's gates and cell, the GRU's reset gate and its path to prev_h,
the embedding's backward and the masked temporal loss, each located by the check, and different
but right ways to write the ops, which must pass."""

from __future__ import annotations

from functools import partial

from gradverify.diagnoses import Diagnosis
from tests.layer_variants import LayerVariant, _v

_rnn = partial(_v, module="rnn_layers")


#: gru_step_backward from da_r on: the part that the variants below write differently.
_GRU_GRADS = """    da_r = da_n * c_n * r * (1 - r)
    da_z = dz * z * (1 - z)
    da = np.hstack((da_r, da_z, da_n))
    dc = np.hstack((da_r, da_z, da_n * r))
    dprev_h = dc @ Wh.T + dnext_h * z
    return da @ Wx.T, dprev_h, x.T @ da, prev_h.T @ dc, da.sum(axis=0)
"""

#: Cho et al.'s GRU, c_n = (r·prev_h) Wh_n: r·prev_h gets da_n Wh_nᵀ, and Wh_n its gradient from r·prev_h.
_CHO_GRADS = """    H = prev_h.shape[1]
    d_rh = da_n @ Wh[:, 2 * H :].T
    da_r = d_rh * prev_h * r * (1 - r)
    da_z = dz * z * (1 - z)
    da = np.hstack((da_r, da_z, da_n))
    dc = np.hstack((da_r, da_z))
    dprev_h = dc @ Wh[:, : 2 * H].T + d_rh * r + dnext_h * z
    dWh = np.hstack((prev_h.T @ dc, (r * prev_h).T @ da_n))
    return da @ Wx.T, dprev_h, x.T @ da, dWh, da.sum(axis=0)
"""

#: The r and z blocks through the stacked matrix [Wx_rz; Wh_rz], the n block on its own.
_FUSED_GRADS = """    D, H = x.shape[1], prev_h.shape[1]
    drz = np.hstack((da_n * c_n * r * (1 - r), dz * z * (1 - z)))
    dxh = drz @ np.vstack((Wx[:, : 2 * H], Wh[:, : 2 * H])).T
    dW_rz = np.hstack((x, prev_h)).T @ drz
    dc_n = da_n * r
    dx = dxh[:, :D] + da_n @ Wx[:, 2 * H :].T
    dprev_h = dxh[:, D:] + dc_n @ Wh[:, 2 * H :].T + dnext_h * z
    dWx = np.hstack((dW_rz[:D], x.T @ da_n))
    dWh = np.hstack((dW_rz[D:], prev_h.T @ dc_n))
    return dx, dprev_h, dWx, dWh, np.concatenate((drz.sum(axis=0), da_n.sum(axis=0)))
"""


BUGGY: dict[str, LayerVariant] = {
    v.name: v
    for v in (
        _rnn(
            "rnn_backward_no_gradient_from_next_step",
            "rnn",
            "BPTT feeds each step only its own dh_t: the gradient from step t + 1 is dropped",
            ("rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])", "rnn_step_backward(dh[:, t, :], cache[t])"),
            hint=Diagnosis.NO_GRADIENT_FROM_NEXT_STEP,
            function="rnn_backward",
            quantity="dx",
            or_at=(("rnn_backward", "dh0"), ("rnn_backward", "dWx"), ("rnn_backward", "dWh"), ("rnn_backward", "db")),
        ),
        _rnn(
            "word_embedding_backward_assigns_repeated_indices",
            "word_embedding",
            "dW[x] += dout: a word that occurs twice keeps one of its gradients (np.add.at adds both)",
            ("    np.add.at(dW, x, dout)\n", "    dW[x] += dout\n"),
            hint=Diagnosis.REPEATED_INDICES_LOST,
            function="word_embedding_backward",
            quantity="dW",
        ),
        _rnn(
            "lstm_gates_i_f_swapped",
            "lstm_step",
            "the input and forget gates read from each other's block of a",
            (
                "    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H])",
                "    f, i, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H])",
            ),
            hint=Diagnosis.GATE_ORDER,
            function="lstm_step_forward",
            quantity="next_c",
            or_at=(("lstm_step_forward", "next_h"),),
        ),
        _rnn(
            "lstm_step_backward_no_path_through_tanh_c",
            "lstm_step",
            "dc = dnext_c: the gradient reaching next_c through next_h = o·tanh(next_c) is dropped",
            ("    dc = dnext_c + dnext_h * o * (1.0 - tanh_c**2)\n", "    dc = dnext_c\n"),
            hint=Diagnosis.NO_PATH_THROUGH_TANH_C,
            function="lstm_step_backward",
            quantity="dprev_c",
            or_at=(("lstm_step_backward", "dx"), ("lstm_step_backward", "db"), ("lstm_step_backward", "dWx")),
        ),
        _rnn(
            "gru_reset_before_matmul",
            "gru_step",
            "n = tanh(x Wx_n + b_n + (r·prev_h) Wh_n): Cho et al.'s original GRU, forward and backward "
            "consistent, but not the protocol's (torch's GRUCell scales prev_h Wh_n by r); equal only when H = 1",
            (
                "    c_n = c[:, 2 * H :]\n    n = np.tanh(a[:, 2 * H :] + r * c_n)\n",
                "    c_n = (r * prev_h) @ Wh[:, 2 * H :]\n    n = np.tanh(a[:, 2 * H :] + c_n)\n",
            ),
            (_GRU_GRADS, _CHO_GRADS),
            hint=Diagnosis.RESET_BEFORE_PRODUCT,
            function="gru_step_forward",
            quantity="next_h",
        ),
        _rnn(
            "gru_step_backward_no_direct_path_to_prev_h",
            "gru_step",
            "dprev_h = dc Whᵀ: the gradient of next_h's z·prev_h term, dnext_h·z, is dropped",
            ("    dprev_h = dc @ Wh.T + dnext_h * z\n", "    dprev_h = dc @ Wh.T\n"),
            hint=Diagnosis.NO_DIRECT_PATH,
            function="gru_step_backward",
            quantity="dprev_h",
        ),
        _rnn(
            "temporal_softmax_loss_ignores_mask",
            "temporal_softmax_loss",
            "every step counted, the masked ones too",
            ("    loss = -(keep * log_probs[rows, labels]).sum() / N\n", "    loss = -log_probs[rows, labels].sum() / N\n"),
            ("    dx *= keep[:, None] / N\n", "    dx /= N\n"),
            hint=Diagnosis.MASK_IGNORED,
            function="temporal_softmax_loss",
            quantity="loss",
        ),
        _rnn(
            "temporal_softmax_loss_divides_by_n_times_t",
            "temporal_softmax_loss",
            "divided by N·T (a mean over steps) instead of CS231n's N",
            (
                "    loss = -(keep * log_probs[rows, labels]).sum() / N\n",
                "    loss = -(keep * log_probs[rows, labels]).sum() / (N * T)\n",
            ),
            ("    dx *= keep[:, None] / N\n", "    dx *= keep[:, None] / (N * T)\n"),
            hint=Diagnosis.STEP_MEAN,
            function="temporal_softmax_loss",
            quantity="loss",
        ),
    )
}

CORRECT: dict[str, LayerVariant] = {
    v.name: v
    for v in (
        _rnn(
            "rnn_forward_inline",
            "rnn",
            "rnn_forward computes every step itself instead of calling rnn_step_forward",
            (
                "        prev_h, step = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)\n",
                "        next_h = np.tanh(x[:, t, :] @ Wx + prev_h @ Wh + b)\n"
                "        prev_h, step = next_h, (x[:, t, :], prev_h, Wx, Wh, next_h)\n",
            ),
        ),
        _rnn(
            "lstm_step_fused_matrix",
            "lstm_step",
            "one matrix [Wx; Wh] on [x, prev_h] in the forward, and its transpose splitting da back",
            ("    a = x @ Wx + prev_h @ Wh + b\n", "    a = np.hstack((x, prev_h)) @ np.vstack((Wx, Wh)) + b\n"),
            (
                "    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)\n",
                "    dxh = da @ np.vstack((Wx, Wh)).T\n"
                "    dW = np.hstack((x, prev_h)).T @ da\n"
                "    D = x.shape[1]\n"
                "    return dxh[:, :D], dxh[:, D:], dc * f, dW[:D], dW[D:], da.sum(axis=0)\n",
            ),
        ),
        _rnn(
            "gru_step_fused_gates",
            "gru_step",
            "the r and z gates from one product of [x, prev_h] with [Wx_rz; Wh_rz], split back in the backward",
            (
                "    r = _sigmoid(a[:, :H] + c[:, :H])\n    z = _sigmoid(a[:, H : 2 * H] + c[:, H : 2 * H])\n",
                "    W_rz = np.vstack((Wx[:, : 2 * H], Wh[:, : 2 * H]))\n"
                "    rz = _sigmoid(np.hstack((x, prev_h)) @ W_rz + b[: 2 * H])\n"
                "    r, z = rz[:, :H], rz[:, H:]\n",
            ),
            (_GRU_GRADS, _FUSED_GRADS),
        ),
        _rnn(
            "word_embedding_backward_one_hot",
            "word_embedding",
            "dW as the one-hot matrix of x, transposed, times dout: the sum over repeats done by the product",
            (
                "    dW = np.zeros((V, dout.shape[-1]), dtype=dout.dtype)\n    np.add.at(dW, x, dout)\n",
                "    dW = np.eye(V)[x.reshape(-1)].T @ dout.reshape(-1, dout.shape[-1])\n",
            ),
        ),
    )
}
