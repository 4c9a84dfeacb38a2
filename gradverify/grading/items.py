"""Grading a submission item by item: the suite's properties restricted to each rubric item.

    rubric = load_rubric()                    # grading/rubric.py: the shipped rubric, or a course's own
    result = grade_file("student.py", rubric) # the submission runs in a Sandbox
    result.score, result.max_score
    grade_file("student.py", rubric, adapter="cs231n")   # in a course's own API (grading/adapters/)
    grade_file("student.py", rubric, secret=key)         # the seed derived from the course secret
    grade_file("student.py", rubric, seed=result.seed.value)  # a replay of that grade

Items that compose others (network, l2, train_loop) score the share of their domain that
is right, component by component (grading/domain.py: each loss × output activation pair and
each hidden activation; a component refused counts as not right), leaving out what the
activation and loss items already charged, so a bug in an activation or a loss costs its own
item only; a dense bug costs the composite items too when network_gradients computes its layers
with it (rubric.items_lost_to states the rule). A missing function costs its items' points and
nothing else. Through a course adapter,
the items it cannot map are "not mapped": left out of the total, not scored 0.

The cases come from the grade's seed (grading/secret.py): given, fixed by the rubric, or
derived from the course secret and the submission's bytes, so nobody without the secret can
know a grade's cases in advance.
"""

from __future__ import annotations

import threading
import time
from dataclasses import KW_ONLY, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable

from gradverify.properties.cases import Architecture, Example, TrainCase
from gradverify.properties.checks import Property
from gradverify.grading import adapters, cost, domain, handin
from gradverify.grading.adapters import Adapter
from gradverify.grading.course_names import CourseNames, in_course_words, said, through_adapter
from gradverify.diagnoses import Hint
from gradverify.hints import hints
from gradverify.grading.kinds import KINDS, item_property
from gradverify.grading.rubric import Item, Rubric
from gradverify.grading.secret import GradeSeed, SeedSource, grade_seed, one_off_secret, submission_digest
from gradverify.loader import missing_functions
from gradverify.markdown import escaped
from gradverify.references.compare import MISSING, Cause
from gradverify.references.spec import ACTIVATIONS, LOSSES
from gradverify.profiles import PROFILES
from gradverify.properties.reproduce import snippet
from gradverify.results import Failure, PropertyResult
from gradverify.search import illustrate, run_property

#: Seconds the diagnosis of a failing item (its hints, and the longer run its picture shows) may
#: spend calling the submission.
DIAGNOSIS_TIMEOUT = 10.0


# --------------------------------------------------------------------------- results


class Status(StrEnum):
    """An item's verdict (ItemResult.status); each compares equal to its text."""

    PASSED = "passed"
    PARTIAL = "partial"
    FAILED = "failed"
    NOT_IMPLEMENTED = "not implemented"
    NOT_MAPPED = "not mapped"


@dataclass
class ItemResult:
    """One rubric item's result: the item, whether it passed and its score, then the rest by
    keyword only (a wide record: reordering a field never misassigns a value)."""

    item: Item
    passed: bool
    score: float
    _: KW_ONLY
    #: one line: why it failed, in words ("" when it passed)
    reason: str = ""
    #: the smallest failing case and a few expected vs got values
    details: list[str] = field(default_factory=list)
    hints: list[Hint] = field(default_factory=list)
    examples: int = 0
    seconds: float = 0.0
    #: why it failed as data: what failed (a comparison's rendered `where`, without numbers) and
    #: its Cause
    failed_at: str = ""
    #: Python that rebuilds the smallest failing case and calls the student's functions on it as
    #: the check did (properties/reproduce.py); "" when there is none, or when the calls would be
    #: an adapter's rather than the student's own (its OWN_FUNCTIONS), which then shows the
    #: course's calls when it has them (its SNIPPETS)
    reproduce: str = ""
    cause: Cause | None = None
    #: a composite item's components not right, and those left out of its domain, one line each
    #: with why (`credit_lines`)
    scope: list[str] = field(default_factory=list)
    #: False when the course adapter cannot map the item (`reason` says why): not counted
    mapped: bool = True
    #: the worst relative error of the cases checked (the failing one's when it failed; NaN when
    #: nothing was compared) and the tolerance's name (references.compare.TOLERANCES)
    max_rel_err: float = float("nan")
    tolerance: str = ""
    #: the smallest failing case and its comparisons, with their values (results.Failure), for
    #: the staff report's pictures; None when it passed or failed without a case
    counterexample: Failure | None = field(default=None, repr=False)
    #: a composite item's verdict per component of its domain (grading/domain.py); None for the others
    credit: domain.Credit | None = None

    @property
    def status(self) -> "Status":
        """PASSED; PARTIAL (a composite item with some of its domain right: it scored that share);
        NOT_IMPLEMENTED (a function it needs is not defined or raises NotImplementedError:
        missing, not wrong; for a composite item, nothing of its domain right and every component
        refused); FAILED; or NOT_MAPPED (the course adapter cannot map it: left out of the total)."""
        if not self.mapped:
            return Status.NOT_MAPPED
        if self.passed:
            return Status.PASSED
        if self.credit is not None and self.credit.share > 0:
            return Status.PARTIAL
        if self.credit is not None:
            return Status.NOT_IMPLEMENTED if self.credit.all_refused else Status.FAILED
        return Status.NOT_IMPLEMENTED if self.cause in MISSING else Status.FAILED

    @property
    def lost(self) -> bool:
        """Whether the item lost points: failed, partial or not implemented (not mapped loses none)."""
        return self.mapped and not self.passed


