"""Hostile submission (gradverify attack catalogue): memory spread over processes, each under the per-process limit.

Six children hold 150 MB each (900 MB, the submission may have 512 MB) for a second; if
they all still live then, the limit of the whole submission did not hold.
"""

import os
import time

import numpy as np

CHILDREN, MB = 6, 150


def _spread():
    ready_r, ready_w = os.pipe()
    kids = []
    for _ in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            try:
                held = np.ones(MB * 2**20 // 8)  # touched, so resident
                os.write(ready_w, b"k")
                time.sleep(3)
                held.sum()
            finally:
                os._exit(0)
        kids.append(pid)
    got, end = 0, time.monotonic() + 5
    while got < CHILDREN and time.monotonic() < end:
        got += len(os.read(ready_r, 16))
    time.sleep(1.0)
    alive = sum(1 for pid in kids if os.waitpid(pid, os.WNOHANG)[0] == 0)
    if got == CHILDREN and alive == CHILDREN:
        print(f"\nATTACK-SUCCEEDED: {CHILDREN} x {MB} MB held at once for a second", flush=True)


def loss(name, y_pred, y_true):
    _spread()
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
