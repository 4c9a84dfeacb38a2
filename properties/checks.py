"""The properties: each a named check with a one-line claim.

A property's `check(impl, case)` returns the `Comparison`s it made; it fails when
any is not ok. What the implementation does wrong (raises, returns a wrong shape
or NaN) ends as a failing comparison via `ImplFailure`, never as a crash.

Oracles: JAX and PyTorch (references/), and finite differences of the
implementation's own functions. Each comparison says what it is about as a
`Where` (oracle, function, component, layer, parameter, step, quantity); its label,
e.g. `jax · layers[1].W`, is rendered from those fields.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

from gradverify.properties import strategies
from gradverify.properties.calls import ImplFailure, call, expect_float, expect_layers, expect_pair
from gradverify.properties.cases import ActivationCase, DenseCase, Example, LossCase, TrainCase, materialize
from gradverify.references import finite_diff
from gradverify.references.compare import TOLERANCES, Cause, Comparison, Where, compare, failed, holds


def _oracles() -> dict[str, ModuleType]:
    """The autodiff references, imported on first use (JAX ~0.5 s, PyTorch ~1 s)."""
    from gradverify.references import jax_backend, torch_backend

    return {"jax": jax_backend, "torch": torch_backend}


class Rejected(Exception):
    """The case cannot be checked (it sits on a kink, at a stationary point, or training diverged).
    Under hypothesis it becomes a rejection; on replay, a note."""


@dataclass(frozen=True)
class Property:
    name: str
    claim: str
    #: the protocol functions it exercises
    functions: tuple[str, ...]
    strategy: Callable[[], st.SearchStrategy]
    check: Callable[[ModuleType, Any], list[Comparison]]
    tolerance: str
    #: examples per unit of the profile's budget (the slow ones run fewer)
    weight: float = 1.0
    #: data sets checked per drawn example
    data_sets: int = 1
    #: cases run first in every run, whatever the seed (strategies.*_coverage)
    coverage: Callable[[], list] | None = None
    #: the kind of failure gradverify.hints diagnoses for it ("activation", "network", …; None: none)
    diagnosis: str | None = None
    #: a bigger sibling of a failing case, checked once more for the report's pictures (the
    #: training checks: `longer`, whose batch losses are drawn); None: the case itself is drawn
    illustration: Callable[[Any], Any] | None = None


# ----------------------------------------------------------------------------- helpers


def _network(impl: ModuleType, net: dict, X: np.ndarray, Y: np.ndarray) -> tuple[float, list[dict]]:
    """impl.network_gradients, its result checked for form."""
    value, grads = expect_pair("network_gradients", call(impl, "network_gradients", net, X, Y), "(loss_value, grads)")
    value = expect_float("network_gradients", value, "loss_value")
    return value, expect_layers("network_gradients", grads, len(net["layers"]), "grads")


def _compare_layers(where: Where, got: list[dict], expected: list[dict], tol: str) -> list[Comparison]:
    """One comparison per layer and parameter, each at `where` with its layer and parameter filled in."""
    return [
        compare(where.at(layer=i, parameter=key), g[key], e[key], tol)
        for i, (g, e) in enumerate(zip(got, expected))
        for key in ("W", "b")
    ]


def _unmodified(where: Where, before: list[np.ndarray], after: list[np.ndarray]) -> list[Comparison]:
    """[] when the inputs hold the same values after the call; else a failing comparison
    (the protocol forbids modifying inputs)."""
    for i, (b, a) in enumerate(zip(before, after)):
        if not np.array_equal(a, b, equal_nan=True):
            c = compare(where.at(quantity=f"{where.quantity or 'input'} [{i}] unmodified"), a, b, TOLERANCES["autodiff"])
            c.ok, c.cause = False, Cause.MODIFIED_INPUT
            c.message = "modified its input in place (the protocol says inputs are not modified)"
            return [c]
    return []


def _keys(dicts: list[dict]) -> list[list]:
    """Each dict's keys, sorted: the entries a returned net or layer must keep, no more, no less."""
    return [sorted(d, key=str) for d in dicts]


def _arrays_of(layers: list[dict]) -> list[np.ndarray]:
    return [np.array(layer[key], dtype=np.float64, copy=True) for layer in layers for key in ("W", "b")]


