"""Hostile submission (gradverify attack catalogue): values that lie about what they are."""

import itertools

import numpy as np


class Liar(float):
    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False  # noqa: E731
    __hash__ = float.__hash__

    def __sub__(self, other):
        return 0.0

    __rsub__ = __sub__

    def __abs__(self):
        return 0.0

    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array of me")


class LiarArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __sub__(self, other):
        return np.zeros(np.shape(other))

    __rsub__ = __sub__

    def __array_ufunc__(self, *args, **kwargs):
        return np.zeros(1)


class Shape:
    shape = ()
    dtype = np.dtype("float64")

    def __float__(self):
        raise ValueError("I am every number")

    def __array__(self, *args, **kwargs):
        return np.array(np.nan)


_calls = itertools.count()
LOSSES = [lambda p, y: float("nan"), lambda p, y: float("inf"), lambda p, y: Liar(0.0), lambda p, y: Shape(),
          lambda p, y: np.array([np.nan]), lambda p, y: "0.0", lambda p, y: 0j]
GRADS = [lambda p, y: np.full_like(p, np.nan), lambda p, y: np.zeros_like(p).view(LiarArray),
         lambda p, y: np.ma.masked_all(p.shape), lambda p, y: np.zeros(p.shape, dtype=object),
         lambda p, y: np.zeros(p.shape, dtype=complex), lambda p, y: p, lambda p, y: y]


def loss(name, y_pred, y_true):
    return LOSSES[next(_calls) % len(LOSSES)](y_pred, y_true)


def loss_backward(name, y_pred, y_true):
    return GRADS[next(_calls) % len(GRADS)](y_pred, y_true)
