"""The protocol's specification as data: its functions and one table per kind of component.

Everything that checks an implementation reads these tables — both oracles, finite
differences, the strategies, the cases and the rubric — and the bundled impl is tested
against them (tests/test_spec.py), so the verifier never takes its list of components
from the implementation it verifies. The math of each entry is in docs/protocol.md.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The functions an implementation of the protocol defines.
PROTOCOL_FUNCTIONS: tuple[str, ...] = (
    "activation",
    "activation_backward",
    "loss",
    "loss_backward",
    "dense_forward",
    "dense_backward",
    "network_gradients",
    "sgd_momentum_step",
    "train",
)

#: leaky_relu(z) = z for z > 0, LEAKY_SLOPE·z otherwise.
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class ActivationSpec:
    """a = φ(z), elementwise unless `rowwise`."""

    formula: str
    derivative: str
    #: not differentiable at z = 0 (any subgradient is accepted there)
    kink: bool = False
    #: each output depends on the whole row (softmax); kept for output layers
    rowwise: bool = False
    #: the outputs are probabilities in [0, 1]
    probabilities: bool = False


@dataclass(frozen=True)
class LossSpec:
    """E(ŷ, y) for ŷ of shape (N, K)."""

    formula: str
    #: not differentiable where ŷ = y (any subgradient is accepted there)
    kink: bool = False
    #: ŷ must be probabilities in [0, 1]
    needs_probabilities: bool = False
    #: what y is: "real", "nonzero" (mape divides by it), "probabilities", or "labels" (ints of shape (N,))
    targets: str = "real"
    #: output activations that keep ŷ inside the loss's domain (None: every activation)
    output_activations: tuple[str, ...] | None = None
    #: the fewest outputs K a case of it has: 2 for the softmax losses, since a one-class softmax
    #: is constant (ŷ = 1, E = 0), where clipping ŷ to [ε, 1 − ε], as Keras does, gives E = ε
    min_outputs: int = 1


ACTIVATIONS: dict[str, ActivationSpec] = {
    "identity": ActivationSpec("φ(z) = z", "φ'(z) = 1"),
    "sigmoid": ActivationSpec("σ(z) = 1/(1 + e^(−z))", "σ'(z) = σ(z)(1 − σ(z))", probabilities=True),
    "tanh": ActivationSpec("tanh(z)", "tanh'(z) = 1 − tanh²(z)"),
    "relu": ActivationSpec("max(0, z)", "1 for z > 0, 0 for z < 0", kink=True),
    "leaky_relu": ActivationSpec(f"z for z > 0, {LEAKY_SLOPE}·z otherwise", f"1 for z > 0, {LEAKY_SLOPE} for z < 0", kink=True),
    "softplus": ActivationSpec("log(1 + e^z)", "σ(z)"),
    "softmax": ActivationSpec("e^(z_k)/Σ_j e^(z_j) per row", "VJP: s ⊙ (g − (g·s))", rowwise=True, probabilities=True),
}

LOSSES: dict[str, LossSpec] = {
    "mse": LossSpec("(1/(N·K))·Σ(ŷ − y)²"),
    "sse": LossSpec("(1/N)·Σ_n ½·Σ_k (ŷ − y)²"),
    "mae": LossSpec("(1/(N·K))·Σ|ŷ − y|", kink=True),
    "mape": LossSpec("(100/(N·K))·Σ|ŷ − y|/|y|", kink=True, targets="nonzero"),
    "bce": LossSpec(
        "−(1/(N·K))·Σ[y·log ŷ + (1 − y)·log(1 − ŷ)]",
        needs_probabilities=True,
        targets="probabilities",
        output_activations=("sigmoid",),
    ),
    "cce": LossSpec(
        "−(1/N)·Σ y·log ŷ", needs_probabilities=True, targets="probabilities", output_activations=("softmax",), min_outputs=2
    ),
    "sparse_cce": LossSpec(
        "−(1/N)·Σ_n log ŷ[n, y_n]", needs_probabilities=True, targets="labels", output_activations=("softmax",), min_outputs=2
    ),
}

#: Activations that may end a network whose loss needs probabilities.
PROBABILITY_OUTPUTS: tuple[str, ...] = tuple(name for name, a in ACTIVATIONS.items() if a.probabilities)
#: Activations with a kink at z = 0, and losses with a kink at ŷ = y.
KINKED_ACTIVATIONS = frozenset(name for name, a in ACTIVATIONS.items() if a.kink)
KINKED_LOSSES = frozenset(name for name, spec in LOSSES.items() if spec.kink)
#: Activations for hidden layers (softmax normalises a layer and is kept for outputs).
HIDDEN_ACTIVATIONS: tuple[str, ...] = tuple(name for name, a in ACTIVATIONS.items() if not a.rowwise)


def output_activations(loss: str) -> tuple[str, ...]:
    """The output activations that keep `loss` inside its domain."""
    allowed = LOSSES[loss].output_activations
    return tuple(ACTIVATIONS) if allowed is None else allowed


def batches(n: int, batch_size: int) -> list[slice]:
    """The protocol's mini-batches, in order: X[0:bs], X[bs:2bs], …, the last may be smaller."""
    return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
