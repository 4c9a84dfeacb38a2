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
    config: dict[str, Any], params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, masks: list[np.ndarray] | None = None
) -> tuple[float, dict[str, np.ndarray]]:
    """The model's loss at `params` and its gradient with respect to each of them.

    config: {"hidden_dims": [H₁, …], "reg": reg, "normalization": None | "batchnorm" | "layernorm", …};
    params: W1 (D, H₁), b1 (H₁,), …, W_L (H_{L−1}, C), b_L (C,), and gamma_l, beta_l (H_l,) for l < L
    under a normalisation; X: (N, D), y: (N,) labels in [0, C); masks: each hidden layer's dropout
    mask (N, H_l), its scaling in it, multiplied after the relu (None: no dropout)."""
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
        if masks is not None:
            h = h * torch.tensor(masks[layer - 1], dtype=torch.float64)
    loss = F.cross_entropy(h, torch.tensor(y, dtype=torch.int64))
    loss = loss + 0.5 * config["reg"] * sum(torch.sum(tensors[f"W{layer}"] ** 2) for layer in range(1, L + 1))
    grads = torch.autograd.grad(loss, list(tensors.values()))
    return float(loss.detach()), {k: g.numpy().copy() for k, g in zip(tensors, grads)}


def evaluate_conv_net(
    config: dict[str, Any], params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """CS231n's ThreeLayerConvNet (references/model_spec.py) and each parameter's gradient:
    conv (stride 1, size kept) → relu → 2×2 max pool → affine → relu → affine → softmax loss, + ½·reg·Σ‖W‖².

    params: W1 (F, C, k, k), b1 (F,), W2 (F·(H/2)·(W/2), M), b2 (M,), W3 (M, K), b3 (K,); X (N, C, H, W)."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    pad = (config["filter_size"] - 1) // 2
    h = torch.relu(F.conv2d(torch.tensor(X, dtype=torch.float64), t["W1"], t["b1"], stride=1, padding=pad))
    h = F.max_pool2d(h, 2, 2).flatten(1)
    scores = torch.relu(h @ t["W2"] + t["b2"]) @ t["W3"] + t["b3"]
    loss = F.cross_entropy(scores, torch.tensor(y, dtype=torch.int64))
    loss = loss + 0.5 * config["reg"] * sum(torch.sum(t[key] ** 2) for key in ("W1", "W2", "W3"))
    grads = torch.autograd.grad(loss, list(t.values()))
    return float(loss.detach()), {k: g.numpy().copy() for k, g in zip(t, grads)}


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


#: MyTorch's activation classes a CNN's convolutions may each be followed by, in PyTorch.
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


def evaluate_cnn(
    config: dict[str, Any], params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray, dict[str, np.ndarray]]:
    """MyTorch's CNN (HW2P1): h_{l+1} = act_l(conv1d(h_l, W_l, b_l, stride_l)), Z = flatten(h_L)·Wᵀ + bᵀ,
    loss = softmax cross-entropy of Z against one-hot Y, mean over N; (Z, loss, dX, each
    parameter's gradient of the loss).

    config: {"strides": [s₀, …], "activations": ["tanh" | "relu" | "sigmoid", …]}; params: W0
    (C₁, C₀, k₀), b0 (C₁,), …, W (O, C_L·W_L), b (O,); X (N, C₀, W₀); Y (N, O) one-hot."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    h = x
    for layer, (stride, act) in enumerate(zip(config["strides"], config["activations"])):
        h = ACTIVATIONS[act](F.conv1d(h, t[f"W{layer}"], t[f"b{layer}"], stride=stride))
    Z = h.flatten(1) @ t["W"].T + t["b"]
    loss = F.cross_entropy(Z, torch.tensor(np.argmax(Y, axis=1), dtype=torch.int64))
    grads = torch.autograd.grad(loss, [x, *t.values()])
    return (
        Z.detach().numpy().copy(),
        float(loss.detach()),
        grads[0].numpy().copy(),
        {k: g.numpy().copy() for k, g in zip(t, grads[1:])},
    )


def evaluate_recurrent(
    config: dict[str, Any], params: dict[str, np.ndarray], X: np.ndarray, h0: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """MyTorch's RNNPhonemeClassifier (HW3P1): L stacked cells over T steps,
    h_t[l] = tanh(h_t[l−1]·W_ihₗᵀ + b_ihₗ + h_{t−1}[l]·W_hhₗᵀ + b_hhₗ) (h_t[−1] = x_t), logits =
    h_T[L−1]·Wᵀ + bᵀ; (logits, and the VJP of `delta` with respect to h0 and each parameter).

    config: {"num_layers": L}; params: W_ih0 (H, D), W_hh0 (H, H), b_ih0 (H,), b_hh0 (H,), …,
    W (O, H), b (O,); X (N, T, D); h0 (L, N, H); delta (N, O)."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    h_0 = torch.tensor(h0, dtype=torch.float64, requires_grad=True)
    x = torch.tensor(X, dtype=torch.float64)
    hidden = list(h_0.unbind(0))
    for step in range(x.shape[1]):
        inputs = x[:, step, :]
        for layer in range(config["num_layers"]):
            pre = inputs @ t[f"W_ih{layer}"].T + t[f"b_ih{layer}"] + hidden[layer] @ t[f"W_hh{layer}"].T + t[f"b_hh{layer}"]
            hidden[layer] = inputs = torch.tanh(pre)
    logits = hidden[-1] @ t["W"].T + t["b"]
    grads = torch.autograd.grad(logits, [h_0, *t.values()], torch.tensor(delta, dtype=torch.float64))
    return logits.detach().numpy().copy(), grads[0].numpy().copy(), {k: g.numpy().copy() for k, g in zip(t, grads[1:])}
