"""Hints for a failing item: what the numbers say about the mistake, without the answer.

`hints(kind, target, failure, module)` looks at the failing comparisons (a transpose, NaN) and,
on the smallest failing case, asks the submission's own functions a few more questions. Hints
that name a mistake (`Diagnosis`: a missing 1/N, dampened momentum, regularised biases, …) are
*diagnoses*: each is tested against the numbers on the failing case and on siblings of it that
tell the candidate causes apart (one more sample, one more output, another seed; for a training
run another learning rate, momentum and batch too), and is shown only when it fits every one of
them — at N = 2 a missing 1/N and a missing ½ look alike; at N = 3 they do not; on a case of one
entry any wrong number is a constant multiple of the right one. No fit, no hint: a wrong hint is worse than none. Each hint is one sentence,
a `Hint` (a str) whose `diagnosis` says which one it is. Nothing here may raise: a submission
that misbehaves while being diagnosed just gets fewer hints.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np

from gradverify.diagnoses import Hint
from gradverify.properties.calls import call
from gradverify.properties.cases import ActivationCase, DenseCase, Example, LossCase, TrainCase, materialize
from gradverify.properties.component_checks import check_activations
from gradverify.properties.shared import Rejected
from gradverify.properties.training_checks import check_momentum_step, check_train_loop
from gradverify.references import finite_diff
from gradverify.references.compare import MISSING, Cause, compare, constant_ratio
from gradverify.references.spec import LEAKY_SLOPE


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= 1e-6 * max(1.0, abs(target))


# --------------------------------------------------------------------------- scale laws

#: What a constant factor between got and expected can depend on: (name, f(N, K)) for N samples
#: and K outputs. The first law that fits every probe names the factor.
LAWS: tuple[tuple[str, Callable[[int, int], float]], ...] = (
    ("1", lambda n, k: 1.0),
    ("−1", lambda n, k: -1.0),
    ("N", lambda n, k: float(n)),
    ("1/N", lambda n, k: 1.0 / n),
    ("K", lambda n, k: float(k)),
    ("1/K", lambda n, k: 1.0 / k),
    ("2", lambda n, k: 2.0),
    ("½", lambda n, k: 0.5),
    ("100", lambda n, k: 100.0),
    ("1/100", lambda n, k: 0.01),
)
#: The laws of a quantity that no mean is taken in (an activation, a step, a training run): a factor
#: that follows N or K there is no constant one, and no law fits it.
CONSTANT_LAWS = tuple((name, f) for name, f in LAWS if name in ("1", "−1", "2", "½", "100", "1/100"))
#: The diagnosis each law points to.
LAW_DIAGNOSES = {
    "−1": "sign",
    "N": "batch_mean",
    "1/N": "batch_mean",
    "K": "output_mean",
    "1/K": "output_mean",
    "2": "half",
    "½": "half",
    "100": "percentage",
    "1/100": "percentage",
}


def law(ratios: list[tuple[int, int, float | None]], laws: tuple = LAWS) -> str | None:
    """The law (a name in `laws`) that gives got/expected on every probe (N, K, ratio), or None
    when no law fits them all (a ratio of None — no constant factor — fits none)."""
    for name, f in laws:
        if ratios and all(r is not None and _near(r, f(n, k)) for n, k, r in ratios):
            return name
    return None


def _sizes_text(probes: list[tuple[int, int]], *, outputs: bool = True) -> str:
    ns = sorted({n for n, _ in probes})
    ks = sorted({k for _, k in probes})
    text = "N = " + ", ".join(map(str, ns))
    return text + (" and K = " + ", ".join(map(str, ks)) if outputs and len(ks) > 1 else "")


#: Why a quantity can be `law` × what it should be: (value and gradient alike, the gradient alone).
_WHY: dict[str, tuple[str, str]] = {
    "N": ("a sum over the batch where the protocol takes the mean", "the 1/N of the mean over the batch is missing from it"),
    "1/N": ("divided by N (the batch size) once too often", "divided by N (the batch size) once too often"),
    "K": (
        "a sum over the outputs where the protocol takes the mean over all N·K entries",
        "the 1/K of the mean over the outputs is missing from it",
    ),
    "1/K": ("divided by K (the outputs) where the protocol divides by N only", "divided by K (the outputs) once too often"),
    "2": ("check the ½ (as in ½·Σe²) and the 2 of the derivative", "check the 2 of the derivative"),
    "½": ("check for an extra ½", "check for an extra ½"),
    "100": ("check the factor 100 of a percentage", "check the factor 100 of a percentage"),
    "1/100": ("check the factor 100 of a percentage", "check the factor 100 of a percentage"),
    "−1": ("the sign is flipped", "the sign is flipped"),
}


def scale_hint(value_law: str | None, grad_law: str | None, value: str, gradient: str, checked: str) -> list[Hint]:
    """The diagnosis when the value is `value_law` × the reference's and the gradient
    `grad_law` ×, on every probe; [] when either fits no law or both are right. `value` and
    `gradient` name them, with their verb ("loss value is", "gradients are")."""
    if value_law is None or grad_law is None or (value_law == grad_law == "1"):
        return []
    if value_law == grad_law:
        why = _WHY[value_law][0]
        return [
            Hint(
                f"Your {_noun(value)} and {_noun(gradient)} are both {value_law} × the reference's (checked at {checked}): {why}.",
                LAW_DIAGNOSES[value_law],
            )
        ]
    out = []
    for name, own, other, other_law in ((value, value_law, gradient, grad_law), (gradient, grad_law, value, value_law)):
        if own != "1":
            right = f" while your {other} right" if other_law == "1" else ""
            out.append(
                Hint(f"Your {name} {own} × the reference's{right} (checked at {checked}): {_WHY[own][1]}.", LAW_DIAGNOSES[own])
            )
    return out


def _noun(named: str) -> str:
    """'loss value is' -> 'loss value'"""
    return named.rsplit(" ", 1)[0]


# --------------------------------------------------------------------------- generic


def _generic(failure: Any) -> list[Hint]:
    """Observations on the failing comparisons: transposed, NaN, infinite."""
    out = []
    for c in failure.comparisons:
        if c.cause is Cause.TRANSPOSED:
            out.append(Hint("The shape is transposed: W has shape (out, in), and its gradient has the same shape.", "transposed"))
        elif c.cause is Cause.NAN:
            out.append(Hint("A NaN came out: look for an overflow (exp of a large number) or 0/0."))
        elif c.cause is Cause.INFINITE:
            out.append(Hint("An infinity came out: look for an overflow (exp of a large number) or a division by 0."))
    return out


def _scale_of(comparisons: list[Any]) -> float | None:
    """c when every failing comparison is a mismatch by the one constant factor c (none failing,
    another cause, or factors that differ: None)."""
    failing = [c for c in comparisons if not c.ok]
    scales = [c.scale if c.cause is Cause.MISMATCH else None for c in failing]
    first = scales[0] if scales else None
    if first is None or not all(s is not None and _near(s, first) for s in scales):
        return None
    return first


def _named(where: Any) -> str:
    """'activation_backward('tanh')', 'sgd_momentum_step's velocity'"""
    function = f"{where.function}('{where.component}')" if where.component else where.function
    return f"{function}'s {where.quantity}" if where.quantity else function