def _references_agree(quantity: str, a: Any, b: Any) -> list[Comparison]:
    """An internal consistency check: JAX and PyTorch must agree, or the suite itself is wrong."""
    c = compare(Where(oracle="references disagree (jax vs torch)", quantity=quantity), a, b, "autodiff")
    return [] if c.ok else [c]


# ----------------------------------------------------------------------------- 1. network gradients


#: Data sets (weights, X, Y) checked for each drawn architecture: the references compute them in
#: one batched call, and the cost of drawing the architecture is shared (benchmarks/bench.py).
DATA_SETS = 8


class Counterexample(Exception):
    """A check found a failing case other than the one it was given (one of its data sets)."""

    def __init__(self, case: Any, comparisons: list[Comparison]):
        super().__init__(case)
        self.case = case
        self.comparisons = comparisons


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
        out += _compare_layers(where, grads, ref_grads, "autodiff")
    out += _references_agree("loss value", refs["jax"][0], refs["torch"][0])
    return out + _unmodified(Where(function="network_gradients", quantity="net"), before, _arrays_of(layers))


def check_network_gradients(impl: ModuleType, ex: Example) -> list[Comparison]:
    """DATA_SETS data sets of the example's architecture (seeds seed, seed+1, …), each against
    JAX and PyTorch; a failing one is raised as the Counterexample (that exact data set)."""
    cases = [Example(ex.arch, (ex.seed + j) % 2**32, ex.labels) for j in range(DATA_SETS)]
    data = [materialize(case) for case in cases]
    nets, Xs, Ys = (list(column) for column in zip(*data))
    # each backend's network_gradients_many returns one (loss, grads) per network
    refs: dict[str, list[tuple[float, list[dict]]]] = {
        name: oracle.network_gradients_many(nets, Xs, Ys) for name, oracle in _oracles().items()
    }
    summary = []
    for j, (case, (net, X, Y)) in enumerate(zip(cases, data)):
        before = _arrays_of(net["layers"])
        mine = {name: refs[name][j] for name in refs}
        try:
            got = _network(impl, net, X, Y)
        except ImplFailure as exc:
            raise Counterexample(case, [exc.comparison()]) from None
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
        if (
            flat is None
            or not all(c.ok for c in quick)
            or not agree.ok
            or _unmodified(Where(), before, _arrays_of(net["layers"]))
        ):
            raise Counterexample(case, _network_detail(got, mine, before, net["layers"]))
        summary += quick
    return summary


# ----------------------------------------------------------------------------- 2. components


def check_activations(impl: ModuleType, case: ActivationCase) -> list[Comparison]:
    z, grad_a = case.arrays()
    a = call(impl, "activation", case.name, z.copy())
    grad_z = call(impl, "activation_backward", case.name, z.copy(), grad_a.copy())
    out = []
    for name, oracle in _oracles().items():
        where = Where(oracle=name, component=case.name)
        out.append(compare(where.at(function="activation"), a, oracle.activation(case.name, z), "autodiff"))
        out.append(
            compare(
                where.at(function="activation_backward"), grad_z, oracle.activation_backward(case.name, z, grad_a), "autodiff"
            )
        )
    return out


def check_losses(impl: ModuleType, case: LossCase) -> list[Comparison]:
    y_pred, y_true = case.arrays()
    value = expect_float("loss", call(impl, "loss", case.name, y_pred.copy(), y_true.copy()), "the loss")
    grad = call(impl, "loss_backward", case.name, y_pred.copy(), y_true.copy())
    out = []
    for name, oracle in _oracles().items():
        where = Where(oracle=name, component=case.name)
        out.append(compare(where.at(function="loss"), value, oracle.loss(case.name, y_pred, y_true), "autodiff"))
        out.append(compare(where.at(function="loss_backward"), grad, oracle.loss_backward(case.name, y_pred, y_true), "autodiff"))
    return out


