"""The generic check of the layer protocol: one function runs every op of the spec table.

    comparisons = check_layer(impl, case)      # case: a LayerCase of any LayerOp

Per case, in turn (docs/layers.md):
  - the forward called on copies: (out, cache), out an ndarray of the op's shape and of the
    case's dtype (float64, or float32 for a library that declares it: its inputs are float32,
    the references stay float64, and the float32 rows of the tolerance table apply), sharing
    memory with no input, the inputs left unmodified;
  - out against the references in JAX and PyTorch, and the state the forward leaves in its
    parameter dict (batchnorm's running averages: updated in train mode, unchanged in test);
    a random op (dropout) called twice with one seed gives one output, and the mask it drew
    (out ≠ 0) is what the references use, so 1/p scaling, identity in test mode and the same
    mask in forward and backward are all checked against them;
  - each backward (batchnorm_backward and batchnorm_backward_alt) on a random cotangent dout:
    its grads of the right shapes and dtype, aliasing nothing, against jax.vjp and
    torch.autograd, and Σ ⟨grad, u⟩ against the directional finite difference of ⟨dout,
    forward⟩ — the implementation's own forward — along a random u in every differentiable arg
    at once (OwnDifferences: 2 forward calls whatever the number of args, 4 in float32); when that fails, each
    ⟨grad, u⟩ against the difference along its own arg, so the failure names the grad. dout and
    the inputs are left unmodified.
An op with several outputs (lstm_step: next_h, next_c) has each checked as out is, a cotangent
of its own for each, and its backward called on all of them (dnext_h, dnext_c, cache).
A loss `(loss, dx) = op(x, y)` is checked the same way with the loss for out and dx its grad.
Labels are fields: Where(oracle="jax", function="batchnorm_backward", quantity="dgamma").
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import numpy as np

from gradverify.properties.calls import ImplFailure, call, calls_guarded, expect_float, expect_pair, expect_tuple
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.shared import Rejected
from gradverify.references.compare import TOLERANCES, Cause, Comparison, Where, compare, failed, tolerance_for
from gradverify.references.finite_diff import NotSmoothHere, directional
from gradverify.references.layer_spec import Evaluation, LayerOp, shape_of

FD = "finite differences"
#: What a float32 result in a float64 run is told (docs/layers.md, "float32").
FLOAT32_DECLARATION = (
    '; declare dtype = "float32" ([tool.gradverify], or verify --dtype float32) if the library computes in float32'
)


def evaluations(op: LayerOp, arrays: dict[str, np.ndarray], hyper: dict[str, Any], dout: Any) -> dict[str, Evaluation]:
    """Each reference's Evaluation of the op, by oracle name (JAX and PyTorch imported on first use);
    always in float64, on a float32 case's values upcast."""
    from gradverify.references import layer_jax, layer_torch

    arrays, dout = {k: _float64(v) for k, v in arrays.items()}, _float64(dout)
    return {"jax": layer_jax.evaluate(op, arrays, hyper, dout), "torch": layer_torch.evaluate(op, arrays, hyper, dout)}


def _float64(value: Any) -> Any:
    """A float32 array (or a tuple of them) upcast to float64; anything else as it is."""
    if isinstance(value, tuple):
        return tuple(map(_float64, value))
    return value.astype(np.float64) if isinstance(value, np.ndarray) and value.dtype == np.float32 else value


