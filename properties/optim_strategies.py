"""Cases for the update rules: a small w, the gradients of a few consecutive steps, and a config.

optim_cases(OPTIMIZERS["adam"])   # shrinks to w of shape (1,), 3 steps, config=None (the defaults), seed 0
"""

from __future__ import annotations

from hypothesis import strategies as st

from gradverify.properties.optim_cases import OptimCase
from gradverify.references.optim_spec import Optimizer


@st.composite
def _case(draw: st.DrawFn, opt: Optimizer, max_side: int, min_steps: int, max_steps: int) -> OptimCase:
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=1, max_size=2)))
    steps = draw(st.integers(min_steps, max_steps))
    seed = draw(st.integers(0, 2**16))
    if draw(st.booleans()):
        config = {h.name: draw(st.sampled_from(h.choices)) for h in opt.hypers}
    else:
        config = None
    return OptimCase(opt.name, shape, steps, seed, config)


def optim_cases(opt: Optimizer, *, max_side: int = 3, min_steps: int = 3, max_steps: int = 5) -> st.SearchStrategy[OptimCase]:
    """Cases for `opt`: w of 1 or 2 dimensions of at most `max_side`, `min_steps`..`max_steps`
    N(0, 1) gradients, and either no config or a value drawn for every hyperparameter."""
    if not (1 <= max_side and 1 <= min_steps <= max_steps):
        raise ValueError(f"need 1 ≤ max_side and 1 ≤ min_steps ≤ max_steps, got {max_side}, {min_steps}, {max_steps}")
    return _case(opt, max_side, min_steps, max_steps)
