"""Hints for layer ops (gradverify.layer_hints): a mistake is named only where it fits every
sibling that can tell it, never on correct code; every catalogued mistake has a variant in the
catalogue whose hint it is (tests/test_layer_variants.py checks each variant gets exactly its own)."""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest

from gradverify import impl as bundled
from gradverify import runner
from gradverify.diagnoses import DIAGNOSES, Diagnosis
from gradverify.layer_hints import MISTAKES, diagnose, law_mistakes, layer_hints, siblings
from gradverify.loader import load_impl
from gradverify.properties.layer_cases import LayerCase
from gradverify.references.layer_spec import LAYER_OPS, LayerOp
from gradverify.results import CheckStatus
from tests.layer_variants import BUGGY, CORRECT, LayerVariant
from tests.test_layer_gate import _library


def _cases(op: LayerOp, count: int = 2) -> list[LayerCase]:
    """`count` consistent cases of the op: sizes one above their lows (a `many` size as two of
    them), hyperparameters from their first choices on."""
    dims = tuple((s.name, (min(s.low + 1, s.high),) * 2 if s.many else min(s.low + 1, s.high)) for s in op.sizes)
    hypers = itertools.product(*(h.choices for h in op.hypers))
    found = []
    for seed, values in enumerate(hypers):
        case = LayerCase(op, dims, tuple(zip((h.name for h in op.hypers), values)), seed)
        if case.consistent:
            found.append(case)
        if len(found) == count:
            break
    assert found, f"no consistent case of {op.name} at sizes {dims}"
    return found


def _module(variant: LayerVariant) -> types.ModuleType:
    module = types.ModuleType(f"hinted_{variant.name}")
    exec(compile(variant.source(), f"{variant.name}.py", "exec"), module.__dict__)  # noqa: S102
    return module


@pytest.mark.parametrize("op", LAYER_OPS)
def test_no_mistake_is_named_on_the_bundled_model_solution(op):
    for case in _cases(LAYER_OPS[op]):
        assert diagnose(bundled, case) == []


@pytest.mark.parametrize("name", CORRECT)
def test_no_mistake_is_named_on_a_correct_variant(name):
    variant = CORRECT[name]
    for case in _cases(LAYER_OPS[variant.op]):
        assert diagnose(_module(variant), case) == []


def test_every_catalogued_mistake_is_the_hint_of_a_variant():
    hinted = {v.hint for v in BUGGY.values()}
    assert {m.diagnosis for m in MISTAKES} <= hinted
    for mistake in MISTAKES:
        assert set(mistake.ops) <= set(LAYER_OPS), mistake
        assert mistake.quantity and mistake.text


def test_every_layer_diagnosis_is_said_in_words():
    named = {m.diagnosis for m in MISTAKES} | {m.diagnosis for op in LAYER_OPS.values() for m in law_mistakes(op)}
    assert named <= set(DIAGNOSES)


def test_siblings_vary_every_size_and_every_hyperparameter_of_the_case():
    case = _cases(LAYER_OPS["dropout"])[0]
    probes = siblings(case)
    assert probes[0] == case
    assert {dict(p.dims)["N"] for p in probes} == {case.sizes["N"], case.sizes["N"] + 1}
    assert {p.hypers["mode"] for p in probes} == {"train", "test"}
    assert {p.hypers["p"] for p in probes} >= {0.5, 0.25}


def test_a_factor_that_follows_the_keep_probability_is_not_named_a_half():
    """dropout without its 1/p is ½ × the right output at p = ½: a sibling at p = ¼ tells it from
    a constant ½, and the catalogued mistake is named instead."""
    variant = BUGGY["dropout_not_scaled"]
    case = next(c for c in _cases(LAYER_OPS["dropout"], 8) if c.hypers == {"mode": "train", "p": 0.5, "seed": 0})
    named = [h.diagnosis for h in diagnose(_module(variant), case)]
    assert named == [Diagnosis.DROPOUT_NOT_SCALED]


def test_a_scale_law_is_named_when_no_catalogued_mistake_fits(tmp_path):
    """The gate's fixture with dw = 2 × the right one: verify's report gets the factor hint."""
    module = load_impl(str(_library(tmp_path, bug=True)))
    result = runner.run_one(runner.start(module, impl_spec="lib", profile="ci"), "layer_affine_matches_references")
    assert result.status is CheckStatus.FAILED
    assert [h.diagnosis for h in result.hints] == [Diagnosis.HALF]
    assert "affine_backward's dw is 2 × the right value (checked on " in result.hints[0]


def test_an_implementation_that_fails_while_diagnosed_gets_no_hint_and_no_error():
    """A forward that works once and then raises: the probes cannot tell, so nothing is named."""
    calls = {"n": 0}

    def affine_forward(x, w, b):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("only once")
        return x.reshape(len(x), -1) @ w + b, (x, w)

    def affine_backward(dout, cache):
        x, w = cache
        return np.zeros_like(x), np.zeros_like(w), np.zeros(w.shape[1])

    module = types.SimpleNamespace(affine_forward=affine_forward, affine_backward=affine_backward)
    case = _cases(LAYER_OPS["affine"])[0]
    failure = types.SimpleNamespace(case=case, comparisons=[])
    assert layer_hints(failure, module) == []  # type: ignore[arg-type]
