"""The shipped CS231n course rubrics (cs231n-a2, cs231n-a3) on submissions as students hand them
in: collectSubmission's zip of the cs231n/ package, a folder, the handout untouched.

The claims: the model solution in the handout's layout earns every point; the handout (`gradverify
template --rubric …`) earns none, every item "not implemented"; a bug in one function of one
module loses that function's item and no other; the adapter maps nothing the course lacks.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from gradverify.cli import main
from gradverify.grading import items
from gradverify.grading.feedback import render_submission
from gradverify.grading.course_template import HANDOUTS, graded_functions, handout, stub_module
from gradverify.grading.rubric import SHIPPED_RUBRICS, Item, load_rubric
from gradverify.references.compare import Cause
from tests.layer_variants import BUGGY
from tests.layer_variants.optim import SOURCE as OPTIM_SOURCE
from tests.layer_variants.optim import VARIANTS as OPTIM_VARIANTS
from tests.variants.variant import patched

IMPL = Path(__file__).resolve().parents[1] / "impl"
LAYERS = (IMPL / "layers.py").read_text()
A1_LAYERS = ("affine_forward", "affine_backward", "relu_forward", "relu_backward")
#: impl/cnn.py as the handout's classifiers/cnn.py: its three star imports and the given sandwich
#: layers (conv_relu_pool_forward, affine_relu_forward: the adapter serves layer_utils and
#: fast_layers, which collectSubmission's zip does not hold) where the model solution calls the
#: naive layers one by one.
CNN_SANDWICHES = {
    r"from \.layers import \([^)]*\)": "from ..layers import *  # noqa: F403\nfrom ..fast_layers import *  # noqa: F403\n"
    "from ..layer_utils import *  # noqa: F403",
    r"        conv, conv_cache = conv_forward_naive.*\n(.*\n){3}        hidden, relu2 = relu_forward\(hidden\)\n": (
        '        pool, cache1 = conv_relu_pool_forward(X, p["W1"], p["b1"], conv_param, pool_param)\n'
        '        hidden, cache2 = affine_relu_forward(pool, p["W2"], p["b2"])\n'
    ),
    r"        dpool, grads\[\"W2\"\].*\n.*\n.*conv_backward_naive.*\n": (
        '        dpool, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, cache2)\n'
        '        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpool, cache1)\n'
    ),
}


def _sandwiched(text: str) -> str:
    for pattern, new in CNN_SANDWICHES.items():
        text, count = re.subn(pattern, lambda _, new=new: new, text)
        assert count == 1, pattern
    return text


CNN_NET = _sandwiched((IMPL / "cnn.py").read_text())

#: impl/fc_net.py as the handout's classifiers/fc_net.py: `from ..layers import *`, the package's
#: layers (assignment 1's have no batchnorm, which TwoLayerNet never calls).
FC_NET = re.sub(r"from \.layers import \([^)]*\)", "from ..layers import *  # noqa: F403", (IMPL / "fc_net.py").read_text())
#: Each rubric's modules of the cs231n package, by path, as the model solution writes them: the
#: model solution's module, or (assignment 1's classifiers) the functions of it that module holds.
MODULES = {
    "cs231n-a1": {
        "layers": stub_module(LAYERS, set(), (*A1_LAYERS, "svm_loss", "softmax_loss"), ""),
        "classifiers/linear_svm": stub_module(LAYERS, set(), ("svm_loss", "svm_loss_naive", "svm_loss_vectorized"), ""),
        "classifiers/softmax": stub_module(LAYERS, set(), ("softmax_loss", "softmax_loss_naive", "softmax_loss_vectorized"), ""),
        "classifiers/fc_net": FC_NET,
        "classifiers/linear_classifier": (IMPL / "linear_classifier.py")
        .read_text()
        .replace(
            "from .layers import softmax_loss_vectorized, svm_loss_vectorized",
            "from .linear_svm import *  # noqa: F403\nfrom .softmax import *  # noqa: F403",
        ),
    },
    "cs231n-a2": {
        "layers": LAYERS,
        "optim": (IMPL / "optim.py").read_text(),
        "classifiers/fc_net": FC_NET,
        "classifiers/cnn": CNN_NET,
    },
    "cs231n-a3": {
        "rnn_layers": (IMPL / "rnn_layers.py").read_text(),
        "classifiers/rnn": re.sub(
            r"from \.rnn_layers import \([^)]*\)",
            "from ..rnn_layers import *  # noqa: F403",
            (IMPL / "captioning_rnn.py").read_text(),
        ),
    },
}


def _rubric(name: str):
    import dataclasses

    return dataclasses.replace(load_rubric(name), seed=0)


def _package(folder: Path, sources: dict[str, str]) -> Path:
    """A cs231n/ package as the student's machine has it: the modules, __init__.py, and a
    classifier that imports the layers relatively, as fc_net.py does."""
    (folder / "cs231n" / "classifiers").mkdir(parents=True)
    (folder / "cs231n" / "__init__.py").write_text("")
    (folder / "cs231n" / "classifiers" / "__init__.py").write_text("")
    (folder / "cs231n" / "classifiers" / "fc_net.py").write_text(
        "from ..layers import *\n\n\nclass FullyConnectedNet:\n    pass\n"
    )
    for module, text in sources.items():
        (folder / "cs231n" / f"{module}.py").write_text(text)
    return folder


def _model(name: str) -> dict[str, str]:
    return dict(MODULES[name])


def _zip(folder: Path, target: Path) -> Path:
    """collectSubmission's zip: the package's files under cs231n/."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*.py")):
            archive.write(path, path.relative_to(folder).as_posix())
    return target


