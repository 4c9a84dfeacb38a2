"""Hints for a failing update rule (CS231n's optim.py): which known mistake the steps are.

    hints = optim_hints(failure, impl)     # failure.case an OptimCase; [] when nothing fits

A mistake is a form of the rule the way the mistaken code computes it (Adam without bias
correction, RMSProp with ε inside the square root, …), written in NumPy as the references'
forms are (ref(w, grads, hyper) -> each step's next_w and state). It is named as
gradverify.layer_hints names a layer's: the implementation holds the mistake's form step by
step (gradverify.properties.optim_checks.check_optimizer against it) on the failing case and on
its siblings (other seeds, a larger w, the defaults, each hyperparameter at its next choice)
wherever that form differs from every accepted one, and at least two siblings can tell.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Callable

import numpy as np

from gradverify.diagnoses import Diagnosis, Hint
from gradverify.properties.optim_cases import OptimCase
from gradverify.properties.optim_checks import check_optimizer
from gradverify.references.compare import Cause, compare
from gradverify.references.optim_spec import OPTIMIZERS, Form

Steps = list[tuple[np.ndarray, dict[str, Any]]]

#: How many siblings (the failing case among them) must tell a mistake from the accepted forms.
MIN_TELLING = 2


def _adam(*, bias_correction: bool = True, store_t: bool = True) -> Callable[..., Steps]:
    """Adam as written with a mistake: without m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), or with t never
    stored back in config (every step then uses t = 1, and config keeps the 0 it started with)."""

    def run(w: np.ndarray, grads: list[np.ndarray], h: dict[str, float]) -> Steps:
        m, v, t, steps = np.zeros_like(w), np.zeros_like(w), 0, []
        for g in grads:
            used = t + 1
            m = h["beta1"] * m + (1 - h["beta1"]) * g
            v = h["beta2"] * v + (1 - h["beta2"]) * g**2
            m_hat, v_hat = (m / (1 - h["beta1"] ** used), v / (1 - h["beta2"] ** used)) if bias_correction else (m, v)
            w = w - h["learning_rate"] * m_hat / (np.sqrt(v_hat) + h["epsilon"])
            t = used if store_t else 0
            steps.append((w.copy(), {"m": m.copy(), "v": v.copy(), "t": t}))
        return steps

    return run


def _rmsprop_eps_inside(w: np.ndarray, grads: list[np.ndarray], h: dict[str, float]) -> Steps:
    """next_w = w − lr·dw/√(cache + ε): ε inside the square root."""
    cache, steps = np.zeros_like(w), []
    for g in grads:
        cache = h["decay_rate"] * cache + (1 - h["decay_rate"]) * g**2
        w = w - h["learning_rate"] * g / np.sqrt(cache + h["epsilon"])
        steps.append((w.copy(), {"cache": cache.copy()}))
    return steps


def _velocity_flipped(w: np.ndarray, grads: list[np.ndarray], h: dict[str, float]) -> Steps:
    """v = μ·v + lr·dw, next_w = w − v: the steps right, the velocity of the opposite sign."""
    v, steps = np.zeros_like(w), []
    for g in grads:
        v = h["momentum"] * v + h["learning_rate"] * g
        w = w - v
        steps.append((w.copy(), {"velocity": v.copy()}))
    return steps


@dataclass(frozen=True)
class RuleMistake:
    diagnosis: Diagnosis
    rule: str
    form: Callable[..., Steps]
    #: the hint; {checked} the siblings in words
    text: str


MISTAKES: tuple[RuleMistake, ...] = (
    RuleMistake(
        Diagnosis.BIAS_CORRECTION,
        "adam",
        _adam(bias_correction=False),
        "adam's steps are Adam's without the bias correction (checked on {checked}): divide m by 1 − β₁ᵗ and v by "
        "1 − β₂ᵗ before the step (t counted from 1), or the first steps are far too small.",
    ),
    RuleMistake(
        Diagnosis.STATE_NOT_STORED,
        "adam",
        _adam(store_t=False),
        "adam never stores its step counter (checked on {checked}): config['t'] stays 0, so every step uses t = 1; "
        "put the incremented t back into config with m and v.",
    ),
    RuleMistake(
        Diagnosis.EPS_INSIDE_SQRT,
        "rmsprop",
        _rmsprop_eps_inside,
        "rmsprop divides by √(cache + ε) (checked on {checked}): CS231n's rule, as torch.optim.RMSprop's, adds ε "
        "outside the square root, √cache + ε.",
    ),
    RuleMistake(
        Diagnosis.SIGN,
        "sgd_momentum",
        _velocity_flipped,
        "sgd_momentum's velocity has the opposite sign (checked on {checked}): its steps are right, but CS231n's "
        "velocity is v = momentum·v − learning_rate·dw, added to w (next_w = w + v).",
    ),
)


def siblings(case: OptimCase) -> list[OptimCase]:
    """The failing case, two other seeds, a larger w, the defaults, and each hyperparameter of
    the case's config at its next choice."""
    rule = case.rule
    out = [case, replace(case, seed=case.seed + 1), replace(case, seed=case.seed + 2)]
    out.append(replace(case, shape=(*case.shape[:-1], case.shape[-1] + 1), seed=case.seed + 3))
    out.append(replace(case, config=None, seed=case.seed + 4))
    config = case.hyper()
    for k, hyper in enumerate(rule.hypers):
        options = hyper.choices
        if config[hyper.name] in options and len(options) > 1:
            other = options[(options.index(config[hyper.name]) + 1) % len(options)]
            out.append(replace(case, config={**config, hyper.name: other}, seed=case.seed + 5 + k))
    return out


