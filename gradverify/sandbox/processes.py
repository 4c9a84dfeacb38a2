"""The sandbox's processes, seen from the grader's side through /proc: finding every process of a
submission (its PID namespace, its token, its uid), measuring their memory and CPU time, and
ending them all, strays and what a separate-user child left in the shared folders included."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from dataclasses import dataclass


#: Environment variable marking the child and everything it starts (for the final sweep).
TOKEN_VARIABLE = "GRADVERIFY_SANDBOX"


def _proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, parent, process group, session) of a process, from /proc; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3])
    except (OSError, IndexError, ValueError):
        return None


def pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def children(parent: int) -> list[int]:
    """Live processes whose parent is `parent`."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        stat = _proc_stat(int(entry))
        if stat is not None and stat[0] != "Z" and stat[1] == parent:
            found.append(int(entry))
    return found


def _carries(pid: int, token: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return token in handle.read().split(b"\0")
    except OSError:
        return False


def sandbox_processes(leader: int, token: str | None = None, uid: int | None = None) -> list[int]:
    """Live (not zombie) processes of the sandbox: descendants of `leader` or in its group or
    session, carrying the sandbox `token`, or (separate-user mode) run by `uid`."""
    marker = f"{TOKEN_VARIABLE}={token}".encode() if token else None
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            stat = _proc_stat(int(entry))
            if stat is not None and stat[0] != "Z":
                stats[int(entry)] = stat
    found = {
        pid
        for pid, stat in stats.items()
        if leader in stat[2:] or (marker is not None and _carries(pid, marker)) or (uid is not None and _owner(pid) == uid)
    }
    parents = {leader} | found
    grew = True
    while grew:  # descendants, however they detached from the group
        grew = False
        for pid, stat in stats.items():
            if pid not in found and stat[1] in parents and pid != leader:
                found.add(pid)
                parents.add(pid)
                grew = True
    return sorted(found)


def _owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def memory_bytes(pids: list[int]) -> int:
    """The memory these processes hold together: their resident pages, and the files they hold
    open that live in memory only (memfd_create's; a file not mapped is in no one's RSS)."""
    total, seen = 0, set()
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/memfd:"):
                        info = os.stat(f"/proc/{pid}/fd/{fd}")
                        if (info.st_dev, info.st_ino) not in seen:
                            seen.add((info.st_dev, info.st_ino))
                            total += info.st_blocks * 512
    return total


def kill_strays(leader: int, token: str | None, patience: float = 2.0, uid: int | None = None) -> None:
    """SIGKILL whatever the child left behind until nothing is left alive (or `patience` seconds pass)."""
    give_up = time.monotonic() + patience
    while time.monotonic() < give_up:
        strays = sandbox_processes(leader, token, uid)
        if not strays:
            return
        for pid in strays:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def pidfd(pid: int) -> int | None:
    """A file descriptor that becomes readable when the process ends (None where unsupported)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class CallTiming:
    """How long one call into the submission took, as this side measured it (seconds): the wall
    time from sending the request to receiving the reply, and the CPU time that all the sandbox's
    processes used meanwhile (`sandbox_cpu`)."""

    wall: float
    cpu: float


def cpu_seconds(pid: int) -> float | None:
    """The CPU time a process has used, with the children it reaped (seconds); None if it is gone.
    Its own is read from its process CPU clock (nanoseconds, every thread, ended ones too), which
    any process may read, or from /proc in clock ticks where that clock cannot be read; its reaped
    children's from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        own, children = (int(fields[11]) + int(fields[12])) / ticks, (int(fields[13]) + int(fields[14])) / ticks
    except (OSError, IndexError, ValueError):
        return None
    with contextlib.suppress(OSError, OverflowError):
        own = time.clock_gettime(((~pid) << 3) | 2)  # the process's CPU clock (Linux: CPUCLOCK_SCHED)
    return own + children


def sandbox_cpu(before: dict[int, float], after: dict[int, float]) -> float:
    """The CPU time used between two readings of `_cpu_snapshot` (seconds): what each process alive
    at the second used since the first (all of it for one started since); never less than 0 for
    any one, so a process that ends or is reaped elsewhere takes nothing off the others."""
    return sum(max(0.0, seconds - before.get(pid, 0.0)) for pid, seconds in after.items())


#: World-writable folders a separate-user child could leave files in.
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


def sweep_user(uid: int) -> None:
    """Kill every process of `uid` and remove what it left in the shared folders (in the
    separate-user mode, `uid` is the submission's alone: engine.sandbox_uid)."""
    kill_strays(-1, None, uid=uid)
    for folder in SHARED_FOLDERS:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid == uid:
                        if entry.is_dir(follow_symlinks=False):
                            shutil.rmtree(entry.path, ignore_errors=True)
                        else:
                            os.unlink(entry.path)


def tasks_of(uid: int) -> int:
    """How many processes (threads included) the user `uid` has now."""
    count = 0
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{entry}").st_uid == uid:
                count += len(os.listdir(f"/proc/{entry}/task"))
    return count
