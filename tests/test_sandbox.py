"""A submission's calls in the sandbox: what it returns comes back as it is, every misdeed as a clear cause.

The submissions are small files in tests/submissions/. Timeouts are short so the file runs
in seconds.
"""

from __future__ import annotations

import resource
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from gradverify.impl import backprop
from gradverify.properties.calls import ImplFailure, call
from gradverify.grading.remote import suite_view
from gradverify.references.compare import Cause
from gradverify.sandbox.errors import SubmissionLoadError
from gradverify.sandbox.host import Sandbox
from gradverify.sandbox.processes import sandbox_processes
from gradverify.sandbox.codec import dump_message, reply_limit

from tests.sandboxes import (
    SUBMISSIONS,
    UNSAFE,
    alive,
    array_tree,
    bitwise_equal,
    call_error,
    failure,
    load_failure,
    small_net,
    working_in,
)


# --------------------------------------------------------------------------- #
# Well-behaved submissions.
# --------------------------------------------------------------------------- #


def test_functions_lists_only_top_level_callables(sandbox):
    box = sandbox("well_behaved.py")
    assert {"Helper", "outer", "echo", "arrays_and_tuple", "noisy"} <= box.functions
    assert not {"inner", "CONSTANT", "TABLE", "math", "np", "os", "sys", "__loader__"} & box.functions


def test_a_name_the_submission_does_not_define_is_missing_from_the_module(sandbox):
    box = sandbox("well_behaved.py")
    assert getattr(box.module, "missing", None) is None
    assert getattr(box.module, "CONSTANT", None) is None
    assert callable(getattr(box.module, "echo", None))


def test_a_dict_of_arrays_and_a_tuple_round_trip_bitwise_through_a_call(sandbox):
    box = sandbox("well_behaved.py")
    value = ({"W": np.random.default_rng(0).normal(size=(5, 3)), "b": np.arange(3.0)}, (1, 2.5, "x"), [None, True])
    assert bitwise_equal(box.module.echo(value), value)
    loss, grads = box.module.arrays_and_tuple(seed=4)
    rng = np.random.default_rng(4)
    expected = [{"W": rng.normal(size=(4, 3)), "b": rng.normal(size=4)}, {"W": rng.normal(size=(2, 4)), "b": rng.normal(size=2)}]
    assert bitwise_equal((loss, grads), (float(rng.normal()), expected))


def test_nan_is_returned_as_a_value_not_an_error(sandbox):
    result = sandbox("well_behaved.py").module.with_nan()
    assert result.dtype == np.float64 and np.isnan(result[1]) and result[0] == 1.0


def test_a_wrong_shape_or_type_is_returned_faithfully(sandbox):
    box = sandbox("well_behaved.py")
    assert box.module.wrong_shape().shape == (3, 7)
    assert type(box.module.a_set()).__name__ == "set"
    assert type(box.module.a_generator()).__name__ == "generator"
    assert type(box.module.Helper()).__name__ == "Helper"


def test_the_bundled_impl_as_a_submission_gives_bitwise_the_same_gradients(sandbox):
    box = sandbox(Path(backprop.__file__), call_timeout=10.0)
    net = small_net()
    X = np.random.default_rng(1).normal(size=(5, 3))
    Y = np.eye(2)[[0, 1, 1, 0, 1]]
    assert bitwise_equal(box.module.network_gradients(net, X, Y), backprop.network_gradients(net, X, Y))
    assert set(backprop.PROTOCOL_FUNCTIONS) <= box.functions


def test_output_keeps_stdout_and_stderr_in_order_with_descriptor_writes(sandbox):
    box = sandbox("well_behaved.py")
    assert box.module.noisy() == "done"
    assert box.output() == "one\ntwo\nthree\nfour\n"


def test_the_worker_imports_neither_jax_torch_nor_hypothesis(sandbox):
    loaded = sandbox("well_behaved.py").module.modules_loaded()
    assert not {"jax", "torch", "hypothesis", "properties", "impl", "references"} & set(loaded)
    assert "numpy" in loaded