#: Why an activation, a step or a training run can be `law` × what it should be (CONSTANT_LAWS).
_CONSTANT_WHY: dict[str, str] = {
    "−1": "the sign is flipped",
    "2": "look for a factor 2 too many (or a ½ too few)",
    "½": "look for an extra ½ (or a missing 2)",
    "100": "check the factor 100 of a percentage",
    "1/100": "check the factor 100 of a percentage",
}


def _rechecked_factor(kind: str, failure: Any, module: Any) -> list[Hint]:
    """The factor diagnosis of an activation, a momentum step or a training run: every failing
    comparison is one constant law (CONSTANT_LAWS) × its expected value on the failing case and on
    each of its siblings, checked again (_RECHECKS); on a case of one entry any wrong number is a
    constant multiple of the right one, so one case alone says nothing."""
    probes = _probes(failure.case)
    scales: list[float | None] = []
    first: list[Any] = []
    for probe in probes:
        try:
            comparisons = _RECHECKS[kind](module, probe)
        except Rejected:  # the reference run diverged on this sibling: it cannot tell
            return []
        first = first or [c for c in comparisons if not c.ok]
        scales.append(_scale_of(comparisons))
        if scales[-1] is None:
            return []
    found = law([(1, 1, scale) for scale in scales], CONSTANT_LAWS)
    if found is None or found == "1":
        return []
    names = list(dict.fromkeys(_named(c.where) for c in first))
    verb = "is" if len(names) == 1 else "are"
    return [
        Hint(
            f"Your {' and '.join(names)} {verb} {found} × the reference's (checked on {_checked(probes)}): "
            f"{_CONSTANT_WHY[found]}.",
            LAW_DIAGNOSES[found],
        )
    ]


