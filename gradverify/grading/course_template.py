"""The handout of a course rubric: the skeleton a student starts from, each function the rubric
grades a stub (`gradverify template --rubric cs231n-a2 DIR`).

    files = handout(load_rubric("cs231n-a2"), "cs231n-a2")   # {"cs231n/layers.py": text, …}

A handout module is made from a module of the model solution (impl/layers.py for
cs231n/layers.py, and for cs231n/classifiers/softmax.py, of which it holds the softmax losses), read as text: each function one of the rubric's items checks keeps its
signature and docstring (the contract: shapes, the parameter dict) and its body becomes
`raise NotImplementedError`; a function the course gives (CS231n's `sgd`, `temporal_affine_*`)
stays whole; everything else (the model solution's helpers, the ops the course does not have)
is left out. Graded as it is, a handout scores 0: every item is "not implemented".
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from gradverify.grading.kinds import item_property
from gradverify.grading.rubric import Rubric
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.references.model_spec import MODELS

IMPL = Path(__file__).resolve().parents[2] / "impl"


@dataclass(frozen=True)
class Module:
    """One module of a handout, made from the model solution's module `source` (impl/<source>.py)."""

    source: str
    #: the functions it holds that the course gives (the students do not write)
    given: tuple[str, ...] = ()
    #: the graded functions it holds (None: every one its source defines)
    only: tuple[str, ...] | None = None
    #: imports the handout's module has beyond NumPy's (fc_net.py's `from ..layers import *`)
    imports: str = ""
    #: every name of `only` is the student's to write, a stub, whatever the rubric's items name
    #: (MyTorch's items call the adapter's functions; CS231n's train item names LinearSVM, whose
    #: LinearClassifier.train the student writes)
    classes: bool = False
    #: the methods of a stubbed class the handout gives whole (RNNPhonemeClassifier's __init__
    #: and init_weights): the student writes the others
    given_methods: tuple[str, ...] = ()


@dataclass(frozen=True)
class Handout:
    """A course's package as handed out: its folder, and each module by its path in the package."""

    package: str
    #: path in the package ("classifiers/softmax") -> the module; a path from "/" is beside the
    #: package ("/models/mlp": MyTorch's models/ folder, beside mytorch/)
    modules: dict[str, Module]
    header: str


CS231N_HEADER = '''"""CS231n {module}.py: implement the functions below, as the assignment's notebooks describe.

Graded by gradverify ({rubric}): each function against JAX, PyTorch and finite differences
of your own forward, on random shapes; a function left as `raise NotImplementedError` costs only
its own item. Do not modify your inputs.
"""
'''

MYTORCH_HEADER = '''"""MyTorch {module}.py: implement the classes below, as the homework's writeup describes.

Graded by gradverify ({rubric}): each class against JAX, PyTorch and finite differences of your
own forward, on random shapes, through the attributes the writeup names (dLdW, dLdb, …); a
class left as `raise NotImplementedError` costs only its own item. Do not modify your inputs.
"""
'''


def _mytorch(
    path: str, *names: str, imports: str = "", given: tuple[str, ...] = (), given_methods: tuple[str, ...] = ()
) -> Module:
    """A module of the MyTorch handout, made from impl/mytorch/<path>.py: `names` stubbed (but
    their `given_methods`), `given` whole, the handout's absolute imports (the model solution's
    are relative)."""
    imported = f"\n{imports}\n" if imports else ""
    return Module(f"mytorch/{path}", given=given, only=names, imports=imported, classes=True, given_methods=given_methods)


#: HW1P1's classes the later homeworks' models build on, given whole in their handouts (the
#: course has students copy in their own HW1P1 code).
HW1_GIVEN = {
    "nn/activation": _mytorch("nn/activation", given=("ReLU", "Sigmoid", "Tanh", "GELU", "Softmax")),
    "nn/linear": _mytorch("nn/linear", given=("Linear",)),
    "nn/loss": _mytorch("nn/loss", given=("MSELoss", "CrossEntropyLoss"), imports="from mytorch.nn.activation import Softmax"),
}

#: fc_net.py's import of the student's layers, as the handout has it.
FC_NET_IMPORTS = "\nfrom ..layers import *  # noqa: F401,F403 - the handout's own import\n"

#: classifiers/cnn.py's imports, as the handout has them: the layers, and the given fast_layers and
#: layer_utils (in a grade the cs231n adapter serves both; the template does not write them).
CNN_IMPORTS = (
    "\nfrom ..layers import *  # noqa: F401,F403 - the handout's own imports\n"
    "from ..fast_layers import *  # noqa: F401,F403\nfrom ..layer_utils import *  # noqa: F401,F403\n"
)

#: classifiers/linear_classifier.py's imports of the classifiers' losses, as the handout has them.
CLASSIFIER_IMPORTS = (
    "\nfrom .linear_svm import *  # noqa: F401,F403 - the handout's own imports\nfrom .softmax import *  # noqa: F401,F403\n"
)

#: classifiers/rnn.py's import of the student's recurrent layers, as the handout has it.
RNN_IMPORTS = "\nfrom ..rnn_layers import *  # noqa: F401,F403 - the handout's own import\n"

