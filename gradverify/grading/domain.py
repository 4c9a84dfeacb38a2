"""The domain of a composite rubric item (network, l2, train_loop) and the share of it that is right.

    credit, result = check_domain(plan, module, prop_of, seed=0, examples=30)
    credit.share          # 0..1: the item scores points × share

A composite item's domain is made of components: each loss × output activation pair (checked
on single-layer networks, whose one layer is the output layer) and each hidden activation
(checked on networks whose hidden layers all use it, under an output pair found right). Each
component is right, wrong, refused (NotImplementedError, a function not defined, or an
AssertionError on every network it was probed on: it counts as not right, exactly as wrong does) or unchecked (a hidden activation with no output pair
right to check it under). The share is half for the output pairs and half for the hidden
activations, each an equal part of its half (the whole for one kind when the domain has none
of the other), so a file that handles one corner earns that corner's share only, and refusing
a component costs what getting it wrong costs.

How a component is found right (`check_domain`): first fixed small cases (3 samples, soft
labels; a training run of 2 epochs over batches of 2 with momentum 0.9; Plan.case draws their
values with the grade's seed) on the networks the code takes: an output pair on PAIR_SHAPES
(a single layer of its loss's outputs, then one output unit, then over hidden layers), a hidden
activation under a pair found right on HIDDEN_LAYERS, each until the code takes one: a network
it refuses (`refuses`: NotImplementedError, or an AssertionError, as `assert len(layers) == 2`
says a fixed depth) is outside its domain, and a component is refused only when it refuses every
probe. Then a hypothesis search over the networks of every component still right, mixed,
skipping what the code refuses, with the item's examples less the cases checked (a third of them
at least). In the search and in the blame below, an AssertionError refuses only a network outside
the domain found (a depth no probe was taken at, or one output unit where only more were taken,
or the reverse): inside it, it is a failure, as it is in every other item. A failure the search finds is tried, in its own shape, on each component
still right alone (a hidden activation under the first pair right; an output pair over hidden
layers of the first hidden activation right), and each one it fails on is blamed, so a bug
that is no one component's (the bias gradient averaged) costs every component it shows on;
when it fails on none alone, its own components are blamed (it needs them together). The
search then goes on over what is still right, up to SEARCH_ROUNDS failures, each round after
the first only within the first third of the item's time. The first failure found is the
item's counterexample, with its hints.

What the rubric's own items have already charged is left out of the domain (`plan`): a
component with a part (its loss or activation) whose own item failed; and one with a part whose
own item is not implemented, when network_gradients refuses it too (the same missing function,
not charged twice: softmax fused into cross-entropy has no softmax of its own under mse). When
leaving those out would leave none of a kind, the kind is kept whole.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from collections.abc import Mapping
from typing import Any, Callable

from gradverify.properties.cases import Architecture, TrainCase
from gradverify.properties.checks import Property
from gradverify.references.compare import MISSING, Cause, Comparison
from gradverify.references.spec import ACTIVATIONS, HIDDEN_ACTIVATIONS, LOSSES, output_activations
from gradverify.profiles import PROFILES
from gradverify.results import CheckKind, Failure, PropertyResult, Source
from gradverify.search import failure_of, run_case, run_property

#: The part of a composite item's points each kind of component shares, when the domain has both.
KIND_SHARE = {"output": 0.5, "hidden": 0.5}
#: How many failures a search may find (each shrunk, then tried on the other components).
SEARCH_ROUNDS = 3
#: The fixed cases' shape: samples, inputs, hidden units; outputs are max(2, the loss's minimum).
CASE_BATCH, CASE_INPUTS, CASE_HIDDEN = 3, 2, 3
#: The shapes an output pair is probed on, in order, until the code accepts one: (hidden layers,
#: outputs), outputs None being the loss's default (at least 2) and 1 one output unit. A network
#: the code refuses (NotImplementedError) is outside its domain, not a missing pair: a fixed
#: depth, or one output unit, is a domain. The pair is refused only when every shape is.
PAIR_SHAPES: tuple[tuple[int, int | None], ...] = ((0, None), (0, 1), (1, None), (1, 1), (2, None), (2, 1))
#: How many hidden activations a pair is tried over, at one depth, when it comes out wrong over
#: the first (the wrong one may be the hidden activation, not the pair).
PAIR_HIDDEN_TRIES = 2
#: The hidden layers a hidden activation is probed with, in order, under a pair found right.
HIDDEN_LAYERS = (2, 1, 3)
#: The exceptions, besides NotImplementedError, by which code says a network is outside what it
#: takes (`assert len(layers) == 2`, `assert Y.shape[1] == 1`), on a probe of the domain.
REFUSING_EXCEPTIONS = frozenset({"AssertionError"})


class Verdict(StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    REFUSED = "refused"
    UNCHECKED = "unchecked"


@dataclass(frozen=True)
class Component:
    """A loss × output activation pair (`loss` set), or a hidden activation (`loss` None)."""

    activation: str
    loss: str | None = None

    @property
    def kind(self) -> str:
        return "hidden" if self.loss is None else "output"

    @property
    def parts(self) -> tuple[tuple[str, str], ...]:
        """(rubric check, target) of the standalone items this component is made of."""
        return (("activation", self.activation),) if self.loss is None else (("loss", self.loss), ("activation", self.activation))

    @property
    def pair_loss(self) -> str:
        """The loss of an output pair; ValueError for a hidden activation, which has none."""
        if self.loss is None:
            raise ValueError(f"{self.describe()} is not a loss × output activation pair")
        return self.loss

    def describe(self) -> str:
        if self.loss is None:
            return f"the hidden activation {self.activation!r}"
        return f"the loss {self.loss!r} with the output activation {self.activation!r}"


@dataclass(frozen=True)
class ComponentResult:
    component: Component
    verdict: Verdict
    #: one line: the failing comparison or the refusal ("" when right)
    why: str = ""
    #: of a component found right: the hidden layers and output units of the network it was
    #: right on (the shape the code accepts), else None
    shape: tuple[int, int] | None = None
    #: of a component refused: every refusal was an assertion (REFUSING_EXCEPTIONS), none a
    #: missing function
    asserted: bool = False


class Charged(StrEnum):
    """Why a component is left out of a composite item's domain: its own item charged it."""

    FAILED = "its own item failed (charged there)"
    NOT_IMPLEMENTED = "not implemented, in network_gradients as in its own item (charged there)"


