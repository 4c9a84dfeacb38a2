"""impl is numerically careful: no overflow for large |z|, exact conventions at kinks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gradverify import impl

BIG = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])


@pytest.mark.parametrize("name", sorted(impl.ACTIVATIONS))
def test_activation_and_derivative_stay_finite_and_silent_for_large_inputs(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = impl.activation(name, BIG)
        g = impl.activation_backward(name, BIG, np.ones_like(BIG))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(g))


def test_sigmoid_saturates_to_exact_limits():
    a = impl.activation("sigmoid", BIG)[0]
    assert a[0] == 0.0 and a[-1] == 1.0 and a[2] == 0.5


def test_softplus_is_linear_far_right_and_zero_far_left():
    a = impl.activation("softplus", BIG)[0]
    assert a[-1] == 1000.0 and a[0] == 0.0
    assert a[2] == pytest.approx(np.log(2.0), rel=1e-15)


def test_softmax_subtracts_the_row_max():
    a = impl.activation("softmax", np.array([[1000.0, 1000.0], [-1000.0, 0.0]]))
    np.testing.assert_allclose(a, [[0.5, 0.5], [0.0, 1.0]], rtol=0, atol=0)


def test_softmax_backward_is_the_exact_vjp():
    z = np.array([[0.3, -1.2, 2.0]])
    g = np.array([[1.0, -2.0, 0.5]])
    s = impl.activation("softmax", z)[0]
    jacobian = np.diag(s) - np.outer(s, s)
    np.testing.assert_allclose(impl.activation_backward("softmax", z, g)[0], g[0] @ jacobian, rtol=1e-14)


def test_kink_conventions_relu_zero_leaky_slope_mae_zero():
    z = np.zeros((1, 1))
    one = np.ones((1, 1))
    assert impl.activation_backward("relu", z, one)[0, 0] == 0.0
    assert impl.activation_backward("leaky_relu", z, one)[0, 0] == 0.01
    assert impl.loss_backward("mae", one, one)[0, 0] == 0.0
    assert impl.loss_backward("mape", one, one)[0, 0] == 0.0


def test_zero_targets_contribute_nothing_to_cross_entropy_even_at_zero_probability():
    p = np.array([[0.0, 1.0]])
    t = np.array([[0.0, 1.0]])
    assert impl.loss("cce", p, t) == 0.0
    assert impl.loss("bce", p, t) == 0.0
    assert np.all(np.isfinite(impl.loss_backward("cce", p, t)))
