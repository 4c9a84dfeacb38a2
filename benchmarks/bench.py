"""`make bench`: how fast the suite checks, against the tools people use today.

Measures, in one run, and writes reports/benchmarks.md and reports/benchmarks.json:
  1. three-way-checked network examples per second on the ci profile's distribution of
     architectures, and where the time goes;
  2. per case, on identical networks and data: our three-way check vs
     torch.autograd.gradcheck (slow and fast mode) vs jax.test_util.check_grads;
  3. the wall time of `gradverify verify --profile ci` from a cold start (imports and
     JAX compilation included), of grading one submission, and of the example project's
     pytest run (docs/example_project: the same checks as pytest items) with -n 1 and -n 2;
  4. the peak memory (max RSS) of each.

    .venv/bin/python -m benchmarks.bench            # the full run
    .venv/bin/python -m benchmarks.bench --tiny     # a smoke run (tests)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = {
    "small": ((2, 4, 1), 1),
    "medium": ((8, 16, 16, 4), 8),
    "large": ((64, 128, 128, 10), 32),
}


# --------------------------------------------------------------------------- 1. throughput


def throughput(examples: int, seed: int = 0) -> dict:
    """Run network_gradients_match_references under hypothesis (ci profile) with every stage timed."""
    import impl
    from gradverify import cases as examples_module
    from gradverify import checks, runner
    from gradverify.references import compare as compare_module
    from gradverify.references import jax_backend, torch_backend

    stages = {"generate arrays": 0.0, "impl": 0.0, "jax": 0.0, "torch": 0.0, "compare": 0.0}

    def timed(stage, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stages[stage] += time.perf_counter() - start
        return wrapper

    patches = [
        (checks, "materialize", timed("generate arrays", examples_module.materialize)),
        (checks, "compare", timed("compare", compare_module.compare)),
        (jax_backend, "network_gradients_many", timed("jax", jax_backend.network_gradients_many)),
        (torch_backend, "network_gradients_many", timed("torch", torch_backend.network_gradients_many)),
    ]
    target = type("Timed", (), {"network_gradients": staticmethod(timed("impl", impl.network_gradients))})
    originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
    prop = checks.PROPERTIES["network_gradients_match_references"]
    profile = runner.PROFILES["ci"]
    # Warm-up: compile the JAX kernels of every loss once (a cold start is measured in part 3).
    jax_backend.warm_up()
    runner.run_property(prop, impl, profile=profile, seed=seed + 1, entries=[], budget=20)
    for module, name, wrapper in patches:
        setattr(module, name, wrapper)
    try:
        start = time.perf_counter()
        result, _ = runner.run_property(prop, target, profile=profile, seed=seed, entries=[], budget=examples)
        total = time.perf_counter() - start
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    assert result.passed, result.failure
    from gradverify import report

    run = runner.VerifyResult("impl", "ci", seed, examples, "", total, [result])
    start = time.perf_counter()
    report.render_markdown(run)
    stages["reporting (once)"] = time.perf_counter() - start
    stages["hypothesis and the rest"] = total - sum(v for k, v in stages.items() if k != "reporting (once)")
    checked = result.examples * prop.data_sets
    return {
        "architectures": result.examples,
        "data_sets_per_architecture": prop.data_sets,
        "examples": checked,
        "seconds": total,
        "examples_per_second": checked / total,
        "stages_s": stages,
    }


# --------------------------------------------------------------------------- 2. per case


def _case(sizes: tuple[int, ...], batch: int, seed: int = 0):
    from gradverify.cases import Architecture, Example, materialize

    arch = Architecture(sizes, ("tanh",) * (len(sizes) - 2) + ("identity",), "mse", 0.0, batch)
    return materialize(Example(arch, seed))


def _per_call(fn, min_seconds: float, max_calls: int = 10_000) -> float:
    fn()  # warm
    calls, start = 0, time.perf_counter()
    while calls < max_calls and (calls == 0 or time.perf_counter() - start < min_seconds):
        fn()
        calls += 1
    return (time.perf_counter() - start) / calls


def per_case(min_seconds: float, names: tuple[str, ...] = tuple(NETWORKS)) -> dict:
    """Seconds per checked case for each tool on the same network and data."""
    import jax
    import jax.numpy as jnp
    import torch
    from jax.test_util import check_grads

    import impl
    from gradverify.checks import DATA_SETS, check_network_gradients
    from gradverify.cases import Architecture, Example
    from gradverify.references import jax_backend, torch_backend
    from gradverify.references.compare import compare

    out = {}
    for name in names:
        sizes, batch = NETWORKS[name]
        net, X, Y = _case(sizes, batch)
        example = Example(Architecture(sizes, tuple(l["activation"] for l in net["layers"]), "mse", 0.0, batch), 0)
        def one_case():
            """One network and data set, three ways: impl vs JAX vs PyTorch, every gradient."""
            got, j, t = (m.network_gradients(net, X, Y) for m in (impl, jax_backend, torch_backend))
            flat = [np.concatenate([[v]] + [g[k].ravel() for g in gs for k in ("W", "b")]) for v, gs in (got, j, t)]
            assert compare("jax", flat[0], flat[1]).ok and compare("torch", flat[0], flat[2]).ok
            assert compare("jax vs torch", flat[1], flat[2]).ok

        ours = _per_call(one_case, min_seconds)
        batched = _per_call(lambda: check_network_gradients(impl, example), min_seconds) / DATA_SETS

        params = [torch.tensor(l[k], dtype=torch.float64, requires_grad=True) for l in net["layers"] for k in ("W", "b")]
        Xt, Yt = torch.tensor(X), torch.tensor(Y)

        def torch_loss(*flat):
            h = Xt
            for i, (W, b) in enumerate(zip(flat[0::2], flat[1::2])):
                h = h @ W.T + b
                h = torch.tanh(h) if i < len(flat) // 2 - 1 else h
            return ((h - Yt) ** 2).mean()

        slow = _per_call(lambda: torch.autograd.gradcheck(torch_loss, params, fast_mode=False), min_seconds, 50)
        fast = _per_call(lambda: torch.autograd.gradcheck(torch_loss, params, fast_mode=True), min_seconds, 500)

        jparams = [jnp.asarray(l[k]) for l in net["layers"] for k in ("W", "b")]

        def jax_loss(*flat):
            h = X
            for i, (W, b) in enumerate(zip(flat[0::2], flat[1::2])):
                h = h @ W.T + b
                h = jnp.tanh(h) if i < len(flat) // 2 - 1 else h
            return jnp.mean((h - Y) ** 2)

        jax_check = _per_call(lambda: check_grads(jax_loss, jparams, order=1, modes=["rev"]), min_seconds, 50)
        n_params = sum(l["W"].size + l["b"].size for l in net["layers"])
        out[name] = {
            "network": f"{'-'.join(map(str, sizes))}, batch {batch}, tanh, mse",
            "parameters": n_params,
            "ours_three_way_ms": ours * 1e3,
            "ours_batched_per_case_ms": batched * 1e3,
            "gradcheck_slow_ms": slow * 1e3,
            "gradcheck_fast_ms": fast * 1e3,
            "jax_check_grads_ms": jax_check * 1e3,
            "speedup_vs_gradcheck_slow": slow / ours,
            "speedup_vs_gradcheck_fast": fast / ours,
            "speedup_vs_jax_check_grads": jax_check / ours,
        }
    jax.clear_caches()
    return out


# --------------------------------------------------------------------------- 3, 4. commands


def _run(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> dict:
    """Wall time, exit code and peak RSS (MiB) of a command in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"command": " ".join(command), "wall_s": wall, "exit_code": proc.returncode, "peak_rss_mb": usage.ru_maxrss / 1024}


