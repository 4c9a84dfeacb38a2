"""mylib's own property test, beside gradverify's checks: written with gradverify's fixture
(the implementation and the oracles), its strategies and its compare()."""

import numpy as np
from hypothesis import given, settings

from gradverify.properties.cases import materialize
from gradverify.references.compare import Where, compare
from gradverify.properties.strategies import examples


@settings(max_examples=10, deadline=None)
@given(example=examples(max_depth=2, max_width=8, max_batch=8))
def test_gradients_do_not_depend_on_the_order_of_the_samples(gradverify_impl, example):
    net, X, Y = materialize(example)
    order = np.random.default_rng(example.seed).permutation(len(X))
    value, grads = gradverify_impl.module.network_gradients(net, X[order], Y[order])
    expected_value, expected = gradverify_impl.torch.network_gradients(net, X, Y)
    where = Where(oracle="torch", function="network_gradients", quantity="rows shuffled")
    comparisons = [compare(where.at(quantity="loss value, rows shuffled"), value, expected_value)]
    comparisons += [compare(where.at(layer=i, parameter=k), got[k], want[k])
                    for i, (got, want) in enumerate(zip(grads, expected)) for k in ("W", "b")]
    assert all(c.ok for c in comparisons), "\n".join(c.describe() for c in comparisons if not c.ok)
