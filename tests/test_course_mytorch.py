"""The shipped MyTorch course rubrics (mytorch-hw1, -hw2, -hw3) on handins as students make them:
the `mytorch/` package in a folder (or its zip), graded through the `mytorch` adapter.

The claims: the model solution (impl/mytorch) handed in earns every point of each rubric; the
handout (`gradverify template --rubric mytorch-hw…`) earns none, every item "not implemented"
(tested with every course rubric's, in tests/test_course_cs231n.py);
a bug in one class loses that class's item and no other, and its verdict is computed again with
torch autograd on the class itself, outside the grader.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradverify.grading import items
from gradverify.grading.rubric import load_rubric
from gradverify.references.compare import Cause

SOURCE = Path(__file__).resolve().parents[1] / "impl" / "mytorch"
POINTS = {"mytorch-hw1": 100, "mytorch-hw2": 100, "mytorch-hw3": 35}
#: The bugs: (the rubric, the module, the text replaced once, the new text, the items it costs: a
#: class's own, and those of the classes that run it).
BUGS = {
    "mse_backward_without_its_2": (
        "mytorch-hw1",
        "nn/loss.py",
        "        return 2 * (self.A - self.Y) / (self.N * self.C)\n",
        "        return (self.A - self.Y) / (self.N * self.C)\n",
        {"mse"},
    ),
    "sgd_without_momentum": (
        "mytorch-hw1",
        "optim/sgd.py",
        "                self.v_W[i] = self.mu * self.v_W[i] + self.l[i].dLdW\n",
        "                self.v_W[i] = self.v_W[i] + self.l[i].dLdW\n",
        {"sgd"},
    ),
    "mlp1_backward_in_forward_order": (
        "mytorch-hw1",
        "models/mlp.py",
        "        for layer in reversed(self.layers):\n            dLdA = layer.backward(dLdA)\n        return dLdA\n\n\nclass MLP4",
        "        for layer in self.layers:\n            dLdA = layer.backward(dLdA)\n        return dLdA\n\n\nclass MLP4",
        {"mlp1"},
    ),
    "conv2d_stride1_dldb_averaged": (
        "mytorch-hw2",
        "Conv2d.py",
        "        self.dLdb = np.sum(dLdZ, axis=(0, 2, 3))\n",
        "        self.dLdb = np.mean(dLdZ, axis=(0, 2, 3))\n",
        {"conv2d", "conv_transpose2d"},  # ConvTranspose2d runs a Conv2d_stride1 too
    ),
    "rnn_cell_dw_hh_subtracted": (
        "mytorch-hw3",
        "rnn_cell.py",
        "        self.dW_hh += ",
        "        self.dW_hh -= ",
        {"rnn_cell", "rnn_phoneme_classifier"},  # the classifier runs its cells
    ),
    "cnn_backward_activations_in_forward_order": (
        "mytorch-hw2",
        "models/cnn.py",
        "zip(self.convolutional_layers[::-1], self.activations[::-1])",
        "zip(self.convolutional_layers[::-1], self.activations)",
        {"cnn"},
    ),
    "rnn_classifier_next_step_gradient_forgotten": (
        "mytorch-hw3",
        "models/rnn_classifier.py",
        "                    dh[layer - 1] += dx\n",
        "                    dh[layer - 1] = dx\n",
        {"rnn_phoneme_classifier"},
    ),
}


def _rubric(name: str):
    return dataclasses.replace(load_rubric(name), seed=0)


def _handin(folder: Path, bug: str | None = None) -> Path:
    """The model solution as a student's `mytorch/` package in `folder`, with `bug`'s change."""
    shutil.copytree(SOURCE, folder / "mytorch", ignore=shutil.ignore_patterns("__pycache__"))
    if bug is not None:
        _, module, old, new, _ = BUGS[bug]
        path = folder / "mytorch" / module
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{bug}: the bug no longer applies"
        path.write_text(text.replace(old, new), encoding="utf-8")
    return folder


def _lost(result) -> dict[str, Cause | None]:
    return {r.item.name: r.cause for r in result.items if not r.passed}


@pytest.mark.parametrize("name", sorted(POINTS))
def test_the_model_solution_handed_in_earns_every_point(name, tmp_path):
    result = items.grade_file(_handin(tmp_path / "handin"), _rubric(name))
    assert _lost(result) == {} and result.score == result.max_score == POINTS[name]


def _models_beside(folder: Path) -> Path:
    """The handin with models/ beside mytorch/, as the handouts lay it out (HW1P1/models/mlp.py),
    its imports absolute (`from mytorch.nn.linear import Linear`)."""
    shutil.move(folder / "mytorch" / "models", folder / "models")
    for path in (folder / "models").glob("*.py"):
        path.write_text(path.read_text(encoding="utf-8").replace("from ..", "from mytorch."), encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", sorted(POINTS))
def test_the_model_solution_with_models_beside_mytorch_earns_every_point(name, tmp_path):
    result = items.grade_file(_models_beside(_handin(tmp_path / "handin")), _rubric(name))
    assert _lost(result) == {} and result.score == result.max_score == POINTS[name]


#: HW2P1's own layout (Spring 2024): mytorch/ a flat folder (no __init__.py, linear.py beside
#: Conv1d.py), models/ beside it, each module importing the others flat (`from resampling import
#: *`), as the course's runner finds them after its sys.path.append('mytorch') and ('models').
HW2_FLAT = {
    "mytorch": ("Conv1d", "Conv2d", "ConvTranspose", "pool", "resampling", "flatten", "nn/activation", "nn/linear", "nn/loss"),
    "models": ("models/cnn",),
}


#: HW2P1's layout of Fall 2023: mytorch/flatten.py, the rest in mytorch/nn/, none a package, the
#: runner appending mytorch/ and mytorch/nn/ to sys.path.
HW2_NESTED = {
    "mytorch": ("flatten",),
    "mytorch/nn": ("Conv1d", "Conv2d", "ConvTranspose", "pool", "resampling", "nn/activation", "nn/linear", "nn/loss"),
    "models": ("models/cnn",),
}


def _flat_hw2(folder: Path, layout: dict = HW2_FLAT) -> Path:
    """The model solution laid out as one of HW2P1's handouts (HW2_FLAT, HW2_NESTED)."""
    for target, modules in layout.items():
        (folder / target).mkdir(parents=True, exist_ok=True)
        for module in modules:
            text = (SOURCE / f"{module}.py").read_text(encoding="utf-8")
            flat = re.sub(r"^from \.+(?:[\w.]*\.)?(\w+) import .*$", r"from \1 import *  # noqa: F403", text, flags=re.M)
            (folder / target / f"{module.rpartition('/')[2]}.py").write_text(flat, encoding="utf-8")
    return folder


