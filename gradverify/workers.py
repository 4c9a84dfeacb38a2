"""A run's checks shared with worker processes: `verify(..., jobs=2)`, `gradverify verify --jobs 2`.

    session = gradverify.prepare("mylib.layers", profile="ci")
    result = workers.run_all(session, jobs=2)     # the VerifyResult run_all would give

Each worker is a process of its own (`python -m gradverify.workers`) that prepares the same
session again from its recipe (prepare()'s arguments: the implementation by module name or
path, loaded anew) and runs the checks it is sent, one at a time, with gradverify.runner.run_one.
The main process runs checks too, and a worker gets the next check of the suite's order whenever
it is free, so the checks are spread by how long they take. A check's result is the same in
any process: the ci profile's seed is per check, and nothing a check draws depends on the checks
run before it in its process.

What it costs: a worker's start (~1 s of imports, and JAX's and torch's on its first check), and
the compilations and warm caches that the processes no longer share. What it gains on this
2-core machine: `verify --profile ci` in ~0.7 of the serial run's wall time, cold or warm
(measured with `--jobs 1` and `--jobs auto` in the same run). Checks and results travel by pickle over a pipe between the main process and its own
children. A worker that exits, or cannot send a result, leaves the check it had to the main
process, which runs it as a serial run would, and gets no more checks.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import IO, Any

from gradverify.results import CheckStatus, PropertyResult, VerifyResult, combine
from gradverify.runner import Progress, Session, run_one

#: The most processes `jobs="auto"` uses, and the fewest checks it starts a worker for: a
#: worker's start costs ~1 s and JAX's and torch's imports on its first check, and then the
#: compilations the processes no longer share, which a short run cannot repay.
AUTO_MAX, AUTO_MIN_CHECKS = 4, 8


def auto_jobs(checks: int) -> int:
    """The processes `jobs="auto"` uses for a run of `checks` checks: one per CPU this process may
    run on, at most AUTO_MAX; 1 for fewer than AUTO_MIN_CHECKS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return 1 if checks < AUTO_MIN_CHECKS else max(1, min(cpus, AUTO_MAX))


def check_jobs(jobs: Any, *, loaded: bool) -> None:
    """ValueError unless `jobs` is "auto" or a number of processes ≥ 1, and 1 or "auto" for an
    implementation given as a `loaded` module (which a worker cannot load again)."""
    if jobs != "auto" and (not isinstance(jobs, int) or jobs < 1 or (jobs > 1 and loaded)):
        raise ValueError(
            f"jobs must be 'auto' or a number of processes, 1 or more, and 1 for a loaded module (each"
            f" worker loads the implementation again, by module name or path); got {jobs!r}"
        )


class WorkerGone(Exception):
    """The worker exited, or its answer could not be read: its check goes back to the main process."""


@dataclass
class Done:
    """What a worker sends for one check: its result, and what the check added to the run's lists."""

    result: PropertyResult
    new_regressions: list[str]
    corpus_problems: list[str]


class Worker:
    """One worker process and the two pipes to it (requests in, answers out; its stdout and stderr
    are the main process's, as the checks' would be in a serial run)."""

    def __init__(self, recipe: dict[str, Any]) -> None:
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        command = [sys.executable, "-m", "gradverify.workers", str(request_read), str(answer_write)]
        self.process = subprocess.Popen(command, pass_fds=(request_read, answer_write), stdin=subprocess.DEVNULL)
        os.close(request_read)
        os.close(answer_write)
        self.requests: IO[bytes] = os.fdopen(request_write, "wb")
        self.answers: IO[bytes] = os.fdopen(answer_read, "rb")
        self._send(("start", {"path": list(sys.path), **recipe}))

    def _send(self, message: tuple) -> None:
        try:
            pickle.dump(message, self.requests)
            self.requests.flush()
        except (OSError, pickle.PicklingError) as exc:
            raise WorkerGone(str(exc)) from None

    def run(self, name: str) -> Done:
        """Run the check `name` in the worker; WorkerGone when it cannot."""
        self._send(("run", name))
        try:
            answer = pickle.load(self.answers)
        except Exception as exc:  # noqa: BLE001 - EOF (it exited) or a broken answer: its check comes back
            raise WorkerGone(f"{type(exc).__name__}: {exc}") from None
        if not isinstance(answer, Done):
            raise WorkerGone(f"the worker could not run {name}: {answer}")
        return answer

    def close(self) -> None:
        """Ask it to stop, and wait for it (killed after 10 s)."""
        try:
            self._send(("stop",))
        except WorkerGone:
            pass
        for stream in (self.requests, self.answers):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _Queue:
    """The checks not yet started, in the suite's order, and the lock that progress and the
    results share."""

    def __init__(self, names: list[str], progress: Progress | None, fail_fast: bool) -> None:
        self.pending, self.total = list(names), len(names)
        self.done: dict[str, PropertyResult] = {}
        self.lock = threading.Lock()
        self.progress, self.fail_fast, self.stopped = progress, fail_fast, False

    def take(self) -> str | None:
        with self.lock:
            if self.stopped or not self.pending:
                return None
            name = self.pending.pop(0)
            if self.progress:
                self.progress(len(self.done), self.total, name, None)
            return name

    def give_back(self, name: str) -> None:
        with self.lock:
            self.pending.insert(0, name)

    def finish(self, name: str, result: PropertyResult) -> None:
        with self.lock:
            self.done[name] = result
            if self.progress:
                self.progress(len(self.done) - 1, self.total, name, result)
            if self.fail_fast and result.status in (CheckStatus.FAILED, CheckStatus.ERROR):
                self.stopped = True


