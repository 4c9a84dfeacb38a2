"""Hostile submission (gradverify attack catalogue): far more memory than allowed, at once and gradually."""

import numpy as np


def loss(name, y_pred, y_true):
    return np.ones((10**6, 10**5)).sum()


def loss_backward(name, y_pred, y_true):
    kept = []
    while True:
        kept.append(bytearray(10**7))