def test_hw2_in_the_handout_s_flat_layout_with_flat_imports_earns_every_point(tmp_path):
    folder = _flat_hw2(tmp_path / "handin")
    assert "from resampling import *" in (folder / "mytorch" / "Conv1d.py").read_text()
    assert not (folder / "mytorch" / "__init__.py").exists()
    result = items.grade_file(folder, _rubric("mytorch-hw2"))
    assert _lost(result) == {} and result.score == result.max_score == POINTS["mytorch-hw2"]


def test_hw2_in_fall_2023_s_nested_flat_layout_earns_every_point(tmp_path):
    """mytorch/nn/Conv1d.py importing `from resampling import *` beside it, models/cnn.py
    `from flatten import *` and `from Conv1d import *`: as the runner's two sys.path.appends find them."""
    folder = _flat_hw2(tmp_path / "handin", HW2_NESTED)
    assert "from resampling import *" in (folder / "mytorch" / "nn" / "Conv1d.py").read_text()
    result = items.grade_file(folder, _rubric("mytorch-hw2"))
    assert _lost(result) == {} and result.score == result.max_score == POINTS["mytorch-hw2"]


def test_the_model_solution_zipped_earns_every_point_of_hw1(tmp_path):
    folder = _handin(tmp_path / "handin")
    target = tmp_path / "handin.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*.py")):
            archive.write(path, path.relative_to(folder).as_posix())
    result = items.grade_file(target, _rubric("mytorch-hw1"))
    assert result.score == result.max_score == POINTS["mytorch-hw1"]


