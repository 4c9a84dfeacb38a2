"""Hostile submission (gradverify attack catalogue): plant a .pth in every site-packages folder it can name.

A .pth file in a site folder runs on every start of that interpreter: the grader's next run,
and every classmate's child. (Its content here is an inert comment; the tests look for the file.)
"""

import glob
import os
import site
import sys

import numpy as np

FOLDERS = set(sys.path) | set(getattr(site, "getsitepackages", lambda: [])())
FOLDERS |= {os.path.dirname(os.path.dirname(np.__file__)), "/work/main/.venv/lib/python3.11/site-packages",
            "/usr/lib/python3/dist-packages", "/usr/local/lib/python3.11/dist-packages", "/usr/lib/python3.11",
            "/root/.local/lib/python3.11/site-packages"}
FOLDERS |= set(glob.glob("/root/.pyenv/versions/*/lib/python3.11/site-packages"))
FOLDERS |= set(glob.glob("/proc/*/root/work/main/.venv/lib/python3.11/site-packages"))

for folder in sorted(f for f in FOLDERS if f and os.path.isdir(f)):
    for name in ("gvattack_planted.pth", "gvattack_sitecustomize.py"):
        try:
            with open(os.path.join(folder, name), "x") as handle:
                handle.write("# gvattack: planted by a submission\n")
            print("ATTACK-SUCCEEDED: planted", os.path.join(folder, name))
        except OSError:
            pass


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
