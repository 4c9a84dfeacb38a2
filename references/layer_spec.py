"""The layer protocol's specification as data: one entry per op (docs/layers.md).

An op is a pair of functions in CS231n's convention,

    <op>_forward(x, <params>…, [<op>_param]) -> (out, cache)
    <op>_backward(dout, cache) -> (dx, d<params>…)        (dx alone for one input)

or, for a loss, one function `<op>(x, y) -> (loss, dx)`. Its `LayerOp` entry says everything
the generic check (gradverify.properties.layer_checks) needs: the arrays it takes with their
shapes and domains, its hyperparameters, which inputs are differentiable, its state (running
statistics, a train/test mode, a random mask drawn from a seed), its kinks, and its references
in PyTorch and JAX. The table is public: a library declares an op of its own as one `LayerOp`
(its references as callables) and gets every check.

Shapes are tuples of tokens: a size's name ("N"), a multiple of one ("4H", the LSTM's gate
blocks, "3H" the GRU's), "d*" for the sizes of a `many` size spread out (CS231n's d₁…d_k), "Πd" for their
product, and digits for a fixed size ("1"). A size may be derived from the drawn sizes and
hyperparameters (conv's H' = 1 + (H + 2·pad − HH)/stride); a draw that admits none (H' not
integral) is discarded. This module imports NumPy only; the
references are named as "module:function" and imported on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Union

import numpy as np

#: A reference: a callable, or "module:function" imported when it is first used. It is called
#: as ref(arrays, hyper) with the op's arrays by name (tensors of its framework; a random op's
#: keep mask as "mask") and its hyperparameters, and returns the output (a scalar for a loss;
#: a tuple in the order of `outs` for an op with several), or (output, new state by key) when
#: the op has state.
Reference = Union[str, Callable[..., Any]]

#: Which side of every kink a point is on (NumPy): arrays by name -> an array of signs.
Branch = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Size:
    """A size drawn in [low, high]; with `many` > 0, a tuple of 1..many such sizes."""

    name: str
    low: int = 1
    high: int = 4
    many: int = 0


@dataclass(frozen=True)
class Derived:
    """A size computed from the drawn sizes and hyperparameters, by name; `rule` returns None
    where they admit no size (the draw is discarded), so every case's shapes are consistent."""

    name: str
    rule: Callable[[dict[str, Any]], int | None]


