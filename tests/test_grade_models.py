"""The `model` rubric items: the student's CS231n model class built, its params set and its
loss(X, y) checked whole against the same network in PyTorch (references/model_spec.py).

The claims: the model solution (impl/fc_net.py) in the handout's package earns the items; each
buggy class below loses its model item and no other, and each one's verdict is computed again
here with torch autograd, outside the grader; a bug in a layer the class calls costs the model
item too (the class runs the student's own layers); a class the student left as the handout's
stub is "not implemented".
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradverify.grading import items
from gradverify.grading.rubric import load_rubric
from gradverify.references.compare import Cause
from tests.test_course_cs231n import FC_NET, MODULES, _package

#: Each buggy FullyConnectedNet or TwoLayerNet: (the text replaced, once, in fc_net.py; the new text).
BUGGY = {
    "reg_without_its_half": (
        '            loss += 0.5 * self.reg * np.sum(self.params[f"W{layer}"] ** 2)\n'
        '            grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * self.params[f"W{layer}"]\n',
        '            loss += self.reg * np.sum(self.params[f"W{layer}"] ** 2)\n'
        '            grads[f"W{layer}"] = grads[f"W{layer}"] + 2 * self.reg * self.params[f"W{layer}"]\n',
    ),
    "last_layer_not_regularised": (
        "        for layer in range(1, L + 1):\n            loss += 0.5",
        "        for layer in range(1, L):\n            loss += 0.5",
    ),
    "no_gamma_beta_gradients": (
        '            dh, grads[f"gamma{layer}"], grads[f"beta{layer}"] = batchnorm_backward(dh, caches["norm"])\n',
        '            dh, _, _ = batchnorm_backward(dh, caches["norm"])\n',
    ),
    "two_layer_dW1_without_reg": ('{"W1": dW1 + self.reg * p["W1"], ', '{"W1": dW1, '),
    "dropout_mask_not_applied_in_backward": (
        '        if self.use_dropout:\n            dh = dropout_backward(dh, caches["dropout"])\n',
        "",
    ),
}
#: The bugs that show under dropout only: their verdicts are taken at dropout_keep_ratio 0.5.
UNDER_DROPOUT = {"dropout_mask_not_applied_in_backward"}
#: Which class each bug is in.
CLASS = {"two_layer_dW1_without_reg": "TwoLayerNet"}


def _variant(name: str) -> str:
    old, new = BUGGY[name]
    assert FC_NET.count(old) == 1, name
    return FC_NET.replace(old, new)


def _namespace(source: str) -> dict:
    """fc_net.py run here beside the model solution's layers (its `from ..layers import *` made absolute)."""
    namespace: dict = {}
    code = source.replace("from ..layers import *", "from gradverify.impl.layers import *")
    exec(compile(code, "fc_net.py", "exec"), namespace)  # noqa: S102 - our own variants
    return namespace


def _torch_verdict(namespace: dict, cls: str, normalization: str | None, keep: float = 1.0) -> bool:
    """Whether the class's loss and every gradient match torch autograd's of the same network, at
    one case of two hidden layers (one for TwoLayerNet), reg 0.7, dropout at `keep` (each mask the
    model solution's dropout_forward draws from seed 55): computed here, outside the grader."""
    from gradverify.impl.layers import dropout_forward

    rng = np.random.default_rng(3)
    D, hidden, C, N, reg = 3, [4, 3] if cls != "TwoLayerNet" else [4], 3, 5, 0.7
    if cls == "TwoLayerNet":
        net = namespace[cls](input_dim=D, hidden_dim=hidden[0], num_classes=C, reg=reg)
    else:
        dropout = {"dropout_keep_ratio": keep, "seed": 55} if keep != 1.0 else {}
        net = namespace[cls](
            hidden, input_dim=D, num_classes=C, normalization=normalization, reg=reg, dtype=np.float64, **dropout
        )
    masks = [dropout_forward(np.ones((N, H)), {"mode": "train", "p": keep, "seed": 55})[0] for H in hidden]
    net.params = {k: rng.normal(size=v.shape) for k, v in net.params.items()}
    X, y = rng.normal(size=(N, D)), rng.integers(0, C, size=N)
    loss, grads = net.loss(X.copy(), y.copy())
    t = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    h = torch.tensor(X)
    for layer in range(1, len(hidden) + 1):
        h = h @ t[f"W{layer}"] + t[f"b{layer}"]
        if normalization == "batchnorm":
            h = F.batch_norm(h, None, None, t[f"gamma{layer}"], t[f"beta{layer}"], training=True, eps=1e-5)
        h = torch.relu(h) * torch.tensor(masks[layer - 1])
    last = len(hidden) + 1
    value = F.cross_entropy(h @ t[f"W{last}"] + t[f"b{last}"], torch.tensor(y))
    value = value + 0.5 * reg * sum((t[f"W{layer}"] ** 2).sum() for layer in range(1, last + 1))
    value.backward()
    same = bool(np.isclose(loss, value.item(), rtol=1e-9))
    return same and all(k in grads and np.allclose(grads[k], t[k].grad.numpy(), rtol=1e-9, atol=1e-12) for k in t)


