"""A failing case as Python a student pastes into a notebook cell beside their functions: the
case's inputs written out exactly (each float as the shortest text that reads back as the same
float64) and the calls of the protocol's functions that the check made on them.

    z = np.array([[0.4130591002862377]])
    grad_a = np.array([[-0.3772016428069046]])
    a = activation('sigmoid', z)
    grad_z = activation_backward('sigmoid', z, grad_a)

A case of the layer protocol is its args, positional hyperparameters and parameter dict, each
upstream gradient, then `out, cache = conv_forward_naive(x, w, b, conv_param)` and
`dx, dw, db = conv_backward_naive(dout, cache)` (a loss: its one call).
One function per kind of case; `snippet` picks it. A case too large to write out (more than
MAX_NUMBERS numbers) has none: the shrunk cases the grader shows are a few numbers.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradverify.properties.cases import ActivationCase, DenseCase, Example, LossCase, TrainCase, materialize
from gradverify.properties.layer_cases import LayerCase

#: The most numbers a snippet writes out.
MAX_NUMBERS = 400


def literal(value: Any) -> str:
    """`value` as Python that rebuilds it exactly: arrays as np.array([...]) of their elements'
    reprs (an integer array's as ints), layers as dicts of them, other values by repr."""
    if isinstance(value, np.ndarray) and value.dtype == np.float32:
        return f"np.array({value.tolist()!r}, dtype=np.float32)"
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {literal(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return repr(value)


#: What a snippet is made of: (name, value) assignments, then the calls.
Parts = tuple[list[tuple[str, Any]], list[str]]


def _numbers(value: Any) -> int:
    """How many numbers writing `value` out takes."""
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, dict):
        return sum(_numbers(item) for item in value.values())
    if isinstance(value, list):
        return sum(_numbers(item) for item in value)
    return 1


def _activation(case: ActivationCase, functions: tuple[str, ...]) -> Parts:
    z, grad_a = case.arrays()
    return [("z", z), ("grad_a", grad_a)], [
        f"a = activation({case.name!r}, z)",
        f"grad_z = activation_backward({case.name!r}, z, grad_a)",
    ]


def _loss(case: LossCase, functions: tuple[str, ...]) -> Parts:
    y_pred, y_true = case.arrays()
    return [("y_pred", y_pred), ("y_true", y_true)], [
        f"value = loss({case.name!r}, y_pred, y_true)",
        f"grad_y_pred = loss_backward({case.name!r}, y_pred, y_true)",
    ]


def _dense(case: DenseCase, functions: tuple[str, ...]) -> Parts:
    x, W, b, grad_z = case.arrays()
    return [("x", x), ("W", W), ("b", b), ("grad_z", grad_z)], [
        "z = dense_forward(x, W, b)",
        "grad_x, grad_W, grad_b = dense_backward(x, W, grad_z)",
    ]


def _network(case: Example, functions: tuple[str, ...]) -> Parts:
    net, X, Y = materialize(case)
    return [("net", net), ("X", X), ("Y", Y)], ["loss_value, grads = network_gradients(net, X, Y)"]


def _training(case: TrainCase, functions: tuple[str, ...]) -> Parts:
    from gradverify.properties.training_checks import momentum_gradients, train_kwargs

    net, X, Y = materialize(case.example)
    if "train" in functions:
        arguments = ", ".join(f"{key}={value!r}" for key, value in train_kwargs(case).items())
        return [("net", net), ("X", X), ("Y", Y)], [f"trained, batch_losses = train(net, X, Y, {arguments})"]
    steps = momentum_gradients(case, net["layers"])
    assignments: list[tuple[str, Any]] = [("params", net["layers"]), ("velocity", None)]
    calls = []
    for step, grads in enumerate(steps, 1):
        assignments.append((f"grads_{step}", grads))
        calls.append(
            f"params, velocity = sgd_momentum_step(params, grads_{step}, velocity, lr={case.lr!r}, momentum={case.momentum!r})"
        )
    return assignments, calls


def _layer(case: LayerCase, functions: tuple[str, ...]) -> Parts:
    """An op of the layer protocol as the check calls it: its args, positional hyperparameters and
    parameter dict; the forward; each upstream gradient; the first backward on them (a loss: the
    one call)."""
    from gradverify.properties.layer_checks import param_dict
    from gradverify.references.layer_spec import shape_of

    op, arrays, hyper = case.op, case.arrays(), case.hypers
    assignments: list[tuple[str, Any]] = [(a.name, arrays[a.name]) for a in op.args if not a.in_param]
    assignments += [(h.name, hyper[h.name]) for h in op.hypers if h.positional]
    if op.param:
        assignments.append((op.param, param_dict(op, arrays, hyper, case.omitted)))
    called = ", ".join(name for name, _ in assignments)
    if op.loss:
        return assignments, [f"loss, {op.grads[0]} = {op.forward}({called})"]
    upstream = [
        (up, case.cotangent(shape_of(tokens, case.sizes), i)) for i, (up, (_, tokens)) in enumerate(zip(op.upstream, op.outputs))
    ]
    outs = ", ".join(name for name, _ in op.outputs)
    calls = [f"{outs}, cache = {op.forward}({called})"]
    calls.append(f"{', '.join(op.grads)} = {op.backwards[0]}({', '.join(up for up, _ in upstream)}, cache)")
    return assignments + upstream, calls


SNIPPETS: dict[type, Callable[[Any, tuple[str, ...]], Parts]] = {
    LayerCase: _layer,
    ActivationCase: _activation,
    LossCase: _loss,
    DenseCase: _dense,
    Example: _network,
    TrainCase: _training,
}


def snippet(case: Any, functions: tuple[str, ...] = (), *, calls: str | None = None) -> str | None:
    """The Python that rebuilds `case` and calls the protocol's `functions` on it as the check
    did (or, given `calls`, those lines: a course's API on the case's arrays, an adapter's
    SNIPPETS), or None for a case of another kind or one of more than MAX_NUMBERS numbers."""
    make = SNIPPETS.get(type(case))
    if make is None:
        return None
    assignments, made = make(case, functions)
    made = made if calls is None else calls.strip("\n").splitlines()
    if sum(_numbers(value) for _, value in assignments) > MAX_NUMBERS:
        return None
    return "\n".join(["import numpy as np", *(f"{name} = {literal(value)}" for name, value in assignments), *made])
