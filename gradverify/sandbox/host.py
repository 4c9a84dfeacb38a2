"""Run an untrusted submission in a separate, locked-down process and call its functions from here.

    with Sandbox("student.py", call_timeout=10) as box:
        fn = getattr(box.module, "network_gradients", None)   # None if not defined
        loss, grads = fn(net, X, Y)                              # runs in the child
        print(box.output())                                      # what the submission printed

With ``Sandbox("student.py", adapter="course_api.py")`` the child imports a course adapter
over the submission (docs/adapters.md) and `box.module` serves the adapter's functions;
`inspect_adapter` imports an adapter alone to read what it declares.

`box.module` behaves like the imported submission: its attributes are the submission's
top-level callables, and calling one sends the arguments to the child (see
sandbox/worker.py), waits for the reply within a wall-clock limit, and returns the
decoded value or raises :class:`SubmissionCallError` whose ``cause`` says, in a short
sentence, what went wrong (``timed out after 10 s``, ``raised ValueError: ...``, ...). A call
that killed or hung the child is followed, on the next call, by a fresh child that imports
the submission again, so grading goes on with the next item.

Isolation comes from engine.py, which picks the mode once per grader process: the child
runs under bubblewrap (private filesystem with only the interpreter, its standard library and
NumPy; no network; its own PID namespace that dies with the grader; uid 65534), or, as root
where user namespaces are forbidden, as a uid of its own with the grader's files locked away, or,
only with ``unsafe=True``, as it is. No mode, no sandbox: `start` raises SandboxUnavailable.
Always: a new session (its whole process group can be killed), stdin closed, fds 1/2 on a
pipe this side drains (at most ``output_limit`` bytes are kept), a minimal environment with
single-threaded BLAS, limits set before the child runs (address space, CPU time, file size,
no core dumps, processes), and a watchdog that ends the whole submission when all its
processes together use more than ``memory_mb`` or more than PROCESSES processes.
``Sandbox.isolation`` names the protections of the mode, as this side establishes them.

The channel is length-prefixed JSON over a socketpair; nothing from the child is unpickled
or executed, every reply is validated, and a child that sends anything off the protocol is
killed and reported as ``sent a malformed reply``. All decisions are taken here.

Known limits are in docs/security.md. A Sandbox is not meant to be used from several
threads at once (calls are serialised by a lock).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import secrets
import select
import shutil
import signal
import socket
import stat as file_stat
import subprocess
import sys
import threading
import time
import types
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from . import engine
from .codec import (
    FRAME_SLACK,
    HEADER,
    REPLY_FLOOR,
    ValueTooDeep,
    ValueTooLarge,
    decode_value,
    reply_limit,
    too_many_containers,
    dump_message,
    encode_value,
)

MEMORY_CAUSE = "ran out of memory"
MALFORMED_CAUSE = "sent a malformed reply"
WORKER_SCRIPT = Path(__file__).resolve().with_name("worker.py")
#: Largest file the child may write (MiB), the size of its private /tmp and /dev/shm (MiB),
#: and most processes a submission may have at once.
FILE_MB = 16
TMP_MB = 64
PROCESSES = 64
#: How often the watchdog looks at the submission's processes (seconds).
WATCH_EVERY = 0.1
NOBODY = engine.NOBODY
SandboxUnavailable = engine.SandboxUnavailable
#: Largest frame accepted from the child.
#: Environment variable marking the child and everything it starts (for the final sweep).
TOKEN_VARIABLE = "GRADVERIFY_SANDBOX"


class SubmissionLoadError(Exception):
    """The submission could not be imported; str(exc) is the cause, e.g. 'syntax error at line 3: invalid syntax'."""


class AdapterLoadError(SubmissionLoadError):
    """The course adapter could not be imported (on its own, or beside the submission); str(exc)
    is the cause, e.g. "raised NameError: name 'np' is not defined at line 12 while importing"."""


@dataclass(frozen=True)
class AdapterDeclaration:
    """What a course adapter said about itself once imported (docs/adapters.md): its top-level
    callables, the activations and losses its activation and loss functions map (None: all of
    them) and whether its network_gradients maps the L2 term."""

    functions: frozenset[str]
    activations: tuple[str, ...] | None
    losses: tuple[str, ...] | None
    l2: bool
    #: the activations and losses its network_gradients and train map (None: all of them)
    network_activations: tuple[str, ...] | None = None
    network_losses: tuple[str, ...] | None = None


#: What a SubmissionCallError's `kind` can be.
CALL_FAILURES = frozenset({"timeout", "memory", "too_large", "too_deep", "missing", "exit",
                           "raised", "malformed", "crashed"})


class SubmissionCallError(Exception):
    """A call into the submission failed. `kind` says how (one of CALL_FAILURES), `cause` (also
    str(exc)) words it for a person; a raised exception also gives its `exception` type name and
    the `message` it carried."""

    def __init__(self, cause: str, kind: str, *, exception: str | None = None, message: str = ""):
        super().__init__(cause)
        self.cause = cause
        self.kind = kind
        self.exception = exception
        self.message = message
        #: of a timed call that timed out (Sandbox.timed_call): what it had used when it was stopped
        self.timing: CallTiming | None = None


class _Timeout(Exception):
    """The wall-clock budget ran out before the child answered."""


class _Gone(Exception):
    """The child ended or misbehaved and has been killed and reaped; `cause` says how, `kind` in a word."""

    def __init__(self, cause: str, kind: str = "crashed"):
        super().__init__(cause)
        self.cause = cause
        self.kind = kind


class FileNotCopied(Exception):
    """The submission could not be copied into its sandbox folder: it is a symbolic link (never
    followed, so that a root grader never copies a file its author could not read) or it cannot
    be read. str(exc) names the file and says why. The grader's problem, not the submission's:
    no grade is given."""


class _LoadFailure(Exception):
    """Starting a child and importing the submission failed; `cause` says why, `adapter` whether
    it was the course adapter's import that failed."""

    def __init__(self, cause: str, timed_out: bool = False, adapter: bool = False):
        super().__init__(cause)
        self.cause = cause
        self.timed_out = timed_out
        self.adapter = adapter