def _item_rubric(*names: str, rubric: str):
    whole = load_rubric(rubric)
    return dataclasses.replace(whole, items=tuple(i for i in whole.items if i.name in names), seed=0)


def _graded(tmp_path: Path, rubric: str, *names: str, **sources: str):
    return items.grade_file(_package(tmp_path, {**MODULES[rubric], **sources}), _item_rubric(*names, rubric=rubric))


@pytest.mark.parametrize(
    "cls,normalization", [("TwoLayerNet", None), ("FullyConnectedNet", None), ("FullyConnectedNet", "batchnorm")]
)
def test_the_model_solution_agrees_with_torch_autograd_outside_the_grader(cls, normalization):
    assert _torch_verdict(_namespace(FC_NET), cls, normalization)


@pytest.mark.parametrize("name", BUGGY)
def test_each_buggy_class_disagrees_with_torch_autograd_outside_the_grader(name):
    cls = CLASS.get(name, "FullyConnectedNet")
    keep = 0.5 if name in UNDER_DROPOUT else 1.0
    assert _torch_verdict(_namespace(FC_NET), cls, "batchnorm" if cls == "FullyConnectedNet" else None, keep)
    assert not _torch_verdict(_namespace(_variant(name)), cls, "batchnorm" if cls == "FullyConnectedNet" else None, keep)


@pytest.mark.parametrize("name", BUGGY)
def test_each_buggy_class_loses_its_model_item_and_no_other(name, tmp_path):
    rubric, item = ("cs231n-a1", "two_layer_net") if CLASS.get(name) == "TwoLayerNet" else ("cs231n-a2", "fully_connected_net")
    result = _graded(tmp_path, rubric, item, "affine", "relu", **{"classifiers/fc_net": _variant(name)})
    lost = {r.item.name: r.cause for r in result.items if not r.passed}
    assert set(lost) == {item}
    assert lost[item] is (Cause.WRONG_FORM if name == "no_gamma_beta_gradients" else Cause.MISMATCH)


def test_a_failure_names_the_student_s_method_and_parameter(tmp_path):
    result = _graded(tmp_path, "cs231n-a2", "fully_connected_net", **{"classifiers/fc_net": _variant("no_gamma_beta_gradients")})
    (graded,) = result.items
    assert graded.failed_at == 'torch · FullyConnectedNet.loss grads["gamma1"]'
    assert "Smallest failing case: FullyConnectedNet(hidden_dims=[1], normalization='batchnorm', reg 0.5)" in "\n".join(
        graded.details
    )


def test_a_bug_in_a_layer_the_class_calls_costs_the_model_item_too(tmp_path):
    layers = MODULES["cs231n-a1"]["layers"]
    old = "    db = dout.sum(axis=0)\n"
    assert layers.count(old) == 1
    result = _graded(tmp_path, "cs231n-a1", "affine", "two_layer_net", layers=layers.replace(old, "    db = dout.mean(axis=0)\n"))
    assert {r.item.name for r in result.items if not r.passed} == {"affine", "two_layer_net"}


def test_a_class_left_as_the_handout_s_stub_is_not_implemented(tmp_path):
    stub = "class TwoLayerNet:\n    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):\n"
    result = _graded(
        tmp_path, "cs231n-a1", "two_layer_net", **{"classifiers/fc_net": stub + "        raise NotImplementedError\n"}
    )
    assert [(r.score, r.cause) for r in result.items] == [(0.0, Cause.NOT_IMPLEMENTED)]


#: CaptioningRNN's loss with no mask: the <NULL> words counted.
CAPTIONING = MODULES["cs231n-a3"]["classifiers/rnn"]
NO_MASK = ("        mask = captions_out != self._null\n", "        mask = np.ones(captions_out.shape, dtype=bool)\n")