def _lost(result) -> dict[str, Cause | None]:
    return {r.item.name: r.cause for r in result.items if not r.passed}


def test_every_shipped_course_rubric_has_a_handout():
    assert set(SHIPPED_RUBRICS) == set(HANDOUTS)
    assert {name for name in SHIPPED_RUBRICS if name.startswith("cs231n")} == set(MODULES)


def test_the_model_solution_zipped_as_collect_submission_does_earns_full_marks_of_a2(tmp_path):
    folder = _package(tmp_path / "student", _model("cs231n-a2"))
    result = items.grade_file(_zip(folder, tmp_path / "a2.zip"), _rubric("cs231n-a2"))
    assert _lost(result) == {}
    assert result.score == result.max_score == 74


def test_the_model_solution_zipped_earns_full_marks_of_a1_from_three_modules(tmp_path):
    folder = _package(tmp_path / "student", _model("cs231n-a1"))
    result = items.grade_file(_zip(folder, tmp_path / "a1.zip"), _rubric("cs231n-a1"))
    assert _lost(result) == {}
    assert result.score == result.max_score == 41


def test_a1_as_loose_files_takes_each_classifier_from_its_own_file(tmp_path):
    """linear_svm.py and softmax.py beside layers.py, no package: each function from its file."""
    for module, text in _model("cs231n-a1").items():  # each imports the others beside it
        loose = text.replace("from ..layers import *", "from layers import *").replace("from .linear_svm", "from linear_svm")
        (tmp_path / f"{module.rpartition('/')[2]}.py").write_text(loose.replace("from .softmax", "from softmax"))
    softmax, shift = MODULES["cs231n-a1"]["classifiers/softmax"], "        scores = scores - scores.max()\n"
    assert softmax.count(shift) == 1
    (tmp_path / "softmax.py").write_text(softmax.replace(shift, ""))  # naive's e^s overflows
    result = items.grade_file(tmp_path, _rubric("cs231n-a1"))
    assert _lost(result) == {"softmax_loss_naive": Cause.NAN}
    assert f"gradverify grade --rubric cs231n-a1 --package {tmp_path} --seed 0`." in render_submission(result)


def test_the_model_solution_as_a_folder_earns_full_marks_of_a3_importing_its_package(tmp_path):
    """rnn_layers.py imports from the package relatively and absolutely, as a student's may."""
    sources = _model("cs231n-a3")
    imports = "from .layers import affine_forward  # noqa: F401\nfrom cs231n.layers import relu_forward  # noqa: F401\n"
    sources["rnn_layers"] = sources["rnn_layers"].replace("import numpy as np\n", "import numpy as np\n" + imports, 1)
    sources["layers"] = LAYERS
    result = items.grade_file(_package(tmp_path, sources), _rubric("cs231n-a3"))
    assert _lost(result) == {}
    assert result.score == result.max_score == 31