# --------------------------------------------------------------------------- #
# Output, the child process, its clean-up.
# --------------------------------------------------------------------------- #


class _Output:
    """What the submission printed: the first `limit` bytes, and whether more came."""

    def __init__(self, limit: int):
        self.limit = limit
        self.data = bytearray()
        self.cut = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        if len(chunk) > room:
            self.cut = True

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if not self.cut:
            return text
        newline = "\n" if text and not text.endswith("\n") else ""
        return f"{text}{newline}[output cut after {self.limit} bytes]"


def _proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, parent, process group, session) of a process, from /proc; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3])
    except (OSError, IndexError, ValueError):
        return None


def _pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _children(parent: int) -> list[int]:
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
    found = {pid for pid, stat in stats.items()
             if leader in stat[2:] or (marker is not None and _carries(pid, marker)) or (uid is not None and _owner(pid) == uid)}
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


def _memory_bytes(pids: list[int]) -> int:
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


def _kill_strays(leader: int, token: str | None, patience: float = 2.0, uid: int | None = None) -> None:
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


def _pidfd(pid: int) -> int | None:
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


def _cpu_seconds(pid: int) -> float | None:
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


class _Worker:
    """One child process: the process, the socket to it, and the pipe its output arrives on."""

    def __init__(self, proc: subprocess.Popen, sock: socket.socket, out_fd: int, token: str, output: _Output,
                 uid: int | None = None):
        self.proc, self.sock, self.out_fd, self.token, self.output, self.uid = proc, sock, out_fd, token, output, uid
        self.pid = proc.pid
        self.buffer = bytearray()
        self.out_open = True
        self.closed = False
        self.status: int | None = None
        self.maxrss_kib = 0
        self.pidfd = _pidfd(proc.pid)
        #: when the watchdog last looked at the submission's processes
        self.watched = 0.0
        #: the largest frame accepted now (the hello, then each call's own reply limit)
        self.frame_limit = REPLY_FLOOR + FRAME_SLACK

    def drain(self, limit: int = 1 << 20) -> bool:
        """Move up to `limit` bytes of what the child printed into the output; False at end of file."""
        taken = 0
        while self.out_open and taken < limit:
            try:
                chunk = os.read(self.out_fd, 1 << 16)
            except BlockingIOError:
                return True
            except OSError:
                chunk = b""
            if not chunk:
                self.out_open = False
                return False
            self.output.add(chunk)
            taken += len(chunk)
        return self.out_open

    def has_exited(self) -> bool:
        """Whether the child has ended (without reaping it, so its pid stays reserved)."""
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def kill(self) -> None:
        """Kill the child's process group and strays, reap the child, close the channel. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._end_runner_first()
        with contextlib.suppress(OSError):
            os.killpg(self.pid, signal.SIGKILL)
        _kill_strays(self.pid, self.token, uid=self.uid)
        self._reap()
        self.drain(limit=4 * (self.output.limit + 1))
        os.close(self.out_fd)
        self.out_open = False
        self.sock.close()
        if self.pidfd is not None:
            os.close(self.pidfd)

    def _end_runner_first(self, patience: float = 0.5) -> None:
        """If the child supervises the submission's process in a PID namespace, kill that one first,
        so the supervisor reaps it and ends (else init must reap it)."""
        own = _pid_namespace(self.pid)
        runners = [pid for pid in _children(self.pid) if _pid_namespace(pid) not in (None, own)]
        for pid in runners:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        give_up = time.monotonic() + patience
        while runners and not self.has_exited() and time.monotonic() < give_up:
            time.sleep(0.002)

    def _reap(self) -> None:
        if self.proc.returncode is not None:
            return
        try:
            _, self.status, usage = os.wait4(self.pid, 0)
            self.maxrss_kib = usage.ru_maxrss
            self.proc.returncode = os.waitstatus_to_exitcode(self.status)
        except ChildProcessError:
            self.proc.returncode = -signal.SIGKILL


def _remove_tree(path: Path) -> None:
    """Remove `path`, even if the submission took permissions away from its own folders."""
    if os.geteuid() != 0:  # root needs no permissions; others give them back first (never via a symlink)
        for folder, names, _files in os.walk(path):
            for name in names:
                inner = os.path.join(folder, name)
                if not os.path.islink(inner):
                    with contextlib.suppress(OSError):
                        os.chmod(inner, 0o700)
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class _State:
    """What close() (or the garbage collector) must clean up."""

    worker: _Worker | None = None
    folder: Path | None = None
    mode: engine.Mode | None = None
    uid: int | None = None  # the separate-user mode's uid for this submission
    lease: engine.Lease | None = None  # what the separate-user mode closed to others, to give back


def _clean_up(state: _State) -> None:
    if state.worker is not None:
        state.worker.kill()
        state.worker = None
    if state.folder is not None:
        _remove_tree(state.folder)
        state.folder = None
    if state.mode is engine.Mode.USER and state.uid is not None:
        _sweep_user(state.uid)
    if state.lease is not None:  # once nothing of the submission runs any more
        engine.unlock(state.lease)
        state.lease = None


#: World-writable folders a separate-user child could leave files in.
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


def _sweep_user(uid: int) -> None:
    """Kill every process of `uid` and remove what it left in the shared folders (in the
    separate-user mode, `uid` is the submission's alone: engine.sandbox_uid)."""
    _kill_strays(-1, None, uid=uid)
    for folder in SHARED_FOLDERS:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid == uid:
                        if entry.is_dir(follow_symlinks=False):
                            shutil.rmtree(entry.path, ignore_errors=True)
                        else:
                            os.unlink(entry.path)


def _tasks_of(uid: int) -> int:
    """How many processes (threads included) the user `uid` has now."""
    count = 0
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{entry}").st_uid == uid:
                count += len(os.listdir(f"/proc/{entry}/task"))
    return count


def _prepare_separate_user(locked: list[str], lock_grader: bool) -> engine.Lease:
    """Before a submission runs as another user: the grader's own files (venv, package, source
    tree; with `lock_grader`; whoever owns them) and `locked` closed to other users, until the
    lease is given back (engine.unlock, when the sandbox closes). A folder of `locked` that others
    share (/tmp, or another user's) is left open (engine.shared_with_others): the child runs on
    the copy of the submission in its sandbox folder (_make_folder), never on the file where it
    was handed in."""
    own = engine.lock(engine.grader_paths(), refuse_shared=False) if lock_grader else engine.Lease()
    try:
        return engine.joined(own, engine.lock(locked))
    except BaseException:
        engine.unlock(own)
        raise


@contextlib.contextmanager
def closed_to_others(paths: Sequence[str | os.PathLike], *, unsafe: bool = False) -> Iterator[engine.Lease]:
    """For a class grade's parent: in the separate-user mode (as engine.choose picks it here), the
    grader's own files and `paths` (the class folders, the rubric) closed to other users from
    before the first per-student process to after the last, so that no student's child finds
    them open between two grades; given back at the end, also on an exception. Other modes:
    nothing is closed."""
    try:
        separate = engine.choose(unsafe) is engine.Mode.USER
    except engine.SandboxUnavailable:
        separate = False
    lease = _prepare_separate_user([str(p) for p in paths], True) if separate else engine.Lease()
    try:
        yield lease
    finally:
        engine.unlock(lease)


def reader_group(mode: engine.Mode, uid: int | None) -> int | None:
    """The group that may read a submission's sandbox folder besides the grader who owns it: the
    child's own gid where it runs as a uid of its own on this machine (the separate-user mode's
    `uid`; nobody's group 65534 when a root grader starts bwrap as uid 65534), else None: the
    child runs as the grader (unsafe), or bwrap maps uid 65534 to the ordinary user grading, so
    the owner's permissions are the child's and no one else's are needed."""
    if mode is engine.Mode.USER:
        return uid
    if mode is engine.Mode.BWRAP and os.geteuid() == 0:
        return NOBODY
    return None


def _private(path: Path, group: int | None, *, folder: bool) -> None:
    """`path` readable by the grader and `group` alone (0750/0640), or by the grader alone (0700/0600)."""
    if group is not None:
        os.chown(path, os.geteuid(), group, follow_symlinks=False)
    os.chmod(path, (0o750 if group is not None else 0o700) if folder else (0o640 if group is not None else 0o600))


def _copy_in(source: Path, target: Path, *, follow: bool = False) -> None:
    """Copy the regular file `source` to the new file `target` (0600 while it is written), never
    through a symbolic link at `source` unless `follow` (staff's adapter); OSError if it cannot
    be read or is not a regular file."""
    fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW))
    with open(fd, "rb") as reading:
        if not file_stat.S_ISREG(os.fstat(reading.fileno()).st_mode):
            raise OSError(0, "not a regular file")
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with open(out, "wb") as writing:
            shutil.copyfileobj(reading, writing)


