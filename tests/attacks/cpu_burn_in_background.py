"""Hostile submission (gradverify attack catalogue): burn CPU in threads and children while answering honestly."""

import os
import threading
import time

import numpy as np


def _spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


for _ in range(2):
    threading.Thread(target=_spin, args=(30,), daemon=True).start()
for _ in range(2):
    if os.fork() == 0:
        os.setsid()
        _spin(30)
        os._exit(0)


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
