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
from gradverify.references.compare import Cause
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.results import CheckStatus

LIBRARY = Path(__file__).parent / "libraries" / "cs231n_layers"
#: The ops the fixture defines; the table's others are not in scope.
DEFINED = {"affine", "relu", "dropout", "softmax_loss"}
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
    assert set(statuses) == set(LAYER_PROPERTIES)  # no MLP check is run
    for op in LAYER_OPS:
        expected = "passed" if op in DEFINED else "skipped"
        assert statuses[f"layer_{op}_matches_references"] == expected, op
    assert "gradverify: MLP protocol: not implemented (docs/protocol.md)" in capsys.readouterr().err


def test_a_one_line_bug_in_a_layer_library_fails_naming_its_op(tmp_path, monkeypatch, capsys):
    path = _library(tmp_path, bug=True)
    assert _verify(path, monkeypatch, "--junit", str(tmp_path / "r.xml")) == 1
    failed = [name for name, outcome in _statuses(tmp_path / "r.xml").items() if outcome == "failure"]
    assert failed == ["layer_affine_matches_references"]
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
    # the fixture's four ops pass; every other op of the table is out of its scope
    assert f"4 passed, {len(LAYER_OPS) - 4} skipped" in out and "not in scope: needs layer_batchnorm" in out
    assert "gradverify: MLP protocol: not implemented (docs/protocol.md)" in out
