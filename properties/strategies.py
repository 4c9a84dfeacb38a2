"""Hypothesis strategies: small by default, shrinking towards the simplest case.

Every strategy draws *structure* (names, sizes, a seed) and leaves the arrays to
NumPy (gradverify.properties.cases), so shrinking works on the structure: a failure
ends at one layer, one unit, one sample where that still fails, and at seed 0.

Kink and saturation policy (stated in every report, see KINK_POLICY):
  - Arrays are continuous random draws, so relu/leaky_relu pre-activations and
    mae/mape residuals are never exactly at their kink; comparisons with the
    autodiff references are therefore at differentiable points.
  - Finite differences shrink their step until it does not straddle a kink and
    reject the example when no step works (references/finite_diff.py).
  - Scales keep sigmoid/tanh/softmax out of saturation in networks: W ~ N(0, 1/fan_in),
    X ~ N(0, 1), component inputs z ~ N(0, 2²); half the activation cases are in the
    tails instead, |z| in [700, 1000], where e^{±z} over- or underflows.
  - The convention at a kink is checked on its own, by the `kink_subgradients`
    check: any subgradient is accepted there.
"""

from __future__ import annotations

from collections.abc import Collection

from hypothesis import strategies as st

from gradverify.references.spec import ACTIVATIONS, LOSSES
from gradverify.properties.cases import (
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    ActivationCase,
    Architecture,
    DenseCase,
    Example,
    LossCase,
    TrainCase,
)

KINK_POLICY = (
    "Random draws are continuous, so relu/leaky_relu pre-activations and mae/mape residuals are "
    "never exactly at a kink; finite differences shrink their step until it stays on one side of "
    "every kink (an example sitting on one is rejected); weights ~ N(0, 1/fan_in) keep "
    "sigmoid/tanh/softmax out of saturation in networks, while half the activation cases draw z "
    "in ±[700, 1000], the tails where e^{±z} overflows. The scores behind the probabilities of the loss cases are clipped to "
    "±6, so ŷ stays more than 1e-7 from 0 and 1: clipping ŷ to [ε, 1 − ε] with ε ≤ 1e-7, as Keras does, is accepted "
    "(with one class ŷ = 1 exactly, so cce and sparse_cce draw K ≥ 2); an ε added inside the log, log(ŷ + ε), shifts "
    "every value by about ε/ŷ and is not. At the kinks themselves any subgradient is accepted "
    "(relu'(0) ∈ [0, 1], leaky_relu'(0) ∈ [0.01, 1], mae/mape' at ŷ = y within the subdifferential), "
    "checked by `kink_subgradients`."
)

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
LOSS_NAMES = tuple(LOSSES)  # mse first: the simplest loss is what shrinking ends at
ACTIVATION_NAMES = tuple(ACTIVATIONS)  # identity first
L2_VALUES = st.one_of(st.just(0.0), st.sampled_from([1e-3, 1e-2, 0.1]))


def _check_bounds(**bounds: int) -> None:
    for name, value in bounds.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


L2_CHOICES = {"mixed": L2_VALUES, "zero": st.just(0.0), "positive": st.sampled_from([1e-3, 1e-2, 0.1])}


