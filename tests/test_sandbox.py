"""The sandbox: untrusted submissions run in a separate process and every misdeed ends as a clear cause.

The submissions are small files in tests/submissions/. Timeouts are short so the file runs
in seconds. Tests that need the child to drop to another user (root only) are skipped otherwise.
"""

from __future__ import annotations

import base64
import resource
import contextlib
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import pytest

from gradverify.impl import backprop
from gradverify.properties.calls import ImplFailure, call
from gradverify.grading.remote import suite_view
from gradverify.references.compare import Cause
from gradverify.sandbox.causes import SubmissionCallError, SubmissionLoadError
from gradverify.sandbox.host import Sandbox
from gradverify.sandbox.processes import sandbox_processes
from gradverify.sandbox import engine
from gradverify.sandbox.codec import (
    MalformedValue,
    OpaqueValue,
    ValueTooDeep,
    decode_value,
    dump_message,
    encode_value,
    reply_limit,
)

SUBMISSIONS = Path(__file__).with_name("submissions")
BWRAP = engine.bwrap_works()[0]
bwrap_only = pytest.mark.skipif(not BWRAP, reason=f"bubblewrap cannot run here: {engine.bwrap_works()[1]}")
UNSAFE = {"mode": engine.Mode.NONE, "unsafe": True}


@pytest.fixture
def sandbox():
    """A factory of started sandboxes on tests/submissions files, closed after the test."""
    opened = []

    def make(name: str | Path, **options) -> Sandbox:
        settings = {"call_timeout": 1.0, "import_timeout": 10.0, **options}
        box = Sandbox(SUBMISSIONS / name, **settings)
        opened.append(box)
        box.start()
        return box

    yield make
    for box in opened:
        box.close()


def failure(fn, *args, **kwargs) -> str:
    """The cause of the SubmissionCallError that fn(*args, **kwargs) raises."""
    with pytest.raises(SubmissionCallError) as info:
        fn(*args, **kwargs)
    assert str(info.value) == info.value.cause
    return info.value.cause


def load_failure(name: str, **options) -> str:
    """The SubmissionLoadError message of starting a sandbox on tests/submissions/`name`."""
    box = Sandbox(SUBMISSIONS / name, **{"import_timeout": 10.0, **options})
    with pytest.raises(SubmissionLoadError) as info:
        box.start()
    box.close()
    return str(info.value)


def bitwise_equal(a, b) -> bool:
    """Same structure, same types, arrays with the same dtype, shape and bytes."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(bitwise_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(bitwise_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def alive(pid: int) -> bool:
    """Whether `pid` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def working_in(folder: str) -> set[int]:
    """Live processes whose working folder is `folder` (a sandbox's, so only its own processes)."""
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{entry}/cwd") == folder and alive(int(entry)):
                found.add(int(entry))
        except OSError:
            continue
    return found


def small_net(seed: int = 0) -> dict:
    """A 3-4-2 tanh/softmax network with cross-entropy and L2."""
    rng = np.random.default_rng(seed)
    return {
        "layers": [
            {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=4), "activation": "tanh"},
            {"W": rng.normal(size=(2, 4)), "b": rng.normal(size=2), "activation": "softmax"},
        ],
        "loss": "cce",
        "l2": 0.01,
    }


# --------------------------------------------------------------------------- #
# The encoding, without a process.
# --------------------------------------------------------------------------- #


def roundtrip(value):
    """`value` encoded, sent as JSON text and decoded, as between the processes."""
    return decode_value(json.loads(dump_message({"v": encode_value(value)}))["v"])


