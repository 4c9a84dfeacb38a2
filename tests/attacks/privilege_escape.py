"""Hostile submission (gradverify attack catalogue): try to gain privileges or leave the sandbox's namespaces.

(Kernel settings under /proc/sys are write_kernel_sysctls' job.)

Nothing harmful is written: dangerous files are only opened, and each success is reported.
"""

import ctypes
import os

import numpy as np

CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
libc = ctypes.CDLL(None, use_errno=True)


def _try(what, fn):
    try:
        result = fn()
    except (OSError, PermissionError, AttributeError, ValueError):
        return
    if result is None or result == 0:
        print("ATTACK-SUCCEEDED:", what)


def _libc(name, *args):
    if getattr(libc, name)(*args) != 0:
        raise OSError(ctypes.get_errno(), name)


def _open(path, flags):
    os.close(os.open(path, flags))


def _capabilities():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("CapEff:") and int(line.split()[1], 16) != 0:
                return None
    raise OSError("no capabilities")


def _attack():
    if os.getuid() == 0 or os.geteuid() == 0:
        print("ATTACK-SUCCEEDED: runs as root")
    _try("effective capabilities", _capabilities)
    _try("setuid(0)", lambda: os.setuid(0))
    _try("setgid(0)", lambda: os.setgid(0))
    _try("setgroups([0])", lambda: os.setgroups([0]))
    _try("unshare(CLONE_NEWUSER)", lambda: _libc("unshare", CLONE_NEWUSER))
    _try("unshare(CLONE_NEWNS)", lambda: _libc("unshare", CLONE_NEWNS))
    target = os.path.join(os.getcwd(), "gvattack-mnt")
    try:
        os.makedirs(target, exist_ok=True)
    except OSError:
        pass
    _try("mount a tmpfs", lambda: _libc("mount", b"none", target.encode(), b"tmpfs", 0, None))
    _try("chroot", lambda: os.chroot(target))
    for path in ("/dev/mem", "/dev/kmem", "/dev/port", "/dev/sda", "/dev/vda", "/proc/sysrq-trigger", "/proc/kcore",
                 "/sys/fs/cgroup/cgroup.procs", "/sys/kernel/uevent_helper", "/etc/passwd", "/etc/sudoers", "/root/.bashrc"):
        _try(f"open {path} for writing", lambda path=path: _open(path, os.O_WRONLY))
    for path in ("/dev/mem", "/etc/shadow", "/root/.ssh/id_rsa", "/proc/kcore", "/proc/kmsg"):
        _try(f"open {path} for reading", lambda path=path: _open(path, os.O_RDONLY))


_attack()


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