def check_dense(impl: ModuleType, case: DenseCase) -> list[Comparison]:
    x, W, b, grad_z = case.arrays()
    z = call(impl, "dense_forward", x.copy(), W.copy(), b.copy())
    back = call(impl, "dense_backward", x.copy(), W.copy(), grad_z.copy())
    if not isinstance(back, (tuple, list)) or len(back) != 3:
        raise ImplFailure("dense_backward", Cause.WRONG_FORM, "did not return the triple (grad_x, grad_W, grad_b)")
    out = []
    for name, oracle in _oracles().items():
        out.append(
            compare(Where(oracle=name, function="dense_forward", quantity="z"), z, oracle.dense_forward(x, W, b), "autodiff")
        )
        for what, got, expected in zip(("grad_x", "grad_W", "grad_b"), back, oracle.dense_backward(x, W, grad_z)):
            out.append(compare(Where(oracle=name, function="dense_backward", quantity=what), got, expected, "autodiff"))
    return out


# ----------------------------------------------------------------------------- 3. finite differences


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
    _, grads = _network(impl, net, X, Y)
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


# ----------------------------------------------------------------------------- 4. batch mean


def check_batch_mean(impl: ModuleType, ex: Example) -> list[Comparison]:
    """E(batch) = mean_n E(sample n) and ∇E(batch) = mean_n ∇E(sample n); L2 is in both, equally."""
    net, X, Y = materialize(ex)
    value, grads = _network(impl, net, X, Y)
    singles = [_network(impl, net, X[n : n + 1], Y[n : n + 1]) for n in range(X.shape[0])]
    mean_value = float(np.mean([v for v, _ in singles]))
    mean_grads = [
        {key: np.mean([np.asarray(g[i][key], dtype=np.float64) for _, g in singles], axis=0) for key in ("W", "b")}
        for i in range(len(net["layers"]))
    ]
    where = Where(oracle="mean over samples")
    out = [compare(where.at(quantity="loss value"), value, mean_value, "autodiff")]
    return out + _compare_layers(where, grads, mean_grads, "autodiff")


# ----------------------------------------------------------------------------- 5. momentum and training


def check_momentum_step(impl: ModuleType, case: TrainCase) -> list[Comparison]:
    """Three consecutive steps with fixed gradients, each side fed its own velocity."""
    net, _, _ = materialize(case.example)
    torch_ref = _oracles()["torch"]
    rng = np.random.default_rng(case.example.seed ^ 0xF00D)
    params_impl = params_ref = net["layers"]
    velocity_impl = velocity_ref = None
    out = []
    for step in range(3):
        grads = [{key: rng.normal(size=layer[key].shape) for key in ("W", "b")} for layer in net["layers"]]
        before = _arrays_of(params_impl) + _arrays_of(grads) + (_arrays_of(velocity_impl) if velocity_impl else [])
        args = (params_impl, grads, velocity_impl)
        result = call(impl, "sgd_momentum_step", *args, lr=case.lr, momentum=case.momentum)
        new_params, new_velocity = expect_pair("sgd_momentum_step", result, "(new_params, new_velocity)")
        new_params = expect_layers("sgd_momentum_step", new_params, len(net["layers"]), "new_params")
        new_velocity = expect_layers("sgd_momentum_step", new_velocity, len(net["layers"]), "new_velocity")
        after = _arrays_of(params_impl) + _arrays_of(grads) + (_arrays_of(velocity_impl) if velocity_impl else [])
        params_ref, velocity_ref = torch_ref.sgd_momentum_step(
            params_ref, grads, velocity_ref, lr=case.lr, momentum=case.momentum
        )
        where = Where(oracle="torch.optim.SGD", function="sgd_momentum_step", step=step + 1)
        out += _compare_layers(where.at(quantity="new_params"), new_params, params_ref, "autodiff")
        out += _compare_layers(where.at(quantity="velocity"), new_velocity, velocity_ref, "autodiff")
        out += _unmodified(Where(function="sgd_momentum_step", step=step + 1, quantity="inputs"), before, after)
        kept = [p.get("activation") for p in new_params] == [p["activation"] for p in net["layers"]]
        if not kept or _keys(new_params) != _keys(net["layers"]):
            out.append(
                failed(
                    Where(function="sgd_momentum_step", step=step + 1, quantity="layer entries"),
                    Cause.CHANGED_ENTRIES,
                    "new_params must be the given layer dicts with new W and b: it lost, changed "
                    "or added entries ('activation' and the keys must stay as given)",
                )
            )
        params_impl, velocity_impl = new_params, new_velocity
    return out