def _unreadable(path: Path, exc: OSError) -> str:
    """Why `path` could not be copied, in words: a symbolic link (named, never followed), or the system's reason."""
    if os.path.islink(path):
        return f"{path} is a symbolic link (to {os.readlink(path)}); links are not followed"
    return f"cannot read {path}: {exc.strerror or exc}"


def _make_folder(source: Path | None, group: int | None, adapter: Path | None = None, *,
                 work_owner: int | None = None) -> Path:
    """A new folder for one submission: code/submission.py (empty without a `source`), the course
    adapter as code/adapter.py, and runtime/ (the worker and its codec), all read-only to the
    child, and work/ (the child's own, outside bubblewrap; `work_owner`'s in the separate-user
    mode). Every folder and file in it is the grader's, readable by `group` (reader_group) and by
    no other user. FileNotCopied if the submission cannot be copied (AdapterLoadError for the
    adapter); any other failure is raised as it came, the folder removed either way."""
    top = engine.private_folder()
    try:
        code, runtime, work = top / "code", top / "runtime", top / "work"
        for folder in (code, runtime, work):
            folder.mkdir(mode=0o700)
        if source is not None:
            try:
                _copy_in(source, code / "submission.py")
            except OSError as exc:
                raise FileNotCopied(_unreadable(source, exc)) from None
        else:
            (code / "submission.py").write_bytes(b"")
        if adapter is not None:
            try:
                _copy_in(adapter, code / "adapter.py", follow=True)  # staff's file, wherever it is
            except OSError as exc:
                raise AdapterLoadError(_unreadable(adapter, exc)) from None
        for name in ("worker.py", "codec.py"):
            shutil.copyfile(WORKER_SCRIPT.with_name(name), runtime / name)
        for folder in (code, runtime):
            for entry in folder.iterdir():
                _private(entry, group, folder=False)
            _private(folder, group, folder=True)
        if work_owner is not None:  # the separate-user mode: the child's own, no other submission's uid may enter
            os.chown(work, work_owner, work_owner)
        _private(top, group, folder=True)
        return top
    except BaseException:
        _remove_tree(top)
        raise


# --------------------------------------------------------------------------- #
# Turning the child's structured reports into the causes shown to students.
# --------------------------------------------------------------------------- #


def _clean(text: Any, limit: int) -> str | None:
    """A child-supplied string made printable and short; None if it isn't a string."""
    if not isinstance(text, str):
        return None
    return "".join(ch if ch.isprintable() else "?" for ch in text[:limit])


