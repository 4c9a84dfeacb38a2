"""Grading a submission item by item: the suite's properties restricted to each rubric item.

    rubric = load_rubric()                    # grading/rubric.py: the shipped rubric, or a course's own
    result = grade_file("student.py", rubric) # the submission runs in a Sandbox
    result.score, result.max_score

Items that compose others (network, l2, train_loop) draw only from the activations
and losses whose own items passed, so a bug costs the points of the item where it is.
A missing function costs its items' points and nothing else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from gradverify.checks import PROPERTIES, Property
from gradverify.grading.hints import hints
from gradverify.grading.rubric import KINDS, Item, Rubric
from gradverify.loader import missing_functions
from gradverify.references.compare import Cause
from gradverify.references.spec import ACTIVATIONS, LOSSES
from gradverify.runner import PROFILES, PropertyResult, run_property

#: Seconds the diagnosis of a failing item may spend calling the submission.
DIAGNOSIS_TIMEOUT = 10.0


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

    @property
    def score(self) -> float:
        return sum(r.score for r in self.items)

    @property
    def max_score(self) -> float:
        return self.rubric.max_score


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
    """The components of `kind` whose items did not fail (all of them if that would leave none)."""
    failed = {r.item.target for r in results if r.item.check == kind and not r.passed}
    return tuple(name for name in everything if name not in failed) or everything


def grade_item(item: Item, module: Any, rubric: Rubric, earlier: list[ItemResult],
               deadline: Callable[[float], Any] | None = None) -> ItemResult:
    """Check one item; whatever the submission does ends in the result, never as an exception."""
    start = time.perf_counter()
    kind = KINDS[item.check]
    base = PROPERTIES[kind.prop]
    missing = [fn for fn in base.functions if fn in missing_functions(module)]
    if missing:
        return ItemResult(item, False, 0.0, f"not defined: {', '.join(missing)}", seconds=time.perf_counter() - start)
    activations = _allowed(earlier, "activation", tuple(ACTIVATIONS))
    losses = _allowed(earlier, "loss", tuple(LOSSES))
    strategy = kind.strategy(item.target, activations, losses)
    prop = Property(item.name, item.title, base.functions, lambda: strategy, base.check, base.tolerance)
    budget = deadline(rubric.item_timeout) if deadline else _no_deadline()
    with budget:
        result, _ = run_property(prop, module, profile=PROFILES["ci"], seed=rubric.seed, entries=[], budget=rubric.examples)
    if result.passed:
        return ItemResult(item, True, item.points, examples=result.examples, seconds=time.perf_counter() - start)
    cause, details = _details(result)
    first = result.failure.comparisons[0] if result.failure else None
    found: list[str] = []
    if result.failure is not None and result.failure.case is not None:
        with deadline(DIAGNOSIS_TIMEOUT) if deadline else _no_deadline():
            found = hints(item.check, item.target, result.failure, module)
    return ItemResult(item, False, 0.0, cause, details, found, result.examples, time.perf_counter() - start,
                      failed_at=str(first.where) if first else "", failure=first.cause if first else None)


class _no_deadline:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def grade_module(module: Any, rubric: Rubric, *, submission: str = "", deadline=None,
                 progress: Callable[[int, int, ItemResult], None] | None = None) -> GradeResult:
    """Grade an already loaded implementation (a module or a sandbox proxy)."""
    result = GradeResult(submission, rubric)
    start = time.perf_counter()
    order = sorted(rubric.items, key=lambda item: KINDS[item.check].composite)  # components first
    done: list[ItemResult] = []
    for index, item in enumerate(order):
        done.append(grade_item(item, module, rubric, done, deadline))
        if progress:
            progress(index, len(order), done[-1])
    by_name = {r.item.name: r for r in done}
    result.items = [by_name[item.name] for item in rubric.items]  # back in rubric order
    result.seconds = time.perf_counter() - start
    return result


class _References:
    """The references imported beside the sandbox, in a thread of their own (PyTorch and JAX with
    their dependencies: ~3.5 s cold on this machine), while the sandbox starts and imports the
    submission; `ready()` waits for them before the first item, so that no item's timeout pays
    for them. A failure to import is left for the item that meets it. (Compiling the JAX kernels
    here too was measured and gained nothing: tracing holds the interpreter's lock.)"""

    def __init__(self):
        import threading

        self.thread = threading.Thread(target=self._run, name="gradverify-references", daemon=True)
        self.thread.start()

    def ready(self) -> None:
        self.thread.join()

    @staticmethod
    def _run() -> None:
        try:
            from gradverify.references import jax_backend, torch_backend  # noqa: F401 - imported to be ready
        except BaseException:  # noqa: BLE001 - the items report it where they meet it
            pass


def grade_file(path: str | Path, rubric: Rubric, *, timeout: float | None = None, memory_mb: int = 2048,
               progress: Callable[[int, int, ItemResult], None] | None = None, unsafe: bool = False) -> GradeResult:
    """Grade one submission file, run in a Sandbox (gradverify.sandbox: bubblewrap, or a separate
    user; no isolation only with `unsafe`). Raises gradverify.sandbox.SandboxUnavailable when the
    submission cannot be isolated here; whatever the submission does ends in the result.
    In the separate-user mode the rubric and the folder that holds the submission (its
    classmates' files, in a class folder) are closed to other users before it runs."""
    from gradverify.grading.remote import suite_view
    from gradverify.sandbox import Sandbox, SubmissionLoadError

    start = time.perf_counter()
    if timeout is not None:
        rubric = replace(rubric, item_timeout=timeout)
    sandbox = Sandbox(path, call_timeout=min(10.0, rubric.item_timeout), import_timeout=rubric.item_timeout,
                      memory_mb=memory_mb, unsafe=unsafe, locked=[*([rubric.path] if rubric.path else []), Path(path).resolve().parent],
                      packages=rubric.packages)
    references = _References()
    try:
        try:
            sandbox.start()
        except SubmissionLoadError as exc:
            result = GradeResult(str(path), rubric, load_error=str(exc))
            result.items = [ItemResult(item, False, 0.0, f"the file could not be loaded: {exc}") for item in rubric.items]
        else:
            references.ready()  # the imports count against no item's timeout
            with sandbox.deadline(submission_budget(rubric)):  # the whole submission, besides each item's own
                result = grade_module(suite_view(sandbox.module), rubric, submission=str(path), deadline=sandbox.deadline,
                                      progress=progress)
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