def test_the_child_has_a_minimal_environment_and_an_empty_working_folder(sandbox):
    environment, cwd, listing = sandbox("well_behaved.py").module.environment()
    assert environment["HOME"] == cwd and listing == []
    assert environment["OPENBLAS_NUM_THREADS"] == environment["OMP_NUM_THREADS"] == environment["MKL_NUM_THREADS"] == "1"
    assert not {"PYTHONPATH", "VIRTUAL_ENV", "USER"} & set(environment)


# --------------------------------------------------------------------------- #
# Imports that fail.
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "name, cause",
    [
        ("syntax_error.py", "syntax error at line 5: invalid syntax"),
        ("raises_at_import.py", "raised IndexError: index 5 is out of bounds for axis 0 with size 3 at line 4 while importing"),
        ("exits_at_import.py", "called sys.exit('bye') while importing"),
        ("os_exit_at_import.py", "ended its own process (exit code 4) while importing"),
        ("hog_at_import.py", "ran out of memory while importing"),
        (
            "imports_scipy.py",
            "imports scipy, which the sandbox does not have: only the standard library and NumPy can be imported "
            "(a rubric's `packages` can allow more) at line 3 while importing",
        ),
    ],
)
def test_an_import_that_fails_ends_as_its_cause(name, cause):
    """The one test of the import failures' wording: a SubmissionLoadError carries its cause as
    text only (no kind or line of its own)."""
    assert load_failure(name) == cause


def test_an_infinite_loop_at_import_times_out():
    started = time.monotonic()
    assert load_failure("loops_at_import.py", import_timeout=1.0) == "timed out after 1 s while importing"
    assert time.monotonic() - started < 5


def test_a_missing_file_is_a_load_error(tmp_path):
    with pytest.raises(SubmissionLoadError, match="no such file"):
        Sandbox(tmp_path / "absent.py").start()


def test_a_failed_start_leaves_no_folder_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert load_failure("exits_at_import.py") == "called sys.exit('bye') while importing"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- #
# Calls that fail; grading goes on after each.
# --------------------------------------------------------------------------- #


def test_an_infinite_loop_in_a_call_times_out_and_grading_goes_on(sandbox):
    box = sandbox("misbehaving.py")
    started = time.monotonic()
    assert failure(box.module.loop_forever) == "timed out after 1 s"
    assert time.monotonic() - started < 3
    assert box.module.echo(5) == 5


@pytest.mark.parametrize("hog", ["hog_list", "hog_array", "hog_gradually"])
def test_a_memory_hog_runs_out_of_memory_and_grading_goes_on(sandbox, hog):
    box = sandbox("misbehaving.py", memory_mb=512, call_timeout=10.0)
    assert failure(getattr(box.module, hog)) == "ran out of memory"
    assert box.module.echo("next") == "next"


def test_sys_exit_in_a_call_is_reported_and_grading_goes_on(sandbox):
    box = sandbox("misbehaving.py")
    assert failure(box.module.exit_call, 3) == "called sys.exit(3)"
    assert failure(box.module.exit_call, None) == "called sys.exit(None)"
    assert box.module.echo(1) == 1


def test_os_exit_in_a_call_ends_the_process_and_the_next_call_starts_a_fresh_one(sandbox):
    box = sandbox("misbehaving.py")
    assert failure(box.module.os_exit, 7) == "ended its own process (exit code 7)"
    assert box.module.echo([1, 2]) == [1, 2]


@pytest.mark.parametrize("options", [{}, UNSAFE], ids=["default", "unsafe"])
def test_an_exit_is_reported_at_once_even_if_a_fork_keeps_the_channel_open(sandbox, options):
    box = sandbox("misbehaving.py", call_timeout=10.0, **options)
    started = time.monotonic()
    assert failure(box.module.fork_then_exit, 5) == "ended its own process (exit code 5)"
    assert time.monotonic() - started < 1
    assert box.module.echo(5) == 5


def test_a_crash_by_signal_names_the_signal(sandbox):
    box = sandbox("misbehaving.py")
    error = call_error(box.module.crash)
    assert error.kind == "crashed" and "SIGSEGV" in error.reason  # the signal has no field of its own
    assert box.module.echo(2) == 2


def _line_of(name: str, text: str) -> int:
    """The line of `text` in the submission `name`, found without the sandbox."""
    (line,) = [n for n, row in enumerate((SUBMISSIONS / name).read_text().splitlines(), 1) if text in row]
    return line


