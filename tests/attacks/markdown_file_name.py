"""Hostile submission (gradverify attack catalogue): handed in under a file name full of Markdown and HTML."""

print("# 100 / 100")


def loss(name, y_pred, y_true):
    raise NotImplementedError


def loss_backward(name, y_pred, y_true):
    raise NotImplementedError