def _checked(probes: list[Any]) -> str:
    """The probes of an activation or a training run, in words."""
    if isinstance(probes[0], ActivationCase):
        return "z of shape " + ", ".join(f"({p.rows}, {p.units})" for p in probes)
    return "; ".join(f"seed {p.example.seed}, lr {p.lr:g}, N = {p.example.arch.batch}, batch_size {p.batch_size}" for p in probes)


def _probes(case: Any) -> list[Any]:
    """The failing case and siblings that tell causes apart: one more sample, one more output
    (components, a dense layer), or one more sample (networks: the weights stay, N changes), plus
    another seed; for a training run another seed at half the learning rate (a factor that follows
    η is no constant), then one more sample in a bigger batch."""
    if isinstance(case, (ActivationCase, LossCase)):
        return [case, replace(case, rows=case.rows + 1), replace(case, units=case.units + 1, seed=case.seed + 1)]
    if isinstance(case, DenseCase):
        return [case, replace(case, rows=case.rows + 1), replace(case, fan_out=case.fan_out + 1, seed=case.seed + 1)]
    if isinstance(case, Example):
        batch = case.arch.batch + 1 if case.arch.batch < 16 else case.arch.batch - 1
        return [case, replace(case, arch=replace(case.arch, batch=batch), seed=case.seed + 1)]
    if isinstance(case, TrainCase):
        ex = case.example
        other = replace(
            case,
            example=replace(ex, seed=ex.seed + 1),
            lr=case.lr / 2,
            momentum=(1 + case.momentum) / 2 if case.momentum else 0.0,
        )
        bigger = replace(ex, arch=replace(ex.arch, batch=ex.arch.batch + 1), seed=ex.seed + 2)
        return [case, other, replace(case, example=bigger, batch_size=case.batch_size + 1)]
    return [case]


#: What a probe returns when it cannot tell (e.g. no z < 0 to measure a leaky slope on).
NO_EVIDENCE = Hint("")  # told apart by identity, never shown


def _same(found: list[Hint | None]) -> list[Hint]:
    """The hint found on the first probe (the failing case), if every probe that can tell found
    the same cause."""
    first = found[0] if found else None
    if (
        first is None
        or first is NO_EVIDENCE
        or any(h is None or (h is not NO_EVIDENCE and h.diagnosis != first.diagnosis) for h in found)
    ):
        return []
    return [first]


def _leaky_slope(z: np.ndarray, values: np.ndarray, upstream: np.ndarray) -> float | None:
    """s when values = upstream where z > 0 and s·upstream where z < 0 (None: not of that form)."""
    negative, positive = z < 0, z > 0
    if not negative.any() or not np.allclose(values[positive], upstream[positive], rtol=1e-9, atol=1e-12):
        return None
    return constant_ratio(values[negative], upstream[negative])


