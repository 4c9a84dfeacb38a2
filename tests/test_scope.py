"""A declared scope (properties/scope.py, gradverify/library.py): what a library does not declare,
or its adapter does not map, is not in scope — not run, never a failure — and the verdict can be
green; what it declares and leaves unimplemented still fails. The target: tinynet
(tests/libraries/tinynet), a library of layer classes with no softmax and no L2, gated through
its adapter, green as it is and red after a one-line bug."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import pytest

import gradverify
from gradverify import impl as bundled
from gradverify.cli import main
from gradverify.grading import adapters
from gradverify.properties.cases import Architecture, Example, TrainCase
from gradverify.properties.scope import COMPONENTS, LAYER_COMPONENTS, OPTIM_COMPONENTS, PARTS, Scope, check_components
from gradverify.references.compare import Cause
from gradverify.references.spec import ACTIVATIONS, LOSSES
from gradverify.results import CheckStatus
from tests.adapters import SOLUTIONS

TINYNET = Path(__file__).resolve().parent / "libraries" / "tinynet"
#: What tinynet declares in its pyproject.toml.
TINYNET_COMPONENTS = ["identity", "relu", "sigmoid", "mse", "dense", "network", "momentum_step"]
#: The one-line bug: the weight gradient transposed, (out, in) where tinynet keeps (in, out).
BUG = ("        self.grad_weight = self.x.T @ grad\n", "        self.grad_weight = grad.T @ self.x\n")


def _tinynet(folder: Path, *, bug: bool = False) -> Path:
    """A copy of tinynet's project in `folder`, with the one-line bug if `bug`."""
    project = folder / "tinynet"
    shutil.copytree(TINYNET, project, ignore=shutil.ignore_patterns("__pycache__", ".gradverify"))
    if bug:
        library = project / "tinynet.py"
        text = library.read_text(encoding="utf-8")
        assert text.count(BUG[0]) == 1, "the one-line bug no longer applies to tinynet"
        library.write_text(text.replace(BUG[0], BUG[1]), encoding="utf-8")
    return project


def _recording(names: list[str]) -> types.ModuleType:
    """The bundled impl, noting the activation and loss names its activation and loss functions get."""
    module = types.ModuleType("recording_impl")
    for function in ("activation", "activation_backward", "loss", "loss_backward", "network_gradients"):
        original = getattr(bundled, function)

        def noted(*args, _original=original, **kwargs):
            names.append(args[0] if isinstance(args[0], str) else args[0]["loss"])
            return _original(*args, **kwargs)

        setattr(module, function, noted)
    return module


# --------------------------------------------------------------------------- the scope itself


def test_a_declared_scope_holds_the_declared_components_and_nothing_else():
    scope = Scope.declared(["mse", "relu", "dense"])
    assert scope.activations == scope.network_activations == ("relu",)
    assert scope.losses == scope.network_losses == ("mse",)
    assert scope.parts == ("dense",)
    assert Scope.declared(COMPONENTS).whole and not scope.whole
    assert set(COMPONENTS) == {*ACTIVATIONS, *LOSSES, *PARTS, *LAYER_COMPONENTS, *OPTIM_COMPONENTS}
    assert Scope.declared(["optim_adam"]).optimizers == ("adam",) and scope.optimizers == ()


def test_a_case_is_out_of_scope_by_what_it_is_built_of():
    scope = Scope.declared(["identity", "relu", "mse", "network", "momentum_step"])
    deep = Example(Architecture((2, 3, 1), ("tanh", "identity"), "mse", 0.1, 2), 0)
    assert scope.case_outside(("network_gradients",), deep) == ["tanh", "l2"]
    plain = Example(Architecture((2, 3, 1), ("relu", "identity"), "mse", 0.0, 2), 0)
    assert scope.case_outside(("network_gradients",), plain) == []
    training = TrainCase(deep, lr=0.1, momentum=0.9, batch_size=2, epochs=1)
    assert scope.case_outside(("sgd_momentum_step",), training) == []  # the step reads the layers' shapes only
    assert scope.case_outside(("train",), training) == ["tanh", "l2", "train"]


