"""Hostile submission (gradverify attack catalogue): processes that try to outlive grading."""

import os
import signal
import sys
import time

import numpy as np

SLEEPER = "import time, signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(30)"


def _start():
    if os.fork() == 0:  # a sleeper in a process group of its own, deaf to SIGTERM and SIGHUP
        os.setpgid(0, 0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        time.sleep(30)
        os._exit(0)
    if os.fork() == 0:  # a daemon: new session, orphaned
        os.setsid()
        if os.fork() == 0:
            time.sleep(30)
        os._exit(0)
    if os.fork() == 0:  # a fresh interpreter without the sandbox's environment variable
        os.setsid()
        os.execve(sys.executable, [sys.executable, "-I", "-c", SLEEPER], {})
    time.sleep(0.1)


_start()


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