#: A reference run whose weights grow past this has diverged; comparing it step for step would
#: compare amplified rounding, so the example is rejected (divergence is not a bug).
DIVERGED = 1e3


def _reference_training(net: dict, X: np.ndarray, Y: np.ndarray, kwargs: dict) -> tuple[dict, list[float]]:
    """torch.optim.SGD's run, or Rejected when it diverges."""
    ref_net, ref_losses = _oracles()["torch"].train(net, X, Y, **kwargs)
    final = _arrays_of(ref_net["layers"])
    if not all(np.all(np.isfinite(a)) and np.max(np.abs(a)) < DIVERGED for a in final) or not np.all(np.isfinite(ref_losses)):
        raise Rejected(f"the reference training run diverged (weights past {DIVERGED:g} or not finite)")
    return ref_net, ref_losses


def _trained(impl: ModuleType, net: dict, X: np.ndarray, Y: np.ndarray, kwargs: dict) -> tuple[list[dict], Any]:
    """impl.train's (layers, batch_losses), checked for form."""
    trained, losses = expect_pair("train", call(impl, "train", net, X, Y, **kwargs), "(net, batch_losses)")
    if not isinstance(trained, dict) or "layers" not in trained:
        raise ImplFailure("train", Cause.WRONG_FORM, "returned something other than a net dict as the trained net")
    layers = expect_layers("train", trained["layers"], len(net["layers"]), "net['layers']")
    got, given = _keys([trained, *layers]), _keys([net, *net["layers"]])
    if got != given:
        raise ImplFailure(
            "train",
            Cause.CHANGED_ENTRIES,
            f"returned a net with the keys {[[str(k) for k in keys] for keys in got]} (the net's, then "
            f"each layer's), where the given net's {given} were expected",
        )
    return layers, losses


def _unchanged(layers: list[dict], initial: list[dict]) -> bool:
    """Whether a loop left every weight and bias as it was (or returned something unreadable)."""
    try:
        return all(np.array_equal(np.asarray(a, dtype=np.float64), b) for a, b in zip(_arrays_of(layers), _arrays_of(initial)))
    except (TypeError, ValueError):
        return True


def _train_kwargs(case: TrainCase) -> dict:
    return dict(lr=case.lr, momentum=case.momentum, batch_size=case.batch_size, epochs=case.epochs)


#: Epochs of the longer run whose batch losses a failing training check's picture shows.
LONGER_EPOCHS = 20


def longer(case: TrainCase) -> TrainCase:
    """The failing case trained for LONGER_EPOCHS epochs (more if it has more): a shrunk
    counterexample trains for a batch or two, too few for its loss curves to part visibly."""
    return replace(case, epochs=max(case.epochs, LONGER_EPOCHS))


def check_train(impl: ModuleType, case: TrainCase) -> list[Comparison]:
    net, X, Y = materialize(case.example)
    before = _arrays_of(net["layers"])
    kwargs = _train_kwargs(case)
    ref_net, ref_losses = _reference_training(net, X, Y, kwargs)
    layers, losses = _trained(impl, net, X, Y, kwargs)
    where = Where(oracle="torch.optim.SGD", function="train")
    out = [compare(where.at(quantity="batch_losses"), losses, ref_losses, "autodiff")]
    out += _compare_layers(where.at(quantity="trained"), layers, ref_net["layers"], "autodiff")
    out += _unmodified(Where(function="train", quantity="net"), before, _arrays_of(net["layers"]))
    return out


def _own_steps(
    impl: ModuleType, net: dict, X: np.ndarray, Y: np.ndarray, case: TrainCase
) -> tuple[list[list[dict]], list[float], ImplFailure | None]:
    """The protocol's training loop over the implementation's own network_gradients and
    sgd_momentum_step, step by step: (the layers before the first step and after each step that
    worked, each such step's batch loss, the failure that stopped it or None)."""
    layers, velocity, losses = net["layers"], None, []
    states = [layers]
    try:
        for _ in range(case.epochs):
            for start in range(0, X.shape[0], case.batch_size):
                rows = slice(start, start + case.batch_size)
                value, grads = _network(impl, {**net, "layers": layers}, X[rows], Y[rows])
                result = call(impl, "sgd_momentum_step", layers, grads, velocity, lr=case.lr, momentum=case.momentum)
                layers, velocity = expect_pair("sgd_momentum_step", result, "(new_params, new_velocity)")
                layers = expect_layers("sgd_momentum_step", layers, len(net["layers"]), "new_params")
                velocity = expect_layers("sgd_momentum_step", velocity, len(net["layers"]), "new_velocity")
                losses.append(value)
                states.append(layers)
    except ImplFailure as failure:
        return states, losses, failure
    return states, losses, None


