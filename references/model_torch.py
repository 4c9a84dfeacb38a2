"""The course model classes in PyTorch (references/model_spec.py): the same network on the same
weights, float64, torch.autograd for the gradient of every parameter.

    loss, grads = evaluate(config, params, X, y)       # grads by the params' keys
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

#: CS231n's default eps of batchnorm and layernorm (bn_param and ln_param leave it out).
EPS = 1e-5


def evaluate(
    config: dict[str, Any], params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """The model's loss at `params` and its gradient with respect to each of them.

    config: {"hidden_dims": [H₁, …], "reg": reg, "normalization": None | "batchnorm" | "layernorm", …};
    params: W1 (D, H₁), b1 (H₁,), …, W_L (H_{L−1}, C), b_L (C,), and gamma_l, beta_l (H_l,) for l < L
    under a normalisation; X: (N, D), y: (N,) labels in [0, C)."""
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    L = len(config["hidden_dims"]) + 1
    h = torch.tensor(X, dtype=torch.float64).flatten(1)
    for layer in range(1, L + 1):
        h = h @ tensors[f"W{layer}"] + tensors[f"b{layer}"]
        if layer == L:
            break
        if config.get("normalization") == "batchnorm":
            h = F.batch_norm(h, None, None, tensors[f"gamma{layer}"], tensors[f"beta{layer}"], training=True, eps=EPS)
        elif config.get("normalization") == "layernorm":
            h = F.layer_norm(h, h.shape[1:], tensors[f"gamma{layer}"], tensors[f"beta{layer}"], eps=EPS)
        h = torch.relu(h)
    loss = F.cross_entropy(h, torch.tensor(y, dtype=torch.int64))
    loss = loss + 0.5 * config["reg"] * sum(torch.sum(tensors[f"W{layer}"] ** 2) for layer in range(1, L + 1))
    grads = torch.autograd.grad(loss, list(tensors.values()))
    return float(loss.detach()), {k: g.numpy().copy() for k, g in zip(tensors, grads)}


def evaluate_captioning(
    config: dict[str, Any], params: dict[str, np.ndarray], features: np.ndarray, captions: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """CS231n's CaptioningRNN loss (references/model_spec.py) and each parameter's gradient, from
    the layer ops' own torch references composed: features (N, D), captions (N, T + 1) ints."""
    from . import layer_torch

    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    words = torch.tensor(captions, dtype=torch.int64)
    h0 = torch.tensor(features, dtype=torch.float64) @ t["W_proj"] + t["b_proj"]
    x = layer_torch.word_embedding({"x": words[:, :-1], "W": t["W_embed"]}, {})
    recur = layer_torch.lstm if config["cell_type"] == "lstm" else layer_torch.rnn
    h = recur({"x": x, "h0": h0, "Wx": t["Wx"], "Wh": t["Wh"], "b": t["b"]}, {})
    scores = h @ t["W_vocab"] + t["b_vocab"]
    target = words[:, 1:]
    mask = (target != config["word_to_idx"]["<NULL>"]).to(torch.float64)
    loss = layer_torch.temporal_softmax_loss({"x": scores, "y": target, "mask": mask}, {})
    grads = torch.autograd.grad(loss, list(t.values()), allow_unused=True)
    return float(loss.detach()), {k: (torch.zeros_like(t[k]) if g is None else g).numpy().copy() for k, g in zip(t, grads)}


def evaluate_linear_train(
    config: dict[str, Any], X: np.ndarray, y: np.ndarray, seed: int, replace: bool
) -> tuple[np.ndarray, list[float]]:
    """LinearClassifier.train of a LinearSVM replayed on NumPy's legacy random stream from `seed`:
    (the final W, each iteration's loss), the batches drawn with or without replacement; each
    step's loss and dW from the svm_loss_vectorized op's torch reference (reg·ΣW², mean over the batch).

    config: {"learning_rate", "reg", "num_iters", "batch_size"}; X: (N, D), y: (N,) with C − 1 in it."""
    from .layer_spec import LAYER_OPS, resolve

    state = np.random.RandomState(seed)  # what np.random.seed(seed) makes the global stream
    N, D = X.shape
    W = 0.001 * state.randn(D, int(np.max(y)) + 1)
    svm, history = resolve(LAYER_OPS["svm_loss_vectorized"].torch), []
    for _ in range(config["num_iters"]):
        rows = state.choice(N, config["batch_size"], replace=replace)
        w = torch.tensor(W, dtype=torch.float64, requires_grad=True)
        arrays = {"W": w, "X": torch.tensor(X[rows], dtype=torch.float64), "y": torch.tensor(y[rows], dtype=torch.int64)}
        loss = svm(arrays, {"reg": config["reg"]})
        (grad,) = torch.autograd.grad(loss, [w])
        history.append(float(loss.detach()))
        W = W - config["learning_rate"] * grad.numpy()
    return W, history


def evaluate_layers(
    params: dict[str, np.ndarray], X: np.ndarray, dout: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A fixed class of Linear and ReLU layers in turn (MyTorch's MLP0, MLP1, MLP4): its output
    h_L, h_{i+1} = relu(h_i·W_iᵀ + b_iᵀ), and the VJP of `dout`: (out, dX, each parameter's).

    params: W0 (out, in), b0 (out, 1), W1, b1, …; X: (N, in); dout: (N, out of the last)."""
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    h = x
    for layer in range(len(params) // 2):
        h = torch.relu(h @ tensors[f"W{layer}"].T + tensors[f"b{layer}"].T)
    grads = torch.autograd.grad(h, [x, *tensors.values()], torch.tensor(dout, dtype=torch.float64))
    return h.detach().numpy().copy(), grads[0].numpy().copy(), {k: g.numpy().copy() for k, g in zip(tensors, grads[1:])}