@dataclass(frozen=True)
class LeftOut:
    """A component left out of the domain, why, and (NOT_IMPLEMENTED) network_gradients's refusal."""

    component: Component
    why: Charged
    refusal: str = ""

    def line(self) -> str:
        """One line for people: the component, why, and the refusal's words."""
        return f"{self.component.describe()}: {self.why}" + (f": {self.refusal}" if self.refusal else "")


@dataclass(frozen=True)
class Credit:
    """What a composite item checked, component by component, and what it left out (and why)."""

    components: tuple[ComponentResult, ...]
    #: the components left out of the domain: already charged on their own items
    left: tuple[LeftOut, ...] = ()

    @property
    def left_out(self) -> tuple[str, ...]:
        """One line per component left out (LeftOut.line)."""
        return tuple(entry.line() for entry in self.left)

    def of(self, kind: str) -> list[ComponentResult]:
        return [r for r in self.components if r.component.kind == kind]

    @property
    def share(self) -> float:
        """The share of the domain that is right: KIND_SHARE per kind present, split equally."""
        kinds = [kind for kind in KIND_SHARE if self.of(kind)]
        if not kinds:
            return 0.0
        total = sum(KIND_SHARE[kind] for kind in kinds)
        return sum(
            KIND_SHARE[kind] / total * sum(r.verdict is Verdict.RIGHT for r in self.of(kind)) / len(self.of(kind))
            for kind in kinds
        )

    @property
    def not_right(self) -> list[ComponentResult]:
        return [r for r in self.components if r.verdict is not Verdict.RIGHT]

    @property
    def all_refused(self) -> bool:
        """Nothing right or wrong (every component refused, or unchecked for want of a right pair)
        and something refused as missing: a component (code that asserts on every network it is
        given implements something), or one left out as refused here as in its own item."""
        verdicts = [r.verdict for r in self.components]
        missing = any(r.verdict is Verdict.REFUSED and not r.asserted for r in self.components) or any(
            e.why is Charged.NOT_IMPLEMENTED for e in self.left
        )
        return missing and all(v in (Verdict.REFUSED, Verdict.UNCHECKED) for v in verdicts)