def _steps_that_worked(case: TrainCase, n_samples: int, steps: int) -> tuple[int, int, int] | None:
    """A shorter run made only of the first `steps` steps of `case` that worked: (samples, epochs,
    steps it takes): whole epochs when at least one worked, else the first batches of the first
    epoch; None when no step worked."""
    per_epoch = -(-n_samples // case.batch_size)
    if steps >= per_epoch:
        epochs = min(steps // per_epoch, case.epochs)
        return n_samples, epochs, epochs * per_epoch
    if steps >= 1:
        return steps * case.batch_size, 1, steps
    return None


def check_train_loop(impl: ModuleType, case: TrainCase) -> list[Comparison]:
    """train equals the protocol's loop over the implementation's *own* network_gradients and
    sgd_momentum_step: batches X[0:bs], X[bs:2bs], … in order, velocity carried over, each
    batch's loss taken before its step. When the own steps fail part-way (a wrong step or
    gradient makes the run diverge and the step refuses the non-finite gradient), train is
    compared with them as far as they worked: over the whole epochs that worked, else over the
    first batches that did (the step's bug is its own item's). When no own step works (raise, time
    out, return garbage), there is no own loop to compare with: train must then give what a loop
    of correct steps gives (torch.optim.SGD) — a train that merely fails like its steps shows no
    work of its own and fails too. So must it when the own steps change nothing (zero gradients,
    a step that returns its input): a loop over them proves nothing."""
    net, X, Y = materialize(case.example)
    kwargs = _train_kwargs(case)
    _reference_training(net, X, Y, kwargs)
    states, own_losses, failure = _own_steps(impl, net, X, Y, case)
    own_layers = states[-1]
    if failure is not None:
        shorter = _steps_that_worked(case, X.shape[0], len(states) - 1)
        if shorter is None:
            return check_train(impl, case)
        # a loop whose own steps fail part-way (a step bug whose run diverges, so its step refuses
        # a non-finite gradient): train must follow them as far as they worked; the bug is its step's
        samples, epochs, steps = shorter
        X, Y, kwargs = X[:samples], Y[:samples], {**kwargs, "epochs": epochs}
        own_layers, own_losses = states[steps], own_losses[:steps]
    if _unchanged(own_layers, net["layers"]):
        return check_train(impl, case)
    layers, losses = _trained(impl, net, X, Y, kwargs)
    where = Where(oracle="own loop", function="train")
    out = [compare(where.at(quantity="batch_losses"), losses, own_losses, "autodiff")]
    return out + _compare_layers(where.at(quantity="trained"), layers, own_layers, "autodiff")


# ----------------------------------------------------------------------------- 5b. L2


def check_l2(impl: ModuleType, ex: Example) -> list[Comparison]:
    """With λ > 0 the loss and gradients equal PyTorch's (so the data-loss part around the L2
    term is right too), and against λ = 0 the implementation's own results differ by exactly
    (λ/2)·Σ‖W‖² in the loss, λ·W in each weight gradient and nothing in the biases."""
    net, X, Y = materialize(ex)
    value, grads = _network(impl, net, X, Y)
    value0, grads0 = _network(impl, {**net, "l2": 0.0}, X, Y)
    if bad := _misshapen(grads, net["layers"]) + _misshapen(grads0, net["layers"]):
        return bad
    ref_value, ref_grads = _oracles()["torch"].network_gradients(net, X, Y)
    reference = Where(oracle="torch", function="network_gradients", quantity=f"with λ = {net['l2']:g}")
    out = [compare(reference.at(quantity=f"loss value with λ = {net['l2']:g}"), value, ref_value, "autodiff")]
    out += _compare_layers(reference, grads, ref_grads, "autodiff")
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


# ----------------------------------------------------------------------------- 6. descent


DESCENT_STEP = 1e-6
DESCENT = Where(oracle="torch", function="network_gradients", quantity="descent along −gradient")


def check_descent(impl: ModuleType, ex: Example) -> list[Comparison]:
    """E(θ − η·g) < E(θ) for the step η = 1e-6·max(1, ‖θ‖∞)/‖g‖∞, E measured by the PyTorch reference."""
    net, X, Y = materialize(ex)
    _, grads = _network(impl, net, X, Y)
    ref = _oracles()["torch"]
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


# ----------------------------------------------------------------------------- fixed checks


def _within(where: Where, value: Any, low: float, high: float, what: str) -> Comparison:
    arr = np.asarray(value, dtype=np.float64)
    ok = bool(np.all((arr >= low - 1e-15) & (arr <= high + 1e-15)))
    return Comparison(
        where,
        ok,
        TOLERANCES["autodiff"],
        0.0,
        0.0,
        arr.shape,
        None if ok else f"gave {arr.ravel().tolist()} where {what} in [{low:g}, {high:g}] was expected",
        cause=None if ok else Cause.OUTSIDE_RANGE,
    )


def check_kinks(impl: ModuleType) -> list[Comparison]:
    """At a kink any subgradient is right: relu'(0) ∈ [0, 1], leaky_relu'(0) ∈ [0.01, 1],
    mae' at ŷ = y ∈ [−1, 1]/(N·K), mape' at ŷ = y ∈ [−100, 100]/(|y|·N·K)."""
    z, one = np.zeros((1, 3)), np.ones((1, 3))
    y = np.array([[1.0, -2.0], [0.5, 4.0]])
    return [
        _within(
            Where(function="activation_backward", component="relu", quantity="at z = 0"),
            call(impl, "activation_backward", "relu", z, one),
            0.0,
            1.0,
            "a subgradient",
        ),
        _within(
            Where(function="activation_backward", component="leaky_relu", quantity="at z = 0"),
            call(impl, "activation_backward", "leaky_relu", z, one),
            0.01,
            1.0,
            "a subgradient",
        ),
        _within(
            Where(function="loss_backward", component="mae", quantity="at ŷ = y, times N·K"),
            4 * np.asarray(call(impl, "loss_backward", "mae", y, y.copy())),
            -1.0,
            1.0,
            "a subgradient",
        ),
        _within(
            Where(function="loss_backward", component="mape", quantity="at ŷ = y, times |y|·N·K/100"),
            4 * np.abs(y) / 100 * np.asarray(call(impl, "loss_backward", "mape", y, y.copy())),
            -1.0,
            1.0,
            "a subgradient",
        ),
    ]


#: z far out in the tails: e^{±z} over- or underflows for |z| > 709, and the softmax rows have
#: maxima from −745 to 800, so a shift by anything but each row's own max loses a row.
LARGE_Z = np.array(
    [[-800.0, -40.0, 0.0, 40.0, 800.0], [700.0, 710.0, 705.0, 720.0, 690.0], [-745.0, -750.0, -700.0, -720.0, -800.0]]
)
LARGE_Z_ACTIVATIONS = ("sigmoid", "tanh", "softplus", "softmax")


def check_large_inputs(impl: ModuleType) -> list[Comparison]:
    """activation and activation_backward stay finite and match the references at |z| up to 800."""
    grad_a = np.linspace(-1.0, 1.0, LARGE_Z.size).reshape(LARGE_Z.shape)
    ref = _oracles()["jax"]
    out = []
    for name in LARGE_Z_ACTIVATIONS:
        a = call(impl, "activation", name, LARGE_Z.copy())
        grad_z = call(impl, "activation_backward", name, LARGE_Z.copy(), grad_a.copy())
        where = Where(oracle="jax", component=name, quantity="at |z| up to 800")
        out.append(compare(where.at(function="activation"), a, ref.activation(name, LARGE_Z), "autodiff"))
        out.append(
            compare(where.at(function="activation_backward"), grad_z, ref.activation_backward(name, LARGE_Z, grad_a), "autodiff")
        )
    return out


def check_bad_input_catalogue(impl: ModuleType) -> list[Comparison]:
    """check_bad_input on every kind of input, once each."""
    from gradverify.properties.bad_inputs import INPUT_KINDS, BadInputCase

    return [c for kind in INPUT_KINDS for c in check_bad_input(impl, BadInputCase(kind, 0))]


@dataclass(frozen=True)
class FixedCheck:
    name: str
    claim: str
    functions: tuple[str, ...]
    check: Callable[[ModuleType], list[Comparison]]
    tolerance: str


def _fixed_checks() -> dict[str, FixedCheck]:
    from gradverify.properties.worked_examples import WORKED_EXAMPLES

    checks = [
        FixedCheck(
            f"worked_example_{ex.name}",
            f"{ex.claim} ({ex.source})",
            ex.functions,
            ex.check,
            "published" if ex.name == "classic_network" else "autodiff",
        )
        for ex in WORKED_EXAMPLES.values()
    ]
    checks.append(
        FixedCheck(
            "bad_input_catalogue",
            "every kind of bad input raises ValueError naming the function; edge-of-allowed input is accepted",
            (),
            check_bad_input_catalogue,
            "autodiff",
        )
    )
    checks.append(
        FixedCheck(
            "large_inputs",
            "sigmoid, tanh, softplus and softmax and their derivatives stay finite and exact at |z| up to 800",
            ("activation", "activation_backward"),
            check_large_inputs,
            "autodiff",
        )
    )
    checks.append(
        FixedCheck(
            "kink_subgradients",
            "at relu/leaky_relu's z = 0 and mae/mape's ŷ = y the derivative is a subgradient",
            ("activation_backward", "loss_backward"),
            check_kinks,
            "autodiff",
        )
    )
    return {c.name: c for c in checks}


FIXED_CHECKS: dict[str, FixedCheck] = _fixed_checks()

# ----------------------------------------------------------------------------- 7. bad input


def check_bad_input(impl: ModuleType, case: Any) -> list[Comparison]:
    """Bad input raises ValueError with a message starting with the function's name; input at
    the edge of what is allowed is accepted."""
    from gradverify.properties.bad_inputs import INPUT_KINDS

    kind = INPUT_KINDS[case.kind]
    args, kwargs = case.call()
    where = Where(function=kind.function, quantity=f"with {kind.description}")
    if not callable(getattr(impl, kind.function, None)):
        return [holds(where)]  # a missing function fails the checks that need it
    try:
        result = call(impl, kind.function, *args, **kwargs)
    except ImplFailure as exc:
        if exc.cause is Cause.NOT_IMPLEMENTED:  # missing, not wrong: the runner skips or reports it as such
            return [exc.comparison()]
        if kind.valid:
            return [failed(where, Cause.REJECTED_GOOD_INPUT, f"this input is allowed, but it {exc.message}")]
        if exc.cause is Cause.RAISED and exc.exception == "ValueError":
            if exc.detail.startswith(f"{kind.function}:"):
                return [holds(where)]
            return [failed(where, Cause.WRONG_ERROR, f"{exc.message} — the message must start with '{kind.function}:'")]
        return [failed(where, Cause.WRONG_ERROR, f"{exc.message} where a ValueError was expected")]
    if not kind.valid:
        return [failed(where, Cause.ACCEPTED_BAD_INPUT, "accepted it, where the protocol asks for a ValueError")]
    if kind.same_as is None:
        return [holds(where)]
    got = _leaves(result)
    plain_args, plain_kwargs = kind.same_as((args, kwargs))
    want = _leaves(call(impl, kind.function, *plain_args, **plain_kwargs))
    wrong = [leaf for leaf in got if isinstance(leaf, np.ndarray) and leaf.dtype != np.float64]
    if wrong:
        return [failed(where, Cause.NOT_NUMBERS, f"returned an array of dtype {wrong[0].dtype} where float64 was expected")]
    if len(got) != len(want) or any(np.shape(a) != np.shape(b) for a, b in zip(got, want)):
        return [failed(where, Cause.WRONG_FORM, "gave a result of another form than for the plain equivalent input")]
    flat = [
        np.concatenate([np.ravel(np.asarray(x, dtype=np.float64)) for x in leaves] or [np.zeros(0)]) for leaves in (got, want)
    ]
    return [compare(where.at(quantity=f"{where.quantity} vs the plain equivalent input"), flat[0], flat[1], "autodiff")]


def _leaves(value: Any) -> list:
    """The numbers and arrays in a result, in order (dict values by sorted key)."""
    if isinstance(value, dict):
        return [leaf for key in sorted(value, key=str) for leaf in _leaves(value[key]) if not isinstance(value[key], str)]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, (np.ndarray, float, int, np.floating, np.integer)) and not isinstance(value, bool):
        return [value]
    return []


# ----------------------------------------------------------------------------- the registry


def _train_cases() -> st.SearchStrategy[TrainCase]:
    return strategies.train_cases()


PROPERTIES: dict[str, Property] = {
    p.name: p
    for p in [
        Property(
            "network_gradients_match_references",
            "network_gradients gives the loss value and every gradient that JAX and PyTorch autodiff give",
            ("network_gradients",),
            strategies.examples,
            check_network_gradients,
            "autodiff",
            data_sets=DATA_SETS,
            coverage=strategies.network_coverage,
            diagnosis="network",
        ),
        Property(
            "activations_match_references",
            "activation and activation_backward agree with JAX and PyTorch for every activation",
            ("activation", "activation_backward"),
            strategies.activation_cases,
            check_activations,
            "autodiff",
            coverage=strategies.activation_coverage,
            diagnosis="activation",
        ),
        Property(
            "losses_match_references",
            "loss and loss_backward agree with JAX and PyTorch for every loss",
            ("loss", "loss_backward"),
            strategies.loss_cases,
            check_losses,
            "autodiff",
            coverage=strategies.loss_coverage,
            diagnosis="loss",
        ),
        Property(
            "dense_matches_references",
            "dense_forward and dense_backward agree with JAX and PyTorch",
            ("dense_forward", "dense_backward"),
            strategies.dense_cases,
            check_dense,
            "autodiff",
            diagnosis="dense",
        ),
        Property(
            "gradients_match_own_finite_differences",
            "the gradient matches finite differences of the implementation's own loss value",
            ("network_gradients",),
            strategies.examples,
            check_finite_differences,
            "finite_diff",
            weight=0.5,
            coverage=strategies.network_coverage,
        ),
        Property(
            "batch_gradient_is_mean_of_sample_gradients",
            "the loss and gradient of a batch are the means of those of its samples",
            ("network_gradients",),
            lambda: strategies.examples(max_batch=16),
            check_batch_mean,
            "autodiff",
            weight=0.5,
        ),
        Property(
            "momentum_step_matches_torch_sgd",
            "sgd_momentum_step follows torch.optim.SGD(momentum, dampening=0) for three steps, inputs untouched",
            ("sgd_momentum_step",),
            _train_cases,
            check_momentum_step,
            "autodiff",
            weight=0.5,
            diagnosis="momentum_step",
        ),
        Property(
            "train_matches_torch_sgd",
            "train gives the batch losses and trained weights of torch.optim.SGD, batch for batch",
            ("train",),
            _train_cases,
            check_train,
            "autodiff",
            weight=0.25,
            illustration=longer,
        ),
        Property(
            "train_follows_own_steps",
            "train equals a loop of the implementation's own network_gradients and sgd_momentum_step",
            ("train", "network_gradients", "sgd_momentum_step"),
            _train_cases,
            check_train_loop,
            "autodiff",
            weight=0.25,
            diagnosis="train_loop",
            illustration=longer,
        ),
        Property(
            "l2_adds_half_lambda_norm",
            "with λ > 0 the loss and gradients equal PyTorch's, and L2 adds (λ/2)·Σ‖W‖² to the loss and λ·W to each "
            "weight gradient, nothing to the biases",
            ("network_gradients",),
            lambda: strategies.examples(l2="positive"),
            check_l2,
            "autodiff",
            weight=0.5,
            coverage=lambda: strategies.network_coverage(l2=0.01),
            diagnosis="l2",
        ),
        Property(
            "bad_input_is_rejected",
            "bad input raises ValueError naming the function; input at the edge of what is allowed is accepted",
            (),
            strategies.input_cases,
            check_bad_input,
            "autodiff",
            weight=0.5,
        ),
        Property(
            "descent_lowers_the_loss",
            "a small enough step along the negative gradient lowers the loss",
            ("network_gradients",),
            strategies.examples,
            check_descent,
            "autodiff",
            weight=0.5,
        ),
    ]
}