def describe_raised(type_name: str, message: str) -> str:
    """'ValueError: first line of the message' (cut to 300 characters), as the suite's calls.py words it."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type_name}: {text}" if text else type_name


def _raised(report: dict) -> str | None:
    type_name, message = _clean(report.get("type"), 100), report.get("message")
    if not type_name or not isinstance(message, str):
        return None
    return f"raised {describe_raised(type_name, message)}"


def not_defined_cause(name: str) -> str:
    """The cause of a call that, through a course adapter, needed the student's `name`, which the
    student's module does not define."""
    return f"needs {name}, which is not defined"


#: Where in the student's file a call through an adapter raised: a qualified name ("Dense.backward",
#: "f.<locals>.g") and a line.
_QUALNAME = re.compile(r"[A-Za-z_<][A-Za-z0-9_.<>]{0,199}")


def _location(report: dict) -> str | None:
    """A raised report's place in the student's file, in words ("in affine_backward, line 12");
    "" when it has none, None when it is malformed."""
    where = report.get("in")
    if where is None:
        return ""
    if (isinstance(where, dict) and set(where) == {"function", "line"} and isinstance(where["function"], str)
            and _QUALNAME.fullmatch(where["function"]) and type(where["line"]) is int):
        return f"in {where['function']}, line {where['line']}"
    return None


def _located(message: str, where: str) -> str:
    """The first line of a raised message with its place in the student's file after it."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    if not where:
        return message
    return f"{first} ({where})" if first else where


def _call_failure(report: Any) -> SubmissionCallError | None:
    """The error for a failed call, or None if the report is malformed."""
    if isinstance(report, dict) and report.get("kind") == "raised":
        where = _location(report)
        if where is None or not isinstance(report.get("message"), str):
            return None
        report = {**report, "message": _located(report["message"], where)}
    cause = _call_cause(report)
    if cause is None:
        return None
    kind = report["kind"]
    if kind == "raised":
        return SubmissionCallError(cause, kind, exception=_clean(report.get("type"), 100), message=report["message"][:1000])
    return SubmissionCallError(cause, kind)


def _call_cause(report: Any) -> str | None:
    """The cause for a failed call, or None if the report is malformed."""
    if not isinstance(report, dict):
        return None
    kind = report.get("kind")
    if not isinstance(kind, str):
        return None
    if kind == "missing" and "name" in report:  # through an adapter: the student's name it needed
        name = report["name"]
        return not_defined_cause(name) if isinstance(name, str) and _PLAIN_NAME.fullmatch(name) else None
    fixed = {
        "memory": MEMORY_CAUSE,
        "too_large": "returned a value too large to check",
        "too_deep": "returned a value nested too deeply to check",
        "missing": "is not defined by the implementation",
    }
    if kind in fixed:
        return fixed[kind]
    if kind == "exit":
        code = _clean(report.get("code"), 200)
        return None if code is None else f"called sys.exit({code})"
    if kind == "raised":
        return _raised(report)
    return None


def _load_cause(report: Any) -> str | None:
    """The cause for a failed import, or None if the report is malformed."""
    if not isinstance(report, dict):
        return None
    kind, line = report.get("kind"), report.get("line")
    where = f" at line {line}" if type(line) is int else ""
    if kind == "syntax":
        message = _clean(report.get("message"), 300)
        return None if message is None else f"syntax error{where}: {message}"
    if kind == "memory":
        return "ran out of memory while importing"
    if kind == "exit":
        code = _clean(report.get("code"), 200)
        return None if code is None else f"called sys.exit({code}) while importing"
    if kind == "raised":
        raised = _raised(report)
        return None if raised is None else f"{raised}{where} while importing"
    return None


def _adapter_cause(report: Any) -> str | None:
    """The cause for a course adapter's failed import, or None if the report is malformed."""
    if isinstance(report, dict) and report.get("kind") == "missing":
        name = report.get("name")
        if not isinstance(name, str) or not _PLAIN_NAME.fullmatch(name):
            return None
        return (f"looks up student.{name} while it is imported, where the student's module does not define it "
                f"(an adapter looks the student's names up inside its functions, when they are called)")
    return _load_cause(report)


def _names(value: Any) -> tuple[str, ...] | None | bool:
    """A declaration's names as a tuple, None for none declared; False if malformed."""
    if value is None:
        return None
    if isinstance(value, list) and len(value) <= 100 and all(isinstance(v, str) and _PLAIN_NAME.fullmatch(v) for v in value):
        return tuple(value)
    return False


def _declaration(functions: frozenset[str], report: Any) -> AdapterDeclaration | None:
    """The adapter's declarations from its hello, or None if malformed."""
    required, keys = {"activations", "losses", "l2"}, {"activations", "losses", "l2", "network_activations", "network_losses"}
    if not isinstance(report, dict) or not required <= set(report) <= keys or type(report["l2"]) is not bool:
        return None
    names = {key: _names(report.get(key)) for key in keys - {"l2"}}
    if any(value is False for value in names.values()):
        return None
    return AdapterDeclaration(functions, names["activations"], names["losses"], report["l2"],
                              names["network_activations"], names["network_losses"])


#: A function name the grader accepts from the child: a plain identifier, no dunder.
_PLAIN_NAME = re.compile(r"(?!__)[A-Za-z_][A-Za-z0-9_]{0,99}")


def _string_set(value: Any) -> frozenset[str] | None:
    if not isinstance(value, list) or not all(isinstance(item, str) and len(item) <= 200 for item in value):
        return None
    return frozenset(value)


_SIGNALS = frozenset(int(s) for s in signal.Signals)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# --------------------------------------------------------------------------- #
# The proxy.
# --------------------------------------------------------------------------- #


