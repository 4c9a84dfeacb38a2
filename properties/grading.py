"""Grading a submission item by item: the suite's properties restricted to each rubric item.

    rubric = load_rubric()                    # properties/rubric.toml, or a course's own
    result = grade_file("student.py", rubric) # the submission runs in a Sandbox
    result.score, result.max_score

Items that compose others (network, l2, train_loop) draw only from the activations
and losses whose own items passed, so a bug costs the points of the item where it is.
A missing function costs its items' points and nothing else.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hypothesis import strategies as st

from impl.backprop import ACTIVATIONS, LOSSES
from properties import strategies
from properties.checks import PROPERTIES, Property
from properties.diagnosis import hints
from properties.loader import missing_functions
from properties.runner import PROFILES, PropertyResult, run_property

DEFAULT_RUBRIC = Path(__file__).resolve().with_name("rubric.toml")
#: Gradescope's visibility values.
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
#: Seconds the diagnosis of a failing item may spend calling the submission.
DIAGNOSIS_TIMEOUT = 10.0


@dataclass(frozen=True)
class Kind:
    """A kind of rubric item: which property checks it and on which cases."""

    prop: str
    #: (target, allowed activations, allowed losses) -> strategy
    strategy: Callable[[str | None, tuple[str, ...], tuple[str, ...]], st.SearchStrategy]
    targets: tuple[str, ...] = ()
    #: drawn only from components whose items passed
    composite: bool = False


KINDS: dict[str, Kind] = {
    "activation": Kind("activations_match_references", lambda t, a, l: strategies.activation_cases(names=(t,)), tuple(ACTIVATIONS)),
    "loss": Kind("losses_match_references", lambda t, a, l: strategies.loss_cases(names=(t,)), tuple(LOSSES)),
    "dense": Kind("dense_matches_references", lambda t, a, l: strategies.dense_cases()),
    "network": Kind("network_gradients_match_references",
                    lambda t, a, l: strategies.examples(activations=a, losses=l, l2="zero"), composite=True),
    "l2": Kind("l2_adds_half_lambda_norm", lambda t, a, l: strategies.examples(activations=a, losses=l, l2="positive"), composite=True),
    "momentum_step": Kind("momentum_step_matches_torch_sgd", lambda t, a, l: strategies.train_cases()),
    "train_loop": Kind("train_follows_own_steps", lambda t, a, l: strategies.train_cases(activations=a, losses=l), composite=True),
}


@dataclass(frozen=True)
class Item:
    name: str
    title: str
    check: str
    points: float
    target: str | None = None
    hidden: bool = False
    visibility: str = "visible"


@dataclass(frozen=True)
class Rubric:
    title: str
    items: tuple[Item, ...]
    examples: int = 30
    item_timeout: float = 30.0
    seed: int = 0
    path: str = ""

    @property
    def max_score(self) -> float:
        return sum(item.points for item in self.items)


def load_rubric(path: str | Path | None = None) -> Rubric:
    """Read and validate a rubric; ValueError saying what is wrong and where."""
    path = Path(path) if path else DEFAULT_RUBRIC
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the rubric {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"the rubric {path} is not valid TOML: {exc}") from None
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise ValueError(f"the rubric {path} needs at least one [[items]] table")
    items, names = [], set()
    for i, raw in enumerate(raw_items):
        items.append(_item(raw, f"{path}: item {i + 1}"))
        if items[-1].name in names:
            raise ValueError(f"{path}: item {i + 1}: the name {items[-1].name!r} is used twice")
        names.add(items[-1].name)
    examples, timeout, seed = data.get("examples", 30), data.get("item_timeout", 30), data.get("seed", 0)
    if not isinstance(examples, int) or examples < 1:
        raise ValueError(f"{path}: examples must be an integer >= 1, got {examples!r}")
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"{path}: item_timeout must be a positive number of seconds, got {timeout!r}")
    if not isinstance(seed, int):
        raise ValueError(f"{path}: seed must be an integer, got {seed!r}")
    return Rubric(str(data.get("title", "Backpropagation")), tuple(items), examples, float(timeout), seed, str(path))


def _item(raw: Any, where: str) -> Item:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a table")
    for key in ("name", "check", "points"):
        if key not in raw:
            raise ValueError(f"{where} needs {key!r}")
    kind = raw["check"]
    if kind not in KINDS:
        raise ValueError(f"{where}: unknown check {kind!r}; expected one of {sorted(KINDS)}")
    target = raw.get("target")
    if KINDS[kind].targets and target not in KINDS[kind].targets:
        raise ValueError(f"{where}: check {kind!r} needs a target from {list(KINDS[kind].targets)}, got {target!r}")
    points = raw["points"]
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise ValueError(f"{where}: points must be a number >= 0, got {points!r}")
    visibility = raw.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise ValueError(f"{where}: visibility must be one of {list(VISIBILITIES)}, got {visibility!r}")
    return Item(str(raw["name"]), str(raw.get("title", raw["name"])), kind, float(points), target,
                bool(raw.get("hidden", False)), visibility)


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


@dataclass
class GradeResult:
    submission: str
    rubric: Rubric
    items: list[ItemResult] = field(default_factory=list)
    load_error: str | None = None
    output: str = ""
    isolation: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(r.score for r in self.items)

    @property
    def max_score(self) -> float:
        return self.rubric.max_score


MAX_VALUES_SHOWN = 3


def _details(result: PropertyResult) -> tuple[str, list[str]]:
    """(cause, detail lines) of a failing property result."""
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
    found: list[str] = []
    if result.failure is not None and result.failure.case is not None:
        with deadline(DIAGNOSIS_TIMEOUT) if deadline else _no_deadline():
            found = hints(item.check, item.target, result.failure, module)
    return ItemResult(item, False, 0.0, cause, details, found, result.examples, time.perf_counter() - start)


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


def grade_file(path: str | Path, rubric: Rubric, *, timeout: float | None = None, memory_mb: int = 2048,
               progress: Callable[[int, int, ItemResult], None] | None = None) -> GradeResult:
    """Grade one submission file, run in a Sandbox (a separate, locked-down process)."""
    from properties.sandbox import Sandbox, SubmissionLoadError

    start = time.perf_counter()
    if timeout is not None:
        rubric = Rubric(rubric.title, rubric.items, rubric.examples, timeout, rubric.seed, rubric.path)
    sandbox = Sandbox(path, call_timeout=min(10.0, rubric.item_timeout), import_timeout=rubric.item_timeout,
                      memory_mb=memory_mb)
    try:
        try:
            sandbox.start()
        except SubmissionLoadError as exc:
            result = GradeResult(str(path), rubric, load_error=str(exc))
            result.items = [ItemResult(item, False, 0.0, f"the file could not be loaded: {exc}") for item in rubric.items]
            result.output = sandbox.output()
        else:
            result = grade_module(sandbox.module, rubric, submission=str(path), deadline=sandbox.deadline, progress=progress)
            result.output = sandbox.output()
            result.isolation = tuple(sorted(sandbox.isolation))
    finally:
        sandbox.close()
    result.seconds = time.perf_counter() - start
    return result