@pytest.mark.parametrize("name", sorted(BUGS))
def test_a_bug_in_one_class_loses_its_item_alone(name, tmp_path):
    result = items.grade_file(_handin(tmp_path / "handin", bug=name), _rubric(BUGS[name][0]))
    assert set(_lost(result)) == BUGS[name][4]


# --------------------------------------------------------------------------- torch, outside the grader


def _classes(folder: Path) -> dict:
    from gradverify.loader import load_module

    return vars(load_module(str(folder)))


def _mse_verdict(m: dict) -> bool:
    rng = np.random.default_rng(0)
    A, Y = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    loss = m["MSELoss"]()
    value = loss.forward(A.copy(), Y.copy())
    a = torch.tensor(A, requires_grad=True)
    ref = F.mse_loss(a, torch.tensor(Y))
    ref.backward()
    return bool(np.isclose(value, ref.item())) and np.allclose(loss.backward(), a.grad.numpy(), rtol=1e-10)


def _conv2d_verdict(m: dict) -> bool:
    rng = np.random.default_rng(1)
    A, W, b = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    layer = m["Conv2d"](2, 3, 3, 2, weight_init_fn=lambda *s: W.copy(), bias_init_fn=lambda *s: b.copy())
    Z = layer.forward(A.copy())
    dLdZ = rng.normal(size=Z.shape)
    layer.backward(dLdZ)
    bias = torch.tensor(b, requires_grad=True)
    F.conv2d(torch.tensor(A), torch.tensor(W), bias, stride=2).backward(torch.tensor(dLdZ))
    return np.allclose(layer.conv2d_stride1.dLdb, bias.grad.numpy(), rtol=1e-10)


def _rnn_verdict(m: dict) -> bool:
    rng = np.random.default_rng(2)
    N, x, h, delta = 3, rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    weights = rng.normal(size=(2, 3)), rng.normal(size=(2, 2)), rng.normal(size=2), rng.normal(size=2)
    cell = m["RNNCell"](3, 2)
    cell.init_weights(*(w.copy() for w in weights))
    cell.backward(delta, cell.forward(x, h), x, h)
    ref = torch.nn.RNNCell(3, 2).double()
    with torch.no_grad():
        for p, value in zip((ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh), weights):
            p.copy_(torch.tensor(value))
    ref(torch.tensor(x), torch.tensor(h)).backward(torch.tensor(delta))
    return np.allclose(N * cell.dW_hh, ref.weight_hh.grad.numpy(), rtol=1e-10)  # the handout's average over N


def _mlp1_verdict(m: dict) -> bool:
    rng = np.random.default_rng(4)
    net = m["MLP1"]()
    weights = [(rng.normal(size=(3, 2)), rng.normal(size=(3, 1))), (rng.normal(size=(2, 3)), rng.normal(size=(2, 1)))]
    for layer, (W, b) in zip(net.layers[::2], weights):
        layer.W, layer.b = W.copy(), b.copy()
    A0, dout = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    net.forward(A0.copy())
    try:
        dA0 = net.backward(dout.copy())
    except ValueError:  # the layers taken in the wrong order meet arrays of the wrong shapes
        return False
    a, (W0, b0), (W1, b1) = torch.tensor(A0, requires_grad=True), *((torch.tensor(W), torch.tensor(b)) for W, b in weights)
    torch.relu(torch.relu(a @ W0.T + b0.T) @ W1.T + b1.T).backward(torch.tensor(dout))
    return np.allclose(dA0, a.grad.numpy(), rtol=1e-10)


