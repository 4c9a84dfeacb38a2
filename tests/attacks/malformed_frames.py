"""Hostile submission (gradverify attack catalogue): write off-protocol frames onto the channel to the grader."""

import json
import os
import socket
import stat
import struct
import threading
import time


def _channel():
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                return socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
    raise RuntimeError("no channel")


def _frame(message):
    body = json.dumps(message).encode()
    return struct.pack(">Q", len(body)) + body


_calls = 0


def _stale_flood(sock, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            sock.sendall(_frame({"id": 0, "ok": [0.0] * 1000}))
        except OSError:
            return


def loss(name, y_pred, y_true):
    global _calls
    _calls += 1
    sock = _channel()
    if _calls % 4 == 1:
        sock.sendall(struct.pack(">Q", 1 << 32) + b"{" * 1000)  # a 4 GB frame announced
    elif _calls % 4 == 2:
        sock.sendall(struct.pack(">Q", 20) + b"not json at all!!!!!")
    elif _calls % 4 == 3:
        sock.sendall(_frame({"id": 10**6, "ok": 0.0}))  # an id ahead
    else:
        threading.Thread(target=_stale_flood, args=(sock, 30), daemon=True).start()  # stale frames for ever
        time.sleep(0.5)
    time.sleep(0.2)
    raise NotImplementedError


def loss_backward(name, y_pred, y_true):
    return loss(name, y_pred, y_true)
