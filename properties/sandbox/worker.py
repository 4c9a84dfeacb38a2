"""The child side of the sandbox: run a submission's functions for the grader, one call at a time.

The grader (sandbox/host.py) starts this file as a script with ``python -I -B CONFIG``
(CONFIG is JSON: paths, limits, the number of the socket fd for requests, ...), in a new
session, in an empty temporary directory, with fds 1 and 2 on a pipe the grader drains. As a
script it imports only the standard library and NumPy, never the rest of gradverify, so it
starts fast.

Startup, in order (the grader's euid decides whether the privileged steps run):

1. Capped ``sys.stdout``/``sys.stderr`` straight onto fds 1/2, so prints interleave as
   they come and a flood stops after ``output_limit`` bytes.
2. As root: a new network namespace (no network); a private mount namespace in which the
   grader's project, the submission's folder and the temporary folder (but for the
   sandbox's own folder) are hidden and the folders Python needs are made reachable for
   the dropped user; ``no_new_privs``; then a new PID namespace:
   this process forks the *runner* (PID 1 there, with its own /proc) and stays behind
   only to wait for it and end the same way (exit code or signal), so the grader sees how
   the runner ended. When the runner ends, the kernel kills and reaps all it started.
3. Resource limits: address space, core size 0, file size, and (as root) process count.
4. As root: drop to uid/gid 65534 (nobody/nogroup) with no supplementary groups.
5. Import the submission under the module name ``submission`` and send the names of its
   top-level callables -- or why it could not be imported.

Then it serves calls: a request names a function and carries its arguments; the reply
carries the encoded return value or a structured description of what went wrong. The
grader builds every message shown to students from these fields; nothing here decides.

Messages and values travel in the format of codec.py beside this file.
"""

from __future__ import annotations

import ctypes
import importlib.util
import io
import json
import os
import resource
import signal
import socket
import stat
import sys
import traceback
import warnings
from typing import Any, Iterable

import numpy as np  # noqa: F401 - loaded before the submission, which may use it freely

# The wire format lives beside this file. Run as a script, the worker finds it through its own
# folder, which leaves sys.path again at once: the submission must not see the sandbox's files.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from codec import (  # noqa: E402
        MESSAGE_LIMIT, REPR_LIMIT, RESULT_LIMIT, ValueTooDeep, ValueTooLarge, decode_value, dump_message,
        encode_value, receive_frame, safe_text, send_frame, type_name,
    )
finally:
    del sys.path[0]

# Linux constants, for ctypes.
CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

#: Standard modules imported before dropping privileges when the mount namespace is not
#: available and the Python installation is unreachable for the dropped user.
COMMON_MODULES = (
    "abc", "array", "bisect", "collections", "copy", "dataclasses", "decimal", "enum",
    "fractions", "functools", "heapq", "itertools", "json", "math", "numbers", "operator",
    "random", "re", "statistics", "string", "time", "typing", "warnings",
    "numpy.linalg", "numpy.random", "numpy.fft",
)


# --------------------------------------------------------------------------- #
# Output: capped writers straight onto the file descriptors.
# --------------------------------------------------------------------------- #


class _Budget:
    """Bytes the worker may still write to its output, shared by stdout and stderr."""

    def __init__(self, limit: int):
        self.left = limit

    def take(self, n: int) -> int:
        granted = max(0, min(n, self.left))
        self.left -= granted
        return granted


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _CappedBinary(io.RawIOBase):
    """sys.stdout.buffer: bytes to `fd` while the budget lasts, then nowhere."""

    def __init__(self, fd: int, budget: _Budget):
        super().__init__()
        self._fd, self._budget = fd, budget

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data) -> int:
        data = bytes(data)
        _write_all(self._fd, data[: self._budget.take(len(data))])
        return len(data)


class _CappedText(io.TextIOBase):
    """sys.stdout / sys.stderr: unbuffered UTF-8 text to `fd` while the budget lasts."""

    def __init__(self, fd: int, budget: _Budget):
        super().__init__()
        self._raw = _CappedBinary(fd, budget)

    @property
    def buffer(self) -> _CappedBinary:
        return self._raw

    @property
    def encoding(self) -> str:
        return "utf-8"

    @property
    def errors(self) -> str:
        return "backslashreplace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._raw.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._raw.write(text.encode("utf-8", "backslashreplace"))
        return len(text)