def _activation_cause(name: str, case: ActivationCase, module: Any) -> Hint | None:
    """The diagnosis of a wrong activation or derivative on one case, or None."""
    from gradverify.references import torch_backend as ref

    z, g = case.arrays()
    a = np.asarray(call(module, "activation", name, z.copy()), dtype=np.float64)
    got = np.asarray(call(module, "activation_backward", name, z.copy(), g.copy()), dtype=np.float64)
    if name == "leaky_relu":
        if not np.any(z < 0):
            return NO_EVIDENCE
        slopes = {
            where: s
            for where, s in (("activation", _leaky_slope(z, a, z)), ("activation_backward", _leaky_slope(z, got, g)))
            if s is not None and not _near(s, LEAKY_SLOPE)
        }
        if slopes:
            where = " and ".join(f"{f} uses {s:.4g}" for f, s in slopes.items())
            return Hint(
                f"For z < 0, {where} as the slope of leaky_relu; the protocol's slope is {LEAKY_SLOPE:g} "
                f"(leaky_relu(z) = {LEAKY_SLOPE:g}·z, derivative {LEAKY_SLOPE:g}).",
                "leaky_slope",
            )
        return None
    s = ref.activation(name, z)
    if name == "sigmoid" and compare("d", got, g * z * (1 - z)).ok:
        return Hint("σ'(z) seems to be computed from z where it should be computed from σ(z).", "derivative_from_output")
    if name == "tanh" and compare("d", got, g * (1 - z * z)).ok:
        return Hint("tanh'(z) seems to be computed from z where it should be computed from tanh(z).", "derivative_from_output")
    if compare("d", got, ref.activation_backward(name, z, np.ones_like(g))).ok and not np.allclose(g, 1):
        return Hint("activation_backward must multiply by grad_a (it is a vector-Jacobian product).", "vjp_without_grad_a")
    if name == "softmax" and compare("d", got, g * s * (1 - s)).ok:
        return Hint(
            "Only the diagonal of the softmax Jacobian is used; every output depends on every input: "
            "∂s_k/∂z_j = s_k(δ_kj − s_j).",
            "softmax_diagonal",
        )
    return None


def _activation_hints(name: str, case: ActivationCase, module: Any) -> list[Hint]:
    from gradverify.references import torch_backend as ref

    z, g = case.arrays()
    a_ok = compare("a", call(module, "activation", name, z.copy()), ref.activation(name, z)).ok
    d_ok = compare("d", call(module, "activation_backward", name, z.copy(), g.copy()), ref.activation_backward(name, z, g)).ok
    if a_ok == d_ok:
        out = []
    else:
        out = [
            Hint(
                f"activation('{name}', z) is right; its derivative is not."
                if a_ok
                else f"activation_backward is right, but activation('{name}', z) itself is not."
            )
        ]
    return _same([_activation_cause(name, probe, module) for probe in _probes(case)]) + out


def _loss_hints(name: str, case: LossCase, module: Any) -> list[Hint]:
    """The scale diagnosis over the probes; when it finds none, what finite differences of the
    submission's own loss say on every probe (_derivative_hint; nothing when one is at a kink)."""
    from gradverify.references import torch_backend as ref

    probes = _probes(case)
    values, grads = [], []
    for probe in probes:
        y_pred, y_true = probe.arrays()
        value = call(module, "loss", name, y_pred.copy(), y_true.copy())
        grad = call(module, "loss_backward", name, y_pred.copy(), y_true.copy())
        values.append((probe.rows, probe.units, constant_ratio(value, ref.loss(name, y_pred, y_true))))
        grads.append((probe.rows, probe.units, constant_ratio(grad, ref.loss_backward(name, y_pred, y_true))))
    checked = _sizes_text([(p.rows, p.units) for p in probes])
    out = scale_hint(law(values), law(grads), "loss value is", "loss_backward is", checked)
    if out:  # the scale says it all: its sentence already says which of the two is right
        return out
    found = [_own_derivative(name, probe, module) for probe in probes]
    return _derivative_hint([f for f in found if f is not None], checked) if None not in found else []


