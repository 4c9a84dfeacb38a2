"""A layer library that computes in float32 (docs/layers.md, "float32"): checked in float32 when it
declares so, told how to declare it when it does not, and its bugs still caught under the float32
tolerances; float64 unchanged."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from gradverify import corpus, impl, runner
from gradverify.cli import main
from gradverify.impl import layers, rnn_layers
from gradverify.library import load
from gradverify.profiles import PROFILES
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_checks import FLOAT32_DECLARATION, call_forward, check_layer, form, grads_of, outputs_of
from gradverify.properties.layer_properties import layer_property
from gradverify.properties.scope import Scope
from gradverify.references.compare import TOLERANCES, Cause, Where, check_dtype, tolerance_for
from gradverify.references.finite_diff import STEPS, directional
from gradverify.layer_hints import layer_hints
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.search import run_property
from tests.layer_variants import BUGGY, LayerVariant
from tests.layer_variants.float32 import in_float32

FLOAT32 = in_float32(layers, rnn_layers)
CHECKED = ("affine", "relu", "batchnorm", "conv", "softmax_loss", "lstm_step")


def _search(op: str, lib, dtype: str = "float32", budget: int = 10):
    prop = layer_property(LAYER_OPS[op], max_size=3, weight=1.0)
    result, _ = run_property(prop, lib, profile=PROFILES["ci"], seed=0, entries=[], budget=budget, scope=Scope(dtype=dtype))
    return result


def _case(op: str, dtype: str = "float64", seed: int = 3) -> LayerCase:
    """The smallest case of `op` but with every size 2 (its hyperparameters CS231n's defaults)."""
    spec = LAYER_OPS[op]
    dims = tuple((s.name, (2,) if s.many else max(s.low, 2)) for s in spec.sizes)
    return LayerCase(spec, dims, tuple((h.name, h.choices[0]) for h in spec.hypers), seed, dtype)


#: Every op, once in each mode it has (batchnorm's and dropout's "train" and "test").
MODES = [
    (op, mode) for op, spec in LAYER_OPS.items() for mode in dict((h.name, h.choices) for h in spec.hypers).get("mode", (None,))
]


def _returned(case: LayerCase) -> dict[str, np.ndarray]:
    """What the model solution returns on `case`, called directly (no wrapper): each forward
    output, and each backward's grads on the case's cotangents; a loss's dx (not its value)."""
    op = case.op
    first, cache, _, _ = call_forward(impl, op, case.arrays(), case.hypers)
    if op.loss:
        return {"dx": cache}
    outs = dict(zip((name for name, _ in op.outputs), outputs_of(op, first)))
    douts = [case.cotangent(out.shape, i) for i, out in enumerate(outs.values())]
    grads = {
        f"{function} {name}": grad
        for function in op.backwards
        for name, grad in zip(op.grads, grads_of(op, function, getattr(impl, function)(*douts, cache)))
    }
    return {**outs, **grads}


@pytest.mark.parametrize("dtype", ("float32", "float64"))
@pytest.mark.parametrize(("op", "mode"), MODES, ids=[op if mode is None else f"{op}-{mode}" for op, mode in MODES])
def test_the_model_solution_keeps_the_dtype_of_its_inputs_through_every_op(op, mode, dtype):
    """So a float32 run checks the model solution's own float32 arithmetic: in_float32 rounds none of its arrays."""
    case = _case(op, dtype)
    if mode is not None:
        case = replace(case, hyper=tuple((k, mode if k == "mode" else v) for k, v in case.hyper))
    returned = _returned(case)
    assert {name: value.dtype for name, value in returned.items()} == dict.fromkeys(returned, np.dtype(dtype))


@pytest.mark.parametrize("op", CHECKED)
def test_a_float32_library_passes_under_the_float32_declaration(op):
    result = _search(op, FLOAT32)
    assert result.failure is None and result.error is None and result.examples > 0
    assert result.max_rel_err > 0  # it did compute in float32: not exactly the references


@pytest.mark.parametrize("op", ("affine", "lstm_step", "softmax_loss"))
def test_a_float32_library_without_the_declaration_fails_saying_how_to_declare_it(op):
    forms = [c for c in check_layer(FLOAT32, _case(op)) if c.cause is Cause.WRONG_FORM]
    outputs = {name for name, _ in LAYER_OPS[op].outputs} if not LAYER_OPS[op].loss else set()
    assert {c.where.quantity for c in forms} == outputs | set(LAYER_OPS[op].grads)
    assert all(c.message is not None and c.message.endswith(FLOAT32_DECLARATION) for c in forms)


def test_the_float32_declaration_message_names_the_setting_and_the_option():
    """The wording is the point: the one test of the message a float32 result gets in a float64 run."""
    (c,) = form(Where(function="affine_forward", quantity="out"), np.zeros((2, 3), np.float32), (2, 3))
    assert c.message == f"returned dtype float32 where float64 was expected{FLOAT32_DECLARATION}"
    assert 'dtype = "float32"' in FLOAT32_DECLARATION and "--dtype float32" in FLOAT32_DECLARATION


@pytest.mark.parametrize(
    ("dtype", "returned"), [("float64", np.float16), ("float64", np.int64), ("float32", np.float64), ("float32", np.float16)]
)
def test_a_result_of_another_dtype_is_a_wrong_form_without_the_declaration_hint(dtype, returned):
    (c,) = form(Where(quantity="dx"), np.zeros((2, 3), returned), (2, 3), dtype)
    assert c.cause is Cause.WRONG_FORM and FLOAT32_DECLARATION not in c.message


def test_a_mix_of_float32_and_float64_results_fails_on_the_float64_one_under_float32():
    def affine_backward(dout, cache):
        dx, dw, db = FLOAT32.affine_backward(dout, cache)
        return dx, dw.astype(np.float64), db

    lib = type(FLOAT32)("mixed")
    lib.affine_forward, lib.affine_backward = FLOAT32.affine_forward, affine_backward
    bad = [c for c in check_layer(lib, _case("affine", "float32")) if not c.ok]
    assert [(c.where.quantity, c.cause) for c in bad] == [("dw", Cause.WRONG_FORM)]


@pytest.mark.parametrize("name", ["affine_db_mean", "batchnorm_backward_no_mean_var_paths", "softmax_loss_no_mean"])
def test_a_float32_library_with_a_bug_is_caught_located_and_diagnosed_under_float32(name, tmp_path):
    variant: LayerVariant = BUGGY[name]
    path = variant.write(tmp_path)
    spec = importlib.util.spec_from_file_location(f"float32_variant_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = _search(variant.op, in_float32(module), budget=15)
    assert result.failure is not None
    located = {(c.where.function, c.where.quantity, c.cause) for c in result.failure.comparisons if not c.ok}
    assert variant.located() & located
    assert {h.diagnosis for h in layer_hints(result.failure, in_float32(module))} == {variant.hint}  # float32's tolerances


def test_a_float32_case_rounds_its_reals_and_keeps_its_labels():
    case64, case32 = _case("softmax_loss"), _case("softmax_loss", "float32")
    a64, a32 = case64.arrays(), case32.arrays()
    assert a32["x"].dtype == np.float32 and np.array_equal(a32["x"], a64["x"].astype(np.float32))
    assert a32["y"].dtype == a64["y"].dtype and np.array_equal(a32["y"], a64["y"])
    assert case32.cotangent((2, 3)).dtype == np.float32 and case32.direction("x", (2, 3)).dtype == np.float64
    assert case32.describe() == case64.describe() + "; float32"


def test_the_float32_rows_are_the_float32_tolerances():
    assert tolerance_for("autodiff") == "autodiff" and tolerance_for("finite_diff", "float64") == "finite_diff"
    for kind in ("autodiff", "finite_diff"):
        loose, tight = TOLERANCES[tolerance_for(kind, "float32")], TOLERANCES[kind]
        assert loose.rtol > tight.rtol and loose.atol > tight.atol


def test_finite_differences_of_a_float32_function_use_the_float32_step():
    seen = []

    def f(theta):
        seen.append(theta.dtype)
        return float(np.sum(np.sin(theta)))

    x, u = np.linspace(-1, 1, 5).astype(np.float32), np.ones(5)
    got = directional(f, x, u, dtype="float32")
    assert set(seen) == {np.dtype(np.float32)}
    assert got == pytest.approx(float(np.sum(np.cos(x.astype(np.float64)))), rel=1e-3)
    assert STEPS["float32"] > STEPS["float64"]


def test_an_unknown_dtype_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="float64, float32"):
        check_dtype("float16", "[tool.gradverify] dtype")
    with pytest.raises(ValueError, match="float64, float32"):
        load(layers, dtype="half")


def test_the_run_records_its_dtype_and_replays_saved_cases_in_it():
    saved = corpus.Entry("layer_affine_matches_references", _case("affine"))
    session = runner.start(FLOAT32, impl_spec="f32", scope=Scope(dtype="float32"), replay=saved)
    assert session.run.dtype == "float32" and session.replay is not None
    assert session.replay.case.dtype == "float32"
    result = runner.run_one(session, "layer_affine_matches_references")
    assert result.passed and result.tolerance == "autodiff_float32"


def test_the_scope_keeps_its_dtype_and_is_whole_in_either():
    scope = Scope(dtype="float32").within(Scope(layers=("affine",)))
    assert scope.dtype == "float32" and scope.layers == ("affine",)
    assert Scope(dtype="float32").whole and not scope.whole


def _float32_file(folder: Path) -> Path:
    """A .py library of the float32 layer functions (the model solution in float32)."""
    path = folder / "float32_layers.py"
    path.write_text(
        "from gradverify.impl import layers, rnn_layers\n"
        "from tests.layer_variants.float32 import in_float32\n\n"
        "globals().update({k: v for k, v in vars(in_float32(layers, rnn_layers)).items() if not k.startswith('__')})\n",
        encoding="utf-8",
    )
    return path


def _dtype_of(junit: Path) -> str | None:
    prop = ET.parse(junit).getroot().find("properties/property[@name='dtype']")
    return None if prop is None else prop.get("value")


def test_verify_checks_a_declared_float32_library_and_says_so(tmp_path, monkeypatch):
    path = _float32_file(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.gradverify]\ndtype = "float32"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    args = ["verify", "--impl", str(path), "--profile", "ci", "--no-save", "--quiet", "--budget", "20"]
    code = main([*args, "--property", "layer_affine*", "--junit", str(tmp_path / "r.xml")])
    assert code == 0 and _dtype_of(tmp_path / "r.xml") == "float32"
    code = main([*args, "--dtype", "float64", "--property", "layer_affine*", "--junit", str(tmp_path / "r64.xml")])
    assert code == 1 and _dtype_of(tmp_path / "r64.xml") == "float64"


def test_a_bad_dtype_setting_is_bad_usage(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text('[tool.gradverify]\ndtype = "double"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "--impl", str(_float32_file(tmp_path)), "--quiet", "--no-save"]) == 2
    assert "[tool.gradverify] dtype" in capsys.readouterr().err


def test_the_plugin_checks_a_declared_float32_library(tmp_path, monkeypatch):
    _float32_file(tmp_path)
    settings = '[tool.gradverify]\nimpl = "float32_layers.py"\nprofile = "ci"\ndtype = "float32"\nchecks = ["layer_relu*"]\n'
    (tmp_path / "pyproject.toml").write_text(settings, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert pytest.main(["-p", "no:cacheprovider", "-q", str(tmp_path)]) == 0
    assert pytest.main(["-p", "no:cacheprovider", "-q", "--gradverify-dtype", "float64", str(tmp_path)]) == 1