def capture_output(limit: int) -> None:
    """Replace sys.stdout and sys.stderr by writers that stop after `limit` bytes between them."""
    budget = _Budget(limit)
    sys.stdout = _CappedText(1, budget)
    sys.stderr = _CappedText(2, budget)


# --------------------------------------------------------------------------- #
# Isolation.
# --------------------------------------------------------------------------- #

_LIBC = ctypes.CDLL(None, use_errno=True)


def _libc_call(name: str, *args: Any) -> None:
    """Call libc `name`; OSError with errno if it returns non-zero."""
    if getattr(_LIBC, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


def _try(name: str, *args: Any) -> bool:
    try:
        _libc_call(name, *args)
        return True
    except (OSError, AttributeError):
        return False


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _libc_call("mount", _bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data))


def _components(path: str) -> list[str]:
    """'/a/b/c' -> ['/a', '/a/b', '/a/b/c']."""
    parts = [part for part in path.split("/") if part]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _reachable_by(path_stat: os.stat_result, uid: int, gid: int) -> bool:
    """Whether the dropped user may pass through a folder with this mode and owner."""
    if path_stat.st_uid == uid:
        return bool(path_stat.st_mode & stat.S_IXUSR)
    if path_stat.st_gid == gid:
        return bool(path_stat.st_mode & stat.S_IXGRP)
    return bool(path_stat.st_mode & stat.S_IXOTH)


def _first_blocked(path: str, uid: int, gid: int) -> tuple[str, str] | None:
    """The first folder above `path` the dropped user can't pass, and the next name under it."""
    chain = _components(path)
    for parent, child in zip(["/"] + chain, chain):
        if not _reachable_by(os.stat(parent), uid, gid):
            return parent, os.path.basename(child)
    return None


def _overlay(folder: str, keep: Iterable[str]) -> None:
    """Cover `folder` with an empty tmpfs (mode 0755) that shows only the names in `keep`.

    Each kept entry is held open (O_PATH) before the folder is covered, then bind-mounted
    back from /proc/self/fd, so no staging folder is needed.
    """
    handles = [(name, os.open(os.path.join(folder, name), os.O_PATH | os.O_DIRECTORY)) for name in sorted(set(keep))]
    try:
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
        for name, handle in handles:
            target = os.path.join(folder, name)
            os.mkdir(target)
            _mount(f"/proc/self/fd/{handle}", target, None, MS_BIND | MS_REC)
    finally:
        for _, handle in handles:
            os.close(handle)


def python_paths() -> list[str]:
    """The folders this Python needs: its installation, its venv, and its import path."""
    candidates = [sys.base_prefix, sys.prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    candidates += [entry for entry in sys.path if entry]
    return sorted({os.path.realpath(p) for p in candidates if os.path.isdir(p)})


def _needed_under(folder: str, needed: list[str]) -> set[str]:
    """The names directly under `folder` that lead to one of the `needed` paths."""
    prefix = folder.rstrip("/") + "/"
    return {path[len(prefix):].split("/")[0] for path in needed if path.startswith(prefix)}


def private_mounts() -> bool:
    """Move to a mount namespace of our own whose mounts don't propagate back; whether that worked."""
    try:
        _libc_call("unshare", CLONE_NEWNS)
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        return True
    except (OSError, AttributeError):
        return False


def arrange_mounts(hide: list[str], keep: list[str], uid: int, gid: int) -> None:
    """Hide `hide`, and open the way to Python and `keep` for the dropped user (in a private mount namespace).

    A hidden folder is covered by an empty tmpfs that keeps only what leads to Python's
    folders or to `keep`; a folder the dropped user can't pass (like /root, mode 0700, when
    Python lives under it) is covered the same way, which reveals nothing but that path.
    """
    needed = sorted(set(python_paths()) | {os.path.realpath(path) for path in keep})
    _hide(hide, needed)
    _open_way(needed, uid, gid)


def _hide(hide: list[str], needed: list[str]) -> None:
    """Cover each folder in `hide`, except what leads to a `needed` path (and never a needed one)."""
    for folder in sorted({os.path.realpath(path) for path in hide}, key=len):
        if not os.path.isdir(folder):  # e.g. inside a folder hidden already
            continue
        if folder != "/" and not any(folder == path or folder.startswith(path + "/") for path in needed):
            _overlay(folder, _needed_under(folder, needed))


def _open_way(needed: list[str], uid: int, gid: int) -> None:
    """Cover the folders that stop the dropped user on the way to a `needed` path, shallowest first."""
    for _ in range(8):
        blocked: dict[str, set[str]] = {}
        for path in needed:
            found = _first_blocked(path, uid, gid)
            if found:
                blocked.setdefault(found[0], set()).add(found[1])
        if not blocked:
            return
        folder = min(blocked, key=len)
        _overlay(folder, blocked[folder])


def tasks_of(uid: int) -> int:
    """How many tasks (threads) the user has now, which RLIMIT_NPROC counts."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                total += int(fields.get("Threads", "1"))
        except (OSError, KeyError, ValueError):
            continue
    return total


def set_limits(memory_mb: int, file_mb: int, processes: int | None) -> None:
    """Address space, core size 0, largest file, and (if given) the process count of the user."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb << 20, file_mb << 20))
    if processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))


