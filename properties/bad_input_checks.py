"""The check that bad input is rejected with a ValueError naming the function, and input at the
edge of what is allowed accepted (the kinds of input: gradverify.properties.bad_inputs)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from gradverify.properties.calls import ImplFailure, call
from gradverify.references.compare import Cause, Comparison, Where, compare, failed, holds


def check_bad_input_catalogue(impl: ModuleType) -> list[Comparison]:
    """check_bad_input on every kind of input, once each."""
    from gradverify.properties.bad_inputs import INPUT_KINDS, BadInputCase

    return [c for kind in INPUT_KINDS for c in check_bad_input(impl, BadInputCase(kind, 0))]


def check_bad_input(impl: ModuleType, case: Any) -> list[Comparison]:
    """Bad input raises ValueError with a message starting with the function's name; input at
    the edge of what is allowed is accepted."""
    from gradverify.properties.bad_inputs import INPUT_KINDS

    kind = INPUT_KINDS[case.kind]
    args, kwargs = case.call()
    where = Where(function=kind.function, quantity=f"with {kind.description}")
    if not callable(getattr(impl, kind.function, None)):
        return [holds(where)]  # a missing function fails the checks that need it
    try:
        result = call(impl, kind.function, *args, **kwargs)
    except ImplFailure as exc:
        if exc.cause is Cause.NOT_IMPLEMENTED:  # missing, not wrong: the runner skips or reports it as such
            return [exc.comparison()]
        if kind.valid:
            return [failed(where, Cause.REJECTED_GOOD_INPUT, f"this input is allowed, but it {exc.message}")]
        if exc.cause is Cause.RAISED and exc.exception == "ValueError":
            if exc.detail.startswith(f"{kind.function}:"):
                return [holds(where)]
            return [failed(where, Cause.WRONG_ERROR, f"{exc.message} — the message must start with '{kind.function}:'")]
        return [failed(where, Cause.WRONG_ERROR, f"{exc.message} where a ValueError was expected")]
    if not kind.valid:
        return [failed(where, Cause.ACCEPTED_BAD_INPUT, "accepted it, where the protocol asks for a ValueError")]
    if kind.same_as is None:
        return [holds(where)]
    got = _leaves(result)
    plain_args, plain_kwargs = kind.same_as((args, kwargs))
    want = _leaves(call(impl, kind.function, *plain_args, **plain_kwargs))
    wrong = [leaf for leaf in got if isinstance(leaf, np.ndarray) and leaf.dtype != np.float64]
    if wrong:
        return [failed(where, Cause.NOT_NUMBERS, f"returned an array of dtype {wrong[0].dtype} where float64 was expected")]
    if len(got) != len(want) or any(np.shape(a) != np.shape(b) for a, b in zip(got, want)):
        return [failed(where, Cause.WRONG_FORM, "gave a result of another form than for the plain equivalent input")]
    flat = [
        np.concatenate([np.ravel(np.asarray(x, dtype=np.float64)) for x in leaves] or [np.zeros(0)]) for leaves in (got, want)
    ]
    return [compare(where.at(quantity=f"{where.quantity} vs the plain equivalent input"), flat[0], flat[1], "autodiff")]


def _leaves(value: Any) -> list:
    """The numbers and arrays in a result, in order (dict values by sorted key)."""
    if isinstance(value, dict):
        return [leaf for key in sorted(value, key=str) for leaf in _leaves(value[key]) if not isinstance(value[key], str)]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, (np.ndarray, float, int, np.floating, np.integer)) and not isinstance(value, bool):
        return [value]
    return []
