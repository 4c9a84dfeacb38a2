"""`make bench`'s section 6: the layer checks, per case against torch.autograd.gradcheck and
`gradverify verify --profile ci` cold and warm (benchmarks/bench.py runs and reports it).

Per case, check_layer on conv, batchnorm and lstm (warm; taking turns with gradcheck fast mode,
the least of 5 rounds' medians) beside torch.autograd.gradcheck's fast and default modes on the
same op, shapes and values, and where check_layer's time goes; and `gradverify verify --profile
ci` cold (JAX's compilation cache off) and warm (the cache filled by an untimed run), medians of
several runs, each against its target (issue 24), with the machine's load averages around the runs.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


#: The layer cases timed: each op at sizes the ci profile draws (every size ≤ 3), CS231n's defaults.
LAYER_CASES: dict[str, tuple[dict[str, int], dict[str, object]]] = {
    "conv": ({"N": 2, "C": 2, "F": 2, "H": 3, "W": 3, "HH": 2, "WW": 2}, {"stride": 1, "pad": 1}),
    "batchnorm": ({"N": 3, "D": 3}, {"mode": "train", "eps": 1e-5, "momentum": 0.9}),
    "lstm": ({"N": 2, "T": 3, "D": 3, "H": 3}, {}),
}
#: Issue 24's targets: verify --profile ci's wall time cold and with JAX's compilation cache warm
#: (seconds), and check_layer's time per case at most gradcheck fast mode's.
LAYER_TARGETS = {"verify_cold_s": 30.0, "verify_warm_s": 20.0}
#: Runs of verify --profile ci in each state (cold, warm) in the full run; the tiny run makes one.
LAYER_VERIFY_RUNS = 3


def _median_ms(fn, calls: int) -> float:
    """The median of `calls` timed calls of fn, in ms, after one untimed (warm-up) call."""
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _interleaved_ms(fns: dict, calls: int, rounds: int = 5) -> dict[str, float]:
    """Each of `fns`'s time per call, ms: the least, over `rounds` rounds, of the median of
    calls // rounds timed calls (at least 3), the functions taking turns round by round after one
    untimed call each. A slow spell of a shared machine then falls on all of them alike, and the
    least of the rounds is the least disturbed one (timeit's advice)."""
    for fn in fns.values():
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], _median_ms(fn, max(3, calls // rounds)))
    return best


def layer_case(name: str):
    """The LayerCase of LAYER_CASES[name], seed 0."""
    from gradverify.properties.layer_cases import LayerCase
    from gradverify.references.layer_spec import LAYER_OPS

    op, (dims, hyper) = LAYER_OPS[name], LAYER_CASES[name]
    return LayerCase(op, tuple(dims.items()), tuple((h.name, hyper[h.name]) for h in op.hypers), 0)


def _torch_function(case):
    """(the op's torch reference as a function of its differentiable args, its output only; those
    args as float64 tensors that require grad): what gradcheck checks, at the case's values."""
    import torch

    from gradverify.references.layer_spec import resolve, split

    op, arrays = case.op, case.arrays()
    names = [arg.name for arg in op.differentiable]
    fixed = {k: torch.tensor(v) for k, v in arrays.items() if k not in names}
    ref = resolve(op.torch)

    def fn(*values):
        return split(op, ref({**fixed, **dict(zip(names, values))}, case.hypers))[0]

    return fn, tuple(torch.tensor(arrays[k], dtype=torch.float64, requires_grad=True) for k in names)


def _layer_stages(case, calls: int) -> dict:
    """Where check_layer's time goes on `case`, ms each (median of `calls`): the impl's forward
    (one call) and each backward, the two references, and the finite differences of the impl's
    own forward (every call they make)."""
    from gradverify import impl
    from gradverify.properties import layer_checks
    from gradverify.references import layer_jax, layer_torch
    from gradverify.references.layer_spec import shape_of

    op, arrays, hyper = case.op, case.arrays(), case.hypers
    douts = tuple(case.cotangent(shape_of(tokens, case.sizes), i) for i, (_, tokens) in enumerate(op.outputs))
    dout = douts if len(douts) > 1 else douts[0]
    cache = layer_checks.call_forward(impl, op, arrays, hyper)[1]
    stages = {"impl forward": _median_ms(lambda: layer_checks.call_forward(impl, op, arrays, hyper), calls)}
    for function in op.backwards:
        if callable(getattr(impl, function, None)):
            stages[f"impl {function}"] = _median_ms(lambda f=function: getattr(impl, f)(*douts, cache), calls)
    stages["jax forward + vjp"] = _median_ms(lambda: layer_jax.evaluate(op, arrays, hyper, dout), calls)
    stages["torch forward + autograd"] = _median_ms(lambda: layer_torch.evaluate(op, arrays, hyper, dout), calls)
    stages["finite differences (impl forward)"] = _median_ms(
        lambda: layer_checks.OwnDifferences(impl, case, arrays, douts), calls
    )
    return stages


def layer_per_case(calls: int) -> dict:
    """Per LAYER_CASES op: check_layer's time per case (warm: after a call that compiled its JAX
    reference) and gradcheck's in fast mode on the op's torch reference at the same values,
    taking turns over 5 rounds of calls // 5 (_interleaved_ms); gradcheck's default mode, the
    median of calls // 10 (at least 3); and check_layer's stages."""
    return {name: _layer_row(layer_case(name), calls) for name in LAYER_CASES}


def _layer_row(case, calls: int) -> dict:
    """layer_per_case's row for one case."""
    import torch

    from gradverify import impl
    from gradverify.properties.layer_checks import check_layer

    bad = [c.describe() for c in check_layer(impl, case) if not c.ok]
    assert not bad, bad
    fn, inputs = _torch_function(case)
    timed = _interleaved_ms(
        {"ours": lambda: check_layer(impl, case), "fast": lambda: torch.autograd.gradcheck(fn, inputs, fast_mode=True)}, calls
    )
    ours, fast = timed["ours"], timed["fast"]
    slow = _median_ms(lambda: torch.autograd.gradcheck(fn, inputs, fast_mode=False), max(3, calls // 10))
    return {
        "case": case.describe(),
        "calls": calls,
        "check_layer_ms": ours,
        "gradcheck_fast_ms": fast,
        "gradcheck_default_ms": slow,
        "vs_gradcheck_fast": fast / ours,
        "met": ours <= fast,
        "stages_ms": _layer_stages(case, calls),
    }


def layer_verify(tiny: bool, runs: int, folder: Path) -> dict:
    """`gradverify verify --profile ci` (no report) `runs` times cold (GRADVERIFY_JAX_CACHE=off)
    and `runs` times warm (a JAX cache folder of its own, filled by one untimed run first), each a
    fresh process; the medians against LAYER_TARGETS, and the load averages (1, 5, 15 minutes)
    before and after. Tiny: conv's property alone on a budget of 5."""
    gradverify = str(Path(sys.executable).with_name("gradverify"))
    only = ["--property", "layer_conv_matches_references", "--budget", "5"] if tiny else []
    command = [gradverify, "verify", "--profile", "ci", "--no-save", "--quiet", *only]
    states = {
        "cold": {**os.environ, "GRADVERIFY_JAX_CACHE": "off"},
        "warm": {**os.environ, "GRADVERIFY_JAX_CACHE": str(folder / "jax")},
    }
    from benchmarks.commands import run

    load_before = os.getloadavg()
    run(command, states["warm"])  # untimed: fills the warm runs' cache
    out: dict = {"command": " ".join(command).replace(str(ROOT) + "/", ""), "runs_each": runs}
    for state, env in states.items():
        rows = [run(command, env) for _ in range(runs)]
        if any(row["exit_code"] != 0 for row in rows):
            print(f"bench: verify --profile ci ({state}) exited {[row['exit_code'] for row in rows]}", file=sys.stderr)
        median = statistics.median(row["wall_s"] for row in rows)
        target = LAYER_TARGETS[f"verify_{state}_s"]
        out[state] = {
            "wall_s": [row["wall_s"] for row in rows],
            "cpu_s": [row["cpu_s"] for row in rows],
            "median_wall_s": median,
            "median_cpu_s": statistics.median(row["cpu_s"] for row in rows),
            "exit_codes": [row["exit_code"] for row in rows],
            "target_s": target,
            "met": median <= target,
        }
    out["load_before"], out["load_after"] = list(load_before), list(os.getloadavg())
    return out


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _layer_summary(data: dict) -> list[str]:
    """The summary's rows of part 6 (none for a benchmarks.json from before it was measured)."""
    if "layers" not in data:
        return []
    verify, cases = data["layers"]["verify"], data["layers"]["per_case"]
    rows = [
        f"| `gradverify verify --profile ci` (MLP and layer ops), {state}, wall, median of {verify['runs_each']} | "
        f"{verify[state]['median_wall_s']:.1f} s ({_met(verify[state]['met'])}) | ≤ {verify[state]['target_s']:g} s |"
        for state in ("cold", "warm")
    ]
    return rows + [
        "| check_layer per case vs gradcheck fast mode, same op and shapes: "
        + ", ".join(cases)
        + " | "
        + ", ".join(
            f"{row['check_layer_ms']:.2f} / {row['gradcheck_fast_ms']:.2f} ms ({_met(row['met'])})" for row in cases.values()
        )
        + " | ≤ gradcheck fast |"
    ]


def _layer_section(data: dict) -> list[str]:
    """Section 6: the layer checks per case against gradcheck, their stages, and verify cold and warm."""
    if "layers" not in data:
        return []
    verify, cases = data["layers"]["verify"], data["layers"]["per_case"]
    load = lambda avg: " / ".join(f"{v:.2f}" for v in avg)  # noqa: E731
    lines = [
        "",
        "## 6. The layer checks",
        "",
        "Per case: `gradverify.properties.layer_checks.check_layer` on the bundled impl (its forward and backward, "
        "JAX forward + vjp, torch forward + autograd, the finite differences of the impl's own forward, the form, "
        "alias and unmodified checks), warm (its JAX reference compiled by an untimed call), beside "
        "`torch.autograd.gradcheck` on the op's torch reference as a function of its differentiable args at the same "
        "values, fast mode and default mode. check_layer and gradcheck fast take turns over 5 rounds, each the median "
        "of a fifth of the calls, and the least round of each is given (a slow spell of the shared machine falls on "
        "both alike); gradcheck default: the median of a tenth of the calls. Target: check_layer at most gradcheck's "
        "fast mode.",
        "",
        "| op, case | check_layer (ms) | gradcheck fast (ms) | gradcheck default (ms) | fast / ours | target |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in cases.items():
        lines.append(
            f"| {name}: `{row['case']}` | {row['check_layer_ms']:.2f} | {row['gradcheck_fast_ms']:.2f} | "
            f"{row['gradcheck_default_ms']:.2f} | {row['vs_gradcheck_fast']:.2f}× | {_met(row['met'])} |"
        )
    columns = sorted({k for row in cases.values() for k in row["stages_ms"]}, key=_stage_order)
    lines += [
        "",
        "Where check_layer's time goes (ms, medians; the rest is the comparisons, the form, alias and unmodified checks "
        "and the copies):",
        "",
        "| op | " + " | ".join(columns) + " | the rest |",
        "|---|" + "---|" * (len(columns) + 1),
    ]
    for name, row in cases.items():
        cells = [f"{row['stages_ms'][k]:.3f}" if k in row["stages_ms"] else "—" for k in columns]
        rest = row["check_layer_ms"] - sum(row["stages_ms"].values())
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {rest:.3f} |")
    lines += [
        "",
        f"`{verify['command']}`, each run a fresh process: cold with JAX's persistent compilation cache off "
        "(`GRADVERIFY_JAX_CACHE=off`), warm with a cache folder of its own filled by one untimed run. "
        f"Load averages (1, 5, 15 min) before: {load(verify['load_before'])}, after: {load(verify['load_after'])} "
        f"({os.cpu_count()} cores; other work on the machine slows every wall time).",
        "",
        "| state | wall, median | wall, runs | CPU, median | target |",
        "|---|---|---|---|---|",
    ]
    from benchmarks.bench import _seconds

    for state in ("cold", "warm"):
        v = verify[state]
        lines.append(
            f"| {state} | {v['median_wall_s']:.1f} s | {_seconds(v['wall_s'])} | {v['median_cpu_s']:.1f} s | "
            f"≤ {v['target_s']:g} s: {_met(v['met'])} |"
        )
    return lines


def _stage_order(stage: str) -> tuple[int, str]:
    order = ("impl forward", "impl ", "jax", "torch", "finite")
    return next((i for i, prefix in enumerate(order) if stage.startswith(prefix)), len(order)), stage


def _layers(tiny: bool) -> dict:
    """Part 6's verify runs (layer_verify), in a temporary folder of their own."""
    with tempfile.TemporaryDirectory() as tmp:
        return {"verify": layer_verify(tiny, 1 if tiny else LAYER_VERIFY_RUNS, Path(tmp))}