@dataclass
class GradeResult:
    submission: str
    rubric: Rubric
    items: list[ItemResult] = field(default_factory=list)
    load_error: str | None = None
    output: str = ""
    #: the protections the sandbox gave, as the grader established them, and its mode
    isolation: tuple[str, ...] = ()
    sandbox: str = ""
    seconds: float = 0.0
    #: the course adapter the submission was graded through ("" for none): its name or path
    adapter: str = ""
    #: the seed of the cases and where it came from: `grade_file(..., seed=seed.value)` replays the grade
    seed: GradeSeed | None = None
    #: what was handed in and graded, what was left out, and a notebook's cells that failed (grading.handin)
    handed_in: tuple[str, ...] = ()
    #: whether a student's folder was graded as one submission (`grade --package`, in its replay command)
    package: bool = False

    @property
    def score(self) -> float:
        return sum(r.score for r in self.items)

    @property
    def max_score(self) -> float:
        """The points of the items counted: every rubric item but those not mapped."""
        if not self.items:
            return self.rubric.max_score
        return sum(r.item.points for r in self.items if r.mapped)

    @property
    def not_mapped(self) -> list[ItemResult]:
        """The items the course adapter cannot map, left out of the total."""
        return [r for r in self.items if not r.mapped]


MAX_VALUES_SHOWN = 3


def _details(result: PropertyResult) -> tuple[str, list[str]]:
    """(cause, detail lines) of a failing property result, for people."""
    if result.error:
        return result.error, []
    failure = result.failure
    if failure is None:  # neither an error nor a failure: cases skipped as not implemented (run_property's skip_missing)
        return str(result.status), list(result.not_implemented)
    first = failure.comparisons[0]
    cause = f"{first.label}: {first.message}" if first.message else f"{first.label} differs from the expected value"
    lines = []
    if failure.case is not None:
        lines.append(f"Smallest failing case: {failure.case_description}")
    shown = 0
    for c in failure.comparisons:
        if c.message:
            lines.append(f"{c.label}: {c.message}")
            continue
        for idx, got, expected in c.mismatches:
            if shown == MAX_VALUES_SHOWN:
                break
            where = f" at [{', '.join(map(str, idx))}]" if idx else ""
            lines.append(f"{c.label}{where}: expected {expected:.10g}, got {got:.10g}")
            shown += 1
    return cause, lines


def _allowed(results: list[ItemResult], kind: str, everything: tuple[str, ...]) -> tuple[str, ...]:
    """The components of `kind` whose items did not fail with a wrong answer (all of them if that
    would leave none). (The composite items leave out what the other items charged in
    grading/domain.py's `plan`.)"""
    wrong = {r.item.target for r in results if r.item.check == kind and r.status is Status.FAILED}
    return tuple(name for name in everything if name not in wrong) or everything


