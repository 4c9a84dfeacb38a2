"""The protocol's conventions, on fixed examples, for every backend."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tests.conftest import small_net

RNG = np.random.default_rng(7)
X = RNG.normal(size=(5, 3))
Y = RNG.normal(size=(5, 2))


def _grads_like(layers, value):
    return [{"W": np.full_like(layer["W"], value), "b": np.full_like(layer["b"], value)} for layer in layers]


# Each loss on ŷ = [[0.2, 0.6], [0.9, 0.3]], y = [[0.0, 1.0], [1.0, 0.5]] by its formula, N = K = 2.
P2 = np.array([[0.2, 0.6], [0.9, 0.3]])
T2 = np.array([[0.0, 1.0], [1.0, 0.5]])
LOSS_BY_HAND = {
    "mse": (0.04 + 0.16 + 0.01 + 0.04) / 4,
    "sse": 0.5 * (0.04 + 0.16 + 0.01 + 0.04) / 2,
    "mae": (0.2 + 0.4 + 0.1 + 0.2) / 4,
    "bce": -(np.log(0.8) + np.log(0.6) + np.log(0.9) + 0.5 * np.log(0.3) + 0.5 * np.log(0.7)) / 4,
    "cce": -(np.log(0.6) + np.log(0.9) + 0.5 * np.log(0.3)) / 2,
}


@pytest.mark.parametrize("name", sorted(LOSS_BY_HAND))
def test_loss_value_follows_its_formula(backend, name):
    assert backend.loss(name, P2, T2) == pytest.approx(LOSS_BY_HAND[name], rel=1e-13)


def test_mape_is_a_percentage_of_the_target(backend):
    assert backend.loss("mape", np.array([[1.1, 3.0]]), np.array([[1.0, -2.0]])) == pytest.approx(
        100 * (0.1 + 2.5) / 2, rel=1e-13
    )


def test_sparse_cce_equals_cce_on_one_hot_labels(backend):
    p = np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    labels = np.array([1, 2])
    assert backend.loss("sparse_cce", p, labels) == pytest.approx(backend.loss("cce", p, np.eye(3)[labels]), rel=1e-14)
    np.testing.assert_allclose(
        backend.loss_backward("sparse_cce", p, labels), backend.loss_backward("cce", p, np.eye(3)[labels]), rtol=1e-14
    )


def test_dense_backward_sums_over_the_batch(backend):
    W = RNG.normal(size=(4, 3))
    gz = RNG.normal(size=(5, 4))
    grad_x, grad_W, grad_b = backend.dense_backward(X, W, gz)
    loops_W = sum(np.outer(gz[n], X[n]) for n in range(5))
    np.testing.assert_allclose(grad_W, loops_W, rtol=1e-13)
    np.testing.assert_allclose(grad_b, gz.sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(grad_x, np.stack([W.T @ gz[n] for n in range(5)]), rtol=1e-13)


def test_l2_adds_half_lambda_norm_to_the_loss_and_lambda_w_to_the_weight_gradient_only(backend):
    plain, with_l2 = small_net(l2=0.0), small_net(l2=0.3)
    e0, g0 = backend.network_gradients(plain, X, Y)
    e1, g1 = backend.network_gradients(with_l2, X, Y)
    penalty = 0.15 * sum(np.sum(layer["W"] ** 2) for layer in plain["layers"])
    assert e1 == pytest.approx(e0 + penalty, rel=1e-13)
    for a, b, layer in zip(g0, g1, plain["layers"]):
        np.testing.assert_allclose(b["W"], a["W"] + 0.3 * layer["W"], rtol=1e-12)
        np.testing.assert_allclose(b["b"], a["b"], rtol=1e-13)


def test_first_momentum_step_is_plain_gradient_descent(backend):
    layers = small_net()["layers"]
    params, velocity = backend.sgd_momentum_step(layers, _grads_like(layers, 2.0), None, lr=0.1, momentum=0.9)
    for p, v, old in zip(params, velocity, layers):
        np.testing.assert_allclose(v["W"], -0.2 * np.ones_like(old["W"]), rtol=1e-15)
        np.testing.assert_allclose(p["W"], old["W"] - 0.2, rtol=1e-15)
        assert p["activation"] == old["activation"]


def test_momentum_step_adds_alpha_times_the_previous_correction(backend):
    layers = small_net()["layers"]
    previous = _grads_like(layers, 0.5)
    params, velocity = backend.sgd_momentum_step(layers, _grads_like(layers, 2.0), previous, lr=0.1, momentum=0.9)
    for p, v, old in zip(params, velocity, layers):
        np.testing.assert_allclose(v["b"], np.full_like(old["b"], -0.2 + 0.45), rtol=1e-14)
        np.testing.assert_allclose(p["b"], old["b"] + 0.25, rtol=1e-14)


def test_step_and_train_leave_their_inputs_unmodified(backend):
    net = small_net()
    snapshot = copy.deepcopy(net)
    grads = _grads_like(net["layers"], 1.0)
    velocity = _grads_like(net["layers"], 0.5)
    backend.sgd_momentum_step(net["layers"], grads, velocity, lr=0.1, momentum=0.5)
    backend.train(net, X, Y, lr=0.1, momentum=0.5, batch_size=2, epochs=2)
    for layer, before in zip(net["layers"], snapshot["layers"]):
        np.testing.assert_array_equal(layer["W"], before["W"])
        np.testing.assert_array_equal(layer["b"], before["b"])
    for g in grads:
        assert np.all(g["W"] == 1.0)
    for v in velocity:
        assert np.all(v["W"] == 0.5)


def test_train_runs_batches_in_order_with_the_last_one_smaller(backend):
    net = small_net()
    trained, losses = backend.train(net, X, Y, lr=0.05, momentum=0.8, batch_size=2, epochs=3)
    assert len(losses) == 3 * 3
    layers, velocity, expected = net["layers"], None, []
    for _ in range(3):
        for rows in (slice(0, 2), slice(2, 4), slice(4, 5)):
            e, g = backend.network_gradients({**net, "layers": layers}, X[rows], Y[rows])
            expected.append(e)
            layers, velocity = backend.sgd_momentum_step(layers, g, velocity, lr=0.05, momentum=0.8)
    np.testing.assert_allclose(losses, expected, rtol=1e-13)
    for a, b in zip(trained["layers"], layers):
        np.testing.assert_allclose(a["W"], b["W"], rtol=1e-13)
    assert trained["loss"] == net["loss"] and trained["l2"] == net["l2"]


def test_train_for_zero_epochs_returns_the_net_unchanged(backend):
    net = small_net()
    trained, losses = backend.train(net, X, Y, lr=0.1, batch_size=5, epochs=0)
    assert losses == []
    for a, b in zip(trained["layers"], net["layers"]):
        np.testing.assert_array_equal(a["W"], b["W"])


def test_outputs_are_float64_arrays_and_python_floats(backend):
    e, grads = backend.network_gradients(small_net(), X, Y)
    assert isinstance(e, float)
    assert all(g["W"].dtype == np.float64 and isinstance(g["W"], np.ndarray) for g in grads)
    assert isinstance(backend.loss("mse", P2, T2), float)
    assert backend.activation("tanh", X).dtype == np.float64