def test_values_round_trip_through_the_encoding_bitwise():
    rng = np.random.default_rng(1)
    value = {
        "grads": [{"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3)}],
        "pair": (1, (2.5, None), [True, "s"]),
        "specials": [math.nan, math.inf, -math.inf, -0.0, 1e-310, 2**80, 3 + 4j],
        "arrays": [
            np.arange(12.0).reshape(3, 4).T,  # not C-contiguous
            np.array([1.0, 2.0], dtype=">f8"),
            np.array(7.5),
            np.zeros((0, 3)),
            np.array([1, -2], dtype=np.int32),
            np.array([True, False]),
            np.array([1 + 2j], dtype=np.complex64),
        ],
        "__tuple__": "a user key that looks like a tag",
    }
    assert bitwise_equal(roundtrip(value), value)


def test_numpy_scalars_come_back_as_python_numbers():
    assert bitwise_equal(roundtrip([np.float64(0.1), np.int64(3), np.bool_(True)]), [0.1, 3, True])


def test_unsupported_values_come_back_as_opaque_stand_ins_named_after_their_type():
    values = roundtrip([{1, 2}, (i for i in range(2)), {1: "int key"}, np.array(["text"]), b"bytes"])
    assert [type(v).__name__ for v in values] == ["set", "generator", "dict", "ndarray", "bytes"]
    assert all(isinstance(v, OpaqueValue) for v in values)
    assert "{1, 2}" in repr(values[0])


class _Hostile:
    """An object whose repr and __class__ raise."""

    def __repr__(self):
        raise RuntimeError("no repr")

    @property
    def __class__(self):
        raise RuntimeError("no class")


def test_a_hostile_object_comes_back_opaque_instead_of_breaking_the_encoding():
    value = roundtrip([_Hostile()])[0]
    assert type(value).__name__ == "_Hostile" and "unrepresentable" in repr(value)


def test_an_array_subclass_comes_back_as_its_plain_data():
    masked = np.ma.masked_array([1.0, 2.0], mask=[False, True])
    assert bitwise_equal(roundtrip(masked), np.array([1.0, 2.0]))


def test_a_self_referencing_value_is_too_deep_to_encode():
    value: list = []
    value.append(value)
    with pytest.raises(ValueTooDeep):
        encode_value(value)


def test_decoded_arrays_are_writable_copies():
    array = roundtrip(np.ones(3))
    array[0] = 5.0
    assert array.flags.owndata and array[0] == 5.0


def _array_tree(data: bytes = b"\0" * 16, dtype: str = "<f8", shape=(2,)) -> dict:
    return {"__ndarray__": base64.b64encode(data).decode(), "dtype": dtype, "shape": list(shape)}


@pytest.mark.parametrize(
    "tree",
    [
        _array_tree(dtype="|O8"),
        _array_tree(dtype="|V8"),
        _array_tree(dtype="<M8"),
        _array_tree(dtype="<f3"),
        _array_tree(shape=(3,)),
        _array_tree(shape=(-2,)),
        _array_tree(shape=(2.0,)),
        {**_array_tree(), "__ndarray__": "not base64!"},
        {**_array_tree(), "extra": 1},
        {"__tuple__": [1], "__complex__": [1, 2]},
        {"__complex__": [1, "2"]},
        {"__object__": "set"},
        {"__object__": "x" * 1000, "repr": ""},
        {"__dict__": [1, 2]},
        "deeply nested",
    ],
    ids=lambda tree: str(tree)[:40],
)
def test_decoding_rejects_anything_off_the_encoding(tree):
    if tree == "deeply nested":
        tree = []
        for _ in range(150):
            tree = [tree]
    with pytest.raises(MalformedValue):
        decode_value(tree)


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
    ],
)
def test_an_import_that_fails_ends_as_its_cause(name, cause):
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
    assert failure(box.module.crash) == "ended its own process (killed by signal SIGSEGV)"
    assert box.module.echo(2) == 2


def test_not_implemented_error_says_the_function_is_not_implemented_in_the_submissions_words(sandbox):
    box = sandbox("misbehaving.py")
    with pytest.raises(ImplFailure) as info:
        call(suite_view(box.module), "not_done", 1, key=2)
    assert info.value.cause is Cause.NOT_IMPLEMENTED
    assert info.value.message == "is not implemented (raised NotImplementedError: TODO)"


def test_an_exception_is_reported_with_its_type_and_first_line(sandbox):
    box = sandbox("misbehaving.py")
    assert failure(box.module.raise_value_error) == "raised ValueError: the weights are wrong"


