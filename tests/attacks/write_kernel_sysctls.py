"""Hostile submission (gradverify attack catalogue): write the host kernel's global settings through /proc/sys.

Whoever can write kernel.core_pattern can make the host kernel run any program as root at
the next crash ("|/usr/bin/python3 -c ..."), and kernel.randomize_va_space, vm.overcommit_memory
or kernel.panic_on_oops change the whole machine. This attack writes back the value each setting
already has (so nothing changes): a write that succeeds is the finding.
"""

import os

import numpy as np

#: Settings of the whole machine (not of a namespace: kernel.pid_max, hostname and net.* are per namespace).
GLOBAL = ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/randomize_va_space", "/proc/sys/vm/overcommit_memory",
          "/proc/sys/fs/protected_symlinks", "/proc/sys/kernel/panic_on_oops", "/proc/sys/vm/max_map_count")


def _attack():
    for path in GLOBAL:
        try:
            with open(path, "rb") as handle:
                value = handle.read()
            fd = os.open(path, os.O_WRONLY)
        except OSError:
            continue
        try:
            if os.write(fd, value) == len(value):
                print(f"ATTACK-SUCCEEDED: wrote the host's {path[len('/proc/sys/'):]} (the value it had: {value.strip()!r})")
        except OSError:
            pass
        finally:
            os.close(fd)


_attack()


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
