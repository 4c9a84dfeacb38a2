"""Hostile submission (gradverify attack catalogue): change the inputs in place so that they match the answer."""

import numpy as np


def network_gradients(net, X, Y):
    for layer in net["layers"]:
        layer["W"][...] = 0.0
        layer["b"][...] = 0.0
        layer["activation"] = "identity"
    X[...] = 0.0
    Y[...] = 0.0
    net["loss"] = "mse"
    net["l2"] = 0.0
    grads = [{"W": layer["W"], "b": layer["b"]} for layer in net["layers"]]
    net["layers"].append({"W": np.zeros((1, 1)), "b": np.zeros(1), "activation": "identity"})
    return 0.0, grads