def run_all(
    session: Session,
    only: list[str] | None = None,
    *,
    jobs: int | str = 1,
    progress: Progress | None = None,
    fail_fast: bool = False,
) -> VerifyResult:
    """runner.run_all's run of the session's checks, in `jobs` processes ("auto": auto_jobs):
    the main one and jobs − 1 workers (none when the session has no recipe, a loaded module's,
    or fewer than two checks run). The VerifyResult has the results in the suite's order, as a
    serial run's."""
    names = session.names(only)
    helpers = min(auto_jobs(len(names)) if jobs == "auto" else int(jobs), len(names)) - 1
    if helpers < 1 or session.recipe is None:
        from gradverify import runner

        return runner.run_all(session, only, progress=progress, fail_fast=fail_fast)
    queue = _Queue(names, progress, fail_fast)
    parts: list[VerifyResult] = []
    threads = [threading.Thread(target=_feed, args=(session, queue, parts), daemon=True) for _ in range(helpers)]
    for thread in threads:
        thread.start()
    while True:  # the main process's share, then whatever a worker gave back after the others ended
        while (name := queue.take()) is not None:
            queue.finish(name, run_one(session, name))
        for thread in threads:
            thread.join()
        if queue.stopped or not queue.pending:
            break
    run = combine([session.run, *parts], seconds=time.perf_counter() - session.clock)
    from gradverify.results import environment

    run.environment = environment()
    session.run = run
    return run


def _feed(session: Session, queue: _Queue, parts: list[VerifyResult]) -> None:
    """A thread of the main process that keeps one worker busy: the next check, its answer, until
    none is left or the worker is gone. What the worker did becomes one part of the run."""
    assert session.recipe is not None
    results: list[PropertyResult] = []
    saved: list[str] = []
    problems: list[str] = []
    worker = None
    try:
        worker = Worker(session.recipe)
        while (name := queue.take()) is not None:
            try:
                done = worker.run(name)
            except WorkerGone:
                queue.give_back(name)
                return
            results.append(done.result)
            saved += done.new_regressions
            problems += done.corpus_problems
            queue.finish(name, done.result)
    except (OSError, WorkerGone):
        return  # it could not start: the main process runs its share
    finally:
        if worker is not None:
            worker.close()
        with queue.lock:
            parts.append(replace(session.run, results=results, new_regressions=saved, corpus_problems=problems))


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """A worker's loop: prepare the session of the recipe sent first, then run each check sent
    and answer with its Done, until told to stop (or the main process is gone)."""
    import gradverify

    message = pickle.load(requests)
    recipe = dict(message[1])
    sys.path[:] = [*dict.fromkeys([*recipe.pop("path"), *sys.path])]
    try:
        session = gradverify.prepare(recipe.pop("impl"), **recipe)
    except Exception as exc:  # noqa: BLE001 - the main process prepared the same session: it runs the checks
        failure = f"{type(exc).__name__}: {exc}"
        session = None
    while True:
        try:
            message = pickle.load(requests)
        except EOFError:
            return
        if message[0] != "run":
            return
        if session is None:
            pickle.dump(failure, answers)
        else:
            run = session.run
            saved, problems = len(run.new_regressions), len(run.corpus_problems)
            result = run_one(session, message[1])
            pickle.dump(Done(result, run.new_regressions[saved:], run.corpus_problems[problems:]), answers)
        answers.flush()


if __name__ == "__main__":  # run as `python -m gradverify.workers`: serve from the module itself,
    # so that what it pickles names gradverify.workers, not __main__
    from gradverify.workers import serve as _serve

    _serve(os.fdopen(int(sys.argv[1]), "rb"), os.fdopen(int(sys.argv[2]), "wb"))
