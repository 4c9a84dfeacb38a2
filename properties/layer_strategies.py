"""Hypothesis strategies for layer cases: consistent sizes per op, shrinking to the smallest.

A case draws each of its op's sizes in [low, high] (a `many` size as 1..many of them), each
hyperparameter from its choices and a seed; hypothesis shrinks sizes to their lows, choices to
the first (CS231n's defaults, train mode) and the seed to 0, so a failure ends at the smallest
case that still fails: `affine: x (1, 1), w (1, 1), b (1,); seed 0`. Draws whose derived sizes
do not exist (a conv whose windows do not tile the padded input) are filtered out.

Kink policy: arrays are continuous draws, so relu's x and svm_loss's margins are never exactly
at a kink; finite differences shrink their step until it stays on one side of each (an example
on a kink is rejected). The kinks themselves are pinned by exact tests.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from gradverify.properties.layer_cases import LayerCase
from gradverify.references.compare import check_dtype
from gradverify.references.layer_spec import LayerOp, Size

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def _size(size: Size, cap: int | None) -> st.SearchStrategy[Any]:
    high = size.high if cap is None else max(size.low, min(size.high, cap))
    one = st.integers(min_value=size.low, max_value=high)
    return st.lists(one, min_size=1, max_size=size.many).map(tuple) if size.many else one


def _tied(case: LayerCase, ties: dict[str, str]) -> LayerCase:
    """`case` with each tied size or hyperparameter set to the value of the one it equals."""
    values = {**dict(case.dims), **dict(case.hyper)}
    dims = tuple((name, values[ties[name]] if name in ties else value) for name, value in case.dims)
    hyper = tuple((name, values[ties[name]] if name in ties else value) for name, value in case.hyper)
    return replace(case, dims=dims, hyper=hyper)


def _defaulted(case: LayerCase) -> LayerCase:
    """`case` with each hyperparameter it leaves out of the dict set to its default."""
    defaults = {h.name: h.default for h in case.op.hypers if h.name in case.omitted}
    return replace(case, hyper=tuple((name, defaults.get(name, value)) for name, value in case.hyper)) if defaults else case


def layer_cases(
    op: LayerOp, *, max_size: int | None = None, dtype: str = "float64", limits: tuple[tuple[str, str, Any], ...] = ()
) -> st.SearchStrategy[LayerCase]:
    """Cases of `op` checked in `dtype` ("float64" or "float32"); `max_size` caps every size
    (never below its low); each key of op.omittable left out of the parameter dict or not.
    `limits`, the cases an adapter maps (properties/scope.py Limit): a hyperparameter drawn only
    from the values it allows, a size or hyperparameter tied to another set equal to it (a draw
    where that value is outside its own range is discarded)."""
    if max_size is not None and (not isinstance(max_size, int) or max_size < 1):
        raise ValueError(f"max_size must be an integer >= 1, got {max_size!r}")
    check_dtype(dtype)
    mine = [limit for limit in limits if limit[0] == op.name]
    ties = {name: allowed for _, name, allowed in mine if isinstance(allowed, str)}
    allowed = {name: values for _, name, values in mine if not isinstance(values, str)}
    choices = {h.name: tuple(v for v in h.choices if v in allowed.get(h.name, h.choices)) for h in op.hypers}
    if not all(choices.values()):
        raise ValueError(f"{op.name}: the limits {mine} leave a hyperparameter no value")
    dims = st.tuples(*(st.tuples(st.just(s.name), _size(s, max_size)) for s in op.sizes))
    hyper = st.tuples(*(st.tuples(st.just(h.name), st.sampled_from(choices[h.name])) for h in op.hypers))
    # each key with a default is left out of the dict half the time (shrinking: kept), where the
    # limits allow its default
    defaults = {h.name: h.default for h in op.hypers}
    keys = [k for k in op.omittable if k not in choices or defaults[k] in choices[k]]
    omitted = st.tuples(*(st.booleans() for _ in keys)).map(lambda left: tuple(k for k, out in zip(keys, left) if out))
    cases = st.builds(LayerCase, st.just(op), dims, hyper, SEEDS, st.just(dtype), omitted).map(_defaulted)
    if ties:
        ranges = {s.name: (s.low, s.high if max_size is None else max(s.low, min(s.high, max_size))) for s in op.sizes}

        def inside(case: LayerCase) -> bool:
            values = {**dict(case.dims), **dict(case.hyper)}
            return all(
                ranges[name][0] <= values[name] <= ranges[name][1] if name in ranges else values[name] in choices[name]
                for name in ties
            )

        cases = cases.map(lambda case: _tied(case, ties)).filter(inside)
    return cases.filter(lambda case: case.consistent) if op.derived else cases