def test_a_value_too_large_or_too_deep_is_refused_and_grading_goes_on(sandbox):
    box = sandbox("misbehaving.py")
    assert failure(box.module.too_large) == "returned a value too large to check"
    assert failure(box.module.too_deep) == "returned a value nested too deeply to check"
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
    forged = frame(dump_message({"id": 1, "ok": _array_tree(b"\0" * 8, "|O8", (1,))}))
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
    before = set(Path(tempfile.gettempdir()).glob("gradverify-sandbox-*"))
    box = sandbox("well_behaved.py")
    source = (SUBMISSIONS / "well_behaved.py").read_bytes()
    made = {folder for folder in set(Path(tempfile.gettempdir()).glob("gradverify-sandbox-*")) - before
            if _holds(folder / "code" / "submission.py", source)}  # other tests' sandboxes come and go meanwhile
    assert len(made) == 1
    box.close()
    box.close()
    assert not any(path.exists() for path in made)
    with pytest.raises(RuntimeError):
        _ = box.module


def test_unsafe_the_child_still_runs_apart_and_close_ends_what_it_started(sandbox):
    box = sandbox("misbehaving.py", **UNSAFE)
    assert [p for p in box.isolation if p.startswith("NONE")]
    assert failure(box.module.crash) == "ended its own process (killed by signal SIGSEGV)"
    assert box.pid is None and box.module.echo(1) == 1  # a fresh child
    cwd = box.module.working_folder()
    assert box.module.fork_sleeper() == "forked" and box.module.daemon_sleeper() == "daemonised"
    started = working_in(cwd)
    assert box.pid in started and len(started) == 3  # the worker, the sleeper, the daemon
    assert len(sandbox_processes(box.pid)) == 2  # the daemon left the session and its parent
    box.close()
    assert not any(alive(pid) for pid in started)


# --------------------------------------------------------------------------- #
# Bubblewrap's protections (as root and as an ordinary user alike).
# --------------------------------------------------------------------------- #


