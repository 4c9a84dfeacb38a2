"""A class-based layer library checked through the shipped `mytorch` adapter: CMU 11-785's
MyTorch classes (impl/mytorch, laid out as the handouts lay it out, copied as a student's `mytorch`) mapped onto
CS231n's layer functions and checked by the generic layer check. Green when correct, with the
ops it has no class for and the cases its classes cannot take out of scope; red after a one-line
bug, naming the op's property and the quantity. Each verdict is computed again with torch
autograd on the library's own classes, outside the checker."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

import gradverify
from gradverify.cli import main
from gradverify.grading import adapters
from gradverify.loader import ImplLoadError, load_module
from gradverify.properties.checks import FIXED_CHECKS, PROPERTIES
from gradverify.properties.layer_strategies import layer_cases
from gradverify.properties.optim_properties import OPTIM_PROPERTIES
from gradverify.properties.stack_properties import STACK_PROPERTIES
from gradverify.references.compare import TOLERANCES, Cause
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.results import CheckStatus

#: The model solution of the MyTorch rubrics (impl/mytorch), a correct library in the handouts' layout.
SOURCE = Path(__file__).resolve().parents[1] / "impl" / "mytorch"
#: The ops the adapter maps onto the library's classes.
MAPPED = (
    "affine",
    "relu",
    "gelu",
    *("downsample1d", "upsample1d", "downsample2d", "upsample2d", "flatten", "conv_transpose1d", "conv_transpose2d"),
    "batchnorm",
    "softmax_loss",
    "conv",
    "max_pool",
    "conv1d",
    "avg_pool",
    "rnn_step",
    "gru_step",
)
#: The stacks of those ops that are in scope through the adapter (the sequence stack needs the
#: embedding and the RNN over a sequence, which MyTorch has no class for).
STACKS = ("stack_dense_matches_references", "stack_conv_matches_references", "stack_residual_matches_references")
#: The MLP protocol's checks of what the activation and loss classes compute (Sigmoid, Tanh, ReLU,
#: Softmax as activations, MSELoss as mse), through the adapter's activation and loss functions.
MLP_CHECKS = (
    "activations_match_references",
    "losses_match_references",
    "large_inputs",
    "kink_subgradients",
    "worked_example_activation_derivative_identities",
    # and SGD, as CS231n's sgd and sgd_momentum, step by step against torch.optim.SGD
    "optim_sgd_matches_torch_optim",
    "optim_sgd_momentum_matches_torch_optim",
)
#: The one-line bug: Linear's dLdW averaged over the batch (as MyTorch's RNNCell does, wrongly here).
BUG = ("        self.dLdW = dLdZ.T @ self.A\n", "        self.dLdW = dLdZ.T @ self.A / self.N\n")


def _library(folder: Path, *, bug: bool = False, without: tuple[str, ...] = ()) -> Path:
    shutil.copytree(SOURCE, folder / "mytorch", ignore=shutil.ignore_patterns("__pycache__"))
    if bug:
        path = folder / "mytorch" / "nn" / "linear.py"
        text = path.read_text(encoding="utf-8")
        assert text.count(BUG[0]) == 1, "the one-line bug no longer applies to the fixture"
        path.write_text(text.replace(*BUG), encoding="utf-8")
    for path in without:
        (folder / "mytorch" / path).unlink()
    return folder


def _verify(folder: Path, tmp_path: Path, **options):
    return gradverify.verify(str(folder), adapter="mytorch", profile="ci", save_regressions=False, project=tmp_path, **options)


def _statuses(run) -> dict[str, CheckStatus]:
    return {r.name: r.status for r in run.results}


# --------------------------------------------------------------------------- torch, outside the checker


def _linear_grads(folder: Path, N: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(the library's Linear dLdW, torch's ∂⟨dLdZ, Z⟩/∂W) on one draw, W (out, in) as both keep it."""
    module = load_module(str(folder))
    rng = np.random.default_rng(0)
    A, W, b, dLdZ = rng.normal(size=(N, 4)), rng.normal(size=(2, 4)), rng.normal(size=(2, 1)), rng.normal(size=(N, 2))
    layer = module.Linear(4, 2)
    layer.W, layer.b = W.copy(), b.copy()
    layer.forward(A)
    layer.backward(dLdZ)
    w = torch.tensor(W, requires_grad=True)
    F.linear(torch.tensor(A), w, torch.tensor(b[:, 0])).backward(torch.tensor(dLdZ))
    return layer.dLdW, w.grad.numpy()


