"""How far inside the float32 tolerance rows the float32 model solution stays, per op and FD step.

For each op of the layer table, `--cases` cases drawn as verify draws them (sizes capped at 3)
are checked in float32 on the model solution made float32 (tests/layer_variants/float32.py).
For every comparison, the worst |got − expected| / (atol + rtol·|expected|) under the float32
rows: the references' against autodiff_float32, the finite differences' (at each `--steps`)
against finite_diff_float32. Below 1 passes; docs/layers.md quotes the worst of each.
The rows are set to zero while it runs, so that every comparison keeps its numbers.

    Run: .venv/bin/python -m benchmarks.float32_margins --steps 5e-3,1e-2,1e-3 --cases 40
"""

from __future__ import annotations

import argparse

import numpy as np
from hypothesis import HealthCheck, given, settings

from gradverify.impl import layers, rnn_layers
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_checks import FD, check_layer
from gradverify.properties.layer_strategies import layer_cases
from gradverify.properties.shared import Rejected
from gradverify.references import finite_diff
from gradverify.references.compare import TOLERANCES, Comparison, Tolerance
from gradverify.references.layer_spec import LAYER_OPS
from tests.layer_variants.float32 import in_float32

ROWS = ("autodiff_float32", "finite_diff_float32")


def _cases(op: str, n: int) -> list[LayerCase]:
    drawn: list[LayerCase] = []

    @settings(max_examples=n, database=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(layer_cases(LAYER_OPS[op], max_size=3, dtype="float32"))
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


def margins(op: str, cases: list[LayerCase], steps: list[float], rows: dict[str, Tolerance]) -> dict[str, float]:
    """{"references": worst ratio, "finite differences h=…": worst ratio per step} of one op."""
    lib, worst = in_float32(layers, rnn_layers), {}
    for h in steps:
        finite_diff.STEPS["float32"] = h
        for case in cases:
            try:
                comparisons = check_layer(lib, case)
            except Rejected:
                continue
            for c in comparisons:
                key = f"finite differences h={h:g}" if c.where.oracle == FD else "references"
                tol = rows["finite_diff_float32" if c.where.oracle == FD else "autodiff_float32"]
                worst[key] = max(worst.get(key, 0.0), _ratio(c, tol))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="5e-3,1e-2,1e-3", help="the float32 FD steps to try, comma-separated")
    parser.add_argument("--cases", type=int, default=40, help="cases per op")
    parser.add_argument("--ops", help="only these ops, comma-separated (default: every op of the table)")
    args = parser.parse_args()
    steps = [float(s) for s in args.steps.split(",")]
    rows, step = {name: TOLERANCES[name] for name in ROWS}, finite_diff.STEPS["float32"]
    overall: dict[str, float] = {}
    try:
        for name in ROWS:
            TOLERANCES[name] = Tolerance(rtol=0.0, atol=0.0)
        for op in args.ops.split(",") if args.ops else LAYER_OPS:
            found = margins(op, _cases(op, args.cases), steps, rows)
            print(f"{op:22s} " + "  ".join(f"{k} {v:.3f}" for k, v in found.items()), flush=True)
            overall = {k: max(overall.get(k, 0.0), v) for k, v in found.items()}
    finally:
        TOLERANCES.update(rows)
        finite_diff.STEPS["float32"] = step
    print("worst over every op: " + "  ".join(f"{k} {v:.3f}" for k, v in overall.items()))


if __name__ == "__main__":
    main()
