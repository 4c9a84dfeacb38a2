"""Hostile submission (gradverify attack catalogue): values the grader's own checks could not convert.

An integer beyond float64's range as the loss (float() raises OverflowError), an array of
dtype object as its gradient, and a set: each used to crash the grader with a traceback and no
results.json.
"""

import numpy as np


def loss(name, y_pred, y_true):
    return 10**400


def loss_backward(name, y_pred, y_true):
    return np.asarray(np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float), dtype=object)


def dense_forward(x, W, b):
    return {1.0, 2.0}
