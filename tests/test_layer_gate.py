"""verify and the pytest plugin gate a layer library: what it defines of either protocol is
checked, the ops it lacks are not in scope, a protocol it defines nothing of is not run."""

from __future__ import annotations

import json
import shutil
from xml.etree import ElementTree as ET
import types
from pathlib import Path

import numpy as np
import pytest

from gradverify import runner
from gradverify.cli import main
from gradverify.loader import LAYERS, MLP, NotAnImplementation, load_impl
from gradverify.properties.cases import case_from_json, case_to_json
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_checks import check_layer
from gradverify.properties.layer_properties import LAYER_PROPERTIES
from gradverify.properties.optim_cases import OptimCase
from gradverify.properties.optim_properties import OPTIM_PROPERTIES
from gradverify.properties.stack_properties import STACK_PROPERTIES
from gradverify.references.compare import Cause
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.references.optim_spec import OPTIMIZERS
from gradverify.results import CheckStatus

LIBRARY = Path(__file__).parent / "libraries" / "cs231n_layers"
#: The ops the fixture defines; the table's others are not in scope.
DEFINED = {"affine", "relu", "dropout", "softmax_loss"}
#: The stacks of those ops (affine, relu, dropout and softmax_loss); conv and sequence stacks need others.
STACKS = {"stack_dense_matches_references", "stack_residual_matches_references"}
#: The one-line bug: affine's dw not transposed back (x.T @ dout computed as dout.T @ x).
BUG = ("    dw = np.dot(x.reshape(N, -1).T, dout)\n", "    dw = np.dot(dout.T, x.reshape(N, -1)).T * 2\n")


