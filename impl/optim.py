"""The model solution of CS231n's update rules (assignment 2's optim.py), hand-written in NumPy.

Every rule has the course's interface,

    rule(w, dw, config=None) -> (next_w, config)

w and dw: arrays of one shape; config: a dict of hyperparameters and the rule's state, filled
with the defaults on the first call (dict.setdefault) and returned with the new state, which
the caller passes back on the next step. The inputs are left as they are: next_w and every
state array are new arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam"]


def sgd(w, dw, config=None):
    """Vanilla gradient descent.

        next_w = w − lr·dw

    config: learning_rate (1e-2).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = w - config["learning_rate"] * dw
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """Gradient descent with momentum; the velocity points the way w moves.

        v      = μ·v − lr·dw          (v = 0 before the first step)
        next_w = w + v

    config: learning_rate (1e-2), momentum μ (0.9), velocity (zeros like w).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: each weight's step divided by a running root mean square of its gradient.

        cache  = ρ·cache + (1 − ρ)·dw²
        next_w = w − lr·dw / (√cache + ε)          (ε outside the square root)

    config: learning_rate (1e-2), decay_rate ρ (0.99), epsilon ε (1e-8), cache (zeros like w).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    rho = config["decay_rate"]
    cache = rho * config["cache"] + (1 - rho) * dw * dw
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config


def adam(w, dw, config=None):
    """Adam: running averages of the gradient and its square, corrected for their start at zero.

        t      = t + 1                               (before use: the first step has t = 1)
        m      = β₁·m + (1 − β₁)·dw
        v      = β₂·v + (1 − β₂)·dw²
        m̂      = m / (1 − β₁ᵗ)
        v̂      = v / (1 − β₂ᵗ)
        next_w = w − lr·m̂ / (√v̂ + ε)

    config: learning_rate (1e-3), beta1 β₁ (0.9), beta2 β₂ (0.999), epsilon ε (1e-8),
    m and v (zeros like w), t (0).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = beta1 * config["m"] + (1 - beta1) * dw
    v = beta2 * config["v"] + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config["t"], config["m"], config["v"] = t, m, v
    return next_w, config
