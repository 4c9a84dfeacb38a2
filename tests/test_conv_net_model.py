"""CS231n's ThreeLayerConvNet as a `model` item (cs231n-a2's three_layer_conv_net), and the given
modules the cs231n adapter serves for it: fast_layers and layer_utils in NumPy.

The claims: the adapter's fast convolution and pool are torch's, on strides, pads and windows the
item does not draw; the model solution (impl/cnn.py) agrees with torch autograd outside the
grader, and in the handout's form (its sandwich layers from layer_utils) earns the item; each
buggy class below disagrees with torch outside the grader and loses its item alone; a handin that
holds the handout's own fast_layers.py (whose backward needs a Cython extension the sandbox has
not) and layer_utils.py earns it too.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradverify.references.compare import Cause
from gradverify.sandbox.worker import import_adapter
from tests.test_course_cs231n import CNN_NET, IMPL, MODULES, _package
from tests.test_grade_models import _item_rubric

ADAPTER = Path(__file__).resolve().parents[1] / "gradverify" / "grading" / "adapters" / "cs231n.py"
SOLUTION = (IMPL / "cnn.py").read_text()

#: Each buggy ThreeLayerConvNet: (the text replaced, once, in cnn.py; the new text).
BUGGY = {
    "reg_loss_without_its_half": ("        loss += 0.5 * self.reg * sum(", "        loss += self.reg * sum("),
    "W3_gradient_without_reg": (
        '        for key in ("W1", "W2", "W3"):\n            grads[key] = grads[key] + self.reg',
        '        for key in ("W1", "W2"):\n            grads[key] = grads[key] + self.reg',
    ),
}


def _variant(source: str, name: str | None) -> str:
    if name is None:
        return source
    old, new = BUGGY[name]
    assert source.count(old) == 1, name
    return source.replace(old, new)


@pytest.fixture(scope="module")
def adapter():
    """The cs231n adapter imported here over an empty module, then taken out of sys.modules again
    (the grader's process keeps no `student`; its fast layers need none)."""
    import sys
    import types

    names = ("student", "cs231n_adapter_under_test")
    saved = {name: sys.modules.get(name) for name in names}
    try:
        yield import_adapter(str(ADAPTER), types.ModuleType("submission"), name=names[1])
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def test_the_adapter_s_fast_convolution_is_torch_s(adapter):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    out, cache = adapter.conv_forward_fast(x, w, b, {"stride": 2, "pad": 1})
    dout = rng.normal(size=out.shape)
    dx, dw, db = adapter.conv_backward_fast(dout, cache)
    t = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ref = F.conv2d(*t, stride=2, padding=1)
    ref.backward(torch.tensor(dout))
    assert np.allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, tensor in zip((dx, dw, db), t):
        assert np.allclose(ours, tensor.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size,stride", [(2, 2), (3, 1), (2, 3)])
def test_the_adapter_s_fast_max_pool_is_torch_s(adapter, size, stride):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 2, 7, 8))
    param = {"pool_height": size, "pool_width": size, "stride": stride}
    out, cache = adapter.max_pool_forward_fast(x, param)
    dout = rng.normal(size=out.shape)
    t = torch.tensor(x, requires_grad=True)
    ref = F.max_pool2d(t, size, stride)
    ref.backward(torch.tensor(dout))
    assert np.allclose(out, ref.detach().numpy()) and np.allclose(adapter.max_pool_backward_fast(dout, cache), t.grad.numpy())


def _torch_verdict(source: str) -> bool:
    """Whether the class's loss and every gradient are torch autograd's of the same network, at one
    case (two images of 2 channels, 4 × 6, three 3 × 3 filters, reg 0.3): outside the grader."""
    namespace: dict = {}
    code = re.sub(r"from \.layers import", "from gradverify.impl.layers import", source)
    exec(compile(code, "cnn.py", "exec"), namespace)  # noqa: S102 - our own variants
    rng = np.random.default_rng(2)
    net = namespace["ThreeLayerConvNet"](input_dim=(2, 4, 6), num_filters=3, filter_size=3, hidden_dim=5, num_classes=3, reg=0.3)
    net.params = {k: rng.normal(size=v.shape) for k, v in net.params.items()}
    net.dtype = np.float64
    X, y = rng.normal(size=(2, 2, 4, 6)), np.array([0, 2])
    loss, grads = net.loss(X.copy(), y.copy())
    t = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    h = F.max_pool2d(torch.relu(F.conv2d(torch.tensor(X), t["W1"], t["b1"], padding=1)), 2, 2).flatten(1)
    value = F.cross_entropy(torch.relu(h @ t["W2"] + t["b2"]) @ t["W3"] + t["b3"], torch.tensor(y))
    total = value + 0.5 * 0.3 * sum((t[k] ** 2).sum() for k in ("W1", "W2", "W3"))
    total.backward()
    same = bool(np.isclose(loss, total.item(), rtol=1e-9))
    return same and all(np.allclose(grads[k], t[k].grad.numpy(), rtol=1e-9, atol=1e-12) for k in t)


