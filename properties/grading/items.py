"""Grading a submission item by item: the suite's properties restricted to each rubric item.

    rubric = load_rubric()                    # grading/rubric.py: the shipped rubric, or a course's own
    result = grade_file("student.py", rubric) # the submission runs in a Sandbox
    result.score, result.max_score
    grade_file("student.py", rubric, adapter="cs231n")   # in a course's own API (grading/adapters/)
    grade_file("student.py", rubric, secret=key)         # the seed derived from the course secret
    grade_file("student.py", rubric, seed=result.seed.value)  # a replay of that grade

Items that compose others (network, l2, train_loop) draw only from the activations
and losses whose own items passed, so a bug costs the points of the item where it is.
A missing function costs its items' points and nothing else. Through a course adapter,
the items it cannot map are "not mapped": left out of the total, not scored 0.

The cases come from the grade's seed (grading/secret.py): given, fixed by the rubric, or
derived from the course secret and the submission's bytes, so nobody without the secret can
know a grade's cases in advance.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from gradverify.calls import ImplFailure, call
from gradverify.cases import Architecture, Example, materialize
from gradverify.checks import PROPERTIES, Property
from gradverify.grading import adapters
from gradverify.grading.adapters import Adapter
from gradverify.hints import hints
from gradverify.grading.rubric import KINDS, Item, Rubric
from gradverify.grading.secret import GradeSeed, SeedSource, grade_seed, one_off_secret, submission_digest
from gradverify.loader import missing_functions
from gradverify.references.compare import Cause
from gradverify.references.spec import ACTIVATIONS, HIDDEN_ACTIVATIONS, LOSSES, output_activations
from gradverify.runner import PROFILES, Failure, PropertyResult, illustrate, run_property

#: Seconds the diagnosis of a failing item (its hints, and the longer run its picture shows) may
#: spend calling the submission.
DIAGNOSIS_TIMEOUT = 10.0
#: Causes that say a function is missing rather than wrong.
MISSING = frozenset({Cause.NOT_DEFINED, Cause.NOT_IMPLEMENTED})


# --------------------------------------------------------------------------- results


@dataclass
class ItemResult:
    item: Item
    passed: bool
    score: float
    #: one line: why it failed ("" when it passed)
    cause: str = ""
    #: the smallest failing case and a few expected vs got values
    details: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    examples: int = 0
    seconds: float = 0.0
    #: the cause as data: what failed (a comparison's rendered `where`, without numbers) and why
    failed_at: str = ""
    failure: Cause | None = None
    #: what the composite items were checked without, and why (components the submission's own
    #: network_gradients does not implement, found by probing: `_supported`)
    scope: list[str] = field(default_factory=list)
    #: False when the course adapter cannot map the item (`cause` says why): not counted
    mapped: bool = True
    #: the worst relative error of the cases checked (the failing one's when it failed; NaN when
    #: nothing was compared) and the tolerance's name (references.compare.TOLERANCES)
    max_rel_err: float = float("nan")
    tolerance: str = ""
    #: the smallest failing case and its comparisons, with their values (runner.Failure), for
    #: the staff report's pictures; None when it passed or failed without a case
    counterexample: Failure | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        """"passed", "not implemented" (a function it needs is not defined or raises
        NotImplementedError: missing, not wrong), "failed", or "not mapped" (the course adapter
        cannot map it: left out of the total)."""
        if not self.mapped:
            return "not mapped"
        if self.passed:
            return "passed"
        return "not implemented" if self.failure in MISSING else "failed"


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
    would leave none). A component whose standalone function is only missing stays: a softmax
    fused with cross-entropy has no VJP of its own, yet the network may be right (`_supported`
    asks the network itself)."""
    wrong = {r.item.target for r in results if r.item.check == kind and r.status == "failed"}
    return tuple(name for name in everything if name not in wrong) or everything


def _probe(module: Any, sizes: tuple[int, ...], activations: tuple[str, ...], loss: str) -> ImplFailure | None:
    """network_gradients on one small network (batch 2, seed 0): the failure if it says a function
    is missing, else None (a wrong answer or another failure is for the item itself to judge)."""
    net, X, Y = materialize(Example(Architecture(sizes, activations, loss, 0.0, 2), 0))
    try:
        call(module, "network_gradients", net, X, Y)
    except ImplFailure as failure:
        return failure if failure.cause in MISSING else None
    return None


