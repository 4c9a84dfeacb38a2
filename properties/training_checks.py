"""The checks of training: sgd_momentum_step against torch.optim.SGD, and train against
torch.optim.SGD and against a loop of the implementation's own steps."""

from __future__ import annotations

from dataclasses import replace
from types import ModuleType
from typing import Any

import numpy as np

from gradverify.properties.calls import ImplFailure, call, expect_layers, expect_pair
from gradverify.properties.cases import TrainCase, materialize
from gradverify.properties.shared import Rejected, arrays_of, compare_layers, network_gradients_of, oracles, unmodified
from gradverify.references.compare import Cause, Comparison, Where, compare, failed


def _keys(dicts: list[dict]) -> list[list]:
    """Each dict's keys, sorted: the entries a returned net or layer must keep, no more, no less."""
    return [sorted(d, key=str) for d in dicts]


def _text(value: Any) -> str | None:
    """`value` if it is a str, else None: what an entry that must stay a name is compared as."""
    return value if isinstance(value, str) else None


#: Steps a momentum check takes.
MOMENTUM_STEPS = 3


def momentum_gradients(case: TrainCase, layers: list[dict]) -> list[list[dict]]:
    """The fixed gradients of each of a momentum check's steps: per layer a W and a b of the
    layer's shapes, drawn from the case's seed."""
    rng = np.random.default_rng(case.example.seed ^ 0xF00D)
    return [[{key: rng.normal(size=layer[key].shape) for key in ("W", "b")} for layer in layers] for _ in range(MOMENTUM_STEPS)]


def check_momentum_step(impl: ModuleType, case: TrainCase) -> list[Comparison]:
    """Three consecutive steps with fixed gradients, each side fed its own velocity."""
    net, _, _ = materialize(case.example)
    torch_ref = oracles()["torch"]
    params_impl = params_ref = net["layers"]
    velocity_impl = velocity_ref = None
    out = []
    for step, grads in enumerate(momentum_gradients(case, net["layers"])):
        before = arrays_of(params_impl) + arrays_of(grads) + (arrays_of(velocity_impl) if velocity_impl else [])
        args = (params_impl, grads, velocity_impl)
        result = call(impl, "sgd_momentum_step", *args, lr=case.lr, momentum=case.momentum)
        new_params, new_velocity = expect_pair("sgd_momentum_step", result, "(new_params, new_velocity)")
        new_params = expect_layers("sgd_momentum_step", new_params, len(net["layers"]), "new_params")
        new_velocity = expect_layers("sgd_momentum_step", new_velocity, len(net["layers"]), "new_velocity")
        after = arrays_of(params_impl) + arrays_of(grads) + (arrays_of(velocity_impl) if velocity_impl else [])
        params_ref, velocity_ref = torch_ref.sgd_momentum_step(
            params_ref, grads, velocity_ref, lr=case.lr, momentum=case.momentum
        )
        where = Where(oracle="torch.optim.SGD", function="sgd_momentum_step", step=step + 1)
        out += compare_layers(where.at(quantity="new_params"), new_params, params_ref, "autodiff")
        out += compare_layers(where.at(quantity="velocity"), new_velocity, velocity_ref, "autodiff")
        out += unmodified(Where(function="sgd_momentum_step", step=step + 1, quantity="inputs"), before, after)
        # a returned 'activation' of any type (an array, even) is compared as the text it must be
        kept = [_text(p.get("activation")) for p in new_params] == [p["activation"] for p in net["layers"]]
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
    ref_net, ref_losses = oracles()["torch"].train(net, X, Y, **kwargs)
    final = arrays_of(ref_net["layers"])
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
        return all(np.array_equal(np.asarray(a, dtype=np.float64), b) for a, b in zip(arrays_of(layers), arrays_of(initial)))
    except (TypeError, ValueError):
        return True


def train_kwargs(case: TrainCase) -> dict:
    """The keyword arguments a training check calls train with."""
    return dict(lr=case.lr, momentum=case.momentum, batch_size=case.batch_size, epochs=case.epochs)


#: Epochs of the longer run whose batch losses a failing training check's picture shows.
LONGER_EPOCHS = 20


def longer(case: TrainCase) -> TrainCase:
    """The failing case trained for LONGER_EPOCHS epochs (more if it has more): a shrunk
    counterexample trains for a batch or two, too few for its loss curves to part visibly."""
    return replace(case, epochs=max(case.epochs, LONGER_EPOCHS))


def check_train(impl: ModuleType, case: TrainCase) -> list[Comparison]:
    net, X, Y = materialize(case.example)
    before = arrays_of(net["layers"])
    kwargs = train_kwargs(case)
    ref_net, ref_losses = _reference_training(net, X, Y, kwargs)
    layers, losses = _trained(impl, net, X, Y, kwargs)
    where = Where(oracle="torch.optim.SGD", function="train")
    out = [compare(where.at(quantity="batch_losses"), losses, ref_losses, "autodiff")]
    out += compare_layers(where.at(quantity="trained"), layers, ref_net["layers"], "autodiff")
    out += unmodified(Where(function="train", quantity="net"), before, arrays_of(net["layers"]))
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
                value, grads = network_gradients_of(impl, {**net, "layers": layers}, X[rows], Y[rows])
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
    kwargs = train_kwargs(case)
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
    return out + compare_layers(where.at(quantity="trained"), layers, own_layers, "autodiff")