def drop_privileges(uid: int, gid: int) -> None:
    """Become uid/gid with no supplementary groups, for good."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise OSError("could not drop privileges")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise OSError("privileges could be regained")


def supervise(runner: int) -> None:
    """Wait for the runner and end the same way, so the grader sees its exit code or signal."""
    _, status = os.waitpid(runner, 0)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.waitstatus_to_exitcode(status))


def fork_runner(config: dict) -> bool:
    """In a new PID namespace, fork the runner (its PID 1); this process only supervises it.

    When the runner ends, the kernel kills everything left in its namespace and reaps it,
    so nothing the submission started outlives it. Returns in the runner only; False (and
    no fork) when no PID namespace can be made.
    """
    if not _try("unshare", CLONE_NEWPID):
        return False
    _try("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != config["parent"]:
        os._exit(0)  # the grader is already gone
    runner = os.fork()
    if runner:
        os.close(config["fd"])  # only the runner talks to the grader
        supervise(runner)
    return True


def isolate(config: dict) -> list[str]:
    """Every protection of the module docstring that applies; the names of those in force.

    As root this forks (see fork_runner): it returns in the runner, which is dropped to
    the unprivileged user, and the original process never returns.
    """
    drop = bool(config["drop"])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    processes = tasks_of(config["uid"]) + config["processes"] if drop else None
    active = enter_namespaces(config) if drop else []
    set_limits(config["memory_mb"], config["file_mb"], processes)
    active.append("resource_limits")
    if drop:
        drop_privileges(config["uid"], config["gid"])
        active.append("dropped_privileges")
    _try("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if "own_process_ids" not in active and os.getppid() != config["parent"]:
        os._exit(0)  # the grader is already gone
    os.chdir(config["workdir"])
    return active


def enter_namespaces(config: dict) -> list[str]:
    """As root: no network, private mounts, no new privileges, own PIDs (forks); the names of those made."""
    active = []
    if _try("unshare", CLONE_NEWNET):
        active.append("no_network")
    private = private_mounts()
    if private and _arranged(config):
        active.append("private_mounts")
    else:
        _import_common_modules()  # the dropped user may not reach the standard library
    if _try("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):
        active.append("no_new_privileges")
    if fork_runner(config):
        active.append("own_process_ids")
        if private and _try_mount_proc():
            active.append("own_proc")
    return active


def _arranged(config: dict) -> bool:
    try:
        arrange_mounts(config["hide"], config["keep"], config["uid"], config["gid"])
        return True
    except (OSError, AttributeError):
        return False


def _try_mount_proc() -> bool:
    """A /proc that shows only the runner's PID namespace."""
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return True
    except (OSError, AttributeError):
        return False


def _import_common_modules() -> None:
    for name in COMMON_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - best effort
            pass


# --------------------------------------------------------------------------- #
# Importing and calling the submission.
# --------------------------------------------------------------------------- #