def _supported(module: Any, activations: tuple[str, ...], losses: tuple[str, ...]
               ) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]], list[str]]:
    """What the submission's own network_gradients implements, found by probing: one single-layer
    network per allowed loss and output activation, then, under the first pair that works, one
    hidden layer of each hidden activation. A probe that raises NotImplementedError (or needs a
    function that is not defined) leaves its pair or activation out of the draws; so a network
    with softmax fused into its cross-entropy is drawn with softmax under cross-entropy only.
    (hidden activations kept, output activations per loss (losses with none left out), one line
    per component left out)."""
    left_out: list[str] = []
    outputs: dict[str, tuple[str, ...]] = {}
    for loss in losses:
        works, missing = [], []
        for output in (a for a in output_activations(loss) if a in activations):
            failure = _probe(module, (1, max(2, LOSSES[loss].min_outputs)), (output,), loss)
            (works if failure is None else missing).append((output, failure))
        if works:
            outputs[loss] = tuple(output for output, _ in works)
        if missing:
            names = ", ".join(repr(output) for output, _ in missing)
            left_out.append(f"the loss {loss!r} with the output activation(s) {names}: {missing[0][1].function} {missing[0][1].message}")
    if not outputs:
        return activations, {}, left_out
    first = next(iter(outputs))
    kept = []
    for act in activations:
        if act in HIDDEN_ACTIVATIONS:
            failure = _probe(module, (1, 2, max(2, LOSSES[first].min_outputs)), (act, outputs[first][0]), first)
            if failure is not None:
                left_out.append(f"the hidden activation {act!r}: {failure.function} {failure.message}")
                continue
        kept.append(act)
    return tuple(kept), outputs, left_out


def not_mapped(item: Item, adapter: Adapter | None) -> ItemResult | None:
    """The result of an item the course adapter cannot map (None when there is no adapter or it can)."""
    why = adapter.why_not(item) if adapter is not None else None
    return None if why is None else ItemResult(item, False, 0.0, why, mapped=False)


def grade_item(item: Item, module: Any, rubric: Rubric, earlier: list[ItemResult],
               deadline: Callable[[float], Any] | None = None, probes: dict | None = None,
               adapter: Adapter | None = None, seed: int | None = None) -> ItemResult:
    """Check one item; whatever the submission does ends in the result, never as an exception.
    `probes`: what `_supported` found, by allowed components, shared by the items of one grade.
    `adapter`: the course adapter `module` serves (an item it cannot map is not run).
    `seed`: hypothesis's seed for the item's cases (default: choose_seed's for the rubric)."""
    unmapped = not_mapped(item, adapter)
    if unmapped is not None:
        return unmapped
    start = time.perf_counter()
    kind = KINDS[item.check]
    base = PROPERTIES[kind.prop]
    missing = [fn for fn in base.functions if fn in missing_functions(module)]
    if missing:
        return ItemResult(item, False, 0.0, f"{', '.join(missing)} not defined", seconds=time.perf_counter() - start,
                          failure=Cause.NOT_DEFINED)
    activations = _allowed(earlier, "activation", tuple(ACTIVATIONS))
    losses = _allowed(earlier, "loss", tuple(LOSSES))
    budget = deadline(rubric.item_timeout) if deadline else _no_deadline()
    scope: list[str] = []
    l2_draws = "mixed" if adapter is None or adapter.l2 else "zero"
    with budget:
        outputs = None
        if kind.composite:
            probes = {} if probes is None else probes
            if (activations, losses) not in probes:
                probes[activations, losses] = _supported(module, activations, losses)
            activations, outputs, scope = probes[activations, losses]
            if not outputs:
                return ItemResult(item, False, 0.0, "network_gradients implements none of the losses",
                                  scope=scope, seconds=time.perf_counter() - start, failure=Cause.NOT_IMPLEMENTED)
            losses = tuple(outputs)
            if l2_draws == "zero" and item.check == "train_loop":  # the one composite kind that draws λ > 0 besides l2
                scope = [*scope, f"λ > 0: the adapter {adapter.name} maps no L2 term"]
        strategy = kind.strategy(item.target, activations, losses, outputs, l2_draws)
        prop = Property(item.name, item.title, base.functions, lambda: strategy, base.check, base.tolerance,
                        illustration=base.illustration)
        result, _ = run_property(prop, module, profile=PROFILES["ci"], seed=choose_seed(rubric, seed).value,
                                 entries=[], budget=rubric.examples)
    errors = dict(max_rel_err=result.max_rel_err if result.examples else float("nan"), tolerance=base.tolerance)
    if result.passed:
        return ItemResult(item, True, item.points, examples=result.examples, seconds=time.perf_counter() - start, scope=scope,
                          **errors)
    cause, details = _details(result)
    first = result.failure.comparisons[0] if result.failure else None
    found: list[str] = []
    counterexample = result.failure if result.failure is not None and result.failure.case is not None else None
    if counterexample is not None:
        with deadline(DIAGNOSIS_TIMEOUT) if deadline else _no_deadline():
            found = hints(item.check, item.target, counterexample, module)
            illustrate(prop, counterexample, module)  # the failing training case trained longer, for its picture
    return ItemResult(item, False, 0.0, cause, details, found, result.examples, time.perf_counter() - start,
                      failed_at=str(first.where) if first else "", failure=first.cause if first else None, scope=scope,
                      counterexample=counterexample, **errors)


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