def not_mapped(item: Item, adapter: Adapter | None) -> ItemResult | None:
    """The result of an item the course adapter cannot map (None when there is no adapter or it can)."""
    why = adapter.why_not(item) if adapter is not None else None
    return None if why is None else ItemResult(item, False, 0.0, reason=why, mapped=False)


class CostOnce:
    """The cost check (grading/cost.py) of one grade, run when the first item that needs it asks,
    under its own deadline, and shared by the others."""

    def __init__(self, timer: cost.Timer, deadline: Callable[[float], Any] | None, seconds: float):
        self.timer, self.deadline, self.seconds = timer, deadline, seconds
        self.result: cost.CostCheck | None = None

    def __call__(
        self, hidden: tuple[str, ...], outputs: dict[str, tuple[str, ...]], layers: int = 2, units: int | None = None
    ) -> cost.CostCheck:
        if self.result is None:
            with self.deadline(self.seconds) if self.deadline else _no_deadline():
                self.result = cost.run(self.timer, hidden, outputs, layers=layers, units=units)
        return self.result


#: What a cost check's verdict costs the composite items that use network_gradients: numerical
#: gradients cost all of them; a network_gradients that fails or is wrong on the cost network costs
#: the items that check its gradients (network, and l2 which builds on it), as a wrong case of
#: theirs would; an item that fails on its own cases keeps its own cause.
COST_LOSES: dict[cost.Verdict, frozenset[str]] = {
    cost.Verdict.NUMERICAL: frozenset({"network", "l2", "train_loop"}),
    cost.Verdict.WRONG: frozenset({"network", "l2"}),
    cost.Verdict.FAILED: frozenset({"network", "l2"}),
}


def grade_item(
    item: Item,
    module: Any,
    rubric: Rubric,
    earlier: list[ItemResult],
    deadline: Callable[[float], Any] | None = None,
    adapter: Adapter | None = None,
    cost_check: "CostOnce | None" = None,
    seed: int | None = None,
) -> ItemResult:
    """Check one item; whatever the submission does ends in the result, never as an exception.
    A composite item scores its points × the share of its domain that is right (grading/domain.py),
    given what the items in `earlier` charged. `adapter`: the course adapter `module` serves (an
    item it cannot map is not run). `cost_check`: the grade's cost check (None: off), run on the
    components found right; a composite item whose verdict it loses (COST_LOSES) scores 0 with
    the check's cause. `seed`: hypothesis's seed for the item's cases (default: choose_seed's for
    the rubric)."""
    unmapped = not_mapped(item, adapter)
    if unmapped is not None:
        return unmapped
    start = time.perf_counter()
    kind = KINDS[item.check]
    base = item_property(item.check, item.target)
    missing = [fn for fn in base.functions if not callable(getattr(module, fn, None))]
    if missing:
        return ItemResult(item, False, 0.0, reason=f"{', '.join(missing)} not defined", cause=Cause.NOT_DEFINED)
    budget = deadline(rubric.item_timeout) if deadline else _no_deadline()
    scope: list[str] = []
    credit: domain.Credit | None = None
    checked: cost.CostCheck | None = None
    prop_of = _property_of(item, base)
    try:
        with budget:
            if kind.composite:
                credit, result, checked = _check_composite(
                    item, module, rubric, earlier, adapter, cost_check, seed, prop_of, scope
                )
            else:
                result = _check_component(item, module, rubric, earlier, adapter, seed, prop_of)
    except Exception as exc:  # noqa: BLE001 - the grader's own error: said as such, never a traceback
        return ItemResult(item, False, 0.0, reason=grader_error(exc), scope=scope, seconds=time.perf_counter() - start)
    if checked is not None and item.check in COST_LOSES.get(checked.verdict, ()):
        if result.passed or checked.verdict is cost.Verdict.NUMERICAL:  # an item failing its own cases keeps its cause
            return _lost_to_cost(item, checked, result, scope=scope, credit=credit, start=start, tolerance=base.tolerance)
    if result.passed:
        return _passed_item(item, result, scope=scope, credit=credit, start=start, tolerance=base.tolerance)
    names = adapter.course_names if adapter is not None else ()
    result = in_course_words(result, names)
    return _failed_item(item, result, module, prop_of(None), deadline, credit=credit, scope=scope, start=start, names=names)


