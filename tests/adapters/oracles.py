"""The course APIs checked against PyTorch, function by function, without gradverify.

`wrong(course, module)` is the set of a solution's course functions (classes, for the layer
API) that disagree with PyTorch autograd on a small random case, or raise: what a bug breaks,
found independently of the grader and its adapters.
"""

from __future__ import annotations

import types
from typing import Any, Callable

import numpy as np
import torch

TOLERANCE = 1e-9


def _close(got: Any, expected: Any) -> bool:
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected, dtype=np.float64)
    return got.shape == expected.shape and np.allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


def _t(array: np.ndarray, grad: bool = True) -> torch.Tensor:
    return torch.tensor(array, dtype=torch.float64, requires_grad=grad)


def _vjp(f: Callable[..., torch.Tensor], *arrays: np.ndarray, upstream: np.ndarray) -> tuple[torch.Tensor, list]:
    """(f(*arrays), the gradients of Σ f·upstream with respect to each array)."""
    inputs = [_t(a) for a in arrays]
    out = f(*inputs)
    (out * _t(upstream, False)).sum().backward()
    return out, [x.grad for x in inputs]


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal draws with |x| ≥ 0.1, clear of relu's kink."""
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < 0.1, 0.5, x)


# --------------------------------------------------------------------------- the CS231n layer API


def _cs231n_affine(module: types.ModuleType, rng: np.random.Generator) -> dict[str, bool]:
    x, w, b, dout = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=(3, 5))
    out, (dx, dw, db) = _vjp(lambda x, w, b: x @ w + b, x, w, b, upstream=dout)
    got, cache = module.affine_forward(x.copy(), w.copy(), b.copy())
    back = module.affine_backward(dout.copy(), cache)
    return {
        "affine_forward": _close(got, out),
        "affine_backward": all(_close(g, e) for g, e in zip(back, (dx, dw, db))) and len(back) == 3,
    }


def _cs231n_activation(name: str, f: Callable, draw: Callable) -> Callable:
    def check(module: types.ModuleType, rng: np.random.Generator) -> dict[str, bool]:
        x, dout = draw(rng, (3, 4)), rng.normal(size=(3, 4))
        out, (dx,) = _vjp(f, x, upstream=dout)
        got, cache = getattr(module, f"{name}_forward")(x.copy())
        return {
            f"{name}_forward": _close(got, out),
            f"{name}_backward": _close(getattr(module, f"{name}_backward")(dout.copy(), cache), dx),
        }

    return check


def _cs231n_softmax_loss(module: types.ModuleType, rng: np.random.Generator) -> dict[str, bool]:
    x, y = rng.normal(size=(4, 3)), rng.integers(0, 3, size=4)
    scores = _t(x)
    loss = torch.nn.functional.cross_entropy(scores, torch.tensor(y))
    loss.backward()
    value, dx = module.softmax_loss(x.copy(), y.copy())
    return {"softmax_loss": _close(value, loss) and _close(dx, scores.grad)}


def _cs231n_sgd_momentum(module: types.ModuleType, rng: np.random.Generator) -> dict[str, bool]:
    """Three steps against torch.optim.SGD(momentum, dampening=0), whose buffer is CS231n's v / −lr."""
    w, lr, momentum = rng.normal(size=(3, 2)), 0.1, 0.9
    param = _t(w)
    optimizer = torch.optim.SGD([param], lr=lr, momentum=momentum)
    config: dict = {"learning_rate": lr, "momentum": momentum}
    ok = True
    for _ in range(3):
        dw = rng.normal(size=w.shape)
        param.grad = _t(dw, False)
        optimizer.step()
        w, config = module.sgd_momentum(w.copy(), dw.copy(), config)
        buffer = optimizer.state[param]["momentum_buffer"]
        ok = ok and _close(w, param) and _close(config["velocity"], -lr * buffer)
    return {"sgd_momentum": ok}


Check = Callable[[types.ModuleType, np.random.Generator], dict[str, bool]]

#: (the course functions a check reports on, the check), in order.
CS231N: list[tuple[tuple[str, ...], Check]] = [
    (("affine_forward", "affine_backward"), _cs231n_affine),
    (("relu_forward", "relu_backward"), _cs231n_activation("relu", torch.relu, _away_from_zero)),
    (("softmax_loss",), _cs231n_softmax_loss),
    (("sgd_momentum",), _cs231n_sgd_momentum),
]


