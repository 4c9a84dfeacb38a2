"""CS231n assignment 3's CaptioningRNN, built of impl/rnn_layers.py's functions: the model solution
of the `captioning_rnn` rubric item (references/model_spec.py, docs/courses/cs231n.md).

    net = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type="lstm")
    loss, grads = net.loss(features, captions)    # grads by net.params' keys

h0 = features·W_proj + b_proj; the words of captions[:, :-1] embedded; an RNN or LSTM over them
from h0; scores h·W_vocab + b_vocab; the temporal softmax loss at captions[:, 1:], the <NULL>
words masked, summed over the steps and divided by N. No regularisation.
"""

from __future__ import annotations

import numpy as np

from .rnn_layers import (
    lstm_backward,
    lstm_forward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

__all__ = ["CaptioningRNN"]


class CaptioningRNN:
    """An image captioner: image features to the hidden state, then a recurrent language model.

    params: W_embed (V, W), W_proj (D, H), b_proj (H,), Wx (W, kH), Wh (H, kH), b (kH,),
    W_vocab (H, V), b_vocab (V,); k = 4 for "lstm", 1 for "rnn"."""

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128, cell_type="rnn", dtype=np.float32):
        """word_to_idx: the vocabulary, with "<NULL>" (and "<START>", "<END>"); cell_type "rnn" or "lstm"."""
        if cell_type not in {"rnn", "lstm"}:
            raise ValueError(f'Invalid cell_type "{cell_type}"')
        self.cell_type, self.dtype = cell_type, dtype
        self.word_to_idx = word_to_idx
        self._null, self._start, self._end = word_to_idx["<NULL>"], word_to_idx.get("<START>"), word_to_idx.get("<END>")
        V, k = len(word_to_idx), 4 if cell_type == "lstm" else 1
        self.params = {
            "W_embed": np.random.randn(V, wordvec_dim) / 100,
            "W_proj": np.random.randn(input_dim, hidden_dim) / np.sqrt(input_dim),
            "b_proj": np.zeros(hidden_dim),
            "Wx": np.random.randn(wordvec_dim, k * hidden_dim) / np.sqrt(wordvec_dim),
            "Wh": np.random.randn(hidden_dim, k * hidden_dim) / np.sqrt(hidden_dim),
            "b": np.zeros(k * hidden_dim),
            "W_vocab": np.random.randn(hidden_dim, V) / np.sqrt(hidden_dim),
            "b_vocab": np.zeros(V),
        }
        self.params = {key: value.astype(dtype) for key, value in self.params.items()}

    def loss(self, features, captions):
        """features: (N, D), captions: (N, T + 1) ints in [0, V)  ->  loss (float), grads by params' keys."""
        p = self.params
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null
        h0 = features @ p["W_proj"] + p["b_proj"]
        x, embed_cache = word_embedding_forward(captions_in, p["W_embed"])
        forward, backward = (lstm_forward, lstm_backward) if self.cell_type == "lstm" else (rnn_forward, rnn_backward)
        h, recur_cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)
        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, recur_cache)
        grads["W_embed"] = word_embedding_backward(dx, embed_cache)
        grads["W_proj"], grads["b_proj"] = features.T @ dh0, dh0.sum(axis=0)
        return loss, grads

    def sample(self, features, max_length=30):
        """features: (N, D)  ->  captions (N, max_length): the greedy words, from <START>."""
        p, N = self.params, features.shape[0]
        captions = self._null * np.ones((N, max_length), dtype=np.int32)
        h = features @ p["W_proj"] + p["b_proj"]
        c = np.zeros_like(h)
        word = self._start * np.ones(N, dtype=np.int32)
        for t in range(max_length):
            x = p["W_embed"][word]
            if self.cell_type == "lstm":
                h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            word = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1)
            captions[:, t] = word
        return captions