@pytest.mark.parametrize("name", sorted(HANDOUTS))  # every course rubric, MyTorch's too
def test_the_handout_earns_nothing_each_item_not_implemented(name, tmp_path):
    rubric = _rubric(name)
    for rel, text in handout(rubric, name).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = items.grade_file(tmp_path, rubric)
    assert result.score == 0 and result.max_score == rubric.max_score
    assert set(_lost(result).values()) == {Cause.NOT_IMPLEMENTED}


def test_bugs_in_two_modules_lose_exactly_their_two_items(tmp_path):
    sources = {
        "layers": BUGGY["conv_backward_padding_not_cropped"].source(),
        "optim": patched(OPTIM_SOURCE, "adam_without_bias_correction", OPTIM_VARIANTS["adam_without_bias_correction"][1]),
        "classifiers/fc_net": FC_NET,  # it calls no conv: its item holds
        "classifiers/cnn": CNN_NET,  # it runs the given fast conv, not the naive one: its item holds
    }
    result = items.grade_file(_package(tmp_path, sources), _rubric("cs231n-a2"))
    assert _lost(result) == {"conv": Cause.SHAPE, "adam": Cause.MISMATCH}
    assert result.score == 74 - 8 - 4


def test_a_failure_s_snippet_rebuilds_the_smallest_case_with_the_student_s_own_calls(tmp_path):
    """The cs231n adapter serves the layer functions as the student's own (OWN_FUNCTIONS): the
    conv item's snippet, run beside the buggy layers, gives the dx of the wrong shape it reports,
    and beside the model solution one of x's shape."""
    sources = {"layers": BUGGY["conv_backward_padding_not_cropped"].source(), "classifiers/fc_net": FC_NET}
    result = items.grade_file(_package(tmp_path, sources), _rubric("cs231n-a2"))
    (conv,) = [r for r in result.items if r.item.name == "conv"]
    assert "dx, dw, db = conv_backward_naive(dout, cache)" in conv.reproduce
    for source, same_shape in ((sources["layers"], False), (LAYERS, True)):
        namespace: dict = {}
        exec(compile(source, "layers.py", "exec"), namespace)  # noqa: S102 - our own variants
        exec(compile(conv.reproduce, "cell", "exec"), namespace)  # noqa: S102 - the snippet the grader wrote
        assert (namespace["dx"].shape == namespace["x"].shape) is same_shape
    assert "To run the failing case yourself" in render_submission(result)


def test_the_handout_stubs_what_is_graded_keeps_what_is_given_and_gives_no_formula():
    rubric = _rubric("cs231n-a3")
    text = handout(rubric, "cs231n-a3")["cs231n/rnn_layers.py"]
    namespace: dict = {}
    exec(compile(text, "rnn_layers.py", "exec"), namespace)  # noqa: S102 - our own handout
    defined = {name for name, value in namespace.items() if callable(value) and not name.startswith("__")}
    graded = graded_functions(rubric) - {"CaptioningRNN"}  # in classifiers/rnn.py
    assert graded < defined
    assert defined - graded == {"temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss"}
    assert "gru_step_forward" not in defined and "_sigmoid" not in defined  # not the course's; the solution's helper
    assert "tanh" not in text.split("def temporal_affine_forward")[0]  # no step of the answer above the given code


def test_an_op_the_course_lacks_is_not_mapped_by_the_cs231n_adapter(tmp_path):
    rubric = _rubric("cs231n-a2")
    extra = Item(name="conv1d", title="conv1d", check="layer", points=5.0, target="conv1d")
    import dataclasses

    result = items.grade_file(
        _package(tmp_path, _model("cs231n-a2")), dataclasses.replace(rubric, items=(rubric.items[0], extra))
    )
    assert [r.item.name for r in result.not_mapped] == ["conv1d"] and result.max_score == 4


def test_template_writes_the_handout_and_never_overwrites(tmp_path, capsys):
    assert main(["template", "--rubric", "cs231n-a2", str(tmp_path)]) == 0
    assert (tmp_path / "cs231n" / "layers.py").is_file() and (tmp_path / "cs231n" / "optim.py").is_file()
    before = (tmp_path / "cs231n" / "layers.py").read_text()
    assert main(["template", "--rubric", "cs231n-a2", str(tmp_path)]) == 2
    assert "exists; not overwriting" in capsys.readouterr().err
    assert (tmp_path / "cs231n" / "layers.py").read_text() == before
    assert main(["template", "--rubric", "cs231n-a9", str(tmp_path / "x")]) == 2
