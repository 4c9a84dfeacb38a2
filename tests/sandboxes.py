"""Helpers of the sandbox's tests: the submissions of tests/submissions/, what a failure says, live processes."""

from __future__ import annotations

import base64
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from gradverify.sandbox import engine
from gradverify.sandbox.errors import SubmissionCallError, SubmissionLoadError
from gradverify.sandbox.host import Sandbox

SUBMISSIONS = Path(__file__).with_name("submissions")
BWRAP = engine.bwrap_works()[0]
bwrap_only = pytest.mark.skipif(not BWRAP, reason=f"bubblewrap cannot run here: {engine.bwrap_works()[1]}")
UNSAFE = {"mode": engine.Mode.NONE, "unsafe": True}
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the separate-user mode needs a grader running as root")


def failure(fn, *args, **kwargs) -> str:
    """The reason of the SubmissionCallError that fn(*args, **kwargs) raises."""
    with pytest.raises(SubmissionCallError) as info:
        fn(*args, **kwargs)
    assert str(info.value) == info.value.reason
    return info.value.reason


def call_error(fn, *args, **kwargs) -> SubmissionCallError:
    """The SubmissionCallError that fn(*args, **kwargs) raises: its `kind`, `exception` and `message` are the data."""
    with pytest.raises(SubmissionCallError) as info:
        fn(*args, **kwargs)
    return info.value


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


def array_tree(data: bytes = b"\0" * 16, dtype: str = "<f8", shape=(2,)) -> dict:
    return {"__ndarray__": base64.b64encode(data).decode(), "dtype": dtype, "shape": list(shape)}
