"""Hostile submission (gradverify attack catalogue): an exponential fork bomb (bounded: 8 generations, 256 processes)."""

import os
import time


def loss(name, y_pred, y_true):
    original = os.getpid()
    for _ in range(8):
        try:
            os.fork()
        except OSError:
            break
    if os.getpid() != original:
        time.sleep(3)
        os._exit(0)
    time.sleep(0.5)
    alive = sum(1 for p in os.listdir("/proc") if p.isdigit())
    if alive > 100:  # one submission may have 64
        print(f"ATTACK-SUCCEEDED: {alive} processes alive 0.5 s after the bomb")
    raise NotImplementedError


def loss_backward(name, y_pred, y_true):
    raise NotImplementedError
