"""Hints for a failing layer op: which known mistake the numbers are, checked on siblings.

    hints = layer_hints(failure, impl)      # failure.case a LayerCase; [] when nothing fits

The mistakes are gradverify.layer_mistakes' catalogue: each a model of one bug (the value the
mistaken code returns for one quantity of a case, beside the sentence that names it), and the
scale laws (N × the right value, −1 ×, ½ ×, …) made for every quantity of every op.

A mistake is named only when the numbers say it: on the failing case and on its siblings (two
other seeds, and each size one larger), the implementation's value of the quantity is compared
with the mistake's and with the right one (torch's reference). A sibling where the two are the
same (dropout with p = 1, batchnorm in test mode for a train-mode mistake) cannot tell and is
left out; the mistake is named when at least two siblings can tell and, on every one of them,
the implementation gives the mistake's value. No fit, no hint: a wrong hint is worse than none.
Nothing here may raise; a submission that misbehaves while being diagnosed gets fewer hints.
"""

from __future__ import annotations

from dataclasses import replace
from types import ModuleType
from typing import Any

import numpy as np

from gradverify.diagnoses import Diagnosis, Hint
from gradverify.layer_mistakes import MISTAKES, Mistake, Probe, kept_units, law_mistakes
from gradverify.properties.calls import ImplFailure, call
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_checks import call_forward, grads_of, outputs_of, stored_state
from gradverify.references.compare import Cause, compare, tolerance_for
from gradverify.references.layer_spec import shape_of

#: How many siblings (the failing case among them) must be able to tell a mistake from the
#: right value before it is named.
MIN_TELLING = 2


# --------------------------------------------------------------------------- probes


def observe(impl: ModuleType, case: LayerCase) -> Probe:
    """The implementation's and the reference's values on `case` (whatever the implementation
    fails to give is left out)."""
    op, arrays = case.op, case.arrays()
    named = [(name, shape_of(tokens, case.sizes)) for name, tokens in op.outputs]
    douts = () if op.loss else tuple(case.cotangent(shape, i) for i, (_, shape) in enumerate(named))
    probe = Probe(case, arrays, douts)
    try:
        first, cache, _, params = call_forward(impl, op, arrays, case.hypers, case.omitted)
    except ImplFailure:
        first = cache = None
        params = {}
    if op.loss:
        probe.got.update({(op.forward, "loss"): first, (op.forward, op.grads[0]): cache})
    elif first is not None:
        probe.got.update({(op.forward, name): value for (name, _), value in zip(named, outputs_of(op, first))})
        probe.got.update({(op.forward, f"{op.param}[{key!r}]"): v for key, v in stored_state(case, params, arrays).items()})
        if op.random:
            try:
                probe.got[(op.forward, "again")] = call_forward(impl, op, arrays, case.hypers, case.omitted)[0]
            except ImplFailure:
                pass
        for function in op.backwards:
            try:
                grads = grads_of(op, function, call(impl, function, *(d.copy() for d in douts), cache))
            except ImplFailure:
                continue
            probe.got.update({(function, name): g for name, g in zip(op.grads, grads)})
    kept = probe.got.get((op.forward, "out"))
    mask = (
        {}
        if not op.random
        else {"mask": (np.asarray(kept) != 0).astype(np.float64) if kept_units(probe) is not None else np.ones_like(arrays["x"])}
    )
    reference = probe.reference({**arrays, **mask})
    names = ("loss",) if op.loss else tuple(name for name, _ in named)
    probe.right.update(dict(zip(names, (reference.out,) if op.loss else outputs_of(op, reference.out))))
    probe.right.update({f"{op.param}[{k!r}]": v for k, v in reference.state.items()})
    probe.right.update(probe.grads(reference))
    if op.random and isinstance(kept, np.ndarray):
        probe.right["again"] = kept
    return probe


def siblings(case: LayerCase, sizes: tuple[tuple[str, int], ...] = ()) -> list[LayerCase]:
    """The failing case, two other seeds, each size one larger and each hyperparameter at its
    next choice (where the op's derived sizes still exist: a factor that follows p or N is no
    constant); with `sizes`, every one of them drawn at those sizes instead."""
    base = replace(case, dims=tuple((k, dict(sizes).get(k, v)) for k, v in case.dims)) if sizes else case
    out = [base, replace(base, seed=base.seed + 1), replace(base, seed=base.seed + 2)]
    for k, (name, value) in enumerate(base.dims):
        if isinstance(value, int) and name not in dict(sizes):
            dims = (*base.dims[:k], (name, value + 1), *base.dims[k + 1 :])
            out.append(replace(base, dims=dims, seed=base.seed + 3 + k))
    choices = {h.name: h.choices for h in base.op.hypers}
    for k, (name, value) in enumerate(base.hyper):
        options = choices.get(name, ())
        if len(options) > 1 and value in options:
            other = options[(options.index(value) + 1) % len(options)]
            hyper = (*base.hyper[:k], (name, other), *base.hyper[k + 1 :])
            out.append(replace(base, hyper=hyper, seed=base.seed + 3 + len(base.dims) + k))
    return [c for c in out if c.consistent]


