"""The strategies draw valid examples within their bounds and shrink to the simplest network."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given

from gradverify import impl
from gradverify.impl.backprop import check_net
from gradverify.properties import strategies
from gradverify.properties.cases import (
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    Architecture,
    Example,
    case_from_json,
    case_to_json,
    materialize,
)


@given(strategies.examples())
def test_drawn_examples_are_valid_networks_within_bounds(ex):
    arch = ex.arch
    assert 1 <= arch.depth <= 5 and all(1 <= s <= 32 for s in arch.sizes) and 1 <= arch.batch <= 64
    assert arch.activations[-1] in OUTPUT_ACTIVATIONS[arch.loss]
    assert all(a in HIDDEN_ACTIVATIONS for a in arch.activations[:-1])
    assert arch.l2 == 0.0 or 0 < arch.l2 <= 0.1
    net, X, Y = materialize(ex)
    check_net("test", net, X, Y)  # raises on anything the protocol rejects


@given(strategies.examples())
def test_examples_round_trip_through_json(ex):
    again = case_from_json(case_to_json(ex))
    assert again == ex
    for a, b in zip(materialize(ex)[0]["layers"], materialize(again)[0]["layers"]):
        assert (a["W"] == b["W"]).all()


@given(strategies.train_cases())
def test_train_cases_round_trip_through_json(case):
    assert case_from_json(case_to_json(case)) == case


def test_shrinking_ends_at_one_layer_one_unit_one_sample():
    smallest = find(strategies.examples(), lambda ex: "sigmoid" in ex.arch.activations)
    assert smallest == Example(Architecture((1, 1), ("sigmoid",), "mse", 0.0, 1), seed=0, labels="soft")


def test_shrinking_keeps_only_what_the_failure_needs():
    smallest = find(strategies.examples(), lambda ex: ex.arch.depth >= 2 and ex.arch.batch >= 3)
    assert smallest.arch.depth == 2 and smallest.arch.batch == 3
    assert smallest.arch.sizes == (1, 1, 1) and smallest.arch.activations == ("identity", "identity")


@pytest.mark.parametrize("bad", [{"max_depth": 0}, {"max_width": -1}, {"max_batch": 2.5}])
def test_strategy_bounds_are_checked_up_front(bad):
    with pytest.raises(ValueError, match="must be an integer >= 1"):
        strategies.architectures(**bad)


def test_case_from_json_rejects_what_it_does_not_know():
    with pytest.raises(ValueError, match="unknown case type"):
        case_from_json({"type": "Nonsense"})
    with pytest.raises(ValueError):
        case_from_json(
            {"type": "Example", "arch": {"sizes": [2], "activations": [], "loss": "mse", "l2": 0, "batch": 1}, "seed": 0}
        )


@given(strategies.examples(activations=("identity", "tanh", "softmax"), losses=("mse", "cce", "bce"), l2="positive"))
def test_restricted_examples_use_only_the_allowed_components(ex):
    assert set(ex.arch.activations) <= {"identity", "tanh", "softmax"}
    assert ex.arch.loss in ("mse", "cce"), "bce needs a sigmoid output, which is not allowed"
    assert ex.arch.l2 > 0


def test_a_restriction_that_leaves_no_loss_is_refused():
    with pytest.raises(ValueError, match="no loss"):
        strategies.architectures(activations=("tanh",), losses=("bce",))


def test_coverage_holds_every_activation_loss_and_network_component():
    acts = strategies.activation_coverage()
    assert {(c.name, c.tails) for c in acts} == {(n, t) for n in impl.ACTIVATIONS for t in (False, True)}
    assert {(c.name, c.labels) for c in strategies.loss_coverage()} == {
        (n, labels) for n in impl.LOSSES for labels in ("soft", "hard")
    }
    nets = strategies.network_coverage()
    assert {ex.arch.loss for ex in nets} == set(impl.LOSSES)
    assert {a for ex in nets for a in ex.arch.activations} == set(impl.ACTIVATIONS)
    for ex in nets + strategies.network_coverage(l2=0.01):
        check_net("test", *materialize(ex))


def test_tail_cases_reach_past_the_overflow_of_exp_on_both_sides():
    from gradverify.properties.cases import ActivationCase

    z, _ = ActivationCase("softmax", 2, 3, 7, tails=True).arrays()
    assert np.all(np.abs(z) >= 700) and z.max() > 709.8 and z.min() < -745


@given(strategies.loss_cases(names=("bce", "cce", "sparse_cce")))
def test_probabilities_drawn_for_a_loss_stay_clear_of_a_keras_clip(case):
    """Every ŷ lies more than 1e-7 from 0 and 1, so clipping it there (as Keras does) changes nothing."""
    y_pred, _ = case.arrays()
    assert np.all(y_pred > 1e-7) and np.all(y_pred < 1 - 1e-7)


def test_the_worst_softmax_the_clip_allows_still_clears_a_keras_clip():
    from gradverify.properties.cases import PROBABILITY_Z

    z = np.full((1, 32), PROBABILITY_Z)
    z[0, 0] = -PROBABILITY_Z
    assert impl.activation("softmax", z).min() > 1e-7