def _passed_item(
    item: Item, result: PropertyResult, *, scope: list[str], credit: domain.Credit | None, start: float, tolerance: str
) -> ItemResult:
    """A passed item: its points, with what it checked (and, for a composite item, left out)."""
    return ItemResult(
        item,
        True,
        item.points,
        examples=result.examples,
        seconds=time.perf_counter() - start,
        scope=scope,
        credit=credit,
        max_rel_err=result.max_rel_err if result.examples else float("nan"),
        tolerance=tolerance,
    )


def _property_of(item: Item, base: Property) -> Callable[[Any], Property]:
    """prop_of(strategy): the kind's property, named for the item, drawing its cases from `strategy`."""

    def prop_of(strategy: Any) -> Property:
        return Property(
            item.name,
            item.title,
            base.functions,
            lambda scope: strategy,
            base.check,
            base.tolerance,
            illustration=base.illustration,
        )

    return prop_of


def _check_component(
    item: Item,
    module: Any,
    rubric: Rubric,
    earlier: list[ItemResult],
    adapter: Adapter | None,
    seed: int | None,
    prop_of: Callable[[Any], Property],
) -> PropertyResult:
    """An item of one component: its property on the activations and losses `earlier` left allowed.
    A case whose only failures are missing functions is skipped (as verify skips it), so that the
    search goes on to a case where a part that exists is wrong (bce's value summed over the
    outputs shows only at K > 1) and the item fails; when every case is skipped, the item is not
    implemented."""
    kind = KINDS[item.check]
    strategy = kind.strategy(
        item.target,
        _allowed(earlier, "activation", tuple(ACTIVATIONS)),
        _allowed(earlier, "loss", tuple(LOSSES)),
        None,
        _l2_draws(adapter),
        None,
        adapter.layer_cases if adapter is not None else (),
    )
    result, _ = run_property(
        prop_of(strategy),
        module,
        profile=PROFILES["ci"],
        seed=choose_seed(rubric, seed).value,
        entries=[],
        budget=rubric.examples,
        skip_missing=True,
    )
    return result


def _lost_to_cost(
    item: Item,
    checked: cost.CostCheck,
    result: PropertyResult,
    *,
    scope: list[str],
    credit: domain.Credit | None,
    start: float,
    tolerance: str,
) -> ItemResult:
    """A composite item the cost check takes (COST_LOSES): 0 points, with the check's explanation."""
    cause = {cost.Verdict.NUMERICAL: Cause.NOT_BACKPROP, cost.Verdict.FAILED: Cause.RAISED}.get(checked.verdict, Cause.MISMATCH)
    return ItemResult(
        item,
        False,
        0.0,
        reason=checked.explanation,
        examples=result.examples,
        seconds=time.perf_counter() - start,
        scope=scope,
        failed_at="network_gradients",
        cause=cause,
        credit=credit,
        max_rel_err=result.max_rel_err if result.examples else float("nan"),
        tolerance=tolerance,
    )


def _l2_draws(adapter: Adapter | None) -> str:
    """ "mixed" (λ = 0 and λ > 0), or "zero" when the course adapter maps no L2 term."""
    return "mixed" if adapter is None or adapter.l2 else "zero"


def _check_composite(
    item: Item,
    module: Any,
    rubric: Rubric,
    earlier: list[ItemResult],
    adapter: Adapter | None,
    cost_check: "CostOnce | None",
    seed: int | None,
    prop_of: Callable[[Any], Property],
    scope: list[str],
) -> tuple[domain.Credit, PropertyResult, cost.CostCheck | None]:
    """A composite item's domain checked (its credit and result) and the cost check run on the
    components found right; `scope` gets the credit's lines as soon as they are known."""
    grade_seed = choose_seed(rubric, seed).value
    l2_draws = _l2_draws(adapter)
    credit, result = domain.check_domain(
        _domain_plan(item, earlier, adapter, l2_draws, grade_seed),
        module,
        prop_of,
        seed=grade_seed,
        examples=rubric.examples,
        seconds=rubric.item_timeout,
    )
    scope += credit_lines(credit)
    right = _right_components(credit)
    checked = cost_check(*right) if cost_check is not None and right is not None else None
    # train_loop: the one composite kind that draws λ > 0 besides l2 ("zero" only through an adapter)
    if adapter is not None and l2_draws == "zero" and item.check == "train_loop":
        scope.append(f"λ > 0: the adapter {adapter.name} maps no L2 term")
    return credit, result, checked


