"""The layer ops' checks as mutmut's test command: every op's generic layer check on the (mutated)
bundled impl/layers.py and impl/rnn_layers.py, and every update rule's check on impl/optim.py.

mutmut (benchmarks/mutmut_run.py, [tool.mutmut] in pyproject.toml) copies impl/ with its mutants
into mutants/ and runs these tests there, beside benchmarks/mutmut_suite.py's checks of
impl/backprop.py; a mutant is killed when a check fails. Each op and each rule is searched as
tests/test_layer_variants.py searches a variant: the ci profile, seed 0, 15 examples
(benchmarks/layer_catalogue.py's search), and each op also in float32 (a float32 library's
run). Fail fast: a killed mutant needs no shrunk counterexample, so hypothesis stops at the
first failing case instead of shrinking it. The kinks, which no random draw reaches, are pinned
by exact tests at the end.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, settings

import impl  # the (mutated) copy in mutants/, not gradverify.impl
import impl.optim
from benchmarks.layer_catalogue import rule_property, search
from gradverify import search as gradverify_search
from gradverify.properties.layer_properties import layer_property
from gradverify.references import jax_backend, torch_backend  # noqa: F401 - imported once, before mutmut forks
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.references.optim_spec import OPTIMIZERS

# Compiled JAX kernels come from the on-disk cache: each mutant runs in a fresh fork.
jax_backend.enable_persistent_cache()

_settings = gradverify_search.hypothesis_settings


def _without_shrinking(*args, **kwargs) -> settings:
    return settings(_settings(*args, **kwargs), phases=[Phase.explicit, Phase.generate])


gradverify_search.hypothesis_settings = _without_shrinking


@pytest.mark.parametrize("op", list(LAYER_OPS))
def test_layer_check_holds_on_impl(op):
    """In float64, then in float32: a result's dtype is part of the protocol, and only a float32
    run can tell `np.zeros(shape, dtype=x.dtype)` from `np.zeros(shape)`."""
    prop = layer_property(LAYER_OPS[op], max_size=3, weight=1.0)
    for dtype in ("float64", "float32"):
        result = search(prop, impl, seed=0, dtype=dtype)
        assert result.passed, f"{dtype}: {result.error or result.failure.comparisons[0].describe()}"


@pytest.mark.parametrize("rule", list(OPTIMIZERS))
def test_update_rule_check_holds_on_impl(rule):
    result = search(rule_property(OPTIMIZERS[rule]), impl.optim, seed=0)
    assert result.passed, result.error or result.failure.comparisons[0].describe()


# The kinks' conventions, which the random draws never reach (docs/layers.md, "Kinks"): pinned
# exactly, as tests/test_layers.py pins them on the installed model solution.


def test_relu_takes_the_subgradient_zero_at_its_kink():
    _, cache = impl.relu_forward(np.array([[-1.0, 0.0, 1.0]]))
    assert impl.relu_backward(np.array([[2.0, 3.0, 4.0]]), cache).tolist() == [[0.0, 0.0, 4.0]]


def test_svm_loss_takes_the_subgradient_zero_at_a_margin_of_exactly_zero():
    loss, dx = impl.svm_loss(np.array([[1.0, 0.0, 0.5]]), np.array([0]))  # class 1's margin is 0
    assert loss == 0.5 and dx.tolist() == [[-1.0, 0.0, 1.0]]


def test_the_linear_classifiers_svm_losses_take_the_subgradient_zero_at_a_margin_of_exactly_zero():
    """CS231n A1's svm_loss_naive and svm_loss_vectorized, (W, X, y, reg): scores X·W = [1, 0, 0.5]."""
    for loss_of in (impl.svm_loss_naive, impl.svm_loss_vectorized):
        loss, dW = loss_of(np.array([[1.0, 0.0, 0.5]]), np.array([[1.0]]), np.array([0]), 0.0)  # class 1's margin is 0
        assert loss == 0.5 and dW.tolist() == [[-1.0, 0.0, 1.0]]
