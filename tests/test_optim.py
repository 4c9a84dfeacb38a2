"""The update rules (references/optim_spec.py): the model solution impl/optim.py passes the generic
check, every buggy variant of it is caught where the bug is, CS231n's efficient Adam is accepted
as its own form, and each verdict agrees with torch.optim run here, outside the checker."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from gradverify.diagnoses import Diagnosis
from gradverify.impl import optim
from gradverify.optim_hints import diagnose, optim_hints
from gradverify.profiles import PROFILES
from gradverify.properties.optim_properties import OPTIM_PROPERTIES
from gradverify.search import run_property
from gradverify.properties.optim_checks import check_optimizer
from gradverify.properties.optim_cases import OptimCase
from gradverify.properties.optim_strategies import optim_cases
from gradverify.references.compare import Cause
from gradverify.references.optim_spec import OPTIMIZERS
from tests.layer_variants.optim import BUGGY, VARIANTS, load

#: The diagnosis each buggy variant's hint must name, and no other (gradverify.optim_hints); a
#: variant not listed gets none.
HINTS = {
    "adam_without_bias_correction": Diagnosis.BIAS_CORRECTION,
    "adam_without_t_in_config": Diagnosis.STATE_NOT_STORED,
    "rmsprop_eps_inside_sqrt": Diagnosis.EPS_INSIDE_SQRT,
    "sgd_momentum_velocity_sign_flipped": Diagnosis.SIGN,
    "sgd_modifies_dw": Diagnosis.IN_PLACE,
}

#: Large ε and learning rate tell the efficient Adam from torch's; drawn values elsewhere.
CONFIGS = {
    "sgd": {"learning_rate": 0.1},
    "sgd_momentum": {"learning_rate": 0.1, "momentum": 0.5},
    "rmsprop": {"learning_rate": 0.1, "decay_rate": 0.9, "epsilon": 1e-4},
    "adam": {"learning_rate": 0.1, "beta1": 0.9, "beta2": 0.999, "epsilon": 0.1},
}


def _case(rule: str, seed: int = 0) -> OptimCase:
    return OptimCase(rule, (2, 3), 4, seed, dict(CONFIGS[rule]))


def _torch_steps(rule: str, case: OptimCase) -> list[np.ndarray]:
    """next_w of each step by torch.optim itself, CS231n's hyperparameters converted by hand."""
    h = case.hyper()
    p = torch.tensor(case.w.copy(), requires_grad=True)
    make = {
        "sgd": lambda: torch.optim.SGD([p], lr=h["learning_rate"]),
        "sgd_momentum": lambda: torch.optim.SGD([p], lr=h["learning_rate"], momentum=h["momentum"]),
        "rmsprop": lambda: torch.optim.RMSprop([p], lr=h["learning_rate"], alpha=h["decay_rate"], eps=h["epsilon"]),
        "adam": lambda: torch.optim.Adam([p], lr=h["learning_rate"], betas=(h["beta1"], h["beta2"]), eps=h["epsilon"]),
    }[rule]()
    out = []
    for g in case.grads:
        p.grad = torch.tensor(g.copy())
        make.step()
        out.append(p.detach().numpy().copy())
    return out


def _rule_steps(module: types.ModuleType, rule: str, case: OptimCase) -> list[np.ndarray]:
    w, config, out = case.w.copy(), dict(CONFIGS[rule]), []
    with np.errstate(all="ignore"):
        for g in case.grads:
            w, config = getattr(module, rule)(w.copy(), g.copy(), config)
            out.append(np.array(w, copy=True))
    return out


def test_spec_and_model_solution_name_the_same_rules():
    assert set(OPTIMIZERS) == {name for name in ("sgd", "sgd_momentum", "rmsprop", "adam") if hasattr(optim, name)}


@pytest.mark.parametrize("rule", sorted(OPTIMIZERS))
def test_model_solution_matches_torch_optim_on_drawn_cases(rule):
    @settings(max_examples=15)
    @given(optim_cases(OPTIMIZERS[rule]))
    def run(case):
        outcome = check_optimizer(OPTIMIZERS[rule], getattr(optim, rule), case)
        assert outcome.failures == [] and outcome.form == OPTIMIZERS[rule].forms[0].name
        assert len(outcome.comparisons) == len(case.grads) * (1 + len(OPTIMIZERS[rule].state))

    run()


