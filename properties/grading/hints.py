"""Hints for a failing item: what the numbers say about the mistake, without the answer.

`hints(kind, target, failure, module)` looks at the failing comparisons (a constant
factor, a transpose, NaN) and, on the smallest failing case, asks the submission's own
functions a few more questions: is its gradient the derivative of its own loss (finite
differences)? is its forward value right? Each hint is one sentence. Nothing here may
raise: a submission that misbehaves while being diagnosed just gets fewer hints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradverify.calls import call
from gradverify.cases import ActivationCase, Example, LossCase, TrainCase, materialize
from gradverify.references import finite_diff
from gradverify.references.compare import Cause, compare


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= 1e-6 * max(1.0, abs(target))


def factor_hint(scale: float, n: int | None = None, k: int | None = None) -> str | None:
    """A sentence for got = scale × expected, when the scale means something."""
    sign = "The values have the wrong sign" if scale < 0 else ""
    size = abs(scale)
    if _near(size, 1.0):
        return f"{sign} (got = −1 × expected)." if sign else None
    reasons = []
    for name, count, what in (("N", n, "the mean over the batch"), ("K", k, "the mean over the outputs")):
        if count and count >= 2 and (_near(size, count) or _near(size, 1.0 / count)):
            reasons.append(f"{what} ({name} = {count} here)")
    if _near(size, 2.0) or _near(size, 0.5):
        reasons.append("a missing or extra ½ or 2")
    if _near(size, 100.0) or _near(size, 0.01):
        reasons.append("the factor 100 of a percentage")
    if not reasons:
        return None
    factor = f"{size:.4g}" if size >= 1 else f"1/{1 / size:.4g}"
    text = f"Off by a factor of {factor}: check " + ", or ".join(reasons) + "."
    return f"{sign} and are off by a factor of {factor}: check " + ", or ".join(reasons) + "." if sign else text


def _sizes(case: Any) -> tuple[int | None, int | None]:
    if isinstance(case, (ActivationCase, LossCase)):
        return case.rows, case.units
    example = case.example if isinstance(case, TrainCase) else case
    if isinstance(example, Example):
        return example.arch.batch, example.arch.sizes[-1]
    return None, None


def _generic(failure: Any) -> list[str]:
    n, k = _sizes(failure.case)
    out = []
    for c in failure.comparisons:
        if c.cause is Cause.TRANSPOSED:
            out.append("The shape is transposed: W has shape (out, in), and its gradient has the same shape.")
        elif c.cause is Cause.NAN:
            out.append("A NaN came out: look for an overflow (exp of a large number) or 0/0.")
        elif c.cause is Cause.INFINITE:
            out.append("An infinity came out: look for an overflow (exp of a large number) or a division by 0.")
        elif c.scale is not None and (hint := factor_hint(c.scale, n, k)):
            out.append(hint)
    return out


def _activation_hints(name: str, case: ActivationCase, module: Any) -> list[str]:
    from gradverify.references import torch_backend as ref

    z, g = case.arrays()
    a_ok = compare("a", call(module, "activation", name, z.copy()), ref.activation(name, z)).ok
    got = np.asarray(call(module, "activation_backward", name, z.copy(), g.copy()), dtype=np.float64)
    want = ref.activation_backward(name, z, g)
    if compare("d", got, want).ok:
        return [] if a_ok else [f"activation_backward is right, but activation('{name}', z) itself is not."]
    out = [] if not a_ok else [f"activation('{name}', z) is right; its derivative is not."]
    a = ref.activation(name, z)
    if name == "sigmoid" and compare("d", got, g * z * (1 - z)).ok:
        out.append("σ'(z) seems to be computed from z where it should be computed from σ(z).")
    elif name == "tanh" and compare("d", got, g * (1 - z * z)).ok:
        out.append("tanh'(z) seems to be computed from z where it should be computed from tanh(z).")
    elif compare("d", got, ref.activation_backward(name, z, np.ones_like(g))).ok and not np.allclose(g, 1):
        out.append("activation_backward must multiply by grad_a (it is a vector-Jacobian product).")
    elif name == "softmax" and compare("d", got, g * a * (1 - a)).ok:
        out.append("Only the diagonal of the softmax Jacobian is used; every output depends on every input.")
    return out


def _loss_hints(name: str, case: LossCase, module: Any) -> list[str]:
    from gradverify.references import torch_backend as ref

    y_pred, y_true = case.arrays()
    value = float(call(module, "loss", name, y_pred.copy(), y_true.copy()))
    grad = np.asarray(call(module, "loss_backward", name, y_pred.copy(), y_true.copy()), dtype=np.float64)
    value_cmp = compare("loss", value, ref.loss(name, y_pred, y_true))
    try:
        own = finite_diff.loss_gradient(module, name, y_pred, y_true)
    except finite_diff.NotSmoothHere:
        return []
    consistent = compare("fd", grad, own, "finite_diff").ok
    out = []
    if consistent and not value_cmp.ok:
        ratio = value / ref.loss(name, y_pred, y_true) if ref.loss(name, y_pred, y_true) else None
        text = "Your gradient matches finite differences of your own loss, but your loss differs from the reference"
        if ratio is not None:
            text += f" (it is {ratio:.4g}× the reference)"
        out.append(text + ".")
        if name == "sse" and ratio is not None and _near(ratio, 2.0):
            out.append("Check the ½ in ½·Σe².")
        elif ratio is not None and (hint := factor_hint(ratio, case.rows, case.units)):
            out.append(hint)
    elif not consistent and value_cmp.ok:
        out.append("Your loss value is right, but loss_backward is not its derivative (finite differences of your own loss disagree).")
    elif not consistent:
        out.append("loss_backward is not the derivative of your own loss (finite differences disagree), and the loss value is off too.")
    return out


def _network_hints(failure: Any, module: Any) -> list[str]:
    ex = failure.case
    net, X, Y = materialize(ex)
    value, grads = call(module, "network_gradients", net, X, Y)
    rng = np.random.default_rng(0)
    for i, layer in enumerate(net["layers"]):
        for key in ("W", "b"):
            g = np.asarray(grads[i][key], dtype=np.float64)
            if g.shape != layer[key].shape:
                return []
            u = rng.normal(size=g.shape)
            try:
                numeric = finite_diff.network_directional(module, net, X, Y, i, key, u)
            except finite_diff.NotSmoothHere:
                return []
            if not compare("fd", float(np.sum(g * u)), numeric, "finite_diff").ok:
                return [f"Your gradient for layers[{i}].{key} is not the derivative of your own loss value "
                        "(finite differences disagree): the backward pass is wrong there."]
    return ["Your gradients are the derivatives of your own loss value (finite differences agree), "
            "so it is the loss value — the forward pass or the loss — that differs from the reference."]


def hints(kind: str, target: str | None, failure: Any, module: Any) -> list[str]:
    """One-sentence hints for a failing item; [] when nothing clear can be said. A hint that names
    a cause replaces the generic factor hints its numbers also fit (a dampened velocity is off by
    1 − α, which is ½ when α = ½: the cause is the dampening, not a ½)."""
    if kind == "momentum_step" and (dampened := _dampening_hint(failure)):
        return [dampened]
    out = _generic(failure)
    try:
        if kind == "activation" and isinstance(failure.case, ActivationCase):
            out += _activation_hints(target, failure.case, module)
        elif kind == "loss" and isinstance(failure.case, LossCase):
            out += _loss_hints(target, failure.case, module)
        elif kind == "network" and isinstance(failure.case, Example):
            out += _network_hints(failure, module)
        elif kind == "momentum_step":
            out += _momentum_hints(failure)
        elif kind == "train_loop":
            out += _train_hints(failure)
    except Exception:  # noqa: BLE001 - a hint is optional; whatever the submission does here, grading goes on
        pass
    return list(dict.fromkeys(out))  # each hint once, in order


def _dampening_hint(failure: Any) -> str | None:
    """The velocity is (1 − α) × Δw on every failing velocity comparison of the first step: the
    update of torch's dampening (Δw = α·Δw − η·(1 − α)·∂E/∂w), not the protocol's."""
    case = failure.case
    if not isinstance(case, TrainCase) or not case.momentum or _near(case.momentum, 1.0):
        return None
    momentum = case.momentum
    velocity = [c for c in failure.comparisons if c.where.function == "sgd_momentum_step" and c.where.quantity == "velocity"
                and c.where.step in (None, 1)]
    if velocity and all(c.scale is not None and _near(c.scale, 1.0 - momentum) for c in velocity):
        return (f"The step is (1 − α) = {1 - momentum:g} times the protocol's: that is momentum with dampening "
                "(Δw = α·Δw − η·(1 − α)·∂E/∂w); the protocol has none: Δw(n) = α·Δw(n−1) − η·∂E/∂w.")
    return None


def _momentum_hints(failure: Any) -> list[str]:
    wrong = [c.where for c in failure.comparisons if c.where.function == "sgd_momentum_step"]
    quantities = {w.quantity for w in wrong}
    steps = {w.step for w in wrong}
    if quantities == {"velocity"}:
        return ["The new weights are right but the returned velocity is not: it must be Δw(n), the change just applied."]
    if steps and 1 not in steps:
        return ["The first step is right and later ones are not: check how the previous Δw enters (momentum·Δw(n−1))."]
    return []


def _train_hints(failure: Any) -> list[str]:
    for c in failure.comparisons:
        if c.where.quantity == "batch_losses" and c.cause is Cause.SHAPE:
            case = failure.case
            n = case.example.arch.batch
            batches = -(-n // case.batch_size)
            return [f"Expected {case.epochs} epoch(s) × {batches} batches = {case.epochs * batches} batch losses: "
                    f"with N = {n} and batch_size = {case.batch_size} the last batch is smaller, not dropped."]
    return []
