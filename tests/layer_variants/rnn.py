"""Recurrent-layer variants of impl/rnn_layers.py (CS231n assignment 3): bugs students write in
BPTT, the LSTM's gates and cell, the embedding's backward and the masked temporal loss, each
located by the check, and different but right ways to write the ops, which must pass."""

from __future__ import annotations

from functools import partial

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
            function="rnn_backward",
            quantity="dx",
            or_at=(("rnn_backward", "dh0"), ("rnn_backward", "dWx"), ("rnn_backward", "dWh"), ("rnn_backward", "db")),
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
    )
}
