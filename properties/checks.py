"""The registries of what is checked: the properties and the fixed checks, each a named check with
a one-line claim.

A property's `check(impl, case)` returns the `Comparison`s it made; it fails when any is not ok.
What the implementation does wrong (raises, returns a wrong shape or NaN) ends as a failing
comparison via `ImplFailure`, never as a crash. A fixed check's `check(impl)` runs on fixed
inputs, with no case drawn. The checks themselves live in the modules of their concern:
component_checks, network_checks, training_checks, bad_input_checks and worked_examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from hypothesis import strategies as st

from gradverify.properties import strategies
from gradverify.properties.bad_input_checks import check_bad_input, check_bad_input_catalogue
from gradverify.properties.cases import TrainCase
from gradverify.properties.component_checks import (
    KINK_COMPONENTS,
    LARGE_Z_ACTIVATIONS,
    check_activations,
    check_dense,
    check_kinks,
    check_large_inputs,
    check_losses,
)
from gradverify.properties.network_checks import (
    DATA_SETS,
    check_batch_mean,
    check_descent,
    check_finite_differences,
    check_l2,
    check_network_gradients,
)
from gradverify.properties.scope import MLP_COMPONENTS, Scope
from gradverify.properties.training_checks import check_momentum_step, check_train, check_train_loop, longer
from gradverify.references.compare import Comparison
from gradverify.references.spec import ACTIVATIONS, LOSSES

#: What a property that draws networks may draw, each left out when not in scope; with "l2" when
#: it draws λ > 0 among its networks.
NETWORK_DRAWS: tuple[str, ...] = (*ACTIVATIONS, *LOSSES)
MIXED_DRAWS: tuple[str, ...] = (*NETWORK_DRAWS, "l2")


@dataclass(frozen=True)
class Property:
    name: str
    claim: str
    #: the protocol functions it exercises
    functions: tuple[str, ...]
    #: its cases, within a scope (properties/scope.py): the whole protocol's by default
    strategy: Callable[[Scope], st.SearchStrategy]
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
    #: the components it draws, each left out of its cases when not in scope (properties/scope.py)
    draws: tuple[str, ...] = ()
    #: the components every case of it needs, beyond its functions' parts: none in scope, no case
    needs: tuple[str, ...] = ()
    #: the forms it accepts, by name, when more than one (an update rule's: torch's, and a form
    #: by design): each passing case's comparisons name as their oracle the forms that held on
    #: it, and the run reports which held on every case (PropertyResult.forms)
    forms: tuple[str, ...] = ()


@dataclass(frozen=True)
class FixedCheck:
    name: str
    claim: str
    functions: tuple[str, ...]
    #: check(impl), or with `each`, check(impl, names): the components of `each` in scope
    check: Callable[..., list[Comparison]]
    tolerance: str
    #: the components it needs, beyond its functions' parts (properties/scope.py)
    needs: tuple[str, ...] = ()
    #: the components it checks one by one: it runs on those in scope (names=...), if any
    each: tuple[str, ...] = ()


def _fixed_checks() -> dict[str, FixedCheck]:
    from gradverify.properties.worked_examples import WORKED_EXAMPLES

    checks = [
        FixedCheck(
            f"worked_example_{ex.name}",
            f"{ex.claim} ({ex.source})",
            ex.functions,
            ex.check,
            "published" if ex.name == "classic_network" else "autodiff",
            ex.needs,
            ex.each,
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
            needs=MLP_COMPONENTS,  # its inputs are built of every component of the MLP protocol
        )
    )
    checks.append(
        FixedCheck(
            "large_inputs",
            "sigmoid, tanh, softplus and softmax and their derivatives stay finite and exact at |z| up to 800",
            ("activation", "activation_backward"),
            check_large_inputs,
            "autodiff",
            each=LARGE_Z_ACTIVATIONS,
        )
    )
    checks.append(
        FixedCheck(
            "kink_subgradients",
            "at relu/leaky_relu's z = 0 and mae/mape's ŷ = y the derivative is a subgradient",
            ("activation_backward", "loss_backward"),
            check_kinks,
            "autodiff",
            each=KINK_COMPONENTS,
        )
    )
    return {c.name: c for c in checks}


FIXED_CHECKS: dict[str, FixedCheck] = _fixed_checks()


def _train_cases(scope: Scope) -> st.SearchStrategy[TrainCase]:
    return strategies.train_cases(**scope.network_draws())


def _momentum_cases(scope: Scope) -> st.SearchStrategy[TrainCase]:
    """Training cases for the momentum step, which reads only their layers' shapes: any network."""
    return strategies.train_cases()