def _library(folder: Path, *, bug: bool = False) -> Path:
    shutil.copytree(LIBRARY, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / "layers.py"
    if bug:
        text = path.read_text(encoding="utf-8")
        assert text.count(BUG[0]) == 1, "the one-line bug no longer applies to the fixture"
        path.write_text(text.replace(BUG[0], BUG[1]), encoding="utf-8")
    return path


def _statuses(junit: Path) -> dict[str, str]:
    """Each check's outcome in the JUnit XML verify wrote: passed, failed or skipped (not in scope)."""
    cases = ET.parse(junit).getroot().iter("testcase")
    return {c.get("name"): next((e.tag for e in c if e.tag in ("failure", "skipped", "error")), "passed") for c in cases}


def _verify(path: Path, monkeypatch, *args: str) -> int:
    monkeypatch.chdir(path.parent)
    return main(["verify", "--impl", str(path), "--profile", "ci", "--no-save", "--quiet", *args])


def test_a_layer_library_is_green_with_the_ops_it_lacks_not_in_scope(tmp_path, monkeypatch, capsys):
    path = _library(tmp_path)
    assert _verify(path, monkeypatch, "--junit", str(tmp_path / "r.xml")) == 0
    statuses = _statuses(tmp_path / "r.xml")
    assert set(statuses) == {*LAYER_PROPERTIES, *STACK_PROPERTIES, *OPTIM_PROPERTIES}  # no MLP check is run
    for op in LAYER_OPS:
        expected = "passed" if op in DEFINED else "skipped"
        assert statuses[f"layer_{op}_matches_references"] == expected, op
    for name in STACK_PROPERTIES:
        assert statuses[name] == ("passed" if name in STACKS else "skipped"), name
    assert {statuses[name] for name in OPTIM_PROPERTIES} == {"skipped"}  # it defines no update rule
    assert "gradverify: MLP protocol: not implemented (docs/protocol.md)" in capsys.readouterr().err


def test_a_one_line_bug_in_a_layer_library_fails_naming_its_op(tmp_path, monkeypatch, capsys):
    path = _library(tmp_path, bug=True)
    assert _verify(path, monkeypatch, "--junit", str(tmp_path / "r.xml")) == 1
    failed = [name for name, outcome in _statuses(tmp_path / "r.xml").items() if outcome == "failure"]
    assert failed == ["layer_affine_matches_references", *(name for name in STACK_PROPERTIES if name in STACKS)]
    err = capsys.readouterr().err
    assert "affine_backward" in err and "--replay" in err


def test_a_layer_failure_replays_from_its_json(tmp_path):
    module = load_impl(str(_library(tmp_path, bug=True)))
    session = runner.start(module, impl_spec="lib", profile="ci")
    result = runner.run_one(session, "layer_affine_matches_references")
    assert result.status is CheckStatus.FAILED and isinstance(result.failure.case, LayerCase)
    case = case_from_json(json.loads(json.dumps(case_to_json(result.failure.case))))
    assert case == result.failure.case
    again = runner.run_one(runner.start(module, profile="ci", replay=_entry(case)), "layer_affine_matches_references")
    assert again.status is CheckStatus.FAILED


def _entry(case: LayerCase):
    from gradverify import corpus

    return corpus.load_replay(json.dumps({"property": "layer_affine_matches_references", "case": case_to_json(case)}))


def test_a_layer_case_of_an_unknown_op_is_refused():
    with pytest.raises(ValueError, match="unknown layer op"):
        case_from_json({"type": "LayerCase", "op": "conv_nope", "dims": {}, "hyper": {}, "seed": 0})


def test_property_patterns_select_layer_ops():
    assert runner.select(["layer_batchnorm*"]) == ["layer_batchnorm_matches_references"]
    assert not any(name.startswith("layer_") for name in runner.select(None, ["layer_*"]))


def test_declared_components_narrow_the_layer_ops(tmp_path):
    import gradverify

    run = gradverify.verify(
        str(_library(tmp_path)), profile="ci", components=["layer_relu"], save_regressions=False, project=tmp_path
    )
    statuses = {r.name: r.status for r in run.results}
    assert statuses["layer_relu_matches_references"] is CheckStatus.PASSED
    assert statuses["layer_affine_matches_references"] is CheckStatus.NOT_IN_SCOPE


def test_an_mlp_only_module_runs_exactly_the_mlp_checks():
    import gradverify.impl.backprop as backprop

    session = runner.start(backprop, profile="ci")
    assert session.names() == [*runner.FIXED_CHECKS, *runner.PROPERTIES]
    assert session.run.absent_protocols == [LAYERS] and session.run.missing_functions == []


def test_a_module_of_neither_protocol_is_refused_naming_both(tmp_path):
    path = tmp_path / "nothing.py"
    path.write_text("def helper():\n    return 1\n", encoding="utf-8")
    with pytest.raises(NotAnImplementation, match="MLP protocol.*layer protocol"):
        load_impl(str(path))


def test_the_bundled_impl_implements_both_protocols():
    import gradverify.impl as impl

    session = runner.start(impl, profile="ci")
    assert session.run.absent_protocols == [] and set(LAYER_PROPERTIES) <= set(session.names())
    assert MLP not in session.run.absent_protocols


# --------------------------------------------------------------------------- aliasing


def _module(**functions) -> types.ModuleType:
    module = types.ModuleType("lib")
    module.__dict__.update(functions)
    return module


def _dropout_case(mode: str, p: float = 0.5) -> LayerCase:
    return LayerCase(LAYER_OPS["dropout"], (("N", 2), ("D", 3)), (("mode", mode), ("p", p), ("seed", 0)), 0)


def test_dropout_returning_its_input_in_test_mode_passes(tmp_path):
    module = load_impl(str(_library(tmp_path)))
    for case in (_dropout_case("test"), _dropout_case("train", 1.0)):
        assert all(c.ok for c in check_layer(module, case)), case.describe()


def test_an_output_aliasing_its_input_in_train_mode_is_aliased():
    def dropout_forward(x, dropout_param):
        np.random.seed(dropout_param["seed"])
        mask = (np.random.rand(*x.shape) < dropout_param["p"]) / dropout_param["p"]
        x *= mask  # in place: out IS x, and the caller's x is changed
        return x, mask

    def dropout_backward(dout, mask):
        return dout * mask

    comparisons = check_layer(_module(dropout_forward=dropout_forward, dropout_backward=dropout_backward), _dropout_case("train"))
    aliased = [c for c in comparisons if c.cause is Cause.ALIASED]
    assert [(c.where.function, c.where.quantity) for c in aliased] == [("dropout_forward", "out")]


def test_a_partial_view_of_the_input_in_test_mode_is_still_aliased():
    def whole_view(x, dropout_param):
        return x.view(), None  # all of x as it is: as good as x itself

    def overlapping_view(x, dropout_param):
        flat = x.reshape(-1)  # x's shape, its first row repeated: a change to one entry shows twice
        return np.lib.stride_tricks.as_strided(flat, shape=x.shape, strides=(0, flat.strides[0])), None

    def dropout_backward(dout, cache):
        return dout.copy()

    whole = _module(dropout_forward=whole_view, dropout_backward=dropout_backward)
    assert not [c for c in check_layer(whole, _dropout_case("test")) if c.cause is Cause.ALIASED]
    partial = _module(dropout_forward=overlapping_view, dropout_backward=dropout_backward)
    aliased = [c for c in check_layer(partial, _dropout_case("test")) if c.cause is Cause.ALIASED]
    assert [c.where.quantity for c in aliased] == ["out"]


# --------------------------------------------------------------------------- the plugin


def test_the_plugin_gates_a_layer_library(tmp_path, monkeypatch, capsys):
    _library(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.gradverify]\nimpl = "layers.py"\nprofile = "ci"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = pytest.main(["-p", "no:cacheprovider", "-q", "-rs", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    # the fixture's four ops and their two stacks pass; every other op of the table, the stacks of
    # those, and every update rule, are out of its scope
    skipped = len(LAYER_OPS) - 4 + len(STACK_PROPERTIES) - 2 + len(OPTIM_PROPERTIES)
    assert f"6 passed, {skipped} skipped" in out and "not in scope: needs layer_batchnorm" in out
    assert "gradverify: MLP protocol: not implemented (docs/protocol.md)" in out


# --------------------------------------------------------------------------- update rules

#: CS231n's adam in the Adam paper's efficient form (the step size folded into α_t), as its staff solution writes it.
ADAM = """import numpy as np


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    t = config["t"] + 1
    m = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    v = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw**2
    alpha = config["learning_rate"] * np.sqrt(1 - config["beta2"] ** t) / (1 - config["beta1"] ** t)
    next_w = w - alpha * m / (np.sqrt(v) + config["epsilon"])
    config["t"], config["m"], config["v"] = t, m, v
    return next_w, config
"""
#: The bug: no bias correction (α_t = lr).
NO_BIAS_CORRECTION = (
    '    alpha = config["learning_rate"] * np.sqrt(1 - config["beta2"] ** t) / (1 - config["beta1"] ** t)\n',
    '    alpha = config["learning_rate"]\n',
)
OPTIM_NAMES = [f"optim_{rule}_matches_torch_optim" for rule in ("sgd", "sgd_momentum", "rmsprop", "adam")]


def _adam_module(folder: Path, *, bug: bool = False) -> Path:
    text = ADAM.replace(*NO_BIAS_CORRECTION) if bug else ADAM
    assert bug is (text != ADAM), "the bug no longer applies to the module"
    path = folder / "optim.py"
    path.write_text(text, encoding="utf-8")
    return path


def _torch_adam_steps(module: types.ModuleType, steps: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """next_w of each step of `module.adam` and of torch.optim.Adam itself, at a large ε where the
    efficient form and torch's differ, and at CS231n's defaults otherwise."""
    import torch

    rng = np.random.default_rng(1)
    w0, grads = rng.normal(size=(2, 3)), [rng.normal(size=(2, 3)) for _ in range(steps)]
    p = torch.tensor(w0.copy(), requires_grad=True)
    opt = torch.optim.Adam([p], lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    w, config, got, want = w0.copy(), None, [], []
    for g in grads:
        w, config = module.adam(w, g.copy(), config)
        got.append(np.array(w, copy=True))
        p.grad = torch.tensor(g.copy())
        opt.step()
        want.append(p.detach().numpy().copy())
    return got, want


def test_a_module_with_only_adam_is_green_and_says_which_form_it_matched(tmp_path):
    path = _adam_module(tmp_path)
    session = runner.start(load_impl(str(path)), impl_spec=str(path), profile="ci")
    assert session.run.absent_protocols == [MLP]
    run = runner.run_all(session)
    statuses = {r.name: r.status for r in run.results}
    assert statuses.pop("optim_adam_matches_torch_optim") is CheckStatus.PASSED
    assert set(statuses.values()) == {CheckStatus.NOT_IN_SCOPE} and run.passed
    adam = next(r for r in run.results if r.name == "optim_adam_matches_torch_optim")
    assert adam.form == OPTIMIZERS["adam"].forms[1].name and adam.forms[adam.form] == adam.examples > 0
    # outside the checker: torch.optim.Adam agrees at CS231n's default ε (the forms differ by ε's scale only)
    got, want = _torch_adam_steps(load_impl(str(path)))
    assert all(np.allclose(g, t, rtol=1e-6, atol=0) for g, t in zip(got, want))


def test_adam_without_bias_correction_fails_naming_the_property_and_quantity(tmp_path):
    path = _adam_module(tmp_path, bug=True)
    run = runner.run_all(runner.start(load_impl(str(path)), impl_spec=str(path), profile="ci"))
    failed = [r for r in run.results if r.status is CheckStatus.FAILED]
    assert [r.name for r in failed] == ["optim_adam_matches_torch_optim"]
    first = failed[0].failure.comparisons[0]
    assert (first.cause, first.where.function, first.where.step, first.where.quantity) == (Cause.MISMATCH, "adam", 1, "next_w")
    assert first.where.oracle == OPTIMIZERS["adam"].forms[0].name
    # outside the checker: torch.optim.Adam's first step is not the bug's
    got, want = _torch_adam_steps(load_impl(str(path)))
    assert not np.allclose(got[0], want[0], rtol=1e-6, atol=0)


def test_an_update_rule_failure_replays_from_its_json(tmp_path):
    module = load_impl(str(_adam_module(tmp_path, bug=True)))
    result = runner.run_one(runner.start(module, profile="ci"), "optim_adam_matches_torch_optim")
    assert isinstance(result.failure.case, OptimCase)
    case = case_from_json(json.loads(json.dumps(case_to_json(result.failure.case))))
    assert case == result.failure.case
    from gradverify import corpus

    entry = corpus.load_replay(json.dumps({"property": "optim_adam_matches_torch_optim", "case": case_to_json(case)}))
    again = runner.run_one(runner.start(module, profile="ci", replay=entry), "optim_adam_matches_torch_optim")
    assert again.status is CheckStatus.FAILED and again.failure.case == case


def test_the_torch_form_of_adam_is_reported_as_torchs(tmp_path):
    from gradverify.impl import optim

    result = runner.run_one(runner.start(optim, profile="ci"), "optim_adam_matches_torch_optim")
    assert result.status is CheckStatus.PASSED and result.form == OPTIMIZERS["adam"].forms[0].name


@pytest.mark.parametrize(
    "data, message",
    [
        ({"optimizer": "adamw", "shape": [1], "steps": 3, "seed": 0, "config": None}, "unknown update rule"),
        ({"optimizer": "sgd", "shape": [1, 2, 3], "steps": 3, "seed": 0, "config": None}, "1 or 2 sizes"),
        ({"optimizer": "sgd", "shape": [0], "steps": 3, "seed": 0, "config": None}, "a size of w"),
        ({"optimizer": "sgd", "shape": [1], "steps": 0, "seed": 0, "config": None}, "steps"),
        ({"optimizer": "sgd", "shape": [1], "steps": 3, "seed": 0, "config": {"lr": 1.0}}, "must give learning_rate"),
    ],
)
def test_an_update_rule_case_that_is_not_one_is_refused(data, message):
    with pytest.raises(ValueError, match=message):
        case_from_json({"type": "OptimCase", **data})


def test_an_oversized_update_rule_entry_is_not_replayed(tmp_path):
    from gradverify import corpus

    big = {"type": "OptimCase", "optimizer": "adam", "shape": [10_000, 10_000], "steps": 5, "seed": 0, "config": None}
    (tmp_path / "e.json").write_text(json.dumps({"property": "optim_adam_matches_torch_optim", "case": big}), encoding="utf-8")
    entries, problems = corpus.load(tmp_path)
    assert entries == [] and "more than the limit" in problems[0]


def test_the_bundled_impl_runs_the_update_rules():
    import gradverify.impl as impl

    session = runner.start(impl, profile="ci")
    assert set(OPTIM_NAMES) <= set(session.names()) and session.scope.optimizers == tuple(OPTIMIZERS)


def test_declared_components_narrow_the_update_rules(tmp_path):
    import gradverify

    run = gradverify.verify(
        "gradverify.impl",
        profile="ci",
        components=["optim_sgd"],
        properties=["optim_*"],
        save_regressions=False,
        project=tmp_path,
    )
    statuses = {r.name: r.status for r in run.results}
    assert statuses.pop("optim_sgd_matches_torch_optim") is CheckStatus.PASSED
    assert set(statuses.values()) == {CheckStatus.NOT_IN_SCOPE}
