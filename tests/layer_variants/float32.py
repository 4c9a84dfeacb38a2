"""A float32 library made from a float64 one: impl/layers.py (or a variant of it) computing in float32.

    lib = in_float32(module)      # every function of the layer protocol, in float32

Each function takes its float64 array arguments rounded to float32 (float32 ones as they are,
so a float32 run's inputs reach the model solution unchanged) and rounds its float64 results to
float32: a forward's outputs (not its cache), a backward's grads, a loss's value and dx. The
model solution keeps the dtype of its inputs through every op (tests/test_layers_float32.py), so
it computes in float32 throughout and its arrays come out in float32 already; a variant that
promotes (an np.zeros without a dtype, say) still has its results rounded to float32 on the way
out, as a library that casts its results would.
"""

from __future__ import annotations

import types
from typing import Any, Callable

import numpy as np

from gradverify.references.layer_spec import LAYER_OPS

#: Every function of the layer protocol, and whether it is a forward (its last result is a cache).
FUNCTIONS: dict[str, bool] = {
    fn: fn == op.forward and not op.loss for op in LAYER_OPS.values() for fn in (op.forward, *op.backwards)
}


def _to32(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    if isinstance(value, (float, np.floating)):
        return np.float32(value)
    return value


def _wrap(function: Callable[..., Any], forward: bool) -> Callable[..., Any]:
    def float32(*args: Any) -> Any:
        result = function(*(_to32(a) if isinstance(a, np.ndarray) else a for a in args))
        if not isinstance(result, tuple):
            return _to32(result)
        *values, last = result
        return (*map(_to32, values), last if forward else _to32(last))

    float32.__name__ = function.__name__
    return float32


def in_float32(*modules: types.ModuleType) -> types.ModuleType:
    """One module with the layer functions `modules` define, each computing in float32."""
    lib = types.ModuleType("float32_layers")
    for module in modules:
        for name, forward in FUNCTIONS.items():
            function = getattr(module, name, None)
            if callable(function):
                setattr(lib, name, _wrap(function, forward))
    return lib
