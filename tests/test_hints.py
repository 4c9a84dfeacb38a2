"""Hints on fixed failing cases: a diagnosis is given only when it fits the failing case and the
siblings that tell it from its neighbours (at N = 2 a mean over the batch looks like a ½; at
K = 2 elementwise binary cross-entropy has categorical cross-entropy's value)."""

from __future__ import annotations

import types

import pytest

from gradverify.diagnoses import Diagnosis
from gradverify.hints import hints, law
from gradverify.properties.cases import ActivationCase, Architecture, DenseCase, Example, LossCase, TrainCase
from gradverify.properties.component_checks import check_activations, check_dense, check_losses
from gradverify.properties.network_checks import check_network_gradients
from gradverify.properties.shared import Counterexample
from gradverify.properties.training_checks import check_momentum_step
from gradverify.results import Source
from gradverify.search import failure_of
from tests.variants import BUGGY


def _module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(BUGGY[name].source(), name, "exec"), module.__dict__)
    return module


def _diagnoses(found) -> set[Diagnosis | None]:
    return {h.diagnosis for h in found}


def test_a_factor_of_one_over_n_and_a_half_part_at_three_samples():
    assert law([(2, 1, 0.5), (3, 1, 1 / 3)]) == "1/N"
    assert law([(2, 1, 0.5), (3, 1, 0.5)]) == "½"
    assert law([(2, 1, 0.5)]) == "1/N"  # one case alone cannot tell: hence the siblings


def test_a_dense_bias_gradient_averaged_at_two_samples_is_a_batch_mean_not_a_half():
    module = _module("dense_bias_gradient_mean")
    case = DenseCase(rows=2, fan_in=1, fan_out=1, seed=0)
    failure = failure_of(case, check_dense(module, case), Source.FIXED)
    found = hints("dense", None, failure, module)
    assert _diagnoses(found) == {Diagnosis.BATCH_MEAN}, found


def test_the_dense_batch_mean_hint_says_one_over_n_at_the_sizes_checked():
    """The one test of this message's words."""
    module = _module("dense_bias_gradient_mean")
    case = DenseCase(rows=2, fan_in=1, fan_out=1, seed=0)
    (hint,) = hints("dense", None, failure_of(case, check_dense(module, case), Source.FIXED), module)
    assert "grad_b is 1/N × the reference's" in hint and "N = 2, 3" in hint and "½" not in hint


@pytest.mark.parametrize("units", [2, 3])
def test_cce_written_as_binary_cross_entropy_is_never_told_its_value_is_right(units):
    """Its value is right at K = 2 only: whichever K fails first, no hint says the value is right."""
    module = _module("cce_as_elementwise_bce")
    case = LossCase("cce", rows=1, units=units, seed=0)
    comparisons = check_losses(module, case)
    assert not all(c.ok for c in comparisons)
    found = hints("loss", "cce", failure_of(case, comparisons, Source.FIXED), module)
    assert Diagnosis.NOT_DERIVATIVE not in _diagnoses(found), found


def test_a_right_cce_value_with_a_binary_cross_entropy_gradient_is_told_so_at_every_k():
    module = _module("cce_backward_as_bce")
    case = LossCase("cce", rows=1, units=2, seed=0)
    found = hints("loss", "cce", failure_of(case, check_losses(module, case), Source.FIXED), module)
    assert _diagnoses(found) == {Diagnosis.NOT_DERIVATIVE}, found


def test_the_finite_difference_hints_say_which_of_value_and_gradient_is_off_at_the_sizes_checked():
    """The one test of these messages' words."""
    for name, loss, starts in (
        ("bce_without_negative_class", "bce", "Your gradient matches finite differences of your own loss, but your loss differs"),
        ("cce_backward_as_bce", "cce", "Your loss value is right, but loss_backward is not its derivative"),
    ):
        module = _module(name)
        case = LossCase(loss, rows=1, units=2, seed=0)
        (hint,) = hints("loss", loss, failure_of(case, check_losses(module, case), Source.FIXED), module)
        assert hint.startswith(starts) and "checked at N = 1, 2 and K = " in hint, hint


# --------------------------------------------------------------------------- activations, steps, networks

_ONE_UNIT = Example(Architecture((1, 1), ("identity",), "mse", 0.0, 1), 0)


def _step_hints(name: str, case: TrainCase):
    module = _module(name)
    return hints("momentum_step", None, failure_of(case, check_momentum_step(module, case), Source.FIXED), module)