@dataclass(frozen=True)
class Plan:
    """What a composite item checks: its components (the domain, what the rubric's own items
    already charged left out), those that count only if network_gradients implements them (a
    part's own item is not implemented), and how its cases are made."""

    components: tuple[Component, ...]
    optional: frozenset[Component]
    #: the components left out: a part's own item failed
    left: tuple[LeftOut, ...]
    #: Architecture -> the item's case (an Example, or a TrainCase)
    case: Callable[[Architecture], Any]
    #: (losses, outputs per loss, hidden activations) -> the item's strategy over them
    strategy: Callable[[tuple[str, ...], dict[str, tuple[str, ...]], tuple[str, ...]], Any]

    @property
    def left_out(self) -> tuple[str, ...]:
        """One line per component left out (LeftOut.line)."""
        return tuple(entry.line() for entry in self.left)


def components(activations: tuple[str, ...] = tuple(ACTIVATIONS), losses: tuple[str, ...] = tuple(LOSSES)) -> list[Component]:
    """Every loss × output activation pair and every hidden activation among `activations` and `losses`."""
    pairs = [Component(out, loss) for loss in LOSSES if loss in losses for out in output_activations(loss) if out in activations]
    return pairs + [Component(act) for act in HIDDEN_ACTIVATIONS if act in activations]


def plan(
    everything: list[Component],
    lost: Mapping[tuple[str, str | None], str],
    case: Callable[[Architecture], Any],
    strategy: Callable,
) -> Plan:
    """The Plan of `everything`, given the standalone items lost so far (`lost`: (check, target)
    -> "failed" or "not implemented"): a component with a failed part is left out; with a part not
    implemented, optional. A kind that would be left with none is kept whole."""
    kept, left, optional = [], [], set()
    for kind in KIND_SHARE:
        of_kind = [c for c in everything if c.kind == kind]
        failed = [c for c in of_kind if any(lost.get(p) == "failed" for p in c.parts)]
        keep = [c for c in of_kind if c not in failed] or of_kind
        kept += keep
        left += [LeftOut(c, Charged.FAILED) for c in of_kind if c not in keep]
        optional |= {c for c in keep if any(lost.get(p) == "not implemented" for p in c.parts)}
    return Plan(tuple(kept), frozenset(optional), tuple(left), case, strategy)


# --------------------------------------------------------------------------- the cases


def _outputs(loss: str) -> int:
    return max(2, LOSSES[loss].min_outputs)


def probe_outputs(pair: Component, outputs: int | None) -> int | None:
    """The output units of a probe of `pair`: the loss's default for None; 1 only where one unit
    is a network of its own (not softmax, whose one output is constantly 1, nor a loss of more)."""
    if outputs is None:
        return _outputs(pair.pair_loss)
    if pair.activation == "softmax" or LOSSES[pair.pair_loss].min_outputs > outputs:
        return None
    return outputs


