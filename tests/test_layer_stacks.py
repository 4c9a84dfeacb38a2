"""Stacks of the layer ops (properties/stack_*.py): the bundled impl passes every family; the
stack variants (tests/layer_variants/stacks.py) pass every single-op check and fail their stack,
located by layer index, function and quantity, and shrunk; each verdict computed again with
torch autograd on the same stack built here, outside the checker."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import find, settings
from hypothesis.errors import NoSuchExample

import gradverify.impl as bundled
from gradverify.profiles import PROFILES
from gradverify.properties.cases import case_from_json, case_to_json
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_properties import layer_property
from gradverify.properties.scope import NotInScope, Scope
from gradverify.properties.shared import Rejected
from gradverify.properties.stack_cases import FAMILIES, StackCase, problems
from gradverify.properties.stack_checks import FORK_DX, check_stack
from gradverify.properties.stack_properties import STACK_PROPERTIES
from gradverify.properties.stack_strategies import (
    STRATEGIES,
    conv_stacks,
    coverage,
    dense_stacks,
    residual_stacks,
    sequence_stacks,
)
from gradverify.references.compare import Cause
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.results import CheckStatus
from gradverify.search import run_property
from tests.layer_variants.stacks import FAMILY, STACK_BUGGY


def _load(name: str, folder: Path):
    path = STACK_BUGGY[name].write(folder)
    spec = importlib.util.spec_from_file_location(f"stack_variant_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(prop, module):
    result, _ = run_property(prop, module, profile=PROFILES["ci"], seed=0, entries=[])
    return result


def _layer(op: str, seed: int, **dims) -> LayerCase:
    spec = LAYER_OPS[op]
    hyper = tuple((h.name, h.choices[0]) for h in spec.hypers)
    return LayerCase(spec, tuple((s.name, dims[s.name]) for s in spec.sizes), hyper, seed)


def _dense(N: int, D: int, H: int, C: int, seed: int = 0) -> StackCase:
    """affine (D → H) → relu → affine (H → C) → softmax_loss."""
    return StackCase(
        "dense",
        (
            _layer("affine", seed, N=N, d=(D,), M=H),
            _layer("relu", seed + 1, N=N, D=H),
            _layer("affine", seed + 2, N=N, d=(H,), M=C),
            _layer("softmax_loss", seed + 3, N=N, C=C),
        ),
    )


def _residual(N: int, D: int, K: int, C: int, seed: int = 0) -> StackCase:
    """[affine (D → K) → relu → affine (K → D)] + x → affine (D → C) → softmax_loss."""
    layers = (
        _layer("affine", seed, N=N, d=(D,), M=K),
        _layer("relu", seed + 1, N=N, D=K),
        _layer("affine", seed + 2, N=N, d=(K,), M=D),
        _layer("affine", seed + 3, N=N, d=(D,), M=C),
        _layer("softmax_loss", seed + 4, N=N, C=C),
    )
    return StackCase("residual", layers, (0, 3))


# --------------------------------------------------------------------------- the bundled impl


@pytest.mark.parametrize("name", STACK_PROPERTIES)
def test_every_stack_property_holds_for_the_bundled_impl(name):
    result = _run(STACK_PROPERTIES[name], bundled)
    assert result.failure is None and result.error is None and result.examples > 0


def test_a_dense_stack_compares_every_layer_and_parameter():
    comparisons = check_stack(bundled, _dense(2, 3, 2, 3))
    assert all(c.ok for c in comparisons)
    located = {(c.where.oracle, c.where.layer, c.where.function, c.where.quantity) for c in comparisons}
    assert ("torch", 3, "softmax_loss", "loss") in located and ("torch", 1, "relu_forward", "out") in located
    assert {("torch", 0, "affine_backward", g) for g in ("dx", "dw", "db")} <= located
    assert ("finite differences", 2, "affine_backward", "⟨dw, u⟩") in located


def test_an_output_the_next_op_cannot_take_ends_the_stack_as_a_failure():
    import types

    from gradverify.search import run_case

    module = types.ModuleType("halved")
    module.__dict__.update({k: v for k, v in vars(bundled).items() if not k.startswith("__")})
    module.relu_forward = lambda x: (np.maximum(x, 0.0)[:, :1], x)  # one column of two
    _, comparisons = run_case(check_stack, module, _dense(2, 3, 2, 3))
    assert [(c.where.function, c.cause) for c in comparisons] == [("relu_forward", Cause.SHAPE)]


def test_a_batchnorm_of_two_samples_that_nearly_agree_is_rejected():
    """Drawn once: the batchnorm's two rows agree to two digits in two features (var ~1e-4), so
    torch's dx and the impl's, both right to rounding, differed by 1.8e-12 where the exact dx is 0."""
    bn, N = (("mode", "train"), ("eps", 1e-5), ("momentum", 0.9)), 2
    layers = (
        _layer("affine", 0, N=N, d=(1,), M=3),
        _layer("relu", 1, N=N, D=3),
        _layer("affine", 2, N=N, d=(3,), M=3),
        LayerCase(LAYER_OPS["batchnorm"], (("N", N), ("D", 3)), bn, 3),
        _layer("relu", 4, N=N, D=3),
        LayerCase(LAYER_OPS["dropout"], (("N", N), ("D", 3)), (("mode", "train"), ("p", 0.8), ("seed", 0)), 5),
        _layer("affine", 6, N=N, d=(3,), M=1),
        _layer("relu", 7, N=N, D=1),
        _layer("affine", 8, N=N, d=(1,), M=3),
        _layer("svm_loss", 9, N=N, C=3),
    )
    with pytest.raises(Rejected, match=r"layer 3 \(batchnorm\) normalises values that nearly agree"):
        check_stack(bundled, StackCase("dense", layers))


# --------------------------------------------------------------------------- cases and strategies


def test_the_smallest_dense_stack_is_one_block_of_one_unit():
    case = find(dense_stacks(), lambda case: True)
    assert case.chain() == "affine → relu → affine → softmax_loss"
    assert case.describe() == (
        "affine → relu → affine → softmax_loss: x (1, 1); [0] w (1, 1), b (1,); [2] w (1, 2), b (2,); seed 0"
    )


def test_the_smallest_residual_stack_forks_one_op():
    case = find(residual_stacks(), lambda case: True)
    assert case.chain() == "[relu] + x → affine → softmax_loss" and case.residual == (0, 1)
    block = find(residual_stacks(), lambda case: case.residual[1] - case.residual[0] > 1)
    assert block.chain() == "[affine → relu → affine] + x → affine → softmax_loss" and block.residual == (0, 3)


@pytest.mark.parametrize("family", STRATEGIES)
def test_every_drawn_stack_chains(family):
    with pytest.raises(NoSuchExample):
        find(STRATEGIES[family](), lambda case: bool(problems(case)), settings=settings(max_examples=50, database=None))


def test_an_op_out_of_scope_is_never_drawn():
    ops = Scope.declared(["layer_affine", "layer_relu", "layer_softmax_loss", "layer_dropout"]).layers
    with pytest.raises(NoSuchExample):
        find(dense_stacks(ops=ops), lambda case: any(op.name in ("batchnorm", "layernorm", "svm_loss") for op in case.ops))
    assert any(op.name == "dropout" for op in find(dense_stacks(ops=ops), lambda case: "dropout" in case.chain()).ops)


def test_every_family_has_a_strategy_coverage_and_a_property():
    assert list(STRATEGIES) == list(FAMILIES)
    assert list(STACK_PROPERTIES) == [f"stack_{family}_matches_references" for family in FAMILIES]
    assert all(coverage(family) and not any(problems(case) for case in coverage(family)) for family in FAMILIES)


def test_a_stack_holding_an_op_out_of_scope_is_left_out():
    scope = Scope.declared(["layer_affine", "layer_relu", "layer_softmax_loss"])
    prop = STACK_PROPERTIES["stack_dense_matches_references"]
    assert scope.case_outside(prop.functions, _dense(2, 2, 2, 2)) == []
    assert scope.case_outside(prop.functions, coverage("dense")[0]) == [
        "layer_batchnorm",
        "layer_layernorm",
        "layer_dropout",
        "layer_svm_loss",
    ]


@pytest.mark.parametrize("name", STACK_PROPERTIES)
def test_a_float32_library_s_stacks_are_not_in_scope(name):
    result, _ = run_property(
        STACK_PROPERTIES[name], bundled, profile=PROFILES["ci"], seed=0, entries=[], scope=Scope(dtype="float32")
    )
    assert result.status is CheckStatus.NOT_IN_SCOPE and result.not_in_scope == ["float64"]


def test_a_stack_is_drawn_inside_an_adapter_s_limits():
    square, train = ("conv", "WW", "HH"), ("batchnorm", "mode", ("train",))
    with pytest.raises(NoSuchExample):
        find(conv_stacks(limits=(square,)), lambda case: dict(case.layers[0].dims)["WW"] != dict(case.layers[0].dims)["HH"])
    with pytest.raises(NoSuchExample):
        find(
            dense_stacks(limits=(train,)),
            lambda case: any(layer.hypers.get("mode") == "test" for layer in case.layers if layer.op.name == "batchnorm"),
        )
    assert Scope(limits=(train,)).case_outside((), coverage("residual")[1]) == []  # its batchnorm trains
    tested = StackCase(
        "residual",
        tuple(
            layer if layer.op.name != "batchnorm" else replace(layer, hyper=(("mode", "test"), *layer.hyper[1:]))
            for layer in coverage("residual")[1].layers
        ),
        (2, 3),
    )
    assert Scope(limits=(train,)).case_outside((), tested) == ["layer_batchnorm"]


def test_a_family_without_its_ops_is_not_in_scope():
    with pytest.raises(NotInScope) as raised:
        sequence_stacks(ops=("word_embedding", "temporal_affine", "temporal_softmax_loss"))
    assert raised.value.names == ["layer_rnn", "layer_lstm"]


def test_a_bad_width_is_refused():
    with pytest.raises(ValueError, match="max_width must be an integer >= 1"):
        dense_stacks(max_width=0)


def test_a_stack_case_round_trips_through_json():
    case = _residual(2, 2, 1, 3, seed=5)
    assert case_from_json(json.loads(json.dumps(case_to_json(case)))) == case


def test_a_stack_whose_shapes_do_not_chain_is_refused():
    data = case_to_json(_dense(1, 2, 3, 2))
    data["layers"][2]["dims"]["d"] = [4]  # the second affine takes 4 features; the first gives 3
    with pytest.raises(ValueError, match=r"layer 2 \(affine\) takes x \(1, 4\), gets \(1, 3\)"):
        case_from_json(data)


# --------------------------------------------------------------------------- the variants


@pytest.mark.parametrize("name", STACK_BUGGY)
def test_a_stack_variant_passes_the_single_op_check(name, tmp_path):
    prop = layer_property(LAYER_OPS[STACK_BUGGY[name].op], max_size=3, weight=1.0)
    result, _ = run_property(prop, _load(name, tmp_path), profile=PROFILES["ci"], seed=0, entries=[], budget=15)
    assert result.failure is None and result.error is None and result.examples > 0


@pytest.mark.parametrize("name", STACK_BUGGY)
def test_a_stack_variant_fails_its_stack_located_and_shrunk(name, tmp_path):
    variant = STACK_BUGGY[name]
    result = _run(STACK_PROPERTIES[f"stack_{FAMILY[name]}_matches_references"], _load(name, tmp_path))
    assert result.failure is not None
    case = result.failure.case
    located = {(c.where.function, c.where.quantity, c.cause) for c in result.failure.comparisons if not c.ok}
    assert variant.located() & located
    layers = {c.where.layer for c in result.failure.comparisons if not c.ok}
    assert None not in layers and max(layers) < len(case.layers)  # every failure names its layer
    culprits = [c.where.layer for c in result.failure.comparisons if (c.where.function, c.where.quantity, c.cause) in located]
    assert culprits and all(case.layers[i].op.name == variant.op for i in culprits if i is not None)
    sizes = [n for layer in case.layers for _, v in layer.dims for n in (v if isinstance(v, tuple) else (v,))]
    assert max(sizes) <= 2 and len(case.layers) <= 6  # shrunk


def test_a_reused_affine_output_is_aliased_at_the_affine_that_reuses_it(tmp_path):
    """The second affine's out is the first's buffer (as many hidden units as classes)."""
    comparisons = check_stack(_load("affine_forward_reuses_its_output", tmp_path), _dense(3, 2, 2, 2))
    aliased = [c for c in comparisons if c.cause is Cause.ALIASED]
    assert [(c.where.layer, c.where.function, c.where.quantity) for c in aliased] == [(2, "affine_forward", "out")]
    wrong = {(c.where.oracle, c.where.layer, c.where.function, c.where.quantity) for c in comparisons if not c.ok}
    assert ("torch", 1, "relu_backward", "dx") in wrong and ("torch", 0, "affine_backward", "dw") in wrong
    assert ("torch", 3, "softmax_loss", "loss") not in wrong  # the forward's values are right


def test_a_reused_affine_dx_breaks_the_fork_only(tmp_path):
    module = _load("affine_backward_reuses_its_dx", tmp_path)
    wrong = {(c.where.layer, c.where.quantity) for c in check_stack(module, _residual(2, 2, 2, 3)) if not c.ok}
    assert (0, FORK_DX) in wrong
    chain = [c for c in check_stack(module, _dense(2, 3, 2, 3)) if not c.ok]  # no fork, no dx of one shape twice
    assert chain == []


# --------------------------------------------------------------------------- torch, outside the checker


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _close(a, b) -> bool:
    return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-9, atol=1e-12)


def _dense_agrees(m, case: StackCase) -> bool:
    """The module's chain affine → relu → affine → softmax_loss against torch on the case's arrays."""
    a = case.arrays()
    x, y = a[0]["x"], a[3]["y"]
    w1, b1, w2, b2 = (_t(a[i][k], True) for i, k in ((0, "w"), (0, "b"), (2, "w"), (2, "b")))
    xt = _t(x, True)
    loss = F.cross_entropy(F.linear(F.relu(F.linear(xt, w1.T, b1)), w2.T, b2), torch.tensor(y))
    loss.backward()
    h, c1 = m.affine_forward(x.copy(), a[0]["w"].copy(), a[0]["b"].copy())
    r, c2 = m.relu_forward(h)
    s, c3 = m.affine_forward(r, a[2]["w"].copy(), a[2]["b"].copy())
    value, ds = m.softmax_loss(s, y.copy())
    dr, dw2, db2 = m.affine_backward(ds, c3)
    dx, dw1, db1 = m.affine_backward(m.relu_backward(dr, c2), c1)
    got, expected = (dx, dw1, db1, dw2, db2), (xt, w1, b1, w2, b2)
    return _close(value, loss.item()) and all(_close(g, t.grad.numpy()) for g, t in zip(got, expected))


def _residual_agrees(m, case: StackCase) -> bool:
    """The module's [affine → relu → affine] + x → affine → softmax_loss against torch, the skip's
    gradient added to the block's at x."""
    a = case.arrays()
    x, y = a[0]["x"], a[4]["y"]
    params = [_t(a[i][k], True) for i in (0, 2, 3) for k in ("w", "b")]
    w1, b1, w2, b2, w3, b3 = params
    xt = _t(x, True)
    block = F.linear(F.relu(F.linear(xt, w1.T, b1)), w2.T, b2) + xt
    loss = F.cross_entropy(F.linear(block, w3.T, b3), torch.tensor(y))
    loss.backward()
    h, c1 = m.affine_forward(x.copy(), a[0]["w"].copy(), a[0]["b"].copy())
    r, c2 = m.relu_forward(h)
    f, c3 = m.affine_forward(r, a[2]["w"].copy(), a[2]["b"].copy())
    s, c4 = m.affine_forward(f + x, a[3]["w"].copy(), a[3]["b"].copy())
    value, ds = m.softmax_loss(s, y.copy())
    dblock, dw3, db3 = m.affine_backward(ds, c4)
    dr, dw2, db2 = m.affine_backward(dblock, c3)
    dfx, dw1, db1 = m.affine_backward(m.relu_backward(dr, c2), c1)
    dx = dfx + dblock  # the skip
    got = (dx, dw1, db1, dw2, db2, dw3, db3)
    return _close(value, loss.item()) and all(_close(g, t.grad.numpy()) for g, t in zip(got, (xt, *params)))


