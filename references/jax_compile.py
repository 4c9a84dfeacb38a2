"""How the JAX references are compiled: `jit`, jax.jit with XLA's cheap compilation options.

    from .jax_compile import jit
    _dense_forward = jit(_dense)

Every reference call is a few numbers to a few thousand, and the suite draws new shapes (the layer
ops: nearly every case) or new buckets (the networks) all the time, so compiling costs far more
than running. Every reference compiles with FASTEST_COMPILE (one layer case in ~30 ms (conv) to
~110 ms (lstm_step) of CPU instead of ~230 to ~400 ms with XLA's defaults) but the networks wider
than the default buckets, whose code runs on many thousands of numbers: FAST_COMPILE
(jax_backend._by_size). `verify --profile ci`'s MLP checks: ~11 s of CPU instead of ~16 s
(benchmarks/bench.py, part 6; docs/layers.md, "Speed"). The arithmetic is the same float64
computation: the options change how XLA generates code, not what it computes.
"""

from __future__ import annotations

from typing import Any, Callable

import jax

#: XLA's compile options for gradverify's own jits (a user's JAX code in the same process keeps its
#: own settings). FAST_COMPILE turns off the CPU fusion emitters: a compilation takes ~2.5× less
#: CPU, and the code runs as fast (the benchmarks' large network: 21.6 ms a check instead of 22.1).
FAST_COMPILE: dict[str, Any] = {"xla_cpu_use_fusion_emitters": False}
#: FASTEST_COMPILE turns off LLVM's optimisations as well: ~5× less CPU than XLA's defaults, but the
#: code runs slower on big arrays (the large network's batched check: 41 ms instead of 23), which
#: a layer case or a network of the default buckets never feels.
FASTEST_COMPILE: dict[str, Any] = {**FAST_COMPILE, "xla_backend_optimization_level": 0}


def jit(fun: Callable[..., Any], *, options: dict[str, Any] = FASTEST_COMPILE, **kwargs: Any) -> Any:
    """jax.jit(fun, **kwargs) compiled with XLA's `options`."""
    return jax.jit(fun, compiler_options=options, **kwargs)