def _cnn_verdict(m: dict) -> bool:
    """HW2P1's CNN of three Conv1d layers (Tanh, ReLU, Sigmoid, as its autograder builds it) against
    the same network in torch: dLdA0 and the first layer's dLdW."""
    rng = np.random.default_rng(6)
    weights = [rng.normal(size=s) for s in ((3, 2, 3), (2, 3, 2), (2, 2, 2))]
    biases, W, b = [rng.normal(size=c) for c in (3, 2, 2)], rng.normal(size=(3, 4)), rng.normal(size=(3, 1))
    draws = iter(w.copy() for w in weights)
    bias_draws = iter([*(c.copy() for c in biases), b.reshape(-1).copy()])
    net = m["CNN"](
        *(9, 2, [3, 2, 2], [3, 2, 2], [1, 2, 1], 3, [m["Tanh"](), m["ReLU"](), m["Sigmoid"]()]),
        *(lambda *s: next(draws), lambda *s: next(bias_draws), lambda *s: W.copy(), m["CrossEntropyLoss"](), 0.1),
    )
    A, labels = rng.normal(size=(2, 2, 9)), np.eye(3)[[0, 2]]
    net.forward(A.copy())
    try:
        dA0 = net.backward(labels.copy())
    except ValueError:  # an activation's backward meets another layer's shapes
        return False
    a, w0 = torch.tensor(A, requires_grad=True), torch.tensor(weights[0], requires_grad=True)
    h = a
    for layer, (act, stride) in enumerate(zip((torch.tanh, torch.relu, torch.sigmoid), (1, 2, 1))):
        h = act(F.conv1d(h, w0 if layer == 0 else torch.tensor(weights[layer]), torch.tensor(biases[layer]), stride=stride))
    F.cross_entropy(h.flatten(1) @ torch.tensor(W).T + torch.tensor(b).T, torch.tensor([0, 2])).backward()
    first = net.convolutional_layers[0].conv1d_stride1.dLdW
    return np.allclose(dA0, a.grad.numpy(), rtol=1e-10) and np.allclose(first, w0.grad.numpy(), rtol=1e-10)


def _rnn_classifier_verdict(m: dict) -> bool:
    """HW3P1's RNNPhonemeClassifier of two layers over three steps against torch.nn.RNN: the
    dh_0 it returns is torch's gradient of h_0 over the batch, as the handout divides it."""
    rng = np.random.default_rng(7)
    N, x, h0, delta = 2, rng.normal(size=(2, 3, 3)), rng.normal(size=(2, 2, 4)), rng.normal(size=(2, 2))
    ref = torch.nn.RNN(3, 4, num_layers=2, batch_first=True).double()
    net = m["RNNPhonemeClassifier"](3, 4, 2, num_layers=2)
    cells = [[p.detach().numpy().copy() for p in ref.all_weights[layer]] for layer in range(2)]
    W, b = rng.normal(size=(2, 4)), rng.normal(size=2)
    net.init_weights(cells, [W.copy(), b.copy()])
    net.forward(x.copy(), h0.copy())
    dh0 = net.backward(delta.copy())
    h_0 = torch.tensor(h0, requires_grad=True)
    out, _ = ref(torch.tensor(x), h_0)
    (out[:, -1] @ torch.tensor(W).T + torch.tensor(b)).backward(torch.tensor(delta))
    return np.allclose(dh0, h_0.grad.numpy() / N, rtol=1e-10)


def _sgd_verdict(m: dict) -> bool:
    """Three steps of the class against torch.optim.SGD(momentum=0.9) on one layer's W."""
    import types

    rng = np.random.default_rng(5)
    W0, grads = rng.normal(size=(2, 3)), [rng.normal(size=(2, 3)) for _ in range(3)]
    layer = types.SimpleNamespace(W=W0.copy(), b=np.zeros((2, 1)), dLdb=np.zeros((2, 1)))
    optimizer = m["SGD"](types.SimpleNamespace(layers=[layer]), lr=0.1, momentum=0.9)
    w = torch.tensor(W0, requires_grad=True)
    ref = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    for g in grads:
        layer.dLdW = g.copy()
        optimizer.step()
        w.grad = torch.tensor(g)
        ref.step()
    return np.allclose(layer.W, w.detach().numpy(), rtol=1e-12)


