"""Hostile submission (gradverify attack catalogue): results nested 100000 deep."""


def loss(name, y_pred, y_true):
    value = 0.0
    for _ in range(100_000):
        value = [value]
    return value


def loss_backward(name, y_pred, y_true):
    value = {}
    for _ in range(100_000):
        value = {"a": value}
    return value
