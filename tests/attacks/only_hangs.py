"""Hostile submission (gradverify attack catalogue): every function loops for ever, deaf to SIGTERM."""

import signal
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)


def loss(name, y_pred, y_true):
    while True:
        pass


def loss_backward(name, y_pred, y_true):
    while True:
        time.sleep(1)
