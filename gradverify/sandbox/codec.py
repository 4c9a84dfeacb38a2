"""The sandbox's wire format: values and frames between the grader and the worker.

Standard library and NumPy only; the worker imports it as a plain module (it runs as a
script), the grader as `gradverify.sandbox.codec`.

Messages are 8-byte big-endian lengths followed by that many bytes of JSON. Values are
encoded by :func:`encode_value` and decoded by :func:`decode_value`: JSON scalars, lists
and str-keyed dicts as themselves; tuples, complex numbers and dicts that use a tag as a
key are tagged; numeric NumPy arrays travel as base64 of their raw bytes; a `Handle` (a value
the worker keeps, such as a layer's cache) as its number; anything else becomes an opaque
stand-in carrying its type name and the start of its repr. Decoding
validates everything and never executes anything.
"""

from __future__ import annotations

import base64
import json
import math
import re
import socket
import struct
from typing import Any

import numpy as np

#: Largest encoded reply (bytes) of any call; each call has its own, smaller limit (reply_limit),
#: and a bigger return value is reported as too large to check.
RESULT_LIMIT = 8 * 1024 * 1024
#: The smallest per-call limit, and how many times its arguments' size a reply may be.
REPLY_FLOOR = 1024 * 1024
REPLY_FACTOR = 4
#: Most JSON containers ({ and [) a reply may hold: arrays travel as strings, so real replies
#: have a few per layer; a flood of {} would cost the grader far more memory than bytes.
MAX_CONTAINERS = 100_000
#: Room for the envelope around a value of RESULT_LIMIT bytes.
FRAME_SLACK = 64 * 1024
#: Deepest nesting of lists, tuples and dicts a value may have.
MAX_DEPTH = 100
#: Longest repr carried by an opaque value, and longest type name.
REPR_LIMIT = 200
NAME_LIMIT = 100
#: Longest exception message sent to the grader (which shows at most 300 characters).
MESSAGE_LIMIT = 1000

HEADER = struct.Struct(">Q")
TAGS = frozenset({"__ndarray__", "__tuple__", "__complex__", "__object__", "__dict__", "__handle__"})
#: Largest number a Handle may carry.
HANDLE_MAX = 2**53
ARRAY_KINDS = frozenset("biufc")
_DTYPE = re.compile(r"[<>|=][biufc][0-9]{1,2}")
_LARGEST_INT_BITS = 14_000  # json refuses ints of more than 4300 decimal digits

# --------------------------------------------------------------------------- #
# Values across the process boundary.
# --------------------------------------------------------------------------- #


class ValueTooLarge(Exception):
    """The encoded value would exceed the size limit."""


class ValueTooDeep(Exception):
    """The value is nested more than MAX_DEPTH levels deep (or refers to itself)."""


class MalformedValue(ValueError):
    """An encoded value that does not follow the encoding; nothing of it is trusted."""


class OpaqueValue:
    """Stand-in for a value that cannot cross the process boundary: only its type name and repr do,
    and for a NumPy array not of numbers (dtype object, bytes) its dtype's name (else None).

    Each type name gets its own subclass (see :func:`opaque_class`), so
    ``type(value).__name__`` is the name of the submission's type, e.g. ``set``.
    """

    __slots__ = ("repr_text", "dtype")

    def __init__(self, repr_text: str, dtype: str | None = None):
        self.repr_text = repr_text
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"<{type(self).__name__} from the submission: {self.repr_text}>"


class Handle:
    """A value the worker keeps on its side, named by its number: a layer forward's cache, which
    may be any object of the submission's. Only the number crosses; a call that passes the Handle
    back gets the object it stands for (worker.Kept)."""

    __slots__ = ("number",)

    def __init__(self, number: int):
        self.number = number

    def __eq__(self, other: object) -> bool:
        return type(other) is Handle and other.number == self.number

    def __hash__(self) -> int:
        return hash(("Handle", self.number))

    def __repr__(self) -> str:
        return f"<value #{self.number}, kept in the sandbox>"


_OPAQUE_CLASSES: dict[str, type] = {}


def opaque_class(type_name: str) -> type:
    """The OpaqueValue subclass whose __name__ is `type_name` made an identifier."""
    name = re.sub(r"\W", "_", type_name, flags=re.ASCII)[:NAME_LIMIT] or "object"
    if name[0].isdigit():
        name = "_" + name
    cls = _OPAQUE_CLASSES.get(name)
    if cls is None:
        cls = type(name, (OpaqueValue,), {"__slots__": (), "__module__": "submission"})
        if len(_OPAQUE_CLASSES) < 1000:
            _OPAQUE_CLASSES[name] = cls
    return cls