def test_a_handin_whose_activations_import_scipy_as_the_handout_s_do_earns_every_point(tmp_path):
    """GELU through scipy.special.erf, as the handout writes it: the rubrics' packages let it import."""
    folder = _handin(tmp_path / "handin")
    path = folder / "mytorch" / "nn" / "activation.py"
    text = path.read_text(encoding="utf-8").replace("import math\n", "import math\n\nimport scipy.special\n", 1)
    text = text.replace("np.vectorize(math.erf)(", "scipy.special.erf(")
    assert "scipy.special.erf(" in text and "math.erf" not in text
    path.write_text(text, encoding="utf-8")
    result = items.grade_file(folder, _rubric("mytorch-hw1"))
    assert result.score == result.max_score == POINTS["mytorch-hw1"]


VERDICTS = {
    "mse_backward_without_its_2": _mse_verdict,
    "sgd_without_momentum": _sgd_verdict,
    "mlp1_backward_in_forward_order": _mlp1_verdict,
    "conv2d_stride1_dldb_averaged": _conv2d_verdict,
    "rnn_cell_dw_hh_subtracted": _rnn_verdict,
    "cnn_backward_activations_in_forward_order": _cnn_verdict,
    "rnn_classifier_next_step_gradient_forgotten": _rnn_classifier_verdict,
}


@pytest.mark.parametrize("name", sorted(BUGS))
def test_each_bug_and_the_model_solution_are_what_torch_autograd_says(name, tmp_path):
    assert VERDICTS[name](_classes(_handin(tmp_path / "right")))
    assert not VERDICTS[name](_classes(_handin(tmp_path / "buggy", bug=name)))


@pytest.mark.parametrize(
    "rubric,path,given,stubbed",
    [
        ("mytorch-hw3", "models/rnn_classifier.py", {"__init__", "init_weights", "__call__"}, {"forward", "backward"}),
        ("mytorch-hw2", "models/cnn.py", {"zero_grads", "step", "train", "eval"}, {"__init__", "forward", "backward"}),
        ("cs231n-a3", "cs231n/classifiers/rnn.py", {"__init__"}, {"loss", "sample"}),
    ],
)
def test_the_handout_gives_a_model_class_s_given_methods_whole_and_stubs_the_rest(rubric, path, given, stubbed):
    import ast

    from gradverify.grading.course_template import handout

    (cls,) = [node for node in ast.parse(handout(_rubric(rubric), rubric)[path]).body if isinstance(node, ast.ClassDef)]
    methods = {m.name: m for m in cls.body if isinstance(m, ast.FunctionDef)}

    def stub(method) -> bool:
        return any(isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n) for n in ast.walk(method))

    assert set(methods) == given | stubbed and {name for name, m in methods.items() if stub(m)} == stubbed


def test_an_mlp_protocol_hint_names_the_course_s_class(tmp_path):
    """MSELoss.backward without its 2 is graded by the MLP protocol's loss check; its hint names
    MyTorch's method (COURSE_NAMES' "loss_backward:mse"), not the protocol's loss_backward."""
    result = items.grade_file(_handin(tmp_path / "handin", bug="mse_backward_without_its_2"), _rubric("mytorch-hw1"))
    (mse,) = [r for r in result.items if r.item.name == "mse"]
    assert any(h.startswith("Your MSELoss.backward is ½ × the reference's") for h in mse.hints)
    assert not any("loss_backward" in h for h in mse.hints)


def test_losses_written_as_the_writeup_s_one_by_one_matrices_earn_their_items(tmp_path):
    """HW1P1's writeup computes each loss as ι_Nᵀ·…·ι_C, a (1, 1) array; its autograder takes that
    for the number it is, and so does the adapter (a real handin lost MSELoss's 10 points to it)."""
    folder = _handin(tmp_path / "handin")
    path = folder / "mytorch" / "nn" / "loss.py"
    text = path.read_text(encoding="utf-8")
    matrices = {
        "np.ones(self.N) @ se @ np.ones(self.C) / (self.N * self.C)": "np.ones((1, self.N)) @ se @ np.ones((self.C, 1)) / (self.N * self.C)",
        "np.ones(self.N) @ crossentropy / self.N": "np.ones((1, self.N)) @ crossentropy.reshape(-1, 1) / self.N",
    }
    for old, new in matrices.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    result = items.grade_file(folder, _rubric("mytorch-hw1"))
    assert _lost(result) == {} and result.score == POINTS["mytorch-hw1"]