def test_an_unknown_component_names_the_closest_one():
    with pytest.raises(ValueError) as raised:
        check_components(["relu", "softmx"], "--components")
    assert "'softmx' is not a component" in str(raised.value) and "did you mean 'softmax'?" in str(raised.value)
    with pytest.raises(ValueError, match="is not a component"):
        check_components([3])


def test_an_adapters_scope_is_what_it_maps():
    _, layers = adapters.load_local("layers", SOLUTIONS["layers_correct"].module())
    scope = Scope.of_adapter(layers)
    assert set(scope.activations) == set(layers.activations) and set(scope.losses) == set(layers.losses)
    assert set(scope.network_activations) == set(layers.network_activations) and "l2" in scope.parts
    _, cs231n = adapters.load_local("cs231n", SOLUTIONS["cs231n_correct"].module())
    scope = Scope.of_adapter(cs231n)
    assert scope.losses == () and "l2" not in scope.parts and "train" not in scope.parts
    assert scope.network_losses == ("sparse_cce",)


# --------------------------------------------------------------------------- a run in a scope


def test_out_of_scope_checks_and_cases_are_not_run_and_the_verdict_is_green():
    names: list[str] = []
    scope = ["identity", "relu", "sigmoid", "mse", "network"]
    checks = ["activations_match_references", "network_gradients_match_references", "l2_adds_half_lambda_norm", "kink_*"]
    run = gradverify.verify(_recording(names), components=scope, properties=checks, budget=8, save_regressions=False)
    status = {r.name: r.status for r in run.results}
    assert status == {
        "kink_subgradients": CheckStatus.PASSED,  # relu's kink, in scope; the others left out
        "activations_match_references": CheckStatus.PASSED,
        "network_gradients_match_references": CheckStatus.PASSED,
        "l2_adds_half_lambda_norm": CheckStatus.NOT_IN_SCOPE,
    }
    assert run.passed
    assert set(names) <= set(scope) and {"relu", "sigmoid", "mse"} <= set(names)  # nothing out of scope was called
    by_name = {r.name: r for r in run.results}
    assert by_name["l2_adds_half_lambda_norm"].not_in_scope == ["l2"]
    assert by_name["kink_subgradients"].not_in_scope == ["leaky_relu", "mae", "mape"]
    assert "softmax" in by_name["activations_match_references"].not_in_scope
    assert run.components == list(check_components(scope)) and "l2" in run.not_in_scope


def test_a_declared_component_that_is_not_implemented_still_fails_the_run():
    def activation(name, z):
        if name == "sigmoid":
            raise NotImplementedError("sigmoid: not yet")
        return bundled.activation(name, z)

    stub = types.ModuleType("half_done")
    stub.activation, stub.activation_backward = activation, bundled.activation_backward
    options = dict(properties=["activations_match_references"], budget=8, save_regressions=False)
    declared = gradverify.verify(stub, components=["relu", "sigmoid"], **options)
    assert declared.results[0].status is CheckStatus.PARTLY_IMPLEMENTED and not declared.passed
    left_out = gradverify.verify(stub, components=["relu"], **options)
    assert left_out.results[0].status is CheckStatus.PASSED and left_out.passed


def test_the_report_says_what_is_not_in_scope():
    """The wording is the point: the table's cell, the verdict line and the configuration line."""
    from gradverify.report import render_markdown, render_junit, verdict_line

    run = gradverify.verify(
        bundled, components=["relu", "mse", "network"], properties=["l2_*", "kink_*"], budget=5, save_regressions=False
    )
    text = render_markdown(run)
    assert "⬜ not in scope: needs l2" in text and "✅ pass (not in scope: leaky_relu, mae, mape)" in text
    assert verdict_line(run) == ("1 of 1 checks hold; 1 not in scope (components not in scope: leaky_relu, mae, mape, l2)")
    assert "- scope: the components `relu`, `mse`, `network`; not in scope: " in text
    assert '<skipped message="not in scope: needs l2"' in render_junit(run)