# --------------------------------------------------------------------------- the class-based layer API


def _layers_dense(module: types.ModuleType, rng: np.random.Generator) -> dict[str, bool]:
    """Dense at λ = 0 (forward, dW, db, grad_x), and its weight decay at λ = 0.1 (dW, penalty)."""
    x, W, b, grad = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=5), rng.normal(size=(3, 5))
    z, (dx, dW, db) = _vjp(lambda x, W, b: x @ W.T + b, x, W, b, upstream=grad)
    layer = module.Dense(W.copy(), b.copy())
    forward = _close(layer.forward(x.copy()), z)
    grad_x = layer.backward(grad.copy())
    plain = forward and _close(grad_x, dx) and _close(layer.dW, dW) and _close(layer.db, db)
    lam = 0.1
    decayed = _t(W)
    penalty = 0.5 * lam * (decayed**2).sum()
    ((_t(x, False) @ decayed.T) * _t(grad, False)).sum().add(penalty).backward()
    layer = module.Dense(W.copy(), b.copy(), l2=lam)
    layer.forward(x.copy())
    layer.backward(grad.copy())
    return {"Dense": plain, "Dense.l2": _close(layer.dW, decayed.grad) and _close(layer.penalty(), penalty)}


def _layers_activation(name: str, f: Callable, draw: Callable) -> Callable:
    def check(module: types.ModuleType, rng: np.random.Generator) -> dict[str, bool]:
        z, grad = draw(rng, (3, 4)), rng.normal(size=(3, 4))
        a, (dz,) = _vjp(f, z, upstream=grad)
        layer = getattr(module, name)()
        return {name: _close(layer.forward(z.copy()), a) and _close(layer.backward(grad.copy()), dz)}

    return check


def _layers_loss(name: str, f: Callable, targets: Callable) -> Callable:
    def check(module: types.ModuleType, rng: np.random.Generator) -> dict[str, bool]:
        y_pred, y_true = rng.dirichlet(np.ones(3), size=4), targets(rng)
        p = _t(y_pred)
        value = f(p, _t(y_true, False))
        value.backward()
        loss = getattr(module, name)()
        return {name: _close(loss.forward(y_pred.copy(), y_true.copy()), value) and _close(loss.backward(), p.grad)}

    return check


class _Layer:
    """What the course's SGD updates: W, b and their gradients dW, db."""

    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W, self.b = W, b
        self.dW, self.db = np.zeros_like(W), np.zeros_like(b)


def _layers_sgd(module: types.ModuleType, rng: np.random.Generator) -> dict[str, bool]:
    """Three steps against torch.optim.SGD(momentum, dampening=0) on two layers (its buffer is
    the course's v / −lr, so the weights are the same), and the velocities: v = −lr·buffer."""
    shapes = [((3, 2), (3,)), ((1, 3), (1,))]
    layers = [_Layer(rng.normal(size=w), rng.normal(size=b)) for w, b in shapes]
    params = [_t(p) for layer in layers for p in (layer.W.copy(), layer.b.copy())]
    reference = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    optimizer = module.SGD(layers, lr=0.1, momentum=0.9)
    for _ in range(3):
        for i, layer in enumerate(layers):
            layer.dW, layer.db = rng.normal(size=layer.W.shape), rng.normal(size=layer.b.shape)
            params[2 * i].grad, params[2 * i + 1].grad = _t(layer.dW, False), _t(layer.db, False)
        reference.step()
        optimizer.step()
    weights = all(_close(p, q) for p, q in zip([a for layer in layers for a in (layer.W, layer.b)], params))
    buffers = [-0.1 * reference.state[p]["momentum_buffer"] for p in params]
    velocities = all(
        _close(v, buffer) for v, buffer in zip([v for pair in zip(optimizer.v_W, optimizer.v_b) for v in pair], buffers)
    )
    return {"SGD": weights and velocities}