def test_not_implemented_error_says_the_function_is_not_implemented_in_the_submissions_words(sandbox):
    box = sandbox("misbehaving.py")
    with pytest.raises(ImplFailure) as info:
        call(suite_view(box.module), "not_done", 1, key=2)
    assert info.value.cause is Cause.NOT_IMPLEMENTED
    line = _line_of("misbehaving.py", 'raise NotImplementedError("TODO")')
    assert (info.value.exception, info.value.detail) == ("NotImplementedError", f"TODO (in not_done, line {line})")


def test_an_exception_is_reported_with_its_type_first_line_and_place_in_the_students_file(sandbox):
    """The one test of a raised exception's wording: its type, its first line, and the function
    and line of the student's file it was raised in, so the student can find it."""
    box = sandbox("misbehaving.py")
    error = call_error(box.module.raise_value_error)
    line = _line_of("misbehaving.py", 'raise ValueError("the weights are wrong')
    assert (error.kind, error.exception) == ("raised", "ValueError")
    assert error.reason == f"raised ValueError: the weights are wrong (in raise_value_error, line {line})"


def test_a_value_too_large_or_too_deep_is_refused_and_grading_goes_on(sandbox):
    box = sandbox("misbehaving.py")
    assert call_error(box.module.too_large).kind == "too_large"
    assert call_error(box.module.too_deep).kind == "too_deep"
    assert box.module.echo(3) == 3


def test_a_print_flood_is_cut_at_the_output_limit(sandbox):
    box = sandbox("misbehaving.py", output_limit=1000, call_timeout=10.0)  # 100 000 prints: seconds on a loaded machine
    assert box.module.flood(100_000) == 100_000
    text = box.output()
    assert text.startswith("flood line 0\n") and text.endswith("\n[output cut after 1000 bytes]")
    assert len(text.encode()) < 1100


@pytest.mark.parametrize("flood", ["flood_forever", "flood_descriptor_forever"])
def test_an_endless_print_flood_times_out_with_the_output_capped(sandbox, flood):
    box = sandbox("misbehaving.py", output_limit=4096)
    assert failure(getattr(box.module, flood)) == "timed out after 1 s"
    text = box.output()
    assert text.endswith("[output cut after 4096 bytes]") and len(text) < 5000
    assert box.module.echo(4) == 4


def test_a_deadline_shares_one_budget_and_then_fails_fast(sandbox):
    box = sandbox("misbehaving.py", call_timeout=10.0)
    with box.deadline(1.5):
        assert box.module.echo(1) == 1
        started = time.monotonic()
        assert failure(box.module.loop_forever) == "timed out after 1.5 s"
        assert time.monotonic() - started < 2.5
        started = time.monotonic()
        assert failure(box.module.echo, 2) == "timed out after 1.5 s"
        assert time.monotonic() - started < 0.05
    assert box.module.echo(3) == 3


def test_a_sandboxed_failure_reaches_the_suite_as_an_impl_failure_with_its_cause(sandbox):
    box = sandbox("misbehaving.py")
    module = suite_view(box.module)
    with pytest.raises(ImplFailure, match="^loop_forever: timed out after 1 s$") as info:
        call(module, "loop_forever")
    assert info.value.cause is Cause.TIMEOUT
    with pytest.raises(ImplFailure) as info:
        call(module, "raise_value_error")
    assert (info.value.cause, info.value.exception) == (Cause.RAISED, "ValueError")
    assert call(module, "echo", 6) == 6


def frame(body: bytes) -> bytes:
    return struct.pack(">Q", len(body)) + body


@pytest.mark.parametrize(
    "garbage",
    [
        frame(b"hello"),
        struct.pack(">Q", 2**62),
        frame(b"[]"),
        frame(b'{"id":999,"ok":"early"}'),
        frame(b'{"id":1,"error":{"kind":["x"]}}'),
        frame(b'{"id":1,"ok":{"a":1},}'),
        frame(b'{"id":1,"ok":1,"extra":2}'),
    ],
    ids=["invalid JSON", "huge length", "not an object", "a future id", "a bad error", "trailing comma", "extra key"],
)
def test_garbage_on_the_channel_is_a_malformed_reply_and_grading_goes_on(sandbox, garbage):
    box = sandbox("misbehaving.py")
    assert failure(box.module.send_raw, garbage.decode("latin-1")) == "sent a malformed reply"
    assert box.module.echo(8) == 8


