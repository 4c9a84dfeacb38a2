"""A handful of the catalogue (tests/variants) under `verify --profile ci`: bugs that show only on
some architectures, batch shapes or hyperparameters are caught, correct-but-different code is
not flagged. The whole catalogue runs in `make mutation`."""

from __future__ import annotations

import types

import pytest

from properties import runner
from tests.variants import BUGGY, CORRECT


def _verify(variant) -> runner.VerifyResult:
    module = types.ModuleType(variant.name)
    exec(compile(variant.source(), variant.name, "exec"), module.__dict__)
    return runner.verify(module, impl_spec=variant.name, profile="ci", corpus_dir=None, save_regressions=False)


@pytest.mark.parametrize("name, caught_by", [
    ("network_derivative_at_activation_value", "network_gradients_match_references"),  # only some activations
    ("dense_bias_gradient_mean", "dense_matches_references"),  # only batches of 2+
    ("train_resets_velocity_each_epoch", "train_follows_own_steps"),  # only momentum > 0 and 2+ epochs
    ("l2_gradient_on_biases", "l2_adds_half_lambda_norm"),  # only λ > 0
    ("softmax_without_max_shift", "activations_match_references"),  # only z > 709
])
def test_a_bug_that_shows_only_sometimes_is_still_caught(name, caught_by):
    result = _verify(BUGGY[name])
    assert not result.passed
    assert caught_by in {r.name for r in result.failed}


@pytest.mark.parametrize("name", ["relu_subgradient_one_at_zero", "network_gradients_loops", "momentum_from_parameter_difference"])
def test_correct_but_different_code_is_not_flagged(name):
    result = _verify(CORRECT[name])
    assert result.passed, [(r.name, r.error or r.failure.comparisons[0].describe()) for r in result.failed]
