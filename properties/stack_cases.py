"""A stack case: a chain of the layer protocol's ops ending in a loss, with at most one residual fork.

    affine → relu → affine → softmax_loss                       (StackCase.chain())
    [affine → relu → affine] + x → affine → softmax_loss        (a residual fork over layers 0..2)

Each layer is a LayerCase (properties/layer_cases.py) whose sizes fit the chain: the first
layer's x is the stack's input, every later layer's x is the output of the one before it (for
a fork's end, f(x) + x, with x the input of the fork's first layer), and its other arrays —
weights, labels, running averages — are drawn from its own seed as a single op's case draws
them. A shape-preserving op (relu, dropout, the normalisations) keeps its input's shape, so a
relu in a conv stack takes a 4-D x; only the x of an op with other arrays is checked against
its sizes (`problems`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradverify.properties.layer_cases import LayerCase
from gradverify.references.layer_spec import LayerOp, shape_of

#: The kinds of stack drawn (properties/stack_strategies.py), one property each.
FAMILIES: tuple[str, ...] = ("dense", "conv", "sequence", "residual")


def preserves_shape(op: LayerOp) -> bool:
    """Whether the op's output has its input's shape whatever that is (relu, dropout, the norms)."""
    return not op.loss and op.outputs[0][1] == op.args[0].shape


@dataclass(frozen=True)
class StackCase:
    family: str
    layers: tuple[LayerCase, ...]
    #: (start, stop): layers[start:stop] are f of a fork whose output is f(x) + x; None: no fork
    residual: tuple[int, int] | None = None

    @property
    def ops(self) -> tuple[LayerOp, ...]:
        return tuple(layer.op for layer in self.layers)

    def chain(self) -> str:
        """The ops in order, a fork in brackets: '[affine → relu → affine] + x → affine → softmax_loss'."""
        names = [layer.op.name for layer in self.layers]
        if self.residual is not None:
            start, stop = self.residual
            names[start:stop] = [f"[{' → '.join(names[start:stop])}] + x"]
        return " → ".join(names)

    def input_shape(self) -> tuple[int, ...]:
        first = self.layers[0]
        return shape_of(first.op.args[0].shape, first.sizes)

    def shapes(self) -> list[tuple[int, ...]]:
        """The shape of each layer's input x, in order (the loss's scores last)."""
        shapes, shape = [], self.input_shape()
        for layer in self.layers:
            shapes.append(shape)
            if not preserves_shape(layer.op) and not layer.op.loss:
                shape = shape_of(layer.op.outputs[0][1], layer.sizes)
        return shapes

    def arrays(self) -> list[dict[str, np.ndarray]]:
        """Each layer's arrays by name, drawn from its seed; x only for the first (the stack's
        input), every later layer's x being the output of the one before."""
        drawn = [layer.arrays() for layer in self.layers]
        return [drawn[0], *({k: v for k, v in a.items() if k != "x"} for a in drawn[1:])]

    def describe(self) -> str:
        """e.g. 'affine → relu → affine → softmax_loss: x (1, 1); [0] w (1, 2); [2] w (2, 2); seed 0'"""
        parts = [f"x {self.input_shape()}"]
        for i, layer in enumerate(self.layers):
            own = [f"{a.name} {shape_of(a.shape, layer.sizes)}" for a in layer.op.args[1:] if a.differentiable and not a.in_param]
            hyper = [f"{k} {v!r}" for k, v in layer.hyper]
            if own or hyper:
                parts.append(f"[{i}] " + ", ".join([*own, *hyper]))
        return f"{self.chain()}: {'; '.join(parts)}; seed {self.layers[0].seed}"

    def to_json(self) -> dict[str, Any]:
        layers = [{"op": c.op.name, "dims": dict(c.dims), "hyper": dict(c.hyper), "seed": c.seed} for c in self.layers]
        return {"family": self.family, "layers": layers, "residual": list(self.residual) if self.residual else None}


def problems(case: StackCase) -> list[str]:
    """What makes `case` not a stack: [] when its shapes chain and it ends in its one loss."""
    found = []
    if case.family not in FAMILIES:
        found.append(f"unknown family {case.family!r}")
    if not case.layers or not case.layers[-1].op.loss or any(layer.op.loss for layer in case.layers[:-1]):
        found.append("a stack ends in a loss and has no other")
        return found
    if not all(layer.consistent for layer in case.layers):
        return [*found, "a layer's sizes admit none of its derived sizes"]
    shapes = case.shapes()
    if case.residual is not None:
        start, stop = case.residual
        if not 0 <= start < stop < len(case.layers):
            return [*found, f"the fork {case.residual} is not a span of layers before the loss"]
        if shapes[start] != shapes[stop]:
            found.append(f"the fork's f maps {shapes[start]} to {shapes[stop]}: f(x) + x needs one shape")
    for i, (layer, shape) in enumerate(zip(case.layers, shapes)):
        # an op with arrays of its own (weights, γ, labels) must fit its input; relu and dropout fit any
        wanted = shape_of(layer.op.args[0].shape, layer.sizes)
        if len(layer.op.args) > 1 and wanted != shape:
            found.append(f"layer {i} ({layer.op.name}) takes x {wanted}, gets {shape}")
    return found
