"""Per-call cost of each backend's network_gradients, eager and compiled.

The network of issue 3: 8-16-16-4, batch 8, tanh hidden layers, identity output, mse.
Writes reports/reference_costs.md.   Run: .venv/bin/python -m benchmarks.reference_costs
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _net(sizes=(8, 16, 16, 4), seed=0):
    rng = np.random.default_rng(seed)
    layers = [
        {"W": rng.normal(size=(o, i)) / np.sqrt(i), "b": rng.normal(size=o) * 0.1, "activation": "tanh"}
        for i, o in zip(sizes[:-1], sizes[1:])
    ]
    layers[-1]["activation"] = "identity"
    return {"layers": layers, "loss": "mse", "l2": 0.0}


def _per_call(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def measure(repeat: int = 300) -> list[tuple[str, float]]:
    import jax
    import jax.numpy as jnp

    import impl
    from gradverify.references import jax_backend, torch_backend

    net = _net()
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(8, 8)), rng.normal(size=(8, 4))
    rows = []
    rows.append(("impl (NumPy), cached n/a", _per_call(lambda: impl.network_gradients(net, X, Y), repeat)))
    rows.append(("torch eager autograd", _per_call(lambda: torch_backend.network_gradients(net, X, Y), repeat)))

    # JAX without padding: the plain objective on exact shapes.
    def objective(params, X, Y):
        h = X
        for (W, b), layer in zip(params, net["layers"]):
            h = h @ W.T + b
            h = jnp.tanh(h) if layer["activation"] == "tanh" else h
        return jnp.mean((h - Y) ** 2)

    params = [(layer["W"], layer["b"]) for layer in net["layers"]]
    eager = jax.value_and_grad(objective)
    jax.block_until_ready(eager(params, X, Y))
    rows.append(
        ("jax eager value_and_grad, exact shapes (warm)", _per_call(lambda: jax.block_until_ready(eager(params, X, Y)), 20))
    )
    jitted = jax.jit(jax.value_and_grad(objective))
    rows.append(
        ("jax jit, exact shapes: first call (trace + compile)", _per_call(lambda: jax.block_until_ready(jitted(params, X, Y)), 1))
    )
    rows.append(("jax jit, exact shapes: cached call", _per_call(lambda: jax.block_until_ready(jitted(params, X, Y)), repeat)))

    rows.append(
        (
            "jax_backend (padded bucket): first call (trace + compile)",
            _per_call(lambda: jax_backend.network_gradients(net, X, Y), 1),
        )
    )
    rows.append(("jax_backend (padded bucket): cached call", _per_call(lambda: jax_backend.network_gradients(net, X, Y), repeat)))
    other = _net((5, 30, 7, 2, 3), seed=3)
    other["layers"][0]["activation"] = "relu"
    X2, Y2 = rng.normal(size=(50, 5)), rng.normal(size=(50, 3))
    rows.append(
        (
            "jax_backend: another architecture in the same bucket (5-30-7-2-3, batch 50, first call)",
            _per_call(lambda: jax_backend.network_gradients(other, X2, Y2), 1),
        )
    )
    return rows


def render(rows: list[tuple[str, float]]) -> str:
    import platform

    lines = [
        "# Reference backends: per-call cost of network_gradients",
        "",
        "Network 8-16-16-4, batch 8, tanh hidden layers, mse, float64; one process, "
        f"{platform.machine()}, Python {platform.python_version()}.",
        "Command: `.venv/bin/python -m benchmarks.reference_costs`.",
        "",
        "| backend / mode | ms per call |",
        "|---|---|",
    ]
    lines += [f"| {name} | {seconds * 1e3:.3f} |" for name, seconds in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--out", default="reports/reference_costs.md")
    args = parser.parse_args()
    from gradverify.files import write_atomic

    text = render(measure(args.repeat))
    write_atomic(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
