"""Stateful calls across the sandbox (gradverify/sandbox/state.py, worker.Kept): a forward's cache
kept in the sandbox, arguments written back, returned arrays' sharing rebuilt, and nothing the
worker says about memory trusted."""

from __future__ import annotations

import numpy as np
import pytest

from gradverify.sandbox.codec import HANDLE_MAX, Handle, MalformedValue, decode_value, encode_value
from gradverify.sandbox.host import Sandbox
from gradverify.sandbox.state import rebuild, view_into, write_back
from tests.sandboxes import UNSAFE, call_error

STUDENT = """
import numpy as np

def relu_forward(x):
    np.maximum(x, 0, out=x)
    return x, (lambda: x)          # a cache no codec could carry: it stays in the sandbox

def relu_backward(dout, cache):
    return dout * (cache() > 0)

def norm_forward(x, param):
    param["running_mean"] = x.mean(axis=0)
    param.setdefault("eps", 1e-5)
    return x[:, :1], {"x": x}

def halves(x):
    y = x * 2
    return y, y[1:]
"""


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    path = tmp_path_factory.mktemp("stateful") / "student.py"
    path.write_text(STUDENT)
    with Sandbox(path, **UNSAFE) as sandbox:
        yield sandbox


def test_a_cache_of_any_object_stays_in_the_sandbox_and_reaches_the_backward(box):
    x = np.array([-1.0, 2.0, -3.0])
    out, cache = box.module.relu_forward.stateful(keep=1)(x)
    assert type(cache) is Handle
    assert box.module.relu_backward.stateful()(np.ones(3), cache).tolist() == [0.0, 1.0, 0.0]


def test_an_input_changed_in_place_is_changed_here_and_shared_with_the_output(box):
    x = np.array([-1.0, 2.0, -3.0])
    out, _ = box.module.relu_forward.stateful(keep=1)(x)
    assert x.tolist() == [0.0, 2.0, 0.0]
    assert np.shares_memory(out, x) and out.shape == x.shape and out.strides == x.strides


def test_a_parameter_dict_is_left_as_the_call_left_it_and_a_view_stays_a_view(box):
    x, param = np.arange(6.0).reshape(3, 2), {"mode": "train"}
    out, _ = box.module.norm_forward.stateful(keep=1)(x, param)
    assert param["running_mean"].tolist() == [2.0, 3.0] and param["eps"] == 1e-5
    assert np.shares_memory(out, x) and out.tolist() == [[0.0], [2.0], [4.0]]


def test_two_returned_arrays_that_share_memory_share_it_here(box):
    whole, tail = box.module.halves.stateful()(np.arange(4.0))
    assert np.shares_memory(whole, tail) and tail.tolist() == [2.0, 4.0, 6.0]


def test_a_plain_call_neither_keeps_nor_writes_back(box):
    x = np.array([-1.0, 2.0])
    out, cache = box.module.relu_forward(x)
    assert x.tolist() == [-1.0, 2.0] and not np.shares_memory(out, x)
    assert type(cache).__name__ == "function"  # the opaque stand-in of what could not cross


def test_a_handle_the_worker_does_not_hold_is_the_call_s_failure(box):
    error = call_error(box.module.relu_backward.stateful(), np.ones(2), Handle(10**9))
    assert error.exception == "LookupError" and "is gone" in error.message


def test_a_handle_round_trips_and_a_bad_one_is_malformed():
    assert decode_value(encode_value([Handle(3)])) == [Handle(3)]
    for bad in (-1, HANDLE_MAX + 1, True, "3", [3]):
        with pytest.raises(MalformedValue):
            decode_value({"__handle__": bad})


def test_a_view_is_built_only_inside_its_base_and_only_with_the_values_returned():
    base = np.arange(6.0)
    assert view_into(base, np.array([2.0, 3.0]), 16, [8]).tolist() == [2.0, 3.0]
    assert view_into(base, np.array([5.0, 6.0]), 40, [8]) is None  # its second element past the end
    assert view_into(base, np.array([0.0, 1.0]), -8, [8]) is None  # before the start
    assert view_into(base, np.array([5.0, 4.0]), 40, [-8]).tolist() == [5.0, 4.0]  # a reversed view, inside
    assert view_into(base, np.array([1.0, 0.0]), 8, [-16]) is None  # reaches below the start
    assert view_into(base, np.array([9.0, 9.0]), 0, [8]) is None  # not the values returned
    assert view_into(base, np.array([0.0]), 0.0, [8]) is None and view_into(base, np.array([0.0]), 0, ["8"]) is None


def test_facts_that_point_nowhere_leave_the_returned_copies_as_they_came():
    passed = [np.zeros(3)]
    value = (np.zeros(3), np.zeros(2))
    facts = [{"returned": 5, "arg": 0}, {"returned": 0, "arg": 7, "offset": 0, "strides": [8]}, "junk", {"returned": 1}]
    out = rebuild(passed, value, [np.zeros(3)], facts)
    assert not any(np.shares_memory(o, passed[0]) for o in out)


def test_write_back_changes_arrays_in_place_and_dicts_to_what_the_call_left():
    array, params = np.zeros(2), {"a": 1, "gone": 2}
    write_back([array, params, 3.0], [np.ones(2), {"a": 5, "new": np.ones(1)}, 4.0])
    assert array.tolist() == [1.0, 1.0] and params.keys() == {"a", "new"}
    write_back([array], [np.ones(3)])  # a shape the call could not have given it: left alone
    write_back([array], "not a list")
    assert array.tolist() == [1.0, 1.0]