def _failed_item(
    item: Item,
    result: PropertyResult,
    module: Any,
    prop: Property,
    deadline: Callable[[float], Any] | None,
    *,
    credit: domain.Credit | None,
    scope: list[str],
    start: float,
    names: CourseNames = (),
) -> ItemResult:
    """A failed item: its cause and details, its hints (in the course's words, `names`) and picture
    (within DIAGNOSIS_TIMEOUT), and the share of its domain that is right."""
    cause, details = _details(result)
    first = result.failure.comparisons[0] if result.failure else None
    found: list[Hint] = []
    counterexample = result.failure if result.failure is not None and result.failure.case is not None else None
    if counterexample is not None:
        with deadline(DIAGNOSIS_TIMEOUT) if deadline else _no_deadline():
            found = hints(item.check, item.target, counterexample, module)
            illustrate(prop, counterexample, module)  # the failing training case trained longer, for its picture
        case = counterexample.case
        found = [Hint(said(h, names, getattr(case, "op", None), getattr(case, "name", None)), h.diagnosis) for h in found]
    score = round(item.points * credit.share, 2) if credit is not None else 0.0
    max_rel_err = result.max_rel_err if result.examples else float("nan")
    return ItemResult(
        item,
        False,
        score,
        reason=cause,
        details=details,
        hints=found,
        examples=result.examples,
        seconds=time.perf_counter() - start,
        failed_at=str(first.where) if first else "",
        # no failure, only cases skipped as missing (run_property's skip_missing): not implemented
        cause=first.cause if first else (Cause.NOT_IMPLEMENTED if result.not_implemented else None),
        scope=scope,
        counterexample=counterexample,
        credit=credit,
        max_rel_err=max_rel_err,
        tolerance=prop.tolerance,
        reproduce=(snippet(counterexample.case, prop.functions) or "") if counterexample is not None else "",
    )


def _right_components(credit: "domain.Credit") -> tuple[tuple[str, ...], dict[str, tuple[str, ...]], int, int | None] | None:
    """(hidden activations, output activations per loss, hidden layers, output units) of the
    components a composite item found right: what the cost check's network may be built of, in
    a shape the code accepts (two hidden layers when it took them, else the depth it took; one
    output unit when that is all it took; None when no output pair is right)."""
    found = [r for r in credit.components if r.verdict is domain.Verdict.RIGHT]
    outputs: dict[str, tuple[str, ...]] = {}
    for r in found:
        if r.component.loss is not None:
            outputs[r.component.loss] = (*outputs.get(r.component.loss, ()), r.component.activation)
    if not outputs:
        return None
    shapes = [r.shape for r in found if r.shape is not None]
    depths = {layers for layers, _ in shapes if layers}
    layers = 2 if 2 in depths or not depths else min(depths)
    units = 1 if shapes and all(u == 1 for _, u in shapes) else None
    return tuple(r.component.activation for r in found if r.component.loss is None), outputs, layers, units


def _domain_plan(item: Item, earlier: list[ItemResult], adapter: Adapter | None, l2_draws: str, seed: int) -> domain.Plan:
    """What composite item `item` checks (grading/domain.py): every component of the spec that
    `adapter` maps in its networks (all without one), less what the items in `earlier` charged;
    its fixed cases drawn with the grade's `seed`."""
    kind = KINDS[item.check]
    activations = getattr(adapter, "network_activations", None) or tuple(ACTIVATIONS)
    losses = getattr(adapter, "network_losses", None) or tuple(LOSSES)
    lost = {
        (r.item.check, r.item.target): r.status
        for r in earlier
        if r.item.check in ("activation", "loss") and r.status in (Status.FAILED, Status.NOT_IMPLEMENTED)
    }

    def strategy(losses: tuple[str, ...], outputs: dict[str, tuple[str, ...]], hidden: tuple[str, ...]) -> Any:
        drawn = tuple(dict.fromkeys([*(a for acts in outputs.values() for a in acts), *hidden]))
        return kind.strategy(item.target, drawn, losses, outputs, l2_draws, hidden)

    return domain.plan(
        domain.components(activations, losses), lost, lambda arch: composite_case(item.check, arch, l2_draws, seed), strategy
    )