@dataclass(frozen=True)
class Arg:
    """An array the op takes.

    domain: "real" (N(0, 1)), "positive" (uniform in [0.5, 2]), "labels:<size>" (integers in
    [0, size)), "indices:<size>" (integers in [0, size) with an index repeated on purpose, as
    word_embedding's x needs) or "mask" (booleans with a False and a True on purpose, as
    temporal_softmax_loss's mask). `in_param`: kept in the op's parameter dict (running_mean),
    not passed. `zeros_default`: an in_param array a forward takes as zeros when its dict leaves
    it out (CS231n's `bn_param.get("running_mean", np.zeros(D))`), so that a case may leave it out."""

    name: str
    shape: tuple[str, ...]
    domain: str = "real"
    differentiable: bool = True
    in_param: bool = False
    zeros_default: bool = False


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter in the op's parameter dict, drawn from `choices` (shrinks to the first).
    `positional`: passed to the forward after the arrays instead (spatial_groupnorm's G).
    `shapes`: whether the references' shapes or branches may follow it, so that the JAX reference
    compiles once per value (an integer or a mode; a real is never taken so); False for one
    they never read (dropout's seed: they take the mask the implementation drew). `default`: the
    value a forward takes when its dict leaves the key out (CS231n's `bn_param.get("eps", 1e-5)`),
    so that a case may leave it out (LayerCase.omitted); None: the key is always there."""

    name: str
    choices: tuple[Any, ...]
    positional: bool = False
    shapes: bool = True
    default: Any = None


@dataclass(frozen=True)
class ScoreShift:
    """How the scores of a shift-invariant loss that takes them through other args are shifted:
    `move(arrays, rows)` -> the arrays at which the scores are the old ones plus `rows` (N, 1);
    `back(loss, grad, arrays, hyper)` -> that loss and grad as the unmoved arrays' (what the
    move added taken out again), to compare with the references at the unmoved arrays."""

    move: Callable[[dict[str, np.ndarray], np.ndarray], dict[str, np.ndarray]]
    back: Callable[[float, Any, dict[str, np.ndarray], dict[str, Any]], tuple[float, Any]]


@dataclass(frozen=True)
class LayerOp:
    """One op of the layer protocol."""

    name: str
    #: the formula, for people (docs/layers.md has the derivation)
    math: str
    args: tuple[Arg, ...]
    sizes: tuple[Size, ...]
    #: the backward's outputs in order, one per differentiable arg: ("dx", "dw", "db")
    grads: tuple[str, ...]
    torch: Reference
    jax: Reference
    #: the output's shape (None for a loss: a scalar)
    out_shape: tuple[str, ...] | None = None
    #: the forward's outputs by name and shape, when it names them (rnn's "h") or has several
    #: (lstm_step's next_h and next_c: the forward returns (next_h, next_c, cache) and the
    #: backward takes (dnext_h, dnext_c, cache), one random cotangent per output); () for one
    #: output "out" of out_shape, whose upstream gradient is "dout"
    outs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: one function name(x, y) -> (loss, dx) instead of a forward and a backward
    loss: bool = False
    #: the name of the parameter dict passed last to the forward ("bn_param"), if any
    param: str | None = None
    hypers: tuple[Hyper, ...] = ()
    #: keys of the parameter dict the forward updates in train mode ("running_mean", …)
    state: tuple[str, ...] = ()
    #: the forward draws a keep mask from the dict's seed (dropout): the check recovers it from
    #: the output (mask = out ≠ 0) and gives it to the references
    random: bool = False
    #: where the op is not differentiable and the convention there, in words ("" for none)
    kinks: str = ""
    #: which side of each kink a point lies on, for finite differences (None: no kinks)
    branch: Branch | None = field(default=None, compare=False)
    #: backward functions beyond <name>_backward with the same contract (batchnorm_backward_alt),
    #: checked when the implementation defines them
    alternatives: tuple[str, ...] = ()
    #: the hyperparameters under which the op is the identity (dropout in test mode, or keeping
    #: every unit): then out may BE x, and dx BE dout, whole — CS231n's own `out = x` (None: never)
    identity: Callable[[dict[str, Any]], bool] | None = field(default=None, compare=False)
    #: the hyperparameters under which the op has a backward (None: always): batchnorm's train
    #: mode only, as CS231n's handout has it (its forward in test mode builds no cache, and the
    #: notebooks never take a gradient there); in test mode the forward alone is checked
    backward_when: Callable[[dict[str, Any]], bool] | None = field(default=None, compare=False)
    #: sizes computed from the drawn ones and the hyperparameters, in order (conv's H', W')
    derived: tuple[Derived, ...] = ()
    #: what follows _forward and _backward in the functions' names (CS231n's "_naive" conv)
    suffix: str = ""
    #: a loss that one constant added to all of a sample's scores (x's last axis) leaves as it
    #: is, loss and dx: checked with each row shifted past exp's overflow, by another multiple of
    #: the shift (layer_checks.SHIFTS), where a softmax not shifted by its row's max gives inf or NaN
    shift_invariant: bool = False
    #: how a shift-invariant loss whose scores are not an arg (a linear classifier's X·W) has them
    #: shifted (None: the scores are x)
    scores: ScoreShift | None = field(default=None, compare=False)

    @property
    def forward(self) -> str:
        return self.name if self.loss else f"{self.name}_forward{self.suffix}"

    @property
    def backwards(self) -> tuple[str, ...]:
        return () if self.loss else (f"{self.name}_backward{self.suffix}", *self.alternatives)

    @property
    def functions(self) -> tuple[str, ...]:
        return (self.forward, *self.backwards)

    @property
    def outputs(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The forward's outputs as (name, shape tokens), in the order it returns them."""
        return self.outs or (("out", self.out_shape or ()),)

    @property
    def upstream(self) -> tuple[str, ...]:
        """The names of the backward's upstream gradients: ("dout",), or d<name> per named output."""
        return tuple(f"d{name}" for name, _ in self.outs) or ("dout",)

    @property
    def omittable(self) -> tuple[str, ...]:
        """The parameter-dict keys a case may leave out: the hyperparameters with a default and
        the in_param arrays taken as zeros when absent (batchnorm's eps, momentum, running_mean,
        running_var), in the order of the op's hypers then args."""
        return (*(h.name for h in self.hypers if h.default is not None), *(a.name for a in self.args if a.zeros_default))

    @property
    def differentiable(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if a.differentiable)

    def __reduce_ex__(self, protocol: Any) -> Any:
        """An op of LAYER_OPS pickles as its name (its shape rules are lambdas, which pickle cannot
        carry), so that a result holding a case of it travels between processes (pytest-xdist's,
        verify's workers); an op of a library's own pickles field by field."""
        if LAYER_OPS.get(self.name) is self:
            return (layer_op, (self.name,))
        return object.__reduce_ex__(self, protocol)

    def __post_init__(self) -> None:
        if any(a.zeros_default and not a.in_param for a in self.args) or any(
            h.default is not None and h.positional for h in self.hypers
        ):
            raise ValueError(f"op {self.name}: only what the parameter dict holds may have a default")
        if len(self.grads) != len(self.differentiable):
            raise ValueError(f"op {self.name}: {len(self.grads)} grads for {len(self.differentiable)} differentiable args")
        known = {s.name for s in self.sizes} | {d.name for d in self.derived}
        for name, shape in (*((a.name, a.shape) for a in self.args), *self.outs):
            for token in shape:
                if not token.isdigit() and token.removesuffix("*").removeprefix("Π").lstrip("0123456789") not in known:
                    raise ValueError(f"op {self.name}: {name}'s shape names an unknown size {token!r}")


def layer_op(name: str) -> LayerOp:
    """The op of LAYER_OPS called `name` (how a pickled one is found again)."""
    return LAYER_OPS[name]


def sizes_of(op: LayerOp, dims: dict[str, Any], hyper: dict[str, Any]) -> dict[str, Any] | None:
    """The drawn sizes with the op's derived ones added, or None when the draw admits none."""
    sizes = dict(dims)
    for d in op.derived:
        size = d.rule({**hyper, **sizes})
        if size is None:
            return None
        sizes[d.name] = size
    return sizes


def windows(size: int, window: int, stride: int, pad: int = 0) -> int | None:
    """1 + (size + 2·pad − window)/stride windows along an axis, or None when they do not tile it."""
    span = size + 2 * pad - window
    return None if span < 0 or span % stride else 1 + span // stride


def shape_of(tokens: tuple[str, ...], dims: dict[str, Any]) -> tuple[int, ...]:
    """The shape the tokens name under drawn sizes, e.g. ("N", "d*") with N 2, d (3, 4) -> (2, 3, 4);
    a token with a factor, "4H", is that multiple of the size (the LSTM's four gate blocks); a
    number, "1", is that size."""
    shape: list[int] = []
    for token in tokens:
        if token.endswith("*"):
            shape.extend(dims[token[:-1]])
        elif token.startswith("Π"):
            shape.append(int(np.prod(dims[token[1:]])))
        elif token.isdigit():
            shape.append(int(token))
        else:
            name = token.lstrip("0123456789")
            shape.append(int(token[: len(token) - len(name)] or 1) * int(dims[name]))
    return tuple(shape)


def resolve(reference: Reference) -> Callable[..., Any]:
    """A reference as a callable: "module:function" imported now."""
    if callable(reference):
        return reference
    module, _, name = str(reference).partition(":")
    return getattr(importlib.import_module(module), name)


_TORCH, _JAX = "gradverify.references.layer_torch", "gradverify.references.layer_jax"


def _bundled(name: str) -> dict[str, Any]:
    return {"torch": f"{_TORCH}:{name}", "jax": f"{_JAX}:{name}"}


#: CS231n's default eps and momentum first, then values that make a wrong one show.
_MODE = Hyper("mode", ("train", "test"))
_EPS = Hyper("eps", (1e-5, 1e-3, 0.1), default=1e-5)
#: dropout's seeds, shrinking to the first: after np.random.seed(55) the first np.random.rand
#: values are 0.093, 0.972, 0.484, so the smallest case keeps its first unit at every p ≥ 0.25 and
#: drops its second at every p < 1, and a missing 1/p shows in it (after seed 0 they are 0.549,
#: 0.715, 0.603, 0.545: at p ≤ 0.5 a case of up to 4 units keeps none, and shows nothing)
_DROPOUT_SEEDS = (55, 0, 123)
#: batchnorm's (and spatial batchnorm's) momentum, which CS231n's FullyConnectedNet leaves out of
#: bn_param with eps and the running averages (it passes {"mode": "train"} alone)
_MOMENTUM = Hyper("momentum", (0.9, 0.5), default=0.9)
_NORM_SIZES = (Size("N", 2, 5), Size("D", 1, 4))


def _relu_branch(a: dict[str, np.ndarray]) -> np.ndarray:
    return np.sign(a["x"]).ravel()


def _train_mode(hyper: dict[str, Any]) -> bool:
    """Whether a case is in train mode, the one a normalisation's backward is written for."""
    return hyper.get("mode", "train") == "train"


def _dropout_identity(hyper: dict[str, Any]) -> bool:
    """Dropout is the identity in test mode, and in train mode when it keeps every unit (p = 1)."""
    return hyper.get("mode") == "test" or hyper.get("p") == 1.0


def _svm_branch(a: dict[str, np.ndarray]) -> np.ndarray:
    x, y = a["x"], a["y"].astype(int)
    margins = x - x[np.arange(len(y)), y][:, None] + 1.0
    margins[np.arange(len(y)), y] = -1.0  # the correct class has no hinge
    return np.sign(margins).ravel()


def _linear_svm_branch(a: dict[str, np.ndarray]) -> np.ndarray:
    """The hinges' sides at the scores X·W."""
    return _svm_branch({"x": a["X"] @ a["W"], "y": a["y"]})


def _through_bias(arrays: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """X·W plus `rows`: X with `rows` as a last feature, W with a last row of ones (the bias
    trick of CS231n's data, whose last feature is 1)."""
    X, W = arrays["X"], arrays["W"]
    return {**arrays, "X": np.hstack([X, rows.astype(X.dtype)]), "W": np.vstack([W, np.ones((1, W.shape[1]), W.dtype)])}


def _without_bias(loss: float, dW: Any, arrays: dict[str, np.ndarray], hyper: dict[str, Any]) -> tuple[float, Any]:
    """The loss less reg·C (the row of ones' ΣW²) and dW less its last row: as at the unmoved W."""
    D, C = arrays["W"].shape
    grad = np.asarray(dW)[:D] if isinstance(dW, np.ndarray) and dW.shape == (D + 1, C) else dW
    return loss - hyper["reg"] * C, grad


def _resampling(kind: str, dims: int) -> LayerOp:
    """MyTorch's Downsample1d/2d (every k-th sample of each spatial axis kept) or Upsample1d/2d
    (k − 1 zeros put between samples): x (N, C, L) or (N, C, H, W), resample_param {"factor": k}."""
    axes = ("L",) if dims == 1 else ("H", "W")
    down = kind == "downsample"
    if down:
        math = "out = x[..., ::k] along each spatial axis"
    else:
        math = "out[..., ::k] = x, zeros elsewhere, along each spatial axis (k·(L − 1) + 1 samples)"

    def samples(axis: str) -> Derived:
        def rule(v: dict[str, Any]) -> int:
            size, k = v[axis], v["factor"]
            return (size - 1) // k + 1 if down else k * (size - 1) + 1

        return Derived(f"{axis}o", rule)

    return LayerOp(
        f"{kind}{dims}d",
        math,
        (Arg("x", ("N", "C", *axes)),),
        (Size("N", 1, 2), Size("C", 1, 2), *(Size(axis, 1, 4) for axis in axes)),
        ("dx",),
        out_shape=("N", "C", *(f"{axis}o" for axis in axes)),
        param="resample_param",
        hypers=(Hyper("factor", (2, 1, 3)),),
        derived=tuple(samples(axis) for axis in axes),
        **_bundled(f"{kind}{dims}d"),
    )


def _transposed(dims: int) -> LayerOp:
    """MyTorch's ConvTranspose1d/2d: x upsampled by the factor k (k − 1 zeros between samples),
    then a stride-1 convolution without padding: conv_param {"factor": k}."""
    axes, windows = (("L",), ("K",)) if dims == 1 else (("H", "W"), ("HH", "WW"))

    def out(axis: str, window: str) -> Derived:
        def rule(v: dict[str, Any]) -> int | None:
            size = v["factor"] * (v[axis] - 1) + 1 - v[window] + 1
            return size if size >= 1 else None

        return Derived(f"{axis}o", rule)

    return LayerOp(
        f"conv_transpose{dims}d",
        "out = the stride-1 convolution (no padding) of w and b over x upsampled by k (k − 1 zeros between samples)",
        (Arg("x", ("N", "C", *axes)), Arg("w", ("F", "C", *windows)), Arg("b", ("F",))),
        (Size("N", 1, 2), Size("C", 1, 2), Size("F", 1, 2), *(Size(a, 1, 4) for a in axes), *(Size(w, 1, 3) for w in windows)),
        ("dx", "dw", "db"),
        out_shape=("N", "F", *(f"{a}o" for a in axes)),
        param="conv_param",
        hypers=(Hyper("factor", (2, 1, 3)),),
        derived=tuple(out(a, w) for a, w in zip(axes, windows)),
        **_bundled(f"conv_transpose{dims}d"),
    )


#: The regularisation strength of CS231n's linear classifiers, passed after y; shrinks to 0.5, at
#: which a term without its 2 in dW (or a ½ in the loss, the 2016 handout's) still shows.
_REG = Hyper("reg", (0.5, 0.0, 2.5), positional=True)


def _linear_classifier(loss: str, style: str) -> LayerOp:
    """CS231n assignment 1's `<loss>_loss_<style>(W, X, y, reg) -> (loss, dW)`: the classifier's
    scores X·W under svm_loss or softmax_loss, plus reg·ΣW² (the handout's given line, no ½),
    the gradient with respect to W only. W (D, C), X (N, D), y (N,) labels."""
    data = "Σ_n Σ_{j≠y_n} max(0, s_nj − s_n,y_n + 1)" if loss == "svm" else "−Σ_n log softmax(s_n)[y_n]"
    return LayerOp(
        f"{loss}_loss_{style}",
        f"L = (1/N)·{data} + reg·Σ W², s = X·W; dW = Xᵀ·∂L/∂s + 2·reg·W",
        (
            Arg("W", ("D", "C")),
            Arg("X", ("N", "D"), differentiable=False),
            Arg("y", ("N",), domain="labels:C", differentiable=False),
        ),
        (Size("N"), Size("D"), Size("C", 2, 5)),
        ("dW",),
        loss=True,
        hypers=(_REG,),
        shift_invariant=True,
        scores=ScoreShift(_through_bias, _without_bias),
        kinks="" if loss == "softmax" else "each hinge of the scores X·W at 0: margins > 0 count, the subgradient 0 there",
        branch=None if loss == "softmax" else _linear_svm_branch,
        torch=f"{_TORCH}:linear_{loss}_loss",
        jax=f"{_JAX}:linear_{loss}_loss",
    )


def _conv_out(axis: str, window: str) -> Derived:
    """H' = 1 + (H + 2·pad − HH)/stride, where the windows tile the padded input."""
    return Derived(f"{axis}o", lambda v: windows(v[axis], v[window], v["stride"], v["pad"]))


def _pool_out(axis: str, window: str) -> Derived:
    """H' = 1 + (H − pool_height)/stride, where the windows tile the input (no padding)."""
    return Derived(f"{axis}o", lambda v: windows(v[axis], v[window], v["stride"]))


#: What max_pool and avg_pool share: x (N, C, H, W), pool_param's window and stride, and the
#: windows that tile the input (no padding).
_POOLING: dict[str, Any] = {
    "args": (Arg("x", ("N", "C", "H", "W")),),
    "sizes": (Size("N", 1, 2), Size("C", 1, 2), Size("H", 1, 5), Size("W", 1, 5)),
    "grads": ("dx",),
    "out_shape": ("N", "C", "Ho", "Wo"),
    "param": "pool_param",
    "hypers": (Hyper("pool_height", (2, 1, 3)), Hyper("pool_width", (2, 1, 3)), Hyper("stride", (2, 1))),
    "derived": (_pool_out("H", "pool_height"), _pool_out("W", "pool_width")),
}


def _pool_branch(a: dict[str, np.ndarray]) -> np.ndarray:
    """The order of the values within each channel's plane: while it holds, every window keeps
    its maximum (a tie, where two values swap, is max-pool's kink)."""
    x = a["x"]
    return np.argsort(x.reshape(*x.shape[:2], -1), axis=-1).ravel()


# --------------------------------------------------------------------------- #
# CS231n assignment 3: recurrent networks. N sequences, T steps, D inputs, H hidden units.
# --------------------------------------------------------------------------- #

_RNN_SIZES = (Size("N", 1, 3), Size("T", 1, 3), Size("D", 1, 3), Size("H", 1, 3))
_STEP_SIZES = tuple(s for s in _RNN_SIZES if s.name != "T")


def _recurrent(gates: str = "") -> tuple[Arg, ...]:
    """Wx, Wh and b of a cell with `gates` blocks of H units ("" for one, "3" for the GRU's, "4"
    for the LSTM's)."""
    return (Arg("Wx", ("D", f"{gates}H")), Arg("Wh", ("H", f"{gates}H")), Arg("b", (f"{gates}H",)))


_RECURRENT: tuple[LayerOp, ...] = (
    LayerOp(
        "rnn_step",
        "next_h = tanh(x Wx + prev_h Wh + b)",
        (Arg("x", ("N", "D")), Arg("prev_h", ("N", "H")), *_recurrent()),
        _STEP_SIZES,
        ("dx", "dprev_h", "dWx", "dWh", "db"),
        outs=(("next_h", ("N", "H")),),
        **_bundled("rnn_step"),
    ),
    LayerOp(
        "rnn",
        "h_t = tanh(x_t Wx + h_{t−1} Wh + b), h_{−1} = h0; the backward adds each step's dh_t to the gradient from step t + 1",
        (Arg("x", ("N", "T", "D")), Arg("h0", ("N", "H")), *_recurrent()),
        _RNN_SIZES,
        ("dx", "dh0", "dWx", "dWh", "db"),
        outs=(("h", ("N", "T", "H")),),
        **_bundled("rnn"),
    ),
    LayerOp(
        "word_embedding",
        "out[n, t] = W[x[n, t]]; dW adds the gradients of a repeated index (np.add.at)",
        (Arg("x", ("N", "T"), domain="indices:V", differentiable=False), Arg("W", ("V", "D"))),
        (Size("N", 1, 3), Size("T", 1, 3), Size("V", 1, 5), Size("D", 1, 3)),
        ("dW",),
        out_shape=("N", "T", "D"),
        **_bundled("word_embedding"),
    ),
    LayerOp(
        "lstm_step",
        "a = x Wx + prev_h Wh + b = [i|f|o|g]; next_c = σ(f)·prev_c + σ(i)·tanh(g), next_h = σ(o)·tanh(next_c)",
        (Arg("x", ("N", "D")), Arg("prev_h", ("N", "H")), Arg("prev_c", ("N", "H")), *_recurrent("4")),
        _STEP_SIZES,
        ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"),
        outs=(("next_h", ("N", "H")), ("next_c", ("N", "H"))),
        **_bundled("lstm_step"),
    ),
    LayerOp(
        "gru_step",
        "a = x Wx + b, c = prev_h Wh, blocks [r|z|n]: r = σ(a_r + c_r), z = σ(a_z + c_z), n = tanh(a_n + r·c_n), next_h = (1 − z)·n + z·prev_h",
        (Arg("x", ("N", "D")), Arg("prev_h", ("N", "H")), *_recurrent("3")),
        _STEP_SIZES,
        ("dx", "dprev_h", "dWx", "dWh", "db"),
        outs=(("next_h", ("N", "H")),),
        **_bundled("gru_step"),
    ),
    LayerOp(
        "lstm",
        "(h_t, c_t) = lstm_step(x_t, h_{t−1}, c_{t−1}), c_{−1} = 0; h returned, the cell kept inside",
        (Arg("x", ("N", "T", "D")), Arg("h0", ("N", "H")), *_recurrent("4")),
        _RNN_SIZES,
        ("dx", "dh0", "dWx", "dWh", "db"),
        outs=(("h", ("N", "T", "H")),),
        **_bundled("lstm"),
    ),
    LayerOp(
        "temporal_affine",
        "out[n, t] = x[n, t] w + b",
        (Arg("x", ("N", "T", "D")), Arg("w", ("D", "M")), Arg("b", ("M",))),
        (Size("N", 1, 3), Size("T", 1, 3), Size("D", 1, 3), Size("M", 1, 3)),
        ("dx", "dw", "db"),
        out_shape=("N", "T", "M"),
        **_bundled("temporal_affine"),
    ),
    LayerOp(
        "temporal_softmax_loss",
        "L = −(1/N)·Σ_{n,t} mask[n, t]·log softmax(x[n, t])[y[n, t]] (divided by N, not by the kept steps)",
        (
            Arg("x", ("N", "T", "V")),
            Arg("y", ("N", "T"), domain="labels:V", differentiable=False),
            Arg("mask", ("N", "T"), domain="mask", differentiable=False),
        ),
        (Size("N", 1, 3), Size("T", 1, 3), Size("V", 2, 5)),
        ("dx",),
        loss=True,
        shift_invariant=True,
        **_bundled("temporal_softmax_loss"),
    ),
)

LAYER_OPS: dict[str, LayerOp] = {
    op.name: op
    for op in (
        LayerOp(
            "affine",
            "out = x.reshape(N, D) @ w + b",
            (Arg("x", ("N", "d*")), Arg("w", ("Πd", "M")), Arg("b", ("M",))),
            (Size("N"), Size("d", 1, 3, many=2), Size("M")),
            ("dx", "dw", "db"),
            out_shape=("N", "M"),
            **_bundled("affine"),
        ),
        LayerOp(
            "relu",
            "out = max(0, x)",
            (Arg("x", ("N", "D")),),
            (Size("N"), Size("D")),
            ("dx",),
            out_shape=("N", "D"),
            kinks="x = 0: CS231n's dx = dout·[x > 0] takes the subgradient 0 there",
            branch=_relu_branch,
            **_bundled("relu"),
        ),
        LayerOp(
            "gelu",
            "out = x·Φ(x), Φ(x) = ½(1 + erf(x/√2)) the standard normal's CDF (the exact GELU, not tanh's approximation)",
            (Arg("x", ("N", "D")),),
            (Size("N"), Size("D")),
            ("dx",),
            out_shape=("N", "D"),
            **_bundled("gelu"),
        ),
        LayerOp(
            "batchnorm",
            "train: out = γ·(x − μ_B)/√(σ²_B + ε) + β, μ_B, σ²_B (biased) over the batch; test: μ, σ² the running averages",
            (
                Arg("x", ("N", "D")),
                Arg("gamma", ("D",)),
                Arg("beta", ("D",)),
                Arg("running_mean", ("D",), differentiable=False, in_param=True, zeros_default=True),
                Arg("running_var", ("D",), domain="positive", differentiable=False, in_param=True, zeros_default=True),
            ),
            _NORM_SIZES,
            ("dx", "dgamma", "dbeta"),
            out_shape=("N", "D"),
            param="bn_param",
            hypers=(_MODE, _EPS, _MOMENTUM),
            state=("running_mean", "running_var"),
            alternatives=("batchnorm_backward_alt",),
            backward_when=_train_mode,
            **_bundled("batchnorm"),
        ),
        LayerOp(
            "layernorm",
            "out = γ·(x − μ_n)/√(σ²_n + ε) + β, μ_n, σ²_n (biased) over each sample's features",
            (Arg("x", ("N", "D")), Arg("gamma", ("D",)), Arg("beta", ("D",))),
            (Size("N", 1, 4), Size("D", 2, 5)),
            ("dx", "dgamma", "dbeta"),
            out_shape=("N", "D"),
            param="ln_param",
            hypers=(_EPS,),
            **_bundled("layernorm"),
        ),
        LayerOp(
            "dropout",
            "train: out = x·m/p, m_i ~ Bernoulli(p) (p the KEEP probability) from np.random.seed(seed); test: out = x",
            (Arg("x", ("N", "D")),),
            (Size("N"), Size("D")),
            ("dx",),
            out_shape=("N", "D"),
            param="dropout_param",
            hypers=(_MODE, Hyper("p", (0.5, 0.25, 0.8, 1.0)), Hyper("seed", _DROPOUT_SEEDS, shapes=False)),
            random=True,
            identity=_dropout_identity,
            **_bundled("dropout"),
        ),
        LayerOp(
            "softmax_loss",
            "L = −(1/N)·Σ_n log softmax(x_n)[y_n]",
            (Arg("x", ("N", "C")), Arg("y", ("N",), domain="labels:C", differentiable=False)),
            (Size("N"), Size("C", 2, 5)),
            ("dx",),
            loss=True,
            shift_invariant=True,
            **_bundled("softmax_loss"),
        ),
        LayerOp(
            "svm_loss",
            "L = (1/N)·Σ_n Σ_{j≠y_n} max(0, x_nj − x_n,y_n + 1)",
            (Arg("x", ("N", "C")), Arg("y", ("N",), domain="labels:C", differentiable=False)),
            (Size("N"), Size("C", 2, 5)),
            ("dx",),
            loss=True,
            shift_invariant=True,
            kinks="each hinge at x_nj − x_n,y_n + 1 = 0: CS231n counts margins > 0, the subgradient 0 there",
            branch=_svm_branch,
            **_bundled("svm_loss"),
        ),
        # CS231n assignment 1: the linear classifiers' losses, a loop and a vectorized form each
        *(_linear_classifier(loss, style) for loss in ("svm", "softmax") for style in ("naive", "vectorized")),
        # CS231n assignment 2: convolution, pooling, spatial normalisation
        LayerOp(
            "conv",
            "out[n, f, i, j] = Σ_{c,k,l} x̄[n, c, i·s + k, j·s + l]·w[f, c, k, l] + b[f], x̄ = x zero-padded by pad, s = stride",
            (Arg("x", ("N", "C", "H", "W")), Arg("w", ("F", "C", "HH", "WW")), Arg("b", ("F",))),
            (
                Size("N", 1, 2),
                Size("C", 1, 2),
                Size("F", 1, 2),
                Size("H", 1, 5),
                Size("W", 1, 5),
                Size("HH", 1, 3),
                Size("WW", 1, 3),
            ),
            ("dx", "dw", "db"),
            out_shape=("N", "F", "Ho", "Wo"),
            param="conv_param",
            hypers=(Hyper("stride", (1, 2)), Hyper("pad", (0, 1))),
            derived=(_conv_out("H", "HH"), _conv_out("W", "WW")),
            suffix="_naive",
            **_bundled("conv"),
        ),
        LayerOp(
            "max_pool",
            "out[n, c, i, j] = max of x[n, c, i·s : i·s + pool_height, j·s : j·s + pool_width], s = stride",
            **_POOLING,
            suffix="_naive",
            kinks="ties in a window: CS231n's argmax routes dout to the first maximum (row-major); draws have no ties",
            branch=_pool_branch,
            **_bundled("max_pool"),
        ),
        # Beyond CS231n (CMU 11-785's MyTorch has them): 1-D convolution and average pooling
        LayerOp(
            "conv1d",
            "out[n, f, i] = Σ_{c,k} x̄[n, c, i·s + k]·w[f, c, k] + b[f], x̄ = x zero-padded by pad at both ends, s = stride",
            (Arg("x", ("N", "C", "L")), Arg("w", ("F", "C", "K")), Arg("b", ("F",))),
            (Size("N", 1, 2), Size("C", 1, 2), Size("F", 1, 2), Size("L", 1, 5), Size("K", 1, 3)),
            ("dx", "dw", "db"),
            out_shape=("N", "F", "Lo"),
            param="conv_param",
            hypers=(Hyper("stride", (1, 2)), Hyper("pad", (0, 1))),
            derived=(_conv_out("L", "K"),),
            **_bundled("conv1d"),
        ),
        LayerOp(
            "avg_pool",
            "out[n, c, i, j] = mean of x[n, c, i·s : i·s + pool_height, j·s : j·s + pool_width], s = stride",
            **_POOLING,
            **_bundled("avg_pool"),
        ),
        *(_resampling(kind, dims) for dims in (1, 2) for kind in ("downsample", "upsample")),
        *(_transposed(dims) for dims in (1, 2)),
        LayerOp(
            "flatten",
            "out = x.reshape(N, d₁·…·d_k)",
            (Arg("x", ("N", "d*")),),
            (Size("N"), Size("d", 1, 3, many=2)),
            ("dx",),
            out_shape=("N", "Πd"),
            **_bundled("flatten"),
        ),
        LayerOp(
            "spatial_batchnorm",
            "batchnorm per channel: μ_c, σ²_c (biased) over the N·H·W values of channel c; running averages per channel",
            (
                Arg("x", ("N", "C", "H", "W")),
                Arg("gamma", ("C",)),
                Arg("beta", ("C",)),
                Arg("running_mean", ("C",), differentiable=False, in_param=True, zeros_default=True),
                Arg("running_var", ("C",), domain="positive", differentiable=False, in_param=True, zeros_default=True),
            ),
            (Size("N", 2, 3), Size("C", 1, 3), Size("H", 1, 3), Size("W", 1, 3)),
            ("dx", "dgamma", "dbeta"),
            out_shape=("N", "C", "H", "W"),
            param="bn_param",
            hypers=(_MODE, _EPS, _MOMENTUM),
            state=("running_mean", "running_var"),
            backward_when=_train_mode,
            **_bundled("spatial_batchnorm"),
        ),
        LayerOp(
            "spatial_groupnorm",
            "each sample's C channels in G contiguous groups; μ, σ² (biased) over a group's (C/G)·H·W values; γ, β per channel",
            (Arg("x", ("N", "C", "H", "W")), Arg("gamma", ("1", "C", "1", "1")), Arg("beta", ("1", "C", "1", "1"))),
            (Size("N", 1, 2), Size("Cg", 1, 2), Size("H", 1, 3), Size("W", 2, 3)),  # ≥ 2 values per group
            ("dx", "dgamma", "dbeta"),
            out_shape=("N", "C", "H", "W"),
            param="gn_param",
            hypers=(Hyper("G", (1, 2, 3), positional=True), _EPS),
            derived=(Derived("C", lambda v: v["G"] * v["Cg"]),),
            **_bundled("spatial_groupnorm"),
        ),
        # CS231n assignment 3: recurrent networks (impl/rnn_layers.py)
        *_RECURRENT,
    )
}

#: Every function the layer protocol's ops name, in table order.
LAYER_FUNCTIONS: tuple[str, ...] = tuple(f for op in LAYER_OPS.values() for f in op.functions)


@dataclass(frozen=True)
class Evaluation:
    """What a reference gives for one case: the output (a float for a loss), the new state by
    key, and the VJP of the cotangent (for a loss, the gradient) for each differentiable arg."""

    out: Any
    state: dict[str, np.ndarray]
    grads: tuple[np.ndarray, ...]


def split(op: LayerOp, result: Any) -> tuple[Any, dict[str, Any]]:
    """A reference's result as (output, state): ops with state return both."""
    return result if op.state else (result, {})