def _own_derivative(name: str, case: LossCase, module: Any) -> tuple[bool, bool] | None:
    """(the loss value is the reference's, loss_backward is the derivative of the submission's
    own loss by finite differences) on one case; None at a kink, where they cannot tell."""
    from gradverify.references import torch_backend as ref

    y_pred, y_true = case.arrays()
    value = float(call(module, "loss", name, y_pred.copy(), y_true.copy()))
    grad = np.asarray(call(module, "loss_backward", name, y_pred.copy(), y_true.copy()), dtype=np.float64)
    try:
        own = finite_diff.loss_gradient(module, name, y_pred, y_true)
    except finite_diff.NotSmoothHere:
        return None
    return compare("loss", value, ref.loss(name, y_pred, y_true)).ok, compare("fd", grad, own, "finite_diff").ok


def _derivative_hint(found: list[tuple[bool, bool]], checked: str) -> list[Hint]:
    """What finite differences say when it holds on every probe in `found` ((value right,
    loss_backward its derivative) each): a loss value wrong with loss_backward its derivative; a
    loss value right with loss_backward not its derivative; or loss_backward not the derivative
    of the submission's own loss, with the value off too when it is off on every probe. A value
    right on some probes only (cce written as bce is right at K = 2 alone) is not said either way."""
    values = {value for value, _ in found}
    consistent = {same for _, same in found}
    if consistent == {True} and values == {False}:
        return [
            Hint(
                f"Your gradient matches finite differences of your own loss, but your loss differs from the reference "
                f"(checked at {checked}).",
                "own_loss",
            )
        ]
    if consistent != {False}:
        return []
    if values == {True}:
        return [
            Hint(
                f"Your loss value is right, but loss_backward is not its derivative (finite differences of your own loss "
                f"disagree; checked at {checked}).",
                "not_derivative",
            )
        ]
    off = ", and the loss value is off too" if values == {False} else ""
    return [
        Hint(f"loss_backward is not the derivative of your own loss (finite differences disagree; checked at {checked}){off}.")
    ]


#: Why a dense layer's output can be `law` × what it should be, where it differs from _WHY's: the
#: layer sums over the batch, the 1/N of the mean is in grad_z already (from the loss).
_DENSE_WHY: dict[str, str] = {
    "N": "multiplied by N (the batch size): dense_backward sums over the batch, and the 1/N of the loss's mean is in grad_z already",
    "1/N": "a mean over the batch where dense_backward sums: the 1/N of the loss's mean is in grad_z already",
    "K": "multiplied by the number of outputs: nothing in a dense layer depends on it",
    "1/K": "divided by the number of outputs: nothing in a dense layer depends on it",
}


def _dense_ratios(case: DenseCase, module: Any) -> dict[str, float | None]:
    """got/expected of dense_forward's z and of each gradient dense_backward returns, on one case
    (None where no constant factor explains got)."""
    from gradverify.references import torch_backend as ref

    x, W, b, grad_z = case.arrays()
    z = call(module, "dense_forward", x.copy(), W.copy(), b.copy())
    back = call(module, "dense_backward", x.copy(), W.copy(), grad_z.copy())
    got = {"dense_forward's z": z, **dict(zip(("grad_x", "grad_W", "grad_b"), back))}
    want = {
        "dense_forward's z": ref.dense_forward(x, W, b),
        **dict(zip(("grad_x", "grad_W", "grad_b"), ref.dense_backward(x, W, grad_z))),
    }
    return {what: constant_ratio(got[what], want[what]) for what in want}


def _dense_hints(case: DenseCase, module: Any) -> list[Hint]:
    """The scale diagnosis of dense_forward's z and of each of dense_backward's gradients, when
    one law fits it on every probe (N varies, then the outputs and the seed: at N = 2 a mean over
    the batch and a ½ look alike; at N = 3 they do not)."""
    probes = _probes(case)
    measured = [(probe.rows, probe.fan_out, _dense_ratios(probe, module)) for probe in probes]
    checked = _sizes_text([(p.rows, p.fan_out) for p in probes], outputs=False)
    out = []
    for what in measured[0][2]:
        found = law([(n, k, ratios[what]) for n, k, ratios in measured])
        if found is not None and found != "1":
            why = _DENSE_WHY.get(found, _WHY[found][1])
            noun = what if what.startswith("dense_forward") else f"dense_backward's {what}"
            out.append(Hint(f"Your {noun} is {found} × the reference's (checked at {checked}): {why}.", LAW_DIAGNOSES[found]))
    return out


