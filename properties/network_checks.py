"""The checks of the network's gradients: against JAX and PyTorch, the implementation's own finite
differences, the mean over a batch's samples, the L2 term, and descent along the gradient."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from gradverify.properties.calls import ImplFailure
from gradverify.properties.cases import Example, materialize
from gradverify.properties.shared import (
    Counterexample,
    Rejected,
    arrays_of,
    compare_layers,
    network_gradients_of,
    oracles,
    unmodified,
)
from gradverify.references import finite_diff
from gradverify.references.compare import TOLERANCES, Cause, Comparison, Where, compare, failed


def _references_agree(quantity: str, a: Any, b: Any) -> list[Comparison]:
    """An internal consistency check: JAX and PyTorch must agree, or the suite itself is wrong."""
    c = compare(Where(oracle="references disagree (jax vs torch)", quantity=quantity), a, b, "autodiff")
    return [] if c.ok else [c]


#: Data sets (weights, X, Y) checked for each drawn architecture: the references compute them in
#: one batched call, and the cost of drawing the architecture is shared (benchmarks/bench.py).
DATA_SETS = 8


def _flat(value: Any, grads: list[dict], layers: list[dict]) -> np.ndarray | None:
    """[loss, every gradient entry] as one vector, or None when a gradient has the wrong shape."""
    parts = [np.atleast_1d(np.asarray(value, dtype=np.float64))]
    for g, layer in zip(grads, layers):
        for key in ("W", "b"):
            if np.shape(g[key]) != layer[key].shape:
                return None
            parts.append(np.asarray(g[key], dtype=np.float64).ravel())
    return np.concatenate(parts)


def _network_detail(impl_result: tuple, refs: dict, before: list, layers: list[dict]) -> list[Comparison]:
    """Every comparison of one data set, labelled by oracle, layer and parameter."""
    value, grads = impl_result
    out = []
    for name, (ref_value, ref_grads) in refs.items():
        where = Where(oracle=name, function="network_gradients")
        out.append(compare(where.at(quantity="loss value"), value, ref_value, "autodiff"))
        out += compare_layers(where, grads, ref_grads, "autodiff")
    out += _references_agree("loss value", refs["jax"][0], refs["torch"][0])
    return out + unmodified(Where(function="network_gradients", quantity="net"), before, arrays_of(layers))


def _gradients_or_counterexample(impl: ModuleType, case: Example, data: tuple) -> tuple[float, list[dict]]:
    """impl.network_gradients on one data set; what it does wrong is that data set's Counterexample."""
    try:
        return network_gradients_of(impl, *data)
    except ImplFailure as exc:
        raise Counterexample(case, [exc.comparison()]) from None


def check_network_gradients(impl: ModuleType, ex: Example) -> list[Comparison]:
    """DATA_SETS data sets of the example's architecture (seeds seed, seed+1, …), each against
    JAX and PyTorch; a failing one is raised as the Counterexample (that exact data set)."""
    cases = [Example(ex.arch, (ex.seed + j) % 2**32, ex.labels) for j in range(DATA_SETS)]
    data = [materialize(case) for case in cases]
    nets, Xs, Ys = (list(column) for column in zip(*data))
    befores = [arrays_of(net["layers"]) for net in nets]
    # the first data set before the references: a network the code refuses costs them nothing
    first = _gradients_or_counterexample(impl, cases[0], data[0])
    # each backend's network_gradients_many returns one (loss, grads) per network
    refs: dict[str, list[tuple[float, list[dict]]]] = {
        name: oracle.network_gradients_many(nets, Xs, Ys) for name, oracle in oracles().items()
    }
    summary = []
    for j, (case, (net, X, Y)) in enumerate(zip(cases, data)):
        before = befores[j]
        mine = {name: refs[name][j] for name in refs}
        got = first if j == 0 else _gradients_or_counterexample(impl, case, (net, X, Y))
        flat = _flat(*got, net["layers"])
        quick = (
            []
            if flat is None
            else [
                compare(
                    Where(oracle=name, function="network_gradients", quantity="loss and every gradient"),
                    flat,
                    _flat(*mine[name], net["layers"]),
                    "autodiff",
                )
                for name in mine
            ]
        )
        agree = compare(
            Where(oracle="jax vs torch"), _flat(*mine["jax"], net["layers"]), _flat(*mine["torch"], net["layers"]), "autodiff"
        )
        if flat is None or not all(c.ok for c in quick) or not agree.ok or unmodified(Where(), before, arrays_of(net["layers"])):
            raise Counterexample(case, _network_detail(got, mine, before, net["layers"]))
        summary += quick
    return summary


