"""How the JAX references are compiled: `jit`, jax.jit with XLA's cheap compilation options.

    from .jax_compile import jit
    _dense_forward = jit(_dense)

Every reference call is a few numbers to a few thousand, and the suite draws new shapes (the layer
ops: nearly every case) or new buckets (the networks) all the time, so compiling costs far more
than running. COMPILER_OPTIONS turn off XLA's CPU fusion emitters and LLVM's optimisations: one
layer case compiles in ~30 ms (conv) to ~110 ms (lstm_step) of CPU instead of ~230 to ~400 ms,
and `verify --profile ci`'s MLP checks take ~11 s of CPU instead of ~16 s (benchmarks/bench.py,
"Layer checks"; docs/layers.md, "Speed"). The arithmetic is the same float64 computation: the
options change how XLA generates code, not what it computes.
"""

from __future__ import annotations

from typing import Any, Callable

import jax

#: XLA's compile options for every reference gradverify compiles (its own jits only: a user's JAX
#: code in the same process keeps its own settings).
COMPILER_OPTIONS: dict[str, Any] = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}


def jit(fun: Callable[..., Any], **kwargs: Any) -> Any:
    """jax.jit(fun, **kwargs) compiled with COMPILER_OPTIONS."""
    return jax.jit(fun, compiler_options=COMPILER_OPTIONS, **kwargs)
