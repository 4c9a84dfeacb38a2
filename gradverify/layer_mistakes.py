"""The catalogue of layer mistakes that gradverify.layer_hints names: each a model of one bug.

    MISTAKES                 # one Mistake per known bug of an op: its diagnosis, quantity and model
    law_mistakes(op)         # the scale laws (−1, 2, ½, N, 1/N, 1/T × the right value) of every quantity

A `Mistake` models one bug students and libraries write in an op of the layer protocol
(batchnorm's dx without the paths through the batch statistics, dropout without its 1/p,
`dW[x] += dout` at repeated indices, BPTT without the gradient from the next step, …): a
function giving the value the mistaken code returns for one quantity of a `Probe` (a case as
the implementation and the reference see it), written beside the sentence that names it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from gradverify.diagnoses import Diagnosis
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_checks import outputs_of
from gradverify.references.layer_spec import LayerOp


@dataclass
class Probe:
    """One case as the implementation and the reference see it.

    got: the implementation's values by (function, quantity) — the forward's outputs ("out",
    "next_h", …; "loss" and "dx" for a loss), its state ("bn_param['running_mean']"), a random
    op's output called again with the same seed ("again"), each backward's grads ("dx", "dw", …);
    a value it failed to give is absent. right: the reference's values by quantity."""

    case: LayerCase
    arrays: dict[str, np.ndarray]
    douts: tuple[np.ndarray, ...]
    got: dict[tuple[str, str], Any] = field(default_factory=dict)
    right: dict[str, Any] = field(default_factory=dict)

    @property
    def op(self) -> LayerOp:
        return self.case.op

    @property
    def hyper(self) -> dict[str, Any]:
        return self.case.hypers

    @property
    def sizes(self) -> dict[str, Any]:
        return self.case.sizes

    def train(self) -> bool:
        return self.hyper.get("mode", "train") == "train"

    def reference(self, arrays: dict[str, np.ndarray] | None = None, torch_fn: Any = None, douts: Any = None) -> Any:
        """The torch reference's Evaluation at other arrays, with another torch function, or on
        other cotangents (a mistake is often the right op on something else)."""
        from gradverify.references import layer_torch

        op = self.op if torch_fn is None else replace(self.op, torch=torch_fn)
        upstream = douts if douts is not None else self.douts
        dout = None if op.loss else (upstream if len(upstream) > 1 else upstream[0])
        return layer_torch.evaluate(op, arrays if arrays is not None else self.arrays, self.hyper, dout)

    def grads(self, evaluation: Any) -> dict[str, np.ndarray]:
        return dict(zip(self.op.grads, evaluation.grads))


#: What a mistake gives on a probe: the mistaken value of its quantity, or None where the
#: mistake does not apply (another mode, a size that cannot show it).
Model = Callable[[Probe], Any]


@dataclass(frozen=True)
class Mistake:
    """One known bug: the value its quantity takes under it, and the sentence that names it."""

    diagnosis: Diagnosis
    ops: tuple[str, ...]
    #: the quantity it changes, as the check names it ("dx", "out", "loss", "bn_param['running_var']")
    quantity: str
    #: whether that quantity is a backward's result (else the forward's, or the loss's)
    backward: bool
    model: Model = field(compare=False)
    #: the hint; {function} is the function whose result it is, {checked} the siblings' sizes
    text: str
    #: compare only the shape (dx of the padded input)
    shape_only: bool = False
    #: sizes every sibling is drawn at instead (a mistake seen only on many entries)
    sizes: tuple[tuple[str, int], ...] = ()


# --------------------------------------------------------------------------- models
# Each is the mistaken code's value, in NumPy (or the torch reference on something else).


