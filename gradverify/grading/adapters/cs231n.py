"""The CS231n layer API as the backprop protocol (shipped adapter: `--adapter cs231n`).

The course's functions (Stanford CS231n's layers.py and optim.py):

    affine_forward(x, w, b) -> (out, cache)       x (N, D), w (D, M), b (M,): out = x·w + b
    affine_backward(dout, cache) -> (dx, dw, db)  dx (N, D), dw (D, M), db (M,)
    relu_forward(x) -> (out, cache)               relu_backward(dout, cache) -> dx
    softmax_loss(x, y) -> (loss, dx)              x: scores (N, C), y: labels (N,);
                                                  loss = −(1/N)·Σ log softmax(x)[n, y_n], dx = ∂loss/∂x
    sgd_momentum(w, dw, config) -> (next_w, config)
        config: {"learning_rate": η, "momentum": α, "velocity": v};
        v ← α·v − η·dw, next_w = w + v, config["velocity"] = v

CS231n's w is (in, out), the transpose of the protocol's W (out, in): dense_forward passes
Wᵀ, dense_backward and network_gradients hand dwᵀ back. CS231n's velocity v is the
protocol's Δw (Δw(n) = α·Δw(n−1) − η·g(n)), so it passes through unchanged.

Mapped: relu (activation, activation_backward), the dense layer, network
gradients of networks with relu or identity hidden layers (identity: two affine
layers in a row) and a softmax output under sparse_cce (the loss and its gradient with
respect to the scores are softmax_loss's), at λ = 0, and the momentum step.
Not mapped: the other activations (CS231n has no sigmoid layer function, nor tanh); every loss (softmax_loss fuses the softmax into its
cross-entropy: it has no loss of probabilities nor a softmax VJP of its own); L2 and the
training loop, which live in CS231n's model classes and its given Solver, not in these
functions. Networks this API cannot express raise NotImplementedError; NETWORK_ACTIVATIONS and
NETWORK_LOSSES declare the others: the network item's domain, where a refusal counts as not right.

The layer protocol (docs/layers.md) is CS231n's own API, so the `layer` and `update_rule` items
take the student's functions as they are: each function of the handout (HANDOUT: assignment 1's
classifiers/linear_svm.py and classifiers/softmax.py, assignment 2's layers.py and optim.py,
assignment 3's rnn_layers.py) is served under its own name, from the graded module when it
defines it, else from the handout's module of it beside the graded one (`cs231n/optim.py` or
`cs231n/classifiers/softmax.py` beside `cs231n/layers.py`, or `optim.py` or `softmax.py` in the
same folder), imported when an item first calls it. The `model` items call `model_loss`, which
builds the student's TwoLayerNet or FullyConnectedNet of classifiers/fc_net.py, ThreeLayerConvNet
of classifiers/cnn.py, or CaptioningRNN of classifiers/rnn.py (MODEL_CLASSES), sets its params
and calls its loss(X, y); `model_train` runs LinearSVM().train of classifiers/linear_classifier.py
after np.random.seed. The handout's given modules those classes import, fast_layers (whose
backward needs a compiled Cython extension) and layer_utils, are served in NumPy under the
handin's package when this file is imported (GIVEN). What the course does not have (conv1d,
avg_pool, gru_step) is not mapped.
"""

import importlib
import importlib.util
import sys
import types

import numpy as np

import student

#: Each module of the CS231n handout (assignments 1 to 3), by its path in the cs231n package,
#: with the functions of the layer protocol it holds, students' work and given code alike (a
#: rubric's items choose among them).
HANDOUT = {
    "classifiers.linear_svm": ("svm_loss_naive", "svm_loss_vectorized"),
    "classifiers.softmax": ("softmax_loss_naive", "softmax_loss_vectorized"),
    "layers": (
        *("affine_forward", "affine_backward", "relu_forward", "relu_backward"),
        *("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt"),
        *("layernorm_forward", "layernorm_backward", "dropout_forward", "dropout_backward"),
        *("conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive"),
        *("spatial_batchnorm_forward", "spatial_batchnorm_backward"),
        *("spatial_groupnorm_forward", "spatial_groupnorm_backward", "svm_loss", "softmax_loss"),
    ),
    "optim": ("sgd", "sgd_momentum", "rmsprop", "adam"),
    "rnn_layers": (
        *("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"),
        *("word_embedding_forward", "word_embedding_backward"),
        *("lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"),
        *("temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss"),
    ),
}

