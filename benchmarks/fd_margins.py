"""How far inside their tolerance rows the layer checks' comparisons stay on the model solution,
per op, dtype and finite-difference step.

For each op of the layer table, `--cases` cases drawn as verify draws them (sizes capped at 3)
are checked in `--dtype` on the model solution (made float32 for float32: tests/layer_variants/
float32.py). For every comparison, the worst |got − expected| / (atol + rtol·|expected|) under
the dtype's rows: the references' against autodiff(_float32), the finite differences' (the
dtype's method, layer_checks.RICHARDSON, at each `--steps`) against finite_diff(_float32).
Below 1 passes; docs/layers.md quotes the worst of each. The rows are set to zero while it
runs, so that every comparison keeps its numbers.

    Run: .venv/bin/python -m benchmarks.fd_margins --dtype float32 --steps 5e-3,1e-2,1e-3 --cases 40
         .venv/bin/python -m benchmarks.fd_margins --dtype float64 --steps 1e-4,1e-5,1e-6 --cases 40
"""

from __future__ import annotations

import argparse

import numpy as np
from hypothesis import HealthCheck, given, settings

from gradverify import impl
from gradverify.impl import layers, rnn_layers
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_checks import FD, RICHARDSON, check_layer
from gradverify.properties.layer_strategies import layer_cases
from gradverify.properties.shared import Rejected
from gradverify.references import finite_diff
from gradverify.references.compare import TOLERANCES, Comparison, Tolerance, tolerance_for
from gradverify.references.layer_spec import LAYER_OPS
from tests.layer_variants.float32 import in_float32


def _cases(op: str, n: int, dtype: str) -> list[LayerCase]:
    drawn: list[LayerCase] = []

    @settings(max_examples=n, database=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(layer_cases(LAYER_OPS[op], max_size=3, dtype=dtype))
    def draw(case: LayerCase) -> None:
        drawn.append(case)

    draw()
    return drawn


def _ratio(c: Comparison, tol: Tolerance) -> float:
    """The worst error over its limit under `tol` (0 when it equals the expected value exactly)."""
    if c.values is None:
        return 0.0
    have, want = c.values
    return float(np.max(np.abs(have - want) / (tol.atol + tol.rtol * np.abs(want)), initial=0.0))


def _steps_table(dtype: str) -> dict[str, float]:
    """The step table the layer checks' finite differences read in `dtype`."""
    return finite_diff.STEPS if RICHARDSON[dtype] else finite_diff.CENTRAL_STEPS


def margins(op: str, cases: list[LayerCase], steps: list[float], rows: dict[str, Tolerance], dtype: str) -> dict[str, float]:
    """{"references": worst ratio, "finite differences h=…": worst ratio per step} of one op;
    `rows` the dtype's ("autodiff", "finite_diff") rows as they were."""
    lib = in_float32(layers, rnn_layers) if dtype == "float32" else impl
    table, worst = _steps_table(dtype), {}
    for h in steps:
        table[dtype] = h
        for case in cases:
            try:
                comparisons = check_layer(lib, case)
            except Rejected:
                continue
            for c in comparisons:
                key = f"finite differences h={h:g}" if c.where.oracle == FD else "references"
                worst[key] = max(worst.get(key, 0.0), _ratio(c, rows["finite_diff" if c.where.oracle == FD else "autodiff"]))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=sorted(RICHARDSON), help="the dtype checked")
    parser.add_argument("--steps", help="the FD steps to try, comma-separated (default: the dtype's own)")
    parser.add_argument("--cases", type=int, default=40, help="cases per op")
    parser.add_argument("--ops", help="only these ops, comma-separated (default: every op of the table)")
    args = parser.parse_args()
    table = _steps_table(args.dtype)
    step = table[args.dtype]
    steps = [float(s) for s in args.steps.split(",")] if args.steps else [step]
    names = {kind: tolerance_for(kind, args.dtype) for kind in ("autodiff", "finite_diff")}
    rows = {kind: TOLERANCES[name] for kind, name in names.items()}
    method = "Richardson" if RICHARDSON[args.dtype] else "central"
    print(f"{args.dtype}, {method} differences; rows {names['autodiff']}, {names['finite_diff']}")
    overall: dict[str, float] = {}
    try:
        for name in names.values():
            TOLERANCES[name] = Tolerance(rtol=0.0, atol=0.0)
        for op in args.ops.split(",") if args.ops else LAYER_OPS:
            found = margins(op, _cases(op, args.cases, args.dtype), steps, rows, args.dtype)
            print(f"{op:22s} " + "  ".join(f"{k} {v:.3f}" for k, v in found.items()), flush=True)
            overall = {k: max(overall.get(k, 0.0), v) for k, v in found.items()}
    finally:
        TOLERANCES.update({name: rows[kind] for kind, name in names.items()})
        table[args.dtype] = step
    print("worst over every op: " + "  ".join(f"{k} {v:.3f}" for k, v in overall.items()))


if __name__ == "__main__":
    main()
