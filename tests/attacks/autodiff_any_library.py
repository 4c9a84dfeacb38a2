"""Hostile submission (gradverify attack catalogue): any third-party library that could do the work."""

import importlib
import sys

sys.path += ["/work/main/.venv/lib/python3.11/site-packages", "/usr/lib/python3/dist-packages",
             "/usr/local/lib/python3.11/dist-packages", "/work/main"]
LIBRARIES = ("autograd", "torch", "jax", "tensorflow", "scipy", "sympy", "hypothesis", "numdifftools", "mlx",
             "gradverify", "properties", "references")
for name in LIBRARIES:
    try:
        module = importlib.import_module(name)
        print("ATTACK-SUCCEEDED: imported", name, "from", getattr(module, "__file__", "?"))
    except BaseException:  # noqa: BLE001
        continue

try:
    import autograd.numpy as anp
    from autograd import grad

    def network_gradients(net, X, Y):  # mse only: enough to show the cheat
        def value(ws):
            h = X
            for (W, b) in ws:
                h = anp.tanh(anp.dot(h, W.T) + b)
            return anp.mean((h - Y) ** 2)

        ws = [(l["W"], l["b"]) for l in net["layers"]]
        return float(value(ws)), [{"W": W, "b": b} for W, b in grad(value)(ws)]
except ImportError:
    pass