@pytest.mark.parametrize("name", BUGGY)
def test_buggy_variant_is_caught_where_the_bug_is(name):
    rule, _, (cause, step, quantity) = VARIANTS[name]
    with np.errstate(all="ignore"):
        outcome = check_optimizer(OPTIMIZERS[rule], getattr(load(name), rule), _case(rule))
    assert outcome.form is None
    first = outcome.failures[0]
    assert (first.cause, first.where.function, first.where.step, first.where.quantity) == (cause, rule, step, quantity)


@pytest.mark.parametrize("name", BUGGY)
def test_a_buggy_variant_found_by_the_search_gets_its_own_hint_and_no_other(name):
    rule = VARIANTS[name][0]
    module = load(name)
    with np.errstate(all="ignore"):
        result, _ = run_property(
            OPTIM_PROPERTIES[f"optim_{rule}_matches_torch_optim"], module, profile=PROFILES["ci"], seed=0, entries=[]
        )
        named = {h.diagnosis for h in optim_hints(result.failure, module) if h.diagnosis}  # not the NaN observation
    assert result.failure is not None
    assert named == ({HINTS[name]} if name in HINTS else set())


@pytest.mark.parametrize("rule", OPTIMIZERS)
def test_no_mistake_is_named_on_the_model_solution_or_the_efficient_adam(rule):
    for module in (optim, load("adam_efficient_form")):
        assert diagnose(module, _case(rule)) == [] and diagnose(module, OptimCase(rule, (3,), 3, 1, None)) == []


@pytest.mark.parametrize("name", [n for n in BUGGY if VARIANTS[n][2][0] in (Cause.MISMATCH, Cause.NAN)])
def test_verdict_on_a_buggy_variant_agrees_with_torch_optim(name):
    rule = VARIANTS[name][0]
    got, want = _rule_steps(load(name), rule, _case(rule)), _torch_steps(rule, _case(rule))
    model = _rule_steps(optim, rule, _case(rule))
    assert all(np.allclose(m, t, rtol=1e-9, atol=1e-12) for m, t in zip(model, want))
    if name == "sgd_momentum_velocity_sign_flipped":  # the same next_w; the velocity is −torch's −lr·buffer
        assert all(np.allclose(g, t, rtol=1e-9, atol=1e-12) for g, t in zip(got, want))
    else:
        assert not all(np.allclose(g, t, rtol=1e-9, atol=1e-12) for g, t in zip(got, want))


def test_rmsprop_eps_inside_the_sqrt_differs_from_torch_even_at_the_default_eps():
    case = OptimCase("rmsprop", (2, 3), 4, 0, None)
    outcome = check_optimizer(OPTIMIZERS["rmsprop"], load("rmsprop_eps_inside_sqrt").rmsprop, case)
    assert outcome.form is None and outcome.failures[0].where.quantity == "next_w"


def test_efficient_adam_is_accepted_as_its_own_form_and_differs_from_torch():
    module = load("adam_efficient_form")
    outcome = check_optimizer(OPTIMIZERS["adam"], module.adam, _case("adam"))
    assert outcome.failures == [] and outcome.form == OPTIMIZERS["adam"].forms[1].name
    got, want = _rule_steps(module, "adam", _case("adam")), _torch_steps("adam", _case("adam"))
    assert not np.allclose(got[0], want[0], rtol=1e-9, atol=1e-12)
    h, case = CONFIGS["adam"], _case("adam")  # the paper's efficient form, written out here
    m = (1 - h["beta1"]) * case.grads[0]
    v = (1 - h["beta2"]) * case.grads[0] ** 2
    alpha = h["learning_rate"] * math.sqrt(1 - h["beta2"]) / (1 - h["beta1"])
    assert np.allclose(got[0], case.w - alpha * m / (np.sqrt(v) + h["epsilon"]), rtol=1e-12, atol=0)


def test_a_config_without_the_state_keys_is_the_wrong_form():
    def forgetful(w, dw, config=None):
        return w - 1e-2 * dw, {}

    outcome = check_optimizer(OPTIMIZERS["sgd_momentum"], forgetful, _case("sgd_momentum"))
    assert outcome.form is None
    assert [(c.cause, c.where.quantity) for c in outcome.failures] == [(Cause.WRONG_FORM, "config")]


def test_a_rule_that_raises_is_reported_as_raised():
    def broken(w, dw, config=None):
        raise RuntimeError("no")

    outcome = check_optimizer(OPTIMIZERS["sgd"], broken, _case("sgd"))
    assert outcome.form is None and [c.cause for c in outcome.failures] == [Cause.RAISED]


def test_strategy_rejects_bad_options():
    with pytest.raises(ValueError):
        optim_cases(OPTIMIZERS["sgd"], min_steps=4, max_steps=3)
