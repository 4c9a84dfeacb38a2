"""A submission whose functions do what students' code sometimes does by mistake -- or on purpose."""

import ctypes
import os
import signal
import socket
import stat
import sys
import time

import numpy as np


def echo(value):
    return value


def working_folder():
    return os.getcwd()


def loop_forever():
    while True:
        pass


def hog_list():
    return [0] * (10**10)


def hog_array():
    return np.ones((10**6, 10**5))


def hog_gradually():
    kept = []
    while True:
        kept.append(np.ones(10**6))


def flood(lines):
    for i in range(lines):
        print("flood line", i)
    return lines


def flood_forever():
    while True:
        print("x" * 1000)


def flood_descriptor_forever():
    while True:
        os.write(1, b"y" * 65536)


def exit_call(code):
    sys.exit(code)


def os_exit(code):
    os._exit(code)


def fork_then_exit(code):
    """The forked child keeps the channel to the grader open after this process ends."""
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
    os._exit(code)


def crash():
    ctypes.string_at(0)  # a real segmentation fault


def not_done(*args, **kwargs):
    raise NotImplementedError("TODO")


def raise_value_error():
    raise ValueError("the weights are wrong\nsecond line")


def too_large():
    return np.zeros(40_000_000)


def too_deep():
    value = []
    value.append(value)
    return value


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def kill_parent():
    os.kill(os.getppid(), signal.SIGKILL)


def kill(pid):
    os.kill(pid, signal.SIGKILL)


def fork_sleeper():
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
    return "forked"


def daemon_sleeper():
    """Double fork into a new session, which leaves the process group."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        os._exit(0)
    os.wait()
    time.sleep(0.1)
    return "daemonised"


def fork_bomb():
    """Fork sleeping children until refused; how many were made."""
    made = 0
    for _ in range(500):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        made += 1
    return made


def _channel():
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                return socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
    raise RuntimeError("no socket")


def send_raw(data):
    """Write `data` (a str of bytes 0-255) straight onto the channel to the grader, ahead of the real reply."""
    _channel().sendall(data.encode("latin-1"))
    time.sleep(0.2)
    return "sent"
