"""The cost check's margins (grading/cost.py): what network_gradients costs, in forward passes, for
the bundled impl, every correct variant of the catalogue (tests/variants CORRECT, and the fused
softmax-cross-entropy one of PARTIAL) and the numerical attacks (tests/attacks), each in its own
bubblewrap sandbox as a grade runs it, alone and with several of these runs at once (load).

Writes reports/cost.md and reports/cost.json.
Run: .venv/bin/python -m benchmarks.cost [--parallel 1 2] [--out reports]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The cost networks measured: (hidden activation or None, output activation, loss).
ARCHITECTURES = (("tanh", "identity", "mse"), ("relu", "softmax", "cce"), (None, "sigmoid", "bce"))
NUMERICAL = ("complex_step_gradients", "extrapolated_differences")
#: Two more, on the first architecture only, at the edges of the threshold: backprop written with
#: Python loops over samples and units (correct, and the slowest honest style), and one-sided
#: differences with every perturbed network in one batched forward pass (the cheapest numerical
#: scheme; not accurate enough for the items, so a bound rather than a threat). Each replaces the
#: bundled impl's network_gradients.
EDGES = {
    "backprop_in_python_loops": (
        "backprop",
        textwrap.dedent('''\
    import math


    def network_gradients(net, X, Y):
        """Backprop with Python loops over samples and units (tanh hidden, identity output, mse)."""
        layers = [(l["W"].tolist(), l["b"].tolist(), l["activation"]) for l in net["layers"]]
        X, Y = X.tolist(), Y.tolist()
        N, K = len(X), len(Y[0])
        gW = [[[0.0] * len(W[0]) for _ in W] for W, _, _ in layers]
        gb = [[0.0] * len(b) for _, b, _ in layers]
        total = 0.0
        for n in range(N):
            xs, zs, h = [], [], X[n]
            for W, b, act in layers:
                z = [sum(w * x for w, x in zip(row, h)) + bj for row, bj in zip(W, b)]
                xs.append(h); zs.append(z)
                h = [math.tanh(v) for v in z] if act == "tanh" else z
            total += sum((p - y) ** 2 for p, y in zip(h, Y[n]))
            g = [2 * (p - y) / (N * K) for p, y in zip(h, Y[n])]
            for i in reversed(range(len(layers))):
                W, b, act = layers[i]
                if act == "tanh":
                    g = [gi * (1 - math.tanh(z) ** 2) for gi, z in zip(g, zs[i])]
                for j, gj in enumerate(g):
                    row = gW[i][j]
                    for k, x in enumerate(xs[i]):
                        row[k] += gj * x
                    gb[i][j] += gj
                g = [sum(g[j] * W[j][k] for j in range(len(g))) for k in range(len(xs[i]))]
        return total / (N * K), [{"W": np.array(w), "b": np.array(b)} for w, b in zip(gW, gb)]
'''),
    ),
    "batched_one_sided_differences": (
        "numerical",
        textwrap.dedent('''\
    _ACT = {"tanh": np.tanh, "identity": lambda z: z}


    def network_gradients(net, X, Y):
        """One-sided differences, every perturbed network in one batched forward pass (not backprop)."""
        layers = net["layers"]
        shapes = [(l["W"].shape, l["b"].shape) for l in layers]
        theta = np.concatenate([np.concatenate([l["W"].ravel(), l["b"]]) for l in layers])
        P, h = theta.size, 1e-7
        def loss(T):  # T: (B, P) parameter sets -> (B,) losses
            a, start = X[None], 0
            for (ws, bs), l in zip(shapes, layers):
                W = T[:, start:start + ws[0] * ws[1]].reshape(-1, *ws); start += ws[0] * ws[1]
                b = T[:, start:start + bs[0]]; start += bs[0]
                a = _ACT[l["activation"]](np.matmul(a, W.transpose(0, 2, 1)) + b[:, None, :])
            return np.mean((a - Y[None]) ** 2, axis=(1, 2))
        base = loss(theta[None])[0]
        g = np.empty(P)
        for s in range(0, P, 512):
            T = np.repeat(theta[None], min(512, P - s), axis=0)
            T[np.arange(T.shape[0]), np.arange(s, s + T.shape[0])] += h
            g[s:s + T.shape[0]] = (loss(T) - base) / h
        grads, start = [], 0
        for ws, bs in shapes:
            W = g[start:start + ws[0] * ws[1]].reshape(ws); start += ws[0] * ws[1]
            b = g[start:start + bs[0]]; start += bs[0]
            grads.append({"W": W, "b": b})
        return base, grads
'''),
    ),
}


def submissions(folder: Path) -> dict[str, tuple[str, Path]]:
    """name -> (kind: "backprop" or "numerical", the file), written into `folder`."""
    from tests.attacks import BY_NAME
    from tests.variants import CORRECT, IMPL_SOURCE, PARTIAL

    found = {"impl": ("backprop", IMPL_SOURCE)}
    for variant in [*CORRECT.values(), PARTIAL["fused_softmax_cce"].variant]:
        found[variant.name] = ("backprop", variant.write(folder))
    for name in NUMERICAL:
        path = folder / f"{name}.py"
        path.write_bytes(BY_NAME[name].source())  # the model solution with the attack's part appended
        found[name] = ("numerical", path)
    for name, (kind, source) in EDGES.items():
        path = folder / f"{name}.py"
        path.write_text(IMPL_SOURCE.read_text(encoding="utf-8") + "\n\n" + source, encoding="utf-8")
        found[name] = (kind, path)
    return found


def measure(names: list[str] | None = None) -> list[dict]:
    """Each submission's cost check on each architecture, in a sandbox as a grade runs it."""
    from gradverify.grading import cost
    from gradverify.sandbox import Sandbox

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (kind, path) in submissions(Path(folder)).items():
            if names and name not in names:
                continue
            with Sandbox(path) as box:
                timer = cost.sandbox_timer(box, timeout=30.0)
                for hidden, output, loss in ARCHITECTURES[:1] if name in EDGES else ARCHITECTURES:
                    check = cost.run(timer, (hidden,) if hidden else (), {loss: (output,)})
                    rows.append(
                        {
                            "submission": name,
                            "kind": kind,
                            "architecture": check.network,
                            "parameters": check.parameters,
                            "verdict": check.verdict.name,
                            "ratios": list(check.ratios),
                            "forward_us": check.forward_seconds * 1e6,
                            "wall_ms": [c.wall * 1e3 for c in check.calls],
                            "cpu_ms": [c.cpu * 1e3 for c in check.calls],
                            "seconds": check.seconds,
                            "unfinished": check.unfinished,
                            "reason": check.reason,
                        }
                    )
    return rows


