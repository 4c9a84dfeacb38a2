"""What a stateful call brings back from the sandbox: its arguments as it left them, and the
memory its returned arrays share, rebuilt on the grader's copies.

    value = rebuild(args, value, after, facts)      # a reply's "ok", "after" and "aliases"

A layer's forward changes its parameter dict in place (CS231n's batchnorm stores its running
averages in bn_param) and may return an array that IS its input, or a view of it (relu in place):
in one process the caller sees both. Across the sandbox's boundary every value is a copy, so the
worker sends the arguments as the call left them (`after`) and where each returned array shares
memory (`aliases`: worker.aliases), and this makes the grader's side the same:

- an array argument changed in place is changed in place here (np.copyto), so a check that the
  inputs are unmodified sees it; a dict or list argument is made equal to what the call left
  (its keys, its items);
- a returned array that shares memory with an argument (or with an earlier returned array) is
  made a view of the grader's array at the same place, so np.shares_memory says what it would
  have said in one process.

Nothing the worker says is trusted: a view is built only inside the array it is a view of
(every byte it would reach checked first), and only when its values are the returned ones;
otherwise the returned copy stays as it came.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .codec import Handle

#: The most facts read from a reply (the worker reports at most 64 × 127 for 64 arrays; one view
#: is built per returned array): a submission that floods them costs the grader nothing more.
FACTS_READ = 8192


def write_back(passed: list, after: Any) -> None:
    """Make the caller's arguments `passed` what the call left them (`after`, the worker's
    decoded list; None where a kept value was passed): arrays in place, dicts and lists by their
    contents. Arguments whose kind or shape the call could not have changed are left alone."""
    if type(after) is not list or len(after) != len(passed):
        return
    for mine, theirs in zip(passed, after):
        _merge(mine, theirs)


def _merge(mine: Any, theirs: Any) -> None:
    if type(mine) is np.ndarray and type(theirs) is np.ndarray:
        if theirs.shape == mine.shape and theirs.dtype == mine.dtype and mine.flags.writeable:
            np.copyto(mine, theirs)
    elif type(mine) is dict and type(theirs) is dict:
        mine.clear()
        mine.update(theirs)
    elif type(mine) is list and type(theirs) is list:
        mine[:] = theirs


def _extent(shape: tuple[int, ...], strides: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    """The lowest and one past the highest byte a view of `shape` and `strides` reaches, from
    its start (shape without zeros)."""
    low = sum(min(0, (n - 1) * s) for n, s in zip(shape, strides))
    high = sum(max(0, (n - 1) * s) for n, s in zip(shape, strides)) + itemsize
    return low, high


def view_into(base: np.ndarray, like: np.ndarray, offset: Any, strides: Any) -> np.ndarray | None:
    """A view of `base` (C-contiguous) that starts `offset` bytes into it with `strides`, of
    `like`'s shape and dtype, holding `like`'s values; None when any byte of it would lie outside
    `base`, or its values are not `like`'s."""
    if type(offset) is not int or type(strides) is not list or len(strides) != like.ndim:
        return None
    if not all(type(s) is int for s in strides) or not base.flags.c_contiguous or like.size == 0:
        return None
    low, high = _extent(like.shape, tuple(strides), like.dtype.itemsize)
    if offset + low < 0 or offset + high > base.nbytes:
        return None
    view = np.ndarray(like.shape, like.dtype, buffer=base, offset=offset, strides=tuple(strides))
    return view if view.tobytes() == like.tobytes() else None


def rebuild(passed: list, value: Any, after: Any, facts: Any) -> Any:
    """The returned `value` (an array, or a tuple or list of them and other values) with the
    memory sharing the worker reported (`facts`) rebuilt between its arrays and the grader's
    arguments `passed`, after writing the arguments back (write_back)."""
    write_back(passed, after)
    single = type(value) not in (tuple, list)
    items = [value] if single else list(value)
    tried: set[int] = set()  # one view per returned array, whatever the worker sends
    for fact in facts[:FACTS_READ] if type(facts) is list else []:
        i = fact.get("returned") if type(fact) is dict else None
        if type(i) is not int or not 0 <= i < len(items) or i in tried:
            continue
        tried.add(i)
        mine, base = items[i], _base_of(fact, passed, items)
        if type(mine) is np.ndarray and base is not None:
            view = view_into(base, mine, fact.get("offset"), fact.get("strides"))
            items[i] = mine if view is None else view
    if single:
        return items[0]
    return type(value)(items)


def _base_of(fact: dict, passed: list, items: list) -> np.ndarray | None:
    """The grader's array a fact says a returned array shares memory with, or None."""
    for side, arrays in (("arg", passed), ("returned", items)):
        j = fact.get(side) if side == "arg" else fact.get("returned_of")
        if type(j) is int and 0 <= j < len(arrays) and type(arrays[j]) is np.ndarray:
            return arrays[j]
    return None


__all__ = ["Handle", "rebuild", "view_into", "write_back"]