def commands(tiny: bool) -> dict:
    gradverify = str(Path(sys.executable).with_name("gradverify"))
    cold = {**os.environ, "GRADVERIFY_JAX_CACHE": "off"}
    with tempfile.TemporaryDirectory() as tmp:
        budget = ["--budget", "5", "--property", "dense_matches_references"] if tiny else []
        verify = _run([gradverify, "verify", "--profile", "ci", "--no-save", "--quiet", *budget], cold)
        rubric = []
        if tiny:
            small = Path(tmp) / "rubric.toml"
            small.write_text('examples = 3\n[[items]]\nname = "s"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 1\n')
            rubric = ["--rubric", str(small)]
        grade = _run([gradverify, "grade", str(ROOT / "impl" / "backprop.py"), "--quiet",
                      "--results-json", str(Path(tmp) / "r.json"), *rubric], cold)
        pytest_runs = example_pytest(Path(tmp), tiny, cold)
    return {"verify_ci_cold": verify, "grade_one_cold": grade, **pytest_runs}


def example_pytest(folder: Path, tiny: bool, env: dict) -> dict:
    """pytest on a copy of docs/example_project (its pyproject sets [tool.gradverify] impl and the
    ci profile), only gradverify's checks, with pytest-xdist's -n 1 and -n 2: each worker pays
    the imports and JAX's compilation. Tiny: one fixed check."""
    project = folder / "example_project"
    shutil.copytree(ROOT / "docs" / "example_project", project, ignore=shutil.ignore_patterns(".gradverify", "__pycache__"))
    select = ["-k", "kink_subgradients"] if tiny else []
    rows = {}
    for workers in (1, 2):
        shutil.rmtree(project / ".gradverify", ignore_errors=True)  # no corpus replayed: each run searches
        rows[f"pytest_example_n{workers}_cold"] = _run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers), "-m", "gradverify", *select],
            env, cwd=project)
    return rows


