"""CMU 11-785's MyTorch classes as the layer protocol (shipped adapter: `--adapter mytorch`).

For `gradverify verify --impl <handout folder> --adapter mytorch` (the folder holds the course's
`mytorch` package, `mytorch/nn/linear.py`, …: gradverify.loader gives the adapter its classes by
name, `student.Linear`, wherever the package keeps them) and for the course rubrics
`mytorch-hw1`, `-hw2`, `-hw3` (the handed-in package graded in the sandbox: a class the graded
module lacks is found in the first module of its top package that defines it, then of the
handout's `models` package beside it, `_course`). The
classes, as the handouts since 2022 define them (HW1P1, HW2P1, HW3P1), and how each maps onto
CS231n's functions (docs/layers.md) or the MLP protocol's (docs/protocol.md):

    Linear(in_features, out_features)      W (out, in), b (out, 1), set as attributes
        forward(A) -> Z = A·Wᵀ + ι_N·bᵀ      backward(dLdZ) -> dLdA; sets dLdW = dLdZᵀ·A, dLdb = dLdZᵀ·ι_N
        affine: w = Wᵀ, b = b as a column; x reshaped to (N, D) and dx back to x's shape;
        dw = dLdWᵀ, db = dLdb as a vector. dLdW and dLdb are sums over the batch, as CS231n's dw
        and db are (the 1/N is the loss's), so nothing is rescaled.
    ReLU()  forward(Z) -> A;  backward(dLdA) -> dLdZ = dLdA·[A > 0]        relu, as it is
    GELU()  forward(Z) -> A = Z·Φ(Z);  backward(dLdA) -> dLdZ              gelu, as it is
    Downsample1d(k), Upsample1d(k), Downsample2d(k), Upsample2d(k)   forward(A), backward(dLdZ)
        downsample1d, …: k = resample_param's factor, as it is.     Flatten()   flatten, as it is.
    ConvTranspose1d(in, out, kernel_size, upsampling_factor, weight_init_fn, bias_init_fn), and 2d
        an Upsample then a *_stride1 convolution; conv_transpose1d/2d: k = conv_param's factor,
        w and b through the init functions, dw and db from its *_stride1 (square kernels in 2d).
    BatchNorm1d(num_features, alpha=0.9)   BW, Bb (1, D); running_M, running_V (1, D); eps
        forward(Z, eval=False) -> BZ;  backward(dLdBZ) -> dLdZ; sets dLdBW, dLdBb
        batchnorm, train mode: gamma, beta → BW, Bb; bn_param's momentum → alpha (both weigh
        the old average: running = α·running + (1 − α)·batch, biased variance); its eps →
        the layer's eps (an attribute, 1e-8 by default: CS231n's default 1e-5 is set); its running
        averages (zeros when absent, as CS231n's) → running_M, running_V, read back after forward.
    CrossEntropyLoss()  forward(A, Y) -> L = −(1/N)·Σ Y·log softmax(A);  backward() -> (softmax(A) − Y)/N
        softmax_loss: A = x (logits), Y = the one-hot rows of y; the mean over N, as CS231n's.
    Sigmoid(), Tanh(), ReLU(), Softmax()   forward(Z) -> A;  backward(dLdA) -> dLdZ (Softmax: the
        Jacobian's VJP per row)    the protocol's activation and activation_backward, as they are.
    MSELoss()   forward(A, Y) -> L = Σ(A − Y)²/(N·C);  backward() -> 2(A − Y)/(N·C)
        the protocol's loss and loss_backward for mse, as they are.
    MLP0(), MLP1(), MLP4()   self.layers (Linear and ReLU in turn); forward(A0), backward(dLdA)
        model_forward_backward (the `model` items): each Linear given W{i}, b{i} as they are.
    CNN(input_width, num_input_channels, num_channels, kernel_sizes, strides, num_linear_neurons,
        activations, conv_weight_init_fn, bias_init_fn, linear_weight_init_fn, criterion, lr)
        forward(A) -> Z; backward(labels) -> dLdA0, setting self.loss
        model_classify: the student's activations and CrossEntropyLoss; the weights set as the
        attributes the handout names (convolutional_layers[l].conv1d_stride1.W, linear_layer.W).
    RNNPhonemeClassifier(input_size, hidden_size, output_size, num_layers)   self.rnn (RNNCells),
        self.output_layer (Linear); init_weights(rnn_weights, linear_weights); forward(x, h_0) ->
        logits; backward(delta) -> dh_0 / batch_size
        model_recurrent: weights through init_weights; the cells' zero_grad() before backward.
    Conv2d(in_channels, out_channels, kernel_size, stride, padding=0, weight_init_fn, bias_init_fn)
        a Conv2d_stride1 (attribute conv2d_stride1: W (out, in, k, k), b (out,), dLdW, dLdb, sums
        over the batch) then a Downsample2d(stride), over the input zero-padded by `padding`
        conv: w and b given through weight_init_fn and bias_init_fn; stride, pad as they are.
    MaxPool2d(kernel, stride), MeanPool2d(kernel, stride)   a *Pool2d_stride1(kernel) then a Downsample2d(stride)
        max_pool, avg_pool: kernel = pool_height = pool_width; stride as it is.
    Conv1d(in_channels, out_channels, kernel_size, stride, padding=0, weight_init_fn, bias_init_fn)
        as Conv2d, in one dimension (attribute conv1d_stride1: W (out, in, k))
        conv1d: w and b through the init functions; stride, pad as they are.
    RNNCell(input_size, hidden_size)   init_weights(W_ih (H, D), W_hh (H, H), b_ih (H,), b_hh (H,))
        forward(x, h_prev_t) -> h_t = tanh(x·W_ihᵀ + b_ih + h_prev_t·W_hhᵀ + b_hh)
        backward(delta, h_t, h_prev_l, h_prev_t) -> (dx, dh_prev_t); ADDS to dW_ih, dW_hh, db_ih,
        db_hh the gradients AVERAGED over the batch (the handout's "averaged gradients")
        rnn_step: W_ih = Wxᵀ, W_hh = Whᵀ, b_ih = b_hh = b/2 (exact in float64: b/2 + b/2 = b);
        zero_grad() before each backward; dWx = N·dW_ihᵀ, dWh = N·dW_hhᵀ, and, b feeding both
        biases by ½, db = N·(db_ih + db_hh)/2, so a wrong db_hh shows too.
    GRUCell(input_size, hidden_size)   ONE sample: x (D,), h_prev_t (H,); init_weights(Wrx, Wzx,
        Wnx, Wrh, Wzh, Wnh, brx, bzx, bnx, brh, bzh, bnh), each W (H, ·); n = tanh(Wnx·x + bnx +
        r·(Wnh·h + bnh)), torch's form; backward(delta (H,)) -> (dx, dh_prev_t), setting dWrx, …
        gru_step: one cell per sample; W?x = Wx's block ᵀ, W?h = Wh's block ᵀ (blocks r, z, n);
        brx = brh = b_r/2, bzx = bzh = b_z/2, bnx = b_n, bnh = 0 (CS231n's c_n has no bias); the
        gradient attributes set to 0 before each backward; dWx, dWh, db the sums of the samples'
        (db_r = Σ (dbrx + dbrh)/2, db_n = Σ dbnx; dbnh, the gradient of a bias fixed at 0, is
        not compared).

LAYER_CASES declares the cases the classes cannot take: a square kernel and pool only (an int
kernel_size), batchnorm in train mode only (its backward is written for the training
forward's batch statistics; in eval mode there are none), and pad 0 unless the library's
Conv2d or Conv1d takes a `padding` (read from the library when verify imports this file beside
it; a grade reads the declaration of this file imported alone, so it checks pad 0 only: a
handout whose Conv2d has no padding loses nothing for it).
NEEDS names the class each function calls: verify leaves out a function whose class the library
does not define (that op is not in scope), and a grade scores its items "not implemented",
naming the class. Not mapped: dropout, layernorm, svm_loss, the
spatial norms, rnn, lstm, word embeddings and the temporal ops (no MyTorch class computes them;
its Dropout draws its own mask), and Adam and AdamW (HW1P1's bonus).

    SGD(model, lr, momentum)   over model.layers (W, b, dLdW, dLdb); step(): v ← μ·v + dLdW,
        W ← W − lr·v (torch's buffer), or W ← W − lr·dLdW at μ = 0
        sgd, sgd_momentum: a model of one layer (W = w, dLdW = dw); the buffer set from CS231n's
        velocity, v_W = −velocity/lr; the velocity returned is the step it took, next_w − w, which
        is CS231n's v (next_w = w + v) whatever μ, to rounding (one subtraction: within autodiff).
"""

