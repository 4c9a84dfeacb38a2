"""Hostile submission (gradverify attack catalogue): a careless rubric. Graded with a rubric whose
`packages` lists jax without saying the course allows automatic differentiation
(`allow_autodiff`), its network_gradients is jax.grad of its own forward pass. The rubric must
be refused before anything runs, with a message that names jax and the field that would allow it.
"""

import numpy as np


def network_gradients(net, X, Y):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def energy(params):
        a = jnp.asarray(X)
        for (W, b), layer in zip(params, net["layers"]):
            z = a @ W.T + b
            a = z if layer["activation"] == "identity" else jnp.tanh(z)
        return 0.5 * jnp.mean(jnp.sum((a - Y) ** 2, axis=1))

    params = [(jnp.asarray(layer["W"]), jnp.asarray(layer["b"])) for layer in net["layers"]]
    value, grads = jax.value_and_grad(energy)(params)
    return float(value), [{"W": np.asarray(gW), "b": np.asarray(gb)} for gW, gb in grads]
