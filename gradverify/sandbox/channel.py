"""One child process of a Sandbox and the channel to it.

A `Child` holds the process, the socket to it and the pipe its output arrives on (`Output`
keeps the first bytes of what it printed). The channel is length-prefixed JSON both ways
(`send`, `receive`): every frame is size-checked before it is read and validated after, and a
child that sends anything off the protocol is killed (`Gone`, "sent a malformed reply"). While
waiting, the watchdog ends the whole submission when its processes together hold more than
its memory or are more than PROCESSES; `NoReply` says the time ran out first.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import socket
import subprocess
import time

from . import engine
from .errors import MALFORMED_REASON, MEMORY_REASON, SIGNALS, CallFailure, signal_name
from .codec import FRAME_SLACK, HEADER, REPLY_FLOOR, dump_message, too_many_containers
from .processes import children, kill_strays, memory_bytes, pid_namespace, pidfd, sandbox_processes

#: Most processes a submission may have at once.
PROCESSES = 64
#: How often the watchdog looks at the submission's processes (seconds).
WATCH_EVERY = 0.1


class NoReply(Exception):
    """The wall-clock budget ran out before the child answered."""


class Gone(Exception):
    """The child ended or misbehaved and has been killed and reaped; `reason` says how, `kind` in a word."""

    def __init__(self, reason: str, kind: CallFailure = CallFailure.CRASHED):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class Output:
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


class Child:
    """One child process: the process, the socket to it, and the pipe its output arrives on."""

    def __init__(
        self,
        proc: subprocess.Popen,
        sock: socket.socket,
        out_fd: int,
        token: str,
        output: Output,
        uid: int | None,
        memory_mb: int,
        mode: engine.Mode | None,
    ):
        self.proc, self.sock, self.out_fd, self.token, self.output, self.uid = proc, sock, out_fd, token, output, uid
        #: the submission's memory limit (the watchdog's), and the isolation mode it runs in
        self.memory_mb, self.mode = memory_mb, mode
        self.pid = proc.pid
        self.buffer = bytearray()
        self.out_open = True
        self.closed = False
        self.status: int | None = None
        self.maxrss_kib = 0
        self.pidfd = pidfd(proc.pid)
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
        kill_strays(self.pid, self.token, uid=self.uid)
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
        own = pid_namespace(self.pid)
        runners = [pid for pid in children(self.pid) if pid_namespace(pid) not in (None, own)]
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

    # -- the channel ------------------------------------------------------- #

    def wait_ready(self, writing: bool, end: float) -> str | None:
        """Wait until the socket is ready ("ready") or the child has ended ("ended"), draining its
        output meanwhile; None when `end` passes."""
        poller = select.poll()
        poller.register(self.sock, select.POLLOUT if writing else select.POLLIN)
        if self.out_open:
            poller.register(self.out_fd, select.POLLIN)
        if self.pidfd is not None:
            poller.register(self.pidfd, select.POLLIN)
        while True:
            now = time.monotonic()
            left = end - now
            if left <= 0:
                return None
            if now - self.watched >= WATCH_EVERY:  # on time, however busy the channel or the output is
                self.watched = now
                self.watch()
            fds = {fd for fd, _events in poller.poll(math.ceil(min(left, WATCH_EVERY) * 1000))}
            if not fds:
                continue
            if self.out_fd in fds and not self.drain():
                poller.unregister(self.out_fd)
            if self.sock.fileno() in fds:
                return "ready"
            if self.pidfd in fds:
                return "ended"

    def watch(self) -> None:
        """The watchdog: end the whole submission when its processes together hold more than
        memory_mb, or are more than PROCESSES (limits per submission, not per process)."""
        members = sandbox_processes(self.pid, self.token, self.uid)
        if len(members) > PROCESSES + 2:  # + bwrap and its init
            self.kill()
            raise Gone(f"started more than {PROCESSES} processes", CallFailure.CRASHED)
        if memory_bytes(members) > self.memory_mb << 20:
            self.kill()
            raise Gone(MEMORY_REASON, CallFailure.MEMORY)

    def ended(self, end: float) -> Exception:
        """The connection closed: wait (until `end`) for the child to exit; how it ended."""
        while not self.has_exited():
            if time.monotonic() >= end:
                return NoReply()
            time.sleep(0.005)
        self.kill()
        reason = self.death_reason()
        return Gone(reason, CallFailure.MEMORY if reason == MEMORY_REASON else CallFailure.CRASHED)

    def death_reason(self) -> str:
        status = self.status
        if status is None:
            return "ended its own process"
        number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = None if number is not None else os.WEXITSTATUS(status)
        if self.mode is engine.Mode.BWRAP and code is not None and code > 128 and code - 128 in SIGNALS:
            number, code = code - 128, None  # bwrap passes a death by signal N on as exit code 128 + N
        if number is None:
            return f"ended its own process (exit code {code})"
        if number == signal.SIGKILL and self.maxrss_kib * 1024 * 4 >= self.memory_mb << 20:
            return MEMORY_REASON
        return f"ended its own process (killed by signal {signal_name(number)})"

    def malformed(self) -> Gone:
        self.kill()
        return Gone(MALFORMED_REASON, CallFailure.MALFORMED)

    def send(self, message: dict, end: float) -> None:
        body = dump_message(message)
        view = memoryview(HEADER.pack(len(body)) + body)
        while view:
            state = self.wait_ready(True, end)
            if state is None:
                raise NoReply()
            if state == "ended":
                raise self.ended(end)
            try:
                view = view[self.sock.send(view[: 1 << 20]) :]
            except BlockingIOError:
                continue
            except OSError:
                raise self.ended(end) from None

    def next_frame(self) -> dict | None:
        """The next complete message in the buffer, None if incomplete; Gone if off the protocol."""
        buffer = self.buffer
        if len(buffer) < HEADER.size:
            return None
        (length,) = HEADER.unpack_from(buffer)
        if length > self.frame_limit:  # refused before a byte more of it is read
            raise self.malformed()
        if len(buffer) < HEADER.size + length:
            return None
        body = bytes(buffer[HEADER.size : HEADER.size + length])
        del buffer[: HEADER.size + length]
        if too_many_containers(body):
            raise self.malformed()
        try:
            message = json.loads(body)
        except (ValueError, RecursionError, MemoryError):
            raise self.malformed() from None
        if not isinstance(message, dict) or type(message.get("id")) is not int:
            raise self.malformed()
        return message

    def receive(self, ident: int, end: float) -> dict:
        """The child's message with id `ident` (older ones are skipped); NoReply or Gone."""
        while True:
            message = self.next_frame()
            if message is not None:
                if message["id"] == ident:
                    return message
                if message["id"] > ident:
                    raise self.malformed()
                continue
            state = self.wait_ready(False, end)
            if state is None:
                raise NoReply()
            try:
                chunk = self.sock.recv(1 << 20)
            except BlockingIOError:
                if state == "ended":  # nothing more will come
                    raise self.ended(end) from None
                continue
            except OSError:
                chunk = b""
            if not chunk:
                raise self.ended(end)
            self.buffer += chunk