#: The λ of the fixed cases of the items that draw λ > 0.
CASE_L2 = 0.01


def composite_case(check: str, arch: Architecture, l2_draws: str = "mixed", seed: int = 0) -> Any:
    """The fixed case of composite check `check` on `arch` (soft labels; its values drawn with
    the grade's `seed`, so that no one without the course secret knows them in advance): the
    network at λ = 0; for l2 at λ = CASE_L2; for train_loop a run of 2 epochs over batches of 2
    with momentum 0.9, at λ = CASE_L2 unless `l2_draws` is "zero"."""
    if check == "network":
        return Example(replace(arch, l2=0.0), seed)
    if check == "l2":
        return Example(replace(arch, l2=CASE_L2), seed)
    example = Example(replace(arch, l2=CASE_L2 if l2_draws == "mixed" else 0.0), seed)
    return TrainCase(example, lr=0.1, momentum=0.9, batch_size=2, epochs=2)


#: A component's verdict when it is not right, in words.
NOT_RIGHT = {
    domain.Verdict.WRONG: "wrong",
    domain.Verdict.REFUSED: "not implemented (counts as not right)",
    domain.Verdict.UNCHECKED: "not checked (counts as not right)",
}


def credit_lines(credit: domain.Credit) -> list[str]:
    """One line per component not right (what, and why) and per component left out of the
    domain: what a composite item was checked without, for people."""
    refused_by_assertion = "refused by an assertion on every network it was given (counts as not right)"
    lines = [
        f"{r.component.describe()}: {refused_by_assertion if r.asserted else NOT_RIGHT[r.verdict]}: {r.why}"
        for r in credit.not_right
    ]
    return lines + [f"{line} (left out)" for line in credit.left_out]


def grader_error(exc: BaseException) -> str:
    """An item's cause when the grader itself failed on it: staff's to report, not the student's fault."""
    from gradverify.properties.calls import describe_exception

    return f"the grader could not check this item (an error of gradverify's, not of the submission: {describe_exception(exc)})"


class _no_deadline:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


#: The seed of an in-process grade (grade_module) when neither its caller nor the rubric gives one.
IN_PROCESS_SEED = 0


def choose_seed(rubric: Rubric, seed: int | GradeSeed | None = None) -> GradeSeed:
    """The seed of a grade of code already loaded: `seed` (an int is GIVEN), else the rubric's
    fixed one, else IN_PROCESS_SEED (grade_file derives one from the course secret instead)."""
    if isinstance(seed, GradeSeed):
        return seed
    if seed is not None:
        return GradeSeed(seed, SeedSource.GIVEN)
    if rubric.seed is not None:
        return GradeSeed(rubric.seed, SeedSource.RUBRIC)
    return GradeSeed(IN_PROCESS_SEED, SeedSource.GIVEN)


def grade_module(
    module: Any,
    rubric: Rubric,
    *,
    submission: str = "",
    deadline=None,
    progress: Callable[[int, int, ItemResult], None] | None = None,
    adapter: Adapter | None = None,
    timer: cost.Timer | None = None,
    seed: int | GradeSeed | None = None,
) -> GradeResult:
    """Grade an already loaded implementation (a module or a sandbox proxy). `adapter`: the course
    adapter whose functions `module` serves (grading/adapters: `load`, or `load_local` in this
    process); the items it cannot map are not mapped, out of the total. `timer`: how the cost check
    times network_gradients (default: in this process, cost.local_timer), when the rubric
    requires backprop. `seed`: the seed of every item's cases (choose_seed: default the rubric's,
    else IN_PROCESS_SEED)."""
    chosen = choose_seed(rubric, seed)
    result = GradeResult(submission, rubric, adapter=adapter.name if adapter else "", seed=chosen)
    start = time.perf_counter()
    order = sorted(rubric.items, key=lambda item: KINDS[item.check].composite)  # components first
    done: list[ItemResult] = []
    cost_check = (
        CostOnce(timer or cost.local_timer(module), deadline, rubric.item_timeout)
        if rubric.require_backprop and "network_gradients" not in missing_functions(module)
        else None
    )
    for index, item in enumerate(order):
        done.append(grade_item(item, module, rubric, done, deadline, adapter=adapter, cost_check=cost_check, seed=chosen.value))
        if adapter is not None:  # the protocol's calls are the adapter's, unless it serves the student's own
            case = done[-1].counterexample.case if done[-1].counterexample is not None else None
            done[-1].reproduce = through_adapter(done[-1].reproduce, case, adapter.own_functions, adapter.snippets)
        if progress:
            progress(index, len(order), done[-1])
    by_name = {r.item.name: r for r in done}
    result.items = [by_name[item.name] for item in rubric.items]  # back in rubric order
    result.seconds = time.perf_counter() - start
    return result


