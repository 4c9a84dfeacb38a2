"""Hostile submission (gradverify attack catalogue): open the grader's code for writing and plant files beside it.

Existing files are only opened for appending (nothing is written: if that works the attack
has won, and the checkout stays intact); new files named gvattack_* are created.
"""

import glob
import os

import numpy as np

import __main__

FOLDERS = ["/work/main/gradverify", "/work/main/gradverify/grading", "/work/main/gradverify/sandbox", "/work/main/properties",
           "/work/main/impl",
           "/work/main/references", "/work/main/tests", "/work/main", os.path.dirname(np.__file__),
           "/sandbox/runtime", "/sandbox/code", os.path.dirname(os.path.abspath(getattr(__main__, "__file__", "/")))]
FOLDERS += glob.glob("/work/main/.venv/lib/python3.11/site-packages/gradverify*")


def _attack():
    for folder in FOLDERS:
        if not os.path.isdir(folder):
            continue
        for path in glob.glob(os.path.join(folder, "*.py"))[:50]:
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
                print("ATTACK-SUCCEEDED: could write", path)
            except OSError:
                pass
        try:
            with open(os.path.join(folder, "gvattack_planted.py"), "x") as handle:
                handle.write("print('POISON from gvattack')\n")
            print("ATTACK-SUCCEEDED: planted a file in", folder)
        except OSError:
            pass


_attack()


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
