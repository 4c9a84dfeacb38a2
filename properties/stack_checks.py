"""The check of a stack: the implementation's own ops run in a chain, against PyTorch and finite differences.

    comparisons = check_stack(impl, case)      # case: a StackCase (properties/stack_cases.py)

What a single op's check cannot see is what one op does to another's arrays: a cache holding an
array that a later op changes, an output or a gradient handed on while the op keeps writing to
it. So the arrays are handed on as the implementation returned them, never copied:

  1. The forwards in order, each on the previous output (at a fork's end on f(x) + x), each
     cache kept; the loss gives (loss, dx). Every array an op returns must share memory with no
     array the stack returned before it (Cause.ALIASED, located at the op that returned it),
     but an identity op's out = x and dx = dout (dropout in test mode), as for the single op.
  2. The backwards in reverse order, each on the dx the one after it returned; at a fork's
     start the upstream gradient is f's dx plus the gradient the fork's end was given (the skip).
  3. Against torch.autograd through the same ops' torch references composed
     (references/stack_torch.py): each layer's output and its dx as the implementation returned
     them (the next op takes them at once), the loss, every parameter gradient as it stands once
     the whole backward is done (what an optimiser would read), the fork's summed dx.
  4. ⟨grad, u⟩ of every parameter and of the stack's input against the directional finite
     difference of the loss of the implementation's own forward chain (oracle "finite
     differences", tolerance finite_diff); a point on a kink of any op in the chain is rejected.

JAX is not composed here (its compile per stack shape would cost more than the whole check);
each op is checked against JAX on its own. Where a comparison is: Where(oracle="torch",
function="batchnorm_backward", layer=2, quantity="dgamma") — `layer` is the index in the stack,
the op is the function's (and case.layers[2].op).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from gradverify.properties.calls import ImplFailure, call, expect_float, expect_pair
from gradverify.properties.layer_checks import identity_aliases, is_whole, param_dict
from gradverify.properties.shared import Rejected
from gradverify.properties.stack_cases import StackCase
from gradverify.references.compare import Cause, Comparison, Where, compare, failed
from gradverify.references.finite_diff import NotSmoothHere, directional
from gradverify.references.layer_spec import LayerOp

FD = "finite differences"
#: The quantity of the gradient at a fork's input: f's dx plus the skip's.
FORK_DX = "dx of f(x) + x"


@dataclass
class Run:
    """One pass of the implementation through a stack: per layer its input x as passed, a copy
    of its output taken when it was returned, its cache; the loss and its dx; the comparisons
    that failed on the way (aliasing)."""

    inputs: list[Any] = field(default_factory=list)
    seen: list[Any] = field(default_factory=list)
    caches: list[Any] = field(default_factory=list)
    loss: float = float("nan")
    dscores: Any = None
    problems: list[Comparison] = field(default_factory=list)
    #: every array the stack returned so far: (where it came from, the array)
    returned: list[tuple[Where, np.ndarray]] = field(default_factory=list)


def _positional(op: LayerOp, x: Any, arrays: dict[str, np.ndarray], hyper: dict[str, Any]) -> list[Any]:
    """The forward's arguments: x as given (never a copy), copies of the layer's other arrays,
    the positional hyperparameters, a fresh parameter dict."""
    others = [arrays[a.name].copy() for a in op.args[1:] if not a.in_param]
    positional = [hyper[h.name] for h in op.hypers if h.positional]
    return [x, *others, *positional, *([param_dict(op, arrays, hyper)] if op.param else [])]


def _note(run: Run, where: Where, value: Any, own: Any, may_be_own: bool) -> None:
    """value, just returned at `where`, against every array returned before it: a failing
    comparison for the first it shares memory with (an identity op may return `own` whole)."""
    if not isinstance(value, np.ndarray):
        return
    if not (may_be_own and isinstance(own, np.ndarray) and is_whole(value, own)):
        for earlier, array in run.returned:
            if np.shares_memory(value, array):
                message = (
                    f"returned {where.quantity} sharing memory with the {earlier.quantity} that "
                    f"stack[{earlier.layer}] {earlier.function} returned (a later write to one changes the other)"
                )
                run.problems.append(failed(where, Cause.ALIASED, message))
                break
    run.returned.append((where, value))


def _shaped(function: str, value: Any, shape: tuple[int, ...], what: str) -> Any:
    """value, when it is an ndarray of `shape` that the next op can take; else ImplFailure (the
    op's own check says more)."""
    if not isinstance(value, np.ndarray):
        raise ImplFailure(
            function, Cause.WRONG_FORM, f"returned a {type(value).__name__} as {what}, where the stack needs an ndarray"
        )
    if value.shape != shape:
        raise ImplFailure(function, Cause.SHAPE, f"returned {what} of shape {value.shape}, where the stack needs {shape}")
    return value


def run_forward(impl: ModuleType, case: StackCase, arrays: list[dict[str, np.ndarray]], *, watch: bool = True) -> Run:
    """The forwards in order, as the module docstring says; `watch`: note what each returned
    (and the aliasing) — off for the finite differences, which only want the loss. ImplFailure
    when an op fails or returns what the next cannot take."""
    run, x, shapes = Run(), arrays[0]["x"].copy(), case.shapes()
    fork_in: Any = None
    for i, (layer, a) in enumerate(zip(case.layers, arrays)):
        op, hyper = layer.op, layer.hypers
        if case.residual is not None and i == case.residual[0]:
            fork_in = x
        run.inputs.append(x)
        result = call(impl, op.forward, *_positional(op, x, a, hyper))
        if op.loss:
            value, dx = expect_pair(op.forward, result, "(loss, dx)")
            run.loss, run.dscores = expect_float(op.forward, value, "the loss"), _shaped(op.forward, dx, shapes[i], "dx")
            run.seen.append(None)
            run.caches.append(None)
            if watch:
                _note(run, Where(function=op.forward, layer=i, quantity="dx"), dx, None, False)
            break
        out, cache = expect_pair(op.forward, result, f"({op.outputs[0][0]}, cache)")
        out = _shaped(op.forward, out, shapes[i + 1], op.outputs[0][0])
        if watch:
            _note(
                run, Where(function=op.forward, layer=i, quantity=op.outputs[0][0]), out, x, bool(identity_aliases(op, hyper)[0])
            )
        run.caches.append(cache)
        run.seen.append(np.array(out, dtype=np.float64, copy=True))
        x = out
        if case.residual is not None and i == case.residual[1] - 1:
            x = np.asarray(out, dtype=np.float64) + fork_in
    return run


def _grads(op: LayerOp, function: str, result: Any) -> tuple[Any, ...]:
    if len(op.grads) == 1:
        return (result,)
    if not isinstance(result, (tuple, list)) or len(result) != len(op.grads):
        raise ImplFailure(function, Cause.WRONG_FORM, f"did not return the {len(op.grads)} grads ({', '.join(op.grads)})")
    return tuple(result)


@dataclass
class Backward:
    """Per layer its grads by name as returned (live), and a copy of its dx taken when returned;
    the fork's summed dx."""

    grads: list[dict[str, Any]]
    dx_seen: list[Any]
    fork_dx: Any = None


def run_backward(impl: ModuleType, case: StackCase, run: Run) -> Backward:
    """The backwards in reverse order on the loss's dx, each on the dx the one after it
    returned; at a fork's start, f's dx plus the gradient the fork's end was given. ImplFailure
    when a backward fails or returns a dx the one before cannot take."""
    n, shapes = len(case.layers), case.shapes()
    back = Backward([{} for _ in range(n)], [None] * n)
    back.grads[-1]["dx"], back.dx_seen[-1] = run.dscores, np.array(run.dscores, dtype=np.float64, copy=True)
    dout, skip = run.dscores, None
    for i in range(n - 2, -1, -1):
        op, hyper = case.layers[i].op, case.layers[i].hypers
        if case.residual is not None and i == case.residual[1] - 1:
            skip = dout
        function = op.backwards[0]
        grads = dict(zip(op.grads, _grads(op, function, call(impl, function, dout, run.caches[i]))))
        for name, value in grads.items():
            _note(run, Where(function=function, layer=i, quantity=name), value, dout, bool(identity_aliases(op, hyper)[1]))
        back.grads[i] = grads
        if "dx" in grads:
            dout = _shaped(function, grads["dx"], shapes[i], "dx")
            back.dx_seen[i] = np.array(dout, dtype=np.float64, copy=True)
        if case.residual is not None and i == case.residual[0] and "dx" in grads:
            back.fork_dx = np.asarray(dout, dtype=np.float64) + np.asarray(skip, dtype=np.float64)
            dout = back.fork_dx
    return back


def _masks(impl: ModuleType, case: StackCase, arrays: list[dict[str, np.ndarray]], run: Run) -> list[dict[str, np.ndarray]]:
    """Each layer's arrays for the references, a dropout's keep mask added in train mode: the
    mask the implementation draws from its seed, read off its output on ones (the output it gave
    the stack is 0 wherever its input was, after a relu)."""
    out = []
    for i, (layer, a) in enumerate(zip(case.layers, arrays)):
        a = dict(a)
        if layer.op.random and layer.hypers.get("mode") == "train":
            shape = np.shape(run.inputs[i])
            probe = call(impl, layer.op.forward, *_positional(layer.op, np.ones(shape), a, layer.hypers))
            ones = _shaped(layer.op.forward, expect_pair(layer.op.forward, probe, "(out, cache)")[0], shape, "out")
            a["mask"] = (ones != 0).astype(np.float64)
        out.append(a)
    return out


def _kinks(case: StackCase, arrays: list[dict[str, np.ndarray]], run: Run) -> np.ndarray:
    """Which side of every kink of the chain the forward is on: each kinked op's branch at its
    input. max_pool's ties among a relu's zeros are no kink (they stay zeros, and route nothing),
    so its plane is ordered by a stable sort."""
    parts = []
    for layer, a, x in zip(case.layers, arrays, run.inputs):
        op = layer.op
        if op.branch is None:
            continue
        if op.name == "max_pool":
            v = np.asarray(x)
            parts.append(np.argsort(v.reshape(*v.shape[:2], -1), axis=-1, kind="stable").ravel())
        else:
            parts.append(np.asarray(op.branch({**a, "x": np.asarray(x)})).ravel())
    return np.concatenate(parts) if parts else np.zeros(0)


#: The axes each normalisation's batch statistics run over (docs/layers.md).
NORMALISED_OVER: dict[str, tuple[int, ...]] = {"batchnorm": (0,), "layernorm": (1,), "spatial_batchnorm": (0, 2, 3)}
#: Unit roundoff of float64, and the most rounding a normalisation may add to a gradient: a tenth
#: of the autodiff tolerance's atol, which every gradient of the chain is compared at.
ROUNDOFF, NOISE = float(np.finfo(np.float64).eps) / 2, 1e-13


def ill_conditioned(case: StackCase, arrays: list[dict[str, np.ndarray]], run: Run) -> str | None:
    """Why the chain's normalisations make its gradients mere rounding, or None. A batch (or a
    sample, for layernorm) whose values nearly agree has x − μ lose the digits they share, and
    the backward divides by σ² + ε again: two float64 computations of dx then differ by about
    u·max|x|·|γ|/(σ² + ε) per unit of dout (u the unit roundoff), which from a drawn chain (a
    relu that zeroes both of two samples but for a little) can pass the tolerance's atol. Such
    a case is rejected, as a kink is; a single op's draws, x ~ N(0, 1), never come near it."""
    for i, (layer, a, x) in enumerate(zip(case.layers, arrays, run.inputs)):
        axes = NORMALISED_OVER.get(layer.op.name)
        if axes is None or layer.hypers.get("mode", "train") != "train":
            continue  # test mode divides by the running variance, drawn in [0.5, 2]
        var = np.var(x, axis=axes, keepdims=True) + layer.hypers["eps"]
        gamma = np.abs(a["gamma"]).reshape([-1 if k == 1 else 1 for k in range(x.ndim)]) if x.ndim > 2 else np.abs(a["gamma"])
        noise = ROUNDOFF * np.max(np.abs(x), axis=axes, keepdims=True) * gamma / var
        if np.max(noise) > NOISE:
            return f"layer {i} ({layer.op.name}) normalises values that nearly agree: rounding of {np.max(noise):.1e} per unit of dout"
    return None


def _params(case: StackCase) -> list[tuple[int, str, str]]:
    """(layer, arg, grad name) of every differentiable array of the stack: the input's x, and
    each layer's own (weights, γ and β, h0)."""
    found = []
    for i, layer in enumerate(case.layers):
        for arg, grad in zip(layer.op.differentiable, layer.op.grads):
            if arg.name != "x" or i == 0:
                found.append((i, arg.name, grad))
    return found


def _with(arrays: list[dict[str, np.ndarray]], i: int, name: str, value: np.ndarray) -> list[dict[str, np.ndarray]]:
    return [{**a, name: value} if j == i else a for j, a in enumerate(arrays)]


def finite_differences(impl: ModuleType, case: StackCase, arrays: list[dict[str, np.ndarray]]) -> dict[tuple[int, str], float]:
    """d/dt loss(θ + t·u) at t = 0 for each differentiable array θ of the stack (_params), u its
    layer's direction for it, from the implementation's own forward chain; Rejected on a kink."""
    found = {}
    for i, name, _ in _params(case):

        def loss(theta: np.ndarray, i: int = i, name: str = name) -> float:
            return run_forward(impl, case, _with(arrays, i, name, theta), watch=False).loss

        def branch(theta: np.ndarray, i: int = i, name: str = name) -> np.ndarray:
            moved = _with(arrays, i, name, theta)
            return _kinks(case, moved, run_forward(impl, case, moved, watch=False))

        theta = arrays[i][name]
        try:
            found[(i, name)] = directional(loss, theta, case.layers[i].direction(name, theta.shape), branch=branch)
        except NotSmoothHere:
            raise Rejected(f"{case.describe()} lies on a kink") from None
    return found


def check_stack(impl: ModuleType, case: StackCase) -> list[Comparison]:
    """Every comparison of the stack check (the module docstring) on one case."""
    from gradverify.references.stack_torch import evaluate_stack

    arrays = case.arrays()
    run = run_forward(impl, case, arrays)
    why = ill_conditioned(case, arrays, run)
    if why is not None:
        raise Rejected(f"{case.describe()}: {why}")
    back = run_backward(impl, case, run)
    ev = evaluate_stack(
        [(layer.op, a, layer.hypers) for layer, a in zip(case.layers, _masks(impl, case, arrays, run))], case.residual
    )
    out = list(run.problems)
    last = len(case.layers) - 1
    for i, layer in enumerate(case.layers[:-1]):
        where = Where(oracle="torch", function=layer.op.forward, layer=i, quantity=layer.op.outputs[0][0])
        out.append(compare(where, run.seen[i], ev.outs[i], "autodiff"))
    out.append(
        compare(Where(oracle="torch", function=case.layers[-1].op.forward, layer=last, quantity="loss"), run.loss, ev.loss)
    )
    for i in range(last, -1, -1):
        op = case.layers[i].op
        function = op.forward if op.loss else op.backwards[0]
        for name, expected in ev.grads[i].items():
            got = back.dx_seen[i] if name == "dx" else back.grads[i].get(name)
            out.append(compare(Where(oracle="torch", function=function, layer=i, quantity=name), got, expected, "autodiff"))
        if case.residual is not None and i == case.residual[0] and ev.fork_dx is not None:
            out.append(compare(Where(oracle="torch", layer=i, quantity=FORK_DX), back.fork_dx, ev.fork_dx, "autodiff"))
    return out + _against_differences(impl, case, arrays, back)


def _against_differences(
    impl: ModuleType, case: StackCase, arrays: list[dict[str, np.ndarray]], back: Backward
) -> list[Comparison]:
    """⟨grad, u⟩ of every differentiable array against the finite difference of the own forward chain."""
    fd, out = finite_differences(impl, case, arrays), []
    for i, name, grad in _params(case):
        op = case.layers[i].op
        got = back.grads[i].get(grad)
        if i == 0 and name == "x" and case.residual is not None and case.residual[0] == 0:
            got = back.fork_dx  # the stack's input feeds f and the skip
        try:
            have = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            continue  # not numbers: the comparison with torch says so
        u = case.layers[i].direction(name, np.shape(arrays[i][name]))
        if have.shape != u.shape:
            continue  # the comparison with torch names the shape
        function = op.forward if op.loss else op.backwards[0]
        where = Where(oracle=FD, function=function, layer=i, quantity=f"⟨{grad}, u⟩")
        out.append(compare(where, float(np.sum(have * u)), fd[(i, name)], "finite_diff"))
    return out
