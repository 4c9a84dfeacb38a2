"""The checks of the components (activations, losses, the dense layer): against JAX and PyTorch
at drawn points, at their kinks, and far out in their tails.

A component is two functions, a value and its derivative. When one of them is missing (not
defined, or raises NotImplementedError) the other is still compared, and its comparisons come
first: a component whose part that exists is wrong is wrong (the item fails, and the composite
items leave it out), and one whose every part that exists is right is missing."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import numpy as np

from gradverify.properties.calls import ImplFailure, call, expect_float
from gradverify.properties.cases import ActivationCase, DenseCase, LossCase
from gradverify.properties.shared import oracles
from gradverify.references.compare import MISSING, TOLERANCES, Cause, Comparison, Where, compare


def _or_missing(part: Callable[[], Any]) -> Any:
    """part(), or the ImplFailure it raised when that says a function is missing (any other
    failure is raised)."""
    try:
        return part()
    except ImplFailure as failure:
        if failure.cause not in MISSING:
            raise
        return failure


def _parts(*parts: Callable[[], Any]) -> list[Any]:
    """Each part's result, or its ImplFailure when it is missing; the first part's ImplFailure
    raised when every part is missing (nothing to compare)."""
    results = [_or_missing(part) for part in parts]
    if all(isinstance(r, ImplFailure) for r in results):
        raise results[0]
    return results


def _missing(*results: Any) -> list[Comparison]:
    """One failing comparison per missing part, to follow the comparisons of the parts that exist."""
    return [r.comparison() for r in results if isinstance(r, ImplFailure)]


def _exists(result: Any) -> bool:
    return not isinstance(result, ImplFailure)


def check_activations(impl: ModuleType, case: ActivationCase) -> list[Comparison]:
    z, grad_a = case.arrays()
    a, grad_z = _parts(
        lambda: call(impl, "activation", case.name, z.copy()),
        lambda: call(impl, "activation_backward", case.name, z.copy(), grad_a.copy()),
    )
    out = []
    for name, oracle in oracles().items():
        where = Where(oracle=name, component=case.name)
        if _exists(a):
            out.append(compare(where.at(function="activation"), a, oracle.activation(case.name, z), "autodiff"))
        if _exists(grad_z):
            expected = oracle.activation_backward(case.name, z, grad_a)
            out.append(compare(where.at(function="activation_backward"), grad_z, expected, "autodiff"))
    return out + _missing(a, grad_z)


def check_losses(impl: ModuleType, case: LossCase) -> list[Comparison]:
    y_pred, y_true = case.arrays()
    value, grad = _parts(
        lambda: expect_float("loss", call(impl, "loss", case.name, y_pred.copy(), y_true.copy()), "the loss"),
        lambda: call(impl, "loss_backward", case.name, y_pred.copy(), y_true.copy()),
    )
    out = []
    for name, oracle in oracles().items():
        where = Where(oracle=name, component=case.name)
        if _exists(value):
            out.append(compare(where.at(function="loss"), value, oracle.loss(case.name, y_pred, y_true), "autodiff"))
        if _exists(grad):
            expected = oracle.loss_backward(case.name, y_pred, y_true)
            out.append(compare(where.at(function="loss_backward"), grad, expected, "autodiff"))
    return out + _missing(value, grad)


def _triple(back: Any) -> Any:
    """dense_backward's result, checked to be a triple."""
    if not isinstance(back, (tuple, list)) or len(back) != 3:
        raise ImplFailure("dense_backward", Cause.WRONG_FORM, "did not return the triple (grad_x, grad_W, grad_b)")
    return back


