"""Bad input, and input just inside the bounds, for every protocol function.

The protocol (docs/protocol.md) says bad input raises ValueError with a message that
starts with the function's name; input at the edge of what is allowed (lr just above 0,
momentum 0, labels K − 1, probabilities exactly 0 or 1, …) must be accepted. Each kind
below builds one such call from a NumPy generator, with random sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

Call = tuple[tuple, dict]


@dataclass(frozen=True)
class InputKind:
    function: str
    description: str
    build: Callable[[np.random.Generator], Call]
    #: True: the input is allowed and must be accepted; False: it must raise ValueError
    valid: bool = False
    #: for allowed input: the plain equivalent call, whose result it must equal
    same_as: Callable[[Call], Call] | None = None


@dataclass(frozen=True)
class BadInputCase:
    kind: str
    seed: int

    def describe(self) -> str:
        k = INPUT_KINDS[self.kind]
        return (
            f"{k.function} with {k.description} ({'must be accepted' if k.valid else 'must raise ValueError'}), seed {self.seed}"
        )

    def call(self) -> Call:
        return INPUT_KINDS[self.kind].build(np.random.default_rng(self.seed))


def _size(rng: np.random.Generator, low: int = 1) -> int:
    return int(rng.integers(low, 6))


def _net(
    rng: np.random.Generator, loss: str = "mse", out: str = "identity", l2: float = 0.0
) -> tuple[dict, np.ndarray, np.ndarray]:
    """A valid 2-layer net with data: D -> H -> K."""
    d, h, k, n = _size(rng), _size(rng), _size(rng, 2), _size(rng)
    net = {
        "layers": [
            {"W": rng.normal(size=(h, d)), "b": rng.normal(size=h), "activation": "tanh"},
            {"W": rng.normal(size=(k, h)), "b": rng.normal(size=k), "activation": out},
        ],
        "loss": loss,
        "l2": l2,
    }
    X = rng.normal(size=(n, d))
    Y = rng.integers(0, k, size=n) if loss == "sparse_cce" else rng.uniform(0.1, 0.9, size=(n, k))
    return net, X, Y


def _with_layer(net: dict, i: int, **changes: Any) -> dict:
    layers = [dict(layer) for layer in net["layers"]]
    layers[i].update(changes)
    return {**net, "layers": layers}


def _grads(net: dict) -> list[dict]:
    return [{"W": np.zeros_like(layer["W"]), "b": np.zeros_like(layer["b"])} for layer in net["layers"]]


def _probs(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.05, 0.95, size=(_size(rng), _size(rng, 2)))


def _z(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=(_size(rng), _size(rng)))


def _dense(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, i, o = _size(rng), _size(rng), _size(rng)
    return rng.normal(size=(n, i)), rng.normal(size=(o, i)), rng.normal(size=o)


def _step(rng: np.random.Generator, **kwargs: Any) -> Call:
    net, _, _ = _net(rng)
    return (net["layers"], _grads(net), None), {"lr": 0.1, "momentum": 0.5, **kwargs}


def _train(rng: np.random.Generator, **kwargs: Any) -> Call:
    net, X, Y = _net(rng)
    return (net, X, Y), {"lr": 0.01, "momentum": 0.0, "batch_size": 2, "epochs": 1, **kwargs}


def _loss_call(name: str, p: np.ndarray, y: Any) -> Call:
    return (name, p, y), {}


def _kinds() -> dict[str, InputKind]:
    K = InputKind
    kinds = [
        # activation, activation_backward
        K("activation", "an unknown activation name", lambda r: (("swish", _z(r)), {})),
        K("activation", "a 1-D z", lambda r: (("tanh", r.normal(size=_size(r))), {})),
        K("activation", "a 3-D z", lambda r: (("tanh", r.normal(size=(2, 2, 2))), {})),
        K("activation", "a NaN in z", lambda r: (("relu", np.where(np.eye(3) > 0, np.nan, 1.0)), {})),
        K("activation", "an inf in z", lambda r: (("relu", np.full((2, 3), np.inf)), {})),
        K("activation", "an empty z", lambda r: (("sigmoid", np.zeros((0, _size(r)))), {})),
        K("activation", "z given as a string", lambda r: (("sigmoid", "1 2 3"), {})),
        K("activation", "z given as None", lambda r: (("sigmoid", None), {})),
        K("activation_backward", "grad_a of another shape than z", lambda r: (("tanh", np.ones((2, 3)), np.ones((3, 2))), {})),
        K("activation_backward", "an unknown activation name", lambda r: (("gelu", np.ones((2, 2)), np.ones((2, 2))), {})),
        K("activation_backward", "a 1-D grad_a", lambda r: (("tanh", np.ones((1, 3)), np.ones(3)), {})),
        K("activation_backward", "a 1-D z", lambda r: (("tanh", np.ones(3), np.ones((1, 3))), {})),
        K("activation", "a 2-D z of strings", lambda r: (("tanh", np.array([["a", "b"]])), {})),
        # loss, loss_backward
        K("loss", "an unknown loss name", lambda r: _loss_call("hinge", _probs(r), _probs(r))),
        K("loss", "y_true of another shape than y_pred", lambda r: _loss_call("mse", np.ones((2, 3)), np.ones((3, 2)))),
        K("loss", "a 1-D y_pred", lambda r: _loss_call("mae", np.ones(3), np.ones(3))),
        K(
            "loss",
            "float labels for sparse_cce",
            lambda r: _loss_call("sparse_cce", np.full((2, 3), 1 / 3), np.array([0.0, 1.0])),
        ),
        K(
            "loss",
            "a label equal to K for sparse_cce",
            lambda r: _loss_call("sparse_cce", np.full((2, 3), 1 / 3), np.array([0, 3])),
        ),
        K(
            "loss",
            "a negative label for sparse_cce",
            lambda r: _loss_call("sparse_cce", np.full((2, 3), 1 / 3), np.array([-1, 0])),
        ),
        K(
            "loss",
            "labels of shape (N, 1) for sparse_cce",
            lambda r: _loss_call("sparse_cce", np.full((2, 3), 1 / 3), np.array([[0], [1]])),
        ),
        K("loss", "y_pred above 1 for bce", lambda r: (lambda p: _loss_call("bce", p + 1.0, np.full_like(p, 0.5)))(_probs(r))),
        K("loss", "y_pred below 0 for cce", lambda r: _loss_call("cce", -np.ones((2, 2)), np.full((2, 2), 0.5))),
        K("loss", "y_pred above 1 for sparse_cce", lambda r: _loss_call("sparse_cce", np.full((2, 2), 2.0), np.array([0, 1]))),
        K(
            "loss",
            "a target below 0 for cce",
            lambda r: _loss_call("cce", np.full((2, 2), 0.5), np.array([[-0.5, 1.5], [0.5, 0.5]])),
        ),
        K("loss", "a target above 1 for bce", lambda r: _loss_call("bce", np.full((2, 2), 0.5), np.full((2, 2), 1.5))),
        K("loss", "a zero target for mape", lambda r: _loss_call("mape", np.ones((2, 2)), np.array([[1.0, 0.0], [2.0, 3.0]]))),
        K("loss_backward", "y_true of another shape than y_pred", lambda r: (("mae", np.ones((2, 3)), np.ones((2, 2))), {})),
        K("loss_backward", "y_pred below 0 for bce", lambda r: (("bce", -np.ones((2, 2)), np.full((2, 2), 0.5)), {})),
        K("loss_backward", "a zero target for mape", lambda r: (("mape", np.ones((1, 2)), np.zeros((1, 2))), {})),
        K("loss", "a 1-D y_true for mse", lambda r: _loss_call("mse", np.ones((1, 3)), np.ones(3))),
        # dense_forward, dense_backward
        K("dense_forward", "W whose fan-in is not x's width", lambda r: ((np.ones((3, 2)), np.ones((4, 3)), np.ones(4)), {})),
        K("dense_forward", "b of the wrong length", lambda r: ((np.ones((3, 2)), np.ones((4, 2)), np.ones(3)), {})),
        K("dense_forward", "a 1-D x", lambda r: ((np.ones(2), np.ones((4, 2)), np.ones(4)), {})),
        K("dense_forward", "a 2-D b", lambda r: ((np.ones((3, 2)), np.ones((4, 2)), np.ones((1, 4))), {})),
        K("dense_forward", "a 1-D W", lambda r: ((np.ones((3, 2)), np.ones(2), np.ones(1)), {})),
        K("dense_backward", "grad_z of the wrong shape", lambda r: ((np.ones((3, 2)), np.ones((4, 2)), np.ones((3, 3))), {})),
        K(
            "dense_backward",
            "W whose fan-in is not x's width",
            lambda r: ((np.ones((3, 2)), np.ones((4, 3)), np.ones((3, 4))), {}),
        ),
        K("dense_backward", "a NaN in grad_z", lambda r: ((np.ones((3, 2)), np.ones((4, 2)), np.full((3, 4), np.nan)), {})),
        K("dense_backward", "a NaN in x", lambda r: ((np.full((3, 2), np.nan), np.ones((4, 2)), np.ones((3, 4))), {})),
        # network_gradients
        K("network_gradients", "a net that is a list", lambda r: (([1, 2], np.ones((2, 2)), np.ones((2, 2))), {})),
        K("network_gradients", "a net without 'loss'", lambda r: _without(_net(r), "loss")),
        K("network_gradients", "no layers", lambda r: _net_call(_net(r), layers=[])),
        K("network_gradients", "a layer that is not a dict", lambda r: _net_call(_net(r), layers=[1])),
        K("network_gradients", "a layer without 'activation'", lambda r: _layer_without(_net(r), "activation")),
        K("network_gradients", "X whose width is not the first layer's fan-in", lambda r: _wider_X(_net(r))),
        K("network_gradients", "layers whose sizes don't chain", lambda r: _unchained(_net(r), r)),
        K("network_gradients", "a bias of the wrong length", lambda r: _net_layer_call(_net(r), 1, b=np.ones(7))),
        K("network_gradients", "an unknown activation", lambda r: _net_layer_call(_net(r), 0, activation="gelu")),
        K("network_gradients", "an unknown loss", lambda r: _net_call(_net(r), loss="nll")),
        K("network_gradients", "a negative l2", lambda r: _net_call(_net(r), l2=-0.1)),
        K("network_gradients", "a NaN l2", lambda r: _net_call(_net(r), l2=float("nan"))),
        K("network_gradients", "l2 given as True", lambda r: _net_call(_net(r), l2=True)),
        K(
            "network_gradients",
            "cce after an identity output",
            lambda r: _net_layer_call(_net(r, "cce", "softmax"), 1, activation="identity"),
        ),
        K(
            "network_gradients",
            "bce after a relu output",
            lambda r: _net_layer_call(_net(r, "bce", "sigmoid"), 1, activation="relu"),
        ),
        K("network_gradients", "Y with fewer samples than X", lambda r: _fewer_Y(_net(r))),
        K("network_gradients", "Y with one output too many", lambda r: _wider_Y(_net(r))),
        K("network_gradients", "float labels for sparse_cce", lambda r: _float_labels(_net(r, "sparse_cce", "softmax"))),
        K(
            "network_gradients",
            "sparse_cce after an identity output",
            lambda r: _net_layer_call(_net(r, "sparse_cce", "softmax"), 1, activation="identity"),
        ),
        K("network_gradients", "a 1-D W in a layer", lambda r: _net_layer_call(_net(r), 0, W=np.ones(3))),
        K("network_gradients", "a 2-D b in a layer", lambda r: _net_layer_call(_net(r), 0, b=np.ones((1, 3)))),
        K("network_gradients", "a 1-D X", lambda r: _reshaped(_net(r), X=lambda X: X[0])),
        K("network_gradients", "a 1-D Y for mse", lambda r: _reshaped(_net(r), Y=lambda Y: Y[:, 0])),
        # sgd_momentum_step
        K("sgd_momentum_step", "one gradient too few", lambda r: _step_with(r, grads=lambda net: _grads(net)[:1])),
        K(
            "sgd_momentum_step",
            "a gradient of the wrong shape",
            lambda r: _step_with(
                r,
                grads=lambda net: [
                    {"W": g["W"].T if g["W"].shape[0] != g["W"].shape[1] else np.ones((9, 9)), "b": g["b"]} for g in _grads(net)
                ],
            ),
        ),
        K(
            "sgd_momentum_step",
            "a velocity list of the wrong length",
            lambda r: _step_with(r, velocity=lambda net: _grads(net)[:1]),
        ),
        K(
            "sgd_momentum_step",
            "a gradient that is not a dict",
            lambda r: _step_with(r, grads=lambda net: [1] * len(net["layers"])),
        ),
        K("sgd_momentum_step", "grads given as None", lambda r: _step_with(r, grads=lambda net: None)),
        K("sgd_momentum_step", "no layers in params", lambda r: (([], [], None), {"lr": 0.1, "momentum": 0.0})),
        K(
            "sgd_momentum_step",
            "a 1-D weight gradient",
            lambda r: _step_with(r, grads=lambda net: [{"W": g["W"].ravel(), "b": g["b"]} for g in _grads(net)]),
        ),
        K(
            "sgd_momentum_step",
            "a 2-D bias gradient",
            lambda r: _step_with(r, grads=lambda net: [{"W": g["W"], "b": g["b"][None, :]} for g in _grads(net)]),
        ),
        K(
            "sgd_momentum_step",
            "a bias gradient of the wrong length",
            lambda r: _step_with(r, grads=lambda net: [{"W": g["W"], "b": np.zeros(9)} for g in _grads(net)]),
        ),
        K(
            "sgd_momentum_step",
            "a velocity entry of the wrong shape",
            lambda r: _step_with(r, velocity=lambda net: [{"W": np.zeros((9, 9)), "b": g["b"]} for g in _grads(net)]),
        ),
        K("sgd_momentum_step", "lr = 0", lambda r: _step(r, lr=0.0)),
        K("sgd_momentum_step", "a negative lr", lambda r: _step(r, lr=-0.1)),
        K("sgd_momentum_step", "a NaN lr", lambda r: _step(r, lr=float("nan"))),
        K("sgd_momentum_step", "lr given as a string", lambda r: _step(r, lr="0.1")),
        K("sgd_momentum_step", "momentum = 1", lambda r: _step(r, momentum=1.0)),
        K("sgd_momentum_step", "a negative momentum", lambda r: _step(r, momentum=-0.5)),
        K("sgd_momentum_step", "momentum given as True", lambda r: _step(r, momentum=True)),
        # train
        K("train", "batch_size = 0", lambda r: _train(r, batch_size=0)),
        K("train", "a fractional batch_size", lambda r: _train(r, batch_size=1.5)),
        K("train", "batch_size given as True", lambda r: _train(r, batch_size=True)),
        K("train", "epochs = −1", lambda r: _train(r, epochs=-1)),
        K("train", "an inf lr", lambda r: _train(r, lr=float("inf"))),
        K("train", "momentum = 1", lambda r: _train(r, momentum=1.0)),
        K("train", "Y with fewer samples than X", lambda r: _train_fewer_Y(r)),
        # Allowed input at the edge: must be accepted.
        K("activation", "large |z| (must not overflow)", lambda r: (("softplus", np.array([[-800.0, 0.0, 800.0]])), {}), True),
        K(
            "loss",
            "probabilities exactly 0 and 1 for bce",
            lambda r: _loss_call("bce", np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]])),
            True,
        ),
        K(
            "loss",
            "the label K − 1 for sparse_cce",
            lambda r: _loss_call("sparse_cce", np.full((2, 3), 1 / 3), np.array([2, 2])),
            True,
        ),
        K("loss", "negative targets for mape", lambda r: _loss_call("mape", np.ones((2, 2)), -np.ones((2, 2))), True),
        K(
            "loss",
            "targets exactly 0 and 1 for cce",
            lambda r: _loss_call("cce", np.full((1, 2), 0.5), np.array([[0.0, 1.0]])),
            True,
        ),
        K(
            "loss",
            "integer arrays for mse",
            lambda r: _loss_call("mse", np.arange(4).reshape(2, 2), np.zeros((2, 2), dtype=int)),
            True,
            lambda c: _loss_call("mse", np.arange(4.0).reshape(2, 2), np.zeros((2, 2))),
        ),
        K(
            "activation",
            "an integer z",
            lambda r: (("identity", np.arange(6).reshape(2, 3)), {}),
            True,
            lambda c: (("identity", np.arange(6.0).reshape(2, 3)), {}),
        ),
        K(
            "network_gradients",
            "l2 = 0 given as an int",
            lambda r: _net_call(_net(r, l2=0.5), l2=0),
            True,
            lambda c: _net_call(c[0], l2=0.0),
        ),
        K(
            "network_gradients",
            "a net without 'l2'",
            lambda r: _without(_net(r, l2=0.5), "l2"),
            True,
            lambda c: _net_call(c[0], l2=0.0),
        ),
        K("network_gradients", "nested lists instead of arrays", lambda r: _as_lists(_net(r)), True, _as_arrays),
        K("train", "no momentum given", lambda r: _train_without_momentum(r), True, lambda c: (c[0], {**c[1], "momentum": 0.0})),
        K("sgd_momentum_step", "a tiny positive lr and momentum 0", lambda r: _step(r, lr=1e-300, momentum=0.0), True),
        K("sgd_momentum_step", "momentum just below 1", lambda r: _step(r, momentum=0.999), True),
        K("train", "epochs = 0", lambda r: _train(r, epochs=0), True),
        K(
            "train",
            "epochs = 0 on nested lists (the net comes back as float64 arrays)",
            lambda r: _train_as_lists(r),
            True,
            _as_arrays,
        ),
        K("train", "batch_size larger than N", lambda r: _train(r, batch_size=1000), True),
        K("train", "batch_size 1", lambda r: _train(r, batch_size=1), True),
    ]
    return {f"{k.function}: {k.description}": k for k in kinds}


def _net_call(data: tuple, **changes: Any) -> Call:
    net, X, Y = data
    return ({**net, **changes}, X, Y), {}


def _net_layer_call(data: tuple, i: int, **changes: Any) -> Call:
    net, X, Y = data
    return (_with_layer(net, i, **changes), X, Y), {}


def _without(data: tuple, key: str) -> Call:
    net, X, Y = data
    return ({k: v for k, v in net.items() if k != key}, X, Y), {}


def _layer_without(data: tuple, key: str) -> Call:
    net, X, Y = data
    layers = [dict(layer) for layer in net["layers"]]
    del layers[0][key]
    return ({**net, "layers": layers}, X, Y), {}


def _wider_X(data: tuple) -> Call:
    net, X, Y = data
    return (net, np.hstack([X, X[:, :1]]), Y), {}


def _unchained(data: tuple, rng: np.random.Generator) -> Call:
    net, X, Y = data
    W = net["layers"][1]["W"]
    return (_with_layer(net, 1, W=np.ones((W.shape[0], W.shape[1] + 1))), X, Y), {}


def _fewer_Y(data: tuple) -> Call:
    net, X, Y = data
    return (net, np.vstack([X, X[:1]]), Y), {}


def _wider_Y(data: tuple) -> Call:
    net, X, Y = data
    return (net, X, np.hstack([Y, Y[:, :1]])), {}


def _float_labels(data: tuple) -> Call:
    net, X, Y = data
    return (net, X, Y.astype(np.float64) + 0.5), {}


def _as_lists(data: tuple) -> Call:
    net, X, Y = data
    layers = [{**layer, "W": layer["W"].tolist(), "b": layer["b"].tolist()} for layer in net["layers"]]
    return ({**net, "layers": layers}, X.tolist(), Y.tolist()), {}


def _reshaped(data: tuple, X: Callable | None = None, Y: Callable | None = None) -> Call:
    net, X0, Y0 = data
    return (net, X(X0) if X else X0, Y(Y0) if Y else Y0), {}


def _as_arrays(call: Call) -> Call:
    (net, X, Y), kwargs = call
    layers = [
        {**layer, "W": np.asarray(layer["W"], dtype=float), "b": np.asarray(layer["b"], dtype=float)} for layer in net["layers"]
    ]
    return ({**net, "layers": layers}, np.asarray(X, dtype=float), np.asarray(Y, dtype=float)), kwargs


def _train_as_lists(rng: np.random.Generator) -> Call:
    args, kwargs = _train(rng, epochs=0)
    return _as_lists(args)[0], kwargs


def _train_without_momentum(rng: np.random.Generator) -> Call:
    args, kwargs = _train(rng, momentum=None)
    return args, {k: v for k, v in kwargs.items() if k != "momentum"}


def _step_with(rng: np.random.Generator, grads=None, velocity=None) -> Call:
    net, _, _ = _net(rng)
    g = grads(net) if grads else _grads(net)
    v = velocity(net) if velocity else None
    return (net["layers"], g, v), {"lr": 0.1, "momentum": 0.5}


def _train_fewer_Y(rng: np.random.Generator) -> Call:
    (net, X, Y), kwargs = _train(rng)
    return (net, np.vstack([X, X[:1]]), Y), kwargs


INPUT_KINDS: dict[str, InputKind] = _kinds()