class _Linear:
    """A correct one-layer linear model in the course's Sequential shape (forward, backward,
    penalty, layers), the mean squared error and the momentum step, in closed form: what `fit`
    is run with, so that only `fit` itself is under test."""

    def __init__(self, W: np.ndarray, b: np.ndarray, l2: float):
        self.W, self.b, self.l2 = W, b, l2
        self.layers = [self]

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, grad: np.ndarray) -> np.ndarray:
        self.dW, self.db = grad.T @ self.x + self.l2 * self.W, grad.sum(axis=0)
        return grad @ self.W

    def penalty(self) -> float:
        return 0.5 * self.l2 * float(np.sum(self.W**2))


class _MSE:
    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        self.diff = y_pred - y_true
        return float(np.mean(self.diff**2))

    def backward(self) -> np.ndarray:
        return 2 * self.diff / self.diff.size


class _Momentum:
    def __init__(self, model: _Linear, lr: float, momentum: float):
        self.model, self.lr, self.momentum = model, lr, momentum
        self.v_W, self.v_b = np.zeros_like(model.W), np.zeros_like(model.b)

    def step(self) -> None:
        self.v_W = self.momentum * self.v_W - self.lr * self.model.dW
        self.v_b = self.momentum * self.v_b - self.lr * self.model.db
        self.model.W = self.model.W + self.v_W
        self.model.b = self.model.b + self.v_b


def _layers_fit(module: types.ModuleType, rng: np.random.Generator) -> dict[str, bool]:
    """7 samples in batches of 3 (the last of 1), 2 epochs, against a PyTorch loop with
    torch.optim.SGD: the batch losses (L2 included) and the trained weights."""
    X, Y, W, b = rng.normal(size=(7, 3)), rng.normal(size=(7, 2)), rng.normal(size=(2, 3)), rng.normal(size=2)
    lr, momentum, l2 = 0.05, 0.5, 0.01
    model = _Linear(W.copy(), b.copy(), l2)
    losses = module.fit(model, _MSE(), _Momentum(model, lr, momentum), X, Y, batch_size=3, epochs=2)
    tW, tb = _t(W), _t(b)
    optimizer = torch.optim.SGD([tW, tb], lr=lr, momentum=momentum)
    expected = []
    for _ in range(2):
        for start in range(0, 7, 3):
            optimizer.zero_grad()
            value = torch.mean((_t(X[start : start + 3], False) @ tW.T + tb - _t(Y[start : start + 3], False)) ** 2)
            value = value + 0.5 * l2 * (tW**2).sum()
            expected.append(value.item())
            value.backward()
            optimizer.step()
    return {"fit": _close(losses, expected) and _close(model.W, tW) and _close(model.b, tb)}


def _cross_entropy(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -(y * torch.log(p)).sum() / p.shape[0]


LAYERS: list[tuple[tuple[str, ...], Check]] = [
    (("Dense", "Dense.l2"), _layers_dense),
    (("ReLU",), _layers_activation("ReLU", torch.relu, _away_from_zero)),
    (("Sigmoid",), _layers_activation("Sigmoid", torch.sigmoid, lambda rng, shape: rng.normal(size=shape))),
    (("Tanh",), _layers_activation("Tanh", torch.tanh, lambda rng, shape: rng.normal(size=shape))),
    (("Softmax",), _layers_activation("Softmax", lambda z: torch.softmax(z, dim=-1), lambda rng, shape: rng.normal(size=shape))),
    (("MSELoss",), _layers_loss("MSELoss", lambda p, y: torch.mean((p - y) ** 2), lambda rng: rng.normal(size=(4, 3)))),
    (("CrossEntropyLoss",), _layers_loss("CrossEntropyLoss", _cross_entropy, lambda rng: rng.dirichlet(np.ones(3), size=4))),
    (("SGD",), _layers_sgd),
    (("fit",), _layers_fit),
]

CHECKS = {"cs231n": CS231N, "layers": LAYERS}


def wrong(course: str, module: types.ModuleType, seed: int = 0) -> set[str]:
    """The course functions of `module` that disagree with PyTorch (a check that raises counts
    every function it covers as wrong)."""
    rng = np.random.default_rng(seed)
    verdicts: dict[str, bool] = {}
    for names, check in CHECKS[course]:
        try:
            found = check(module, rng)
        except Exception:  # noqa: BLE001 - a solution that raises disagrees
            found = {name: False for name in names}
        assert set(found) == set(names), f"{check.__qualname__} reports on {sorted(found)}, not {sorted(names)}"
        verdicts.update(found)
    return {name for name, ok in verdicts.items() if not ok}
