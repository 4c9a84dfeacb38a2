"""Hostile submission (gradverify attack catalogue): network_gradients by torch.autograd instead of backprop by hand."""

import sys

for extra in ("/work/main/.venv/lib/python3.11/site-packages", "/usr/local/lib/python3.11/site-packages",
              "/usr/lib/python3/dist-packages", "/usr/local/lib/python3.11/dist-packages"):
    if extra not in sys.path:
        sys.path.append(extra)

try:
    import torch
except Exception:  # noqa: BLE001
    torch = None

if torch is not None:
    print("ATTACK-SUCCEEDED: imported torch from", torch.__file__)
    ACT = {"identity": lambda z: z, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01), "softplus": torch.nn.functional.softplus,
           "softmax": lambda z: torch.softmax(z, -1)}

    def _loss(name, p, y):
        if name == "mse":
            return torch.mean((p - y) ** 2)
        if name == "sse":
            return 0.5 * torch.sum((p - y) ** 2) / p.shape[0]
        if name == "mae":
            return torch.mean(torch.abs(p - y))
        if name == "mape":
            return 100 * torch.mean(torch.abs(p - y) / torch.abs(y))
        if name == "bce":
            return -torch.mean(y * torch.log(p) + (1 - y) * torch.log(1 - p))
        if name == "cce":
            return -torch.sum(y * torch.log(p)) / p.shape[0]
        return -torch.mean(torch.log(p[torch.arange(p.shape[0]), y.long()]))

    def network_gradients(net, X, Y):
        params = [(torch.tensor(l["W"], requires_grad=True), torch.tensor(l["b"], requires_grad=True)) for l in net["layers"]]
        h = torch.tensor(X)
        for (W, b), layer in zip(params, net["layers"]):
            h = ACT[layer["activation"]](h @ W.T + b)
        value = _loss(net["loss"], h, torch.tensor(Y)) + net["l2"] / 2 * sum(torch.sum(W ** 2) for W, _ in params)
        value.backward()
        return float(value), [{"W": W.grad.numpy(), "b": b.grad.numpy()} for W, b in params]