#: The protocol functions served as the student's own, under their names (a failure's snippet
#: may call them): every function of the handout.
OWN_FUNCTIONS = tuple(name for names in HANDOUT.values() for name in names)

ACTIVATIONS = ("relu",)
L2 = False
#: What its networks map: relu or identity hidden layers under a softmax output and sparse_cce.
NETWORK_ACTIVATIONS = ("identity", "relu", "softmax")
NETWORK_LOSSES = ("sparse_cce",)

#: The course's layer functions of each activation a network's hidden layer may have.
FORWARD = {"relu": "relu_forward"}
BACKWARD = {"relu": "relu_backward"}


def _course(name, table):
    """The student's function for activation `name` (NotImplementedError if the API has none)."""
    if name not in table:
        raise NotImplementedError(f"the CS231n layer API has no {name} layer")
    return getattr(student, table[name])


def activation(name, z):
    out, _ = _course(name, FORWARD)(z)
    return out


def activation_backward(name, z, grad_a):
    _, cache = _course(name, FORWARD)(z)
    return _course(name, BACKWARD)(grad_a, cache)


def dense_forward(x, W, b):
    out, _ = student.affine_forward(x, W.T, b)
    return out


def dense_backward(x, W, grad_z):
    _, cache = student.affine_forward(x, W.T, np.zeros(W.shape[0]))
    dx, dw, db = student.affine_backward(grad_z, cache)
    return dx, np.asarray(dw).T, db


def _expressible(net):
    """NotImplementedError unless the CS231n layers can build `net`."""
    layers = net["layers"]
    if net["loss"] != "sparse_cce" or layers[-1]["activation"] != "softmax":
        raise NotImplementedError("the CS231n layer API has softmax_loss only: a softmax output under sparse_cce")
    hidden = [layer["activation"] for layer in layers[:-1] if layer["activation"] not in (*FORWARD, "identity")]
    if hidden:
        raise NotImplementedError(f"the CS231n layer API has no {hidden[0]} layer")
    if net.get("l2", 0.0):
        raise NotImplementedError("L2 lives in CS231n's model classes, not in its layer functions")


def network_gradients(net, X, Y):
    _expressible(net)
    layers = net["layers"]
    caches, a = [], X
    for i, layer in enumerate(layers):
        a, affine_cache = student.affine_forward(a, layer["W"].T, layer["b"])
        act = layer["activation"]
        act_cache = None
        if i < len(layers) - 1 and act != "identity":
            a, act_cache = _course(act, FORWARD)(a)
        caches.append((affine_cache, act_cache))
    value, grad = student.softmax_loss(a, np.asarray(Y).astype(int))
    grads = []
    for i in reversed(range(len(layers))):
        affine_cache, act_cache = caches[i]
        act = layers[i]["activation"]
        if i < len(layers) - 1 and act != "identity":
            grad = _course(act, BACKWARD)(grad, act_cache)
        grad, dw, db = student.affine_backward(grad, affine_cache)
        grads.append({"W": np.asarray(dw).T, "b": db})
    return value, grads[::-1]


def sgd_momentum_step(params, grads, velocity, *, lr, momentum):
    new_params, new_velocity = [], []
    for i, (layer, grad) in enumerate(zip(params, grads)):
        updated, moved = dict(layer), {}
        for key in ("W", "b"):
            v = np.zeros_like(layer[key]) if velocity is None else np.array(velocity[i][key], dtype=np.float64)
            config = {"learning_rate": lr, "momentum": momentum, "velocity": v}
            # copies: CS231n code may update w in place (w += v), the protocol's inputs stay as they are
            next_w, config = student.sgd_momentum(
                np.array(layer[key], dtype=np.float64), np.array(grad[key], dtype=np.float64), config
            )
            updated[key], moved[key] = next_w, config["velocity"]
        new_params.append(updated)
        new_velocity.append(moved)
    return new_params, new_velocity


