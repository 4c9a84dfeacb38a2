"""CS231n's fully connected model classes, built of impl/layers.py's functions: the model solution
of the `model` rubric items (references/model_spec.py, docs/courses/cs231n.md).

    net = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, normalization="batchnorm", reg=0.1)
    scores = net.loss(X)                  # test mode
    loss, grads = net.loss(X, y)          # train mode: grads by net.params' keys

The loss is softmax_loss of the scores plus ½·reg·Σ_l ‖W_l‖² (the handout's ½, so that each W_l's
gradient gains reg·W_l); the biases and the normalisations' γ, β are not regularised. The
signatures are assignment 1's TwoLayerNet and assignment 2's FullyConnectedNet.
"""

from __future__ import annotations

import numpy as np

from .layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)

__all__ = ["TwoLayerNet", "FullyConnectedNet"]


class TwoLayerNet:
    """affine → relu → affine → softmax loss, with ½·reg·(‖W1‖² + ‖W2‖²).

    params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        """input_dim D, hidden_dim H, num_classes C: W1, W2 ~ N(0, weight_scale²), b1, b2 zeros."""
        self.reg = reg
        self.params = {
            "W1": weight_scale * np.random.randn(input_dim, hidden_dim),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        """L = softmax_loss(relu(X·W1 + b1)·W2 + b2, y) + ½·reg·(‖W1‖² + ‖W2‖²); each dW gains reg·W.

        X: (N, d_1, ..., d_k), y: (N,) labels or None  ->  scores (N, C) if y is None, else (loss, grads)."""
        p = self.params
        hidden, affine1 = affine_forward(X, p["W1"], p["b1"])
        hidden, relu1 = relu_forward(hidden)
        scores, affine2 = affine_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        dhidden, dW2, db2 = affine_backward(dscores, affine2)
        dX, dW1, db1 = affine_backward(relu_backward(dhidden, relu1), affine1)
        return loss, {"W1": dW1 + self.reg * p["W1"], "b1": db1, "W2": dW2 + self.reg * p["W2"], "b2": db2}


class FullyConnectedNet:
    """{affine → [batch/layer norm] → relu → [dropout]} × (L − 1) → affine → softmax loss, with
    ½·reg·Σ_l ‖W_l‖².

    params: W_l (dims[l−1], dims[l]), b_l (dims[l],) for l = 1..L, dims = [input_dim, *hidden_dims,
    num_classes]; gamma_l (ones), beta_l (zeros) of each hidden layer under a normalisation."""

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        dropout_keep_ratio=1,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
        seed=None,
    ):
        """normalization: None, "batchnorm" or "layernorm"; dropout_keep_ratio p (1: no dropout), its
        mask drawn from `seed` when one is given."""
        self.normalization, self.reg, self.dtype = normalization, reg, dtype
        self.num_layers = len(hidden_dims) + 1
        self.use_dropout = dropout_keep_ratio != 1
        dims = [input_dim, *hidden_dims, num_classes]
        self.params = {}
        for layer in range(1, self.num_layers + 1):
            self.params[f"W{layer}"] = weight_scale * np.random.randn(dims[layer - 1], dims[layer])
            self.params[f"b{layer}"] = np.zeros(dims[layer])
            if normalization is not None and layer < self.num_layers:
                self.params[f"gamma{layer}"] = np.ones(dims[layer])
                self.params[f"beta{layer}"] = np.zeros(dims[layer])
        self.dropout_param = {"mode": "train", "p": dropout_keep_ratio, **({"seed": seed} if seed is not None else {})}
        self.bn_params = [{"mode": "train"} if normalization == "batchnorm" else {} for _ in range(self.num_layers - 1)]
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}

    def _hidden_forward(self, h, layer, mode):
        """One hidden layer: affine, the normalisation, relu, dropout; (its output, its caches)."""
        p, caches = self.params, {}
        h, caches["affine"] = affine_forward(h, p[f"W{layer}"], p[f"b{layer}"])
        if self.normalization == "batchnorm":
            self.bn_params[layer - 1]["mode"] = mode
            h, caches["norm"] = batchnorm_forward(h, p[f"gamma{layer}"], p[f"beta{layer}"], self.bn_params[layer - 1])
        elif self.normalization == "layernorm":
            h, caches["norm"] = layernorm_forward(h, p[f"gamma{layer}"], p[f"beta{layer}"], self.bn_params[layer - 1])
        h, caches["relu"] = relu_forward(h)
        if self.use_dropout:
            self.dropout_param["mode"] = mode
            h, caches["dropout"] = dropout_forward(h, self.dropout_param)
        return h, caches

    def _hidden_backward(self, dh, layer, caches, grads):
        """The hidden layer's backward, in reverse; its parameters' gradients into `grads`; dh below it."""
        if self.use_dropout:
            dh = dropout_backward(dh, caches["dropout"])
        dh = relu_backward(dh, caches["relu"])
        if self.normalization == "batchnorm":
            dh, grads[f"gamma{layer}"], grads[f"beta{layer}"] = batchnorm_backward(dh, caches["norm"])
        elif self.normalization == "layernorm":
            dh, grads[f"gamma{layer}"], grads[f"beta{layer}"] = layernorm_backward(dh, caches["norm"])
        dh, grads[f"W{layer}"], grads[f"b{layer}"] = affine_backward(dh, caches["affine"])
        return dh

    def loss(self, X, y=None):
        """L = softmax_loss(scores, y) + ½·reg·Σ_l ‖W_l‖²; each dW_l gains reg·W_l.

        X: (N, d_1, ..., d_k), y: (N,) labels or None  ->  scores (N, C) if y is None (test mode),
        else (loss, grads by params' keys) (train mode)."""
        X, mode, L = X.astype(self.dtype), "test" if y is None else "train", self.num_layers
        h, caches = X, []
        for layer in range(1, L):
            h, cache = self._hidden_forward(h, layer, mode)
            caches.append(cache)
        scores, last = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last)
        for layer in range(L - 1, 0, -1):
            dh = self._hidden_backward(dh, layer, caches[layer - 1], grads)
        for layer in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(self.params[f"W{layer}"] ** 2)
            grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * self.params[f"W{layer}"]
        return loss, grads
