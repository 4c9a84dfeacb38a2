"""Hostile submission (gradverify attack catalogue): memory over many processes while the output never stops.

As memory_across_forks, but a thread and every child write a byte to stdout every 20 ms
while the children hold their memory: the grader's watchdog only looks when nothing arrives
for 100 ms.
"""

import os
import threading
import time

import numpy as np

CHILDREN, MB = 6, 150


def _chatter(seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        os.write(1, b".")
        time.sleep(0.02)


def _spread():
    ready_r, ready_w = os.pipe()
    kids = []
    for _ in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            try:
                held = np.ones(MB * 2**20 // 8)
                os.write(ready_w, b"k")
                _chatter(3)
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


_started = False


def loss(name, y_pred, y_true):
    global _started
    if not _started:
        _started = True
        threading.Thread(target=_chatter, daemon=True).start()
        _spread()
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