def _beside(module):
    """The handout's `module` (a path in the cs231n package: "classifiers.softmax") beside the
    graded one: where the graded module's top package has it, else by its own name in the graded
    module's folder (loose files: softmax.py beside layers.py); None when there is none, or it is
    the graded one."""
    graded = getattr(sys.modules.get("submission"), "__name__", "submission")
    root, folder, own = graded.partition(".")[0], graded.rpartition(".")[0], module.rpartition(".")[2]
    in_package = f"{root}.{module}" if folder else module
    for name in dict.fromkeys((in_package, f"{folder}.{own}" if folder else own)):
        if name != graded and _findable(name):
            return importlib.import_module(name)  # an error in the student's module is the student's
    return None


def _findable(name):
    """Whether module `name` exists (its parent packages imported to find it; a parent that is not
    there is no module)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _handout_function(name, module):
    """The student's `name`: the graded module's, else that of the handout's `module` beside it;
    NotDefined (from the student's module) when neither defines it."""
    own = getattr(student, name, None)
    if callable(own):
        return own
    other = _beside(module)
    found = getattr(other, name, None) if other is not None else None
    return found if callable(found) else getattr(student, name)


def _serve(name, module):
    def function(*args, **kwargs):
        return _handout_function(name, module)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    return function


#: The model classes of the handout (references/model_spec.py MODELS) and the module of each.
MODEL_CLASSES = {
    "two_layer_net": ("TwoLayerNet", "classifiers.fc_net"),
    "fully_connected_net": ("FullyConnectedNet", "classifiers.fc_net"),
    "captioning_rnn": ("CaptioningRNN", "classifiers.rnn"),
    "three_layer_conv_net": ("ThreeLayerConvNet", "classifiers.cnn"),
    "linear_classifier_train": ("LinearSVM", "classifiers.linear_classifier"),
}


def model_train(model, config, X, y, seed):
    """The student's LinearSVM().train(X, y, …) after np.random.seed(seed): (its W, loss_history)."""
    cls = _handout_function(*MODEL_CLASSES[model])
    np.random.seed(seed)
    classifier = cls()
    history = classifier.train(np.array(X, dtype=np.float64), np.array(y), verbose=False, **config)
    return classifier.W, history


def model_loss(model, config, params, X, y):
    """The student's class built with `config`'s sizes, its params set to `params`, and its
    loss(X, y): (loss, grads). Only what the handout's constructor has is passed (dtype float64;
    dropout_keep_ratio and seed when the case has dropout), each by its keyword."""
    cls = _handout_function(*MODEL_CLASSES[model])
    if model == "captioning_rnn":
        dims = {key: config[key] for key in ("input_dim", "wordvec_dim", "hidden_dim", "cell_type")}
        net = cls(dict(config["word_to_idx"]), dtype=np.float64, **dims)
        net.params = {key: np.array(value, dtype=np.float64) for key, value in params.items()}
        return net.loss(np.array(X, dtype=np.float64), np.array(y))
    sizes = {"input_dim": config["input_dim"], "num_classes": config["num_classes"], "reg": config["reg"]}
    if model == "three_layer_conv_net":
        convolution = {key: config[key] for key in ("num_filters", "filter_size", "hidden_dim")}
        net = cls(**{**sizes, "input_dim": tuple(config["input_dim"])}, dtype=np.float64, **convolution)
    elif model == "two_layer_net":
        net = cls(hidden_dim=config["hidden_dims"][0], **sizes)
    else:
        dropout = {key: config[key] for key in ("dropout_keep_ratio", "seed") if key in config}
        net = cls(list(config["hidden_dims"]), normalization=config["normalization"], dtype=np.float64, **sizes, **dropout)
    net.params = {key: np.array(value, dtype=np.float64) for key, value in params.items()}
    loss, grads = net.loss(np.array(X, dtype=np.float64), np.array(y))
    return loss, grads


for _module, _names in HANDOUT.items():
    for _name in _names:
        globals()[_name] = _serve(_name, _module)


# --------------------------------------------------------------------------- the handout's given modules


def _windows(x, height, width, stride):
    """x (N, C, H, W) -> its height × width windows every `stride`: (N, C, H', W', height, width), a view."""
    return np.lib.stride_tricks.sliding_window_view(x, (height, width), axis=(2, 3))[:, :, ::stride, ::stride]


def _padded(x, pad):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def conv_forward_fast(x, w, b, conv_param):
    """out[n, f, h, v] = Σ_{c,i,j} x_pad[n, c, s·h + i, s·v + j]·w[f, c, i, j] + b[f]; (out, cache)."""
    windows = _windows(_padded(x, conv_param["pad"]), w.shape[2], w.shape[3], conv_param["stride"])
    return np.einsum("nchvij,fcij->nfhv", windows, w) + np.reshape(b, (1, -1, 1, 1)), (x, w, b, conv_param)


def conv_backward_fast(dout, cache):
    """(dx, dw, db) of conv_forward_fast: dw = Σ windows·dout, db = Σ dout, dx the windows' scatter, unpadded."""
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    x_pad, (_, _, height, width), (out_h, out_w) = _padded(x, pad), w.shape, dout.shape[2:]
    dw = np.einsum("nchvij,nfhv->fcij", _windows(x_pad, height, width, stride), dout)
    dx_pad = np.zeros_like(x_pad)
    for i in range(height):
        for j in range(width):
            rows, cols = slice(i, i + stride * out_h, stride), slice(j, j + stride * out_w, stride)
            dx_pad[:, :, rows, cols] += np.einsum("nfhv,fc->nchv", dout, w[:, :, i, j])
    return dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))