import importlib
import importlib.util
import inspect
import os
import sys
import types

import numpy as np

import student

#: MyTorch's resampling classes (HW2P1), each taking its factor: upsampling_factor, downsampling_factor.
RESAMPLERS = {
    "downsample1d": "Downsample1d",
    "upsample1d": "Upsample1d",
    "downsample2d": "Downsample2d",
    "upsample2d": "Upsample2d",
}

#: The course's class each function calls: a function is mapped only when the library defines it.
NEEDS = {
    "affine_forward": "Linear",
    "affine_backward": "Linear",
    "relu_forward": "ReLU",
    "relu_backward": "ReLU",
    "gelu_forward": "GELU",
    "gelu_backward": "GELU",
    "batchnorm_forward": "BatchNorm1d",
    "batchnorm_backward": "BatchNorm1d",
    "softmax_loss": "CrossEntropyLoss",
    "conv_forward_naive": "Conv2d",
    "conv_backward_naive": "Conv2d",
    "max_pool_forward_naive": "MaxPool2d",
    "max_pool_backward_naive": "MaxPool2d",
    "conv1d_forward": "Conv1d",
    "conv1d_backward": "Conv1d",
    "avg_pool_forward": "MeanPool2d",
    "avg_pool_backward": "MeanPool2d",
    "rnn_step_forward": "RNNCell",
    "rnn_step_backward": "RNNCell",
    "gru_step_forward": "GRUCell",
    "gru_step_backward": "GRUCell",
    "sgd": "SGD",
    "sgd_momentum": "SGD",
    **{f"{op}_{step}": cls for op, cls in RESAMPLERS.items() for step in ("forward", "backward")},
    "flatten_forward": "Flatten",
    "flatten_backward": "Flatten",
    "conv_transpose1d_forward": "ConvTranspose1d",
    "conv_transpose1d_backward": "ConvTranspose1d",
    "conv_transpose2d_forward": "ConvTranspose2d",
    "conv_transpose2d_backward": "ConvTranspose2d",
}