@pytest.fixture
def graders_file():
    """A file of the grader's (mode 0644) in a folder anyone may enter; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="grader-", dir="/var/tmp"))
    folder.chmod(0o755)
    path = folder / "results.txt"
    path.write_text("the grader's results\n")
    path.chmod(0o644)
    yield path
    shutil.rmtree(folder)


@bwrap_only
def test_the_child_runs_as_nobody_without_network_and_sees_only_its_own_processes(sandbox):
    box = sandbox("well_behaved.py")
    assert box.mode is engine.Mode.BWRAP and "bubblewrap" in box.isolation
    uid, gid, net = box.module.identity()
    assert (uid, gid) == (65534, 65534)
    assert net != os.readlink("/proc/self/ns/net")
    assert len(box.module.visible_processes()) <= 3  # bwrap's init, the worker (and its listing)


@bwrap_only
def test_the_graders_files_do_not_exist_for_the_child_but_python_and_numpy_work(sandbox, graders_file):
    box = sandbox("misbehaving.py")
    for secret in (Path(backprop.__file__), SUBMISSIONS / "well_behaved.py", graders_file, Path(sys.prefix) / "pyvenv.cfg"):
        assert failure(box.module.write, str(secret), "forged").startswith(("raised FileNotFoundError", "raised OSError"))
    assert graders_file.read_text() == "the grader's results\n"
    assert box.module.echo(np.arange(3)).tolist() == [0, 1, 2]


@bwrap_only
def test_only_the_standard_library_and_numpy_can_be_imported(sandbox):
    box = sandbox("well_behaved.py")
    assert box.module.standard_modules_work() is True
    assert box.module.importable(["numpy", "json", "torch", "jax", "hypothesis", "gradverify", "scipy"]) == ["json", "numpy"]


@bwrap_only
def test_a_rubric_may_allow_one_more_package_and_only_that_one(sandbox):
    box = sandbox("well_behaved.py", packages=["hypothesis"])
    assert box.module.importable(["numpy", "hypothesis", "torch", "jax", "gradverify"]) == ["hypothesis", "numpy"]


@bwrap_only
def test_killing_the_grader_is_impossible_and_the_grader_survives(sandbox):
    box = sandbox("misbehaving.py")
    refused = ("raised PermissionError", "raised ProcessLookupError")
    assert failure(box.module.kill, os.getpid()).startswith(refused)
    with contextlib.suppress(SubmissionCallError):
        box.module.kill_parent()
    assert box.module.echo(9) == 9


@bwrap_only
def test_a_fork_bomb_is_stopped_and_close_ends_it(sandbox):
    box = sandbox("misbehaving.py", call_timeout=10.0)
    leader = box.pid
    with contextlib.suppress(SubmissionCallError):  # the watchdog may end it, or the process limit
        box.module.fork_bomb()
    box.close()
    assert sandbox_processes(leader) == []


def test_without_user_namespaces_or_root_there_is_no_sandbox_unless_unsafe(monkeypatch):
    monkeypatch.setattr(engine, "bwrap_works", lambda: (False, "no user namespaces"))
    monkeypatch.setattr(engine.os, "geteuid", lambda: 1000)
    with pytest.raises(engine.SandboxUnavailable, match="--unsafe-no-sandbox"):
        engine.choose()
    assert engine.choose(unsafe=True) is engine.Mode.NONE


@pytest.mark.skipif(os.geteuid() != 0, reason="the separate-user mode needs a grader running as root")
def test_separate_user_sandboxes_side_by_side_have_uids_and_folders_of_their_own(sandbox):
    """The separate-user mode, forced: two submissions graded side by side run as two uids that
    no user of the machine has, each folder is open to its own gid alone, and closing one (which
    kills every process of its uid and sweeps its files) leaves the other answering."""
    boxes = [sandbox(Path(backprop.__file__), call_timeout=10.0, mode=engine.Mode.USER, lock_grader=False)
             for _ in range(2)]
    uids = [os.stat(f"/proc/{box.pid}").st_uid for box in boxes]
    assert uids[0] != uids[1] and all(uid in engine.SANDBOX_UIDS for uid in uids)
    folders = [os.stat(box._state.folder) for box in boxes]
    assert [(f.st_gid, f.st_mode & 0o777) for f in folders] == [(uid, 0o750) for uid in uids]
    boxes[0].close()
    net = small_net()
    X = np.random.default_rng(1).normal(size=(5, 3))
    Y = np.eye(2)[[0, 1, 1, 0, 1]]
    assert bitwise_equal(boxes[1].module.network_gradients(net, X, Y), backprop.network_gradients(net, X, Y))


# --------------------------------------------------------------------------- #
# The interpreter's layout: NumPy is found in the sandbox whatever the Python build.
# --------------------------------------------------------------------------- #

#: The distribution's Python (Debian's python3.11: its standard library in /usr/lib/python3.11,
#: its packages in dist-packages), as docs/gradescope/setup.sh makes the grader's venv with it.
DISTRIBUTION_PYTHON = "/usr/bin/python3.11"


@bwrap_only
def test_numpy_is_found_in_the_sandbox_when_the_interpreter_has_no_site_folder(sandbox, monkeypatch):
    """A copied interpreter whose isolated sys.path has no site folder at all (Debian's python3.11,
    copied for a root grader, scans dist-packages folders that the copy does not have): NumPy
    is still importable in the sandbox, and nothing else."""
    real = engine.runtime

    def without_sites(packages=()):
        return {**real(packages), "sites": []}

    monkeypatch.setattr(engine, "runtime", without_sites)
    box = sandbox("well_behaved.py")
    assert box.module.importable(["numpy", "json", "torch", "hypothesis", "gradverify"]) == ["json", "numpy"]


def _distribution_python_problem() -> str | None:
    if not os.access(DISTRIBUTION_PYTHON, os.X_OK):
        return f"{DISTRIBUTION_PYTHON} does not exist here"
    done = subprocess.run([DISTRIBUTION_PYTHON, "-c", "import sys; print(sys.version_info[:2], sys.prefix)"],
                          capture_output=True, text=True)
    if done.stdout.split(")")[0] + ")" != str(sys.version_info[:2]):
        return f"{DISTRIBUTION_PYTHON} is Python {done.stdout.strip()}, the venv's packages are for {sys.version_info[:2]}"
    if os.path.realpath(DISTRIBUTION_PYTHON) == os.path.realpath(getattr(sys, "_base_executable", sys.executable)):
        return f"the tests already run on {DISTRIBUTION_PYTHON}"
    return None


@bwrap_only
@pytest.mark.skipif(_distribution_python_problem() is not None, reason=str(_distribution_python_problem()))
def test_the_canary_passes_under_bubblewrap_on_the_distributions_python():
    """The grader run by the distribution's python3.11 (this venv's packages added to it, as in a
    venv made with it): the canary, a trusted submission importing NumPy in the bubblewrap
    sandbox, gives its answer. (Debian's layout once left NumPy out of the sandbox: every
    submission scored 0, "ended its own process (exit code 1) while importing".)"""
    site_packages = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    code = ("import site, sys; site.addsitedir(sys.argv[1]); "
            "from gradverify.sandbox import canary, engine; "
            "canary.prove(timeout=60); print(engine.choose().value, engine.runtime()['exe'])")
    done = subprocess.run([DISTRIBUTION_PYTHON, "-I", "-c", code, site_packages], capture_output=True, text=True,
                          env={**os.environ, engine.MODE_VARIABLE: engine.Mode.BWRAP.value}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    mode, exe = done.stdout.split()
    assert mode == engine.Mode.BWRAP.value
    assert exe != engine.runtime()["exe"]  # the distribution's interpreter, not the one these tests run on


# --------------------------------------------------------------------------- #
# The canary: a sandbox that cannot run NumPy stops the grade before any student's.
# --------------------------------------------------------------------------- #


@pytest.fixture
def numpy_left_out(monkeypatch):
    """The sandbox's runtime without NumPy, as Debian's layout once made it: every import fails."""
    real = engine.runtime

    def without_numpy(packages=()):
        return {**real(packages), "numpy": []}

    monkeypatch.setattr(engine, "runtime", without_numpy)


@bwrap_only
def test_the_canary_names_why_a_sandbox_without_numpy_cannot_grade(numpy_left_out):
    from gradverify.sandbox import canary

    with pytest.raises(canary.SandboxBroken) as info:
        canary.prove(timeout=30)
    assert "No module named 'numpy'" in str(info.value)
    assert isinstance(info.value, engine.SandboxUnavailable)


@bwrap_only
def test_a_broken_sandbox_exits_2_before_any_submission_is_graded(numpy_left_out, tmp_path, capsys):
    """One file, and a class folder: exit 2 with the reason, and no grade written (no zero blamed on a student)."""
    from gradverify.cli import main

    one = tmp_path / "one.json"
    assert main(["grade", backprop.__file__, "--results-json", str(one), "--no-plots", "--quiet"]) == 2
    assert "the sandbox does not work here" in capsys.readouterr().err and not one.exists()
    (tmp_path / "class").mkdir()
    for name in ("alice", "bob"):
        shutil.copyfile(backprop.__file__, tmp_path / "class" / f"{name}.py")
    assert main(["grade", str(tmp_path / "class"), "--out", str(tmp_path / "grades"), "--no-plots", "--quiet"]) == 2
    assert "No module named 'numpy'" in capsys.readouterr().err
    assert list((tmp_path / "grades").glob("*.json")) == []


def test_a_class_grade_runs_the_canary_once_in_its_parent_and_tells_each_student_process(tmp_path, monkeypatch):
    import argparse

    from gradverify.grading import classroom
    from gradverify.sandbox import canary

    proofs = []
    monkeypatch.setattr(canary, "prove", lambda **options: proofs.append(options))
    commands = []
    monkeypatch.setattr(classroom, "_grade", lambda path, name, out, args, limit: (
        commands.append(classroom._command(path, name, out, args)), (name, None, "not graded here"))[1])
    args = argparse.Namespace(rubric=None, timeout=None, out=str(tmp_path / "grades"), jobs=2, quiet=True, report=None,
                              results_json=None, fail_under=None, adapter=None, no_plots=True, memory=512,
                              unsafe_no_sandbox=False, files=[])
    classroom.grade_many([classroom.Student(n, tmp_path / f"{n}.py") for n in ("a", "b")], args)
    assert len(proofs) == 1 and proofs[0]["memory_mb"] == 512
    assert len(commands) == 2 and all("--sandbox-proven" in command for command in commands)


# --------------------------------------------------------------------------- #
# The separate-user mode gives back every permission it took, and never closes a shared folder.
# --------------------------------------------------------------------------- #

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the separate-user mode needs a grader running as root")


def modes(*paths) -> dict[str, int]:
    return {str(path): os.stat(path).st_mode & 0o7777 for path in paths}


@pytest.fixture
def grader_tree(tmp_path, monkeypatch):
    """A stand-in for the grader's venv (the grader's own paths point at it alone) and a class folder
    with a rubric and a submission, all open to others as they are kept."""
    venv, klass = tmp_path / "venv", tmp_path / "class"
    for folder in (venv, klass):
        folder.mkdir()
        folder.chmod(0o755)
    (klass / "rubric.toml").write_text("title = 'a course'\n")
    shutil.copyfile(SUBMISSIONS / "well_behaved.py", klass / "alice.py")
    for path in (klass / "rubric.toml", klass / "alice.py"):
        path.chmod(0o644)
    monkeypatch.setattr(engine, "grader_paths", lambda: [str(venv)])
    return types.SimpleNamespace(venv=venv, klass=klass, rubric=klass / "rubric.toml", submission=klass / "alice.py",
                                 locked=[klass / "rubric.toml", klass])


def _closed(paths) -> bool:
    return all(not os.stat(path).st_mode & 0o007 for path in paths)


def _hold_in_another_process(paths) -> subprocess.Popen:
    """Another grader process holding `paths` closed (engine.lock) until its stdin closes."""
    code = ("import sys; from gradverify.sandbox import engine; lease = engine.lock(sys.argv[1:]); "
            "print('held', flush=True); sys.stdin.read(); engine.unlock(lease)")
    proc = subprocess.Popen([sys.executable, "-c", code, *map(str, paths)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@root_only
def test_the_separate_user_mode_closes_the_graders_files_while_it_runs_and_gives_them_back(sandbox, grader_tree):
    before = modes(grader_tree.venv, *grader_tree.locked, grader_tree.submission)
    box = sandbox(grader_tree.submission, call_timeout=10.0, mode=engine.Mode.USER, locked=grader_tree.locked)
    assert _closed([grader_tree.venv, *grader_tree.locked])
    assert box.module.echo(3) == 3
    box.close()
    assert modes(grader_tree.venv, *grader_tree.locked, grader_tree.submission) == before


@root_only
def test_the_graders_own_files_are_closed_whoever_owns_them(sandbox, grader_tree):
    """A TA's venv, graded from with sudo, is another user's than root's: still the grader's own
    (the model solution is in it), so it is closed while the child runs, and given back."""
    os.chown(grader_tree.venv, 54321, 54321)
    os.chown(grader_tree.rubric, 54321, 54321)  # the TA's rubric: a file, closed whoever owns it
    before = modes(grader_tree.venv, grader_tree.rubric)
    box = sandbox(grader_tree.submission, call_timeout=10.0, mode=engine.Mode.USER, locked=grader_tree.locked)
    assert _closed([grader_tree.venv, grader_tree.rubric]) and box._state.lease.refused == ()
    box.close()
    assert modes(grader_tree.venv, grader_tree.rubric) == before


@root_only
@pytest.mark.parametrize("how", ["the submission fails to import", "the sandbox folder cannot be made"])
def test_the_separate_user_mode_gives_the_permissions_back_when_the_start_fails(grader_tree, monkeypatch, how):
    from gradverify.sandbox import host

    before = modes(grader_tree.venv, *grader_tree.locked)
    if how == "the sandbox folder cannot be made":
        monkeypatch.setattr(host, "make_folder", lambda *a, **k: (_ for _ in ()).throw(OSError("no space left")))
    else:
        shutil.copyfile(SUBMISSIONS / "raises_at_import.py", grader_tree.submission)
    box = Sandbox(grader_tree.submission, import_timeout=10.0, mode=engine.Mode.USER, locked=grader_tree.locked)
    with pytest.raises((SubmissionLoadError, OSError)):
        box.start()
    assert modes(grader_tree.venv, *grader_tree.locked) == before


@root_only
def test_a_path_two_grader_processes_hold_closed_is_given_back_when_the_last_is_done(sandbox, grader_tree):
    before = modes(*grader_tree.locked)
    other = _hold_in_another_process(grader_tree.locked)
    try:
        box = sandbox(grader_tree.submission, call_timeout=10.0, mode=engine.Mode.USER, locked=grader_tree.locked)
        box.close()
        assert _closed(grader_tree.locked), "reopened while another grader still runs a submission"
    finally:
        other.communicate("")
    assert other.returncode == 0 and modes(*grader_tree.locked) == before


@root_only
def test_what_a_killed_grader_held_closed_is_given_back_by_the_next_lock(grader_tree):
    before = modes(*grader_tree.locked)
    other = _hold_in_another_process(grader_tree.locked)
    other.kill()
    other.wait()
    assert _closed(grader_tree.locked)
    engine.unlock(engine.lock([]))  # any grader's next lock looks at the registry
    assert modes(*grader_tree.locked) == before


@root_only
@pytest.mark.parametrize("shared", ["sticky and world-writable, like /tmp", "another user's"])
def test_a_submission_in_a_folder_others_share_is_graded_from_its_copy_and_the_folder_stays_open(sandbox, tmp_path, shared):
    folder = tmp_path / "shared"
    folder.mkdir()
    if shared == "another user's":
        folder.chmod(0o755)
        os.chown(folder, 54321, 54321)
    else:
        folder.chmod(0o1777)
    submission = folder / "alice.py"
    shutil.copyfile(backprop.__file__, submission)
    before = modes(folder)
    box = sandbox(submission, call_timeout=10.0, mode=engine.Mode.USER, locked=[folder], lock_grader=False)
    assert modes(folder) == before  # never closed, not even while the child runs
    assert [path for path, _why in box._state.lease.refused] == [str(folder)]
    net = small_net()
    X, Y = np.random.default_rng(2).normal(size=(5, 3)), np.eye(2)[[0, 1, 1, 0, 1]]
    assert bitwise_equal(box.module.network_gradients(net, X, Y), backprop.network_gradients(net, X, Y))
    box.close()
    assert modes(folder) == before


@root_only
def test_a_class_grades_parent_holds_the_class_folder_closed_across_its_students(sandbox, grader_tree, monkeypatch):
    from gradverify.sandbox.folder import closed_to_others

    monkeypatch.setenv(engine.MODE_VARIABLE, engine.Mode.USER.value)
    before = modes(grader_tree.venv, *grader_tree.locked)
    with closed_to_others(grader_tree.locked):
        box = sandbox(grader_tree.submission, call_timeout=10.0, locked=grader_tree.locked)
        box.close()  # one student done: the next must not find the class folder open
        assert _closed([grader_tree.venv, *grader_tree.locked])
    assert modes(grader_tree.venv, *grader_tree.locked) == before


@root_only
def test_a_grade_in_the_separate_user_mode_leaves_a_sticky_folder_and_the_rubric_as_they_were(tmp_path, monkeypatch):
    """grade_file, forced into the separate-user mode, on a submission in a fresh 1777 folder (as in
    /tmp) with its rubric elsewhere: full marks, and every mode as it was before."""
    from gradverify.grading.items import grade_file
    from gradverify.grading.rubric import load_rubric

    shared, staff = tmp_path / "shared", tmp_path / "staff"
    shared.mkdir()
    shared.chmod(0o1777)
    staff.mkdir()
    staff.chmod(0o755)
    rubric = staff / "rubric.toml"
    rubric.write_text('title = "one item"\nexamples = 2\nitem_timeout = 30\n\n'
                      '[[items]]\nname = "loss"\ntitle = "loss"\ncheck = "loss"\ntarget = "mse"\npoints = 10\n')
    rubric.chmod(0o644)
    submission = shared / "alice.py"
    shutil.copyfile(backprop.__file__, submission)
    submission.chmod(0o644)
    monkeypatch.setattr(engine, "grader_paths", lambda: [str(staff)])  # the checkout stays open to other tests' users
    monkeypatch.setenv(engine.MODE_VARIABLE, engine.Mode.USER.value)
    before = modes(shared, staff, rubric, submission)
    result = grade_file(submission, load_rubric(rubric), memory_mb=1024)
    assert result.sandbox == engine.Mode.USER.value and result.score == result.max_score == 10
    assert modes(shared, staff, rubric, submission) == before