def _flat(grads: Any) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(g[key], dtype=np.float64)) for g in grads for key in ("W", "b")])


def _network_scale(example: Example, module: Any) -> list[Hint]:
    """The scale diagnosis of network_gradients over the probes (N varies)."""
    from gradverify.references import torch_backend as ref

    probes = _probes(example)
    values, grads = [], []
    for probe in probes:
        net, X, Y = materialize(probe)
        value, got = call(module, "network_gradients", net, X, Y)
        want_value, want = ref.network_gradients(net, X, Y)
        n, k = probe.arch.batch, probe.arch.sizes[-1]
        values.append((n, k, constant_ratio(value, want_value)))
        grads.append((n, k, constant_ratio(_flat(got), _flat(want))))
    checked = _sizes_text([(p.arch.batch, p.arch.sizes[-1]) for p in probes], outputs=False)
    return scale_hint(law(values), law(grads), "loss value is", "gradients are", checked)


def _own_derivatives(example: Example, module: Any) -> tuple[int, str] | bool | None:
    """What finite differences of the submission's own loss value say on one example: the first
    (layer, "W" or "b") whose gradient is not its derivative; else whether the loss value is the
    reference's (True) or not (False); None where they cannot tell (a kink, a wrong shape)."""
    from gradverify.references import torch_backend as ref

    net, X, Y = materialize(example)
    value, grads = call(module, "network_gradients", net, X, Y)
    rng = np.random.default_rng(0)
    for i, layer in enumerate(net["layers"]):
        for key in ("W", "b"):
            g = np.asarray(grads[i][key], dtype=np.float64)
            if g.shape != layer[key].shape:
                return None
            u = rng.normal(size=g.shape)
            try:
                numeric = finite_diff.network_directional(module, net, X, Y, i, key, u)
            except finite_diff.NotSmoothHere:
                return None
            if not compare("fd", float(np.sum(g * u)), numeric, "finite_diff").ok:
                return i, key
    return compare("loss", value, ref.network_gradients(net, X, Y)[0]).ok


def _network_hints(failure: Any, module: Any) -> list[Hint]:
    """The scale diagnosis over the probes; when it finds none, what finite differences of the
    submission's own loss value say, when they say the same on every probe (_own_derivatives)."""
    probes = _probes(failure.case)
    out = _network_scale(failure.case, module)
    found = [_own_derivatives(probe, module) for probe in probes]
    if out or None in found or len(set(found)) != 1:
        return out
    checked = _sizes_text([(p.arch.batch, p.arch.sizes[-1]) for p in probes], outputs=False)
    if isinstance(found[0], tuple):
        i, key = found[0]
        return [
            Hint(
                f"Your gradient for layers[{i}].{key} is not the derivative of your own loss value (finite differences "
                f"disagree; checked at {checked}): the backward pass is wrong there.",
                "backward_pass",
            )
        ]
    if found[0] is False:
        return [
            Hint(
                f"Your gradients are the derivatives of your own loss value (finite differences agree; checked at "
                f"{checked}), so it is the loss value — the forward pass or the loss — that differs from the reference.",
                "forward_pass",
            )
        ]
    return []


