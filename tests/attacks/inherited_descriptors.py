"""Hostile submission (gradverify attack catalogue): use any file descriptor the grader let through."""

import os
import stat

import numpy as np


def _attack():
    channel = None
    for fd in sorted(int(n) for n in os.listdir("/proc/self/fd")):
        try:
            mode = os.fstat(fd).st_mode
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if fd in (1, 2):
            continue
        if stat.S_ISSOCK(mode) and channel is None:
            channel = fd  # the one socket to the grader is expected
            continue
        if fd == 0 and target in ("/dev/null",):
            continue
        print("leaked descriptor", fd, target)
        if stat.S_ISDIR(mode):
            try:
                os.fchdir(fd)
                print("ATTACK-SUCCEEDED: fchdir into a leaked folder:", target, os.listdir(".")[:5])
            except OSError:
                pass
        elif stat.S_ISREG(mode):
            try:
                os.write(fd, b"gvattack")
                print("ATTACK-SUCCEEDED: wrote into a leaked file:", target)
            except OSError:
                print("ATTACK-SUCCEEDED: a leaked readable file:", target)
        elif stat.S_ISSOCK(mode):
            print("ATTACK-SUCCEEDED: a second socket:", target)
        elif not target.startswith(("pipe:", "/dev/null", "anon_inode:")):
            print("ATTACK-SUCCEEDED: leaked", target)
    # the grader's end of its channel, or any of its files, through /proc/<ppid>/fd
    for pid in (os.getppid(), 1):
        try:
            for name in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{name}")
                if target.startswith("/") and not target.startswith(("/dev/null", "/proc")):
                    print("ATTACK-SUCCEEDED: sees the parent's descriptor", name, target)
        except OSError:
            pass


_attack()


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