# --------------------------------------------------------------------------- bad input: exit 2, no traceback


@pytest.mark.parametrize(
    "args, words",
    [
        (["--components", "relu,softmx"], "--components: 'softmx' is not a component of the protocol; did you mean 'softmax'?"),
        (["--adapter", "no_such_adapter.py"], "no such adapter: no_such_adapter.py"),
        (["--adapter", "broken.py"], "cannot load the adapter"),
    ],
)
def test_an_unknown_component_or_an_adapter_that_does_not_load_is_a_usage_error(tmp_path, monkeypatch, capsys, args, words):
    """The wording is the point of the component's message; the adapter's is tests/test_adapters.py's."""
    project = _tinynet(tmp_path)
    (project / "broken.py").write_text("import student\ndef activation(name, z)\n    return z\n")
    monkeypatch.chdir(project)
    assert main(["verify", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err, err


def test_a_components_setting_with_an_unknown_name_is_a_usage_error(tmp_path, monkeypatch, capsys):
    project = _tinynet(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"momentum_step"', '"momentum"'))
    monkeypatch.chdir(project)
    assert main(["verify", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "[tool.gradverify] components: 'momentum' is not a component" in err and "Traceback" not in err


def test_a_library_of_its_own_api_without_an_adapter_is_not_an_implementation(tmp_path, monkeypatch, capsys):
    project = _tinynet(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('adapter = "adapter.py"\n', ""))
    monkeypatch.chdir(project)
    assert main(["verify", "--quiet"]) == 2
    assert "defines none of the functions of the MLP protocol" in capsys.readouterr().err


# --------------------------------------------------------------------------- the target: tinynet


def test_tinynet_is_green_through_its_adapter_in_its_declared_scope(tmp_path, monkeypatch, capsys):
    """`gradverify verify` in tinynet's project, as its CI runs it: the settings name the
    implementation, the adapter and the components; every check in scope holds."""
    monkeypatch.chdir(_tinynet(tmp_path))
    assert main(["verify", "--budget", "5", "--no-save", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "not in scope" in out


def test_tinynet_with_a_transposed_weight_gradient_is_red_naming_the_checks(tmp_path, monkeypatch, capsys):
    """The one-line bug fails the checks that use the dense layer's weight gradient, each with
    the transposed shape as its cause, and `verify` exits 1 with its usual lines."""
    project = _tinynet(tmp_path, bug=True)
    monkeypatch.chdir(project)
    run = gradverify.verify(
        "tinynet.py",
        adapter="adapter.py",
        components=TINYNET_COMPONENTS,
        budget=5,
        save_regressions=False,
        properties=["dense_matches_references", "network_gradients_match_references", "activations_match_references"],
    )
    status = {r.name: r.status for r in run.results}
    assert status == {
        "network_gradients_match_references": CheckStatus.FAILED,
        "activations_match_references": CheckStatus.PASSED,
        "dense_matches_references": CheckStatus.FAILED,
    }
    assert {r.failure.comparisons[0].cause for r in run.failed} == {Cause.TRANSPOSED}
    assert main(["verify", "--budget", "5", "--no-save", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out
    assert "  dense_matches_references: jax · dense_backward grad_W: returned shape" in captured.err
    assert "--adapter" in captured.err and "--components" in captured.err  # the replay command checks it the same way


def test_tinynet_through_the_pytest_plugin_skips_what_is_not_in_scope(tmp_path, monkeypatch, capsys):
    """The plugin reads the same settings: in-scope checks pass, the others are skipped."""
    monkeypatch.chdir(_tinynet(tmp_path))
    monkeypatch.setattr(sys, "path", list(sys.path))
    capsys.readouterr()
    code = pytest.main(["-p", "no:cacheprovider", "-q", "--gradverify-budget", "3", "-m", "gradverify", "-rs"])
    output = capsys.readouterr().out
    assert code == pytest.ExitCode.OK, output
    assert "12 passed, 7 skipped" in output and "not in scope: needs l2" in output