#: A convolution's inputs in MyTorch: A, and W and b as CS231n's w and b are.
CONV_INPUTS = {"x": ("A", ""), "w": ("W", ""), "b": ("b", "")}

#: What a failure's functions and arrays are called in MyTorch, in its orientation
#: (gradverify.grading.course_names): `affine_backward dw[1, 0]` is `Linear.backward dLdW[0, 1]`;
#: each forward's inputs too, for the smallest case's description and the hints' cases.
COURSE_NAMES = {
    "affine_forward": ("Linear.forward", {"out": ("Z", ""), "x": ("A", ""), "w": ("W", "T"), "b": ("b", "col")}),
    "affine_backward": ("Linear.backward", {"dx": ("dLdA", ""), "dw": ("dLdW", "T"), "db": ("dLdb", "col")}),
    "relu_forward": ("ReLU.forward", {"out": ("A", ""), "x": ("Z", "")}),
    "relu_backward": ("ReLU.backward", {"dx": ("dLdZ", "")}),
    "gelu_forward": ("GELU.forward", {"out": ("A", ""), "x": ("Z", "")}),
    "gelu_backward": ("GELU.backward", {"dx": ("dLdZ", "")}),
    "batchnorm_forward": (
        "BatchNorm1d.forward",
        {
            **{
                "out": ("BZ", ""),
                "bn_param['running_mean']": ("running_M", "row"),
                "bn_param['running_var']": ("running_V", "row"),
            },
            **{"x": ("Z", ""), "gamma": ("BW", "row"), "beta": ("Bb", "row")},
        },
    ),
    "batchnorm_backward": ("BatchNorm1d.backward", {"dx": ("dLdZ", ""), "dgamma": ("dLdBW", "row"), "dbeta": ("dLdBb", "row")}),
    "softmax_loss": ("CrossEntropyLoss", {"loss": ("forward's loss", ""), "dx": ("backward's dLdA", ""), "x": ("A", "")}),
    "conv_forward_naive": ("Conv2d.forward", {"out": ("Z", ""), **CONV_INPUTS}),
    "conv_backward_naive": (
        "Conv2d.backward",
        {"dx": ("dLdA", ""), "dw": ("conv2d_stride1.dLdW", ""), "db": ("conv2d_stride1.dLdb", "")},
    ),
    "conv1d_forward": ("Conv1d.forward", {"out": ("Z", ""), **CONV_INPUTS}),
    "conv_transpose1d_forward": ("ConvTranspose1d.forward", {"out": ("Z", ""), **CONV_INPUTS}),
    "conv_transpose1d_backward": (
        "ConvTranspose1d.backward",
        {"dx": ("dLdA", ""), "dw": ("conv1d_stride1.dLdW", ""), "db": ("conv1d_stride1.dLdb", "")},
    ),
    "conv_transpose2d_forward": ("ConvTranspose2d.forward", {"out": ("Z", ""), **CONV_INPUTS}),
    "conv_transpose2d_backward": (
        "ConvTranspose2d.backward",
        {"dx": ("dLdA", ""), "dw": ("conv2d_stride1.dLdW", ""), "db": ("conv2d_stride1.dLdb", "")},
    ),
    "conv1d_backward": (
        "Conv1d.backward",
        {"dx": ("dLdA", ""), "dw": ("conv1d_stride1.dLdW", ""), "db": ("conv1d_stride1.dLdb", "")},
    ),
    "max_pool_forward_naive": ("MaxPool2d.forward", {"out": ("Z", ""), "x": ("A", "")}),
    "max_pool_backward_naive": ("MaxPool2d.backward", {"dx": ("dLdA", "")}),
    "avg_pool_forward": ("MeanPool2d.forward", {"out": ("Z", ""), "x": ("A", "")}),
    "avg_pool_backward": ("MeanPool2d.backward", {"dx": ("dLdA", "")}),
    "rnn_step_forward": (
        "RNNCell.forward",
        {"next_h": ("h_t", ""), "x": ("x", ""), "prev_h": ("h_prev_t", ""), "Wx": ("W_ih", "T"), "Wh": ("W_hh", "T")},
    ),
    "rnn_step_backward": (
        "RNNCell.backward",
        {"dprev_h": ("dh_prev_t", ""), "dWx": ("N·dW_ih", "T"), "dWh": ("N·dW_hh", "T"), "db": ("N·(db_ih + db_hh)/2", "")},
    ),
    "gru_step_forward": ("GRUCell.forward", {"next_h": ("h_t", "")}),
    "gru_step_backward": ("GRUCell.backward", {"dprev_h": ("dh_prev_t", "")}),
    **{
        f"activation:{name}": (f"{cls}.forward", {})
        for name, cls in (("relu", "ReLU"), ("sigmoid", "Sigmoid"), ("tanh", "Tanh"), ("softmax", "Softmax"))
    },
    **{
        f"activation_backward:{name}": (f"{cls}.backward", {})
        for name, cls in (("relu", "ReLU"), ("sigmoid", "Sigmoid"), ("tanh", "Tanh"), ("softmax", "Softmax"))
    },
    **{
        f"{op}_{step}": (f"{cls}.{step}", {"out": ("Z", ""), "x": ("A", "")} if step == "forward" else {"dx": ("dLdA", "")})
        for op, cls in {**RESAMPLERS, "flatten": "Flatten"}.items()
        for step in ("forward", "backward")
    },
    "loss:mse": ("MSELoss.forward", {}),
    "loss_backward:mse": ("MSELoss.backward", {}),
}