def probe_arch(pair: Component, layers: int, outputs: int, hidden: str | None = None) -> Architecture:
    """`layers` hidden layers of `hidden` (CASE_HIDDEN units each) under the output pair `pair`
    with `outputs` units."""
    if layers and hidden is None:
        raise ValueError("a probe with hidden layers needs their activation")
    sizes = (CASE_INPUTS, *(CASE_HIDDEN for _ in range(layers)), outputs)
    acts = tuple(hidden for _ in range(layers) if hidden) + (pair.activation,)
    return Architecture(sizes, acts, pair.pair_loss, 0.0, CASE_BATCH)


def hidden_arch(component: Component, under: Component, layers: int = 2, outputs: int | None = None) -> Architecture:
    """`layers` hidden layers of `component`'s activation under the output pair `under` (its
    default outputs, or `outputs`)."""
    return probe_arch(under, layers, outputs or _outputs(under.pair_loss), component.activation)


def arch_of(case: Any) -> Architecture:
    return (case.example if isinstance(case, TrainCase) else case).arch


def with_arch(case: Any, arch: Architecture) -> Any:
    """`case` with its network's architecture replaced (its λ and batch kept)."""
    arch = replace(arch, l2=arch_of(case).l2, batch=arch_of(case).batch)
    if isinstance(case, TrainCase):
        return replace(case, example=replace(case.example, arch=arch))
    return replace(case, arch=arch)


def transferred(case: Any, component: Component, pair: Component, hidden: Component | None) -> Any:
    """`case`'s shape (depth, widths, samples, data, λ) made to test `component` alone: a hidden
    activation in every hidden layer under the output pair `pair`; an output pair (the outputs
    widened to its loss's minimum) over hidden layers of `hidden` (a single layer when None)."""
    arch = arch_of(case)
    if component.loss is None:
        acts = tuple(component.activation for _ in arch.activations[:-1]) + (pair.activation,)
        sizes = arch.sizes[:-1] + (max(arch.sizes[-1], LOSSES[pair.pair_loss].min_outputs),)
        return with_arch(case, Architecture(sizes, acts, pair.pair_loss))
    sizes = arch.sizes[:-1] + (max(arch.sizes[-1], LOSSES[component.loss].min_outputs),)
    if hidden is None:
        sizes = (sizes[0], sizes[-1])
    acts = tuple(hidden.activation for _ in sizes[2:]) + (component.activation,) if hidden else (component.activation,)
    return with_arch(case, Architecture(sizes, acts, component.loss))


def own_components(case: Any) -> set[Component]:
    """The components a case is made of: its output pair and its hidden activations."""
    arch = arch_of(case)
    return {Component(arch.activations[-1], arch.loss), *(Component(a) for a in arch.activations[:-1])}


# --------------------------------------------------------------------------- checking


def refuses(comparison: Comparison, asserts: bool = True) -> bool:
    """Whether a failing comparison says the code refused its network: a function missing (not
    defined, NotImplementedError), or, with `asserts`, an exception of REFUSING_EXCEPTIONS."""
    if comparison.cause in MISSING:
        return True
    return asserts and comparison.cause is Cause.RAISED and comparison.exception in REFUSING_EXCEPTIONS


def shape_of(case: Any) -> tuple[int, int]:
    """The hidden layers and output units of a case's network."""
    sizes = arch_of(case).sizes
    return len(sizes) - 2, sizes[-1]


def _verdict(comparisons: list[Comparison], asserts: bool = True) -> tuple[Verdict, str]:
    """RIGHT, REFUSED (every failing comparison `refuses`) or WRONG, and why (its first failing one)."""
    bad = [c for c in comparisons if not c.ok]
    if not bad:
        return Verdict.RIGHT, ""
    first = bad[0]
    why = f"{first.label}: {first.message}" if first.message else f"{first.label} differs from the expected value"
    return (Verdict.REFUSED if all(refuses(c, asserts) for c in bad) else Verdict.WRONG), why


