"""The encoding of values between the grader and its sandbox, without a process."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gradverify.sandbox.codec import MalformedValue, OpaqueValue, ValueTooDeep, decode_value, dump_message, encode_value

from tests.sandboxes import array_tree, bitwise_equal


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
    assert [v.dtype for v in values] == [None, None, None, "<U4", None]


@pytest.mark.parametrize("dtype", [3, "x" * 1000])
def test_an_opaque_value_with_a_dtype_that_is_no_short_name_is_malformed(dtype):
    with pytest.raises(MalformedValue):
        decode_value({"__object__": "ndarray", "repr": "array([1], dtype=object)", "dtype": dtype})


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


@pytest.mark.parametrize(
    "tree",
    [
        array_tree(dtype="|O8"),
        array_tree(dtype="|V8"),
        array_tree(dtype="<M8"),
        array_tree(dtype="<f3"),
        array_tree(shape=(3,)),
        array_tree(shape=(-2,)),
        array_tree(shape=(2.0,)),
        {**array_tree(), "__ndarray__": "not base64!"},
        {**array_tree(), "extra": 1},
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