def _calls(module, made, out="Z", grad="dLdA", then=""):
    """A SNIPPETS entry: the class imported from its handout module, made by `made`, its forward
    and backward on the case's arrays (CS231n's names: x, w, b, dout), and `then`."""
    cls = made.partition("(")[0].rpartition(" ")[2]
    return f"from mytorch.{module} import {cls}\nlayer = {made}\n{out} = layer.forward(x)\n{grad} = layer.backward(dout)\n{then}"


#: Init functions that hand the class the case's w and b, as the adapter does.
_INIT = "weight_init_fn=lambda *shape: w.copy(), bias_init_fn=lambda *shape: b.copy()"

#: Each op's calls in MyTorch's API, after the failing case's arrays in CS231n's names (a grade's
#: snippet, properties/reproduce.py): what the adapter calls, written as the student would.
SNIPPETS = {
    "affine": "from mytorch.nn.linear import Linear\nlayer = Linear(w.shape[0], w.shape[1])\n"
    "layer.W, layer.b = w.T.copy(), b.reshape(-1, 1)  # CS231n's w is your W transposed\n"
    "Z = layer.forward(x.reshape(x.shape[0], -1))\ndLdA = layer.backward(dout)\ndLdW, dLdb = layer.dLdW, layer.dLdb",
    "relu": _calls("nn.activation", "ReLU()", "A", "dLdZ"),
    "gelu": _calls("nn.activation", "GELU()", "A", "dLdZ"),
    "softmax_loss": "from mytorch.nn.loss import CrossEntropyLoss\nloss_fn = CrossEntropyLoss()\n"
    "L = loss_fn.forward(x, np.eye(x.shape[1])[y])\ndLdA = loss_fn.backward()",
    "batchnorm": "from mytorch.nn.batchnorm import BatchNorm1d\nD = x.shape[1]\n"
    'layer = BatchNorm1d(D, alpha=bn_param.get("momentum", 0.9))\nlayer.eps = bn_param.get("eps", 1e-5)\n'
    "layer.BW, layer.Bb = gamma.reshape(1, D), beta.reshape(1, D)\n"
    'layer.running_M = bn_param.get("running_mean", np.zeros(D)).reshape(1, D)\n'
    'layer.running_V = bn_param.get("running_var", np.zeros(D)).reshape(1, D)\n'
    "BZ = layer.forward(x)\ndLdZ = layer.backward(dout)\ndLdBW, dLdBb = layer.dLdBW, layer.dLdBb",
    "conv": _calls(
        "Conv2d",
        f'Conv2d(w.shape[1], w.shape[0], w.shape[2], conv_param["stride"], {_INIT})',
        then="dLdW, dLdb = layer.conv2d_stride1.dLdW, layer.conv2d_stride1.dLdb",
    ),
    "conv1d": _calls(
        "Conv1d",
        f'Conv1d(w.shape[1], w.shape[0], w.shape[2], conv_param["stride"], {_INIT})',
        then="dLdW, dLdb = layer.conv1d_stride1.dLdW, layer.conv1d_stride1.dLdb",
    ),
    "conv_transpose1d": _calls(
        "ConvTranspose",
        f'ConvTranspose1d(w.shape[1], w.shape[0], w.shape[2], conv_param["factor"], {_INIT})',
        then="dLdW, dLdb = layer.conv1d_stride1.dLdW, layer.conv1d_stride1.dLdb",
    ),
    "conv_transpose2d": _calls(
        "ConvTranspose",
        f'ConvTranspose2d(w.shape[1], w.shape[0], w.shape[2], conv_param["factor"], {_INIT})',
        then="dLdW, dLdb = layer.conv2d_stride1.dLdW, layer.conv2d_stride1.dLdb",
    ),
    "max_pool": _calls("pool", 'MaxPool2d(pool_param["pool_height"], pool_param["stride"])'),
    "avg_pool": _calls("pool", 'MeanPool2d(pool_param["pool_height"], pool_param["stride"])'),
    **{op: _calls("resampling", f'{cls}(resample_param["factor"])') for op, cls in RESAMPLERS.items()},
    "flatten": _calls("flatten", "Flatten()"),
    "rnn_step": "from mytorch.rnn_cell import RNNCell\ncell = RNNCell(Wx.shape[0], Wx.shape[1])\n"
    "cell.init_weights(Wx.T.copy(), Wh.T.copy(), b / 2, b / 2)  # b_ih + b_hh is CS231n's b\n"
    "h_t = cell.forward(x, prev_h)\ncell.zero_grad()\ndx, dh_prev_t = cell.backward(dnext_h, h_t, x, prev_h)\n"
    "dW_ih, dW_hh, db_ih, db_hh = cell.dW_ih, cell.dW_hh, cell.db_ih, cell.db_hh  # averaged over the batch",
}

