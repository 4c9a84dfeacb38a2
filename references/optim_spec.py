"""CS231n's update rules as data: one entry per optimizer (assignment 2's optim.py).

A rule is `rule(w, dw, config=None) -> (next_w, config)`; config holds the hyperparameters
(filled with the defaults on the first call) and the state, which the caller passes back on
the next step. An `Optimizer` entry says what the generic check
(gradverify.properties.optim_checks) needs: the config keys with their defaults and the values
drawn, the state keys, and the forms it accepts, each with its reference. The first form is
torch.optim's, with CS231n's conventions converted exactly (references/optim_torch.py); a later
form is one that differs from torch's by design and is accepted too (CS231n's own "efficient"
Adam). The check says which form an implementation matched.

This module imports NumPy only; the references are named "module:function" and imported on
first use. A reference is called as ref(w, grads, hyper) with the first w, the gradient of
each step and every hyperparameter (defaults filled in), and returns, for each step, next_w
and the state by key (NumPy arrays; the step counter t as a number).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Union

#: A reference: a callable, or "module:function" imported when it is first used.
Reference = Union[str, Callable[..., Any]]

_TORCH = "gradverify.references.optim_torch"


@dataclass(frozen=True)
class OptimHyper:
    """A hyperparameter in config: CS231n's default and the values drawn (shrinking to the
    first, the default)."""

    name: str
    default: float
    choices: tuple[float, ...]


@dataclass(frozen=True)
class Form:
    """A form of the rule the check accepts: its name (who computes it that way) and its reference."""

    name: str
    reference: Reference

    def run(self, w: Any, grads: Any, hyper: dict[str, float]) -> list[tuple[Any, dict[str, Any]]]:
        ref = self.reference
        if isinstance(ref, str):
            module, _, name = ref.partition(":")
            ref = getattr(importlib.import_module(module), name)
        return ref(w, grads, hyper)


@dataclass(frozen=True)
class Optimizer:
    """One update rule: its function name, its hyperparameters, its state keys (in config) and
    the forms accepted, torch.optim's first."""

    name: str
    hypers: tuple[OptimHyper, ...]
    state: tuple[str, ...]
    forms: tuple[Form, ...]

    @property
    def defaults(self) -> dict[str, float]:
        return {h.name: h.default for h in self.hypers}


_LR_SMALL = (1e-2, 1e-1, 3e-3)

#: Every rule of CS231n's optim.py, by function name.
OPTIMIZERS: dict[str, Optimizer] = {
    o.name: o
    for o in (
        # next_w = w − lr·dw: torch.optim.SGD without momentum.
        Optimizer("sgd", (OptimHyper("learning_rate", 1e-2, _LR_SMALL),), (), (Form("torch.optim.SGD", f"{_TORCH}:sgd"),)),
        # v = μ·v − lr·dw; next_w = w + v. torch's buffer b = μ·b + g steps w − lr·b, so with a
        # constant lr, v = −lr·b exactly (dampening 0, no Nesterov).
        Optimizer(
            "sgd_momentum",
            (OptimHyper("learning_rate", 1e-2, _LR_SMALL), OptimHyper("momentum", 0.9, (0.9, 0.5, 0.0, 0.99))),
            ("velocity",),
            (Form("torch.optim.SGD(momentum)", f"{_TORCH}:sgd_momentum"),),
        ),
        # cache = ρ·cache + (1 − ρ)·dw²; next_w = w − lr·dw/(√cache + ε): torch.optim.RMSprop with
        # alpha = ρ, ε outside the square root in both, no momentum, not centered.
        Optimizer(
            "rmsprop",
            (
                OptimHyper("learning_rate", 1e-2, _LR_SMALL),
                OptimHyper("decay_rate", 0.99, (0.99, 0.9, 0.5)),
                OptimHyper("epsilon", 1e-8, (1e-8, 1e-4, 1e-1)),
            ),
            ("cache",),
            (Form("torch.optim.RMSprop", f"{_TORCH}:rmsprop"),),
        ),
        # t = t + 1 first; bias-corrected m̂, v̂; next_w = w − lr·m̂/(√v̂ + ε): torch.optim.Adam
        # (ε outside the square root of the corrected v̂). CS231n's staff solution uses the Adam
        # paper's efficient form, lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)·m/(√v + ε) = lr·m̂/(√v̂ + ε/√(1 − β₂ᵗ)):
        # torch's with ε divided by √(1 − β₂ᵗ) at step t. Both are accepted; a large ε (drawn) tells them apart.
        Optimizer(
            "adam",
            (
                OptimHyper("learning_rate", 1e-3, (1e-3, 1e-1, 1e-2)),
                OptimHyper("beta1", 0.9, (0.9, 0.5, 0.0)),
                OptimHyper("beta2", 0.999, (0.999, 0.9, 0.5)),
                OptimHyper("epsilon", 1e-8, (1e-8, 1e-1, 1e-3)),
            ),
            ("m", "v", "t"),
            (Form("torch.optim.Adam", f"{_TORCH}:adam"), Form("efficient Adam (ε·√(1 − β₂ᵗ))", f"{_TORCH}:adam_efficient")),
        ),
    )
}