def _l2_terms(example: Example, module: Any) -> tuple[int, float | None, float | None, float | None, float | None]:
    """On one example with λ > 0, the submission's L2 term measured against the protocol's:
    (N, a, a_b, c, c_b) with gradient(λ) − gradient(0) = c·λ·W for the weights and c_b·λ·b for
    the biases (0 when untouched), and loss(λ) − loss(0) = a·(λ/2)·Σ‖W‖², or = a_b·(λ/2)·Σ‖W‖² +
    c_b·(λ/2)·Σ‖b‖² when the biases' term is in the loss too; None where no constant fits."""
    net, X, Y = materialize(example)
    lam = net["l2"]
    value, grads = call(module, "network_gradients", net, X, Y)
    value0, grads0 = call(module, "network_gradients", {**net, "l2": 0.0}, X, Y)
    layers = net["layers"]
    dW = np.concatenate([np.ravel(np.asarray(g["W"], float) - np.asarray(g0["W"], float)) for g, g0 in zip(grads, grads0)])
    db = np.concatenate([np.ravel(np.asarray(g["b"], float) - np.asarray(g0["b"], float)) for g, g0 in zip(grads, grads0)])
    W = np.concatenate([np.ravel(layer["W"]) for layer in layers])
    b = np.concatenate([np.ravel(layer["b"]) for layer in layers])
    c = constant_ratio(dW, lam * W)
    c_b = 0.0 if np.allclose(db, 0.0, atol=1e-12) else constant_ratio(db, lam * b)
    bias_term = 0.0 if c_b is None else c_b * 0.5 * lam * float(b @ b)
    penalty = float(value) - float(value0)
    a, a_b = (constant_ratio(penalty - term, 0.5 * lam * float(W @ W)) for term in (0.0, bias_term))
    return example.arch.batch, a, a_b, c, c_b


def _l2_hints(example: Example, module: Any) -> list[Hint]:
    """Regularised biases, an L2 term divided by N, or a ½ too many or too few, when the numbers
    fit on every probe (N varies, so 1/N and ½ part at N = 3)."""
    if not example.arch.l2 > 0:
        return []
    terms = [_l2_terms(probe, module) for probe in _probes(example)]
    checked = _sizes_text([(n, 0) for n, *_ in terms], outputs=False)
    gradient = law([(n, 1, c) for n, _, _, c, _ in terms])
    penalty = law([(n, 1, a) for n, a, *_ in terms]) or law([(n, 1, a_b) for n, _, a_b, *_ in terms])
    biases = "0" if all(c_b == 0.0 for *_, c_b in terms) else law([(n, 1, c_b) for n, *_, c_b in terms])
    out = []
    if biases not in (None, "0"):
        added = "λ·b" if biases == "1" else f"{biases} × λ·b"
        out.append(
            Hint(
                f"Your bias gradients get {added} added with L2 (checked at {checked}): the protocol's L2 term "
                "(λ/2)·Σ‖W‖² regularises the weights only, so the biases' gradients do not change with λ.",
                "l2_on_biases",
            )
        )
    if penalty is None or gradient is None or penalty == gradient == "1":
        return out
    wrong = [what for what, which in (("the L2 term in your loss", penalty), ("its gradient", gradient)) if which != "1"]
    wrong[0] = wrong[0][0].upper() + wrong[0][1:]
    factor = penalty if penalty != "1" else gradient
    if {penalty, gradient} <= {"1", "1/N"}:
        out.append(
            Hint(
                f"{' and '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} divided by N, the batch size "
                f"(checked at {checked}): the protocol adds (λ/2)·Σ‖W‖² to each batch's loss and λ·W to the weight "
                "gradients, not averaged over the samples.",
                "l2_over_n",
            )
        )
    elif {penalty, gradient} <= {"1", "2", "½"}:
        out.append(
            Hint(
                f"{' and '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} {factor} × the protocol's "
                f"(checked at {checked}): check the ½ of the L2 term: (λ/2)·Σ‖W‖² in the loss, whose derivative "
                "is λ·W.",
                "l2_half",
            )
        )
    return out


#: The kinds whose factor is measured by checking the failing case's siblings again
#: (_rechecked_factor), each with its check; the others measure their scale law themselves.
_RECHECKS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "activation": check_activations,
    "momentum_step": check_momentum_step,
    "train_loop": check_train_loop,
}