#: The model classes (references/model_spec.py MODELS), by the course's class.
MODEL_CLASSES = {"mlp0": "MLP0", "mlp1": "MLP1", "mlp4": "MLP4", "cnn": "CNN", "rnn_phoneme_classifier": "RNNPhonemeClassifier"}

#: The MLP protocol's activations and loss that MyTorch's classes compute, and their classes.
ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax")
LOSSES = ("mse",)
L2 = False
ACTIVATION_CLASSES = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}
LOSS_CLASSES = {"mse": "MSELoss"}

#: The cases the classes take: square windows, batchnorm's train mode, and pad 0 when a Conv has no padding.
LAYER_CASES = {
    "conv": {"WW": "HH", "pad": (0,)},
    "conv1d": {"pad": (0,)},
    "max_pool": {"pool_width": "pool_height"},
    "avg_pool": {"pool_width": "pool_height"},
    "batchnorm": {"mode": ("train",)},
    "conv_transpose2d": {"WW": "HH"},
}


def _pads(name):
    """Whether the library's class `name` takes a `padding` (read when verify imports this file
    beside the library; a grade's declaration, made beside no library, keeps pad 0)."""
    return hasattr(student, name) and "padding" in inspect.signature(getattr(student, name)).parameters


if _pads("Conv2d"):
    LAYER_CASES["conv"] = {"WW": "HH"}
if _pads("Conv1d"):
    del LAYER_CASES["conv1d"]


def _float(a):
    return np.array(a, dtype=np.float64)


def _scalar(value):
    """A loss as the handouts' formulas compute it, ι_Nᵀ·…·ι_C: a (1, 1) array is its one number
    (a float); anything else as it is, for the check to judge."""
    return float(np.reshape(value, ())) if isinstance(value, np.ndarray) and value.size == 1 and value.ndim else value


def _vector(a):
    """A gradient MyTorch keeps as a column or a row (dLdb (out, 1), dLdBW (1, D)) as the vector
    the protocol has; any other shape as it is (a scalar stays one, for the check to name)."""
    a = _float(a)
    return a.reshape(-1) if a.ndim == 2 and 1 in a.shape else a


#: The handouts' folder of models, beside the mytorch package (HW1P1/models/mlp.py,
#: HW2P1/models/cnn.py, HW3P1/models/rnn_classifier.py): searched after the graded package.
MODELS_PACKAGE = "models"


def _course(name):
    """The library's class `name`: the graded module's, else that of the first module of the graded
    module's top package that defines it (its modules at any depth, in name order, folders
    packages or not: _tree), else of the handout's `models` package beside it; NotDefined,
    naming it, when none does."""
    own = getattr(student, name, None)
    if own is not None:
        return own
    graded = getattr(sys.modules.get("submission"), "__name__", "")
    top = graded.partition(".")[0] if "." in graded else ""
    for package in dict.fromkeys((top, MODELS_PACKAGE) if top else ()):
        for module in _modules(package, beside=top):
            found = getattr(importlib.import_module(module), name, None)  # an error in the student's module is the student's
            if found is not None:
                return found
    return getattr(student, name)


def _modules(package, beside):
    """The modules of `package` in walk order: of the graded top package `beside` itself, or of a
    package in the same folder as it ([] when the handin has none there: a `models` folder inside
    mytorch/, walked with it already, is not taken again as a package of its own)."""
    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if package != beside:
        home = {os.path.dirname(folder) for folder in _folders(beside)}
        folders = [folder for folder in folders if os.path.dirname(folder) in home]
    if not folders:
        return []
    importlib.import_module(package)  # an error in the student's package is the student's
    return [f"{package}.{name}" for folder in folders for name in _tree(folder)]