def _message_of(exc: BaseException) -> str:
    return safe_text(exc, MESSAGE_LIMIT * 4, str)[:MESSAGE_LIMIT]


def _line_in(exc: BaseException, path: str) -> int | None:
    """The line of the last traceback frame that is in the file at `path`."""
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == path]
    return lines[-1] if lines else None


def describe_failure(exc: BaseException, path: str | None = None) -> dict:
    """What went wrong, as fields the grader turns into words."""
    kind = type(exc)
    if issubclass(kind, SystemExit):
        return {"kind": "exit", "code": safe_text(exc.code, REPR_LIMIT)}
    if issubclass(kind, MemoryError):
        return {"kind": "memory"}
    if issubclass(kind, SyntaxError) and path is not None and exc.filename == path:
        line = exc.lineno if type(exc.lineno) is int else None
        return {"kind": "syntax", "line": line, "message": safe_text(exc.msg, MESSAGE_LIMIT, str)}
    if issubclass(kind, NotImplementedError) and path is None:
        return {"kind": "not_implemented"}
    failure = {"kind": "raised", "type": type_name(exc), "message": _message_of(exc)}
    if path is not None:
        failure["line"] = _line_in(exc, path)
    return failure


def top_level_callables(module: Any) -> list[str]:
    """Names bound at the module's top level to callables, dunders excluded."""
    names = []
    for name, value in list(vars(module).items()):
        if isinstance(name, str) and not (name.startswith("__") and name.endswith("__")) and callable(value):
            names.append(name)
    return sorted(names)


def load_submission(path: str) -> tuple[Any, dict]:
    """(module, hello message) or (None, message saying why the import failed)."""
    sys.argv = [path]
    try:
        spec = importlib.util.spec_from_file_location("submission", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        spec.loader.exec_module(module)
        return module, {"id": 0, "loaded": {"functions": top_level_callables(module)}}
    except BaseException as exc:  # noqa: BLE001 - an import may raise anything, SystemExit included
        return None, {"id": 0, "load_error": describe_failure(exc, path)}


def _call(module: Any, request: dict) -> tuple[bool, Any]:
    """Run the requested function; (True, value) or (False, failure fields)."""
    fn = getattr(module, request["function"], None)
    if not callable(fn):
        return False, {"kind": "missing"}
    args = decode_value(request["args"])
    kwargs = decode_value(request["kwargs"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as in the suite's calls.py: a warning is not a verdict
            return True, fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - whatever the submission raises is reported
        return False, describe_failure(exc)


def reply_to(module: Any, request: dict) -> bytes:
    """The encoded reply to one call request."""
    ident = request.get("id")
    try:
        ok, value = _call(module, request)
        if not ok:
            return dump_message({"id": ident, "error": value})
        body = dump_message({"id": ident, "ok": encode_value(value)})
        if len(body) > RESULT_LIMIT:
            raise ValueTooLarge()
        return body
    except ValueTooLarge:
        return dump_message({"id": ident, "error": {"kind": "too_large"}})
    except ValueTooDeep:
        return dump_message({"id": ident, "error": {"kind": "too_deep"}})
    except BaseException as exc:  # noqa: BLE001 - e.g. MemoryError while encoding, a hostile object
        return dump_message({"id": ident, "error": describe_failure(exc)})


def serve(sock: socket.socket, module: Any) -> None:
    """Answer call requests until the grader closes the connection."""
    while True:
        frame = receive_frame(sock)
        if frame is None:
            return
        send_frame(sock, reply_to(module, json.loads(frame)))


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    sock = socket.socket(fileno=config["fd"])
    capture_output(config["output_limit"] + 1)
    try:
        active = isolate(config)
    except BaseException as exc:  # noqa: BLE001 - the grader reports it as a failed start
        send_frame(sock, dump_message({"id": 0, "setup_error": _message_of(exc) or type_name(exc)}))
        return 0
    module, hello = load_submission(config["submission"])
    if module is not None:
        hello["loaded"]["isolation"] = active
    try:
        send_frame(sock, dump_message(hello))
        if module is not None:
            serve(sock, module)
    except OSError:
        return 70  # the connection is broken (e.g. the submission closed it)
    return 0


if __name__ == "__main__":
    os._exit(main(sys.argv))