def _check(prop: Property, module: Any, case: Any, asserts: bool = True) -> tuple[Verdict | None, str, Any, list[Comparison]]:
    """One case: its verdict (None for a case that cannot be checked: a kink, training that
    diverged; an assertion refuses it with `asserts`), why, and (the case the comparisons are
    about, the comparisons)."""
    from gradverify.properties.shared import Rejected

    try:
        case, comparisons = run_case(prop.check, module, case, tolerance=prop.tolerance)
    except Rejected:
        return None, "", case, []
    verdict, why = _verdict(comparisons, asserts)
    return verdict, why, case, comparisons


@dataclass
class _State:
    verdicts: dict[Component, tuple[Verdict, str]] = field(default_factory=dict)
    dropped: list[LeftOut] = field(default_factory=list)
    failure: Failure | None = None
    #: the failing comparisons of the first component refused
    refusal: list[Comparison] | None = None
    examples: int = 0
    max_rel: float = 0.0
    #: the hidden layers and output units of the network each component found right was right on
    shapes: dict[Component, tuple[int, int]] = field(default_factory=dict)
    #: the components refused by assertions only (REFUSING_EXCEPTIONS), none missing
    asserted: set[Component] = field(default_factory=set)

    def inside(self, case: Any) -> bool:
        """Whether a case's network is inside the domain found: of a depth a probe was taken at,
        and of one output unit only if a probe of one was taken (of more only if one of more was)."""
        depth, outputs = shape_of(case)
        taken = set(self.shapes.values())
        return depth in {d for d, _ in taken} and (outputs == 1) in {u == 1 for _, u in taken}

    def right(self, kind: str | None = None) -> list[Component]:
        return [c for c, (v, _) in self.verdicts.items() if v is Verdict.RIGHT and (kind is None or c.kind == kind)]

    def note(self, comparisons: list[Comparison]) -> None:
        self.examples += 1
        for c in comparisons:
            if c.ok and c.max_rel_err == c.max_rel_err:
                self.max_rel = max(self.max_rel, c.max_rel_err)


def _probe(state: _State, plan_: Plan, component: Component, prop: Property, module: Any, archs: list[Architecture]) -> None:
    """`component` judged on the first of `archs` the code accepts (a refusal says the network is
    outside its domain); refused when it refuses them all. An output pair wrong over a hidden
    activation is tried over up to PAIR_HIDDEN_TRIES of them at that depth before it is wrong:
    the wrong one may be the hidden activation."""
    refused: tuple[Any, list[Comparison]] | None = None
    wrong: tuple[Any, list[Comparison]] | None = None
    unchecked = False  # a probe that could not be checked (no evidence either way)
    tries: dict[int, int] = {}
    for arch in archs:
        depth = len(arch.sizes) - 2
        if component.kind == "output" and wrong is not None and (depth == 0 or tries.get(depth, 0) >= PAIR_HIDDEN_TRIES):
            continue
        verdict, _, case, comparisons = _check(prop, module, plan_.case(arch))
        if verdict is None:
            unchecked = True
            continue
        if verdict is Verdict.REFUSED:  # not an example: nothing was compared
            refused = refused or (case, comparisons)
            continue
        state.note(comparisons)
        if verdict is Verdict.RIGHT:
            state.verdicts[component] = (Verdict.RIGHT, "")
            state.shapes[component] = (depth, arch.sizes[-1])
            return
        wrong = wrong or (case, comparisons)
        tries[depth] = tries.get(depth, 0) + 1
        if component.kind == "hidden" or depth == 0:
            break
    found = wrong or refused
    if found is None:  # nothing the code did was wrong or refused: as before, right unless nothing ran
        state.verdicts[component] = (Verdict.RIGHT, "") if unchecked else (Verdict.UNCHECKED, "no network to check it on")
        return
    _judge(state, plan_, component, *found)


def _pair_archs(pair: Component, hidden: list[Component]) -> list[Architecture]:
    """The probes of an output pair (PAIR_SHAPES), over each hidden activation of the domain."""
    archs = []
    for layers, outputs in PAIR_SHAPES:
        units = probe_outputs(pair, outputs)
        if units is not None:
            archs += [probe_arch(pair, layers, units, h.activation) for h in hidden] if layers else [probe_arch(pair, 0, units)]
    return archs