def _import_references() -> None:
    """Import the references (PyTorch and JAX with their dependencies: ~3.5 s cold on this machine);
    grade_file runs this in a thread while the sandbox starts and imports the submission, and
    waits for it before the first item, so that no item's timeout pays for it. A failure to import
    is left for the item that meets it. (Compiling the JAX kernels here too was measured and gained
    nothing: tracing holds the interpreter's lock.)"""
    try:
        from gradverify.references import jax_backend, torch_backend  # noqa: F401 - imported to be ready
    except BaseException:  # noqa: BLE001 - the items report it where they meet it
        pass


def submission_seed(
    path: str | Path,
    rubric: Rubric,
    *,
    seed: int | None = None,
    secret: bytes | None = None,
    adapter: Adapter | None = None,
    digest: bytes | None = None,
) -> GradeSeed:
    """The seed of a grade of the file `path`: `seed` if given (a replay), else the rubric's fixed
    one, else grading.secret.grade_seed of `secret` (a secret drawn for this grade alone when
    None), the submission's `digest` (default: the file's bytes'; none when it cannot be read:
    its grade is then a load error) and the name of the course `adapter` (a file adapter's file
    name, so the setup can move)."""
    if seed is not None or rubric.seed is not None:
        return choose_seed(rubric, seed)
    label = Path(adapter.name).name if adapter is not None else ""
    key, source = (secret, SeedSource.SECRET) if secret is not None else (one_off_secret(), SeedSource.ONE_OFF)
    return GradeSeed(grade_seed(key, digest or submission_digest(path), label), source)


def _sandbox_for(
    path: str | Path, rubric: Rubric, *, memory_mb: int, unsafe: bool, adapter: Adapter | None, tree: Any = None
) -> Any:
    """The submission's Sandbox, not started: the rubric's limits and packages, the rubric and the
    submission's folder locked away from others, the course adapter beside the submission; a
    folder's, a zip's or a notebook's `tree` (grading.handin) run instead of the file `path`."""
    from gradverify.sandbox import Sandbox

    return Sandbox(
        tree if tree is not None else path,
        call_timeout=min(10.0, rubric.item_timeout),
        import_timeout=rubric.item_timeout,
        memory_mb=memory_mb,
        unsafe=unsafe,
        locked=[*([rubric.path] if rubric.path else []), Path(path).resolve().parent],
        packages=rubric.packages,
        adapter=adapter.path if adapter else None,
    )


def read_handin(path: str | Path, rubric: Rubric) -> handin.Handin | str:
    """What was handed in at `path`, read (grading.handin), or why it cannot be graded (the
    student's to fix: a folder with no module to grade, a notebook that is no notebook…);
    gradverify.sandbox.FileNotCopied when it cannot be read at all (no grade)."""
    from gradverify.sandbox import FileNotCopied
    from gradverify.sandbox.folder import unreadable

    try:
        return handin.read(path, file=rubric.submission_file or None)
    except handin.HandinError as exc:
        return str(exc)
    except OSError as exc:
        raise FileNotCopied(unreadable(Path(path), exc)) from None


def _not_loaded(exc: Exception, submission: str, rubric: Rubric, adapter: Adapter | None, seed: Any) -> GradeResult:
    """The grade of a file that could not be loaded: every item it maps fails with why."""
    from gradverify.sandbox.errors import AdapterLoadError

    # the adapter loaded on its own (adapters.load), so beside this file it failed through the file
    reason = f"the course adapter could not be loaded beside it: {exc}" if isinstance(exc, AdapterLoadError) else str(exc)
    result = GradeResult(submission, rubric, load_error=reason, adapter=adapter.name if adapter else "", seed=seed)
    result.items = [
        not_mapped(item, adapter) or ItemResult(item, False, 0.0, reason=f"the file could not be loaded: {reason}")
        for item in rubric.items
    ]
    return result


