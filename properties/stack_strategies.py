"""Hypothesis strategies for stack cases: chains of the layer ops whose shapes fit, shrinking small.

    dense_stacks()     affine → [batchnorm|layernorm]? → relu → [dropout]?, 1..3 times, → affine → softmax_loss|svm_loss
    conv_stacks()      conv → [spatial_batchnorm]? → relu → [max_pool]? → affine → softmax_loss
    sequence_stacks()  word_embedding → rnn|lstm → temporal_affine → temporal_softmax_loss
    residual_stacks()  [affine → relu]? → [f] + x → affine → softmax_loss|svm_loss,
                       f one of relu, affine → relu → affine (back to the width), batchnorm, layernorm, dropout

`ops` (keyword-only) are the ops that may be drawn: an optional op outside them is never drawn,
and a strategy raises NotInScope when one it cannot do without is outside them; `limits` are the
cases of them an adapter maps (properties/scope.py), each layer drawn inside them. Every choice
shrinks to the shortest chain (one block, no normalisation, no dropout, no pooling, the first
cell and loss), every size to its least (one sample, one unit; two classes; two features where a
layernorm normalises them, two samples where a batchnorm does), each hyperparameter to its first
choice (CS231n's defaults, train mode) and the seed to 0: a dense failure ends at e.g.
`affine → relu → affine → softmax_loss: x (1, 1); [0] w (1, 1), b (1,); [2] w (1, 2), b (2,); seed 0`.
Each layer's arrays come from the drawn seed plus its index.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_strategies import SEEDS
from gradverify.properties.scope import Limit, NotInScope, admits, layer_component
from gradverify.properties.stack_cases import StackCase
from gradverify.references.layer_spec import LAYER_OPS

Draw = Callable[[st.SearchStrategy[Any]], Any]
ALL_OPS: tuple[str, ...] = tuple(LAYER_OPS)
#: the residual block's f, by the ops it is made of
FORKS: tuple[tuple[str, ...], ...] = (("relu",), ("affine", "relu", "affine"), ("batchnorm",), ("layernorm",), ("dropout",))


def _needs(ops: tuple[str, ...], needed: tuple[str, ...]) -> None:
    """NotInScope naming the components of `needed` that `ops` leaves out."""
    left_out = [layer_component(op) for op in needed if op not in ops]
    if left_out:
        raise NotInScope(left_out)


def _width(max_width: Any) -> int:
    if not isinstance(max_width, int) or isinstance(max_width, bool) or max_width < 1:
        raise ValueError(f"max_width must be an integer >= 1, got {max_width!r}")
    return max_width


def _layer(draw: Draw, name: str, dims: dict[str, Any], seed: int, limits: tuple[Limit, ...] = ()) -> LayerCase:
    """A LayerCase of op `name` with `dims` (every size of the op), its hyperparameters drawn
    from the values `limits` allow (an adapter's LAYER_CASES, properties/scope.py); a draw
    outside them otherwise (a size tied to another) is rejected."""
    op = LAYER_OPS[name]
    allowed = {n: values for o, n, values in limits if o == name and not isinstance(values, str)}
    hyper = tuple(
        (h.name, draw(st.sampled_from([v for v in h.choices if v in allowed.get(h.name, h.choices)]))) for h in op.hypers
    )
    case = LayerCase(op, tuple((s.name, dims[s.name]) for s in op.sizes), hyper, seed)
    assume(admits(limits, case))
    return case


def _flat(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[1:]))


def dense_stacks(
    *, ops: tuple[str, ...] = ALL_OPS, max_depth: int = 3, max_width: int = 3, limits: tuple[Limit, ...] = ()
) -> st.SearchStrategy[StackCase]:
    """affine → [batchnorm|layernorm]? → relu → [dropout]? repeated 1..max_depth times, then affine →
    softmax_loss or svm_loss; widths in 1..max_width (a layernorm's at least 2)."""
    _needs(ops, ("affine", "relu"))
    losses = [loss for loss in ("softmax_loss", "svm_loss") if loss in ops]
    if not losses:
        raise NotInScope([layer_component("softmax_loss"), layer_component("svm_loss")])
    if not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"max_depth must be an integer >= 1, got {max_depth!r}")
    top = max(2, _width(max_width))
    norms = [None, *(n for n in ("batchnorm", "layernorm") if n in ops)]

    @st.composite
    def stacks(draw: Draw) -> StackCase:
        depth = draw(st.integers(1, max_depth))
        blocks = [(draw(st.sampled_from(norms)), "dropout" in ops and draw(st.booleans())) for _ in range(depth)]
        loss = draw(st.sampled_from(losses))
        N = draw(st.integers(2 if any(norm == "batchnorm" for norm, _ in blocks) else 1, 3))
        width = draw(st.integers(1, top))
        seed = draw(SEEDS)
        layers: list[LayerCase] = []

        def add(name: str, **dims: Any) -> None:
            layers.append(_layer(draw, name, {"N": N, **dims}, seed + len(layers), limits))

        for norm, dropout in blocks:
            out = draw(st.integers(2 if norm == "layernorm" else 1, top))
            add("affine", d=(width,), M=out)
            width = out
            if norm:
                add(norm, D=width)
            add("relu", D=width)
            if dropout:
                add("dropout", D=width)
        add("affine", d=(width,), M=draw(st.integers(2, top)))
        add(loss, C=layers[-1].sizes["M"])
        return StackCase("dense", tuple(layers))

    return stacks()


def conv_stacks(
    *, ops: tuple[str, ...] = ALL_OPS, max_width: int = 2, limits: tuple[Limit, ...] = ()
) -> st.SearchStrategy[StackCase]:
    """conv → [spatial_batchnorm]? → relu → [max_pool]? → affine → softmax_loss; images up to 4×4,
    channels and filters up to max_width; the windows tile their input (other draws rejected)."""
    _needs(ops, ("conv", "relu", "affine", "softmax_loss"))
    top = _width(max_width)

    @st.composite
    def stacks(draw: Draw) -> StackCase:
        norm = "spatial_batchnorm" in ops and draw(st.booleans())
        pool = "max_pool" in ops and draw(st.booleans())
        N = draw(st.integers(2 if norm else 1, 2))
        C, F = draw(st.integers(1, top)), draw(st.integers(1, top))
        H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        HH, WW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        seed = draw(SEEDS)
        conv = _layer(draw, "conv", {"N": N, "C": C, "F": F, "H": H, "W": W, "HH": HH, "WW": WW}, seed, limits)
        assume(conv.consistent)
        layers, shape = [conv], (N, F, conv.sizes["Ho"], conv.sizes["Wo"])

        def add(name: str, **dims: Any) -> LayerCase:
            layers.append(_layer(draw, name, {"N": N, **dims}, seed + len(layers), limits))
            return layers[-1]

        if norm:
            add("spatial_batchnorm", C=F, H=shape[2], W=shape[3])
        add("relu", D=_flat(shape))
        if pool:
            pooled = add("max_pool", C=F, H=shape[2], W=shape[3])
            assume(pooled.consistent)
            shape = (N, F, pooled.sizes["Ho"], pooled.sizes["Wo"])
        add("affine", d=shape[1:], M=draw(st.integers(2, max(2, top))))
        add("softmax_loss", C=layers[-1].sizes["M"])
        return StackCase("conv", tuple(layers))

    return stacks()


def sequence_stacks(
    *, ops: tuple[str, ...] = ALL_OPS, max_width: int = 3, limits: tuple[Limit, ...] = ()
) -> st.SearchStrategy[StackCase]:
    """word_embedding → rnn|lstm → temporal_affine → temporal_softmax_loss; N, T, the embedding
    and the hidden sizes up to max_width, a vocabulary of 1..5 words and 2..5 classes."""
    _needs(ops, ("word_embedding", "temporal_affine", "temporal_softmax_loss"))
    cells = [cell for cell in ("rnn", "lstm") if cell in ops]
    if not cells:
        raise NotInScope([layer_component("rnn"), layer_component("lstm")])
    top = _width(max_width)

    @st.composite
    def stacks(draw: Draw) -> StackCase:
        cell = draw(st.sampled_from(cells))
        N, T = draw(st.integers(1, top)), draw(st.integers(1, top))
        V, D, H, M = draw(st.integers(1, 5)), draw(st.integers(1, top)), draw(st.integers(1, top)), draw(st.integers(2, 5))
        seed = draw(SEEDS)
        layers = (
            _layer(draw, "word_embedding", {"N": N, "T": T, "V": V, "D": D}, seed, limits),
            _layer(draw, cell, {"N": N, "T": T, "D": D, "H": H}, seed + 1, limits),
            _layer(draw, "temporal_affine", {"N": N, "T": T, "D": H, "M": M}, seed + 2, limits),
            _layer(draw, "temporal_softmax_loss", {"N": N, "T": T, "V": M}, seed + 3, limits),
        )
        return StackCase("sequence", layers)

    return stacks()


def residual_stacks(
    *, ops: tuple[str, ...] = ALL_OPS, max_width: int = 3, limits: tuple[Limit, ...] = ()
) -> st.SearchStrategy[StackCase]:
    """[affine → relu]? → [f] + x → affine → softmax_loss|svm_loss, f one of FORKS in `ops`: a
    shape-preserving op, or affine → relu → affine back to the width (out = x + W₂ relu(W₁ x + b₁)
    + b₂, the ResNet block); the fork shrinks to [relu] + x."""
    _needs(ops, ("affine", "relu"))
    losses = [loss for loss in ("softmax_loss", "svm_loss") if loss in ops]
    if not losses:
        raise NotInScope([layer_component("softmax_loss"), layer_component("svm_loss")])
    forks = [f for f in FORKS if all(op in ops for op in f)]
    top = max(2, _width(max_width))

    @st.composite
    def stacks(draw: Draw) -> StackCase:
        before = draw(st.booleans())
        fork = draw(st.sampled_from(forks))
        loss = draw(st.sampled_from(losses))
        N = draw(st.integers(2 if "batchnorm" in fork else 1, 3))
        width = draw(st.integers(2 if "layernorm" in fork else 1, top))
        seed = draw(SEEDS)
        layers: list[LayerCase] = []

        def add(name: str, **dims: Any) -> None:
            layers.append(_layer(draw, name, {"N": N, **dims}, seed + len(layers), limits))

        if before:
            add("affine", d=(draw(st.integers(1, top)),), M=width)
            add("relu", D=width)
        start = len(layers)
        if fork == ("affine", "relu", "affine"):
            inner = draw(st.integers(1, top))
            add("affine", d=(width,), M=inner)
            add("relu", D=inner)
            add("affine", d=(inner,), M=width)
        else:
            add(fork[0], D=width)
        residual = (start, len(layers))
        add("affine", d=(width,), M=draw(st.integers(2, top)))
        add(loss, C=layers[-1].sizes["M"])
        return StackCase("residual", tuple(layers), residual)

    return stacks()


#: Each family's strategy, by StackCase.family.
STRATEGIES: dict[str, Callable[..., st.SearchStrategy[StackCase]]] = {
    "dense": dense_stacks,
    "conv": conv_stacks,
    "sequence": sequence_stacks,
    "residual": residual_stacks,
}


# --------------------------------------------------------------------------- #
# Coverage: one stack per family with every optional op, run first in every run (Property.coverage).
# --------------------------------------------------------------------------- #


def _fixed(name: str, seed: int, dims: dict[str, Any], **hyper: Any) -> LayerCase:
    """A LayerCase of op `name`, its hyperparameters `hyper` or else their first choices (CS231n's
    defaults, train mode)."""
    op = LAYER_OPS[name]
    chosen = tuple((h.name, hyper.get(h.name, h.choices[0])) for h in op.hypers)
    return LayerCase(op, tuple((s.name, dims[s.name]) for s in op.sizes), chosen, seed)


def _chain(family: str, *layers: tuple[Any, ...], residual: tuple[int, int] | None = None) -> StackCase:
    """(name, dims) or (name, dims, hyper) per layer, seeds 7, 8, …"""
    built = (_fixed(layer[0], 7 + i, layer[1], **(layer[2] if len(layer) > 2 else {})) for i, layer in enumerate(layers))
    return StackCase(family, tuple(built), residual)


def coverage(family: str) -> list[StackCase]:
    """Stacks with each optional op of the family: a batchnorm, a dropout, a layernorm and svm_loss;
    a spatial batchnorm and a max-pool after a padded conv; an LSTM; forks of an affine block, a
    batchnorm and a dropout. A case with an op out of scope is left out by the run (Scope.case_outside)."""
    N = 3
    if family == "dense":
        return [
            _chain(
                "dense",
                ("affine", {"N": N, "d": (3,), "M": 2}),
                ("batchnorm", {"N": N, "D": 2}),
                ("relu", {"N": N, "D": 2}),
                ("dropout", {"N": N, "D": 2}),
                ("affine", {"N": N, "d": (2,), "M": 3}),
                ("layernorm", {"N": N, "D": 3}),
                ("relu", {"N": N, "D": 3}),
                ("affine", {"N": N, "d": (3,), "M": 3}),
                ("svm_loss", {"N": N, "C": 3}),
            )
        ]
    if family == "conv":
        image = {"N": 2, "C": 2, "H": 4, "W": 4}
        return [
            _chain(
                "conv",
                ("conv", {**image, "C": 1, "F": 2, "HH": 3, "WW": 3}, {"pad": 1}),  # stride 1, pad 1: 4×4 stays 4×4
                ("spatial_batchnorm", image),
                ("relu", {"N": 2, "D": 32}),
                ("max_pool", image),  # 2×2 windows, stride 2
                ("affine", {"N": 2, "d": (2, 2, 2), "M": 3}),
                ("softmax_loss", {"N": 2, "C": 3}),
            )
        ]
    if family == "sequence":
        sizes = {"N": 2, "T": 3}
        return [
            _chain(
                "sequence",
                ("word_embedding", {**sizes, "V": 4, "D": 2}),
                ("lstm", {**sizes, "D": 2, "H": 2}),
                ("temporal_affine", {**sizes, "D": 2, "M": 3}),
                ("temporal_softmax_loss", {**sizes, "V": 3}),
            )
        ]
    head = (("affine", {"N": N, "d": (2,), "M": 2}), ("relu", {"N": N, "D": 2}))
    tail = (("affine", {"N": N, "d": (2,), "M": 3}), ("softmax_loss", {"N": N, "C": 3}))
    block = (("affine", {"N": N, "d": (2,), "M": 3}), ("relu", {"N": N, "D": 3}), ("affine", {"N": N, "d": (3,), "M": 2}))
    return [
        _chain("residual", *head, *block, *tail, residual=(2, 5)),
        _chain("residual", *head, ("batchnorm", {"N": N, "D": 2}), *tail, residual=(2, 3)),
        _chain("residual", *head, ("dropout", {"N": N, "D": 2}), *tail, residual=(2, 3)),
    ]
