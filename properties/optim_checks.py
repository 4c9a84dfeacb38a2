"""The generic check of an update rule (references/optim_spec.py) on one case.

    outcome = check_optimizer(OPTIMIZERS["adam"], module.adam, case)
    outcome.ok, outcome.form, outcome.held   # True, "torch.optim.Adam", ("torch.optim.Adam",)

The implementation runs the case's steps once, fed its own next_w and returned config each
step; every form's reference runs them too. After every step: dw left unmodified (w may be
updated in place, as CS231n's own `w -= learning_rate * dw` does: the caller takes next_w), a
(next_w, config) pair returned with the state keys in config, and next_w and each state entry
compared with the form's (`torch.optim.Adam step 2 · adam next_w`). Every form is compared:
the outcome names the forms whose comparisons all hold (`held`; `form` is the first of them)
and keeps the comparisons of the first (torch's when none holds); `evidence` is the comparisons
of every form that held, each labelled with its form as the oracle, which is what the property
reports (the run says which forms held on every case).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from gradverify.properties.calls import NOT_IMPLEMENTED, ImplFailure
from gradverify.properties.optim_cases import OptimCase
from gradverify.references.compare import Cause, Comparison, Where, compare, failed, holds
from gradverify.references.optim_spec import Form, Optimizer

Steps = list[tuple[Any, dict[str, Any]]]


@dataclass
class OptimOutcome:
    """The check of one rule on one case: the form matched (the first that held; None when none
    did) and the comparisons against it (against the first form when none held); `held`, every
    form that held, and `evidence`, their comparisons one form after another."""

    optimizer: str
    form: str | None
    comparisons: list[Comparison] = field(default_factory=list)
    held: tuple[str, ...] = ()
    evidence: list[Comparison] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.form is not None

    @property
    def reported(self) -> list[Comparison]:
        """What the property reports: the comparisons of every form that held, else those
        against the first form."""
        return self.evidence if self.ok else self.comparisons

    @property
    def failures(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.ok]


def _step(opt: Optimizer, rule: Callable[..., Any], w: Any, dw: Any, config: Any, where: Where) -> tuple[Any, list[Comparison]]:
    """One call of the rule: ((next_w, config) or None when it gave no usable result, the
    comparisons of its form and of its inputs)."""
    dw_before = np.array(dw, copy=True)  # w may be updated in place: the caller takes next_w, as CS231n's Solver does
    try:
        result = rule(w, dw, config)
    except ImplFailure:
        raise  # a call that failed where it ran (an adapter's missing name): the property reports it
    except NotImplementedError:
        return None, [failed(where, Cause.NOT_IMPLEMENTED, NOT_IMPLEMENTED)]
    except Exception as exc:  # noqa: BLE001 - whatever it raised is the finding
        return None, [failed(where, Cause.RAISED, f"raised {type(exc).__name__}: {exc}", exception=type(exc).__name__)]
    found = []
    if not np.array_equal(dw_before, np.asarray(dw), equal_nan=True):
        found.append(failed(where.at(quantity="dw"), Cause.MODIFIED_INPUT, "modified its input dw in place"))
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        return None, [*found, failed(where, Cause.WRONG_FORM, "returned something other than (next_w, config)")]
    missing = [key for key in opt.state if key not in result[1]]
    if missing:
        found.append(failed(where.at(quantity="config"), Cause.WRONG_FORM, f"returned a config without {missing}"))
        return None, found
    return result, found


def _run_impl(opt: Optimizer, rule: Callable[..., Any], case: OptimCase) -> tuple[Steps, list[Comparison]]:
    """The implementation's steps (copies of next_w and its state, so that a later step changing
    them in place cannot rewrite history) and the findings of form, as far as it got."""
    w, grads = case.arrays()
    config = copy.deepcopy(case.config)
    steps: Steps = []
    findings: list[Comparison] = []
    for t, dw in enumerate(grads, start=1):
        result, found = _step(opt, rule, w, dw.copy(), config, Where(function=opt.name, step=t))
        findings += found
        if result is None:
            break
        w, config = result
        steps.append((np.array(w, copy=True), {key: copy.deepcopy(config[key]) for key in opt.state}))
    return steps, findings


def _against(opt: Optimizer, form: Form, got: Steps, expected: Steps) -> list[Comparison]:
    """next_w and each state entry of every step the implementation completed, against the form."""
    found = []
    for t, ((w, state), (want_w, want_state)) in enumerate(zip(got, expected), start=1):
        where = Where(oracle=form.name, function=opt.name, step=t)
        found.append(compare(where.at(quantity="next_w"), w, want_w))
        found += [compare(where.at(quantity=key), state[key], want_state[key]) for key in opt.state]
    return found


def check_optimizer(opt: Optimizer, rule: Callable[..., Any], case: OptimCase) -> OptimOutcome:
    """Run `rule` on `case` and compare it, step by step, with every form `opt` accepts."""
    got, findings = _run_impl(opt, rule, case)
    complete = len(got) == len(case.grads) and all(c.ok for c in findings)
    hyper = case.hyper()
    w, grads = case.arrays()
    by_form: dict[str, list[Comparison]] = {}
    for form in opt.forms:
        compared = _against(opt, form, got, form.run(w.copy(), [g.copy() for g in grads], hyper))
        by_form[form.name] = sorted(findings + compared, key=lambda c: c.where.step or 0)  # step by step, stable
    held = tuple(name for name, comparisons in by_form.items() if complete and all(c.ok for c in comparisons))
    if not held:
        return OptimOutcome(opt.name, None, by_form[opt.forms[0].name] or findings)
    evidence = [c for name in held for c in by_form[name]] or [holds(Where(oracle=held[0], function=opt.name))]
    return OptimOutcome(opt.name, held[0], by_form[held[0]], held, evidence)