def architectures(
    *,
    losses: tuple[str, ...] = LOSS_NAMES,
    activations: tuple[str, ...] = ACTIVATION_NAMES,
    max_depth: int = 5,
    max_width: int = 32,
    max_batch: int = 64,
    l2: str = "mixed",
    outputs: dict[str, tuple[str, ...]] | None = None,
    hidden: tuple[str, ...] | None = None,
) -> st.SearchStrategy[Architecture]:
    """Depth 1..max_depth, widths 1..max_width, an activation per layer from `activations`,
    the output activation matched to the loss; batch 1..max_batch; l2 "mixed" (zero or
    small), "zero" or "positive". `outputs` narrows each loss's output activations further
    (the grader's probe of what a submission's network implements: softmax only under
    cross-entropy, say). Losses whose output activation is not allowed are left out. `hidden`
    narrows the hidden layers' activations apart from the outputs' (the grader's hidden
    activations found right); () draws single-layer networks only."""
    _check_bounds(max_depth=max_depth, max_width=max_width, max_batch=max_batch)
    _check_names("losses", losses, LOSSES)
    _check_names("activations", activations, ACTIVATIONS)
    if l2 not in L2_CHOICES:
        raise ValueError(f"l2 must be one of {sorted(L2_CHOICES)}, got {l2!r}")
    allowed = [a for a in ACTIVATION_NAMES if a in activations]  # registry order: shrinks to identity
    if hidden:
        _check_names("hidden", hidden, HIDDEN_ACTIVATIONS)
    if hidden is not None and not hidden:
        max_depth = 1
    hidden = tuple(a for a in allowed if a in HIDDEN_ACTIVATIONS and (not hidden or a in hidden)) or HIDDEN_ACTIVATIONS
    outputs = {
        loss: tuple(a for a in OUTPUT_ACTIVATIONS[loss] if a in allowed and (outputs is None or a in outputs.get(loss, ())))
        for loss in losses
    }
    usable = tuple(loss for loss in LOSS_NAMES if loss in losses and outputs[loss])
    if not usable:
        raise ValueError(f"no loss in {list(losses)} has an allowed output activation among {list(activations)}")
    return _architectures(usable, hidden, outputs, max_depth, max_width, max_batch, L2_CHOICES[l2])


def _check_names(what: str, names: tuple[str, ...], registry: Collection[str]) -> None:
    unknown = [name for name in names if name not in registry]
    if not names or unknown:
        raise ValueError(f"{what} must be names from {sorted(registry)}, got {list(names)}")


@st.composite
def _architectures(draw, losses, hidden_choices, outputs, max_depth, max_width, max_batch, l2_values) -> Architecture:
    loss = draw(st.sampled_from(losses))
    depth = draw(st.integers(1, max_depth))
    min_out = LOSSES[loss].min_outputs  # a one-class softmax is constant
    sizes = [draw(st.integers(1, max_width)) for _ in range(depth)]
    sizes.append(draw(st.integers(min_out, max(min_out, max_width))))
    hidden = [draw(st.sampled_from(hidden_choices)) for _ in range(depth - 1)]
    # Drawn from every activation and then matched to the loss, so a shrink of the
    # loss (say bce -> mse) keeps the same output activation where it can.
    output = draw(st.sampled_from(ACTIVATION_NAMES))
    if output not in outputs[loss]:
        output = outputs[loss][0]
    return Architecture(
        sizes=tuple(sizes),
        activations=tuple(hidden) + (output,),
        loss=loss,
        l2=draw(l2_values),
        batch=draw(st.integers(1, max_batch)),
    )


def examples(**arch_options) -> st.SearchStrategy[Example]:
    """A network example: an architecture, a data seed, and hard or soft labels."""
    return st.builds(Example, arch=architectures(**arch_options), seed=SEEDS, labels=st.sampled_from(["soft", "hard"]))


def activation_cases(
    *, names: tuple[str, ...] = ACTIVATION_NAMES, max_rows: int = 64, max_units: int = 32
) -> st.SearchStrategy[ActivationCase]:
    _check_bounds(max_rows=max_rows, max_units=max_units)
    _check_names("names", names, ACTIVATIONS)
    return st.builds(
        ActivationCase,
        name=st.sampled_from(names),
        rows=st.integers(1, max_rows),
        units=st.integers(1, max_units),
        seed=SEEDS,
        tails=st.booleans(),
    )


def loss_cases(*, names: tuple[str, ...] = LOSS_NAMES, max_rows: int = 64, max_units: int = 32) -> st.SearchStrategy[LossCase]:
    _check_bounds(max_rows=max_rows, max_units=max_units)
    _check_names("names", names, LOSSES)
    return st.sampled_from(names).flatmap(
        lambda name: st.builds(
            LossCase,
            name=st.just(name),
            rows=st.integers(1, max_rows),
            units=st.integers(min(LOSSES[name].min_outputs, max_units), max_units),  # K ≥ 2 for the softmax losses
            seed=SEEDS,
            labels=st.sampled_from(["soft", "hard"]),
        )
    )