def test_a_derivative_wrong_by_a_sign_on_one_branch_gets_no_factor_hint_on_one_entry():
    """On z of shape (1, 1) with z > 0 it is exactly −1 × σ'(z); its siblings of more entries
    hold z < 0 too, where it is right: no constant factor, no hint of one."""
    module = _module("sigmoid_derivative_branch_sign")
    case = ActivationCase("sigmoid", 1, 1, 0)
    found = hints("activation", "sigmoid", failure_of(case, check_activations(module, case), Source.FIXED), module)
    assert found and not any(h.diagnosis for h in found) and not any("sign" in h for h in found), found


def test_a_true_constant_factor_of_a_derivative_is_named_on_every_shape():
    module = _module("tanh_derivative_doubled")
    for rows, units in ((1, 1), (2, 2)):
        case = ActivationCase("tanh", rows, units, 0)
        found = hints("activation", "tanh", failure_of(case, check_activations(module, case), Source.FIXED), module)
        assert _diagnoses(found) - {None} == {Diagnosis.HALF}, found


def test_the_factor_hint_names_the_function_and_the_shapes_checked():
    """The one test of this message's words."""
    module = _module("tanh_derivative_doubled")
    case = ActivationCase("tanh", 2, 2, 0)
    found = hints("activation", "tanh", failure_of(case, check_activations(module, case), Source.FIXED), module)
    (hint,) = [h for h in found if h.diagnosis]
    assert hint.startswith(
        "Your activation_backward('tanh') is 2 × the reference's (checked on z of shape (2, 2), (3, 2), (2, 3))"
    )


def test_a_velocity_of_alpha_times_the_step_is_not_dampening_at_alpha_one_half():
    """At α = ½ the returned α·Δw is (1 − α)·Δw, dampening's first step; at another α (the
    sibling's) it is not: no diagnosis."""
    found = _step_hints("momentum_returns_carried_term", TrainCase(_ONE_UNIT, 0.001, 0.5, 1, 1))
    assert found and not any(h.diagnosis for h in found), found


def test_torch_s_buffer_as_the_velocity_is_no_factor_100_at_a_learning_rate_of_one_hundredth():
    """−Δw/η is −100 × Δw at η = 0.01, and −200 × at the sibling's η = 0.005."""
    found = _step_hints("momentum_returns_torch_buffer", TrainCase(_ONE_UNIT, 0.01, 0.0, 1, 1))
    assert found and not any(h.diagnosis for h in found) and not any("100" in h for h in found), found


def test_a_velocity_of_the_wrong_sign_on_every_step_is_named_a_sign():
    found = _step_hints("momentum_velocity_as_positive_step", TrainCase(_ONE_UNIT, 0.01, 0.5, 1, 1))
    assert _diagnoses(found) - {None} == {Diagnosis.SIGN}, found


def _network_hints(module, case: Example):
    """The hints of the network item on `case`'s first failing data set, or None when it passes."""
    try:
        comparisons = check_network_gradients(module, case)
    except Counterexample as found:
        case, comparisons = found.case, found.comparisons
    if all(c.ok for c in comparisons):
        return None
    return hints("network", None, failure_of(case, comparisons, Source.FIXED), module)


@pytest.mark.parametrize(
    "name, diagnosis",
    [("network_bias_gradient_mean", Diagnosis.BACKWARD_PASS), ("network_without_biases", Diagnosis.FORWARD_PASS)],
)
def test_what_finite_differences_of_the_network_s_own_loss_say_is_a_diagnosis_at_every_n(name, diagnosis):
    """A bias gradient averaged over the batch is not the derivative of the loss at N = 2 and at
    its sibling N = 3; a network without biases has gradients that are its own loss's derivatives
    at both, its loss value is off at both."""
    found = _network_hints(_module(name), Example(Architecture((2, 2), ("identity",), "mse", 0.0, 2), 0))
    assert found is not None and _diagnoses(found) == {diagnosis}, found


def test_the_finite_difference_hints_of_a_network_say_where_at_the_sizes_checked():
    """The one test of these messages' words."""
    for name, starts in (
        ("network_bias_gradient_mean", "Your gradient for layers[0].b is not the derivative of your own loss value"),
        ("network_without_biases", "Your gradients are the derivatives of your own loss value (finite differences agree"),
    ):
        (hint,) = _network_hints(_module(name), Example(Architecture((2, 2), ("identity",), "mse", 0.0, 2), 0))
        assert hint.startswith(starts) and "checked at N = 2, 3" in hint, hint
