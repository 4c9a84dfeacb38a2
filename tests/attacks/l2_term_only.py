"""Hostile submission (gradverify attack catalogue): network_gradients returns only the L2 term and its gradient."""

import numpy as np


def network_gradients(net, X, Y):
    lam = net["l2"]
    value = 0.5 * lam * sum(float(np.sum(layer["W"] ** 2)) for layer in net["layers"])
    return value, [{"W": lam * layer["W"], "b": np.zeros_like(layer["b"])} for layer in net["layers"]]