def _misshapen(grads: list[dict], layers: list[dict]) -> list[Comparison]:
    """Failing comparisons for gradients whose shape is not their parameter's."""
    return [
        compare(Where(function="network_gradients", layer=i, parameter=key), g[key], np.zeros_like(layer[key]), "autodiff")
        for i, (g, layer) in enumerate(zip(grads, layers))
        for key in ("W", "b")
        if np.shape(g[key]) != np.shape(layer[key])
    ]


def check_finite_differences(impl: ModuleType, ex: Example) -> list[Comparison]:
    net, X, Y = materialize(ex)
    _, grads = network_gradients_of(impl, net, X, Y)
    if bad := _misshapen(grads, net["layers"]):
        return bad
    rng = np.random.default_rng(ex.seed ^ 0x5EED)
    out = []
    for i, layer in enumerate(net["layers"]):
        for key in ("W", "b"):
            u = rng.normal(size=layer[key].shape)
            try:
                numeric = finite_diff.network_directional(impl, net, X, Y, i, key, u)
            except finite_diff.NotSmoothHere:
                raise Rejected("it sits on a kink, where the derivative is not defined") from None
            except ImplFailure:
                raise
            except Exception as exc:  # noqa: BLE001 - the impl's own loss failed at a perturbed point
                raise ImplFailure("network_gradients", Cause.RAISED, f"failed at a nearby point: {exc}") from None
            analytic = float(np.sum(np.asarray(grads[i][key], dtype=np.float64) * u))
            where = Where(oracle="finite differences", layer=i, parameter=key, quantity="along a random direction")
            out.append(compare(where, analytic, numeric, "finite_diff"))
    return out


def check_batch_mean(impl: ModuleType, ex: Example) -> list[Comparison]:
    """E(batch) = mean_n E(sample n) and ∇E(batch) = mean_n ∇E(sample n); L2 is in both, equally."""
    net, X, Y = materialize(ex)
    value, grads = network_gradients_of(impl, net, X, Y)
    singles = [network_gradients_of(impl, net, X[n : n + 1], Y[n : n + 1]) for n in range(X.shape[0])]
    mean_value = float(np.mean([v for v, _ in singles]))
    mean_grads = [
        {key: np.mean([np.asarray(g[i][key], dtype=np.float64) for _, g in singles], axis=0) for key in ("W", "b")}
        for i in range(len(net["layers"]))
    ]
    where = Where(oracle="mean over samples")
    out = [compare(where.at(quantity="loss value"), value, mean_value, "autodiff")]
    return out + compare_layers(where, grads, mean_grads, "autodiff")