def param_dict(
    op: LayerOp, arrays: dict[str, np.ndarray], hyper: dict[str, Any], omitted: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A fresh parameter dict: the hyperparameters (but the positional ones) and copies of the
    args kept in it, but the keys `omitted` (LayerCase.omitted)."""
    positional = {h.name for h in op.hypers if h.positional}
    kept = {k: v for k, v in hyper.items() if k not in positional and k not in omitted}
    return {**kept, **{a.name: arrays[a.name].copy() for a in op.args if a.in_param and a.name not in omitted}}


def call_forward(
    impl: ModuleType, op: LayerOp, arrays: dict[str, np.ndarray], hyper: dict[str, Any], omitted: tuple[str, ...] = ()
) -> tuple[Any, Any, dict[str, np.ndarray], dict[str, Any]]:
    """(first, second result, the arrays passed, the param dict passed) of the op's forward (or
    loss) called on copies of `arrays` (then the positional hyperparameters, then the dict, which
    leaves out the keys `omitted`);
    ImplFailure when it fails or returns no pair. For an op with several outputs (lstm_step's
    (next_h, next_c, cache)) the first is their tuple."""
    passed = {a.name: arrays[a.name].copy() for a in op.args if not a.in_param}
    params = param_dict(op, arrays, hyper, omitted)
    positional = [hyper[h.name] for h in op.hypers if h.positional]
    args = [*passed.values(), *positional, *([params] if op.param else [])]
    result = call(impl, op.forward, *args)
    if op.loss or len(op.outputs) == 1:
        what = "(loss, dx)" if op.loss else f"({op.outputs[0][0]}, cache)"
        first, second = expect_pair(op.forward, result, what)
        return first, second, passed, params
    *outs, second = expect_tuple(op.forward, result, len(op.outputs) + 1, f"({', '.join(n for n, _ in op.outputs)}, cache)")
    return tuple(outs), second, passed, params


def outputs_of(op: LayerOp, first: Any) -> tuple[Any, ...]:
    """The forward's outputs as a tuple, one per op.outputs (call_forward's first result)."""
    return first if len(op.outputs) > 1 else (first,)


def form(where: Where, value: Any, shape: tuple[int, ...], dtype: str = "float64") -> list[Comparison]:
    """[] when value is an ndarray of `shape` and `dtype` (the case's); else one failing
    comparison that says why (a wrong shape is left to compare, which names it and recognises a
    transpose). float32 where float64 is expected says how to declare a float32 library."""
    if not isinstance(value, np.ndarray):
        return [
            failed(where, Cause.WRONG_FORM, f"returned a {type(value).__name__} where an ndarray of shape {shape} was expected")
        ]
    if value.dtype != dtype and value.shape == shape:
        declare = FLOAT32_DECLARATION if value.dtype == np.float32 and dtype == "float64" else ""
        return [failed(where, Cause.WRONG_FORM, f"returned dtype {value.dtype} where {dtype} was expected{declare}")]
    return []


def is_whole(value: np.ndarray, array: np.ndarray) -> bool:
    """Whether `value` is `array` itself, or a view of all of it as it is (same memory, shape,
    strides and dtype): nothing of one can change without the other, as with the array itself."""
    return value is array or (
        value.__array_interface__["data"][0] == array.__array_interface__["data"][0]
        and value.shape == array.shape
        and value.strides == array.strides
        and value.dtype == array.dtype
    )


def aliases(
    where: Where, returned: dict[str, Any], inputs: dict[str, np.ndarray], *, may_be: dict[str, str] | None = None
) -> list[Comparison]:
    """One failing comparison per returned array that shares memory with an input or with
    another returned array (a later in-place change of one would change the other). `may_be`:
    the returned arrays that may BE an input, whole (an op that is the identity: out = x, dx =
    dout); a partial overlap, or sharing with anything else, is still an alias."""
    out, allowed = [], may_be or {}
    named = [(k, v) for k, v in returned.items() if isinstance(v, np.ndarray)]
    for i, (name, value) in enumerate(named):
        others = [*inputs.items(), *named[i + 1 :]]
        for other, array in others:
            if allowed.get(name) == other and is_whole(value, array):
                continue
            if np.shares_memory(value, array):
                message = f"returned {name} sharing memory with {other}"
                out.append(failed(where.at(quantity=name), Cause.ALIASED, message))
    return out


def identity_aliases(op: LayerOp, hyper: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """What the forward's and the backward's results may BE, whole, under `hyper`: out x and
    dx dout where the op's spec says it is the identity there (dropout in test mode); else nothing."""
    if op.identity is None or not op.identity(hyper):
        return {}, {}
    return {"out": "x"}, {"dx": "dout"}


def unmodified(where: Where, passed: dict[str, np.ndarray], pristine: dict[str, np.ndarray]) -> list[Comparison]:
    """One failing comparison per array the call changed in place (the same bytes, or else
    equal values, NaN as NaN: unchanged; the bytes first, ~20× cheaper on small arrays)."""
    out = []
    for name, before in pristine.items():
        now = passed[name]
        if now.tobytes() != before.tobytes() and not np.array_equal(now, before, equal_nan=True):
            c = compare(where.at(quantity=f"{name} unmodified"), now, before, TOLERANCES["autodiff"])
            c.ok, c.cause = False, Cause.MODIFIED_INPUT
            c.message = f"modified its input {name} in place (the protocol says inputs are not modified)"
            out.append(c)
    return out


def _mask(op: LayerOp, out: Any, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """A random op's keep mask as the implementation drew it, out ≠ 0 (ones when out is unusable)."""
    if not op.random:
        return {}
    have = np.asarray(out, dtype=np.float64) if isinstance(out, np.ndarray) and out.shape == shape else np.ones(shape)
    return {"mask": (have != 0).astype(np.float64)}


#: Per dtype, whether the layer checks' own finite differences are Richardson's (4 forward
#: calls) or a plain central difference (2): central in float64 (its step CENTRAL_STEPS, the error
#: far inside the finite_diff row), Richardson's in float32, where rounding wants a step whose
#: truncation error only extrapolation removes (references/finite_diff.py). Measured by
#: `python -m benchmarks.fd_margins` (docs/layers.md, "Finite differences").
RICHARDSON = {"float64": False, "float32": True}


def directionals(
    impl: ModuleType, case: LayerCase, arrays: dict[str, np.ndarray], dout: np.ndarray | tuple[np.ndarray, ...] | None
) -> dict[str, float]:
    """d/dt ⟨dout, forward(arg + t·u)⟩ at t = 0 for each differentiable arg alone, u =
    case.direction (for a loss, d/dt loss(x + t·u); for several outputs, dout a tuple and the sum
    of their ⟨dout_k, out_k⟩), from the implementation's own forward: 2 forward calls per arg (4 in float32).
    Rejected when the point lies on a kink; ImplFailure when the forward fails."""
    return {arg.name: along(impl, case, arrays, dout, (arg.name,)) for arg in case.op.differentiable}


def along(
    impl: ModuleType,
    case: LayerCase,
    arrays: dict[str, np.ndarray],
    dout: np.ndarray | tuple[np.ndarray, ...] | None,
    names: tuple[str, ...],
) -> float:
    """d/dt ⟨dout, forward(a + t·u_a for each arg a in `names`)⟩ at t = 0, every arg of `names`
    moved at once along its own u_a = case.direction(a, …): Σ_a ⟨∂/∂a, u_a⟩, by one central
    difference (2 forward calls in float64, 4 in float32: RICHARDSON), whatever the number of args. Rejected on a kink."""
    op, hyper = case.op, case.hypers
    douts: tuple = dout if isinstance(dout, tuple) else (dout,)
    shapes = [arrays[name].shape for name in names]
    ends = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]

    def unpack(theta: np.ndarray) -> dict[str, np.ndarray]:
        return {name: part.reshape(shape) for name, part, shape in zip(names, np.split(theta, ends), shapes)}

    def f(theta: np.ndarray) -> float:
        first = call_forward(impl, op, {**arrays, **unpack(theta)}, hyper, case.omitted)[0]
        if dout is None:  # a loss
            return expect_float(op.forward, first, "the loss")
        return float(sum(np.sum(d * np.asarray(o, dtype=np.float64)) for d, o in zip(douts, outputs_of(op, first))))

    branch = None if op.branch is None else _branch_along(op, arrays, unpack)
    x = np.concatenate([arrays[name].ravel() for name in names])
    u = np.concatenate([case.direction(name, shape).ravel() for name, shape in zip(names, shapes)])
    try:
        return directional(f, x, u, branch=branch, dtype=case.dtype, richardson=RICHARDSON[case.dtype])
    except NotSmoothHere:
        raise Rejected(f"{case.describe()} lies on a kink") from None


def _branch_along(
    op: LayerOp, arrays: dict[str, np.ndarray], unpack: Callable[[np.ndarray], dict[str, np.ndarray]]
) -> Callable[[np.ndarray], np.ndarray]:
    assert op.branch is not None
    branch = op.branch
    return lambda theta: branch({**arrays, **unpack(theta)})


class OwnDifferences:
    """The third witness: finite differences of the implementation's own forward (or loss) at a
    case. `joint`, taken at once, is the derivative along u in every differentiable arg together
    (Σ_a ⟨∂/∂a, u_a⟩: 2 forward calls, 4 in float32); `each()`, taken only when asked (a joint comparison that
    fails), is the derivative along each arg's u alone (as many per arg), which says which
    gradient a failing sum is in. Rejected (a kink) and ImplFailure as `along`."""

    def __init__(self, impl: ModuleType, case: LayerCase, arrays: dict[str, np.ndarray], dout: np.ndarray | tuple | None) -> None:
        self.impl, self.case, self.arrays, self.dout = impl, case, arrays, dout
        names = tuple(arg.name for arg in case.op.differentiable)
        #: each differentiable arg's u, by name (case.direction: drawn once here)
        self.directions = {name: case.direction(name, arrays[name].shape) for name in names}
        self.joint = along(impl, case, arrays, dout, names)
        self._each: dict[str, float] | None = {names[0]: self.joint} if len(names) == 1 else None

    def each(self) -> dict[str, float]:
        """Each differentiable arg's own derivative along its u, by name (computed once); an arg
        whose own difference lies on a kink is left out."""
        if self._each is None:
            self._each = {}
            for arg in self.case.op.differentiable:
                try:
                    self._each[arg.name] = along(self.impl, self.case, self.arrays, self.dout, (arg.name,))
                except Rejected:
                    continue
        return self._each


def joint_quantity(op: LayerOp) -> str:
    """The quantity of the joint comparison: "⟨dx, u⟩" for one grad, "⟨(dx, dw, db), u⟩" for several."""
    return f"⟨{op.grads[0]}, u⟩" if len(op.grads) == 1 else f"⟨({', '.join(op.grads)}), u⟩"


def compare_grads(
    function: str, case: LayerCase, grads: tuple[Any, ...], refs: dict[str, Evaluation], fd: OwnDifferences
) -> list[Comparison]:
    """Each grad against each reference's, then Σ ⟨grad, u⟩ against the joint finite difference;
    when that fails (or a grad is unusable), each ⟨grad, u⟩ against its own finite difference
    too, so that a failing comparison names the grad."""
    op, out, tol = case.op, [], tolerance_for("autodiff", case.dtype)
    for oracle, ev in refs.items():
        for name, got, expected in zip(op.grads, grads, ev.grads):
            out.append(compare(Where(oracle=oracle, function=function, quantity=name), got, expected, tol))
    usable: dict[str, tuple[str, float]] = {}
    for arg, name, got in zip(op.differentiable, op.grads, grads):
        u = fd.directions[arg.name]
        try:
            have = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            continue  # not numbers: the comparisons above say so
        if have.shape != u.shape:
            continue  # the comparisons above name the shape
        usable[arg.name] = (name, float(np.sum(have * u)))
    fd_tol = tolerance_for("finite_diff", case.dtype)
    joint = None
    if len(usable) == len(op.differentiable):
        total = float(sum(value for _, value in usable.values()))
        joint = compare(Where(oracle=FD, function=function, quantity=joint_quantity(op)), total, fd.joint, fd_tol)
        if joint.ok or len(usable) == 1:
            return [*out, joint]
    each = fd.each()
    alone = [
        compare(Where(oracle=FD, function=function, quantity=f"⟨{name}, u⟩"), value, each[arg], fd_tol)
        for arg, (name, value) in usable.items()
        if arg in each
    ]
    return [*out, *alone, *([joint] if joint is not None else [])]


def grads_of(op: LayerOp, function: str, result: Any) -> tuple[Any, ...]:
    """A backward's result as a tuple of its grads: the array itself for one, else a tuple."""
    if len(op.grads) == 1:
        return (result,)
    if not isinstance(result, (tuple, list)) or len(result) != len(op.grads):
        raise ImplFailure(function, Cause.WRONG_FORM, f"did not return the {len(op.grads)} grads ({', '.join(op.grads)})")
    return tuple(result)


def check_backward(
    impl: ModuleType, case: LayerCase, function: str, cache: Any, douts: tuple, refs: dict[str, Evaluation], fd: OwnDifferences
) -> list[Comparison]:
    """One backward function on (dout, cache) — (dnext_h, dnext_c, cache) for several outputs:
    form, aliasing, references, finite differences, the upstream gradients unmodified."""
    op, where = case.op, Where(function=function)
    passed = tuple(d.copy() for d in douts)
    try:
        grads = grads_of(op, function, call(impl, function, *passed, cache))
    except ImplFailure as failure:
        return [failure.comparison()]
    shapes = case.shapes()
    out = [
        c
        for arg, name, g in zip(op.differentiable, op.grads, grads)
        for c in form(where.at(quantity=name), g, shapes[arg.name], case.dtype)
    ]
    upstream = dict(zip(op.upstream, passed))
    out += aliases(where, dict(zip(op.grads, grads)), upstream, may_be=identity_aliases(op, case.hypers)[1])
    out += unmodified(where, upstream, dict(zip(op.upstream, douts)))
    return out + compare_grads(function, case, grads, refs, fd)


def stored_state(case: LayerCase, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Each state key of the op as the forward left it in its parameter dict `params`, by key; a
    key the case left out (its default in `arrays`: zeros) that the forward did not store stands
    for that default, which is right where the state is unchanged (test mode) and wrong where it
    is updated. None for a key the forward should have kept and did not."""
    return {key: params.get(key, arrays.get(key) if key in case.omitted else None) for key in case.op.state}


def _state(op: LayerOp, stored: dict[str, Any], refs: dict[str, Evaluation], tol: str) -> list[Comparison]:
    """The parameter dict's state after the forward (stored_state) against each reference's."""
    return [
        compare(Where(oracle=oracle, function=op.forward, quantity=f"{op.param}[{key!r}]"), stored[key], ev.state[key], tol)
        for oracle, ev in refs.items()
        for key in op.state
    ]


def _same_again(impl: ModuleType, case: LayerCase, arrays: dict[str, np.ndarray], out: Any) -> list[Comparison]:
    """A random op called again with the same parameter dict (its seed) gives the same output."""
    again = call_forward(impl, case.op, arrays, case.hypers, case.omitted)[0]
    where = Where(function=case.op.forward, quantity="out, called again with the same seed")
    return [compare(where, again, out, tolerance_for("autodiff", case.dtype))]


def check_layer(impl: ModuleType, case: LayerCase) -> list[Comparison]:
    """Every check of the layer protocol on one case of its op (a forward/backward pair or a
    loss); its calls of the implementation share one calls_guarded block."""
    with calls_guarded():
        return _check_layer(impl, case)


def _check_layer(impl: ModuleType, case: LayerCase) -> list[Comparison]:
    op, arrays, hyper = case.op, case.arrays(), case.hypers
    pristine = {k: v.copy() for k, v in arrays.items()}
    first, second, passed, params = call_forward(impl, op, arrays, hyper, case.omitted)
    where = Where(function=op.forward)
    if op.loss:
        return _check_loss(impl, case, arrays, first, second, passed, pristine)
    named = [(name, shape_of(tokens, case.sizes)) for name, tokens in op.outputs]
    douts = tuple(case.cotangent(shape, i) for i, (_, shape) in enumerate(named))
    refs = evaluations(op, {**arrays, **_mask(op, first, named[0][1])}, hyper, douts if len(douts) > 1 else douts[0])
    outs = dict(zip((name for name, _ in named), outputs_of(op, first)))
    tol = tolerance_for("autodiff", case.dtype)
    out = [c for name, shape in named for c in form(where.at(quantity=name), outs[name], shape, case.dtype)]
    out += aliases(where, outs, passed, may_be=identity_aliases(op, hyper)[0])
    out += [
        compare(Where(oracle=o, function=op.forward, quantity=name), outs[name], expected, tol)
        for o, ev in refs.items()
        for (name, _), expected in zip(named, outputs_of(op, ev.out))
    ]
    out += _state(op, stored_state(case, params, arrays), refs, tol)
    if op.random:
        out += _same_again(impl, case, arrays, first)
    before = {k: pristine[k] for k in passed}
    changed = unmodified(where, passed, before)
    out += changed
    if op.backward_when is not None and not op.backward_when(hyper):
        return out  # no backward in this mode (batchnorm's test mode): the forward alone
    fd = OwnDifferences(impl, case, arrays, douts)
    for function in op.backwards:
        if function in op.alternatives and not callable(getattr(impl, function, None)):
            continue  # an alternative form is checked when the implementation has one
        out += check_backward(impl, case, function, second, douts, refs, fd)
        if not changed:  # a backward that changes the arrays its cache holds changes the caller's
            changed = unmodified(Where(function=function), passed, before)
            out += changed
    return out


#: The step of the shifts added to the scores of a shift-invariant loss, per dtype: row r (of x's
#: leading axes, in C order) is shifted by s·(r + 1). s is past where exp overflows (709.8 in
#: float64, 88.7 in float32), so that exp(x) without the row's max taken out is inf, and the rows
#: are s apart, past where exp(−s) underflows to 0, so that a shift by the max of all the scores
#: instead of each row's gives log 0. With it, the tolerance of the comparison with the loss at x:
#: in float64 x + 9000 rounds to ~2e-12, within `autodiff`; in float32 x + 900 to ~6e-5 of a
#: score, within finite_diff_float32.
SHIFTS = {"float64": (1000.0, "autodiff"), "float32": (100.0, "finite_diff")}


def _shifted(impl: ModuleType, case: LayerCase, arrays: dict, refs: dict[str, Evaluation]) -> list[Comparison]:
    """The loss and dx with row r's scores shifted by SHIFTS[dtype]·(r + 1), against the
    references' at x (a linear classifier's scores X·W shifted through a feature of its own:
    LayerOp.scores)."""
    shift, kind = SHIFTS[case.dtype]
    op, tol = case.op, tolerance_for(kind, case.dtype)
    leading = arrays["x"].shape[:-1] if op.scores is None else arrays["X"].shape[:1]
    rows = shift * np.arange(1, int(np.prod(leading)) + 1).reshape(*leading, 1)
    if op.scores is None:
        moved = {**arrays, "x": (arrays["x"] + rows).astype(arrays["x"].dtype)}
    else:
        moved = op.scores.move(arrays, rows)
    value, dx = call_forward(impl, op, moved, case.hypers, case.omitted)[:2]
    label, grad = f"rows + {shift:g}·(r + 1)", op.grads[0]
    loss = expect_float(op.forward, value, "the loss")
    if op.scores is not None:
        loss, dx = op.scores.back(loss, dx, arrays, case.hypers)
    out = [compare(Where(oracle=o, function=op.forward, quantity=f"loss, {label}"), loss, ev.out, tol) for o, ev in refs.items()]
    return out + [
        compare(Where(oracle=o, function=op.forward, quantity=f"{grad}, {label}"), dx, ev.grads[0], tol) for o, ev in refs.items()
    ]


def _check_loss(
    impl: ModuleType, case: LayerCase, arrays: dict, value: Any, dx: Any, passed: dict, pristine: dict
) -> list[Comparison]:
    """A loss (loss, dx) = op(x, y) (or (loss, dW) = op(W, X, y, reg), its one differentiable arg
    W): the loss and dx against the references, ⟨dx, u⟩ against the
    finite difference of the implementation's own loss, dx's form, aliasing and the inputs; for
    a shift-invariant loss, the loss and dx with each row's scores shifted past exp's overflow
    as well, each row by another multiple of the shift."""
    op, where = case.op, Where(function=case.op.forward)
    (arg,), (grad,) = op.differentiable, op.grads  # x and dx; W and dW for a linear classifier's
    loss = expect_float(op.forward, value, "the loss")
    refs = evaluations(op, arrays, case.hypers, None)
    tol = tolerance_for("autodiff", case.dtype)
    out = [compare(Where(oracle=o, function=op.forward, quantity="loss"), loss, ev.out, tol) for o, ev in refs.items()]
    out += form(where.at(quantity=grad), dx, arrays[arg.name].shape, case.dtype) + aliases(where, {grad: dx}, passed)
    out += compare_grads(op.forward, case, (dx,), refs, OwnDifferences(impl, case, arrays, None))
    out += unmodified(where, passed, {k: pristine[k] for k in passed})
    return out + (_shifted(impl, case, arrays, refs) if op.shift_invariant else [])