def _norm(x: np.ndarray, axes: tuple[int, ...], eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(x̂, 1/√(σ² + ε)) with μ, σ² (biased) over `axes`."""
    inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return (x - x.mean(axis=axes, keepdims=True)) * inv_std, inv_std


#: The axes each normalisation takes its statistics over, and their γ's shape for broadcasting.
_STATISTICS: dict[str, tuple[int, ...]] = {"batchnorm": (0,), "spatial_batchnorm": (0, 2, 3), "layernorm": (1,)}


def _gamma(p: Probe) -> np.ndarray:
    g = p.arrays["gamma"]
    return g.reshape(1, -1, 1, 1) if p.op.name == "spatial_batchnorm" else g


def _no_statistics_paths(p: Probe) -> np.ndarray | None:
    """dx = dout·γ/√(σ² + ε): x̂'s gradient as if μ and σ² did not depend on x (they do in train mode)."""
    if p.op.name != "layernorm" and not p.train():
        return None
    _, inv_std = _norm(p.arrays["x"], _STATISTICS[p.op.name], p.hyper["eps"])
    return p.douts[0] * _gamma(p) * inv_std


def _normalised_over(axes: tuple[int, ...]) -> Model:
    def model(p: Probe) -> np.ndarray | None:
        if p.op.name != "layernorm" and not p.train():
            return None
        beta = p.arrays["beta"].reshape(_gamma(p).shape)
        return _gamma(p) * _norm(p.arrays["x"], axes, p.hyper["eps"])[0] + beta

    return model


def _test_with_batch_statistics(p: Probe) -> np.ndarray | None:
    if p.train():
        return None
    beta = p.arrays["beta"].reshape(_gamma(p).shape)
    return _gamma(p) * _norm(p.arrays["x"], _STATISTICS[p.op.name], p.hyper["eps"])[0] + beta


def _running_unchanged(key: str) -> Model:
    return lambda p: p.arrays[key] if p.train() else None


def _groups_swapped(p: Probe) -> np.ndarray | None:
    """Channels as C/G groups of G: x.reshape(N, C/G, G, H, W), where G groups of C/G are meant."""
    x, G = p.arrays["x"], p.hyper["G"]
    N, C, H, W = x.shape
    x_hat = _norm(x.reshape(N, C // G, G, H, W), (2, 3, 4), p.hyper["eps"])[0].reshape(x.shape)
    return p.arrays["gamma"] * x_hat + p.arrays["beta"]


def kept_units(p: Probe) -> np.ndarray | None:
    """The units the implementation kept (out ≠ 0), when it gave an output of x's shape."""
    out = p.got.get((p.op.forward, "out"))
    return out != 0 if isinstance(out, np.ndarray) and out.shape == p.arrays["x"].shape else None


def _dropout_unscaled(p: Probe) -> np.ndarray | None:
    kept = kept_units(p)
    return None if not p.train() or kept is None else p.arrays["x"] * kept


def _dropout_scaled_at_test(p: Probe) -> np.ndarray | None:
    return None if p.train() else p.arrays["x"] * p.hyper["p"]


def _seed_ignored(p: Probe) -> np.ndarray | None:
    """Called again with the same seed, a mask of its own: the second output differs from the
    first (what it is does not matter, so the model is the second output itself, when it differs)."""
    out, again = p.got.get((p.op.forward, "out")), p.got.get((p.op.forward, "again"))
    if not p.train() or p.hyper["p"] == 1.0 or not isinstance(out, np.ndarray) or not isinstance(again, np.ndarray):
        return None  # keeping every unit, any seed gives the same mask
    return again if again.shape == out.shape and not np.array_equal(again, out) else out + 1.0


def _svm_counts_correct_class(p: Probe) -> float:
    """Σ_j over every class, the correct one too: its margin x_y − x_y + 1 = 1 for each sample, so 1 more."""
    return float(p.right["loss"]) + 1.0


def _reg_gradient(factor: float) -> Model:
    """dW with `factor`·reg·W for the regularisation's gradient where reg·ΣW² gives 2·reg·W."""

    def model(p: Probe) -> np.ndarray | None:
        right = p.right.get("dW")
        return None if right is None else np.asarray(right) + (factor - 2.0) * p.hyper["reg"] * p.arrays["W"]

    return model


def _svm_correct_column_missing(p: Probe) -> np.ndarray | None:
    """The SVM's dW without what each positive margin takes from the correct class's column:
    count_n·X_n/N, count_n the sample's positive margins, added back."""
    X, y, right = p.arrays["X"], p.arrays["y"].astype(int), p.right.get("dW")
    if right is None:
        return None
    rows, scores = np.arange(len(y)), X @ p.arrays["W"]
    margins = scores - scores[rows, y][:, None] + 1.0
    margins[rows, y] = 0.0
    taken = np.zeros_like(scores)
    taken[rows, y] = (margins > 0).sum(axis=1)
    return np.asarray(right) + X.T @ taken / len(y)


def _padded(p: Probe) -> np.ndarray | None:
    pad = p.hyper.get("pad", 0)
    if not pad:
        return None
    x = p.arrays["x"]
    return np.zeros((*x.shape[:2], *(n + 2 * pad for n in x.shape[2:])))


def _last_sample(quantity: str) -> Model:
    """A parameter's gradient from the last sample alone: `dw = …` inside the loop over n."""

    def model(p: Probe) -> np.ndarray | None:
        if len(p.arrays["x"]) < 2:
            return None
        last = {k: (v[-1:] if k == "x" else v) for k, v in p.arrays.items()}
        return p.grads(p.reference(last, douts=tuple(d[-1:] for d in p.douts)))[quantity]

    return model


def _every_element(p: Probe) -> np.ndarray:
    """max_pool's dout added to every element of its window, not to the maximum alone."""
    x, dout, h = p.arrays["x"], p.douts[0], p.hyper
    PH, PW, s = h["pool_height"], h["pool_width"], h["stride"]
    dx = np.zeros_like(x)
    for i, j in itertools.product(range(dout.shape[2]), range(dout.shape[3])):
        dx[:, :, i * s : i * s + PH, j * s : j * s + PW] += dout[:, :, i : i + 1, j : j + 1]
    return dx


def _shared_by(count: Callable[[Probe], int]) -> Model:
    """avg_pool's dx with each dout divided by `count` instead of the window's size ph·pw."""

    def model(p: Probe) -> np.ndarray:
        return p.right["dx"] * (p.hyper["pool_height"] * p.hyper["pool_width"]) / count(p)

    return model


def _assigned_at_repeats(p: Probe) -> np.ndarray:
    """dW[x] += dout: NumPy's buffered fancy-index update keeps one gradient per distinct index."""
    x, dout = p.arrays["x"], p.douts[0]
    dW = np.zeros_like(p.arrays["W"])
    dW[x] += dout
    return dW


def _mask_ignored(quantity: str) -> Model:
    def model(p: Probe) -> Any:
        everything = p.reference({**p.arrays, "mask": np.ones_like(p.arrays["mask"])})
        return everything.out if quantity == "loss" else everything.grads[0]

    return model


def _truncated_bptt(quantity: str) -> Model:
    """BPTT with each step fed its own dh_t only: the torch reference with h_{t−1} detached for t ≥ 1."""

    def rnn(a: dict[str, Any], h: dict[str, Any]) -> Any:
        import torch

        from gradverify.references.layer_torch import _rnn_cell

        hs, prev = [], a["h0"]
        for t in range(a["x"].shape[1]):
            prev = _rnn_cell(a["x"][:, t], prev if t == 0 else prev.detach(), a["Wx"], a["Wh"], a["b"])
            hs.append(prev)
        return torch.stack(hs, dim=1)

    def model(p: Probe) -> np.ndarray | None:
        return None if p.sizes["T"] < 2 else p.grads(p.reference(torch_fn=rnn))[quantity]

    return model


def _no_path_through_tanh_c(quantity: str) -> Model:
    """lstm_step's backward with dc = dnext_c: next_h = σ(o)·tanh(next_c) with next_c detached."""

    def cell(a: dict[str, Any], h: dict[str, Any]) -> Any:
        import torch

        H = a["prev_h"].shape[1]
        z = a["x"] @ a["Wx"] + a["prev_h"] @ a["Wh"] + a["b"]
        i, f, o, g = (
            torch.sigmoid(z[:, :H]),
            torch.sigmoid(z[:, H : 2 * H]),
            torch.sigmoid(z[:, 2 * H : 3 * H]),
            torch.tanh(z[:, 3 * H :]),
        )
        next_c = f * a["prev_c"] + i * g
        return o * torch.tanh(next_c.detach()), next_c

    return lambda p: p.grads(p.reference(torch_fn=cell))[quantity]


def _gru(*, reset_first: bool = False, direct_path: bool = True) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    """The GRU cell in torch with a ([r | z | n] blocks): `reset_first` applies r to prev_h
    before Wh_n's product (Cho et al.'s form); without `direct_path` next_h's z·prev_h term is
    cut from the graph (its gradient dnext_h·z dropped)."""

    def cell(a: dict[str, Any], h: dict[str, Any]) -> Any:
        import torch

        H = a["prev_h"].shape[1]
        xs, prev, Wh = a["x"] @ a["Wx"] + a["b"], a["prev_h"], a["Wh"]
        r = torch.sigmoid(xs[:, :H] + prev @ Wh[:, :H])
        z = torch.sigmoid(xs[:, H : 2 * H] + prev @ Wh[:, H : 2 * H])
        hidden = (r * prev) @ Wh[:, 2 * H :] if reset_first else r * (prev @ Wh[:, 2 * H :])
        n = torch.tanh(xs[:, 2 * H :] + hidden)
        return (1 - z) * n + z * (prev if direct_path else prev.detach())

    return cell


def _gru_mistake(quantity: str, **form: bool) -> Model:
    def model(p: Probe) -> Any:
        evaluation = p.reference(torch_fn=_gru(**form))
        return evaluation.out if quantity == "next_h" else p.grads(evaluation)[quantity]

    return model


_GATES = "ifog"


def _gates_in(order: str, output: str) -> Model:
    """The LSTM's forward with a's blocks read in `order` (a permutation of "ifog"): the right
    forward on Wx, Wh and b with their gate blocks permuted."""
    take = [order.index(gate) for gate in _GATES]

    def permuted(w: np.ndarray) -> np.ndarray:
        blocks = np.split(w, 4, axis=-1)
        return np.concatenate([blocks[k] for k in take], axis=-1)

    def model(p: Probe) -> np.ndarray:
        arrays = {**p.arrays, **{k: permuted(p.arrays[k]) for k in ("Wx", "Wh", "b")}}
        out = p.reference(arrays).out
        return dict(zip((name for name, _ in p.op.outputs), outputs_of(p.op, out)))[output]

    return model


# --------------------------------------------------------------------------- the table


def _m(diagnosis: Diagnosis, ops: str, quantity: str, model: Model, text: str, *, backward: bool = False, **kw: Any) -> Mistake:
    return Mistake(diagnosis, tuple(ops.split()), quantity, backward, model, text, **kw)


_NORMS = "batchnorm spatial_batchnorm"
_LINEAR = "svm_loss_naive svm_loss_vectorized softmax_loss_naive softmax_loss_vectorized"

#: The catalogued layer bugs (tests/layer_variants), each with its model and its sentence.
MISTAKES: tuple[Mistake, ...] = (
    _m(
        Diagnosis.NORM_NO_STATISTICS_PATHS,
        f"{_NORMS} layernorm",
        "dx",
        _no_statistics_paths,
        "{function}'s dx is dout·γ/√(σ² + ε) alone (checked on {checked}): the mean μ and the variance σ² are "
        "computed from x too, so dx also has their paths: dx = (γ/√(σ² + ε))·(dout − mean(dout) − x̂·mean(dout·x̂)), "
        "the means over the values each statistic is taken over.",
        backward=True,
    ),
    *(
        _m(
            Diagnosis.RUNNING_NOT_UPDATED,
            _NORMS,
            f"bn_param[{key!r}]",
            _running_unchanged(key),
            "{function} leaves bn_param's running averages as they were in train mode (checked on {checked}): each "
            "train-mode call updates them, running = momentum·running + (1 − momentum)·(the batch's statistic).",
        )
        for key in ("running_mean", "running_var")
    ),
    _m(
        Diagnosis.TEST_BATCH_STATISTICS,
        _NORMS,
        "out",
        _test_with_batch_statistics,
        "In test mode {function} normalises with the batch's own mean and variance (checked on {checked}): test mode "
        "uses bn_param's running_mean and running_var, so that a sample's output does not depend on its batch.",
    ),
    _m(
        Diagnosis.NORM_WRONG_AXIS,
        "layernorm",
        "out",
        _normalised_over((0,)),
        "{function} takes its mean and variance over the batch (axis 0) (checked on {checked}): layernorm normalises "
        "each sample over its own features (axis 1).",
    ),
    _m(
        Diagnosis.NORM_WRONG_AXIS,
        "batchnorm",
        "out",
        _normalised_over((1,)),
        "{function} takes its mean and variance over each sample's features (axis 1) (checked on {checked}): batchnorm "
        "normalises each feature over the batch (axis 0).",
    ),
    _m(
        Diagnosis.NORM_WRONG_AXIS,
        "spatial_batchnorm",
        "out",
        _normalised_over((0,)),
        "{function} normalises each (c, h, w) over the batch alone (checked on {checked}): spatial batchnorm takes "
        "each channel's mean and variance over its N·H·W values, axes (0, 2, 3).",
    ),
    _m(
        Diagnosis.GROUPS_SWAPPED,
        "spatial_groupnorm",
        "out",
        _groups_swapped,
        "{function} groups the channels as C/G groups of G (checked on {checked}): G is the number of groups, each of "
        "C/G contiguous channels, x.reshape(N, G, C // G, H, W).",
    ),
    _m(
        Diagnosis.DROPOUT_NOT_SCALED,
        "dropout",
        "out",
        _dropout_unscaled,
        "In train mode {function} keeps x itself on the units it keeps (checked on {checked}): inverted dropout divides "
        "them by p, the keep probability, so that test mode needs no scaling.",
    ),
    _m(
        Diagnosis.DROPOUT_SCALED_AT_TEST,
        "dropout",
        "out",
        _dropout_scaled_at_test,
        "In test mode {function} returns x·p (checked on {checked}): with inverted dropout (the 1/p in train mode) "
        "test mode is the identity, out = x.",
    ),
    _m(
        Diagnosis.DROPOUT_SEED_IGNORED,
        "dropout",
        "again",
        _seed_ignored,
        "Called twice with the same dropout_param, {function} drew two different masks (checked on {checked}): in "
        "train mode call np.random.seed(dropout_param['seed']) when the dict has a seed, before drawing the mask.",
        sizes=(("N", 16), ("D", 16)),
    ),
    _m(
        Diagnosis.CORRECT_CLASS_COUNTED,
        "svm_loss",
        "loss",
        _svm_counts_correct_class,
        "{function}'s loss is 1 more than the right one (checked on {checked}): the correct class's own margin "
        "x_y − x_y + 1 = 1 is counted; the hinge sum runs over the classes j ≠ y only.",
    ),
    _m(
        Diagnosis.CORRECT_CLASS_GRADIENT_MISSING,
        "svm_loss_naive svm_loss_vectorized",
        "dW",
        _svm_correct_column_missing,
        "{function}'s dW misses the correct class's column (checked on {checked}): each positive margin "
        "s_j − s_y + 1 adds X_n to column j and takes X_n from column y_n (dW[:, y[n]] -= X[n]).",
    ),
    _m(
        Diagnosis.REG_GRADIENT,
        _LINEAR,
        "dW",
        _reg_gradient(1.0),
        "{function}'s dW has reg·W for the regularisation (checked on {checked}): the loss adds reg·ΣW², "
        "whose gradient is 2·reg·W (reg·W belongs to ½·reg·ΣW², an older handout's).",
    ),
    _m(
        Diagnosis.REG_GRADIENT,
        _LINEAR,
        "dW",
        _reg_gradient(0.0),
        "{function}'s dW has no regularisation (checked on {checked}): the loss adds reg·ΣW², so dW adds 2·reg·W.",
    ),
    _m(
        Diagnosis.PADDING_NOT_CROPPED,
        "conv conv1d",
        "dx",
        _padded,
        "{function}'s dx has the padded input's shape (checked on {checked}): crop the padding off "
        "(dx_pad[..., pad:-pad]) so that dx has x's shape.",
        backward=True,
        shape_only=True,
    ),
    *(
        _m(
            Diagnosis.BATCH_OVERWRITTEN,
            "conv conv1d",
            q,
            _last_sample(q),
            "{function}'s " + q + " is the last sample's alone (checked on {checked}): the samples' gradients overwrite "
            "each other where they add up (set it to zeros once, before the loop over the samples, and add to it).",
            backward=True,
        )
        for q in ("dw", "db")
    ),
    _m(
        Diagnosis.POOL_EVERY_ELEMENT,
        "max_pool",
        "dx",
        _every_element,
        "{function} gives dout to every element of its window (checked on {checked}): only the window's maximum "
        "reaches the output, so only it gets the gradient (the others get 0).",
        backward=True,
    ),
    _m(
        Diagnosis.POOL_SHARE,
        "avg_pool",
        "dx",
        _shared_by(lambda p: 1),
        "{function} gives each dout whole to every element of its window (checked on {checked}): out is the "
        "window's mean, so each element gets dout/(pool_height·pool_width).",
        backward=True,
    ),
    _m(
        Diagnosis.POOL_SHARE,
        "avg_pool",
        "dx",
        _shared_by(lambda p: p.sizes["Ho"] * p.sizes["Wo"]),
        "{function} divides dout by the number of windows H'·W' (checked on {checked}): out is each window's mean, "
        "so each element gets dout/(pool_height·pool_width).",
        backward=True,
    ),
    _m(
        Diagnosis.REPEATED_INDICES_LOST,
        "word_embedding",
        "dW",
        _assigned_at_repeats,
        "{function}'s dW keeps one gradient per distinct word (checked on {checked}): dW[x] += dout updates a "
        "repeated index once; np.add.at(dW, x, dout) adds every occurrence.",
        backward=True,
    ),
    *(
        _m(
            Diagnosis.MASK_IGNORED,
            "temporal_softmax_loss",
            q,
            _mask_ignored(q),
            "{function}'s " + q + " counts every step, the masked ones too (checked on {checked}): multiply each "
            "step's loss, and its gradient, by mask[n, t].",
        )
        for q in ("loss", "dx")
    ),
    *(
        _m(
            Diagnosis.NO_GRADIENT_FROM_NEXT_STEP,
            "rnn",
            q,
            _truncated_bptt(q),
            "{function}'s " + q + " is what BPTT gives without the gradient from the next step (checked on "
            "{checked}): step t's backward takes dh[:, t] plus the dprev_h that step t + 1's backward returned.",
            backward=True,
        )
        for q in ("dx", "dh0", "dWx", "dWh", "db")
    ),
    *(
        _m(
            Diagnosis.NO_PATH_THROUGH_TANH_C,
            "lstm_step",
            q,
            _no_path_through_tanh_c(q),
            "{function}'s " + q + " leaves out the gradient that reaches next_c through next_h = o·tanh(next_c) "
            "(checked on {checked}): dnext_c + dnext_h·o·(1 − tanh²(next_c)) is next_c's gradient.",
            backward=True,
        )
        for q in ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
    ),
    _m(
        Diagnosis.RESET_BEFORE_PRODUCT,
        "gru_step",
        "next_h",
        _gru_mistake("next_h", reset_first=True),
        "{function}'s next_h is Cho et al.'s GRU, n = tanh(x·Wx_n + b_n + (r·prev_h)·Wh_n) (checked on {checked}): "
        "the protocol's, torch's GRUCell, applies the reset gate after the product, r·(prev_h·Wh_n).",
    ),
    _m(
        Diagnosis.NO_DIRECT_PATH,
        "gru_step",
        "dprev_h",
        _gru_mistake("dprev_h", direct_path=False),
        "{function}'s dprev_h leaves out next_h's own z·prev_h term (checked on {checked}): dprev_h also has "
        "dnext_h·z, beside the paths through r, z and n.",
        backward=True,
    ),
    *(
        _m(
            Diagnosis.GATE_ORDER,
            ops,
            output,
            _gates_in("".join(order), output),
            "{function}'s " + output + " is what the gates give in the order [" + " | ".join(order) + "] (checked on "
            "{checked}): the blocks of a = x·Wx + prev_h·Wh + b are [i | f | o | g], H columns each.",
        )
        for order in itertools.permutations(_GATES)
        if "".join(order) != _GATES
        for ops, output in (("lstm_step", "next_h"), ("lstm_step", "next_c"), ("lstm", "h"))
    ),
)


# --------------------------------------------------------------------------- scale laws

#: (name, factor of the probe, why): a quantity that is `factor` × the right value.
_LAWS: tuple[tuple[str, Callable[[Probe], float | None], Diagnosis, str], ...] = (
    ("−1", lambda p: -1.0, Diagnosis.SIGN, "the sign is flipped"),
    ("2", lambda p: 2.0, Diagnosis.HALF, "look for a factor 2 too many (or a ½ too few)"),
    ("½", lambda p: 0.5, Diagnosis.HALF, "look for an extra ½ (or a missing 2)"),
    ("N", lambda p: float(p.sizes["N"]), Diagnosis.BATCH_MEAN, "a sum over the N samples where the mean (1/N)·Σ is meant"),
    ("1/N", lambda p: 1.0 / p.sizes["N"], Diagnosis.BATCH_MEAN, "a mean over the N samples where the sum Σ_n is meant"),
    (
        "1/T",
        lambda p: 1.0 / p.sizes["T"] if "T" in p.sizes else None,
        Diagnosis.STEP_MEAN,
        "divided by the T steps too: CS231n's temporal loss divides by N only",
    ),
)


def _scaled(quantity: str, factor: Callable[[Probe], float | None]) -> Model:
    def model(p: Probe) -> Any:
        c = factor(p)
        right = p.right.get(quantity)
        return None if c is None or right is None else np.asarray(right) * c

    return model


def law_mistakes(op: LayerOp) -> tuple[Mistake, ...]:
    """One mistake per law and per quantity of the op: its outputs (or loss) and its grads."""
    forward = ("loss",) if op.loss else tuple(name for name, _ in op.outputs)
    quantities = [(q, False) for q in forward] + [(g, not op.loss) for g in op.grads]
    return tuple(
        Mistake(
            diagnosis,
            (op.name,),
            q,
            backward,
            _scaled(q, factor),
            "{function}'s " + q + " is " + name + " × the right value (checked on {checked}): " + why + ".",
        )
        for q, backward in quantities
        for name, factor, diagnosis, why in _LAWS
    )
