"""An update rule's case: the rule, the shape of w, how many steps, a seed, and the first config.

As for the layer cases (properties/layer_cases.py), hypothesis draws the structure and NumPy
makes the arrays from the seed, so a case is a few numbers, replays exactly and shrinks on its
structure: w ~ N(0, 1) of `shape`, then one gradient ~ N(0, 1) per step, all drawn before the
run (the gradients do not depend on w: the check is of the rule, not of a model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradverify.references.optim_spec import OPTIMIZERS, Optimizer


@dataclass(frozen=True)
class OptimCase:
    #: the rule's name in the table (references/optim_spec.py OPTIMIZERS)
    optimizer: str
    shape: tuple[int, ...]
    steps: int
    seed: int
    #: the config of the first call, every hyperparameter given (None: the rule's defaults)
    config: dict[str, float] | None = None

    @property
    def rule(self) -> Optimizer:
        return OPTIMIZERS[self.optimizer]

    def arrays(self) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """(w, one gradient per step), new arrays drawn from the seed."""
        rng = np.random.default_rng(self.seed)
        w = rng.normal(size=self.shape)
        return w, tuple(rng.normal(size=self.shape) for _ in range(self.steps))

    @property
    def w(self) -> np.ndarray:
        return self.arrays()[0]

    @property
    def grads(self) -> tuple[np.ndarray, ...]:
        return self.arrays()[1]

    def hyper(self) -> dict[str, float]:
        """Every hyperparameter of the run: the defaults, overridden by the config given."""
        return {**self.rule.defaults, **(self.config or {})}

    def describe(self) -> str:
        """e.g. "adam: w (2, 3), 4 steps; config learning_rate 0.1, beta1 0.9, …; seed 0"."""
        config = ", ".join(f"{k} {v!r}" for k, v in self.config.items()) if self.config else "None (the defaults)"
        return f"{self.optimizer}: w {self.shape}, {self.steps} steps; config {config}; seed {self.seed}"


def _whole(value: Any, low: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{what} must be a whole number ≥ {low}, got {value!r}")
    return value


def optim_case_from_json(data: dict[str, Any]) -> OptimCase:
    """An OptimCase from its JSON (case_to_json's): a rule of the table, w of 1 or 2 positive
    sizes, at least one step, a whole seed, and no config or one with every hyperparameter of the
    rule as a number; ValueError saying what is wrong otherwise."""
    rule = OPTIMIZERS.get(data["optimizer"])
    if rule is None:
        raise ValueError(f"unknown update rule {data['optimizer']!r}; the rules are {', '.join(OPTIMIZERS)}")
    shape = data["shape"]
    if not isinstance(shape, list) or not 1 <= len(shape) <= 2:
        raise ValueError(f"the shape of w must be a list of 1 or 2 sizes, got {shape!r}")
    config = data.get("config")
    if config is not None:
        names = {h.name for h in rule.hypers}
        if not isinstance(config, dict) or set(config) != names:
            raise ValueError(f"a {rule.name} config must give {', '.join(sorted(names))}, got {config!r}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in config.values()):
            raise ValueError(f"a {rule.name} config's values must be numbers, got {config!r}")
        config = {h.name: float(config[h.name]) for h in rule.hypers}
    return OptimCase(
        rule.name,
        tuple(_whole(n, 1, "a size of w") for n in shape),
        _whole(data["steps"], 1, "steps"),
        _whole(data["seed"], 0, "the seed"),
        config,
    )