def _rnn_cell_grads(folder: Path, N: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(N × the library's RNNCell dW_ih, torch.nn.RNNCell's weight_ih gradient) on one draw."""
    module = load_module(str(folder))
    rng = np.random.default_rng(1)
    x, h, delta = rng.normal(size=(N, 3)), rng.normal(size=(N, 2)), rng.normal(size=(N, 2))
    W_ih, W_hh, b_ih, b_hh = rng.normal(size=(2, 3)), rng.normal(size=(2, 2)), rng.normal(size=2), rng.normal(size=2)
    cell = module.RNNCell(3, 2)
    cell.init_weights(W_ih, W_hh, b_ih, b_hh)
    h_t = cell.forward(x, h)
    cell.backward(delta, h_t, x, h)
    ref = torch.nn.RNNCell(3, 2).double()
    with torch.no_grad():
        for p, value in zip((ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh), (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(torch.tensor(value))
    ref(torch.tensor(x), torch.tensor(h)).backward(torch.tensor(delta))
    return N * cell.dW_ih, ref.weight_ih.grad.numpy()


def _gru_cell_grads(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(the library's GRUCell weight gradients, one sample, stacked r, z, n as torch stacks them;
    torch.nn.GRUCell's weight_ih and weight_hh gradients) on one sample."""
    module = load_module(str(folder))
    rng = np.random.default_rng(3)
    x, h, delta = rng.normal(size=3), rng.normal(size=2), rng.normal(size=2)
    W_ih, W_hh, b_ih, b_hh = rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), rng.normal(size=6), rng.normal(size=6)
    cell = module.GRUCell(3, 2)
    cell.init_weights(*np.split(W_ih, 3), *np.split(W_hh, 3), *np.split(b_ih, 3), *np.split(b_hh, 3))
    cell.forward(x, h)
    cell.backward(delta)
    ref = torch.nn.GRUCell(3, 2).double()
    with torch.no_grad():
        for p, value in zip((ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh), (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(torch.tensor(value))
    ref(torch.tensor(x[None]), torch.tensor(h[None])).backward(torch.tensor(delta[None]))
    got = np.concatenate([getattr(cell, f"dW{g}{side}") for side in "xh" for g in "rzn"], axis=None)
    return got, np.concatenate([ref.weight_ih.grad.numpy(), ref.weight_hh.grad.numpy()], axis=None)


def _conv_grads(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(the library's Conv2d dLdW, torch's F.conv2d weight gradient), stride 2 and padding 1."""
    module = load_module(str(folder))
    rng = np.random.default_rng(2)
    A, W, b = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    layer = module.Conv2d(2, 3, 3, 2, padding=1, weight_init_fn=lambda *s: W.copy(), bias_init_fn=lambda *s: b.copy())
    Z = layer.forward(A)
    dLdZ = rng.normal(size=Z.shape)
    layer.backward(dLdZ)
    w = torch.tensor(W, requires_grad=True)
    out = F.conv2d(torch.tensor(A), w, torch.tensor(b), stride=2, padding=1)
    assert np.allclose(Z, out.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.backward(torch.tensor(dLdZ))
    return layer.conv2d_stride1.dLdW, w.grad.numpy()


# --------------------------------------------------------------------------- the verdicts


def test_a_mytorch_library_is_green_through_the_adapter_with_what_it_lacks_not_in_scope(tmp_path):
    library = _library(tmp_path / "lib")
    run = _verify(library, tmp_path)
    statuses = _statuses(run)
    assert run.passed and run.adapter == "mytorch" and run.absent_protocols == []
    assert {name for name, status in statuses.items() if status is CheckStatus.PASSED} == {
        *(f"layer_{op}_matches_references" for op in MAPPED),
        *STACKS,
        *MLP_CHECKS,
    }
    assert {status for name, status in statuses.items() if status is not CheckStatus.PASSED} == {CheckStatus.NOT_IN_SCOPE}
    assert {"layer_batchnorm with mode 'test'", "layer_conv with WW ≠ HH"} <= set(run.not_in_scope)
    # outside the checker: the library's classes agree with torch autograd
    for got, want in (_linear_grads(library), _rnn_cell_grads(library), _gru_cell_grads(library), _conv_grads(library)):
        assert np.allclose(got, want, rtol=1e-10, atol=1e-12)


def test_dldw_averaged_over_the_batch_fails_naming_the_op_and_quantity(tmp_path):
    folder = _library(tmp_path / "lib", bug=True)
    run = _verify(folder, tmp_path)
    failed = [r for r in run.results if r.status is CheckStatus.FAILED]
    assert failed[0].name == "layer_affine_matches_references"
    assert {r.name for r in failed[1:]} <= set(STACKS)  # every stack holds an affine layer
    first = failed[0].failure.comparisons[0]
    assert (first.cause, first.where.function, first.where.quantity) == (Cause.MISMATCH, "affine_backward", "dw")
    n = dict(failed[0].failure.case.dims)["N"]
    assert n > 1 and first.scale == pytest.approx(1 / n)  # got = expected / N
    # outside the checker: torch's weight gradient is N times the library's
    got, want = _linear_grads(folder)
    assert not np.allclose(got, want, rtol=1e-6) and np.allclose(3 * got, want, rtol=1e-10, atol=1e-12)


def test_a_mytorch_failure_replays_through_the_adapter(tmp_path, monkeypatch, capsys):
    folder = _library(tmp_path / "lib", bug=True)
    case = {"type": "LayerCase", "op": "affine", "dims": {"N": 2, "d": [1], "M": 1}, "hyper": {}, "seed": 0}
    entry = json.dumps({"property": "layer_affine_matches_references", "case": case})
    monkeypatch.chdir(tmp_path)
    args = ["verify", "--impl", str(folder), "--adapter", "mytorch", "--quiet", "--replay", entry]
    assert main(args) == 1
    assert "affine_backward dw" in capsys.readouterr().err
    assert main([*args[:-1], entry.replace('"N": 2', '"N": 1')]) == 0  # one sample: the mean is the sum


def test_a_class_the_library_lacks_leaves_its_op_out_of_scope(tmp_path):
    folder = _library(tmp_path / "lib", without=("rnn_cell.py", "models/rnn_classifier.py"))  # the model builds on the cell
    run = _verify(folder, tmp_path, properties=["layer_rnn_step*", "layer_relu*"])
    assert _statuses(run) == {
        "layer_relu_matches_references": CheckStatus.PASSED,
        "layer_rnn_step_matches_references": CheckStatus.NOT_IN_SCOPE,
    }


# --------------------------------------------------------------------------- the parts


@settings(max_examples=30)
@given(layer_cases(LAYER_OPS["conv"], limits=(("conv", "WW", "HH"), ("conv", "pad", (0,)))))
def test_layer_cases_within_limits_draw_only_the_cases_mapped(case):
    dims, hyper = dict(case.dims), dict(case.hyper)
    assert dims["WW"] == dims["HH"] and hyper["pad"] == 0 and case.consistent


def test_an_adapter_whose_layer_cases_are_malformed_is_refused(tmp_path):
    path = tmp_path / "adapter.py"
    path.write_text(
        "import student\nLAYER_CASES = {'conv': {'kernel': 'HH'}}\n\ndef relu_forward(x):\n    return student.relu(x)\n",
        encoding="utf-8",
    )
    with pytest.raises(adapters.AdapterError, match=r"LAYER_CASES\['conv'\]\['kernel'\]"):
        adapters.load_local(str(path), load_module(str(_library(tmp_path / "lib"))))


def test_a_folder_without_a_package_is_refused(tmp_path):
    (tmp_path / "autograder.py").write_text("raise SystemExit('not a library')\n", encoding="utf-8")
    with pytest.raises(ImplLoadError, match="holds no package"):
        load_module(str(tmp_path))


def test_a_folder_library_gives_its_classes_by_name_and_each_load_is_fresh(tmp_path):
    first = load_module(str(_library(tmp_path / "first")))
    buggy = load_module(str(_library(tmp_path / "lib", bug=True)))
    assert first.Linear is not buggy.Linear and first.Conv2d.__module__ == "mytorch.Conv2d"
    assert first.Linear.backward is not buggy.Linear.backward


def test_the_plugin_gates_a_mytorch_library_through_the_adapter(tmp_path, monkeypatch, capsys):
    _library(tmp_path / "lib")
    settings = '[tool.gradverify]\nimpl = "lib/"\nadapter = "mytorch"\nprofile = "ci"\n'
    (tmp_path / "pyproject.toml").write_text(settings, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = pytest.main(["-p", "no:cacheprovider", "-q", "-rs", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    # the MLP protocol's checks, one per op, per rule and per stack family
    checks = len(PROPERTIES) + len(FIXED_CHECKS) + len(LAYER_OPS) + len(OPTIM_PROPERTIES) + len(STACK_PROPERTIES)
    passed = len(MAPPED) + len(STACKS) + len(MLP_CHECKS)
    assert f"{passed} passed, {checks - passed} skipped" in out


# --------------------------------------------------------------------------- graded through the sandbox

#: Items of each kind the adapter maps, graded on the library handed in as its folder.
GRADED = (
    '[[items]]\nname = "linear"\ncheck = "layer"\ntarget = "affine"\npoints = 10\n'
    '[[items]]\nname = "batchnorm"\ncheck = "layer"\ntarget = "batchnorm"\npoints = 15\n'
    '[[items]]\nname = "sigmoid"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 5\n'
    '[[items]]\nname = "mse"\ncheck = "loss"\ntarget = "mse"\npoints = 10\n'
)


def _grade(folder: Path, tmp_path: Path):
    from gradverify.grading import items as grading
    from gradverify.grading.rubric import load_rubric

    rubric = tmp_path / "rubric.toml"
    rubric.write_text(f'adapter = "mytorch"\nsubmission_file = "linear.py"\nrequire_backprop = false\nseed = 0\n{GRADED}')
    return grading.grade_file(folder, load_rubric(rubric))


def test_a_grade_reads_the_adapters_layer_cases_from_its_import_alone():
    """Train-mode batchnorm and square windows, and pad 0: beside no library, no Conv2d takes a padding."""
    limits = set(adapters.load("mytorch").layer_cases)
    assert {("batchnorm", "mode", ("train",)), ("conv", "WW", "HH"), ("conv", "pad", (0,)), ("conv1d", "pad", (0,))} <= limits


def test_the_library_handed_in_as_its_folder_earns_every_item_finding_each_class_in_its_package(tmp_path):
    result = _grade(_library(tmp_path / "handin"), tmp_path)
    assert [r.item.name for r in result.items if not r.passed] == [] and result.score == result.max_score == 40


def test_a_graded_bug_costs_its_class_item_and_a_missing_class_is_not_implemented_by_its_name(tmp_path):
    folder = _library(tmp_path / "handin", bug=True)
    loss = folder / "mytorch" / "nn" / "loss.py"
    loss.write_text(loss.read_text(encoding="utf-8").replace("class MSELoss:", "class MeanSquaredError:"), encoding="utf-8")
    init = folder / "mytorch" / "nn" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8").replace(", MSELoss", ""), encoding="utf-8")
    result = _grade(folder, tmp_path)
    lost = {r.item.name: r for r in result.items if not r.passed}
    assert set(lost) == {"linear", "mse"}
    assert lost["linear"].cause is Cause.MISMATCH and lost["linear"].failed_at == "jax · Linear.backward dLdW"  # COURSE_NAMES
    assert lost["mse"].cause is Cause.NOT_DEFINED and "MSELoss" in lost["mse"].reason


def test_a_failure_in_course_words_gives_each_index_in_the_student_s_orientation():
    """dw[i, j] of the protocol is Linear's dLdW[j, i]; db[j] its dLdb[j, 0]; dgamma[j] BatchNorm1d's dLdBW[0, j]."""
    from gradverify.grading.course_names import renamed
    from gradverify.references.compare import Comparison, Where

    names = adapters.load("mytorch").course_names
    for function, quantity, index, course, expected in (
        ("affine_backward", "dw", (2, 1), "Linear.backward dLdW", (1, 2)),
        ("affine_backward", "db", (3,), "Linear.backward dLdb", (3, 0)),
        ("batchnorm_backward", "dgamma", (1,), "BatchNorm1d.backward dLdBW", (0, 1)),
        ("relu_forward", "out", (0, 1), "ReLU.forward A", (0, 1)),
    ):
        c = Comparison(Where(oracle="jax", function=function, quantity=quantity), False, TOL, mismatches=[(index, 1.0, 2.0)])
        out = renamed(c, names)
        assert (out.label, out.mismatches[0][0]) == (f"jax · {course}", expected)
    other = Comparison(Where(oracle="jax", function="dense_backward", quantity="dW"), False, TOL, mismatches=[((1, 0), 1.0, 2.0)])
    assert renamed(other, names) == other  # what the adapter does not name stays as it is


def test_a_case_and_a_hint_in_course_words_give_each_array_and_shape_in_the_student_s_orientation():
    """w (D, M) is Linear's W (M, D), b (M,) its (M, 1); a claim about a whole array is said of the
    course's; a hint that states a shape a transform would change stays as it was."""
    from gradverify.grading.course_names import said
    from gradverify.references.layer_spec import LAYER_OPS

    names, affine = adapters.load("mytorch").course_names, LAYER_OPS["affine"]
    assert said("affine: x (2, 1), w (1, 3), b (3,); seed 0", names, affine) == "Linear: A (2, 1), W (3, 1), b (3, 1); seed 0"
    scale = "affine_backward's dw is 1/N × the right value (checked on 5 cases, x (2, 1), (3, 1)): a mean over N."
    assert said(scale, names, affine) == (
        "Linear.backward's dLdW is 1/N × the right value (checked on 5 cases, A (2, 1), (3, 1)): a mean over N."
    )
    transposed = "affine_backward's dw is transposed: a gradient has the shape of its array ((1, 3))."
    assert said(transposed, names, affine) == transposed
    conv = LAYER_OPS["conv"]
    described = "conv: x (1, 1, 2, 2), w (1, 1, 1, 1), b (1,); stride 1, pad 0; seed 3"
    assert said(described, names, conv) == "Conv2d: A (1, 1, 2, 2), W (1, 1, 1, 1), b (1,); stride 1, pad 0; seed 3"
    assert said("dense_backward's dW is wrong", names, affine) == "dense_backward's dW is wrong"  # not the adapter's


def test_a_graded_failure_says_its_case_and_its_hint_in_the_course_s_words(tmp_path):
    """Linear's dLdW averaged over the batch: the smallest case and the hint name A, W and dLdW."""
    result = _grade(_library(tmp_path / "handin", bug=True), tmp_path)
    (linear,) = [r for r in result.items if r.item.name == "linear"]
    assert linear.details[0].startswith("Smallest failing case: Linear: A (")
    assert any(h.startswith("Linear.backward's dLdW is 1/N × the right value (checked on") and ", A (" in h for h in linear.hints)
    assert "layer = Linear(w.shape[0], w.shape[1])" in linear.reproduce  # the adapter's SNIPPETS: MyTorch's calls
    assert "affine_forward" not in linear.reproduce


TOL = TOLERANCES["autodiff"]


@pytest.mark.parametrize("where", ["sandbox", "process"])
def test_an_adapter_whose_course_names_are_malformed_is_refused(where, tmp_path):
    path = tmp_path / "adapter.py"
    path.write_text(
        "import student\nCOURSE_NAMES = {'relu_forward': ('ReLU.forward', {'out': ('A', 'transposed')})}\n\n"
        "def relu_forward(x):\n    return student.relu(x)\n",
        encoding="utf-8",
    )
    with pytest.raises(adapters.AdapterError, match=r"COURSE_NAMES\['relu_forward'\]\['out'\]"):
        if where == "sandbox":
            adapters.load(path)
        else:
            adapters.load_local(str(path), load_module(str(_library(tmp_path / "lib"))))


#: Where each op's course snippet leaves the protocol's results: {protocol's name: (the snippet's
#: variable, how it holds the protocol's array: "" as it is, "T" transposed, "flat" a column or row)}.
SNIPPET_RESULTS = {
    "affine": {"out": ("Z", ""), "dx": ("dLdA", ""), "dw": ("dLdW", "T"), "db": ("dLdb", "flat")},
    "relu": {"out": ("A", ""), "dx": ("dLdZ", "")},
    "gelu": {"out": ("A", ""), "dx": ("dLdZ", "")},
    "softmax_loss": {"loss": ("L", ""), "dx": ("dLdA", "")},
    "batchnorm": {"out": ("BZ", ""), "dx": ("dLdZ", ""), "dgamma": ("dLdBW", "flat"), "dbeta": ("dLdBb", "flat")},
    **{
        op: {"out": ("Z", ""), "dx": ("dLdA", ""), "dw": ("dLdW", ""), "db": ("dLdb", "")}
        for op in ("conv", "conv1d", "conv_transpose1d", "conv_transpose2d")
    },
    **{
        op: {"out": ("Z", ""), "dx": ("dLdA", "")}
        for op in ("max_pool", "avg_pool", "downsample1d", "upsample1d", "downsample2d", "upsample2d", "flatten")
    },
    "rnn_step": {"next_h": ("h_t", ""), "dx": ("dx", ""), "dprev_h": ("dh_prev_t", "")},
}


def _drawn(strategy, count: int) -> list:
    """The first `count` cases hypothesis draws of `strategy`, the same each run."""
    from hypothesis import HealthCheck, given, settings

    cases: list = []

    @settings(max_examples=count, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(case) -> None:
        cases.append(case)

    draw()
    return cases[:count]


@pytest.mark.parametrize("op", sorted(SNIPPET_RESULTS))
def test_each_course_snippet_run_on_the_model_solution_gives_the_protocol_s_results(op, tmp_path):
    """A grade's snippet in MyTorch's API (the adapter's SNIPPETS), run beside impl/mytorch as the
    student's package, leaves the values the protocol's snippet gives beside impl/layers.py, on
    cases the grade draws (its LAYER_CASES); every op the adapter names has one."""
    import sys

    from gradverify.impl import layers, rnn_layers
    from gradverify.properties.layer_strategies import layer_cases
    from gradverify.properties.reproduce import snippet
    from gradverify.references.layer_spec import LAYER_OPS

    adapter = adapters.load("mytorch")
    assert set(dict(adapter.snippets)) == set(SNIPPET_RESULTS)
    shutil.copytree(SOURCE, tmp_path / "mytorch", ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(tmp_path))
    try:
        for case in _drawn(layer_cases(LAYER_OPS[op], limits=adapter.layer_cases), 3):
            protocol, course = {"np": np, **vars(layers), **vars(rnn_layers)}, {}
            exec(snippet(case), protocol)  # noqa: S102 - the grader's own snippets
            exec(snippet(case, calls=dict(adapter.snippets)[op]), course)  # noqa: S102
            for name, (variable, how) in SNIPPET_RESULTS[op].items():
                got = np.asarray(course[variable], dtype=np.float64)
                got = got.T if how == "T" else got
                assert np.allclose(np.reshape(got, np.shape(protocol[name])), protocol[name], rtol=1e-10, atol=1e-12), (op, name)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "mytorch" or m.startswith("mytorch.")]:
            del sys.modules[name]


@pytest.mark.parametrize("where", ["sandbox", "process"])
def test_an_adapter_whose_snippets_name_no_op_of_the_table_is_refused(where, tmp_path):
    path = tmp_path / "adapter.py"
    path.write_text(
        "import student\nSNIPPETS = {'dense_layer': 'layer = Dense()'}\n\ndef relu_forward(x):\n    return student.relu(x)\n",
        encoding="utf-8",
    )
    with pytest.raises(adapters.AdapterError, match=r"SNIPPETS names 'dense_layer', not ops of the layer table"):
        if where == "sandbox":
            adapters.load(path)
        else:
            adapters.load_local(str(path), load_module(str(_library(tmp_path / "lib"))))


@pytest.mark.parametrize("bug", [False, True])
def test_verify_loads_hw2_s_flat_folder_as_its_runner_does(bug, tmp_path):
    """HW2P1's mytorch/ (no __init__.py; `from resampling import *`) named by --impl: its modules
    loaded flat, the folder on the import path; the one-line Linear bug fails affine alone."""
    from tests.test_course_mytorch import _flat_hw2

    flat = _flat_hw2(tmp_path / "hw2") / "mytorch"
    if bug:
        (flat / "linear.py").write_text((flat / "linear.py").read_text(encoding="utf-8").replace(*BUG), encoding="utf-8")
    run = _verify(flat, tmp_path, properties=["layer_affine*", "layer_conv1d*", "layer_downsample1d*"])
    expected = CheckStatus.FAILED if bug else CheckStatus.PASSED
    assert _statuses(run) == {
        "layer_affine_matches_references": expected,
        "layer_conv1d_matches_references": CheckStatus.PASSED,
        "layer_downsample1d_matches_references": CheckStatus.PASSED,
    }
