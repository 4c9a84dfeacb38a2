"""CS231n's ThreeLayerConvNet (assignment 2, classifiers/cnn.py), built of impl/layers.py's naive
functions: the model solution of the cs231n-a2 rubric's `three_layer_conv_net` item
(references/model_spec.py, docs/courses/cs231n.md).

    net = ThreeLayerConvNet(input_dim=(C, H, W), num_filters=F, filter_size=k, hidden_dim=M, num_classes=K)
    scores = net.loss(X)                  # test mode
    loss, grads = net.loss(X, y)          # train mode: grads by net.params' keys

conv (stride 1, pad (k − 1)/2: the size kept) → relu → 2×2 max pool (stride 2) → affine → relu →
affine → softmax loss, plus ½·reg·(‖W1‖² + ‖W2‖² + ‖W3‖²) (the handout's ½). The handout's own
class calls layer_utils' conv_relu_pool_forward (its fast_layers inside); this one calls the
naive layers in turn, which compute the same.
"""

from __future__ import annotations

import numpy as np

from .layers import (
    affine_backward,
    affine_forward,
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
    relu_backward,
    relu_forward,
    softmax_loss,
)

__all__ = ["ThreeLayerConvNet"]


class ThreeLayerConvNet:
    """conv → relu → 2×2 max pool → affine → relu → affine → softmax, on (N, C, H, W) images.

    params: W1 (F, C, k, k), b1 (F,), W2 (F·(H/2)·(W/2), M), b2 (M,), W3 (M, K), b3 (K,)."""

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        """W1, W2, W3 ~ N(0, weight_scale²), the biases zeros, each of `dtype`."""
        self.reg = reg
        self.dtype = dtype
        C, H, W = input_dim
        self.params = {
            "W1": weight_scale * np.random.randn(num_filters, C, filter_size, filter_size),
            "b1": np.zeros(num_filters),
            "W2": weight_scale * np.random.randn(num_filters * (H // 2) * (W // 2), hidden_dim),
            "b2": np.zeros(hidden_dim),
            "W3": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b3": np.zeros(num_classes),
        }
        for key, value in self.params.items():
            self.params[key] = value.astype(dtype)

    def loss(self, X, y=None):
        """X: (N, C, H, W), y: (N,) labels or None -> scores (N, K) if y is None, else (loss, grads)."""
        p = self.params
        conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        X = X.astype(self.dtype)
        conv, conv_cache = conv_forward_naive(X, p["W1"], p["b1"], conv_param)
        conv, relu1 = relu_forward(conv)
        pool, pool_cache = max_pool_forward_naive(conv, pool_param)
        hidden, affine2 = affine_forward(pool, p["W2"], p["b2"])
        hidden, relu2 = relu_forward(hidden)
        scores, affine3 = affine_forward(hidden, p["W3"], p["b3"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.sum(p[key] ** 2) for key in ("W1", "W2", "W3"))
        grads = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, affine3)
        dpool, grads["W2"], grads["b2"] = affine_backward(relu_backward(dhidden, relu2), affine2)
        dconv = relu_backward(max_pool_backward_naive(dpool, pool_cache), relu1)
        _, grads["W1"], grads["b1"] = conv_backward_naive(dconv, conv_cache)
        for key in ("W1", "W2", "W3"):
            grads[key] = grads[key] + self.reg * p[key]
        return loss, grads
