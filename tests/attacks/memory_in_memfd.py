"""Hostile submission (gradverify attack catalogue): memory that is neither address space nor resident set.

memfd_create files live in RAM (shmem), are not mapped (so RLIMIT_AS does not count them)
and are not in any process's RSS (so the watchdog does not see them); only the file-size
limit applies to each. 60 of 15 MB = 900 MB, where the submission may have 512 MB.
"""

import os
import time

import numpy as np


def _hold():
    block = b"\1" * (1 << 20)
    fds, held = [], 0
    try:
        for i in range(60):
            fd = os.memfd_create(f"gvattack-{i}")
            fds.append(fd)
            for _ in range(15):
                os.write(fd, block)
                held += 1
    except OSError as exc:
        print(f"stopped after {held} MB: {exc}")
    if held >= 800:
        print(f"ATTACK-SUCCEEDED: {held} MB held in memfd files", flush=True)
    time.sleep(0.5)
    for fd in fds:
        os.close(fd)


def loss(name, y_pred, y_true):
    _hold()
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