def max_pool_forward_fast(x, pool_param):
    """Each window's maximum: (out, cache)."""
    windows = _windows(x, pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"])
    return windows.max(axis=(4, 5)), (x, pool_param)


def max_pool_backward_fast(dout, cache):
    """dx: each window's gradient to its (first) maximum."""
    x, pool_param = cache
    height, width, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    windows = _windows(x, height, width, stride)
    first = windows.reshape(*windows.shape[:4], height * width).argmax(axis=4)
    n, c, h, v = np.indices(dout.shape)
    dx = np.zeros_like(x, dtype=np.float64)
    np.add.at(dx, (n, c, stride * h + first // width, stride * v + first % width), dout)
    return dx


def _layer(name):
    """The student's layers.py function `name` (the given sandwich layers call the student's, as the handout's do)."""
    return _handout_function(name, "layers")


def affine_relu_forward(x, w, b):
    a, fc_cache = _layer("affine_forward")(x, w, b)
    out, relu_cache = _layer("relu_forward")(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    fc_cache, relu_cache = cache
    return _layer("affine_backward")(_layer("relu_backward")(dout, relu_cache), fc_cache)


def conv_relu_forward(x, w, b, conv_param):
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = _layer("relu_forward")(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    conv_cache, relu_cache = cache
    return conv_backward_fast(_layer("relu_backward")(dout, relu_cache), conv_cache)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = _layer("relu_forward")(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    conv_cache, relu_cache, pool_cache = cache
    return conv_backward_fast(_layer("relu_backward")(max_pool_backward_fast(dout, pool_cache), relu_cache), conv_cache)


#: The handout's given modules its classes import (cnn.py and fc_net.py: `from ..fast_layers
#: import *`, `from ..layer_utils import *`), the functions of each, in NumPy: the grader's
#: fast_layers always (the handout's needs a compiled Cython extension, im2col_cython, for its
#: backward), its layer_utils when the handin has none (collectSubmission's zip has neither; the
#: sandwich layers call the student's affine, relu and these fast layers, as the handout's do).
GIVEN = {
    "fast_layers": (conv_forward_fast, conv_backward_fast, max_pool_forward_fast, max_pool_backward_fast),
    "layer_utils": (
        *(affine_relu_forward, affine_relu_backward, conv_relu_forward, conv_relu_backward),
        *(conv_relu_pool_forward, conv_relu_pool_backward),
    ),
}


def _install_given():
    """GIVEN's modules under the graded module's top package (nothing for loose files): each in
    sys.modules, with the layers' functions too, as the handout's star imports give them."""
    graded = getattr(sys.modules.get("submission"), "__name__", "submission")
    root, _, rest = graded.partition(".")
    package = sys.modules.get(root)
    if not rest or package is None:
        return
    served = {name: globals()[name] for name in HANDOUT["layers"]}
    for name, functions in GIVEN.items():
        full = f"{root}.{name}"
        if name == "layer_utils" and full not in sys.modules and _findable(full):
            continue  # the student's own layer_utils, not imported yet: its fast_layers is the grader's
        module = types.ModuleType(full, f"the grader's {name} (the cs231n adapter's GIVEN)")
        given = GIVEN["fast_layers"] + (functions if name == "layer_utils" else ())
        vars(module).update({**served, **{f.__name__: f for f in given}})
        sys.modules[full] = module
        setattr(package, name, module)


_install_given()