def run(parallel: int) -> tuple[list[dict], float]:
    """`parallel` measuring processes at once; (their rows, the load average after)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "benchmarks.cost", "--one"], stdout=subprocess.PIPE, cwd=ROOT, env=env)
        for _ in range(parallel)
    ]
    rows = []
    for index, proc in enumerate(procs):
        out, _ = proc.communicate()
        rows += [{**row, "run": index} for row in json.loads(out)]
    return rows, os.getloadavg()[0]


def render(results: dict[int, tuple[list[dict], float]], threshold: float, date: str, command: str) -> str:
    lines = [
        "# The cost check: network_gradients in forward passes",
        "",
        f"Measured {date} (`{command}`) on {os.cpu_count()} cores. Each submission in its own bubblewrap sandbox, "
        "its network_gradients timed by the grader (grading/cost.py: CPU time of the sandbox's processes, the "
        "least of up to 3 calls) against one trusted NumPy forward pass of the same network (this process's "
        f"thread CPU time, least of 30). Threshold: {threshold:g} forward passes.",
        "",
    ]
    lines += [
        "| runs at once | load average after | backprop: most | numerical: least | false alarms | missed |",
        "|---|---|---|---|---|---|",
    ]
    for parallel, (rows, load) in results.items():
        honest = [min(r["ratios"]) for r in rows if r["kind"] == "backprop" and r["ratios"]]
        numerical = [
            max(r["ratios"]) if r["unfinished"] else min(r["ratios"]) for r in rows if r["kind"] == "numerical" and r["ratios"]
        ]
        alarms = sum(r["kind"] == "backprop" and r["verdict"] != "BACKPROP" for r in rows)
        missed = sum(r["kind"] == "numerical" and r["verdict"] != "NUMERICAL" for r in rows)
        lines.append(f"| {parallel} | {load:.1f} | {max(honest):,.1f} | {min(numerical):,.0f} | {alarms} | {missed} |")
    for parallel, (rows, _load) in results.items():
        lines += [
            "",
            f"## {parallel} at once",
            "",
            "| submission | network | parameters | verdict | forward passes (each call) | CPU ms | wall ms | "
            "forward µs | check s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(rows, key=lambda r: (r["kind"], r["submission"], r["architecture"], r["run"])):
            ratios = ", ".join(f"{x:,.1f}" for x in r["ratios"]) + (" (stopped)" if r["unfinished"] else "")
            lines.append(
                f"| {r['submission']} | {r['architecture']} | {r['parameters']:,} | {r['verdict'].lower()}"
                f"{': ' + r['reason'] if r['reason'] else ''} | {ratios} | "
                f"{', '.join(f'{x:.1f}' for x in r['cpu_ms'])} | {', '.join(f'{x:.0f}' for x in r['wall_ms'])} | "
                f"{r['forward_us']:.0f} | {r['seconds']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2], help="measuring processes at once, per run")
    parser.add_argument("--out", default=str(ROOT / "reports"))
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure()))
        return 0
    from gradverify.grading.cost import THRESHOLD

    results = {parallel: run(parallel) for parallel in args.parallel}
    out = Path(args.out)
    rows = [{**row, "at_once": parallel} for parallel, (found, _load) in results.items() for row in found]
    (out / "cost.json").write_text("[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n")  # a row a line
    command = "python -m benchmarks.cost" + (
        "" if args.parallel == [1, 2] else " --parallel " + " ".join(map(str, args.parallel))
    )
    text = render(results, THRESHOLD, time.strftime("%Y-%m-%d"), command)
    (out / "cost.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