def hints(kind: str, target: str | None, failure: Any, module: Any) -> list[Hint]:
    """One-sentence hints for a failing item; [] when nothing clear can be said. A diagnosis that
    fits replaces the factor diagnosis (a dampened velocity is off by 1 − α, which is ½ when
    α = ½: the cause is the dampening, not a ½); every diagnosis holds on the failing case's
    siblings (_probes) or is not given. A function not defined or not implemented gets none:
    there is nothing of it to diagnose."""
    if failure.comparisons and all(c.cause in MISSING for c in failure.comparisons):
        return []
    if kind == "layer":
        from gradverify.layer_hints import layer_hints

        return layer_hints(failure, module)
    if kind == "optim":
        from gradverify.optim_hints import optim_hints

        return optim_hints(failure, module)
    out = _generic(failure)
    try:
        if kind == "momentum_step" and (dampened := _dampening_hint(failure, module)):
            return [dampened]
        if kind == "activation" and target is not None and isinstance(failure.case, ActivationCase):
            found = _activation_hints(target, failure.case, module)
        elif kind == "loss" and target is not None and isinstance(failure.case, LossCase):
            found = _loss_hints(target, failure.case, module)
        elif kind == "dense" and isinstance(failure.case, DenseCase):
            found = _dense_hints(failure.case, module)
        elif kind == "network" and isinstance(failure.case, Example):
            found = _network_hints(failure, module)
        elif kind == "l2" and isinstance(failure.case, Example):
            found = _l2_hints(failure.case, module)
        elif kind == "momentum_step":
            found = _momentum_hints(failure)
        elif kind == "train_loop":
            found = _train_hints(failure)
        else:
            found = []
        if kind in _RECHECKS and failure.case is not None and not any(h.diagnosis for h in found):
            found += _rechecked_factor(kind, failure, module)
    except Exception:  # noqa: BLE001 - a hint is optional; whatever the submission does here, grading goes on
        found = []
    return list(dict.fromkeys(out + found))  # each hint once, in order


def _dampened(momentum: float, comparisons: list[Any]) -> bool:
    """The velocity is (1 − α) × Δw on every failing velocity comparison of the first step."""
    velocity = [
        c
        for c in comparisons
        if not c.ok and c.where.function == "sgd_momentum_step" and c.where.quantity == "velocity" and c.where.step in (None, 1)
    ]
    return bool(velocity) and all(c.scale is not None and _near(c.scale, 1.0 - momentum) for c in velocity)


def _dampening_hint(failure: Any, module: Any) -> Hint | None:
    """The first step's velocity is (1 − α) × Δw on the failing case and on its siblings (another
    seed, another learning rate): the update of torch's dampening (Δw = α·Δw − η·(1 − α)·∂E/∂w),
    not the protocol's."""
    case = failure.case
    if not isinstance(case, TrainCase) or not case.momentum or _near(case.momentum, 1.0):
        return None
    momentum = case.momentum
    if not _dampened(momentum, failure.comparisons):
        return None
    if not all(_dampened(probe.momentum, check_momentum_step(module, probe)) for probe in _probes(case)[1:]):
        return None
    return Hint(
        f"The step is (1 − α) = {1 - momentum:g} times the protocol's: that is momentum with dampening "
        "(Δw = α·Δw − η·(1 − α)·∂E/∂w); the protocol has none: Δw(n) = α·Δw(n−1) − η·∂E/∂w.",
        "dampening",
    )


def _momentum_hints(failure: Any) -> list[Hint]:
    wrong = [c.where for c in failure.comparisons if c.where.function == "sgd_momentum_step" and not c.ok]
    quantities = {w.quantity for w in wrong}
    steps = {w.step for w in wrong if w.step is not None}
    if quantities == {"velocity"}:
        return [Hint("The new weights are right but the returned velocity is not: it must be Δw(n), the change just applied.")]
    if steps and 1 not in steps:
        return [Hint("The first step is right and later ones are not: check how the previous Δw enters (momentum·Δw(n−1)).")]
    return []


def _train_hints(failure: Any) -> list[Hint]:
    for c in failure.comparisons:
        if c.where.quantity == "batch_losses" and c.cause is Cause.SHAPE:
            case = failure.case
            n = case.example.arch.batch
            batches = -(-n // case.batch_size)
            return [
                Hint(
                    f"Expected {case.epochs} epoch(s) × {batches} batches = {case.epochs * batches} batch losses: "
                    f"with N = {n} and batch_size = {case.batch_size} the last batch is smaller, not dropped."
                )
            ]
    return []