def _tree(folder, prefix=""):
    """The dotted names of the modules in `folder` and its subfolders, packages or not (a handout's
    mytorch/nn/ may have no __init__.py): its own modules in name order, then each subfolder's."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return []
    files = [e.name[:-3] for e in entries if e.is_file() and e.name.endswith(".py") and e.name[:-3].isidentifier()]
    names = [prefix + name for name in files if name != "__init__"]
    for entry in entries:
        if entry.is_dir(follow_symlinks=False) and entry.name.isidentifier() and entry.name != "__pycache__":
            names += _tree(entry.path, f"{prefix}{entry.name}.")
    return names


def _folders(package):
    module = sys.modules.get(package)
    return list(getattr(module, "__path__", []) or [])


def activation(name, z):
    return _course(ACTIVATION_CLASSES[name])().forward(_float(z))


def activation_backward(name, z, grad_a):
    layer = _course(ACTIVATION_CLASSES[name])()
    layer.forward(_float(z))
    return layer.backward(_float(grad_a))


def loss(name, y_pred, y_true):
    return _scalar(_course(LOSS_CLASSES[name])().forward(_float(y_pred), _float(y_true)))


def loss_backward(name, y_pred, y_true):
    loss_fn = _course(LOSS_CLASSES[name])()
    loss_fn.forward(_float(y_pred), _float(y_true))
    return loss_fn.backward()


def affine_forward(x, w, b):
    layer = _course("Linear")(w.shape[0], w.shape[1])
    layer.W = _float(w).T.copy()
    layer.b = _float(b).reshape(-1, 1)
    return layer.forward(x.reshape(x.shape[0], -1)), (layer, x.shape)


def affine_backward(dout, cache):
    layer, shape = cache
    dx = layer.backward(dout)
    return np.reshape(dx, shape), _float(layer.dLdW).T.copy(), _vector(layer.dLdb)


def relu_forward(x):
    layer = _course("ReLU")()
    return layer.forward(x), layer


def relu_backward(dout, layer):
    return layer.backward(dout)


def _resampler(op):
    def forward(x, resample_param):
        layer = _course(RESAMPLERS[op])(resample_param["factor"])
        return layer.forward(_float(x)), layer

    def backward(dout, layer):
        return layer.backward(_float(dout))

    forward.__name__, backward.__name__ = f"{op}_forward", f"{op}_backward"
    return forward, backward


downsample1d_forward, downsample1d_backward = _resampler("downsample1d")
upsample1d_forward, upsample1d_backward = _resampler("upsample1d")
downsample2d_forward, downsample2d_backward = _resampler("downsample2d")
upsample2d_forward, upsample2d_backward = _resampler("upsample2d")


def conv_transpose1d_forward(x, w, b, conv_param):
    layer = _convolutional(_course("ConvTranspose1d"), w, b, conv_param["factor"])
    return layer.forward(_float(x)), layer


def conv_transpose1d_backward(dout, layer):
    return _stride1_backward(dout, layer, "conv1d_stride1")


def conv_transpose2d_forward(x, w, b, conv_param):
    if w.shape[2] != w.shape[3]:
        raise NotImplementedError("MyTorch's ConvTranspose2d takes a square kernel only: LAYER_CASES ties WW to HH")
    layer = _convolutional(_course("ConvTranspose2d"), w, b, conv_param["factor"])
    return layer.forward(_float(x)), layer


def conv_transpose2d_backward(dout, layer):
    return _stride1_backward(dout, layer, "conv2d_stride1")


def flatten_forward(x):
    layer = _course("Flatten")()
    return layer.forward(_float(x)), layer


def flatten_backward(dout, layer):
    return layer.backward(_float(dout))


def gelu_forward(x):
    layer = _course("GELU")()
    return layer.forward(_float(x)), layer


def gelu_backward(dout, layer):
    return layer.backward(_float(dout))


def batchnorm_forward(x, gamma, beta, bn_param):
    if bn_param["mode"] != "train":
        raise NotImplementedError("MyTorch's BatchNorm1d has no backward for eval mode: LAYER_CASES maps train mode only")
    D = x.shape[1]
    layer = _course("BatchNorm1d")(D, alpha=bn_param.get("momentum", 0.9))
    layer.eps = bn_param.get("eps", 1e-5)
    layer.BW, layer.Bb = _float(gamma).reshape(1, D), _float(beta).reshape(1, D)
    layer.running_M = _float(bn_param.get("running_mean", np.zeros(D))).reshape(1, D)
    layer.running_V = _float(bn_param.get("running_var", np.zeros(D))).reshape(1, D)
    out = layer.forward(x)
    bn_param["running_mean"] = _float(layer.running_M).reshape(D)
    bn_param["running_var"] = _float(layer.running_V).reshape(D)
    return out, layer


def batchnorm_backward(dout, layer):
    dx = layer.backward(dout)
    return dx, _vector(layer.dLdBW), _vector(layer.dLdBb)


def softmax_loss(x, y):
    loss_fn = _course("CrossEntropyLoss")()
    loss = _scalar(loss_fn.forward(x, np.eye(x.shape[1])[y]))
    return loss, loss_fn.backward()


def model_forward_backward(model, params, X, dout):
    """The student's MLP0, MLP1 or MLP4 built as it builds itself, each of its Linear layers (in
    self.layers' order) given W{i} and b{i}; (forward(X), backward(dout), each Linear's dLdW and
    dLdb under the keys of its W and b)."""
    net = _course(MODEL_CLASSES[model])()
    linears = [layer for layer in net.layers if hasattr(layer, "W")]
    for i, layer in enumerate(linears):
        layer.W, layer.b = _float(params[f"W{i}"]), _float(params[f"b{i}"])
    out = net.forward(_float(X))
    dX = net.backward(_float(dout))
    grads = {}
    for i, layer in enumerate(linears):
        grads[f"W{i}"], grads[f"b{i}"] = layer.dLdW, layer.dLdb
    return out, dX, grads


def _zeros(*shape):
    return np.zeros(shape)


def model_classify(model, config, params, X, Y):
    """The student's CNN built with config's sizes, their activation classes and CrossEntropyLoss
    as its criterion, each layer then given its weights as the handout's attributes
    (convolutional_layers[l].conv1d_stride1.W and .b, linear_layer.W and .b (O, 1));
    (forward(X), self.loss, backward(Y), each layer's dLdW and dLdb, dLdb of the Linear as a vector)."""
    activations = [_course(ACTIVATION_CLASSES[name])() for name in config["activations"]]
    sizes = [config[key] for key in ("input_width", "num_input_channels")]
    sizes += [list(config[key]) for key in ("num_channels", "kernel_sizes", "strides")]
    net = _course(MODEL_CLASSES[model])(
        *sizes, config["num_linear_neurons"], activations, _zeros, _zeros, _zeros, _course("CrossEntropyLoss")(), 1e-3
    )
    for i, conv in enumerate(net.convolutional_layers):
        conv.conv1d_stride1.W, conv.conv1d_stride1.b = _float(params[f"W{i}"]), _float(params[f"b{i}"])
    net.linear_layer.W, net.linear_layer.b = _float(params["W"]), _float(params["b"]).reshape(-1, 1)
    Z = net.forward(_float(X))
    dX = net.backward(_float(Y))
    grads = {"W": net.linear_layer.dLdW, "b": _vector(net.linear_layer.dLdb)}
    for i, conv in enumerate(net.convolutional_layers):
        grads[f"W{i}"], grads[f"b{i}"] = conv.conv1d_stride1.dLdW, conv.conv1d_stride1.dLdb
    return Z, getattr(net, "loss", None), dX, grads


def model_recurrent(model, config, params, X, h0, delta):
    """The student's RNNPhonemeClassifier built with config's sizes, given params through its
    init_weights; (forward(X, h0), backward(delta), each cell's dW_ih, dW_hh, db_ih, db_hh — zeroed
    between the two — and the output Linear's dLdW and dLdb, as a vector)."""
    layers = config["num_layers"]
    net = _course(MODEL_CLASSES[model])(config["input_size"], config["hidden_size"], config["output_size"], num_layers=layers)
    cells = [[_float(params[f"{key}{layer}"]) for key in ("W_ih", "W_hh", "b_ih", "b_hh")] for layer in range(layers)]
    net.init_weights(cells, [_float(params["W"]), _float(params["b"])])
    logits = net.forward(_float(X), _float(h0))
    for cell in net.rnn:
        cell.zero_grad()
    dh0 = net.backward(_float(delta))
    grads = {"W": net.output_layer.dLdW, "b": _vector(net.output_layer.dLdb)}
    for layer, cell in enumerate(net.rnn):
        for key in ("W_ih", "W_hh", "b_ih", "b_hh"):
            grads[f"{key}{layer}"] = getattr(cell, f"d{key}")
    return logits, dh0, grads


def _stepped(w, dw, lr, momentum, velocity):
    """w after one step of the student's SGD over a model of one layer (W = w, dLdW = dw; b, dLdb
    zeros), its buffer set from CS231n's velocity (v = −lr·buffer); the step it took, next_w − w,
    is CS231n's velocity after it (next_w = w + v), whatever μ (at μ = 0 MyTorch keeps no buffer)."""
    layer = types.SimpleNamespace(W=_float(w), b=np.zeros((1, 1)), dLdW=_float(dw), dLdb=np.zeros((1, 1)))
    optimizer = _course("SGD")(types.SimpleNamespace(layers=[layer]), lr=lr, momentum=momentum)
    if velocity is not None:
        optimizer.v_W, optimizer.v_b = [-_float(velocity) / lr], [np.zeros((1, 1))]
    optimizer.step()
    return _float(layer.W)


def sgd(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return _stepped(w, dw, config["learning_rate"], 0, None), config


def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    next_w = _stepped(w, dw, config["learning_rate"], config["momentum"], config.get("velocity", np.zeros_like(_float(w))))
    config["velocity"] = next_w - _float(w)
    return next_w, config


def _convolutional(cls, w, b, *args, **options):
    """MyTorch's class `cls` of w's kernel (square): cls(in, out, kernel_size, *args, …), given w
    and b through its weight_init_fn and bias_init_fn (Conv1d, Conv2d, ConvTranspose1d, …)."""
    F, C, K = w.shape[:3]
    return cls(C, F, K, *args, weight_init_fn=lambda *shape: _float(w), bias_init_fn=lambda *shape: _float(b), **options)


def _stride1_backward(dout, layer, stride1):
    """The layer's backward: (dLdA, and the dLdW and dLdb of its stride-1 convolution `stride1`,
    sums over the batch, db as a vector)."""
    dx = layer.backward(dout)
    inner = getattr(layer, stride1)
    return dx, _float(inner.dLdW), _vector(inner.dLdb)


def _convolution(cls, x, w, b, conv_param):
    """MyTorch's Conv1d or Conv2d forward, the padding given only when there is some (a class
    without `padding` takes pad 0)."""
    options = {"padding": conv_param["pad"]} if conv_param["pad"] else {}
    layer = _convolutional(cls, w, b, conv_param["stride"], **options)
    return layer.forward(x), layer


def _square_pool(cls, x, pool_param):
    """MyTorch's MaxPool2d or MeanPool2d: one kernel size, so pool_height = pool_width only."""
    if pool_param["pool_height"] != pool_param["pool_width"]:
        raise NotImplementedError(
            f"MyTorch's {cls.__name__} takes a square kernel only: LAYER_CASES ties pool_width to pool_height"
        )
    layer = cls(pool_param["pool_height"], pool_param["stride"])
    return layer.forward(x), layer


def conv_forward_naive(x, w, b, conv_param):
    if w.shape[2] != w.shape[3]:
        raise NotImplementedError("MyTorch's Conv2d takes a square kernel only: LAYER_CASES ties WW to HH")
    return _convolution(_course("Conv2d"), x, w, b, conv_param)


def conv_backward_naive(dout, layer):
    return _stride1_backward(dout, layer, "conv2d_stride1")


def max_pool_forward_naive(x, pool_param):
    return _square_pool(_course("MaxPool2d"), x, pool_param)


def max_pool_backward_naive(dout, layer):
    return layer.backward(dout)


def conv1d_forward(x, w, b, conv_param):
    return _convolution(_course("Conv1d"), x, w, b, conv_param)


def conv1d_backward(dout, layer):
    return _stride1_backward(dout, layer, "conv1d_stride1")


def avg_pool_forward(x, pool_param):
    return _square_pool(_course("MeanPool2d"), x, pool_param)


def avg_pool_backward(dout, layer):
    return layer.backward(dout)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    cell = _course("RNNCell")(Wx.shape[0], Wx.shape[1])
    half = _float(b) / 2  # b_ih + b_hh = b exactly: halving a float64 is exact
    cell.init_weights(_float(Wx).T.copy(), _float(Wh).T.copy(), half, half.copy())
    next_h = cell.forward(x, prev_h)
    return next_h, (cell, x, prev_h, next_h)


def rnn_step_backward(dnext_h, cache):
    cell, x, prev_h, next_h = cache
    cell.zero_grad()  # the cell adds to its gradients (one call per time step)
    dx, dprev_h = cell.backward(dnext_h, next_h, x, prev_h)
    N = x.shape[0]  # the cell averages over the batch; CS231n's gradients are sums
    db = N * (_float(cell.db_ih) + _float(cell.db_hh)) / 2
    return dx, dprev_h, N * _float(cell.dW_ih).T, N * _float(cell.dW_hh).T, db


#: The GRUCell's weights and biases in init_weights' order, and their gradients' attributes.
GRU_WEIGHTS = ("Wrx", "Wzx", "Wnx", "Wrh", "Wzh", "Wnh", "brx", "bzx", "bnx", "brh", "bzh", "bnh")


def gru_step_forward(x, prev_h, Wx, Wh, b):
    H = Wh.shape[0]
    blocks = [slice(k * H, (k + 1) * H) for k in range(3)]  # r, z, n
    b_r, b_z, b_n = (_float(b)[block] for block in blocks)
    weights = (
        *(_float(Wx)[:, block].T for block in blocks),
        *(_float(Wh)[:, block].T for block in blocks),
        b_r / 2,  # b_r = brx + brh exactly: halving a float64 is exact
        b_z / 2,
        b_n,
        b_r / 2,
        b_z / 2,
        np.zeros(H),  # the protocol's c_n has no bias: bnh = 0
    )
    cells, rows = [], []
    for n in range(x.shape[0]):  # the cell takes one sample: x (D,), h_prev_t (H,)
        cell = _course("GRUCell")(Wx.shape[0], H)
        cell.init_weights(*(w.copy() for w in weights))
        rows.append(np.reshape(cell.forward(x[n].copy(), prev_h[n].copy()), H))
        cells.append(cell)
    return np.stack(rows), cells


def gru_step_backward(dnext_h, cells):
    H = dnext_h.shape[1]
    dxs, dhs, grads = [], [], {name: 0.0 for name in GRU_WEIGHTS}
    for n, cell in enumerate(cells):
        for name in GRU_WEIGHTS:  # whether the cell sets or adds to its gradients, they start at 0
            setattr(cell, f"d{name}", np.zeros_like(_float(getattr(cell, name))))
        dx, dh = cell.backward(dnext_h[n].copy())
        dxs.append(np.reshape(dx, -1))
        dhs.append(np.reshape(dh, H))
        for name in GRU_WEIGHTS:  # the cell's gradients are one sample's: CS231n's sum over the batch
            grads[name] = grads[name] + _float(getattr(cell, f"d{name}"))
    dWx = np.concatenate([grads[f"W{g}x"].T for g in "rzn"], axis=1)
    dWh = np.concatenate([grads[f"W{g}h"].T for g in "rzn"], axis=1)
    db = np.concatenate([(grads["brx"] + grads["brh"]) / 2, (grads["bzx"] + grads["bzh"]) / 2, grads["bnx"]], axis=None)
    return np.stack(dxs), np.stack(dhs), dWx, dWh, db
