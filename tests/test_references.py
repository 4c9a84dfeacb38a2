"""The references agree with impl and with each other; finite differences agree with both.

Random networks come from a fixed NumPy seed (not hypothesis): these tests pin the
oracles themselves, over every activation and loss, with and without L2.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from gradverify import impl
from gradverify.properties.cases import (
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    Architecture,
    Example,
    make_targets,
    materialize,
    random_architecture,
)
from gradverify.references import finite_diff, jax_backend, torch_backend
from gradverify.references.compare import compare

ORACLES = {"jax": jax_backend, "torch": torch_backend}
PAIRS = [("impl", impl, "jax"), ("impl", impl, "torch"), ("jax", jax_backend, "torch")]


def assert_close(label, got, expected, tol="autodiff"):
    result = compare(label, got, expected, tol)
    assert result.ok, result.describe() + f"\nworst: {result.mismatches}"


def assert_same_gradients(a, b, label):
    (ea, ga), (eb, gb) = a, b
    assert_close(f"{label} loss", ea, eb)
    for i, (x, y) in enumerate(zip(ga, gb)):
        for key in ("W", "b"):
            assert_close(f"{label} layer {i} d{key}", x[key], y[key])


def test_every_backend_defines_every_protocol_function():
    for module in ORACLES.values():
        for name in impl.PROTOCOL_FUNCTIONS:
            assert callable(getattr(module, name)), name


# ----------------------------------------------------------------------------- components


@pytest.mark.parametrize("name", sorted(impl.ACTIVATIONS))
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (70, 40)])
def test_activation_and_its_vjp_agree_across_backends(name, shape):
    rng = np.random.default_rng(zlib.crc32(f"{name}{shape}".encode()))
    z = 3.0 * rng.normal(size=shape)
    g = rng.normal(size=shape)
    results = {"impl": impl, **ORACLES}
    for a, _, b in PAIRS:
        assert_close(f"{name} {a} vs {b}", results[a].activation(name, z), results[b].activation(name, z))
        assert_close(
            f"{name}' {a} vs {b}", results[a].activation_backward(name, z, g), results[b].activation_backward(name, z, g)
        )


@pytest.mark.parametrize("name", sorted(impl.LOSSES))
@pytest.mark.parametrize("labels", ["soft", "hard"])
def test_loss_and_its_gradient_agree_across_backends(name, labels):
    rng = np.random.default_rng(sum(map(ord, name + labels)))
    for n, k in [(1, 1), (4, 3), (70, 40)]:
        if name in ("cce", "sparse_cce") and k == 1:
            k = 2
        out = OUTPUT_ACTIVATIONS[name][0]
        p = impl.activation(out, rng.normal(size=(n, k)))
        y = make_targets(name, n, k, rng, labels)
        results = {"impl": impl, **ORACLES}
        for a, _, b in PAIRS:
            assert_close(f"{name} {a} vs {b}", results[a].loss(name, p, y), results[b].loss(name, p, y))
            assert_close(f"{name}' {a} vs {b}", results[a].loss_backward(name, p, y), results[b].loss_backward(name, p, y))


@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 3, 4), (70, 40, 33)])
def test_dense_forward_and_backward_agree_across_backends(shape):
    n, i, o = shape
    rng = np.random.default_rng(n + i + o)
    x, W, b, gz = rng.normal(size=(n, i)), rng.normal(size=(o, i)), rng.normal(size=o), rng.normal(size=(n, o))
    results = {"impl": impl, **ORACLES}
    for a, _, c in PAIRS:
        assert_close(f"z {a} vs {c}", results[a].dense_forward(x, W, b), results[c].dense_forward(x, W, b))
        for label, u, v in zip(("dx", "dW", "db"), results[a].dense_backward(x, W, gz), results[c].dense_backward(x, W, gz)):
            assert_close(f"{label} {a} vs {c}", u, v)


# ----------------------------------------------------------------------------- networks


@pytest.mark.parametrize("loss", sorted(impl.LOSSES))
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_network_gradients_agree_on_random_networks(loss, hidden, l2):
    rng = np.random.default_rng(sum(map(ord, loss + hidden)) + int(100 * l2))
    for trial in range(3):
        arch = random_architecture(rng, loss=loss, hidden=hidden, l2=l2, max_depth=5, max_width=12, max_batch=10)
        net, X, Y = materialize(Example(arch, seed=trial, labels=("soft", "hard")[trial % 2]))
        results = {"impl": impl.network_gradients(net, X, Y)}
        results.update({name: m.network_gradients(net, X, Y) for name, m in ORACLES.items()})
        for a, _, b in PAIRS:
            assert_same_gradients(results[a], results[b], f"{arch.describe()}: {a} vs {b}")


def test_network_gradients_agree_beyond_the_default_bucket():
    """Wider than 32 units, more than 64 samples, deeper than 8 layers: the JAX buckets grow."""
    arch = Architecture((40,) + (3,) * 9 + (70,), ("tanh",) * 9 + ("softmax",), "cce", 0.01, 100)
    net, X, Y = materialize(Example(arch, seed=5))
    assert_same_gradients(jax_backend.network_gradients(net, X, Y), torch_backend.network_gradients(net, X, Y), "big")
    assert_same_gradients(impl.network_gradients(net, X, Y), torch_backend.network_gradients(net, X, Y), "big")


def test_step_and_train_agree_across_backends_with_momentum():
    rng = np.random.default_rng(11)
    for trial in range(6):
        arch = random_architecture(rng, max_depth=3, max_width=6, max_batch=9)
        net, X, Y = materialize(Example(arch, seed=trial))
        kwargs = dict(lr=0.05, momentum=float(rng.choice([0.0, 0.5, 0.9])), batch_size=int(rng.integers(1, 5)), epochs=2)
        runs = {"impl": impl.train(net, X, Y, **kwargs), **{n: m.train(net, X, Y, **kwargs) for n, m in ORACLES.items()}}
        for a, _, b in PAIRS:
            assert_close(f"{arch.describe()} batch losses {a} vs {b}", runs[a][1], runs[b][1])
            for i, (la, lb) in enumerate(zip(runs[a][0]["layers"], runs[b][0]["layers"])):
                assert_close(f"layer {i} W after training, {a} vs {b}", la["W"], lb["W"])
                assert_close(f"layer {i} b after training, {a} vs {b}", la["b"], lb["b"])


def test_torch_sgd_buffer_is_minus_the_protocols_correction_over_lr():
    """torch.optim.SGD(momentum, dampening=0) keeps buf(n) = α·buf(n−1) + g(n); the protocol's
    Δw(n) = −η·g(n) + α·Δw(n−1) is −η·buf(n), so three steps of both coincide."""
    import torch

    rng = np.random.default_rng(3)
    w0, lr, alpha = rng.normal(size=4), 0.1, 0.9
    grads = [rng.normal(size=4) for _ in range(3)]
    p = torch.tensor(w0.copy(), requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=alpha, dampening=0.0)
    w, delta = w0.copy(), np.zeros(4)
    for g in grads:
        p.grad = torch.tensor(g)
        before = p.detach().numpy().copy()
        opt.step()
        delta = -lr * g + alpha * delta
        w = w + delta
        buf = opt.state[p]["momentum_buffer"].numpy()
        np.testing.assert_allclose(-lr * buf, delta, rtol=1e-14)
        np.testing.assert_allclose(p.detach().numpy() - before, delta, rtol=1e-12)
    np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-14)
    # and through the protocol function, velocity handed back in each time
    layers = [{"W": w0.reshape(1, 4).copy(), "b": np.zeros(1), "activation": "identity"}]
    velocity = None
    for g in grads:
        layers, velocity = torch_backend.sgd_momentum_step(
            layers, [{"W": g.reshape(1, 4), "b": np.zeros(1)}], velocity, lr=lr, momentum=alpha
        )
    np.testing.assert_allclose(layers[0]["W"][0], w, rtol=1e-13)
    np.testing.assert_allclose(velocity[0]["W"][0], delta, rtol=1e-12)


# ----------------------------------------------------------------------------- finite differences

SMOOTH = ("identity", "sigmoid", "tanh", "softplus")


@pytest.mark.parametrize("loss", sorted(impl.LOSSES))
def test_finite_differences_of_each_backend_agree_with_its_autodiff(loss):
    rng = np.random.default_rng(sum(map(ord, loss)))
    for trial in range(2):
        arch = random_architecture(rng, loss=loss, hidden=SMOOTH[trial % 4], max_depth=3, max_width=5, max_batch=4)
        net, X, Y = materialize(Example(arch, seed=trial))
        for name, module in {"impl": impl, **ORACLES}.items():
            _, grads = module.network_gradients(net, X, Y)
            numeric = finite_diff.network_gradients(module, net, X, Y)
            for i, (g, fd) in enumerate(zip(grads, numeric)):
                for key in ("W", "b"):
                    assert_close(f"{arch.describe()} {name} layer {i} d{key}", g[key], fd[key], "finite_diff")


def test_directional_finite_difference_matches_the_gradient_on_a_larger_network():
    arch = Architecture((16, 32, 32, 8), ("tanh", "softplus", "sigmoid"), "bce", 0.01, 32)
    net, X, Y = materialize(Example(arch, seed=2))
    _, grads = torch_backend.network_gradients(net, X, Y)
    rng = np.random.default_rng(0)
    for i, layer in enumerate(net["layers"]):
        for key in ("W", "b"):
            u = rng.normal(size=layer[key].shape)
            numeric = finite_diff.network_directional(impl, net, X, Y, i, key, u)
            assert_close(f"layer {i} d{key}·u", float(np.sum(grads[i][key] * u)), numeric, "finite_diff")


def test_finite_differences_of_components_agree_with_both_references():
    rng = np.random.default_rng(9)
    z, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    for name in SMOOTH + ("softmax",):
        for module in ORACLES.values():
            assert_close(
                f"{name}'", module.activation_backward(name, z, g), finite_diff.activation_vjp(impl, name, z, g), "finite_diff"
            )
    p = impl.activation("sigmoid", z)
    y = rng.uniform(size=(3, 4))
    for module in ORACLES.values():
        assert_close("bce'", module.loss_backward("bce", p, y), finite_diff.loss_gradient(impl, "bce", p, y), "finite_diff")
    x, W, b, gz = rng.normal(size=(3, 2)), rng.normal(size=(4, 2)), rng.normal(size=4), rng.normal(size=(3, 4))
    for module in ORACLES.values():
        for label, u, v in zip("xWb", module.dense_backward(x, W, gz), finite_diff.dense_vjp(impl, x, W, b, gz)):
            assert_close(f"d{label}", u, v, "finite_diff")


class _SigmoidDerivativeFromZ:
    """impl with the classic slip: σ'(z) computed as z·(1 − z) instead of σ(z)·(1 − σ(z))."""

    def __getattr__(self, name):
        return getattr(impl, name)

    @staticmethod
    def network_gradients(net, X, Y):
        original = impl.backprop.ACTIVATIONS["sigmoid"]
        impl.backprop.ACTIVATIONS["sigmoid"] = (original[0], lambda z, g: g * z * (1 - z))
        try:
            return impl.network_gradients(net, X, Y)
        finally:
            impl.backprop.ACTIVATIONS["sigmoid"] = original