def _grade_in(sandbox: Any, rubric: Rubric, submission: str, *, progress: Any, adapter: Adapter | None, seed: Any) -> GradeResult:
    """The items graded on the started sandbox's module, within the submission's whole budget
    (besides each item's own)."""
    from gradverify.grading.remote import suite_view

    with sandbox.deadline(submission_budget(rubric)):
        return grade_module(
            suite_view(sandbox.module),
            rubric,
            submission=submission,
            deadline=sandbox.deadline,
            progress=progress,
            adapter=adapter,
            timer=cost.sandbox_timer(sandbox, rubric.item_timeout),
            seed=seed,
        )


def grade_file(
    path: str | Path,
    rubric: Rubric,
    *,
    timeout: float | None = None,
    memory_mb: int = 2048,
    progress: Callable[[int, int, ItemResult], None] | None = None,
    unsafe: bool = False,
    adapter: Adapter | str | Path | None = None,
    seed: int | None = None,
    secret: bytes | None = None,
) -> GradeResult:
    """Grade one submission (a .py file, a folder, a zip or a notebook: grading.handin) in a Sandbox
    (bubblewrap, or a separate user; no isolation only with `unsafe`): SandboxUnavailable when it
    cannot be isolated here; whatever the submission does ends in the result. In the separate-user
    mode the rubric and the folder holding the submission are closed to other users while it runs.

    adapter: a course adapter (an Adapter, a shipped adapter's name or a .py path; default: the
    rubric's, if it names one), run in the sandbox over the submission (grading/adapters).
    Raises grading.adapters.AdapterError when it cannot be used: staff's mistake, not the student's;
    gradverify.sandbox.FileNotCopied when the file is a symbolic link or cannot be read (no grade).

    seed, secret: the grade's seed is `seed` (a replay), else the rubric's, else derived from the
    course `secret` (its bytes; a secret for this grade alone when None) and what was handed in
    (submission_seed); the secret stays in this process, never in the sandbox."""
    from gradverify.sandbox import SubmissionLoadError

    start = time.perf_counter()
    submission = escaped(str(path))  # the file's name as the reports show it: a newline or a byte not UTF-8 escaped
    if timeout is not None:
        rubric = replace(rubric, item_timeout=timeout)
    chosen = adapter if adapter is not None else rubric.adapter or None
    if chosen is not None:
        chosen = adapters.load(chosen, unsafe=unsafe, memory_mb=memory_mb, timeout=rubric.item_timeout)
    handed = read_handin(path, rubric)
    if isinstance(handed, str):  # nothing to run: every item it maps fails with why
        return replace(
            _not_loaded(SubmissionLoadError(handed), submission, rubric, chosen, None), seconds=time.perf_counter() - start
        )
    graded_with = submission_seed(path, rubric, seed=seed, secret=secret, adapter=chosen, digest=handed.digest())
    sandbox = _sandbox_for(path, rubric, memory_mb=memory_mb, unsafe=unsafe, adapter=chosen, tree=handed.tree)
    references = threading.Thread(target=_import_references, name="gradverify-references", daemon=True)
    references.start()
    try:
        try:
            sandbox.start()
        except SubmissionLoadError as exc:
            result = _not_loaded(exc, submission, rubric, chosen, graded_with)
        else:
            references.join()  # the imports count against no item's timeout
            result = _grade_in(sandbox, rubric, submission, progress=progress, adapter=chosen, seed=graded_with)
        result.output = sandbox.output()
        result.handed_in = handed.found + sandbox.notes
        result.package = handed.form is handin.Form.FOLDER
        result.isolation = tuple(sorted(sandbox.isolation))
        result.sandbox = sandbox.mode.value if sandbox.mode else ""
    finally:
        sandbox.close()
    result.seconds = time.perf_counter() - start
    return result


def submission_budget(rubric: Rubric) -> float:
    """The longest one submission's grading may take, in seconds: its import, and each item's
    timeout and diagnosis."""
    return rubric.item_timeout + len(rubric.items) * (rubric.item_timeout + DIAGNOSIS_TIMEOUT)
