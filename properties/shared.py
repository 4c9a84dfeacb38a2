"""What the checks share: the oracles, the exceptions a check raises instead of a verdict, and the
network's gradients called, compared layer by layer and its inputs checked unmodified.

Oracles: JAX and PyTorch (references/), imported on first use. Each comparison says what it is
about as a `Where` (oracle, function, component, layer, parameter, step, quantity); its label,
e.g. `jax · layers[1].W`, is rendered from those fields.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from gradverify.properties.calls import call, expect_float, expect_layers, expect_pair
from gradverify.references.compare import TOLERANCES, Cause, Comparison, Where, compare


def oracles() -> dict[str, ModuleType]:
    """The autodiff references, imported on first use (JAX ~0.5 s, PyTorch ~1 s)."""
    from gradverify.references import jax_backend, torch_backend

    return {"jax": jax_backend, "torch": torch_backend}


class Rejected(Exception):
    """The case cannot be checked (it sits on a kink, at a stationary point, or training diverged).
    Under hypothesis it becomes a rejection; on replay, a note."""


class Counterexample(Exception):
    """A check found a failing case other than the one it was given (one of its data sets)."""

    def __init__(self, case: Any, comparisons: list[Comparison]):
        super().__init__(case)
        self.case = case
        self.comparisons = comparisons


def network_gradients_of(impl: ModuleType, net: dict, X: np.ndarray, Y: np.ndarray) -> tuple[float, list[dict]]:
    """impl.network_gradients, its result checked for form."""
    value, grads = expect_pair("network_gradients", call(impl, "network_gradients", net, X, Y), "(loss_value, grads)")
    value = expect_float("network_gradients", value, "loss_value")
    return value, expect_layers("network_gradients", grads, len(net["layers"]), "grads")


def compare_layers(where: Where, got: list[dict], expected: list[dict], tol: str) -> list[Comparison]:
    """One comparison per layer and parameter, each at `where` with its layer and parameter filled in."""
    return [
        compare(where.at(layer=i, parameter=key), g[key], e[key], tol)
        for i, (g, e) in enumerate(zip(got, expected))
        for key in ("W", "b")
    ]


def unmodified(where: Where, before: list[np.ndarray], after: list[np.ndarray]) -> list[Comparison]:
    """[] when the inputs hold the same values after the call; else a failing comparison
    (the protocol forbids modifying inputs)."""
    for i, (b, a) in enumerate(zip(before, after)):
        if not np.array_equal(a, b, equal_nan=True):
            c = compare(where.at(quantity=f"{where.quantity or 'input'} [{i}] unmodified"), a, b, TOLERANCES["autodiff"])
            c.ok, c.cause = False, Cause.MODIFIED_INPUT
            c.message = "modified its input in place (the protocol says inputs are not modified)"
            return [c]
    return []


def arrays_of(layers: list[dict]) -> list[np.ndarray]:
    """Copies of every layer's W and b in turn, as float64 arrays: what the inputs held before a call."""
    return [np.array(layer[key], dtype=np.float64, copy=True) for layer in layers for key in ("W", "b")]