def _captioning_verdict(source: str) -> bool:
    """The class's loss and its W_vocab gradient against torch's, on captions holding <NULL>s."""
    namespace: dict = {}
    exec(
        compile(source.replace("from ..rnn_layers import *", "from gradverify.impl.rnn_layers import *"), "rnn.py", "exec"),
        namespace,
    )  # noqa: S102
    rng = np.random.default_rng(6)
    words = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3}
    net = namespace["CaptioningRNN"](words, input_dim=3, wordvec_dim=2, hidden_dim=2, cell_type="rnn", dtype=np.float64)
    net.params = {k: rng.normal(size=v.shape) for k, v in net.params.items()}
    features, captions = rng.normal(size=(2, 3)), np.array([[1, 3, 0, 0], [1, 2, 3, 0]])
    loss, grads = net.loss(features, captions)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    h = torch.tensor(features) @ t["W_proj"] + t["b_proj"]
    total = 0
    for step in range(3):
        h = torch.tanh(t["W_embed"][torch.tensor(captions[:, step])] @ t["Wx"] + h @ t["Wh"] + t["b"])
        each = F.cross_entropy(h @ t["W_vocab"] + t["b_vocab"], torch.tensor(captions[:, step + 1]), reduction="none")
        total = total + (each * torch.tensor(captions[:, step + 1] != 0, dtype=torch.float64)).sum()
    (total / 2).backward()
    return bool(np.isclose(loss, (total / 2).item())) and np.allclose(grads["W_vocab"], t["W_vocab"].grad.numpy(), rtol=1e-9)


def test_a_captioning_rnn_that_counts_the_null_words_loses_its_item_alone(tmp_path):
    assert CAPTIONING.count(NO_MASK[0]) == 1
    buggy = CAPTIONING.replace(*NO_MASK)
    assert _captioning_verdict(CAPTIONING) and not _captioning_verdict(buggy)
    result = _graded(tmp_path, "cs231n-a3", "captioning_rnn", "rnn", **{"classifiers/rnn": buggy})
    assert {r.item.name: r.cause for r in result.items if not r.passed} == {"captioning_rnn": Cause.MISMATCH}


#: LinearClassifier.train as students write it: a step up the gradient, or batches without replacement (right).
TRAIN = MODULES["cs231n-a1"]["classifiers/linear_classifier"]
ASCENT = ("            self.W -= learning_rate * grad\n", "            self.W += learning_rate * grad\n")
NO_REPLACEMENT = ("np.random.choice(num_train, batch_size)", "np.random.choice(num_train, batch_size, replace=False)")


def _train_verdict(source: str) -> bool:
    """Three steps of LinearSVM().train against torch autograd's SVM loss on the same batches, drawn
    here from the same seed (with replacement, or without when the source says so)."""
    namespace: dict = {}
    code = source.replace("from .linear_svm import *", "from gradverify.impl.layers import *").replace(
        "from .softmax import *", ""
    )
    exec(compile(code, "linear_classifier.py", "exec"), namespace)  # noqa: S102
    rng = np.random.default_rng(7)
    X, y, reg, lr = rng.normal(size=(5, 3)), np.array([0, 1, 2, 1, 2]), 0.5, 0.1
    np.random.seed(11)
    svm = namespace["LinearSVM"]()
    history = svm.train(X, y, learning_rate=lr, reg=reg, num_iters=3, batch_size=4)
    state = np.random.RandomState(11)
    w = torch.tensor(0.001 * state.randn(3, 3), requires_grad=True)
    losses = []
    for _ in range(3):
        rows = state.choice(5, 4, replace="replace=False" not in source)
        scores = torch.tensor(X[rows]) @ w
        value = F.multi_margin_loss(scores, torch.tensor(y[rows]), margin=1.0) * 3 + reg * (w**2).sum()
        (grad,) = torch.autograd.grad(value, [w])
        losses.append(value.item())
        w = (w - lr * grad).detach().requires_grad_(True)
    return np.allclose(history, losses, rtol=1e-9) and np.allclose(svm.W, w.detach().numpy(), rtol=1e-9)


@pytest.mark.parametrize("change,loses", [(ASCENT, {"linear_classifier_train"}), (NO_REPLACEMENT, set())])
def test_linear_classifier_train_is_held_to_the_replayed_stream_either_batch_draw_accepted(change, loses, tmp_path):
    assert TRAIN.count(change[0]) == 1
    source = TRAIN.replace(*change)
    assert _train_verdict(TRAIN) and _train_verdict(source) == (not loses)
    result = _graded(
        tmp_path, "cs231n-a1", "linear_classifier_train", "svm_loss_vectorized", **{"classifiers/linear_classifier": source}
    )
    assert {r.item.name for r in result.items if not r.passed} == loses


def test_dropout_inside_the_class_is_checked_with_the_student_s_own_masks(tmp_path):
    """The mask not applied in backward costs the model item on a case with dropout; the dropout
    item, whose function the class calls right, holds."""
    sources = {"classifiers/fc_net": _variant("dropout_mask_not_applied_in_backward")}
    result = _graded(tmp_path, "cs231n-a2", "fully_connected_net", "dropout", **sources)
    lost = {r.item.name: r for r in result.items if not r.passed}
    assert set(lost) == {"fully_connected_net"}
    assert "dropout_keep_ratio=0.5, seed=55" in lost["fully_connected_net"].details[0]
