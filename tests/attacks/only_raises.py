"""Hostile submission (gradverify attack catalogue): every function raises, returns None or exits."""

import sys


def activation(name, z):
    raise ValueError("no")


def activation_backward(name, z, grad_a):
    return None


def loss(name, y_pred, y_true):
    raise ValueError("no")


def loss_backward(name, y_pred, y_true):
    sys.exit(0)


def dense_forward(x, W, b):
    raise KeyboardInterrupt


def dense_backward(x, W, grad_z):
    raise SystemExit


def network_gradients(net, X, Y):
    raise RecursionError


def sgd_momentum_step(params, grads, velocity, *, lr, momentum):
    raise MemoryError


def train(net, X, Y, *, lr, momentum=0.0, batch_size, epochs):
    raise GeneratorExit
