"""Hints on fixed failing cases: a diagnosis is given only when it fits the failing case and the
siblings that tell it from its neighbours (at N = 2 a mean over the batch looks like a ½; at
K = 2 elementwise binary cross-entropy has categorical cross-entropy's value)."""

from __future__ import annotations

import types

import pytest

from gradverify.hints import Diagnosis, hints, law
from gradverify.properties.cases import DenseCase, LossCase
from gradverify.properties.component_checks import check_dense, check_losses
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