CROSS_CHECKS = {
    "affine_forward_reuses_its_output": (_dense_agrees, _dense(3, 2, 2, 2)),
    "affine_backward_reuses_its_dx": (_residual_agrees, _residual(2, 2, 2, 3)),
}


@pytest.mark.parametrize("name", STACK_BUGGY)
def test_a_stack_verdict_matches_torch_autograd(name, tmp_path):
    agrees, case = CROSS_CHECKS[name]
    module = _load(name, tmp_path)
    assert agrees(bundled, case) and all(c.ok for c in check_stack(bundled, case))
    assert not agrees(module, case) and not all(c.ok for c in check_stack(module, case))


def test_a_stack_failure_replays_from_its_json(tmp_path):
    from gradverify import corpus, runner

    module = _load("affine_forward_reuses_its_output", tmp_path)
    result = runner.run_one(runner.start(module, profile="ci"), "stack_dense_matches_references")
    assert result.failure is not None and isinstance(result.failure.case, StackCase)
    entry = corpus.load_replay(
        json.dumps({"property": "stack_dense_matches_references", "case": case_to_json(result.failure.case)})
    )
    assert entry.case == result.failure.case
    again = runner.run_one(runner.start(module, profile="ci", replay=entry), "stack_dense_matches_references")
    assert again.failure is not None and again.failure.comparisons[0].cause is Cause.ALIASED
