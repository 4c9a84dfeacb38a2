"""Recurrent-layer variants of impl/rnn_layers.py (CS231n assignment 3): bugs students write in
BPTT, the LSTM's gates and cell, the embedding's backward and the masked temporal loss, each
located by the check, and different but right ways to write the ops, which must pass."""

from __future__ import annotations

from functools import partial

from gradverify.diagnoses import Diagnosis
from tests.layer_variants import LayerVariant, _v

_rnn = partial(_v, module="rnn_layers")


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
            "word_embedding_backward_one_hot",
            "word_embedding",
            "dW as the one-hot matrix of x, transposed, times dout: the sum over repeats done by the product",
            (
                "    dW = np.zeros((V, dout.shape[-1]))\n    np.add.at(dW, x, dout)\n",
                "    dW = np.eye(V)[x.reshape(-1)].T @ dout.reshape(-1, dout.shape[-1])\n",
            ),
        ),
    )
}
