"""The Sandbox, the grader's side: start the child, call the submission's functions in it, enforce deadlines.

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
decoded value or raises :class:`SubmissionCallError` whose ``reason`` says, in a short
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

The channel (channel.py) is length-prefixed JSON over a socketpair; nothing from the child is unpickled
or executed, every reply is validated, and a child that sends anything off the protocol is
killed and reported as ``sent a malformed reply``. All decisions are taken here.

Known limits are in docs/security.md. A Sandbox is not meant to be used from several
threads at once (calls are serialised by a lock).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import socket
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
from .channel import PROCESSES, Child, Gone, NoReply, Output
from .errors import (
    CallFailure,
    MALFORMED_REASON,
    PLAIN_NAME,
    AdapterDeclaration,
    AdapterLoadError,
    SubmissionCallError,
    SubmissionLoadError,
    adapter_reason,
    call_failure,
    cell_notes,
    adapter_declaration,
    load_reason,
    string_set,
)
from .codec import FRAME_SLACK, ValueTooDeep, ValueTooLarge, decode_value, reply_limit, dump_message, encode_value
from . import state
from .tree import Tree
from .folder import FileNotCopied, make_folder, prepare_separate_user, reader_group, remove_tree, unreadable
from .processes import TOKEN_VARIABLE, CallTiming, cpu_seconds, sandbox_cpu, sandbox_processes, sweep_user, tasks_of

#: Largest file the child may write (MiB), the size of its private /tmp and /dev/shm (MiB).
FILE_MB = 16
TMP_MB = 64
NOBODY = engine.NOBODY
SandboxUnavailable = engine.SandboxUnavailable


class _LoadFailure(Exception):
    """Starting a child and importing the submission failed; `reason` says why, `adapter` whether
    it was the course adapter's import that failed."""

    def __init__(self, reason: str, timed_out: bool = False, adapter: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.adapter = adapter


# --------------------------------------------------------------------------- #
# The clean-up of a submission.
# --------------------------------------------------------------------------- #


@dataclass
class _State:
    """What close() (or the garbage collector) must clean up."""

    worker: Child | None = None
    folder: Path | None = None
    mode: engine.Mode | None = None
    uid: int | None = None  # the separate-user mode's uid for this submission
    lease: engine.Lease | None = None  # what the separate-user mode closed to others, to give back


def _clean_up(state: _State) -> None:
    if state.worker is not None:
        state.worker.kill()
        state.worker = None
    if state.folder is not None:
        remove_tree(state.folder)
        state.folder = None
    if state.mode is engine.Mode.USER and state.uid is not None:
        sweep_user(state.uid)
    if state.lease is not None:  # once nothing of the submission runs any more
        engine.unlock(state.lease)
        state.lease = None


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

    def stateful(self, keep: int | None = None) -> "StatefulFunction":
        """The same function called as a stateful one: its arguments written back and its
        returned arrays' sharing rebuilt (gradverify.sandbox.state); `keep`, an index: that item
        of the returned tuple (a layer forward's cache) stays in the sandbox, and a Handle that
        a later call passes back stands for it."""
        return StatefulFunction(self._sandbox, self.__name__, keep)


class StatefulFunction(RemoteFunction):
    """A submission function called with its arguments written back (RemoteFunction.stateful)."""

    def __init__(self, sandbox: "Sandbox", name: str, keep: int | None):
        super().__init__(sandbox, name)
        self.keep = keep

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._sandbox._call(self.__name__, args, kwargs, stateful=(self.keep,))

    def __repr__(self) -> str:
        return f"<function {self.__name__} of the sandboxed submission>"


def _proxy_module(sandbox: "Sandbox", functions: frozenset[str], path: Path | None) -> types.ModuleType:
    """A module whose attributes are the submission's top-level callables, each a RemoteFunction."""
    module = types.ModuleType("submission", f"The submission {path}, running in a sandbox.")
    if path is not None:
        module.__file__ = str(path)
    for name in functions:
        setattr(module, name, RemoteFunction(sandbox, name))
    return module


#: What a child says once it has imported the submission: its callables, the adapter's
#: declaration (None without an adapter), and a notebook's failed cells in words.
_Hello = tuple[frozenset[str], AdapterDeclaration | None, tuple[str, ...]]


@dataclass(eq=False)
class _Deadline:
    seconds: float
    end: float
    expired: bool = False

    @property
    def reason(self) -> str:
        return f"timed out after {self.seconds:g} s"


# --------------------------------------------------------------------------- #
# The sandbox.
# --------------------------------------------------------------------------- #


class Sandbox:
    """A submission imported in a separate, locked-down process; see the module docstring.

    path: the submission's .py file (copied; the copy is imported as module ``submission``), a
    Tree (a student's modules, imported from a folder first on the child's import path, or a
    notebook's cells, run in order: see tree.py; `notes` then says which cells failed), or None for none (an empty module: a course adapter imported on its own, see `inspect_adapter`).
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
        path: str | os.PathLike | Tree | None,
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
        self.tree = path if isinstance(path, Tree) else None
        self.path = Path(path) if path is not None and not isinstance(path, Tree) else None
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
        self._output = Output(output_limit)
        self._state = _State()
        self._finalizer: weakref.finalize | None = None
        self._lock = threading.RLock()
        self._deadlines: list[_Deadline] = []
        self._ids = itertools.count(1)
        self._functions: frozenset[str] | None = None
        self._module: types.ModuleType | None = None
        self._declaration: AdapterDeclaration | None = None
        self._notes: tuple[str, ...] = ()

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
                raise FileNotCopied(unreadable(self.path, OSError()))
            if self.path is not None and not self.path.is_file():
                raise SubmissionLoadError(f"no such file: {self.path}")
            if self.adapter is not None and not self.adapter.is_file():
                raise AdapterLoadError(f"no such file: {self.adapter}")
            self.mode = self.mode or engine.choose(self.unsafe)
            self._state.mode = self.mode
            self._finalizer = weakref.finalize(self, _clean_up, self._state)
            try:
                if self.mode is engine.Mode.USER:
                    self._state.lease = prepare_separate_user(self.locked, self.lock_grader)
                self._state.uid = engine.sandbox_uid() if self.mode is engine.Mode.USER else None
                self._state.folder = make_folder(
                    self.tree or self.path, reader_group(self.mode, self._state.uid), self.adapter, work_owner=self._state.uid
                )
            except BaseException:
                self.close()  # what was closed to others is given back
                raise
            try:
                worker, (functions, declaration, notes) = self._launch(
                    time.monotonic() + self.import_timeout, f"timed out after {self.import_timeout:g} s while importing"
                )
            except _LoadFailure as failure:
                self.close()
                raise (AdapterLoadError if failure.adapter else SubmissionLoadError)(failure.reason) from None
            except BaseException:
                self.close()
                raise
            self._state.worker = worker
            self._functions = functions
            self._declaration = declaration
            self._notes = notes
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
    def notes(self) -> tuple[str, ...]:
        """What went wrong while a notebook's cells ran and the next cell ran on ("line 2 of cell 3:
        raised NameError: …; the next cells ran"); () for any other submission, and
        before the notebook is imported."""
        return self._notes

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
        """The protections of the sandbox's mode, as established here (engine.protections_of), naming
        the packages the submission may import."""
        return frozenset(engine.protections_of(self.mode, self.packages)) if self.mode else frozenset()

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

    @property
    def _folder(self) -> Path:
        """The submission's private folder, made by start()."""
        if self._state.folder is None:
            raise RuntimeError("the sandbox's folder is made by start()")
        return self._state.folder

    def _config(self, fd: int) -> str:
        """The worker's command-line argument: where things are as the child sees them."""
        folder = self._folder
        inside = self.mode is engine.Mode.BWRAP
        paths = (
            [os.path.dirname(engine.runtime(self.packages)["numpy"][0])]
            if self.mode is engine.Mode.USER
            else [engine.INSIDE_PACKAGES]
            if inside
            else []
        )
        code = engine.INSIDE_CODE if inside else str(folder / "code")
        tree = self.tree
        return json.dumps(
            {
                "fd": fd,
                "submission": f"{code}/submission.py" if self.path is not None else None,
                "root": f"{code}/student" if tree is not None and not tree.cells else None,
                "module": tree.module if tree is not None else None,
                "entry": f"{code}/student/{tree.entry}" if tree is not None and not tree.cells else None,
                "notebook": f"{code}/notebook.json" if tree is not None and tree.cells else None,
                "adapter": f"{code}/adapter.py" if self.adapter is not None else None,
                "output_limit": int(self.output_limit),
                "paths": paths,
                "processes": PROCESSES + 2 if inside else None,  # + bwrap's init and the worker itself
            }
        )

    def _environment(self, token: str) -> dict[str, str]:
        work = engine.INSIDE_WORK if self.mode is engine.Mode.BWRAP else str(self._folder / "work")
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
        folder, config = self._folder, self._config(fd)
        env = self._environment(token)
        worker = str(folder / "runtime" / "worker.py")
        options: dict[str, Any] = {"env": env, "cwd": folder / "work"}
        root = os.geteuid() == 0
        if self.mode is engine.Mode.NONE:
            argv = [sys.executable, "-I", "-B", worker, config]
            processes = None if root else tasks_of(os.getuid()) + PROCESSES
        else:
            rt = engine.runtime(self.packages)
            uid = self._state.uid if self.mode is engine.Mode.USER else NOBODY
            if uid is None:
                raise RuntimeError("the separate-user mode has no uid before start()")
            if root:  # the child never runs as root, not even for a moment: its own uid from the start
                # and, with a rubric's packages, the one group that opens their runtime (engine.package_group)
                options.update(user=uid, group=uid, extra_groups=[rt["group"]] if rt.get("group") is not None else [])
            if self.mode is engine.Mode.BWRAP:
                processes = None  # the worker sets it inside the sandbox's user namespace (engine.py says why)
                argv = engine.bwrap_command(
                    code_dir=folder / "code",
                    runtime_dir=folder / "runtime",
                    tmp_mb=TMP_MB,
                    env=env,
                    config=config,
                    packages=self.packages,
                )
                options.update(env={}, cwd=folder)
            else:
                processes = tasks_of(uid if root else os.getuid()) + PROCESSES
                argv = [rt["exe"], "-I", "-S", "-B", worker, config]
                if rt["library_path"]:
                    env["LD_LIBRARY_PATH"] = rt["library_path"]
        argv, extra = engine.limits(argv, memory_mb=self.memory_mb, cpu_s=self.cpu_seconds, file_mb=FILE_MB, processes=processes)
        options.update(extra)
        return argv, options

    def _spawn(self) -> Child:
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
        return Child(proc, parent, read_fd, token, self._output, self._state.uid, self.memory_mb, self.mode)

    def _launch(self, end: float, timeout_reason: str) -> tuple[Child, "_Hello"]:
        """A new child with the submission imported: (worker, (functions, the adapter's
        declaration or None, the notebook's failed cells in words)), or _LoadFailure."""
        worker = self._spawn()
        try:
            return worker, self._read_hello(worker.receive(0, end))
        except NoReply:
            worker.kill()
            raise _LoadFailure(timeout_reason, timed_out=True) from None
        except Gone as gone:
            raise _LoadFailure(f"{gone.reason} while importing") from None
        except BaseException:
            worker.kill()
            raise

    def _read_hello(self, hello: dict) -> "_Hello":
        """The function names of the child's first message, with an adapter its declaration, and
        for a notebook the cells that failed in words; or _LoadFailure."""
        adapted, notebook = self.adapter is not None, self.tree is not None and bool(self.tree.cells)
        loaded = hello.get("loaded")
        expected = {"functions"} | ({"adapter"} if adapted else set()) | ({"cells_failed"} if notebook else set())
        if set(hello) == {"id", "loaded"} and isinstance(loaded, dict) and set(loaded) == expected:
            functions = string_set(loaded["functions"])
            notes = cell_notes(loaded["cells_failed"], self.packages) if notebook else ()
            if functions is not None and notes is not None and all(PLAIN_NAME.fullmatch(name) for name in functions):
                declaration = adapter_declaration(functions, loaded["adapter"]) if adapted else None
                if not adapted or declaration is not None:
                    return functions, declaration, notes
        if set(hello) == {"id", "load_error"}:
            reason = load_reason(hello["load_error"], self.packages)
            if reason is not None:
                raise _LoadFailure(reason)
        if adapted and set(hello) == {"id", "adapter_error"}:
            reason = adapter_reason(hello["adapter_error"])
            if reason is not None:
                raise _LoadFailure(reason, adapter=True)
        raise _LoadFailure("sent a malformed reply while importing")

    # -- calls ----------------------------------------------------------------- #

    def _discard_worker(self) -> None:
        if self._state.worker is not None:
            self._state.worker.kill()
            self._state.worker = None

    def _budget(self, seconds: float, reason: str) -> tuple[float, str, _Deadline | None]:
        """(end time, reason if it passes, the deadline that set it) for a step of `seconds`."""
        end, binding = time.monotonic() + seconds, None
        for entry in self._deadlines:
            if entry.end < end:
                end, reason, binding = entry.end, entry.reason, entry
        return end, reason, binding

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for entry in self._deadlines:
            if entry.expired or now >= entry.end:
                entry.expired = True
                raise SubmissionCallError(entry.reason, CallFailure.TIMEOUT)

    def _worker_for_call(self) -> Child:
        """The running child, or a fresh one with the submission imported again."""
        if self._state.worker is not None:
            return self._state.worker
        end, reason, binding = self._budget(self.import_timeout, f"timed out after {self.import_timeout:g} s while importing")
        try:
            worker, _hello = self._launch(end, reason)
        except _LoadFailure as failure:
            if failure.timed_out and binding is not None:
                binding.expired = True
            raise SubmissionCallError(failure.reason, CallFailure.TIMEOUT if failure.timed_out else CallFailure.CRASHED) from None
        self._state.worker = worker
        return worker

    def _call(
        self,
        function: str,
        args: tuple,
        kwargs: dict,
        timing: list | None = None,
        timeout: float | None = None,
        stateful: tuple[int | None] | None = None,
    ) -> Any:
        """Run submission.function(*args, **kwargs) in the child; the value or SubmissionCallError.
        `timing`: a list to append the call's CallTiming to (a failed call appends nothing);
        `timeout`: this call's wall-clock limit instead of call_timeout; `stateful`: (keep,), a
        call of StatefulFunction's."""
        with self._lock:
            self._started()
            self._check_deadlines()
            try:
                request = {
                    "function": function,
                    "args": encode_value(list(args), sys.maxsize),
                    "kwargs": encode_value(dict(kwargs), sys.maxsize),
                }
            except (ValueTooLarge, ValueTooDeep):
                raise TypeError(f"{function}: arguments nested too deeply to send to the sandbox") from None
            worker = self._worker_for_call()
            seconds = self.call_timeout if timeout is None else timeout
            end, reason, binding = self._budget(seconds, f"timed out after {seconds:g} s")
            if stateful is not None:
                request.update(after=True, keep=stateful[0])
            request["id"] = next(self._ids)
            request["limit"] = reply_limit(len(dump_message(request)))
            worker.frame_limit = request["limit"] + FRAME_SLACK
            try:
                before = self._cpu_snapshot(worker) if timing is not None else {}
                started = time.perf_counter()
                worker.send(request, end)
                reply = worker.receive(request["id"], end)
                if timing is not None:
                    wall = time.perf_counter() - started
                    cpu = sandbox_cpu(before, self._cpu_snapshot(worker))
            except NoReply:
                if timing is not None:  # what it had used by now, before it is stopped
                    timing.append(CallTiming(time.perf_counter() - started, sandbox_cpu(before, self._cpu_snapshot(worker))))
                self._discard_worker()
                if binding is not None:
                    binding.expired = True
                raise SubmissionCallError(reason, CallFailure.TIMEOUT) from None
            except Gone as gone:
                self._state.worker = None
                raise SubmissionCallError(gone.reason, gone.kind) from None
            except BaseException:
                self._discard_worker()
                raise
            value = self._result(reply, stateful is not None)
            if timing is not None:
                timing.append(CallTiming(wall, cpu))
            if stateful is not None:
                return state.rebuild(list(args), value, self._decoded(reply.get("after")), reply.get("aliases"))
            return value

    def timed_call(
        self, function: str, args: tuple, kwargs: dict | None = None, *, timeout: float | None = None
    ) -> tuple[Any, CallTiming]:
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

    def _cpu_snapshot(self, worker: Child) -> dict[int, float]:
        """The CPU time each of the sandbox's processes (sandbox_processes, and the child itself) has used so far."""
        pids = {worker.pid, *sandbox_processes(worker.pid, worker.token, worker.uid)}
        return {pid: seconds for pid in pids if (seconds := cpu_seconds(pid)) is not None}

    @staticmethod
    def _decoded(tree: Any) -> Any:
        """A stateful reply's `after`, decoded; None when it is malformed (nothing is written back)."""
        try:
            return decode_value(tree)
        except Exception:  # noqa: BLE001 - MalformedValue, or anything odd: nothing of it is trusted
            return None

    def _result(self, reply: dict, stateful: bool = False) -> Any:
        """The decoded value of a reply, or SubmissionCallError with the reason it reports
        (`stateful`: a reply may carry `after` and `aliases` too)."""
        error = SubmissionCallError(MALFORMED_REASON, CallFailure.MALFORMED)
        if set(reply) == {"id", "ok"} or (stateful and "ok" in reply and set(reply) <= {"id", "ok", "after", "aliases"}):
            try:
                return decode_value(reply["ok"])
            except Exception:  # noqa: BLE001 - MalformedValue, or anything odd: nothing of it is trusted
                pass
        elif set(reply) == {"id", "error"}:
            error = call_failure(reply["error"], self.packages) or error
            if error.kind not in (CallFailure.MALFORMED, CallFailure.MEMORY):
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