def check_dense(impl: ModuleType, case: DenseCase) -> list[Comparison]:
    x, W, b, grad_z = case.arrays()
    z, back = _parts(
        lambda: call(impl, "dense_forward", x.copy(), W.copy(), b.copy()),
        lambda: _triple(call(impl, "dense_backward", x.copy(), W.copy(), grad_z.copy())),
    )
    out = []
    for name, oracle in oracles().items():
        if _exists(z):
            out.append(
                compare(Where(oracle=name, function="dense_forward", quantity="z"), z, oracle.dense_forward(x, W, b), "autodiff")
            )
        if _exists(back):
            for what, got, expected in zip(("grad_x", "grad_W", "grad_b"), back, oracle.dense_backward(x, W, grad_z)):
                out.append(compare(Where(oracle=name, function="dense_backward", quantity=what), got, expected, "autodiff"))
    return out + _missing(z, back)


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


#: The components whose kink kink_subgradients checks, each on its own.
KINK_COMPONENTS = ("relu", "leaky_relu", "mae", "mape")


def _kink(impl: ModuleType, name: str) -> Comparison:
    """The derivative of `name` (KINK_COMPONENTS) at its kink, checked to be a subgradient."""
    z, one = np.zeros((1, 3)), np.ones((1, 3))
    y = np.array([[1.0, -2.0], [0.5, 4.0]])
    if name in ("relu", "leaky_relu"):
        return _within(
            Where(function="activation_backward", component=name, quantity="at z = 0"),
            call(impl, "activation_backward", name, z, one),
            0.0 if name == "relu" else 0.01,
            1.0,
            "a subgradient",
        )
    if name == "mae":
        return _within(
            Where(function="loss_backward", component="mae", quantity="at ŷ = y, times N·K"),
            4 * np.asarray(call(impl, "loss_backward", "mae", y, y.copy())),
            -1.0,
            1.0,
            "a subgradient",
        )
    return _within(
        Where(function="loss_backward", component="mape", quantity="at ŷ = y, times |y|·N·K/100"),
        4 * np.abs(y) / 100 * np.asarray(call(impl, "loss_backward", "mape", y, y.copy())),
        -1.0,
        1.0,
        "a subgradient",
    )


def check_kinks(impl: ModuleType, names: tuple[str, ...] = KINK_COMPONENTS) -> list[Comparison]:
    """At a kink any subgradient is right: relu'(0) ∈ [0, 1], leaky_relu'(0) ∈ [0.01, 1],
    mae' at ŷ = y ∈ [−1, 1]/(N·K), mape' at ŷ = y ∈ [−100, 100]/(|y|·N·K); for each of `names`."""
    return [_kink(impl, name) for name in KINK_COMPONENTS if name in names]


#: z far out in the tails: e^{±z} over- or underflows for |z| > 709, and the softmax rows have
#: maxima from −745 to 800, so a shift by anything but each row's own max loses a row.
LARGE_Z = np.array(
    [[-800.0, -40.0, 0.0, 40.0, 800.0], [700.0, 710.0, 705.0, 720.0, 690.0], [-745.0, -750.0, -700.0, -720.0, -800.0]]
)
LARGE_Z_ACTIVATIONS = ("sigmoid", "tanh", "softplus", "softmax")


def check_large_inputs(impl: ModuleType, names: tuple[str, ...] = LARGE_Z_ACTIVATIONS) -> list[Comparison]:
    """activation and activation_backward of each of `names` (LARGE_Z_ACTIVATIONS) stay finite and
    match the references at |z| up to 800."""
    grad_a = np.linspace(-1.0, 1.0, LARGE_Z.size).reshape(LARGE_Z.shape)
    ref = oracles()["jax"]
    out = []
    for name in (a for a in LARGE_Z_ACTIVATIONS if a in names):
        a = call(impl, "activation", name, LARGE_Z.copy())
        grad_z = call(impl, "activation_backward", name, LARGE_Z.copy(), grad_a.copy())
        where = Where(oracle="jax", component=name, quantity="at |z| up to 800")
        out.append(compare(where.at(function="activation"), a, ref.activation(name, LARGE_Z), "autodiff"))
        out.append(
            compare(where.at(function="activation_backward"), grad_z, ref.activation_backward(name, LARGE_Z, grad_a), "autodiff")
        )
    return out
