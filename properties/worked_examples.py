"""Worked examples from the literature, computed through the protocol functions.

Each example takes an implementation of the backprop protocol (a module) and
returns `Comparison`s, so the same checks serve the tests and `gradverify verify`
(the fixed checks `worked_example_*` of gradverify.properties.checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Callable, TypedDict

import numpy as np

from gradverify.properties.calls import call
from gradverify.references.compare import Comparison, Where, compare


@dataclass(frozen=True)
class WorkedExample:
    name: str
    claim: str
    source: str
    check: Callable[[ModuleType], list[Comparison]]
    #: the protocol functions it goes through
    functions: tuple[str, ...]
    #: the components it needs (properties/scope.py)
    needs: tuple[str, ...] = ()
    #: the components it checks one by one (its check then takes names=: those in scope)
    each: tuple[str, ...] = ()


class Layer(TypedDict):
    """One layer's parameters as the protocol passes them (docs/protocol.md)."""

    W: np.ndarray
    b: np.ndarray
    activation: str


# The classic 2-2-2 sigmoid network with ½·SSE (Mazur, "A Step by Step
# Backpropagation Example", 2015). W[j, i] = w_ji: row j receives, column i sends.
CLASSIC_NET = {
    "layers": [
        {"W": np.array([[0.15, 0.20], [0.25, 0.30]]), "b": np.array([0.35, 0.35]), "activation": "sigmoid"},
        {"W": np.array([[0.40, 0.45], [0.50, 0.55]]), "b": np.array([0.60, 0.60]), "activation": "sigmoid"},
    ],
    "loss": "sse",
    "l2": 0.0,
}
CLASSIC_X = np.array([[0.05, 0.10]])
CLASSIC_Y = np.array([[0.01, 0.99]])
CLASSIC_LR = 0.5
CLASSIC_ERROR = 0.298371109
# Weights after one step, as published: w1..w4 into the hidden layer, w5..w8 into the output.
CLASSIC_W_AFTER = {
    "w1": (0, (0, 0), 0.149780716),
    "w2": (0, (0, 1), 0.19956143),
    "w3": (0, (1, 0), 0.24975114),
    "w4": (0, (1, 1), 0.29950229),
    "w5": (1, (0, 0), 0.35891648),
    "w6": (1, (0, 1), 0.408666186),
    "w7": (1, (1, 0), 0.511301270),
    "w8": (1, (1, 1), 0.561370121),
}


def classic_network(impl: ModuleType) -> list[Comparison]:
    """The total error before the step and every weight after one step of η = 0.5."""
    error, grads = call(impl, "network_gradients", CLASSIC_NET, CLASSIC_X, CLASSIC_Y)
    out = [
        compare(
            Where(oracle="published", function="network_gradients", quantity="E_total before the step"),
            error,
            CLASSIC_ERROR,
            "published",
        )
    ]
    params, _ = call(impl, "sgd_momentum_step", CLASSIC_NET["layers"], grads, None, lr=CLASSIC_LR, momentum=0.0)
    for name, (layer, idx, value) in CLASSIC_W_AFTER.items():
        out.append(
            compare(
                Where(
                    oracle="published",
                    function="sgd_momentum_step",
                    quantity=f"{name} = W{list(idx)} after the step",
                    layer=layer,
                ),
                params[layer]["W"][idx],
                value,
                "published",
            )
        )
    return out


def gradient_descent_quartic(impl: ModuleType) -> list[Comparison]:
    """Descent from x = 6 with step 0.01 on f(x) = x⁴ − 3x³ + 2, f'(x) = 4x³ − 9x², through
    sgd_momentum_step, stops at the local minimum x = 9/4 (f'(9/4) = 0, f''(9/4) > 0)."""
    params: list[Layer] = [{"W": np.array([[6.0]]), "b": np.array([0.0]), "activation": "identity"}]
    for _ in range(10_000):
        x = params[0]["W"][0, 0]
        grads = [{"W": np.array([[4 * x**3 - 9 * x**2]]), "b": np.array([0.0])}]
        params, _ = call(impl, "sgd_momentum_step", params, grads, None, lr=0.01, momentum=0.0)
        if abs(params[0]["W"][0, 0] - x) < 1e-12:
            break
    return [
        compare(Where(function="sgd_momentum_step", quantity="x where descent stops"), params[0]["W"][0, 0], 2.25, "autodiff")
    ]