class RemoteFunction:
    """A submission function that runs in the sandbox's child when called."""

    def __init__(self, sandbox: "Sandbox", name: str):
        self._sandbox = sandbox
        self.__name__ = self.__qualname__ = name
        self.__module__ = "submission"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._sandbox._call(self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<function {self.__name__} of the sandboxed submission>"


def _proxy_module(sandbox: "Sandbox", functions: frozenset[str], path: Path) -> types.ModuleType:
    """A module whose attributes are the submission's top-level callables, each a RemoteFunction."""
    module = types.ModuleType("submission", f"The submission {path}, running in a sandbox.")
    module.__file__ = str(path)
    for name in functions:
        setattr(module, name, RemoteFunction(sandbox, name))
    return module


@dataclass(eq=False)
class _Deadline:
    seconds: float
    end: float
    expired: bool = False

    @property
    def cause(self) -> str:
        return f"timed out after {self.seconds:g} s"


# --------------------------------------------------------------------------- #
# The sandbox.
# --------------------------------------------------------------------------- #


class Sandbox:
    """A submission imported in a separate, locked-down process; see the module docstring.

    path: the submission's .py file (copied; the copy is imported as module ``submission``), or
    None for none (an empty module: a course adapter imported on its own, see `inspect_adapter`).
    adapter: a course adapter's .py file (docs/adapters.md), copied beside the submission and
    imported after it; the module then serves the adapter's functions, and `declaration` says
    what the adapter declared.
    call_timeout: wall-clock seconds per call. import_timeout: seconds to start and import.
    memory_mb: the memory of the whole submission (all its processes; each also has it as its
    address-space limit). output_limit: bytes of output kept. cpu_seconds: CPU time per process.
    mode: how to isolate (default: engine.choose); unsafe: allow running without isolation.
    locked: paths the child must not read besides the grader's own (separate-user mode).
    packages: top-level packages the child may import besides the standard library and NumPy.
    lock_grader: in separate-user mode, close the grader's venv, package and source tree to others
    (the default; a test that cannot have its checkout closed turns it off and locks `locked` only).
    """

    def __init__(
        self,
        path: str | os.PathLike | None,
        *,
        call_timeout: float = 10.0,
        import_timeout: float = 30.0,
        memory_mb: int = 2048,
        output_limit: int = 64 * 1024,
        cpu_seconds: int = 600,
        mode: engine.Mode | None = None,
        unsafe: bool = False,
        locked: Sequence[str | os.PathLike] = (),
        packages: Sequence[str] = (),
        lock_grader: bool = True,
        adapter: str | os.PathLike | None = None,
    ):
        if path is None and adapter is None:
            raise ValueError("Sandbox: give a submission, an adapter or both")
        self.path = Path(path) if path is not None else None
        self.adapter = Path(adapter) if adapter is not None else None
        self.call_timeout = call_timeout
        self.import_timeout = import_timeout
        self.memory_mb = memory_mb
        self.output_limit = output_limit
        self.cpu_seconds = cpu_seconds
        self.mode = mode
        self.unsafe = unsafe
        self.locked = [str(p) for p in locked]
        self.packages = tuple(sorted(packages))
        self.lock_grader = lock_grader
        self._output = _Output(output_limit)
        self._state = _State()
        self._finalizer: weakref.finalize | None = None
        self._lock = threading.RLock()
        self._deadlines: list[_Deadline] = []
        self._ids = itertools.count(1)
        self._functions: frozenset[str] | None = None
        self._module: types.ModuleType | None = None
        self._declaration: AdapterDeclaration | None = None

    # -- lifecycle --------------------------------------------------------- #

    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> None:
        """Start the child and import the submission (and the adapter) in it; SubmissionLoadError
        if that fails, AdapterLoadError if it was the adapter's import, FileNotCopied if the
        submission is a symbolic link or cannot be read."""
        with self._lock:
            if self._functions is not None:
                return
            if self.path is not None and self.path.is_symlink():  # refused before anything is locked or copied
                raise FileNotCopied(_unreadable(self.path, OSError()))
            if self.path is not None and not self.path.is_file():
                raise SubmissionLoadError(f"no such file: {self.path}")
            if self.adapter is not None and not self.adapter.is_file():
                raise AdapterLoadError(f"no such file: {self.adapter}")
            self.mode = self.mode or engine.choose(self.unsafe)
            self._state.mode = self.mode
            self._finalizer = weakref.finalize(self, _clean_up, self._state)
            try:
                if self.mode is engine.Mode.USER:
                    self._state.lease = _prepare_separate_user(self.locked, self.lock_grader)
                self._state.uid = engine.sandbox_uid() if self.mode is engine.Mode.USER else None
                self._state.folder = _make_folder(self.path, reader_group(self.mode, self._state.uid), self.adapter,
                                                  work_owner=self._state.uid)
            except BaseException:
                self.close()  # what was closed to others is given back
                raise
            try:
                worker, (functions, declaration) = self._launch(
                    time.monotonic() + self.import_timeout,
                    f"timed out after {self.import_timeout:g} s while importing",
                )
            except _LoadFailure as failure:
                self.close()
                raise (AdapterLoadError if failure.adapter else SubmissionLoadError)(failure.cause) from None
            except BaseException:
                self.close()
                raise
            self._state.worker = worker
            self._functions = functions
            self._declaration = declaration
            self._module = _proxy_module(self, functions, self.path or self.adapter)

    def close(self) -> None:
        """Kill the child and everything it started, remove the temporary folder. Idempotent."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._functions = None
            self._module = None

    # -- what the grader reads ---------------------------------------------- #

    @property
    def functions(self) -> frozenset[str]:
        """Names of the callables at the submission's top level (the adapter's, with an adapter),
        as reported after the import."""
        return self._started()[0]

    @property
    def declaration(self) -> AdapterDeclaration | None:
        """With an adapter: what it declared when imported (as the child reported it), else None."""
        self._started()
        return self._declaration

    @property
    def module(self) -> types.ModuleType:
        """The submission as a module: getattr gives a RemoteFunction for each name in `functions`."""
        return self._started()[1]

    @property
    def pid(self) -> int | None:
        """The process id of the running child (the leader of its process group), or None between children."""
        worker = self._state.worker
        return None if worker is None or worker.closed else worker.pid

    @property
    def isolation(self) -> frozenset[str]:
        """The protections of the sandbox's mode, as established here (engine.PROTECTIONS)."""
        return frozenset(engine.PROTECTIONS[self.mode]) if self.mode else frozenset()

    def output(self) -> str:
        """What the submission printed (stdout and stderr as they came), cut at output_limit bytes."""
        with self._lock:
            worker = self._state.worker
            if worker is not None and not worker.closed:
                worker.drain(limit=4 * (self.output_limit + 1))
            return self._output.text()

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Give all calls in the block one wall-clock budget; once spent, they fail at once."""
        entry = _Deadline(seconds, time.monotonic() + seconds)
        self._deadlines.append(entry)
        try:
            yield
        finally:
            self._deadlines = [other for other in self._deadlines if other is not entry]

    # -- internals ----------------------------------------------------------- #

    def _started(self) -> tuple[frozenset[str], types.ModuleType]:
        if self._functions is None or self._module is None:
            raise RuntimeError("the sandbox is not started (call start() or use it as a context manager)")
        return self._functions, self._module

    def _config(self, fd: int) -> str:
        """The worker's command-line argument: where things are as the child sees them."""
        folder = self._state.folder
        inside = self.mode is engine.Mode.BWRAP
        paths = ([os.path.dirname(engine.runtime(self.packages)["numpy"][0])] if self.mode is engine.Mode.USER
                 else [engine.INSIDE_PACKAGES] if inside else [])
        code = engine.INSIDE_CODE if inside else str(folder / "code")
        return json.dumps({
            "fd": fd,
            "submission": f"{code}/submission.py" if self.path is not None else None,
            "adapter": f"{code}/adapter.py" if self.adapter is not None else None,
            "output_limit": int(self.output_limit),
            "paths": paths,
            "processes": PROCESSES + 2 if inside else None,  # + bwrap's init and the worker itself
        })

    def _environment(self, token: str) -> dict[str, str]:
        work = engine.INSIDE_WORK if self.mode is engine.Mode.BWRAP else str(self._state.folder / "work")
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": work,
            "TMPDIR": work,
            "LANG": "C.UTF-8",
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            TOKEN_VARIABLE: token,
        }

    def _command(self, fd: int, token: str) -> tuple[list[str], dict]:
        """The child's argv and the Popen options of the sandbox's mode."""
        folder, config = self._state.folder, self._config(fd)
        env = self._environment(token)
        worker = str(folder / "runtime" / "worker.py")
        options: dict[str, Any] = {"env": env, "cwd": folder / "work"}
        root = os.geteuid() == 0
        if self.mode is engine.Mode.NONE:
            argv = [sys.executable, "-I", "-B", worker, config]
            processes = None if root else _tasks_of(os.getuid()) + PROCESSES
        else:
            rt = engine.runtime(self.packages)
            uid = self._state.uid if self.mode is engine.Mode.USER else NOBODY
            if root:  # the child never runs as root, not even for a moment: its own uid from the start
                # and, with a rubric's packages, the one group that opens their runtime (engine.package_group)
                options.update(user=uid, group=uid, extra_groups=[rt["group"]] if rt.get("group") is not None else [])
            if self.mode is engine.Mode.BWRAP:
                processes = None  # the worker sets it inside the sandbox's user namespace (engine.py says why)
                argv = engine.bwrap_command(code_dir=folder / "code", runtime_dir=folder / "runtime", tmp_mb=TMP_MB,
                                            env=env, config=config, packages=self.packages)
                options.update(env={}, cwd=folder)
            else:
                processes = _tasks_of(uid if root else os.getuid()) + PROCESSES
                argv = [rt["exe"], "-I", "-S", "-B", worker, config]
                if rt["library_path"]:
                    env["LD_LIBRARY_PATH"] = rt["library_path"]
        argv, extra = engine.limits(argv, memory_mb=self.memory_mb, cpu_s=self.cpu_seconds, file_mb=FILE_MB,
                                    processes=processes)
        options.update(extra)
        return argv, options

    def _spawn(self) -> _Worker:
        """Start a child; it imports the submission and then says hello."""
        parent, child = socket.socketpair()
        read_fd, write_fd = os.pipe()
        token = secrets.token_hex(16)
        try:
            argv, options = self._command(child.fileno(), token)
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                pass_fds=(child.fileno(),),
                start_new_session=True,
                **options,
            )
        except OSError as exc:
            parent.close()
            os.close(read_fd)
            raise _LoadFailure(f"the sandbox could not start: {exc}") from None
        finally:
            child.close()
            os.close(write_fd)
        parent.setblocking(False)
        os.set_blocking(read_fd, False)
        return _Worker(proc, parent, read_fd, token, self._output, self._state.uid)

    def _launch(self, end: float, timeout_cause: str) -> tuple[_Worker, tuple[frozenset[str], AdapterDeclaration | None]]:
        """A new child with the submission imported: (worker, (functions, the adapter's
        declaration or None)), or _LoadFailure."""
        worker = self._spawn()
        try:
            return worker, self._read_hello(self._receive(worker, 0, end))
        except _Timeout:
            worker.kill()
            raise _LoadFailure(timeout_cause, timed_out=True) from None
        except _Gone as gone:
            raise _LoadFailure(f"{gone.cause} while importing") from None
        except BaseException:
            worker.kill()
            raise

    def _read_hello(self, hello: dict) -> tuple[frozenset[str], AdapterDeclaration | None]:
        """The function names of the child's first message and, with an adapter, its
        declaration; or _LoadFailure."""
        adapted = self.adapter is not None
        loaded = hello.get("loaded")
        if set(hello) == {"id", "loaded"} and isinstance(loaded, dict) and set(loaded) == ({"functions", "adapter"} if adapted else {"functions"}):
            functions = _string_set(loaded["functions"])
            if functions is not None and all(_PLAIN_NAME.fullmatch(name) for name in functions):
                declaration = _declaration(functions, loaded["adapter"]) if adapted else None
                if not adapted or declaration is not None:
                    return functions, declaration
        if set(hello) == {"id", "load_error"}:
            cause = _load_cause(hello["load_error"])
            if cause is not None:
                raise _LoadFailure(cause)
        if adapted and set(hello) == {"id", "adapter_error"}:
            cause = _adapter_cause(hello["adapter_error"])
            if cause is not None:
                raise _LoadFailure(cause, adapter=True)
        raise _LoadFailure("sent a malformed reply while importing")

    # -- the channel --------------------------------------------------------- #

    def _wait_ready(self, worker: _Worker, writing: bool, end: float) -> str | None:
        """Wait until the socket is ready ("ready") or the child has ended ("ended"), draining its
        output meanwhile; None when `end` passes."""
        poller = select.poll()
        poller.register(worker.sock, select.POLLOUT if writing else select.POLLIN)
        if worker.out_open:
            poller.register(worker.out_fd, select.POLLIN)
        if worker.pidfd is not None:
            poller.register(worker.pidfd, select.POLLIN)
        while True:
            now = time.monotonic()
            left = end - now
            if left <= 0:
                return None
            if now - worker.watched >= WATCH_EVERY:  # on time, however busy the channel or the output is
                worker.watched = now
                self._watch(worker)
            fds = {fd for fd, _events in poller.poll(math.ceil(min(left, WATCH_EVERY) * 1000))}
            if not fds:
                continue
            if worker.out_fd in fds and not worker.drain():
                poller.unregister(worker.out_fd)
            if worker.sock.fileno() in fds:
                return "ready"
            if worker.pidfd in fds:
                return "ended"

    def _watch(self, worker: _Worker) -> None:
        """The watchdog: end the whole submission when its processes together hold more than
        memory_mb, or are more than PROCESSES (limits per submission, not per process)."""
        members = sandbox_processes(worker.pid, worker.token, worker.uid)
        if len(members) > PROCESSES + 2:  # + bwrap and its init
            worker.kill()
            raise _Gone(f"started more than {PROCESSES} processes", "crashed")
        if _memory_bytes(members) > self.memory_mb << 20:
            worker.kill()
            raise _Gone(MEMORY_CAUSE, "memory")

    def _ended(self, worker: _Worker, end: float) -> Exception:
        """The connection closed: wait (until `end`) for the child to exit; how it ended."""
        while not worker.has_exited():
            if time.monotonic() >= end:
                return _Timeout()
            time.sleep(0.005)
        worker.kill()
        cause = self._death_cause(worker)
        return _Gone(cause, "memory" if cause == MEMORY_CAUSE else "crashed")

    def _death_cause(self, worker: _Worker) -> str:
        status = worker.status
        if status is None:
            return "ended its own process"
        number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = None if number is not None else os.WEXITSTATUS(status)
        if self.mode is engine.Mode.BWRAP and code is not None and code > 128 and code - 128 in _SIGNALS:
            number, code = code - 128, None  # bwrap passes a death by signal N on as exit code 128 + N
        if number is None:
            return f"ended its own process (exit code {code})"
        if number == signal.SIGKILL and worker.maxrss_kib * 1024 * 4 >= self.memory_mb << 20:
            return MEMORY_CAUSE
        return f"ended its own process (killed by signal {_signal_name(number)})"

    def _malformed(self, worker: _Worker) -> _Gone:
        worker.kill()
        return _Gone(MALFORMED_CAUSE, "malformed")

    def _send(self, worker: _Worker, message: dict, end: float) -> None:
        body = dump_message(message)
        view = memoryview(HEADER.pack(len(body)) + body)
        while view:
            state = self._wait_ready(worker, True, end)
            if state is None:
                raise _Timeout()
            if state == "ended":
                raise self._ended(worker, end)
            try:
                view = view[worker.sock.send(view[: 1 << 20]) :]
            except BlockingIOError:
                continue
            except OSError:
                raise self._ended(worker, end) from None

    def _next_frame(self, worker: _Worker) -> dict | None:
        """The next complete message in the buffer, None if incomplete; _Gone if off the protocol."""
        buffer = worker.buffer
        if len(buffer) < HEADER.size:
            return None
        (length,) = HEADER.unpack_from(buffer)
        if length > worker.frame_limit:  # refused before a byte more of it is read
            raise self._malformed(worker)
        if len(buffer) < HEADER.size + length:
            return None
        body = bytes(buffer[HEADER.size : HEADER.size + length])
        del buffer[: HEADER.size + length]
        if too_many_containers(body):
            raise self._malformed(worker)
        try:
            message = json.loads(body)
        except (ValueError, RecursionError, MemoryError):
            raise self._malformed(worker) from None
        if not isinstance(message, dict) or type(message.get("id")) is not int:
            raise self._malformed(worker)
        return message

    def _receive(self, worker: _Worker, ident: int, end: float) -> dict:
        """The child's message with id `ident` (older ones are skipped); _Timeout or _Gone."""
        while True:
            message = self._next_frame(worker)
            if message is not None:
                if message["id"] == ident:
                    return message
                if message["id"] > ident:
                    raise self._malformed(worker)
                continue
            state = self._wait_ready(worker, False, end)
            if state is None:
                raise _Timeout()
            try:
                chunk = worker.sock.recv(1 << 20)
            except BlockingIOError:
                if state == "ended":  # nothing more will come
                    raise self._ended(worker, end) from None
                continue
            except OSError:
                chunk = b""
            if not chunk:
                raise self._ended(worker, end)
            worker.buffer += chunk

    # -- calls ----------------------------------------------------------------- #

    def _discard_worker(self) -> None:
        if self._state.worker is not None:
            self._state.worker.kill()
            self._state.worker = None

    def _budget(self, seconds: float, cause: str) -> tuple[float, str, _Deadline | None]:
        """(end time, cause if it passes, the deadline that set it) for a step of `seconds`."""
        end, binding = time.monotonic() + seconds, None
        for entry in self._deadlines:
            if entry.end < end:
                end, cause, binding = entry.end, entry.cause, entry
        return end, cause, binding

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for entry in self._deadlines:
            if entry.expired or now >= entry.end:
                entry.expired = True
                raise SubmissionCallError(entry.cause, "timeout")

    def _worker_for_call(self) -> _Worker:
        """The running child, or a fresh one with the submission imported again."""
        if self._state.worker is not None:
            return self._state.worker
        end, cause, binding = self._budget(
            self.import_timeout, f"timed out after {self.import_timeout:g} s while importing"
        )
        try:
            worker, _hello = self._launch(end, cause)
        except _LoadFailure as failure:
            if failure.timed_out and binding is not None:
                binding.expired = True
            raise SubmissionCallError(failure.cause, "timeout" if failure.timed_out else "crashed") from None
        self._state.worker = worker
        return worker

    def _call(self, function: str, args: tuple, kwargs: dict, timing: list | None = None,
              timeout: float | None = None) -> Any:
        """Run submission.function(*args, **kwargs) in the child; the value or SubmissionCallError.
        `timing`: a list to append the call's CallTiming to (a failed call appends nothing);
        `timeout`: this call's wall-clock limit instead of call_timeout."""
        with self._lock:
            self._started()
            self._check_deadlines()
            try:
                request = {"function": function, "args": encode_value(list(args), sys.maxsize),
                           "kwargs": encode_value(dict(kwargs), sys.maxsize)}
            except (ValueTooLarge, ValueTooDeep):
                raise TypeError(f"{function}: arguments nested too deeply to send to the sandbox") from None
            worker = self._worker_for_call()
            seconds = self.call_timeout if timeout is None else timeout
            end, cause, binding = self._budget(seconds, f"timed out after {seconds:g} s")
            request["id"] = next(self._ids)
            request["limit"] = reply_limit(len(dump_message(request)))
            worker.frame_limit = request["limit"] + FRAME_SLACK
            try:
                before = self._cpu_snapshot(worker) if timing is not None else {}
                started = time.perf_counter()
                self._send(worker, request, end)
                reply = self._receive(worker, request["id"], end)
                if timing is not None:
                    wall = time.perf_counter() - started
                    cpu = sandbox_cpu(before, self._cpu_snapshot(worker))
            except _Timeout:
                if timing is not None:  # what it had used by now, before it is stopped
                    timing.append(CallTiming(time.perf_counter() - started, sandbox_cpu(before, self._cpu_snapshot(worker))))
                self._discard_worker()
                if binding is not None:
                    binding.expired = True
                raise SubmissionCallError(cause, "timeout") from None
            except _Gone as gone:
                self._state.worker = None
                raise SubmissionCallError(gone.cause, gone.kind) from None
            except BaseException:
                self._discard_worker()
                raise
            value = self._result(reply)
            if timing is not None:
                timing.append(CallTiming(wall, cpu))
            return value

    def timed_call(self, function: str, args: tuple, kwargs: dict | None = None, *,
                   timeout: float | None = None) -> tuple[Any, CallTiming]:
        """Call submission.function(*args, **kwargs) like `module` does (`timeout`: instead of
        call_timeout), and say how long it took, as measured here (nothing the child reports about
        itself is used): (the value, its CallTiming); the same SubmissionCallError as an ordinary
        call when it fails, whose `timing` is, when the call timed out, what it had used by then."""
        timing: list[CallTiming] = []
        try:
            value = self._call(function, tuple(args), dict(kwargs or {}), timing, timeout)
        except SubmissionCallError as error:
            error.timing = timing[0] if timing else None
            raise
        return value, timing[0]

    def _cpu_snapshot(self, worker: _Worker) -> dict[int, float]:
        """The CPU time each of the sandbox's processes (sandbox_processes, and the child itself) has used so far."""
        pids = {worker.pid, *sandbox_processes(worker.pid, worker.token, worker.uid)}
        return {pid: seconds for pid in pids if (seconds := _cpu_seconds(pid)) is not None}

    def _result(self, reply: dict) -> Any:
        """The decoded value of a reply, or SubmissionCallError with the cause it reports."""
        error = SubmissionCallError(MALFORMED_CAUSE, "malformed")
        if set(reply) == {"id", "ok"}:
            try:
                return decode_value(reply["ok"])
            except Exception:  # noqa: BLE001 - MalformedValue, or anything odd: nothing of it is trusted
                pass
        elif set(reply) == {"id", "error"}:
            error = _call_failure(reply["error"]) or error
            if error.kind not in ("malformed", "memory"):
                raise error
        self._discard_worker()  # memory trouble or garbage: start afresh next time
        raise error

    def __repr__(self) -> str:
        state = "running" if self._state.worker is not None else "idle"
        return f"<Sandbox {self.path or self.adapter} ({state})>"


def inspect_adapter(adapter: str | os.PathLike, **options: Any) -> AdapterDeclaration:
    """Import a course adapter on its own, beside an empty student module, in a sandbox of its own
    (`options` as for Sandbox), and return what it declared; AdapterLoadError saying why if it
    cannot be imported. What an adapter maps is read from this run, where no student's code runs,
    never from a run beside a submission, which could forge it."""
    try:
        with Sandbox(None, adapter=adapter, **options) as box:
            declaration = box.declaration
    except AdapterLoadError:
        raise
    except SubmissionLoadError as exc:  # e.g. it timed out while importing
        raise AdapterLoadError(str(exc)) from None
    assert declaration is not None  # a started sandbox with an adapter has one
    return declaration