def dense_cases(*, max_rows: int = 64, max_units: int = 32) -> st.SearchStrategy[DenseCase]:
    _check_bounds(max_rows=max_rows, max_units=max_units)
    return st.builds(
        DenseCase, rows=st.integers(1, max_rows), fan_in=st.integers(1, max_units), fan_out=st.integers(1, max_units), seed=SEEDS
    )


def train_cases(*, max_depth: int = 3, max_width: int = 16, max_batch: int = 32, **arch_options) -> st.SearchStrategy[TrainCase]:
    """Training runs: an example, a learning rate, momentum (often nonzero), batch size, epochs."""
    return st.builds(
        TrainCase,
        example=examples(max_depth=max_depth, max_width=max_width, max_batch=max_batch, **arch_options),
        lr=st.sampled_from([0.001, 0.01, 0.1]),
        momentum=st.sampled_from([0.0, 0.5, 0.9]),
        batch_size=st.integers(1, 8),
        epochs=st.integers(1, 3),
    )


# --------------------------------------------------------------------------- #
# Coverage: a small case of every component, run first (by the runner, before
# hypothesis searches) in every run whatever the seed, so no activation or loss is
# left to the luck of the draw. Two samples and two units each, so a missing 1/N or 1/K
# and a softmax's coupling of units show; shrinking ends at that size anyway.
# --------------------------------------------------------------------------- #


def activation_coverage() -> list[ActivationCase]:
    """Each activation on z of shape (2, 2), at z ~ N(0, 2²) and in the tails."""
    return [ActivationCase(name, 2, 2, 0, tails) for tails in (False, True) for name in ACTIVATION_NAMES]


def loss_coverage() -> list[LossCase]:
    """Each loss on y_pred of shape (2, 2), soft and hard labels."""
    return [LossCase(name, 2, 2, 0, labels) for labels in ("soft", "hard") for name in LOSS_NAMES]


def network_coverage(l2: float = 0.0) -> list[Example]:
    """One layer of two units for each loss (with its first allowed output activation), then a hidden
    layer of each hidden activation under mse; batches of two: every loss and activation in a network."""

    def one(sizes: tuple[int, ...], activations: tuple[str, ...], loss: str) -> Example:
        return Example(Architecture(sizes, activations, loss, l2, 2), 0)

    by_loss = [one((1, 2), (OUTPUT_ACTIVATIONS[loss][0],), loss) for loss in LOSS_NAMES]
    by_hidden = [one((1, 2, 1), (act, "identity"), "mse") for act in HIDDEN_ACTIVATIONS]
    return by_loss + by_hidden


def train_coverage() -> list[TrainCase]:
    """Training runs of four samples in batches of two through two outputs, for each loss (with its
    first allowed output activation), then one over a tanh hidden layer with λ = 0.01: 2 epochs at
    momentum 0.9. Every batch has batch·K = 4 > 1, so a loop that sums the gradients of its samples
    (or of its outputs) instead of averaging them shows, whatever the draws."""

    def run(sizes: tuple[int, ...], activations: tuple[str, ...], loss: str, l2: float = 0.0) -> TrainCase:
        return TrainCase(Example(Architecture(sizes, activations, loss, l2, 4), 0), lr=0.1, momentum=0.9, batch_size=2, epochs=2)

    by_loss = [run((2, 2), (OUTPUT_ACTIVATIONS[loss][0],), loss) for loss in LOSS_NAMES]
    return by_loss + [run((2, 3, 2), ("tanh", "identity"), "mse", 0.01)]


def input_cases() -> st.SearchStrategy:
    """A kind of bad (or edge-of-allowed) input for some protocol function, and a seed for its sizes."""
    from gradverify.properties.bad_inputs import INPUT_KINDS, BadInputCase

    return st.builds(BadInputCase, kind=st.sampled_from(sorted(INPUT_KINDS)), seed=SEEDS)