def _examples(l2: str = "mixed", **options: Any) -> Callable[[Scope], st.SearchStrategy]:
    return lambda scope: strategies.examples(**scope.network_draws(l2), **options)


PROPERTIES: dict[str, Property] = {
    p.name: p
    for p in [
        Property(
            "network_gradients_match_references",
            "network_gradients gives the loss value and every gradient that JAX and PyTorch autodiff give",
            ("network_gradients",),
            _examples(),
            check_network_gradients,
            "autodiff",
            data_sets=DATA_SETS,
            coverage=strategies.network_coverage,
            diagnosis="network",
            draws=MIXED_DRAWS,
        ),
        Property(
            "activations_match_references",
            "activation and activation_backward agree with JAX and PyTorch for every activation",
            ("activation", "activation_backward"),
            lambda scope: strategies.activation_cases(names=scope.activation_names()),
            check_activations,
            "autodiff",
            coverage=strategies.activation_coverage,
            diagnosis="activation",
            draws=tuple(ACTIVATIONS),
        ),
        Property(
            "losses_match_references",
            "loss and loss_backward agree with JAX and PyTorch for every loss",
            ("loss", "loss_backward"),
            lambda scope: strategies.loss_cases(names=scope.loss_names()),
            check_losses,
            "autodiff",
            coverage=strategies.loss_coverage,
            diagnosis="loss",
            draws=tuple(LOSSES),
        ),
        Property(
            "dense_matches_references",
            "dense_forward and dense_backward agree with JAX and PyTorch",
            ("dense_forward", "dense_backward"),
            lambda scope: strategies.dense_cases(),
            check_dense,
            "autodiff",
            diagnosis="dense",
        ),
        Property(
            "gradients_match_own_finite_differences",
            "the gradient matches finite differences of the implementation's own loss value",
            ("network_gradients",),
            _examples(),
            check_finite_differences,
            "finite_diff",
            weight=0.5,
            coverage=strategies.network_coverage,
            draws=MIXED_DRAWS,
        ),
        Property(
            "batch_gradient_is_mean_of_sample_gradients",
            "the loss and gradient of a batch are the means of those of its samples",
            ("network_gradients",),
            _examples(max_batch=16),
            check_batch_mean,
            "autodiff",
            weight=0.5,
            draws=MIXED_DRAWS,
        ),
        Property(
            "momentum_step_matches_torch_sgd",
            "sgd_momentum_step follows torch.optim.SGD(momentum, dampening=0) for three steps, inputs untouched",
            ("sgd_momentum_step",),
            _momentum_cases,
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
            coverage=strategies.train_coverage,
            illustration=longer,
            draws=MIXED_DRAWS,
        ),
        Property(
            "train_follows_own_steps",
            "train equals a loop of the implementation's own network_gradients and sgd_momentum_step",
            ("train", "network_gradients", "sgd_momentum_step"),
            _train_cases,
            check_train_loop,
            "autodiff",
            weight=0.25,
            coverage=strategies.train_coverage,
            diagnosis="train_loop",
            illustration=longer,
            draws=MIXED_DRAWS,
        ),
        Property(
            "l2_adds_half_lambda_norm",
            "with λ > 0 the loss and gradients equal PyTorch's, and L2 adds (λ/2)·Σ‖W‖² to the loss and λ·W to each "
            "weight gradient, nothing to the biases",
            ("network_gradients",),
            _examples("positive"),
            check_l2,
            "autodiff",
            weight=0.5,
            coverage=lambda: strategies.network_coverage(l2=0.01),
            diagnosis="l2",
            draws=NETWORK_DRAWS,
            needs=("l2",),
        ),
        Property(
            "bad_input_is_rejected",
            "bad input raises ValueError naming the function; input at the edge of what is allowed is accepted",
            (),
            lambda scope: strategies.input_cases(),
            check_bad_input,
            "autodiff",
            weight=0.5,
            needs=MLP_COMPONENTS,  # its inputs are built of every component of the MLP protocol
        ),
        Property(
            "descent_lowers_the_loss",
            "a small enough step along the negative gradient lowers the loss",
            ("network_gradients",),
            _examples(),
            check_descent,
            "autodiff",
            weight=0.5,
            draws=MIXED_DRAWS,
        ),
    ]
}
