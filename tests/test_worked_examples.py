"""The worked examples from the literature hold, computed through the protocol functions."""

from __future__ import annotations

import pytest

from gradverify.properties.worked_examples import WORKED_EXAMPLES


@pytest.mark.parametrize("name", sorted(WORKED_EXAMPLES))
def test_worked_example_matches_published_figures(backend, name):
    results = WORKED_EXAMPLES[name].check(backend)
    assert results, "a worked example compares something"
    failures = [c.describe() for c in results if not c.ok]
    assert not failures, "\n".join(failures)


def test_classic_network_error_is_the_published_one(backend):
    from gradverify.properties.worked_examples import CLASSIC_NET, CLASSIC_X, CLASSIC_Y

    error, _ = backend.network_gradients(CLASSIC_NET, CLASSIC_X, CLASSIC_Y)
    assert round(error, 9) == 0.298371109


def test_a_wrong_update_fails_the_classic_example():
    """The published-figure check can fail: a step of 2η misses every weight."""
    import types

    import impl
    from gradverify.properties.worked_examples import classic_network

    doubled = types.SimpleNamespace(
        network_gradients=impl.network_gradients,
        sgd_momentum_step=lambda p, g, v, *, lr, momentum: impl.sgd_momentum_step(p, g, v, lr=2 * lr, momentum=momentum),
    )
    results = classic_network(doubled)
    assert results[0].ok and not any(c.ok for c in results[1:])