def _fits(mistake: Mistake, probe: Probe, function: str) -> bool | None:
    """Whether the implementation gives the mistake's value on this probe; None when the probe
    cannot tell it from the right value (or the implementation gave nothing to judge)."""
    got = probe.got.get((function, mistake.quantity))
    wrong = mistake.model(probe)
    right = probe.right.get(mistake.quantity)
    if wrong is None or right is None or got is None:
        return None
    if mistake.shape_only:
        if np.shape(wrong) == np.shape(right):
            return None
        return np.shape(got) == np.shape(wrong)
    tolerance = tolerance_for("autodiff", probe.case.dtype)  # a float32 library: float32's row
    if compare("mistake", right, wrong, tolerance).ok:
        return None
    try:
        return compare("mistake", got, wrong, tolerance).ok
    except (TypeError, ValueError):
        return False


def _telling(mistake: Mistake, probes: list[Probe], function: str) -> list[Probe] | None:
    """The probes that can tell the mistake from the right value, when the implementation gives
    the mistake's value on every one of them; None as soon as one does not."""
    telling = []
    for probe in probes:
        fits = _fits(mistake, probe, function)
        if fits is False:
            return None
        if fits:
            telling.append(probe)
    return telling


def _checked(probes: list[Probe]) -> str:
    """The siblings in words, e.g. '4 cases, x (2, 3), (3, 3)': how many, and the first arg's shapes."""
    first = probes[0].op.args[0].name
    shapes = list(dict.fromkeys(str(p.arrays[first].shape) for p in probes))
    return f"{len(probes)} cases, {first} " + ", ".join(shapes)


def diagnose(impl: ModuleType, case: LayerCase, functions: tuple[str, ...] | None = None) -> list[Hint]:
    """The mistakes of the op that fit the implementation on every sibling of `case` that can
    tell (at least MIN_TELLING of them), one hint per diagnosis; the scale laws only when no
    catalogued mistake fits. `functions`: the backwards to diagnose (default: the op's)."""
    op = case.op
    cache: dict[tuple, list[Probe]] = {}
    found: dict[Diagnosis, Hint] = {}
    specific = [m for m in MISTAKES if op.name in m.ops]
    for mistake in (*specific, *law_mistakes(op)):
        if mistake.diagnosis in found or (found and mistake not in specific):
            continue  # a mistake that fits replaces a factor (dropout without 1/p is ½ × at p = ½)
        if mistake.sizes not in cache:
            cache[mistake.sizes] = [observe(impl, c) for c in siblings(case, mistake.sizes)]
        probes = cache[mistake.sizes]
        for function in (functions or op.backwards) if mistake.backward else (op.forward,):
            telling = _telling(mistake, probes, function)
            if telling is not None and len(telling) >= MIN_TELLING:
                found[mistake.diagnosis] = Hint(
                    mistake.text.format(function=function, checked=_checked(telling)), mistake.diagnosis
                )
                break
    return list(found.values())


def _observations(failure: Any) -> list[Hint]:
    """What the failing comparisons say by themselves: an array changed in place, memory shared,
    a gradient of its array's transposed shape."""
    out = []
    for c in failure.comparisons:
        if c.ok:
            continue
        if c.cause is Cause.MODIFIED_INPUT:
            name = (c.where.quantity or "").removesuffix(" unmodified")
            out.append(
                Hint(
                    f"{c.where.function} changed its argument {name} in place: the caller's array changed with it; "
                    "compute into a new array (x = x + …, not x += …).",
                    Diagnosis.IN_PLACE,
                )
            )
        elif c.cause is Cause.ALIASED:
            out.append(
                Hint(
                    f"{c.where.function} {c.message.removeprefix('returned ') if c.message else 'returned an alias'}: "
                    "a later in-place change of one changes the other; return a new array.",
                    Diagnosis.IN_PLACE,
                )
            )
        elif c.cause is Cause.TRANSPOSED:
            out.append(
                Hint(
                    f"{c.where.function}'s {c.where.quantity} is transposed: a gradient has the shape of its array ({c.shape}).",
                    Diagnosis.TRANSPOSED,
                )
            )
    return out


def layer_hints(failure: Any, impl: ModuleType) -> list[Hint]:
    """One-sentence hints for a failing case of a layer op (gradverify.hints.hints dispatches here)."""
    if not isinstance(failure.case, LayerCase):
        return []
    seen = _observations(failure)
    try:
        found = diagnose(impl, failure.case)
    except Exception:  # noqa: BLE001 - a hint is optional; whatever the implementation does here, the run goes on
        found = []
    out: dict[Any, Hint] = {}
    for hint in (*seen, *found):
        out.setdefault(hint.diagnosis, hint)
    return list(out.values())