def test_a_reply_beyond_what_the_call_can_return_is_refused_before_it_is_read(sandbox):
    """A 48 MiB frame (larger than the call's limit) is refused from its header; a frame of
    {} floods is refused before it is decoded; the grader's own peak memory barely moves."""
    box = sandbox("misbehaving.py", call_timeout=10.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    big = 48 << 20
    assert failure(box.module.send_raw, (struct.pack(">Q", big) + b"{},").decode("latin-1")) == "sent a malformed reply"
    flood = frame(b'{"id":1,"ok":[' + b"{}," * 300_000 + b"{}]}")
    assert len(flood) < reply_limit(0)  # small enough in bytes: refused for what it would cost to decode
    assert failure(box.module.send_raw, flood.decode("latin-1")) == "sent a malformed reply"
    assert box.module.echo(8) == 8
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB: under 100 MB


def test_the_reply_limit_follows_the_size_of_the_arguments():
    assert reply_limit(10) == reply_limit(0) >= 1 << 20
    assert reply_limit(1 << 20) == 4 << 20
    assert reply_limit(1 << 30) <= 8 << 20


def test_a_forged_well_formed_reply_is_only_a_return_value_and_the_channel_stays_in_step(sandbox):
    box = sandbox("misbehaving.py")
    assert box.module.send_raw(frame(b'{"id":1,"ok":"forged"}').decode("latin-1")) == "forged"
    assert box.module.echo(2) == 2  # the real reply to call 1 is skipped as stale
    assert box.module.echo(3) == 3


def test_a_forged_array_with_a_forbidden_dtype_is_a_malformed_reply(sandbox):
    box = sandbox("misbehaving.py")
    forged = frame(dump_message({"id": 1, "ok": array_tree(b"\0" * 8, "|O8", (1,))}))
    assert failure(box.module.send_raw, forged.decode("latin-1")) == "sent a malformed reply"


def test_close_leaves_no_process_behind_after_a_fork(sandbox):
    box = sandbox("misbehaving.py")
    leader = box.pid
    assert box.module.fork_sleeper() == "forked"
    before = sandbox_processes(leader)
    assert len(before) >= 2  # (bwrap, its init,) the worker, the sleeper
    box.close()
    assert sandbox_processes(leader) == [] and not any(alive(pid) for pid in before)


def test_close_also_ends_a_process_that_left_the_session(sandbox):
    box = sandbox("misbehaving.py", **UNSAFE)  # under bubblewrap nothing can leave the PID namespace
    cwd = box.module.working_folder()
    assert box.module.daemon_sleeper() == "daemonised"
    escaped = working_in(cwd) - set(sandbox_processes(box.pid))
    assert len(escaped) == 1
    box.close()
    assert not any(alive(pid) for pid in escaped)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def test_close_is_idempotent_and_removes_the_temporary_folder(sandbox):
    box = sandbox("well_behaved.py")
    folder = box._folder  # its own, whatever other sandboxes of this machine come and go meanwhile
    assert folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith("gradverify-sandbox-")
    assert _holds(folder / "code" / "submission.py", (SUBMISSIONS / "well_behaved.py").read_bytes())
    box.close()
    box.close()
    assert not folder.exists()
    with pytest.raises(RuntimeError):
        _ = box.module


def test_unsafe_the_child_still_runs_apart_and_close_ends_what_it_started(sandbox):
    box = sandbox("misbehaving.py", **UNSAFE)
    assert [p for p in box.isolation if p.startswith("NONE")]
    assert call_error(box.module.crash).kind == "crashed"
    assert box.pid is None and box.module.echo(1) == 1  # a fresh child
    cwd = box.module.working_folder()
    assert box.module.fork_sleeper() == "forked" and box.module.daemon_sleeper() == "daemonised"
    started = working_in(cwd)
    assert box.pid in started and len(started) == 3  # the worker, the sleeper, the daemon
    assert len(sandbox_processes(box.pid)) == 2  # the daemon left the session and its parent
    box.close()
    assert not any(alive(pid) for pid in started)