def _same_steps(a: Steps, b: Steps, state: tuple[str, ...]) -> bool:
    return all(
        compare("steps", wa, wb).ok and all(compare(key, sa[key], sb[key]).ok for key in state)
        for (wa, sa), (wb, sb) in zip(a, b)
    )


def _fits(mistake: RuleMistake, rule: Callable[..., Any], case: OptimCase) -> bool | None:
    """Whether the implementation holds the mistake's form on `case`; None when that form is
    one of the accepted forms there (the case cannot tell)."""
    opt = case.rule
    w, grads = case.arrays()
    hyper = case.hyper()
    wrong = mistake.form(w.copy(), [g.copy() for g in grads], hyper)
    if any(_same_steps(wrong, form.run(w.copy(), [g.copy() for g in grads], hyper), opt.state) for form in opt.forms):
        return None
    as_mistake = replace(opt, forms=(Form("the mistake", lambda w, grads, hyper: wrong),))
    return check_optimizer(as_mistake, rule, case).ok


def _checked(cases: list[OptimCase]) -> str:
    shapes = ", ".join(dict.fromkeys(str(c.shape) for c in cases))
    return f"{len(cases)} cases, w {shapes}"


def diagnose(impl: ModuleType, case: OptimCase) -> list[Hint]:
    """The mistakes of the rule that the implementation holds on every sibling that can tell."""
    rule = getattr(impl, case.optimizer)
    found = []
    for mistake in (m for m in MISTAKES if m.rule == case.optimizer):
        telling = []
        for probe in siblings(case):
            fits = _fits(mistake, rule, probe)
            if fits is False:
                break
            if fits:
                telling.append(probe)
        else:
            if len(telling) >= MIN_TELLING:
                found.append(Hint(mistake.text.format(checked=_checked(telling)), mistake.diagnosis))
    return found


def _observations(failure: Any) -> list[Hint]:
    """What the failing comparisons say by themselves: dw changed in place, a NaN."""
    out = []
    for c in failure.comparisons:
        if c.cause is Cause.MODIFIED_INPUT:
            out.append(
                Hint(
                    f"{c.where.function} changed dw in place: the caller's gradient changed with it; compute into a new "
                    "array (w − learning_rate·dw), not dw *= ….",
                    Diagnosis.IN_PLACE,
                )
            )
        elif c.cause is Cause.NAN:
            out.append(Hint(f"A NaN came out at step {c.where.step}: look for 0/0 (a 1 − βᵗ with t = 0) or √ of a negative."))
    return list({str(h): h for h in out}.values())


def optim_hints(failure: Any, impl: ModuleType) -> list[Hint]:
    """One-sentence hints for a failing update rule (gradverify.hints.hints dispatches here)."""
    if not isinstance(failure.case, OptimCase) or failure.case.optimizer not in OPTIMIZERS:
        return []
    seen = _observations(failure)
    try:
        found = diagnose(impl, failure.case)
    except Exception:  # noqa: BLE001 - a hint is optional; whatever the implementation does here, the run goes on
        found = []
    return [*seen, *found]
