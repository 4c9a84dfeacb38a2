"""tinynet: a small NumPy network library with layers as classes, in PyTorch's style.

    model = Sequential([Linear(w1, b1), ReLU(), Linear(w2, b2), Sigmoid()])
    loss_fn = MSELoss()
    loss = loss_fn.forward(model.forward(x), y)
    model.backward(loss_fn.backward())          # sets each Linear's grad_weight, grad_bias
    SGD(model.linears(), lr=0.1, momentum=0.9).step()

Linear keeps its weight as (in, out), x·weight + bias. There is no softmax, no cross-entropy
and no weight decay: what the library does not have, its gate leaves out of scope.
"""

import numpy as np


class Linear:
    """z = x·weight + bias, weight (in, out), bias (out,)."""

    def __init__(self, weight, bias):
        self.weight, self.bias = weight, bias
        self.grad_weight = np.zeros_like(weight)
        self.grad_bias = np.zeros_like(bias)

    def forward(self, x):
        self.x = x
        return x @ self.weight + self.bias

    def backward(self, grad):
        """grad_weight = xᵀ·grad, grad_bias = Σ_n grad; returns grad·weightᵀ."""
        self.grad_weight = self.x.T @ grad
        self.grad_bias = grad.sum(axis=0)
        return grad @ self.weight.T


class ReLU:
    def forward(self, z):
        self.z = z
        return np.maximum(z, 0)

    def backward(self, grad):
        return grad * (self.z > 0)


class Sigmoid:
    """σ(z) from e^(−|z|), so that it never overflows; σ' = σ(1 − σ)."""

    def forward(self, z):
        e = np.exp(-np.abs(z))
        self.a = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return self.a

    def backward(self, grad):
        return grad * self.a * (1 - self.a)


class MSELoss:
    """(1/(N·K))·Σ(ŷ − y)², gradient 2(ŷ − y)/(N·K)."""

    def forward(self, pred, target):
        self.diff = pred - target
        return float(np.mean(self.diff**2))

    def backward(self):
        return 2 * self.diff / self.diff.size


class Sequential:
    def __init__(self, layers):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def linears(self):
        return [layer for layer in self.layers if isinstance(layer, Linear)]


class SGD:
    """v ← momentum·v − lr·grad, then weight ← weight + v (likewise the bias)."""

    def __init__(self, linears, lr, momentum=0.0):
        self.linears, self.lr, self.momentum = list(linears), lr, momentum
        self.v_weight = [np.zeros_like(layer.weight) for layer in self.linears]
        self.v_bias = [np.zeros_like(layer.bias) for layer in self.linears]

    def step(self):
        for i, layer in enumerate(self.linears):
            self.v_weight[i] = self.momentum * self.v_weight[i] - self.lr * layer.grad_weight
            self.v_bias[i] = self.momentum * self.v_bias[i] - self.lr * layer.grad_bias
            layer.weight = layer.weight + self.v_weight[i]
            layer.bias = layer.bias + self.v_bias[i]
