"""CS231n's update rules run by torch.optim, float64, with the conventions converted exactly.

Each function is ref(w, grads, hyper) as references/optim_spec.py describes: one torch.optim
optimizer on a copy of w, one step per gradient, and after each step next_w and the state
under CS231n's keys:
  - sgd_momentum: torch's buffer b = μ·b + g steps w − lr·b; CS231n's velocity v = μ·v − lr·dw
    steps w + v. With a constant lr, v = −lr·b.
  - rmsprop: torch's square_avg is CS231n's cache, alpha its decay_rate; ε outside √ in both.
  - adam: torch's exp_avg, exp_avg_sq and step are m, v and t (t counted before use in both);
    torch computes lr·m̂/(√v̂ + ε) as CS231n's bias-corrected form does.
  - adam_efficient: the Adam paper's efficient form, lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)·m/(√v + ε),
    is torch's with ε replaced by ε/√(1 − β₂ᵗ) at step t.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

torch.set_num_threads(1)

Steps = list[tuple[np.ndarray, dict[str, Any]]]


def _run(
    w: np.ndarray,
    grads: list[np.ndarray],
    make: Callable[[torch.Tensor], torch.optim.Optimizer],
    state: Callable[[dict[str, Any], np.ndarray], dict[str, Any]],
    before: Callable[[torch.optim.Optimizer, int], None] | None = None,
) -> Steps:
    """Run `make`'s optimizer on w for one step per gradient; after step t (1-based), next_w and
    `state` of torch's state of the parameter and the step's gradient. `before(opt, t)` may adjust the optimizer first."""
    p = torch.tensor(np.array(w, dtype=np.float64), requires_grad=True)
    opt = make(p)
    steps: Steps = []
    for t, g in enumerate(grads, start=1):
        p.grad = torch.tensor(np.array(g, dtype=np.float64))
        if before is not None:
            before(opt, t)
        opt.step()
        steps.append((p.detach().numpy().copy(), state(opt.state[p], g)))
    return steps


def _array(x: torch.Tensor) -> np.ndarray:
    return x.detach().numpy().copy()


def sgd(w: np.ndarray, grads: list[np.ndarray], h: dict[str, float]) -> Steps:
    return _run(w, grads, lambda p: torch.optim.SGD([p], lr=h["learning_rate"]), lambda s, g: {})


def sgd_momentum(w: np.ndarray, grads: list[np.ndarray], h: dict[str, float]) -> Steps:
    lr = h["learning_rate"]
    return _run(
        w,
        grads,
        lambda p: torch.optim.SGD([p], lr=lr, momentum=h["momentum"], dampening=0.0, nesterov=False),
        # with momentum 0 torch keeps no buffer: b = g
        lambda s, g: {
            "velocity": -lr * (_array(s["momentum_buffer"]) if "momentum_buffer" in s else np.array(g, dtype=np.float64))
        },
    )


def rmsprop(w: np.ndarray, grads: list[np.ndarray], h: dict[str, float]) -> Steps:
    return _run(
        w,
        grads,
        lambda p: torch.optim.RMSprop(
            [p], lr=h["learning_rate"], alpha=h["decay_rate"], eps=h["epsilon"], momentum=0.0, centered=False
        ),
        lambda s, g: {"cache": _array(s["square_avg"])},
    )


def _adam(p: torch.Tensor, h: dict[str, float]) -> torch.optim.Optimizer:
    return torch.optim.Adam([p], lr=h["learning_rate"], betas=(h["beta1"], h["beta2"]), eps=h["epsilon"])


def _adam_state(s: dict[str, Any], g: np.ndarray) -> dict[str, Any]:
    return {"m": _array(s["exp_avg"]), "v": _array(s["exp_avg_sq"]), "t": int(s["step"])}


def adam(w: np.ndarray, grads: list[np.ndarray], h: dict[str, float]) -> Steps:
    return _run(w, grads, lambda p: _adam(p, h), _adam_state)


def adam_efficient(w: np.ndarray, grads: list[np.ndarray], h: dict[str, float]) -> Steps:
    def scale_eps(opt: torch.optim.Optimizer, t: int) -> None:
        opt.param_groups[0]["eps"] = h["epsilon"] / math.sqrt(1.0 - h["beta2"] ** t)

    return _run(w, grads, lambda p: _adam(p, h), _adam_state, before=scale_eps)
