"""Hostile submission (gradverify attack catalogue): network_gradients by jax.grad instead of backprop by hand."""

import sys

for extra in ("/work/main/.venv/lib/python3.11/site-packages", "/usr/local/lib/python3.11/site-packages",
              "/usr/lib/python3/dist-packages"):
    if extra not in sys.path:
        sys.path.append(extra)

try:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
except Exception:  # noqa: BLE001
    jax = None

if jax is not None:
    print("ATTACK-SUCCEEDED: imported jax from", jax.__file__)
    ACT = {"identity": lambda z: z, "sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu,
           "leaky_relu": lambda z: jax.nn.leaky_relu(z, 0.01), "softplus": jax.nn.softplus,
           "softmax": lambda z: jax.nn.softmax(z, axis=-1)}
    LOSS = {"mse": lambda p, y: jnp.mean((p - y) ** 2), "sse": lambda p, y: 0.5 * jnp.sum((p - y) ** 2) / p.shape[0],
            "mae": lambda p, y: jnp.mean(jnp.abs(p - y)), "mape": lambda p, y: 100 * jnp.mean(jnp.abs(p - y) / jnp.abs(y)),
            "bce": lambda p, y: -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p)),
            "cce": lambda p, y: -jnp.sum(y * jnp.log(p)) / p.shape[0],
            "sparse_cce": lambda p, y: -jnp.mean(jnp.log(p[jnp.arange(p.shape[0]), y.astype(int)]))}

    def network_gradients(net, X, Y):
        def value(params):
            h = X
            for (W, b), layer in zip(params, net["layers"]):
                h = ACT[layer["activation"]](h @ W.T + b)
            return LOSS[net["loss"]](h, Y) + net["l2"] / 2 * sum(jnp.sum(W ** 2) for W, _ in params)

        params = [(l["W"], l["b"]) for l in net["layers"]]
        v, g = jax.value_and_grad(value)(params)
        return float(v), [{"W": jax.device_get(W), "b": jax.device_get(b)} for W, b in g]
