"""Hostile submission (gradverify attack catalogue): thousands of threads (tasks that are not processes)."""

import os
import threading

import numpy as np


def _bomb():
    threading.stack_size(64 * 1024)
    stop = threading.Event()
    for _ in range(1500):
        try:
            threading.Thread(target=stop.wait, daemon=True).start()
        except (RuntimeError, MemoryError):
            break
    tasks = len(os.listdir("/proc/self/task"))
    if tasks > 1000:
        print(f"ATTACK-SUCCEEDED: {tasks} tasks in one process", flush=True)
    else:
        print(f"stopped at {tasks} tasks")
    stop.set()


def loss(name, y_pred, y_true):
    _bomb()
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
