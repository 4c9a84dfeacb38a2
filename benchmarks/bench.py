"""`make bench`: how fast the suite checks, against the tools people use today.

Measures, in one run, and writes reports/benchmarks.md and reports/benchmarks.json:
  1. three-way-checked network examples per second on the ci profile's distribution of
     architectures, and where the time goes;
  2. per case, on identical networks and data: our three-way check vs
     torch.autograd.gradcheck (slow and fast mode) vs jax.test_util.check_grads;
  3. the wall time of `gradverify verify --profile ci` from a cold start (imports and
     JAX compilation included), of grading one submission, and of the example project's
     pytest run (docs/example_project: the same checks as pytest items) with -n 1 and -n 2;
  4. the peak memory (max RSS) of each;
  5. what the reports' pictures cost: `verify --profile ci` and the grading of a buggy submission,
     each with a report, in pairs of runs with pictures and with --no-plots (medians compared),
     the pictures each run wrote, and the drawing itself timed in a fresh process around the
     writing of the report (its share of the run is held against the target: at most 10% slower);
  6. the layer checks (benchmarks/layer_bench.py): per case, check_layer on conv, batchnorm and
     lstm beside torch.autograd.gradcheck's fast and default modes, where check_layer's time goes,
     and `gradverify verify --profile ci` cold and warm, each against its target.

    .venv/bin/python -m benchmarks.bench            # the full run (2 pairs each for part 5)
    .venv/bin/python -m benchmarks.bench --pairs 3  # the full run, 3 pairs each for part 5
    .venv/bin/python -m benchmarks.bench --tiny     # a smoke run (tests; 1 pair each)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.commands import TINY_RUBRIC, grade_course, grade_one, run, tiny_rubric_args
from benchmarks.layer_bench import _layer_section, _layer_summary, _layers, layer_per_case

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = {"small": ((2, 4, 1), 1), "medium": ((8, 16, 16, 4), 8), "large": ((64, 128, 128, 10), 32)}


# --------------------------------------------------------------------------- 1. throughput


def _timer(stages: dict[str, float]):
    """timed(stage, fn): fn, its time added to stages[stage] at every call."""

    def timed(stage, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stages[stage] += time.perf_counter() - start

        return wrapper

    return timed


def throughput(examples: int, seed: int = 0) -> dict:
    """Run network_gradients_match_references under hypothesis (ci profile) with every stage timed."""
    import impl
    from gradverify.properties import cases as examples_module
    from gradverify.profiles import PROFILES
    from gradverify.results import VerifyResult
    from gradverify.search import run_property
    from gradverify.properties import checks, network_checks
    from gradverify.references import compare as compare_module
    from gradverify.references import jax_backend, torch_backend

    stages = {"generate arrays": 0.0, "impl": 0.0, "jax": 0.0, "torch": 0.0, "compare": 0.0}
    timed = _timer(stages)
    patches = [
        (network_checks, "materialize", timed("generate arrays", examples_module.materialize)),
        (network_checks, "compare", timed("compare", compare_module.compare)),
        (jax_backend, "network_gradients_many", timed("jax", jax_backend.network_gradients_many)),
        (torch_backend, "network_gradients_many", timed("torch", torch_backend.network_gradients_many)),
    ]
    target = type("Timed", (), {"network_gradients": staticmethod(timed("impl", impl.network_gradients))})
    originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
    prop = checks.PROPERTIES["network_gradients_match_references"]
    profile = PROFILES["ci"]
    # Warm-up: compile the JAX kernels of every loss once (a cold start is measured in part 3).
    jax_backend.warm_up()
    run_property(prop, impl, profile=profile, seed=seed + 1, entries=[], budget=20)
    for module, name, wrapper in patches:
        setattr(module, name, wrapper)
    try:
        start = time.perf_counter()
        result, _ = run_property(prop, target, profile=profile, seed=seed, entries=[], budget=examples)
        total = time.perf_counter() - start
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    assert result.passed, result.failure
    from gradverify import report

    run = VerifyResult(impl="impl", profile="ci", seed=seed, budget=examples, started="", seconds=total, results=[result])
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
    from gradverify.properties.cases import Architecture, Example, materialize

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

    out = {name: _per_case_of(name, min_seconds) for name in names}
    jax.clear_caches()
    return out


def _tanh_mse_loss(X, Y, tanh, mean):
    """The benchmark network's mse as a function of its flat parameters (W0, b0, W1, b1, …), in
    the array library of X and Y: tanh hidden layers, identity output (z = h Wᵀ + b)."""

    def loss(*flat):
        h = X
        for i, (W, b) in enumerate(zip(flat[0::2], flat[1::2])):
            h = h @ W.T + b
            h = tanh(h) if i < len(flat) // 2 - 1 else h
        return mean((h - Y) ** 2)

    return loss


def _per_case_of(name: str, min_seconds: float) -> dict:
    """per_case for the network NETWORKS[name]."""
    import jax.numpy as jnp
    import torch
    from jax.test_util import check_grads

    import impl
    from gradverify.properties.cases import Architecture, Example
    from gradverify.properties.network_checks import DATA_SETS, check_network_gradients
    from gradverify.references import jax_backend, torch_backend
    from gradverify.references.compare import compare

    sizes, batch = NETWORKS[name]
    net, X, Y = _case(sizes, batch)
    example = Example(Architecture(sizes, tuple(layer["activation"] for layer in net["layers"]), "mse", 0.0, batch), 0)

    def one_case():
        """One network and data set, three ways: impl vs JAX vs PyTorch, every gradient."""
        got, j, t = (m.network_gradients(net, X, Y) for m in (impl, jax_backend, torch_backend))
        flat = [np.concatenate([[v]] + [g[k].ravel() for g in gs for k in ("W", "b")]) for v, gs in (got, j, t)]
        assert compare("jax", flat[0], flat[1]).ok and compare("torch", flat[0], flat[2]).ok
        assert compare("jax vs torch", flat[1], flat[2]).ok

    ours = _per_call(one_case, min_seconds)
    batched = _per_call(lambda: check_network_gradients(impl, example), min_seconds) / DATA_SETS

    params = [torch.tensor(layer[k], dtype=torch.float64, requires_grad=True) for layer in net["layers"] for k in ("W", "b")]
    torch_loss = _tanh_mse_loss(torch.tensor(X), torch.tensor(Y), torch.tanh, lambda e: e.mean())
    slow = _per_call(lambda: torch.autograd.gradcheck(torch_loss, params, fast_mode=False), min_seconds, 50)
    fast = _per_call(lambda: torch.autograd.gradcheck(torch_loss, params, fast_mode=True), min_seconds, 500)

    jparams = [jnp.asarray(layer[k]) for layer in net["layers"] for k in ("W", "b")]
    jax_loss = _tanh_mse_loss(X, Y, jnp.tanh, jnp.mean)
    jax_check = _per_call(lambda: check_grads(jax_loss, jparams, order=1, modes=["rev"]), min_seconds, 50)
    n_params = sum(layer["W"].size + layer["b"].size for layer in net["layers"])
    return {
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


# --------------------------------------------------------------------------- 3, 4. commands


#: The pictures' cost: pairs of runs with and without pictures per command in the full run (--pairs
#: changes it; the tiny run makes one), and the most the pictures may slow a command down, percent.
PAIRS = 2
PICTURES_TARGET_PCT = 10.0
#: The submission graded with and without pictures (tests.variants): a buggy one, so that its
#: report has failing items to draw.
BUGGY_SUBMISSION = "train_resets_velocity_each_epoch"  # its report has the costliest kind of picture: loss curves
IMAGE_LINK = re.compile(r"!\[(?:\\.|[^\]\\])*\]\(([^()\s]+)\)")


def pictures_of(report: Path) -> dict:
    """What the Markdown report at `report` shows: `pictures`, the SVG pictures it links (relative
    links) that are files beside it; `pictures_linked`, all it links; `svg_files`, the SVG files in
    its folder. All 0 when there is no report."""
    text = report.read_text(encoding="utf-8") if report.is_file() else ""
    linked = [link for link in IMAGE_LINK.findall(text) if link.endswith(".svg") and "://" not in link]
    return {
        "pictures": sum((report.parent / link).is_file() for link in linked),
        "pictures_linked": len(linked),
        "svg_files": len(list(report.parent.glob("*.svg"))) if report.parent.is_dir() else 0,
    }


def picture_pairs(name: str, command, report: str, pairs: int, env: dict, folder: Path) -> tuple[dict, dict]:
    """`pairs` runs of `command(run_folder)` with pictures and as many with `--no-plots` added, each a
    fresh process with a folder of its own for its report (named `report`), in the order with, without,
    without, with, with, without, … (so that a machine getting faster or slower during the runs weighs
    on both sides alike). Returns (the runs by name, in that order, each with `pictures_of` its report;
    the comparison: the medians of wall and CPU time, how much slower with pictures, the pictures drawn)."""
    rows, runs = {}, {True: [], False: []}
    for index in range(pairs):
        for plots in (True, False) if index % 2 == 0 else (False, True):
            label = f"{name}_{'pictures' if plots else 'no_pictures'}_{index + 1}"
            run_folder = folder / label
            run_folder.mkdir()
            row = run([*command(run_folder), *([] if plots else ["--no-plots"])], env)
            row.update(pictures_of(run_folder / report))
            if row["pictures"] != row["pictures_linked"]:
                print(
                    f"bench: {label}: its report links {row['pictures_linked']} pictures, {row['pictures']} of them written",
                    file=sys.stderr,
                )
            rows[label] = row
            runs[plots].append(row)
    median = statistics.median
    with_wall, without_wall = (median(r["wall_s"] for r in runs[p]) for p in (True, False))
    with_cpu, without_cpu = (median(r["cpu_s"] for r in runs[p]) for p in (True, False))
    slower = 100 * (with_wall / without_wall - 1)
    comparison = {
        "runs_each": pairs,
        "with_wall_s": [r["wall_s"] for r in runs[True]],
        "without_wall_s": [r["wall_s"] for r in runs[False]],
        "median_with_s": with_wall,
        "median_without_s": without_wall,
        "slower_pct": slower,
        "median_cpu_with_s": with_cpu,
        "median_cpu_without_s": without_cpu,
        "cpu_slower_pct": 100 * (with_cpu / without_cpu - 1),
        "pictures": min(r["pictures"] for r in runs[True]),
        "svg_files_without": max(r["svg_files"] for r in runs[False]),  # 0: --no-plots draws nothing
        "target_pct": PICTURES_TARGET_PCT,
        "pairs_within_target": slower <= PICTURES_TARGET_PCT,
    }
    if comparison["pictures"] == 0:
        print(f"bench: {name}: a run with pictures drew none", file=sys.stderr)
    if comparison["svg_files_without"]:
        print(f"bench: {name}: a run with --no-plots wrote pictures", file=sys.stderr)
    return rows, comparison


def drawing(command: str, tiny: bool) -> dict:
    """What the pictures add to one report, timed in this fresh process around the writing of the
    report alone, so that the run-to-run noise of wall-clock pairs does not enter: first a run (a
    verify of the bundled impl on the ci profile, on a small budget: its pictures do not depend on
    it; or the grade of the buggy submission), then its report written without pictures, then with
    them (matplotlib's import included, which a run that draws pays once). The CLI draws after the
    run, so this is all a run with pictures does that one without does not."""
    from gradverify.plots import write_with_pictures

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if command == "verify":
            import gradverify
            from gradverify import report

            run = gradverify.verify(
                profile="ci",
                budget=5,
                save_regressions=False,
                regressions=folder / "corpus",
                properties=["dense_matches_references"] if tiny else None,
            )
            render, pictures = (lambda drawn: report.render_markdown(run, drawn)), (lambda: report.pictures(run))
        else:
            from gradverify.grading import feedback, items
            from gradverify.grading.rubric import load_rubric
            from tests.variants import BUGGY

            rubric_path = None
            if tiny:
                rubric_path = folder / "rubric.toml"
                rubric_path.write_text(TINY_RUBRIC)
            result = items.grade_file(BUGGY[BUGGY_SUBMISSION].write(folder), load_rubric(rubric_path))
            render = lambda drawn: feedback.render_submission(result, drawn)  # noqa: E731
            pictures = lambda: feedback.submission_pictures(result)  # noqa: E731
        if not tiny:  # the smoke run measures in its own process, where matplotlib may be loaded already
            assert "matplotlib" not in sys.modules, "the run itself must not have drawn"
        start = time.perf_counter()
        write_with_pictures(folder / "plain.md", render, None)
        plain = time.perf_counter() - start
        start = time.perf_counter()
        write_with_pictures(folder / "report.md", render, pictures)
        drawn = time.perf_counter() - start
        return {
            "report_without_s": plain,
            "report_with_s": drawn,
            "drawing_s": drawn - plain,
            **pictures_of(folder / "report.md"),
        }


def drawing_cost(timed: dict, run_s: float) -> dict:
    """The pictures' cost against the target: `drawing` of one report as a share of the run's wall
    time without pictures (the median of its runs)."""
    share = 100 * timed["drawing_s"] / run_s
    return {"drawing": timed, "drawing_s": timed["drawing_s"], "drawing_pct": share, "holds": share <= PICTURES_TARGET_PCT}


def commands(tiny: bool, pairs: int) -> tuple[dict, dict]:
    """The commands of parts 3 and 4, cold, each in a fresh process: (the runs by name, in the order
    they ran; the pictures' cost of verify and of grade, from `picture_pairs`). verify --profile ci
    runs in pairs with and without pictures (the runs without are what `gradverify verify --profile ci`
    costs); grade runs once on the bundled impl, then in pairs on a buggy submission."""
    from tests.variants import BUGGY  # the repository's root is on sys.path: this module runs from it

    gradverify = str(Path(sys.executable).with_name("gradverify"))
    # cold: JAX's compilation cache off (the smoke run keeps it: its times are not measurements)
    cold = dict(os.environ) if tiny else {**os.environ, "GRADVERIFY_JAX_CACHE": "off"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not tiny:  # untimed: matplotlib's files read once, so that the first run with pictures does not
            # pay a disk read that the others do not (the runs without pictures never import it)
            run([sys.executable, "-c", "import matplotlib.pyplot"], cold)
        rows, verify = _verify_pairs(gradverify, tiny, pairs, cold, folder)
        rubric = tiny_rubric_args(folder) if tiny else []
        rows["grade_one_cold"] = grade_one(gradverify, rubric, cold, folder)
        rows["grade_cs231n_a2_cold"] = grade_course(gradverify, tiny, cold, folder)
        grade_rows, grade = _grade_pairs(gradverify, BUGGY[BUGGY_SUBMISSION], rubric, pairs, cold, folder)
        rows.update(grade_rows)
        rows.update(example_pytest(folder, tiny, cold))
        for row in rows.values():  # the temporary folder is gone once this returns
            row["command"] = row["command"].replace(tmp, "<tmp>")
    return rows, {"verify": verify, "grade": grade, "grade_submission": f"tests/variants: {BUGGY_SUBMISSION}"}


def _verify_pairs(gradverify: str, tiny: bool, pairs: int, env: dict, folder: Path) -> tuple[dict, dict]:
    """`picture_pairs` of `gradverify verify --profile ci` (tiny: one property on a budget of 5),
    each run writing verify.md in its own folder."""
    budget = ["--budget", "5", "--property", "dense_matches_references"] if tiny else []
    return picture_pairs(
        "verify_ci_cold",
        lambda run: [
            gradverify,
            "verify",
            "--profile",
            "ci",
            "--no-save",
            "--quiet",
            *budget,
            "--report",
            str(run / "verify.md"),
        ],
        "verify.md",
        pairs,
        env,
        folder,
    )


def _points(data: dict) -> str:
    """ " (77 / 77 points)" of the course grade, when the run recorded its score."""
    if "grade_cs231n_a2_points" not in data:
        return ""
    score, maximum = data["grade_cs231n_a2_points"]
    return f" ({score:g} / {maximum:g} points)"


def _grade_pairs(gradverify: str, variant, rubric: list[str], pairs: int, env: dict, folder: Path) -> tuple[dict, dict]:
    """`picture_pairs` of `gradverify grade` on the buggy `variant` (tests.variants), written to
    folder/submission, each run writing grade.md and its results JSON in its own folder."""
    (folder / "submission").mkdir()
    buggy = variant.write(folder / "submission")
    return picture_pairs(
        "grade_buggy_cold",
        lambda run: [
            gradverify,
            "grade",
            str(buggy),
            "--quiet",
            "--report",
            str(run / "grade.md"),
            "--results-json",
            str(run / "r.json"),
            *rubric,
        ],
        "grade.md",
        pairs,
        env,
        folder,
    )


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
        rows[f"pytest_example_n{workers}_cold"] = run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers), "-m", "gradverify", *select],
            env,
            cwd=project,
        )
    return rows


def _in_subprocess(part: str, args: list[str]) -> tuple[dict, float]:
    """Run one part of this module in a fresh process: (its JSON, its peak RSS in MiB)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench", "--part", part, "--json", out.name, *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
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
        "chart",
        f"Bar charts: milliseconds per checked case for ours, gradcheck (slow, fast) and check_grads on each "
        f"network, log scale; and the throughput run's {data['examples_per_second']:.0f} examples/s split by stage "
        "(the numbers are in the tables below)",
        lambda: plots.benchmark_chart(data["per_case"], data["examples_per_second"], data["throughput"]["stages_s"]),
    )


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
    lines = [*_summary(data, drawn), *_throughput(data), *_per_case(data), *_commands(data), *_layer_section(data)]
    return "\n".join(lines) + "\n"


def _summary(data: dict, drawn: dict | None) -> list[str]:
    """The title, the summary table against the targets, and the chart."""
    return [
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
        *(
            [
                "| `gradverify grade --rubric cs231n-a2`, a complete submission (the cs231n/ package), cold start, wall | "
                f"{data['grade_cs231n_a2_wall_s']:.1f} s{_points(data)} | ≤ 60 s |"
            ]
            if "grade_cs231n_a2_wall_s" in data  # measured since the course rubrics ship
            else []
        ),
        f"| the example project's `pytest -m gradverify` (ci profile), cold, wall: `-n 2` / `-n 1` | "
        f"{data['pytest_n2_wall_s']:.1f} s / {data['pytest_n1_wall_s']:.1f} s | `-n 2` faster |",
        *(
            [
                f"| pictures' cost: `verify --profile ci` · one grade (a buggy submission): drawing, its share of the run; "
                f"cold wall pairs with / without pictures | {_cost(data['pictures_cost']['verify'])} · "
                f"{_cost(data['pictures_cost']['grade'])} | ≤ {data['pictures_cost']['verify']['target_pct']:g}% slower |"
            ]
            if "pictures_cost" in data
            else []
        ),
        *_layer_summary(data),
        f"| peak RSS, the largest of the runs below | {data['peak_rss_mb']:.0f} MiB | — |",
        "",
        *([drawn["chart"].markdown(), ""] if drawn and "chart" in drawn else []),
    ]


def _throughput(data: dict) -> list[str]:
    """Section 1: the network property's examples per second, and its stages."""
    t = data["throughput"]
    lines = [
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
    return lines


def _per_case(data: dict) -> list[str]:
    """Section 2: one checked case against gradcheck and check_grads."""
    lines: list[str] = []
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
    return lines


def _commands(data: dict) -> list[str]:
    """Sections 3 and 4: the commands from a cold start, and what the pictures cost."""
    lines: list[str] = []
    lines += [
        "",
        "## 3, 4. Commands from a cold start",
        "",
        "Fresh processes, JAX's persistent compilation cache off (`GRADVERIFY_JAX_CACHE=off`), imports included. "
        "The pytest runs are in a copy of `docs/example_project`, whose pyproject configures the gradverify plugin "
        "(ci profile): only its checks (`-m gradverify`), on one and on two pytest-xdist workers. "
        "Peak RSS is the largest single process's. CPU is user + system time, the process's waited-for "
        "children's included.",
        "",
    ]
    if "pictures_cost" in data:
        cost = data["pictures_cost"]
        lines += [
            "The pictures' cost: `verify --profile ci` and the grading of one buggy submission "
            f"({cost['grade_submission']}, so that its report has failing items) each write a report, "
            f"{_runs(cost['verify']['runs_each'])} with pictures and as many with `--no-plots`, in the order with, without, "
            "without, with, …, each in a folder of its own, after an untimed run that reads matplotlib's files once; "
            "the medians are compared. The pictures of a run are the SVG files its report links that are written "
            "beside it. In the summary, `gradverify verify --profile ci` is the median of its runs without pictures, "
            "and `gradverify grade` one submission is the run on the bundled impl. Runs of the same command differ by "
            "a few seconds on this machine, as much as the pictures cost, so the target is judged on the drawing "
            "itself: in a fresh process, after the same run, its report written without pictures and then with them, "
            "each timed (matplotlib's import included); the CLI draws only after the run, so that difference is all "
            "a run with pictures adds. Its share is of the median wall time without pictures.",
            "",
            "| command | drawing (report with − without) | share of the run | pictures | "
            f"≤ {cost['verify']['target_pct']:g}% | wall pairs: with pictures, median (runs) | without | slower, wall | slower, CPU |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, label in (("verify", "`verify --profile ci`"), ("grade", "`grade`, one buggy submission")):
            c = cost[name]
            drawn = c.get("drawing", {})
            lines.append(
                f"| {label} | {_drawn(c)} | {_share(c)} | {drawn.get('pictures', c['pictures'])} | "
                f"{'yes' if c.get('holds', c.get('pairs_within_target')) else '**no**'} | "
                f"{c['median_with_s']:.1f} s ({_seconds(c['with_wall_s'])}) | "
                f"{c['median_without_s']:.1f} s ({_seconds(c['without_wall_s'])}) | {c['slower_pct']:+.1f}% | "
                f"{c['cpu_slower_pct']:+.1f}% |"
            )
        lines.append("")
    lines += ["| command | wall | CPU | exit | peak RSS | pictures |", "|---|---|---|---|---|---|"]
    for row in data["commands"].values():
        cpu = f"{row['cpu_s']:.1f} s" if "cpu_s" in row else "—"
        pictures = f"{row['pictures']}" if "pictures" in row else "—"
        lines.append(
            f"| `{row['command'].replace(str(ROOT) + '/', '')}` | {row['wall_s']:.1f} s | {cpu} | {row['exit_code']} | "
            f"{row['peak_rss_mb']:.0f} MiB | {pictures} |"
        )
    return lines


def _runs(count: int) -> str:
    return f"{count} run{'' if count == 1 else 's'}"


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def _drawn(c: dict) -> str:
    return f"{c['drawing_s']:.2f} s" if "drawing_s" in c else "—"


def _share(c: dict) -> str:
    return f"{c['drawing_pct']:.1f}% of {c['median_without_s']:.1f} s" if "drawing_pct" in c else "—"


def _cost(c: dict) -> str:
    """One command's pictures' cost for the summary: the drawing's share of the run, the pictures
    drawn, and the wall-clock pairs' medians with how much slower they were."""
    pictures = f"{c['pictures']} picture{'' if c['pictures'] == 1 else 's'}"
    return (
        f"{_drawn(c)}, {_share(c)} ({pictures}); pairs {c['median_with_s']:.1f} s / {c['median_without_s']:.1f} s "
        f"({c['slower_pct']:+.1f}%)"
    )


def _parser() -> argparse.ArgumentParser:
    """The command line: --tiny, --out and --pairs, and the hidden --part and --json with which the
    full run starts each part in a fresh process."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a smoke run on a tiny budget")
    parser.add_argument("--out", default=str(ROOT / "reports"), help="folder for benchmarks.md and benchmarks.json")
    parser.add_argument(
        "--pairs",
        type=int,
        help=f"runs with and without pictures of each command compared for the pictures' cost (default {PAIRS}; --tiny: 1)",
    )
    parser.add_argument(
        "--part", choices=["throughput", "per_case", "layers", "drawing_verify", "drawing_grade"], help=argparse.SUPPRESS
    )
    parser.add_argument("--json", help=argparse.SUPPRESS)
    return parser


def _part(part: str, tiny: bool) -> dict:
    """One part of the run, measured in this process (--part): throughput, per_case, the layer
    checks per case, or the drawing of verify's or grade's report."""
    if part == "throughput":
        return throughput(10 if tiny else 1000)
    if part == "layers":
        return layer_per_case(5 if tiny else 200)
    if part.startswith("drawing_"):
        return drawing(part.removeprefix("drawing_"), tiny)
    return per_case(0.02, ("small", "medium")) if tiny else per_case(1.0)


def _measure(tiny: bool, pairs: int) -> dict:
    """Every part of the run: `throughput`, `per_case`, `commands` and `pictures_cost` (each
    command's drawing included), and `rss`, the peak RSS of each part and command in MiB."""
    if tiny:  # the smoke run: both parts in this process (their peak RSS is then this process's), after the
        # commands: a command started from this process would report this one's peak RSS as its own when larger
        # (Linux keeps the high-water mark of the memory it started from across the exec)
        import resource

        command_data, pictures_cost = commands(tiny, pairs)
        layers = _layers(tiny)
        throughput_data, per_case_data = throughput(10), per_case(0.02, ("small", "medium"))
        layers["per_case"] = layer_per_case(5)
        throughput_rss = per_case_rss = layers_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    else:  # each part in a fresh process, so that each peak RSS is its own
        throughput_data, throughput_rss = _in_subprocess("throughput", [])
        per_case_data, per_case_rss = _in_subprocess("per_case", [])
        layer_cases_data, layers_rss = _in_subprocess("layers", [])
        command_data, pictures_cost = commands(tiny, pairs)
        layers = {**_layers(tiny), "per_case": layer_cases_data}
    for name in ("verify", "grade"):  # what drawing takes, timed in a fresh process of its own (the smoke run: in this one)
        timed = drawing(name, tiny=True) if tiny else _in_subprocess(f"drawing_{name}", [])[0]
        pictures_cost[name].update(drawing_cost(timed, pictures_cost[name]["median_without_s"]))
    rss = {
        "throughput": throughput_rss,
        "per_case": per_case_rss,
        "layers": layers_rss,
        **{name: row["peak_rss_mb"] for name, row in command_data.items()},
    }
    return {
        "throughput": throughput_data,
        "per_case": per_case_data,
        "commands": command_data,
        "pictures_cost": pictures_cost,
        "layers": layers,
        "rss": rss,
    }


def _report_data(measured: dict, args: argparse.Namespace, pairs: int) -> dict:
    """benchmarks.json: when, where and how it was measured, the summary's numbers, then every part
    of `measured` (from `_measure`) in full."""
    throughput_data, per_case_data, command_data = measured["throughput"], measured["per_case"], measured["commands"]
    pictures_cost, rss = measured["pictures_cost"], measured["rss"]
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": (
            "make bench"
            if not args.tiny and pairs == PAIRS
            else "python -m benchmarks.bench"
            + (" --tiny" if args.tiny else "")
            + (f" --pairs {args.pairs}" if args.pairs else "")
        ),
        "examples_per_second": throughput_data["examples_per_second"],
        "speedup_vs_gradcheck_slow": per_case_data["medium"]["speedup_vs_gradcheck_slow"],
        "ci_verify_wall_s": pictures_cost["verify"]["median_without_s"],
        "grade_wall_s": command_data["grade_one_cold"]["wall_s"],
        "grade_cs231n_a2_wall_s": command_data["grade_cs231n_a2_cold"]["wall_s"],
        "grade_cs231n_a2_points": [command_data["grade_cs231n_a2_cold"][key] for key in ("score", "max_score")],
        "pytest_n1_wall_s": command_data["pytest_example_n1_cold"]["wall_s"],
        "pytest_n2_wall_s": command_data["pytest_example_n2_cold"]["wall_s"],
        "peak_rss_mb": max(rss.values()),
        "peak_rss_mb_by_part": rss,
        "pictures_cost": pictures_cost,
        "layers": measured["layers"],
        "throughput": throughput_data,
        "per_case": per_case_data,
        "commands": command_data,
    }


def main(argv: list[str] | None = None) -> int:
    """`make bench` and its options: one part alone (--part, into --json), or every part, then
    benchmarks.json and benchmarks.md written to --out and the Markdown printed."""
    parser = _parser()
    args = parser.parse_args(argv)
    pairs = args.pairs if args.pairs is not None else (1 if args.tiny else PAIRS)
    if pairs < 1:
        parser.error(f"--pairs: expected a positive integer, got {pairs}")
    if args.part:
        Path(args.json).write_text(json.dumps(_part(args.part, args.tiny)))
        return 0
    data = _report_data(_measure(args.tiny, pairs), args, pairs)
    print(write(Path(args.out), data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
