"""Backpropagation for multilayer perceptrons, in NumPy — your implementation.

Implement the functions below. They are graded by gradverify against JAX and PyTorch
on random networks; each function is graded on its own, so a function you leave
unimplemented costs only its own points. Use NumPy only, and do not modify your inputs.

Conventions (see the protocol):
    X: (N, D), one sample a row.      W: (out, in), W[j, i] = w_ji.      b: (out,)
    z = X @ W.T + b                   a = φ(z)
    net = {"layers": [{"W": ..., "b": ..., "activation": name}, ...], "loss": name, "l2": λ}
    grads = [{"W": ∂E/∂W, "b": ∂E/∂b}, ...], one per layer, in order.
All arrays are float64. Bad input (an unknown name, a wrong shape) raises ValueError.

Activations: identity, sigmoid, tanh, relu, leaky_relu (slope 0.01), softplus, softmax.
Losses: mse, sse, mae, mape, bce, cce, sparse_cce.
"""

import numpy as np  # noqa: F401 - for the student's code: NumPy is what the functions are written in


def activation(name, z):
    """a = φ(z) for z of shape (N, units); softmax is taken over the last axis.

    identity: z            sigmoid: 1/(1 + e^{−z})      tanh: tanh z
    relu: max(z, 0)        leaky_relu: z if z > 0 else 0.01·z
    softplus: log(1 + e^z) softmax: e^{z_k} / Σ_j e^{z_j}
    Take care that no exp overflows for large |z|.
    """
    raise NotImplementedError


def activation_backward(name, z, grad_a):
    """grad_z = grad_a · ∂φ(z)/∂z — a vector-Jacobian product, shape (N, units).

    For the elementwise activations this is grad_a ⊙ φ'(z). softmax is not elementwise:
    every output depends on every input of its row, ∂s_k/∂z_j = s_k·(1[k = j] − s_j).
    """
    raise NotImplementedError


def loss(name, y_pred, y_true):
    """The loss E(ŷ, y) as a float; y_pred (N, K), y_true (N, K) or integer labels (N,) for sparse_cce.

    mse:  (1/(N·K))·Σ (ŷ − y)²             sse: (1/N)·Σ_n ½·Σ_k (ŷ − y)²
    mae:  (1/(N·K))·Σ |ŷ − y|              mape: (100/(N·K))·Σ |ŷ − y| / |y|
    bce:  −(1/(N·K))·Σ [y·log ŷ + (1 − y)·log(1 − ŷ)]
    cce:  −(1/N)·Σ_n Σ_k y_nk·log ŷ_nk     sparse_cce: −(1/N)·Σ_n log ŷ[n, c_n]
    """
    raise NotImplementedError


def loss_backward(name, y_pred, y_true):
    """∂E/∂ŷ, the same shape as y_pred."""
    raise NotImplementedError


def dense_forward(x, W, b):
    """z = x @ W.T + b:  x (N, in), W (out, in), b (out,) -> z (N, out)."""
    raise NotImplementedError


def dense_backward(x, W, grad_z):
    """(grad_x, grad_W, grad_b) for z = x @ W.T + b, given grad_z = ∂E/∂z of shape (N, out).

    grad_x has the shape of x, grad_W the shape of W, grad_b the shape of b; the
    gradients of W and b add up the contributions of all N samples.
    """
    raise NotImplementedError


def network_gradients(net, X, Y):
    """(loss_value, grads): the loss of the network on (X, Y), and its gradient for every layer.

    Forward: h_0 = X, z_l = h_{l−1} @ W_l.T + b_l, h_l = φ_l(z_l); ŷ = h_L.
    loss_value = loss(net["loss"], ŷ, Y) + (λ/2)·Σ_l ‖W_l‖² (weights only, not biases).
    Backward: the local gradient δ_j = φ'(v_j)·Σ_k δ_k·w_kj, from the output layer down.
    """
    raise NotImplementedError


def sgd_momentum_step(params, grads, velocity, *, lr, momentum):
    """(new_params, new_velocity) after one step of gradient descent with momentum.

    params: the list of layer dicts (keep each layer's "activation"); grads: [{"W", "b"}, ...];
    velocity: None on the first step, afterwards the new_velocity of the step before.
        Δw(n) = −lr·∂E/∂w(n) + momentum·Δw(n−1),   w(n+1) = w(n) + Δw(n)
    new_velocity is [{"W": ΔW, "b": Δb}, ...], the change just made.
    """
    raise NotImplementedError


def train(net, X, Y, *, lr, momentum=0.0, batch_size, epochs):
    """(trained net, batch_losses): mini-batch SGD with momentum.

    Each epoch goes through the batches X[0:bs], X[bs:2bs], … in order (no shuffling; the
    last batch may be smaller), one sgd_momentum_step per batch, the velocity carried
    from batch to batch and epoch to epoch. batch_losses holds each batch's loss_value
    before its step. Do not modify the input net.
    """
    raise NotImplementedError