def _in_subprocess(part: str, args: list[str]) -> tuple[dict, float]:
    """Run one part of this module in a fresh process: (its JSON, its peak RSS in MiB)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench", "--part", part, "--json", out.name, *args],
                                cwd=ROOT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"benchmark part {part!r} failed")
        return json.loads(Path(out.name).read_text()), usage.ru_maxrss / 1024


# --------------------------------------------------------------------------- the report


def chart(data: dict):
    """The benchmarks' picture (gradverify.plots): per-case time against gradcheck and check_grads,
    and where the throughput run's time goes."""
    from gradverify import plots

    return plots.Picture(
        "chart", f"Bar charts: milliseconds per checked case for ours, gradcheck (slow, fast) and check_grads on each "
        f"network, log scale; and the throughput run's {data['examples_per_second']:.0f} examples/s split by stage "
        "(the numbers are in the tables below)",
        lambda: plots.benchmark_chart(data["per_case"], data["examples_per_second"], data["throughput"]["stages_s"]))


def write(out: Path, data: dict, *, pictures: bool = True) -> str:
    """benchmarks.json, then benchmarks.md with its chart beside it (benchmarks.chart.svg; a chart
    that cannot be drawn is said on stderr and left out). Returns the Markdown."""
    from gradverify import plots
    from gradverify.files import write_atomic

    write_atomic(out / "benchmarks.json", json.dumps(data, indent=2) + "\n")
    drawn = plots.draw([chart(data)], out / "benchmarks.md") if pictures else {}
    markdown = render(data, drawn)
    plots.write_report(out / "benchmarks.md", markdown, drawn)
    return markdown