def test_the_model_solution_agrees_with_torch_autograd_outside_the_grader():
    assert _torch_verdict(SOLUTION)


@pytest.mark.parametrize("name", BUGGY)
def test_each_buggy_class_disagrees_with_torch_autograd_outside_the_grader(name):
    assert not _torch_verdict(_variant(SOLUTION, name))


def _graded(tmp_path: Path, **sources: str):
    from gradverify.grading import items

    folder = _package(tmp_path, {**MODULES["cs231n-a2"], **sources})
    return items.grade_file(folder, _item_rubric("three_layer_conv_net", "conv", "fully_connected_net", rubric="cs231n-a2"))


@pytest.mark.parametrize("name", [None, *BUGGY])
def test_the_handout_s_class_earns_its_item_and_each_bug_loses_it_alone(name, tmp_path):
    result = _graded(tmp_path, **{"classifiers/cnn": _variant(CNN_NET, name)})
    lost = {r.item.name: r.cause for r in result.items if not r.passed}
    assert lost == ({} if name is None else {"three_layer_conv_net": Cause.MISMATCH})


def test_a_failure_names_the_class_s_loss_and_its_smallest_case(tmp_path):
    result = _graded(tmp_path, **{"classifiers/cnn": _variant(CNN_NET, "W3_gradient_without_reg")})
    (failed,) = [r for r in result.items if not r.passed]
    assert failed.failed_at == 'torch · ThreeLayerConvNet.loss grads["W3"]'
    assert "Smallest failing case: ThreeLayerConvNet(input_dim=(1, 2, 2), num_filters=1, filter_size=1" in "\n".join(
        failed.details
    )


#: The handout's given modules as a handin may hold them: a fast_layers.py whose backward needs the
#: compiled extension (absent, as in the sandbox) and a layer_utils.py that star-imports it.
HANDOUT_FAST_LAYERS = """try:
    from .im2col_cython import col2im_6d_cython
except ImportError:
    print("You will need to compile a Cython extension for a portion of this assignment.")


def conv_forward_fast(x, w, b, conv_param):
    raise NameError("name 'col2im_6d_cython' is not defined")


conv_backward_fast = max_pool_forward_fast = max_pool_backward_fast = conv_forward_fast
"""
HANDOUT_LAYER_UTILS = """from .layers import *
from .fast_layers import *


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    conv_cache, relu_cache, pool_cache = cache
    da = relu_backward(max_pool_backward_fast(dout, pool_cache), relu_cache)
    return conv_backward_fast(da, conv_cache)


def affine_relu_forward(x, w, b):
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


# the student's own sandwich layers (the handout's optional block)
own_conv_relu_pool_forward, own_conv_relu_pool_backward = conv_relu_pool_forward, conv_relu_pool_backward
"""


def test_a_handin_with_the_handout_s_own_fast_layers_and_layer_utils_earns_the_item(tmp_path):
    """The grader's fast_layers replace the handout's (which cannot run here); the student's own
    layer_utils is kept (the class calls a sandwich only it defines) and runs on them; fc_net.py's
    import of layer_utils, as the handout has it, works."""
    fc_net = MODULES["cs231n-a2"]["classifiers/fc_net"].replace(
        "from ..layers import *", "from ..layers import *  # noqa: F403\nfrom ..layer_utils import *  # noqa: F403", 1
    )
    cnn = CNN_NET.replace("conv_relu_pool_", "own_conv_relu_pool_")
    assert cnn.count("own_conv_relu_pool_") == 2 + 1  # the forward, the backward, the docstring
    sources = {"fast_layers": HANDOUT_FAST_LAYERS, "layer_utils": HANDOUT_LAYER_UTILS, "classifiers/fc_net": fc_net}
    sources["classifiers/cnn"] = cnn
    result = _graded(tmp_path, **sources)
    assert [r.item.name for r in result.items if not r.passed] == []