def _judge(state: _State, plan_: Plan, component: Component, case: Any, comparisons: list[Comparison]) -> None:
    verdict, why = _verdict(comparisons)
    if verdict is Verdict.REFUSED and component in plan_.optional:
        del state.verdicts[component]
        state.dropped.append(LeftOut(component, Charged.NOT_IMPLEMENTED, why))
        return
    state.verdicts[component] = (verdict, why)
    if verdict is Verdict.REFUSED and not any(c.cause in MISSING for c in comparisons if not c.ok):
        state.asserted.add(component)
    if verdict is Verdict.REFUSED and state.refusal is None:
        state.refusal = [c for c in comparisons if not c.ok]
    if verdict is Verdict.WRONG and state.failure is None:
        state.failure = failure_of(case, comparisons, Source.COMPONENT)


def check_domain(
    plan_: Plan, module: Any, prop_of: Callable[[Any], Property], *, seed: int | None, examples: int, seconds: float = 30.0
) -> tuple[Credit, PropertyResult]:
    """Check every component of `plan_` (see the module docstring): the Credit, and a
    PropertyResult of the whole (its failure the item's counterexample, its examples, its worst
    relative error). `prop_of(strategy)` is the item's Property over a strategy; `seconds`, the
    item's time: a search round after the first starts only within its first third."""
    prop = prop_of(None)
    state = _State({c: (Verdict.UNCHECKED, "") for c in plan_.components})
    hidden = [c for c in plan_.components if c.kind == "hidden"]
    for component in [c for c in plan_.components if c.kind == "output"]:
        _probe(state, plan_, component, prop, module, _pair_archs(component, hidden))
    pairs = state.right("output")
    for component in hidden:
        if not pairs:
            state.verdicts[component] = (Verdict.UNCHECKED, "no output layer is right to check it under")
            continue
        under, units = pairs[0], state.shapes[pairs[0]][1]
        _probe(state, plan_, component, prop, module, [hidden_arch(component, under, n, units) for n in HIDDEN_LAYERS])
    # the fixed cases count against the item's examples; the search keeps a third of them at least
    budget, start = max(examples // 3, examples - state.examples), time.perf_counter()
    for round_ in range(SEARCH_ROUNDS):
        pairs, hidden = state.right("output"), state.right("hidden")
        if budget < 1 or not pairs or (round_ and time.perf_counter() - start > seconds / 3):
            break
        losses = tuple(dict.fromkeys(c.pair_loss for c in pairs))
        outputs = {loss: tuple(c.activation for c in pairs if c.loss == loss) for loss in losses}
        search = prop_of(plan_.strategy(losses, outputs, tuple(c.activation for c in hidden)))
        # a drawn network the code refuses is outside its domain: skipped, as verify skips it
        result, _ = run_property(
            search,
            module,
            profile=PROFILES["ci"],
            seed=seed,
            entries=[],
            budget=budget,
            skip_missing=True,
            refused=lambda case, c: refuses(c, asserts=not state.inside(case)),
        )
        state.examples += result.examples
        budget -= max(1, result.examples)
        if result.examples and result.max_rel_err == result.max_rel_err:
            state.max_rel = max(state.max_rel, result.max_rel_err)
        if result.failure is None or result.failure.case is None:
            break
        state.failure = state.failure or result.failure
        _attribute(state, prop, module, result.failure, start, seconds)
    credit = Credit(
        tuple(
            ComponentResult(c, *state.verdicts[c], state.shapes.get(c), c in state.asserted)
            for c in plan_.components
            if c in state.verdicts
        ),
        plan_.left + tuple(state.dropped),
    )
    summary = PropertyResult(name=prop.name, claim=prop.claim, kind=CheckKind.PROPERTY, tolerance=prop.tolerance)
    summary.examples, summary.max_rel_err = state.examples, state.max_rel
    if credit.share < 1.0:
        summary.failure = state.failure or _refusals(state, credit.left)
    return credit, summary


def _attribute(state: _State, prop: Property, module: Any, failure: Failure, start: float, seconds: float) -> None:
    """Blame a failure the search found: its case's shape is tried on each component still right
    alone (a hidden activation under the first pair right; a pair over hidden layers of the first
    hidden activation right, or alone when none is), and each it fails on is blamed (a transfer
    it refuses, by an assertion too when outside the domain found, is not); when none
    fails alone, the case's own components are (the failure needs them together). Stops trying
    when 2/3 of the item's `seconds` have gone: what is left untried stays right."""
    case, why = failure.case, _verdict(failure.comparisons, asserts=False)  # the search found it inside the domain
    pairs, hidden = state.right("output"), state.right("hidden")
    found = False
    for component in [*hidden, *pairs]:
        if time.perf_counter() - start > 2 * seconds / 3:
            break
        moved = transferred(case, component, pairs[0], hidden[0] if hidden else None)
        verdict, reason, _, comparisons = _check(prop, module, moved, asserts=not state.inside(moved))
        state.note(comparisons)
        if verdict is Verdict.WRONG:  # a transfer the code refuses is outside its domain: no blame
            state.verdicts[component], found = (verdict, reason), True
    if not found:
        for component in own_components(case) & set(state.right()):
            state.verdicts[component] = why


def _refusals(state: "_State", left: tuple[LeftOut, ...]) -> Failure:
    """A failure without a case (no hints, no picture), for an item where nothing was found wrong:
    its components refused, or nothing left to check (nothing_left says why)."""
    from gradverify.references.compare import Where, failed

    comparisons = state.refusal or [
        failed(Where(function="network_gradients"), Cause.NOT_IMPLEMENTED, nothing_left(left), "autodiff")
    ]
    return Failure(comparisons=comparisons, case=None, case_description="—", shapes="", source=Source.NOT_IMPLEMENTED)


def nothing_left(left: tuple[LeftOut, ...]) -> str:
    """Why a composite item had no output layer to check, from what it left out: the losses the
    submission implements whose pairs each have a part whose own item failed (charged there), and
    that the code refused the rest, as their own items do (the feedback's "Checked without" line
    names each pair)."""
    failed = list(dict.fromkeys(e.component.loss for e in left if e.why is Charged.FAILED and e.component.loss))
    refused = [e for e in left if e.why is Charged.NOT_IMPLEMENTED and e.component.loss is not None]
    if not refused:
        return "no output layer could be checked"
    if not failed:
        return (
            "nothing could be checked: the code is not implemented for any loss with any output activation "
            "(it raised NotImplementedError on each, as their own items do)"
        )
    named = ", ".join(repr(loss) for loss in failed)
    return (
        f"nothing was left to check: the submission implements the loss{'es' if len(failed) > 1 else ''} {named}, "
        "but with a part whose own item failed (charged there), and the code is not implemented for any other loss "
        "with its output activations (it raised NotImplementedError on each, as their own items do)"
    )


def describe_components(components: "list[Component] | tuple[Component, ...]") -> str:
    """Components in few words: the output pairs by loss ("mse with identity, sigmoid; bce with
    sigmoid"), then the hidden activations ("the hidden activations 'relu', 'tanh'"); one alone
    as Component.describe says it."""
    if len(components) == 1:
        return components[0].describe()
    by_loss: dict[str, list[str]] = {}
    hidden = []
    for c in components:
        if c.loss is None:
            hidden.append(c.activation)
        else:
            by_loss.setdefault(c.loss, []).append(c.activation)
    parts = [f"{loss} with {', '.join(acts)}" for loss, acts in by_loss.items()]
    named = f"the hidden activation{'s' if len(hidden) > 1 else ''} {', '.join(map(repr, hidden))}"
    return "; ".join(parts + ([named] if hidden else []))