def check_l2(impl: ModuleType, ex: Example) -> list[Comparison]:
    """With λ > 0 the loss and gradients equal PyTorch's (so the data-loss part around the L2
    term is right too), and against λ = 0 the implementation's own results differ by exactly
    (λ/2)·Σ‖W‖² in the loss, λ·W in each weight gradient and nothing in the biases."""
    net, X, Y = materialize(ex)
    value, grads = network_gradients_of(impl, net, X, Y)
    value0, grads0 = network_gradients_of(impl, {**net, "l2": 0.0}, X, Y)
    if bad := _misshapen(grads, net["layers"]) + _misshapen(grads0, net["layers"]):
        return bad
    ref_value, ref_grads = oracles()["torch"].network_gradients(net, X, Y)
    reference = Where(oracle="torch", function="network_gradients", quantity=f"with λ = {net['l2']:g}")
    out = [compare(reference.at(quantity=f"loss value with λ = {net['l2']:g}"), value, ref_value, "autodiff")]
    out += compare_layers(reference, grads, ref_grads, "autodiff")
    lam = net["l2"]
    penalty = 0.5 * lam * sum(float(np.sum(layer["W"] ** 2)) for layer in net["layers"])
    where = Where(oracle="L2", function="network_gradients")
    out += [compare(where.at(quantity="loss(λ) − loss(0) = (λ/2)·Σ‖W‖²"), value - value0, penalty, "autodiff")]
    for i, (g, g0, layer) in enumerate(zip(grads, grads0, net["layers"])):
        dW = np.asarray(g["W"], dtype=np.float64) - np.asarray(g0["W"], dtype=np.float64)
        db = np.asarray(g["b"], dtype=np.float64) - np.asarray(g0["b"], dtype=np.float64)
        out.append(
            compare(
                where.at(layer=i, parameter="W", quantity="gradient(λ) − gradient(0) = λ·W"), dW, lam * layer["W"], "autodiff"
            )
        )
        out.append(
            compare(
                where.at(layer=i, parameter="b", quantity="gradient(λ) − gradient(0) = 0"),
                db,
                np.zeros_like(layer["b"]),
                "autodiff",
            )
        )
    return out


DESCENT_STEP = 1e-6
DESCENT = Where(oracle="torch", function="network_gradients", quantity="descent along −gradient")


def check_descent(impl: ModuleType, ex: Example) -> list[Comparison]:
    """E(θ − η·g) < E(θ) for the step η = 1e-6·max(1, ‖θ‖∞)/‖g‖∞, E measured by the PyTorch reference."""
    net, X, Y = materialize(ex)
    _, grads = network_gradients_of(impl, net, X, Y)
    ref = oracles()["torch"]
    e0, ref_grads = ref.network_gradients(net, X, Y)
    ref_norm = max(float(np.max(np.abs(g[key]))) for g in ref_grads for key in ("W", "b"))
    if ref_norm < 1e-6 * max(1.0, abs(e0)):
        # (nearly) a stationary point: the first-order decrease would drown in rounding
        raise Rejected("it is (nearly) a stationary point: no step lowers the loss measurably")
    if bad := _misshapen(grads, net["layers"]):
        return bad
    g_norm = max(float(np.max(np.abs(np.asarray(g[key], dtype=np.float64)))) for g in grads for key in ("W", "b"))
    if not np.isfinite(g_norm) or g_norm == 0.0:
        return [
            failed(
                DESCENT,
                Cause.NO_DESCENT,
                f"the gradient is {'all zero' if g_norm == 0 else 'not finite'}, so no step lowers the loss",
            )
        ]
    theta_norm = max(float(np.max(np.abs(layer[key]))) for layer in net["layers"] for key in ("W", "b"))
    eta = DESCENT_STEP * max(1.0, theta_norm) / g_norm
    stepped = [
        {
            **layer,
            "W": layer["W"] - eta * np.asarray(g["W"], dtype=np.float64),
            "b": layer["b"] - eta * np.asarray(g["b"], dtype=np.float64),
        }
        for layer, g in zip(net["layers"], grads)
    ]
    e1, _ = ref.network_gradients({**net, "layers": stepped}, X, Y)
    ok = e1 < e0
    return [
        Comparison(
            DESCENT,
            ok,
            TOLERANCES["autodiff"],
            max_abs_err=0.0 if ok else e1 - e0,
            max_rel_err=0.0 if ok else (e1 - e0) / max(abs(e0), 1e-300),
            message=None if ok else f"a step of η = {eta:.3g} along −gradient raised the loss from {e0:.12g} to {e1:.12g}",
            cause=None if ok else Cause.NO_DESCENT,
        )
    ]