def softmax_cce_gradient(impl: ModuleType) -> list[Comparison]:
    """softmax followed by cce: ∂E/∂z = (ŷ − t)/N, for one-hot and soft labels."""
    z = np.array([[2.0, 1.0, 0.1], [-1.0, 0.5, 3.0], [0.0, 0.0, 0.0], [5.0, -5.0, 1.0]])
    labels = {
        "one-hot": np.eye(3)[[0, 2, 1, 1]],
        "soft": np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [1 / 3, 1 / 3, 1 / 3], [0.0, 0.5, 0.5]]),
    }
    out = []
    for kind, t in labels.items():
        y = call(impl, "activation", "softmax", z)
        grad_z = call(impl, "activation_backward", "softmax", z, call(impl, "loss_backward", "cce", y, t))
        expected = (np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) - t) / len(z)
        out.append(
            compare(
                Where(
                    function="activation_backward", component="softmax", quantity=f"after cce: ∂E/∂z = (ŷ − t)/N, {kind} labels"
                ),
                grad_z,
                expected,
                "autodiff",
            )
        )
    return out


#: The activations whose derivative activation_derivative_identities checks, each on its own.
IDENTITY_ACTIVATIONS = ("sigmoid", "tanh")


def activation_derivative_identities(impl: ModuleType, names: tuple[str, ...] = IDENTITY_ACTIVATIONS) -> list[Comparison]:
    """σ'(z) = σ(z)(1 − σ(z)) and tanh'(z) = 1 − tanh²(z), from each function's own value; for
    each of `names`."""
    z = np.linspace(-6.0, 6.0, 25).reshape(5, 5)
    ones = np.ones_like(z)
    identities = {"sigmoid": ("vs σ(z)(1 − σ(z))", lambda s: s * (1 - s)), "tanh": ("vs 1 − tanh²(z)", lambda t: 1 - t * t)}
    out = []
    for name in (a for a in IDENTITY_ACTIVATIONS if a in names):
        quantity, derivative = identities[name]
        value = call(impl, "activation", name, z)
        out.append(
            compare(
                Where(function="activation_backward", component=name, quantity=quantity),
                call(impl, "activation_backward", name, z, ones),
                derivative(value),
                "autodiff",
            )
        )
    return out


WORKED_EXAMPLES: dict[str, WorkedExample] = {
    ex.name: ex
    for ex in [
        WorkedExample(
            "classic_network",
            "The classic 2-2-2 sigmoid network: error 0.298371109 and every weight after one step of η = 0.5",
            "Mazur, A Step by Step Backpropagation Example (2015)",
            classic_network,
            ("network_gradients", "sgd_momentum_step"),
            needs=("sigmoid", "sse"),
        ),
        WorkedExample(
            "gradient_descent_quartic",
            "Descent from x = 6, step 0.01, on f'(x) = 4x³ − 9x² stops at x = 2.25",
            "Wikipedia, Gradient descent (worked example)",
            gradient_descent_quartic,
            ("sgd_momentum_step",),
        ),
        WorkedExample(
            "softmax_cce_gradient",
            "softmax then cce: the gradient at the pre-activation is (ŷ − t)/N",
            "Bishop, Pattern Recognition and Machine Learning (2006), ch. 4",
            softmax_cce_gradient,
            ("activation", "activation_backward", "loss_backward"),
            needs=("softmax", "cce"),
        ),
        WorkedExample(
            "activation_derivative_identities",
            "σ' = σ(1 − σ) and tanh' = 1 − tanh²",
            "Haykin, Neural Networks and Learning Machines (2009), ch. 4",
            activation_derivative_identities,
            ("activation", "activation_backward"),
            each=IDENTITY_ACTIVATIONS,
        ),
    ]
}
