"""The suite as mutmut's test command: each check of gradverify on the (mutated) bundled impl.

mutmut (see benchmarks/mutmut_run.py and [tool.mutmut] in pyproject.toml) copies impl/ with
its mutants into mutants/ and runs these tests there; a mutant is killed when a check fails.
The ci profile with a small budget: the seed is fixed, so a run is reproducible.
"""

from __future__ import annotations

import pytest

import impl  # the (mutated) copy in mutants/, not gradverify.impl
from gradverify import runner
from gradverify.properties.checks import FIXED_CHECKS, PROPERTIES
from gradverify.references import jax_backend, torch_backend  # noqa: F401 - imported once, before mutmut forks

# Compiled JAX kernels come from the on-disk cache: each mutant runs in a fresh fork.
jax_backend.enable_persistent_cache()

BUDGET = 10


@pytest.mark.parametrize("name", list(FIXED_CHECKS) + list(PROPERTIES))
def test_check_holds_on_impl(name):
    result = runner.verify(impl, profile="ci", only=[name], corpus_dir=None, save_regressions=False, budget=BUDGET)
    (r,) = result.results
    assert r.passed, r.error or r.failure.comparisons[0].describe()