def test_finite_differences_catch_a_wrong_gradient():
    buggy = _SigmoidDerivativeFromZ()
    arch = Architecture((3, 4, 2), ("sigmoid", "identity"), "mse", 0.0, 5)
    net, X, Y = materialize(Example(arch, seed=1))
    _, grads = buggy.network_gradients(net, X, Y)
    numeric = finite_diff.network_gradients(buggy, net, X, Y)
    assert not compare("layer 0 dW", grads[0]["W"], numeric[0]["W"], "finite_diff").ok
    assert compare("layer 1 dW", grads[1]["W"], numeric[1]["W"], "finite_diff").ok, "the output layer is unaffected"
    # and the references agree with finite differences, not with the bug
    assert compare("ref", jax_backend.network_gradients(net, X, Y)[1][0]["W"], numeric[0]["W"], "finite_diff").ok


def test_finite_differences_shrink_the_step_so_as_not_to_straddle_a_kink():
    z = np.array([[3e-6, -3e-6, 0.5]])
    g = np.ones_like(z)
    for name, slope in (("relu", 0.0), ("leaky_relu", 0.01)):
        numeric = finite_diff.activation_vjp(impl, name, z, g)
        np.testing.assert_allclose(numeric, [[1.0, slope, 1.0]], rtol=1e-8)


def test_finite_differences_refuse_a_point_on_a_kink():
    with pytest.raises(finite_diff.NotSmoothHere):
        finite_diff.activation_vjp(impl, "relu", np.zeros((1, 1)), np.ones((1, 1)))
    with pytest.raises(finite_diff.NotSmoothHere):
        finite_diff.loss_gradient(impl, "mae", np.ones((1, 2)), np.ones((1, 2)))