def safe_text(value: Any, limit: int, conversion=repr) -> str:
    """conversion(value) cut to `limit` characters, whatever the object does."""
    try:
        text = conversion(value)
        if not isinstance(text, str):
            raise TypeError("not a str")
        return str.__str__(text)[:limit]
    except BaseException:  # noqa: BLE001 - a hostile __repr__ must not stop the reply
        return f"<unrepresentable {type(value).__name__}>"[:limit]


def type_name(value: Any) -> str:
    return str(type(value).__name__)[:NAME_LIMIT]


class _Encoder:
    """Turns a value into a JSON-able tree, counting (roughly) the bytes it will take."""

    def __init__(self, limit: int):
        self.left = limit

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise ValueTooLarge()

    def tree(self, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValueTooDeep()
        self.spend(8)
        kind = type(value)  # never isinstance: a hostile __class__ must not be consulted
        if value is None:
            return None
        if issubclass(kind, np.generic):
            return self.scalar(value)
        if issubclass(kind, bool):
            return bool(value)
        if issubclass(kind, int):
            return self.integer(value)
        if issubclass(kind, float):
            return float(value)
        if issubclass(kind, complex):
            number = complex(value)
            return {"__complex__": [number.real, number.imag]}
        if issubclass(kind, str):
            self.spend(str.__len__(value))
            return str.__str__(value)
        if issubclass(kind, np.ndarray):
            return self.array(value if kind is np.ndarray else np.asarray(value))
        if issubclass(kind, list):
            return [self.tree(item, depth + 1) for item in list.copy(value)]
        if issubclass(kind, tuple):
            return {"__tuple__": [self.tree(item, depth + 1) for item in tuple.__iter__(value)]}
        if issubclass(kind, dict):
            return self.mapping(value, depth)
        if kind is Handle:
            return {"__handle__": int(value.number)}
        return self.opaque(value)

    def scalar(self, value: np.generic) -> Any:
        kind = value.dtype.kind
        if kind == "b":
            return bool(value)
        if kind in "iu":
            return int(value)
        if kind == "f":
            return float(value)
        if kind == "c":
            number = complex(value)
            return {"__complex__": [number.real, number.imag]}
        if kind == "U":
            self.spend(len(str(value)))
            return str(value)
        return self.opaque(value)

    def integer(self, value: int) -> Any:
        number = int(value)
        if number.bit_length() > _LARGEST_INT_BITS:
            return self.opaque(value)
        return number

    def array(self, value: np.ndarray) -> Any:
        if value.dtype.kind not in ARRAY_KINDS or value.dtype.fields is not None or value.dtype.subdtype is not None:
            return self.opaque(value, safe_text(value.dtype, NAME_LIMIT, str))
        self.spend(4 * ((value.nbytes + 2) // 3) + 64)
        return {
            "__ndarray__": base64.b64encode(value.tobytes(order="C")).decode("ascii"),
            "dtype": value.dtype.str,
            "shape": [int(n) for n in value.shape],
        }

    def mapping(self, value: dict, depth: int) -> Any:
        items = list(dict.items(value))
        if not all(issubclass(type(key), str) for key, _ in items):
            return self.opaque(value)
        for key, _ in items:
            self.spend(len(key))
        out = {str.__str__(key): self.tree(item, depth + 1) for key, item in items}
        return {"__dict__": out} if TAGS.intersection(out) else out

    def opaque(self, value: Any, dtype: str | None = None) -> dict:
        """The stand-in's tree: the type name and repr, and the dtype of an array not of numbers."""
        text = safe_text(value, REPR_LIMIT)
        self.spend(len(text) + 2 * NAME_LIMIT)
        tree = {"__object__": type_name(value), "repr": text}
        return tree if dtype is None else {**tree, "dtype": dtype}


def encode_value(value: Any, limit: int = RESULT_LIMIT) -> Any:
    """`value` as a JSON-able tree; ValueTooLarge or ValueTooDeep if it can't be sent."""
    return _Encoder(limit).tree(value, 0)


def decode_value(tree: Any, depth: int = 0) -> Any:
    """The value an encoded tree stands for; MalformedValue for anything off the encoding."""
    if depth > MAX_DEPTH + 1:
        raise MalformedValue("nested too deeply")
    kind = type(tree)
    if tree is None or kind in (bool, int, float, str):
        return tree
    if kind is list:
        return [decode_value(item, depth + 1) for item in tree]
    if kind is dict:
        return _decode_object(tree, depth)
    raise MalformedValue(f"unexpected {kind.__name__}")


def _decode_object(tree: dict, depth: int) -> Any:
    tags = TAGS.intersection(tree)
    if not tags:
        return {key: decode_value(item, depth + 1) for key, item in tree.items()}
    if len(tags) > 1:
        raise MalformedValue("more than one tag")
    (tag,) = tags
    if tag == "__ndarray__":
        return _decode_array(tree)
    if set(tree) - {tag, "repr", "dtype"} or (tag != "__object__" and len(tree) != 1):
        raise MalformedValue(f"unexpected keys with {tag}")
    body = tree[tag]
    if tag == "__tuple__" and type(body) is list:
        return tuple(decode_value(item, depth + 1) for item in body)
    if tag == "__dict__" and type(body) is dict:
        return {key: decode_value(item, depth + 1) for key, item in body.items()}
    if tag == "__complex__" and type(body) is list and len(body) == 2 and all(type(x) in (int, float) for x in body):
        return complex(body[0], body[1])
    if tag == "__object__":
        return _decode_opaque(tree)
    if tag == "__handle__" and type(body) is int and 0 <= body <= HANDLE_MAX:
        return Handle(body)
    raise MalformedValue(f"bad {tag}")


def _decode_opaque(tree: dict) -> OpaqueValue:
    name, text, dtype = tree.get("__object__"), tree.get("repr"), tree.get("dtype")
    if type(name) is not str or type(text) is not str or len(name) > NAME_LIMIT or len(text) > REPR_LIMIT:
        raise MalformedValue("bad __object__")
    if dtype is not None and (type(dtype) is not str or len(dtype) > NAME_LIMIT):
        raise MalformedValue("bad __object__ dtype")
    return opaque_class(name)(text, dtype)


def _decode_array(tree: dict) -> np.ndarray:
    if set(tree) != {"__ndarray__", "dtype", "shape"}:
        raise MalformedValue("bad __ndarray__ keys")
    data, dtype_text, shape = tree["__ndarray__"], tree["dtype"], tree["shape"]
    if type(data) is not str or type(dtype_text) is not str or not _DTYPE.fullmatch(dtype_text):
        raise MalformedValue("bad array data or dtype")
    if type(shape) is not list or len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
        raise MalformedValue("bad array shape")
    try:
        dtype = np.dtype(dtype_text)
    except (TypeError, ValueError):
        raise MalformedValue(f"unknown dtype {dtype_text!r}") from None
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise MalformedValue(f"dtype {dtype_text!r} not allowed")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:  # binascii.Error
        raise MalformedValue("bad base64") from None
    count = math.prod(shape)
    if len(raw) != count * dtype.itemsize:
        raise MalformedValue(f"{len(raw)} bytes for shape {tuple(shape)} of {dtype_text}")
    arr = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape).copy()
    return arr.view(np.uint8) != 0 if dtype.kind == "b" else arr


# --------------------------------------------------------------------------- #
# Framing (the worker's blocking side; the grader has its own non-blocking reader).
# --------------------------------------------------------------------------- #


def reply_limit(request_bytes: int) -> int:
    """The largest reply a call whose request took `request_bytes` can legitimately send: a
    protocol function returns arrays shaped like those it was given (gradients like the
    weights, a trained net like the net), so a few times the arguments, within RESULT_LIMIT."""
    return min(RESULT_LIMIT, max(REPLY_FLOOR, REPLY_FACTOR * request_bytes))


def too_many_containers(body: bytes) -> bool:
    """Whether a frame holds more JSON containers than a reply may (checked before decoding)."""
    return body.count(b"{") + body.count(b"[") > MAX_CONTAINERS


def dump_message(message: dict) -> bytes:
    """`message` as compact ASCII JSON (NaN and infinities allowed)."""
    return json.dumps(message, allow_nan=True, separators=(",", ":")).encode("ascii")


def send_frame(sock: socket.socket, body: bytes) -> None:
    sock.sendall(HEADER.pack(len(body)))
    sock.sendall(body)


def _receive_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive_frame(sock: socket.socket) -> bytes | None:
    """The next frame's body, or None when the grader has gone."""
    header = _receive_exactly(sock, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length > 4 * RESULT_LIMIT:
        return None
    return _receive_exactly(sock, length)
