"""Hostile submission (gradverify attack catalogue): a 200 MB string as the result."""


def loss(name, y_pred, y_true):
    return "x" * 200_000_000


def loss_backward(name, y_pred, y_true):
    return "\u2028# 100 / 100 " * 10_000_000
