"""Every protocol function rejects bad input with a ValueError that says what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import small_net

Z = np.ones((2, 3))
P = np.full((2, 3), 0.3)
X = np.ones((5, 3))
Y = np.zeros((5, 2))


def _net(**changes):
    net = small_net()
    net.update(changes)
    return net


def _layers_with(i, **changes):
    net = small_net()
    net["layers"][i].update(changes)
    return net


def _grads(net):
    return [{"W": np.zeros_like(layer["W"]), "b": np.zeros_like(layer["b"])} for layer in net["layers"]]


NET = small_net()
LAYERS = NET["layers"]
GRADS = _grads(NET)

BAD_INPUTS = [
    # activation / activation_backward
    ("activation", ("swish", Z), {}, "unknown activation 'swish'"),
    ("activation", ("tanh", np.ones(3)), {}, "z must be 2-D"),
    ("activation", ("tanh", np.array([[1.0, np.nan]])), {}, "z must be finite"),
    ("activation", ("tanh", "abc"), {}, "z must be an array of numbers"),
    ("activation", ("tanh", np.ones((0, 3))), {}, "z must not be empty"),
    ("activation_backward", ("sigmoid", Z, np.ones((3, 2))), {}, r"grad_a must have shape \(2, 3\)"),
    ("activation_backward", (None, Z, Z), {}, "unknown activation None"),
    # loss / loss_backward
    ("loss", ("hinge", P, P), {}, "unknown loss 'hinge'"),
    ("loss", ("mse", P, np.ones((3, 2))), {}, r"y_true must have shape \(2, 3\)"),
    ("loss", ("mse", np.ones(3), np.ones(3)), {}, "y_pred must be 2-D"),
    ("loss", ("sparse_cce", P, np.array([0.0, 1.0])), {}, "integer class labels"),
    ("loss", ("sparse_cce", P, np.array([0, 3])), {}, r"labels must lie in \[0, 3\)"),
    ("loss", ("sparse_cce", P, np.array([[0], [1]])), {}, r"labels must have shape \(2,\)"),
    ("loss", ("bce", P + 1.0, P), {}, "bce needs probabilities"),
    ("loss", ("cce", P, -P), {}, r"cce needs targets in \[0, 1\]"),
    ("loss", ("mape", P, np.zeros_like(P)), {}, "targets must be nonzero"),
    ("loss_backward", ("mae", P, np.ones((2, 2))), {}, r"y_true must have shape \(2, 3\)"),
    ("loss_backward", ("cce", -P, P), {}, "cce needs probabilities"),
    # dense_forward / dense_backward
    ("dense_forward", (X, np.ones((4, 2)), np.ones(4)), {}, r"W must have shape \(out, in\) with in = x.shape\[1\] = 3"),
    ("dense_forward", (X, np.ones((4, 3)), np.ones(3)), {}, r"b must have shape \(4,\)"),
    ("dense_forward", (np.ones(3), np.ones((4, 3)), np.ones(4)), {}, "x must be 2-D"),
    ("dense_backward", (X, np.ones((4, 3)), np.ones((5, 3))), {}, r"grad_z must have shape \(5, 4\)"),
    ("dense_backward", (X, np.ones((4, 2)), np.ones((5, 4))), {}, "W must have shape"),
    # network_gradients
    ("network_gradients", ([1, 2], X, Y), {}, "net must be a dict"),
    ("network_gradients", (_net(layers=[]), X, Y), {}, "layers must be a non-empty list"),
    (
        "network_gradients",
        (NET, np.ones((5, 4)), Y),
        {},
        r"sizes don't chain: X has 4 outputs, so layer 0 W must have shape \(4, 4\)",
    ),
    (
        "network_gradients",
        (_layers_with(1, W=np.ones((2, 5))), X, Y),
        {},
        r"layer 0 has 4 outputs, so layer 1 W must have shape \(2, 4\)",
    ),
    ("network_gradients", (_layers_with(0, b=np.ones(3)), X, Y), {}, r"layer 0 b must have shape \(4,\)"),
    ("network_gradients", (_layers_with(0, activation="gelu"), X, Y), {}, r"unknown activation \(layer 0\) 'gelu'"),
    ("network_gradients", (_net(loss="nll"), X, Y), {}, "unknown loss 'nll'"),
    ("network_gradients", (_net(l2=-0.1), X, Y), {}, "l2 must be a finite number >= 0"),
    ("network_gradients", (_net(loss="cce"), X, Y), {}, "output activation must be 'sigmoid' or 'softmax'"),
    ("network_gradients", (NET, X, np.zeros((4, 2))), {}, "X has 5 samples but Y has 4"),
    ("network_gradients", (NET, X, np.zeros((5, 3))), {}, r"Y must have shape \(5, 2\)"),
    ("network_gradients", ({"layers": LAYERS}, X, Y), {}, "net must be a dict with keys"),
    ("network_gradients", (_layers_with(0, W=None), X, Y), {}, "layer 0 W must be an array of numbers"),
    # sgd_momentum_step
    ("sgd_momentum_step", (LAYERS, GRADS[:1], None), {"lr": 0.1, "momentum": 0.0}, "grads must be a list of 2 dicts"),
    (
        "sgd_momentum_step",
        (LAYERS, [GRADS[0], {"W": np.zeros((4, 2)), "b": np.zeros(2)}], None),
        {"lr": 0.1, "momentum": 0.0},
        r"grads\[1\] W must have shape \(2, 4\)",
    ),
    ("sgd_momentum_step", (LAYERS, GRADS, GRADS[:1]), {"lr": 0.1, "momentum": 0.9}, "velocity must be a list of 2 dicts"),
    ("sgd_momentum_step", (LAYERS, GRADS, None), {"lr": -0.1, "momentum": 0.0}, "lr must be a finite number > 0"),
    ("sgd_momentum_step", (LAYERS, GRADS, None), {"lr": 0.1, "momentum": 1.5}, r"momentum must be a finite number \[0.0, 1.0\)"),
    ("sgd_momentum_step", (LAYERS, GRADS, None), {"lr": "fast", "momentum": 0.0}, "lr must be a number"),
    # train
    ("train", (NET, X, Y), {"lr": 0.1, "batch_size": 0, "epochs": 1}, "batch_size must be an integer >= 1"),
    ("train", (NET, X, Y), {"lr": 0.1, "batch_size": 2.5, "epochs": 1}, "batch_size must be an integer >= 1"),
    ("train", (NET, X, Y), {"lr": 0.1, "batch_size": 2, "epochs": -1}, "epochs must be an integer >= 0"),
    ("train", (NET, X, Y), {"lr": float("nan"), "batch_size": 2, "epochs": 1}, "lr must be a finite number"),
    ("train", (NET, X, Y[:3]), {"lr": 0.1, "batch_size": 2, "epochs": 1}, "X has 5 samples but Y has 3"),
]


@pytest.mark.parametrize(
    "function, args, kwargs, message", BAD_INPUTS, ids=[f"{case[0]}-{i}" for i, case in enumerate(BAD_INPUTS)]
)
def test_bad_input_raises_value_error_saying_what_was_expected(backend, function, args, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        getattr(backend, function)(*args, **kwargs)
    assert str(info.value).startswith(f"{function}: "), "the message names the function"


def test_every_protocol_function_has_bad_input_cases():
    from gradverify.impl.backprop import PROTOCOL_FUNCTIONS

    assert {case[0] for case in BAD_INPUTS} == set(PROTOCOL_FUNCTIONS)


def test_bad_input_does_not_modify_the_inputs(backend):
    net = small_net()
    before = [(layer["W"].copy(), layer["b"].copy()) for layer in net["layers"]]
    with pytest.raises(ValueError):
        backend.train(net, X, Y, lr=0.1, batch_size=0, epochs=1)
    for (W, b), layer in zip(before, net["layers"]):
        np.testing.assert_array_equal(layer["W"], W)
        np.testing.assert_array_equal(layer["b"], b)


def test_zero_learning_rate_is_rejected_by_step_and_train(backend):
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        backend.sgd_momentum_step(LAYERS, GRADS, None, lr=0.0, momentum=0.0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        backend.train(NET, X, Y, lr=0, batch_size=1, epochs=1)
