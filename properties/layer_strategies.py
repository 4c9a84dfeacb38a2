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


def layer_cases(op: LayerOp, *, max_size: int | None = None, dtype: str = "float64") -> st.SearchStrategy[LayerCase]:
    """Cases of `op` checked in `dtype` ("float64" or "float32"); `max_size` caps every size
    (never below its low)."""
    if max_size is not None and (not isinstance(max_size, int) or max_size < 1):
        raise ValueError(f"max_size must be an integer >= 1, got {max_size!r}")
    check_dtype(dtype)
    dims = st.tuples(*(st.tuples(st.just(s.name), _size(s, max_size)) for s in op.sizes))
    hyper = st.tuples(*(st.tuples(st.just(h.name), st.sampled_from(h.choices)) for h in op.hypers))
    cases = st.builds(LayerCase, st.just(op), dims, hyper, SEEDS, st.just(dtype))
    return cases.filter(lambda case: case.consistent) if op.derived else cases
