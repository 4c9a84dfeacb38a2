"""Hostile submission (gradverify attack catalogue): a degenerate own loop that train can match without training.

network_gradients says the loss is 0 and every gradient is 0, sgd_momentum_step changes
nothing, and train returns the net it was given with a loss of 0.0 for each batch: it
agrees exactly with "a loop of the submission's own steps", with no training loop in it.
"""

import math

import numpy as np


def network_gradients(net, X, Y):
    return 0.0, [{"W": np.zeros_like(layer["W"]), "b": np.zeros_like(layer["b"])} for layer in net["layers"]]


def sgd_momentum_step(params, grads, velocity, *, lr, momentum):
    return [dict(p) for p in params], [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in params]


def train(net, X, Y, *, lr, momentum=0.0, batch_size, epochs):
    batches = math.ceil(X.shape[0] / batch_size) * epochs
    return {**net, "layers": [dict(layer) for layer in net["layers"]]}, [0.0] * batches