#: The handout of each shipped course rubric, by the rubric's name (rubric.SHIPPED_RUBRICS).
HANDOUTS: dict[str, Handout] = {
    "cs231n-a1": Handout(
        "cs231n",
        {
            "classifiers/linear_svm": Module("layers", only=("svm_loss_naive", "svm_loss_vectorized")),
            "classifiers/softmax": Module("layers", only=("softmax_loss_naive", "softmax_loss_vectorized")),
            "layers": Module(
                "layers",
                only=(*("affine_forward", "affine_backward", "relu_forward", "relu_backward"), "svm_loss", "softmax_loss"),
            ),
            "classifiers/linear_classifier": Module(
                "linear_classifier",
                only=("LinearClassifier",),
                given=("LinearSVM", "Softmax"),
                imports=CLASSIFIER_IMPORTS,
                classes=True,  # the item builds LinearSVM; the student writes LinearClassifier.train
            ),
            "classifiers/fc_net": Module("fc_net", only=("TwoLayerNet",), imports=FC_NET_IMPORTS),
        },
        CS231N_HEADER,
    ),
    "cs231n-a2": Handout(
        "cs231n",
        {
            "layers": Module("layers"),
            "optim": Module("optim", given=("sgd",)),
            "classifiers/fc_net": Module("fc_net", only=("FullyConnectedNet",), imports=FC_NET_IMPORTS),
            "classifiers/cnn": Module("cnn", only=("ThreeLayerConvNet",), imports=CNN_IMPORTS),
        },
        CS231N_HEADER,
    ),
    "mytorch-hw1": Handout(
        "mytorch",
        {
            "nn/activation": _mytorch("nn/activation", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax"),
            "nn/linear": _mytorch("nn/linear", "Linear"),
            "nn/loss": _mytorch("nn/loss", "MSELoss", "CrossEntropyLoss", imports="from mytorch.nn.activation import Softmax"),
            "nn/batchnorm": _mytorch("nn/batchnorm", "BatchNorm1d"),
            "optim/sgd": _mytorch("optim/sgd", "SGD"),
            "/models/mlp": _mytorch(
                "models/mlp",
                "MLP0",
                "MLP1",
                "MLP4",
                imports="from mytorch.nn.activation import ReLU\nfrom mytorch.nn.linear import Linear",
            ),
        },
        MYTORCH_HEADER,
    ),
    "mytorch-hw2": Handout(
        "mytorch",
        {
            **HW1_GIVEN,
            "resampling": _mytorch("resampling", "Upsample1d", "Downsample1d", "Upsample2d", "Downsample2d"),
            "flatten": _mytorch("flatten", "Flatten"),
            "ConvTranspose": _mytorch(
                "ConvTranspose",
                "ConvTranspose1d",
                "ConvTranspose2d",
                imports="from mytorch.Conv1d import Conv1d_stride1\nfrom mytorch.Conv2d import Conv2d_stride1\n"
                "from mytorch.resampling import Upsample1d, Upsample2d",
            ),
            "Conv1d": _mytorch("Conv1d", "Conv1d_stride1", "Conv1d", imports="from mytorch.resampling import Downsample1d"),
            "Conv2d": _mytorch("Conv2d", "Conv2d_stride1", "Conv2d", imports="from mytorch.resampling import Downsample2d"),
            "pool": _mytorch(
                "pool",
                *("MaxPool2d_stride1", "MaxPool2d", "MeanPool2d_stride1", "MeanPool2d"),
                imports="from mytorch.resampling import Downsample2d",
            ),
            "/models/cnn": _mytorch(
                "models/cnn",
                "CNN",
                given_methods=("zero_grads", "step", "train", "eval"),
                imports="from mytorch.Conv1d import Conv1d\nfrom mytorch.flatten import Flatten\nfrom mytorch.nn.linear import Linear",
            ),
        },
        MYTORCH_HEADER,
    ),
    "mytorch-hw3": Handout(
        "mytorch",
        {
            **HW1_GIVEN,
            "rnn_cell": _mytorch("rnn_cell", "RNNCell", imports="from mytorch.nn.activation import Tanh"),
            "gru_cell": _mytorch("gru_cell", "GRUCell", imports="from mytorch.nn.activation import Sigmoid, Tanh"),
            "/models/rnn_classifier": _mytorch(
                "models/rnn_classifier",
                "RNNPhonemeClassifier",
                given_methods=("__init__", "init_weights", "__call__"),
                imports="from mytorch.nn.linear import Linear\nfrom mytorch.rnn_cell import RNNCell",
            ),
        },
        MYTORCH_HEADER,
    ),
    "cs231n-a3": Handout(
        "cs231n",
        {
            "rnn_layers": Module(
                "rnn_layers", given=("temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss")
            ),
            "classifiers/rnn": Module(
                "captioning_rnn", only=("CaptioningRNN",), imports=RNN_IMPORTS, given_methods=("__init__",)
            ),
        },
        CS231N_HEADER,
    ),
}


def graded_functions(rubric: Rubric) -> set[str]:
    """The student's functions and classes the rubric's items check (an op's alternative backwards
    too; a model item's class, not the adapter's model_loss)."""
    names: set[str] = set()
    for item in rubric.items:
        if item.check == "model" and item.target in MODELS:
            names.add(MODELS[item.target].cls)
            continue
        names.update(item_property(item.check, item.target).functions)
        if item.check == "layer" and item.target in LAYER_OPS:
            names.update(LAYER_OPS[item.target].backwards)
    return names


def stub_module(
    source: str, stubs: set[str], given: tuple[str, ...], header: str, imports: str = "", given_methods: tuple[str, ...] = ()
) -> str:
    """`source` with only the functions and classes of `stubs` (a function's signature and
    docstring, then `raise NotImplementedError`; a class's line and docstring, then each public
    method and __init__ so stubbed, but its `given_methods`, whole) and of `given` (whole), after
    `header`, NumPy's import and `imports`."""
    tree = ast.parse(source)
    lines = source.splitlines()
    parts = [header, "import numpy as np\n" + imports]
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name not in (*stubs, *given):
            continue
        assert node.end_lineno is not None
        if node.name in given:
            parts.append("\n".join(lines[_start(node) : node.end_lineno]) + "\n")
        elif isinstance(node, ast.FunctionDef):
            parts.append(_stub(node, lines))
        else:
            parts.append(_stub_class(node, lines, given_methods))
    return "\n\n".join(parts)


def _start(node: ast.FunctionDef | ast.ClassDef) -> int:
    return node.lineno - 1 if not node.decorator_list else node.decorator_list[0].lineno - 1


def _docstring(node: ast.FunctionDef | ast.ClassDef, indent: str, said: list[str]) -> list[str]:
    doc = [f'{indent}"""{said[0]}', *(f"{indent}{line}" if line else "" for line in said[1:])] if said else []
    if doc:
        doc[-1] += '"""'
    return doc


def _stub(node: ast.FunctionDef, lines: list[str]) -> str:
    """A function's signature and contract, then `raise NotImplementedError`."""
    indent = " " * node.body[0].col_offset
    signature = lines[_start(node) : node.body[0].lineno - 1]
    said = contract(ast.get_docstring(node) or "")
    return "\n".join([*signature, *_docstring(node, indent, said), f"{indent}raise NotImplementedError"]) + "\n"


def _stub_class(node: ast.ClassDef, lines: list[str], given: tuple[str, ...] = ()) -> str:
    """A class's line and docstring (whole: it says what the class holds, not how), then
    __init__ and each public method stubbed, but the methods the handout gives (`given`), whole;
    its private helpers left out."""
    indent = " " * node.body[0].col_offset
    said = (ast.get_docstring(node) or "").splitlines()
    head = "\n".join([*lines[_start(node) : node.lineno], *_docstring(node, indent, said)])
    methods = [
        "\n".join(lines[_start(member) : member.end_lineno]) + "\n" if member.name in given else _stub(member, lines)
        for member in node.body
        if isinstance(member, ast.FunctionDef)
        and (member.name in given or member.name == "__init__" or not member.name.startswith("_"))
    ]
    return "\n".join([head, "", *methods]).rstrip("\n") + "\n"


#: A line of a docstring that states a contract: "dout: (N, M)  ->  dx …", "x: (N, D), gamma, …",
#: or MyTorch's "A (N, C0) -> Z (N, C1) …".
_CONTRACT = re.compile(r"^[A-Za-z_]\w*(, [A-Za-z_]\w*)*(: | \()", re.ASCII)


def contract(docstring: str) -> list[str]:
    """The lines of a model solution's docstring that a stub keeps: its last paragraph from its
    first line that names the arguments (the shapes in and out, the parameter dict's keys);
    the formulas above it are the answer, and stay out."""
    last = docstring.strip().split("\n\n")[-1].splitlines()
    first = next((i for i, line in enumerate(last) if _CONTRACT.match(line.strip())), None)
    return [] if first is None else [line.strip() for line in last[first:]]


def handout(rubric: Rubric, name: str) -> dict[str, str]:
    """The handout of the shipped course rubric `name`: {relative path: text}; KeyError when the
    rubric has none."""
    course = HANDOUTS[name]
    graded = graded_functions(rubric)
    files = {f"{course.package}/__init__.py": ""}
    for path, module in course.modules.items():
        base, relative = ("", path[1:]) if path.startswith("/") else (f"{course.package}/", path)
        folder = relative.rpartition("/")[0]
        if folder:  # a subpackage (cs231n/classifiers/), imported as on the student's machine
            files[f"{base}{folder}/__init__.py"] = ""
        source = (IMPL / f"{module.source}.py").read_text(encoding="utf-8")
        stubs = set(module.only or ()) if module.classes else graded if module.only is None else graded & set(module.only)
        header = course.header.format(module=relative, rubric=name)
        files[f"{base}{relative}.py"] = stub_module(source, stubs, module.given, header, module.imports, module.given_methods)
    return files
