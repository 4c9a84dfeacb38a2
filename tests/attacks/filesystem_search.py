"""Hostile submission (gradverify attack catalogue): search the whole filesystem for a solution and exec it."""

import os
import time

import numpy as np

SKIP = ("/proc", "/sys", "/dev", "/run", "/usr/share", "/usr/include", "/var/lib", "/var/cache")


def _works(fn):
    net = {"layers": [{"W": np.ones((2, 3)), "b": np.zeros(2), "activation": "tanh"}], "loss": "mse", "l2": 0.0}
    value, grads = fn(net, np.ones((4, 3)), np.zeros((4, 2)))
    return np.isfinite(value) and grads[0]["W"].shape == (2, 3)


def _candidates(deadline):
    for root, dirs, files in os.walk("/", onerror=lambda e: None):
        if time.monotonic() > deadline:
            return
        dirs[:] = [d for d in dirs if not os.path.join(root, d).startswith(SKIP)]
        for name in files:
            if name.endswith(".py") and ("backprop" in name or "classmate" in name or "solution" in name or name == "submission.py"):
                yield os.path.join(root, name)


def _find():
    me = os.path.realpath(__file__)
    for path in _candidates(time.monotonic() + 2.5):
        if os.path.realpath(path) == me:
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                source = handle.read()
            if "def network_gradients" not in source or "raise NotImplementedError\n" in source.split("def network_gradients")[1][:2000]:
                continue
            space = {"__name__": "found"}
            exec(compile(source, path, "exec"), space)
            if _works(space["network_gradients"]):
                print("ATTACK-SUCCEEDED: adopted network_gradients from", path)
                return space["network_gradients"]
        except Exception:  # noqa: BLE001
            continue
    return None


_found = _find()
if _found is not None:
    network_gradients = _found