def render(data: dict, drawn: dict | None = None) -> str:
    """benchmarks.md; `drawn`: its chart, drawn by gradverify.plots (linked under the summary)."""
    t = data["throughput"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {data['date']} on {data['machine']} (`{data['command']}`).",
        "",
        "## Summary",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| three-way-checked network examples per second (ci distribution) | {data['examples_per_second']:.0f} | ≥ 300 |",
        f"| speed-up vs torch.autograd.gradcheck slow mode, medium network | {data['speedup_vs_gradcheck_slow']:.0f}× | ≥ 20× |",
        f"| `gradverify verify --profile ci`, cold start, wall | {data['ci_verify_wall_s']:.1f} s | < 60 s |",
        f"| `gradverify grade` one submission, cold start, wall | {data['grade_wall_s']:.1f} s | ≤ 15 s |",
        f"| the example project's `pytest -m gradverify` (ci profile), cold, wall: `-n 2` / `-n 1` | "
        f"{data['pytest_n2_wall_s']:.1f} s / {data['pytest_n1_wall_s']:.1f} s | `-n 2` faster |",
        f"| peak RSS, the largest of the runs below | {data['peak_rss_mb']:.0f} MiB | — |",
        "",
        *([drawn["chart"].markdown(), ""] if drawn and "chart" in drawn else []),
        "## 1. Throughput and where the time goes",
        "",
        f"`network_gradients_match_references` under hypothesis, ci profile: {t['architectures']} architectures drawn "
        f"from the ci distribution, {t['data_sets_per_architecture']} data sets (weights, X, Y) each, so {t['examples']} "
        f"network examples, after a warm-up that compiled the JAX kernels: {t['seconds']:.2f} s, "
        f"**{t['examples_per_second']:.0f} examples/s**; peak RSS {data['peak_rss_mb_by_part']['throughput']:.0f} MiB. "
        "Every example is checked against JAX and PyTorch (the loss and every gradient), and the two references "
        "against each other; the references compute an architecture's data sets in one batched call.",
        "",
        "| stage | seconds | share |",
        "|---|---|---|",
    ]
    for stage, seconds in t["stages_s"].items():
        lines.append(f"| {stage} | {seconds:.3f} | {100 * seconds / t['seconds']:.0f}% |")
    lines += [
        "",
        "## 2. Per checked case, against gradcheck and check_grads",
        "",
        "Identical network and data (tanh hidden layers, identity output, mse, float64). Ours: one three-way check "
        "of that one case (impl vs JAX vs PyTorch, every gradient compared; the ratios use this). Ours in a batch: "
        "the network property's cost per case when it checks 8 data sets of an architecture at once. gradcheck: `torch.autograd.gradcheck` on the loss as a "
        "function of all parameters (slow mode: a full finite-difference Jacobian; fast mode: one random projection). "
        "check_grads: `jax.test_util.check_grads(order=1, modes=['rev'])`.",
        "",
        "| network | parameters | ours (ms) | ours in a batch (ms) | gradcheck slow (ms) | gradcheck fast (ms) | check_grads (ms) | vs slow | vs fast | vs check_grads |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in data["per_case"].items():
        lines.append(
            f"| {name}: {row['network']} | {row['parameters']} | {row['ours_three_way_ms']:.2f} | {row['ours_batched_per_case_ms']:.2f} | {row['gradcheck_slow_ms']:.1f} | "
            f"{row['gradcheck_fast_ms']:.2f} | {row['jax_check_grads_ms']:.2f} | {row['speedup_vs_gradcheck_slow']:.0f}× | "
            f"{row['speedup_vs_gradcheck_fast']:.1f}× | {row['speedup_vs_jax_check_grads']:.1f}× |"
        )
    lines += ["", "## 3, 4. Commands from a cold start", "",
              "Fresh processes, JAX's persistent compilation cache off (`GRADVERIFY_JAX_CACHE=off`), imports included. "
              "The pytest runs are in a copy of `docs/example_project`, whose pyproject configures the gradverify plugin "
              "(ci profile): only its checks (`-m gradverify`), on one and on two pytest-xdist workers. "
              "Peak RSS is the largest single process's.", "",
              "| command | wall | exit | peak RSS |", "|---|---|---|---|"]
    for row in data["commands"].values():
        lines.append(f"| `{row['command'].replace(str(ROOT) + '/', '')}` | {row['wall_s']:.1f} s | {row['exit_code']} | {row['peak_rss_mb']:.0f} MiB |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a smoke run on a tiny budget")
    parser.add_argument("--out", default=str(ROOT / "reports"), help="folder for benchmarks.md and benchmarks.json")
    parser.add_argument("--part", choices=["throughput", "per_case"], help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part:
        if args.part == "throughput":
            result = throughput(10 if args.tiny else 1000)
        else:
            result = per_case(0.02, ("small", "medium")) if args.tiny else per_case(1.0)
        Path(args.json).write_text(json.dumps(result))
        return 0

    if args.tiny:  # the smoke run: both parts in this process (their peak RSS is then this process's)
        import resource

        throughput_data, per_case_data = throughput(10), per_case(0.02, ("small", "medium"))
        throughput_rss = per_case_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    else:  # each part in a fresh process, so that each peak RSS is its own
        throughput_data, throughput_rss = _in_subprocess("throughput", [])
        per_case_data, per_case_rss = _in_subprocess("per_case", [])
    command_data = commands(args.tiny)
    rss = {"throughput": throughput_rss, "per_case": per_case_rss,
           **{name: row["peak_rss_mb"] for name, row in command_data.items()}}
    data = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "make bench" if not args.tiny else "python -m benchmarks.bench --tiny",
        "examples_per_second": throughput_data["examples_per_second"],
        "speedup_vs_gradcheck_slow": per_case_data["medium"]["speedup_vs_gradcheck_slow"],
        "ci_verify_wall_s": command_data["verify_ci_cold"]["wall_s"],
        "grade_wall_s": command_data["grade_one_cold"]["wall_s"],
        "pytest_n1_wall_s": command_data["pytest_example_n1_cold"]["wall_s"],
        "pytest_n2_wall_s": command_data["pytest_example_n2_cold"]["wall_s"],
        "peak_rss_mb": max(rss.values()),
        "peak_rss_mb_by_part": rss,
        "throughput": throughput_data,
        "per_case": per_case_data,
        "commands": command_data,
    }
    print(write(Path(args.out), data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