def grade_module(module: Any, rubric: Rubric, *, submission: str = "", deadline=None,
                 progress: Callable[[int, int, ItemResult], None] | None = None,
                 adapter: Adapter | None = None, seed: int | GradeSeed | None = None) -> GradeResult:
    """Grade an already loaded implementation (a module or a sandbox proxy). `adapter`: the course
    adapter whose functions `module` serves (grading/adapters: `load`, or `load_local` in this
    process); the items it cannot map are not mapped, out of the total. `seed`: the seed of every
    item's cases (choose_seed: default the rubric's, else IN_PROCESS_SEED)."""
    chosen = choose_seed(rubric, seed)
    result = GradeResult(submission, rubric, adapter=adapter.name if adapter else "", seed=chosen)
    start = time.perf_counter()
    order = sorted(rubric.items, key=lambda item: KINDS[item.check].composite)  # components first
    done: list[ItemResult] = []
    probes: dict = {}
    for index, item in enumerate(order):
        done.append(grade_item(item, module, rubric, done, deadline, probes, adapter, chosen.value))
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


def submission_seed(path: str | Path, rubric: Rubric, *, seed: int | None = None, secret: bytes | None = None,
                    adapter: Adapter | None = None) -> GradeSeed:
    """The seed of a grade of the file `path`: `seed` if given (a replay), else the rubric's fixed
    one, else grading.secret.grade_seed of `secret` (a secret drawn for this grade alone when
    None), the file's bytes (none when it cannot be read: its grade is then a load error) and the
    name of the course `adapter` (a file adapter's file name, so the setup can move)."""
    if seed is not None or rubric.seed is not None:
        return choose_seed(rubric, seed)
    label = Path(adapter.name).name if adapter is not None else ""
    key, source = (secret, SeedSource.SECRET) if secret is not None else (one_off_secret(), SeedSource.ONE_OFF)
    return GradeSeed(grade_seed(key, submission_digest(path), label), source)


def grade_file(path: str | Path, rubric: Rubric, *, timeout: float | None = None, memory_mb: int = 2048,
               progress: Callable[[int, int, ItemResult], None] | None = None, unsafe: bool = False,
               adapter: Adapter | str | Path | None = None, seed: int | None = None,
               secret: bytes | None = None) -> GradeResult:
    """Grade one submission file, run in a Sandbox (gradverify.sandbox: bubblewrap, or a separate
    user; no isolation only with `unsafe`). Raises gradverify.sandbox.SandboxUnavailable when the
    submission cannot be isolated here; whatever the submission does ends in the result.
    In the separate-user mode the rubric and the folder that holds the submission (its
    classmates' files, in a class folder) are closed to other users before it runs.

    adapter: a course adapter (an Adapter, a shipped adapter's name or a .py path; default: the
    rubric's, if it names one), run in the sandbox over the submission (grading/adapters).
    Raises grading.adapters.AdapterError when it cannot be used: staff's mistake, not the student's.

    seed, secret: the grade's seed is `seed` (a replay), else the rubric's, else derived from the
    course `secret` (its bytes; a secret for this grade alone when None) and the file's bytes
    (submission_seed); the secret stays in this process, never in the sandbox."""
    from gradverify.grading.remote import suite_view
    from gradverify.sandbox import Sandbox, SubmissionLoadError
    from gradverify.sandbox.host import AdapterLoadError

    start = time.perf_counter()
    if timeout is not None:
        rubric = replace(rubric, item_timeout=timeout)
    chosen = adapter if adapter is not None else rubric.adapter or None
    if chosen is not None:
        chosen = adapters.load(chosen, unsafe=unsafe, memory_mb=memory_mb, timeout=rubric.item_timeout)
    graded_with = submission_seed(path, rubric, seed=seed, secret=secret, adapter=chosen)
    sandbox = Sandbox(path, call_timeout=min(10.0, rubric.item_timeout), import_timeout=rubric.item_timeout,
                      memory_mb=memory_mb, unsafe=unsafe, locked=[*([rubric.path] if rubric.path else []), Path(path).resolve().parent],
                      packages=rubric.packages, adapter=chosen.path if chosen else None)
    references = threading.Thread(target=_import_references, name="gradverify-references", daemon=True)
    references.start()
    try:
        try:
            sandbox.start()
        except SubmissionLoadError as exc:
            # the adapter loaded on its own (adapters.load), so beside this file it failed through the file
            cause = f"the course adapter could not be loaded beside it: {exc}" if isinstance(exc, AdapterLoadError) else str(exc)
            result = GradeResult(str(path), rubric, load_error=cause, adapter=chosen.name if chosen else "",
                                 seed=graded_with)
            result.items = [not_mapped(item, chosen) or ItemResult(item, False, 0.0, f"the file could not be loaded: {cause}")
                            for item in rubric.items]
        else:
            references.join()  # the imports count against no item's timeout
            with sandbox.deadline(submission_budget(rubric)):  # the whole submission, besides each item's own
                result = grade_module(suite_view(sandbox.module), rubric, submission=str(path), deadline=sandbox.deadline,
                                      progress=progress, adapter=chosen, seed=graded_with)
        result.output = sandbox.output()
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
