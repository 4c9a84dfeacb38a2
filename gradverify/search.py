"""One check on one implementation: its corpus replayed, its coverage cases, the hypothesis search.

    result, new_case = run_property(prop, impl, profile=PROFILES["ci"], seed=0, entries=[])

Every case, wherever it comes from (a corpus entry, a coverage case, a hypothesis draw, a replayed
case), goes through `try_case` — the one per-case step — and the callers differ only in what
they count and when they stop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum, auto
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import hypothesis
from hypothesis import given, settings
from hypothesis.errors import FailedHealthCheck, Flaky, HypothesisException, Unsatisfiable

from gradverify import corpus
from gradverify.profiles import Profile, hypothesis_settings
from gradverify.properties.calls import ImplFailure, describe_exception
from gradverify.properties.cases import Example, TrainCase, materialize
from gradverify.properties.checks import FixedCheck, Property
from gradverify.properties.scope import WHOLE, NotInScope, Scope
from gradverify.properties.shared import Counterexample, Rejected
from gradverify.references.compare import MISSING, Cause, Comparison, Where, failed
from gradverify.results import CheckKind, Failure, PropertyResult, Source

MAX_SHOWN_COMPARISONS = 8
#: With `skip_missing`, a property stops searching after this many cases in a row that need a
#: missing function while none has been checked: nothing it draws is implemented.
MISSING_STREAK = 10

#: (a case, a failing comparison of it) -> whether the comparison says the implementation refused
#: the case (with skip_missing, a case whose every failing comparison does is skipped)
Refusal = Callable[[Any, Comparison], bool]


def is_missing(case: Any, comparison: Comparison) -> bool:
    """The default Refusal: the comparison says a function is missing (not defined, or raises
    NotImplementedError)."""
    return comparison.cause in MISSING


def run_check(check: Callable[..., list[Comparison]], *args: Any, tolerance: str = "autodiff") -> list[Comparison]:
    """The check's comparisons; whatever the implementation does wrong becomes a failing one."""
    return run_case(check, *args, tolerance=tolerance)[1]


def run_case(
    check: Callable[..., list[Comparison]], impl: Any, case: Any = None, *, tolerance: str = "autodiff"
) -> tuple[Any, list[Comparison]]:
    """(the case the comparisons are about, the comparisons): a check may report a failing
    case of its own (one of several data sets it tried) as a Counterexample."""
    args = (impl,) if case is None else (impl, case)
    try:
        return case, check(*args)
    except Counterexample as found:
        return found.case, found.comparisons
    except ImplFailure as exc:
        return case, [exc.comparison(tolerance)]


def _shapes(case: Any) -> str:
    example = case.example if isinstance(case, TrainCase) else case
    if isinstance(example, Example):
        net, X, Y = materialize(example)
        layers = ", ".join(f"W{i} {layer['W'].shape}" for i, layer in enumerate(net["layers"]))
        return f"X {X.shape}, Y {Y.shape}, {layers}"
    return ""


def failure_of(case: Any, comparisons: list[Comparison], source: Source) -> Failure:
    """The Failure a person reads: the first failing comparisons, the case, its shapes, where it came from."""
    bad = [c for c in comparisons if not c.ok]
    return Failure(
        comparisons=bad[:MAX_SHOWN_COMPARISONS], case=case, case_description=case.describe(), shapes=_shapes(case), source=source
    )


def _no_case(comparisons: list[Comparison], description: str, source: Source) -> Failure:
    """A Failure with no case to show: a fixed example, or functions missing."""
    return Failure(comparisons=comparisons, case=None, case_description=description, shapes="", source=source)


def _timed_out(comparisons: list[Comparison]) -> bool:
    """Every failing comparison is a time-out (the submission ran out of time, not a wrong value)."""
    bad = [c for c in comparisons if not c.ok]
    return bool(bad) and all(c.cause is Cause.TIMEOUT for c in bad)


def _set_errors(result: PropertyResult, comparisons: list[Comparison]) -> None:
    """The table's error columns: the worst of the failing comparisons, or of all when none fails."""
    stats = _Stats()
    stats.absorb([c for c in comparisons if not c.ok] or comparisons)
    result.max_abs_err, result.max_rel_err = stats.max_abs, stats.max_rel


class Step(Enum):
    """What became of one case."""

    #: the property cannot check it (its reference run is unusable, e.g. it diverges)
    REJECTED = auto()
    #: with skip_missing: every failing comparison says a function is missing
    SKIPPED = auto()
    PASSED = auto()
    FAILED = auto()


@dataclass(frozen=True)
class Tried:
    step: Step
    #: the case the comparisons are about (a check may report a failing case of its own)
    case: Any
    comparisons: list[Comparison]
    #: why the property rejected it (Step.REJECTED)
    reason: str = ""


class _Stats:
    def __init__(self, refused: Refusal = is_missing) -> None:
        #: with skip_missing: which failing comparisons say a case was refused
        self.refused = refused
        self.calls = 0
        self.rejected = 0
        self.first_failure_at: int | None = None
        self.max_abs = 0.0
        self.max_rel = 0.0
        #: the last failing call whose failure is not a time-out: shrinking makes it the smallest seen
        self.last_real_failure: tuple[Any, list[Comparison]] | None = None
        #: with skip_missing: the failing comparisons of skipped cases, by "function: message"
        self.missing: dict[str, Comparison] = {}
        self.missing_streak = 0
        #: of a property with several forms (Property.forms): the passing cases each held on
        self.forms: dict[str, int] = {}

    def skipped(self, case: Any, comparisons: list[Comparison]) -> bool:
        """True (and the missing functions noted) when every failing comparison says the case was
        refused (`refused`: by default, a function is missing)."""
        bad = [c for c in comparisons if not c.ok]
        if not bad or not all(self.refused(case, c) for c in bad):
            self.missing_streak = 0
            return False
        for c in bad:
            self.missing.setdefault(f"{c.where.function}: {c.message}", c)
        self.missing_streak += 1
        return True

    def count(self, tried: Tried) -> None:
        """A case drawn: a call, and a rejected one unless it was checked."""
        self.calls += 1
        if tried.step in (Step.REJECTED, Step.SKIPPED):
            self.rejected += 1

    def passed(self, prop: Property, comparisons: list[Comparison]) -> None:
        """A passing case counted: its errors, and each of the property's forms that held on it
        (the oracle of some of its comparisons)."""
        self.absorb(comparisons)
        oracles = {c.where.oracle for c in comparisons}
        for form in prop.forms:
            if form in oracles:
                self.forms[form] = self.forms.get(form, 0) + 1

    def absorb(self, comparisons: list[Comparison]) -> None:
        for c in comparisons:
            if c.max_abs_err == c.max_abs_err:  # not NaN
                self.max_abs = max(self.max_abs, c.max_abs_err)
                self.max_rel = max(self.max_rel, c.max_rel_err)


def try_case(prop: Property, impl: ModuleType, case: Any, stats: _Stats, skip_missing: bool = False) -> Tried:
    """One case through the property's check: the step every loop of this module shares."""
    try:
        case, comparisons = run_case(prop.check, impl, case, tolerance=prop.tolerance)
    except Rejected as exc:
        return Tried(Step.REJECTED, case, [], str(exc))
    if skip_missing and stats.skipped(case, comparisons):
        return Tried(Step.SKIPPED, case, comparisons)
    return Tried(Step.PASSED if all(c.ok for c in comparisons) else Step.FAILED, case, comparisons)


def _replay(
    prop: Property,
    impl: ModuleType,
    entries: list[corpus.Entry],
    result: PropertyResult,
    stats: _Stats,
    skip_missing: bool = False,
) -> bool:
    """Replay the corpus entries of `prop`; True (and result.failure set) when one fails."""
    for entry in entries:
        tried = try_case(prop, impl, entry.case, stats, skip_missing)
        if tried.step in (Step.REJECTED, Step.SKIPPED):
            continue
        result.regressions_replayed += 1
        if tried.step is Step.FAILED:
            result.failure = failure_of(tried.case, tried.comparisons, Source.CORPUS)
            result.failure.corpus_path = str(entry.path) if entry.path else None
            _set_errors(result, tried.comparisons)
            return True
        stats.absorb(tried.comparisons)
    return False


def _coverage(prop: Property, impl: ModuleType, stats: _Stats, skip_missing: bool = False, scope: Scope = WHOLE) -> Tried | None:
    """Run the property's coverage cases in `scope` (the same in every run, whatever the seed);
    the first failing one, or None."""
    for case in prop.coverage() if prop.coverage else []:
        if scope.case_outside(prop.functions, case):
            continue
        tried = try_case(prop, impl, case, stats, skip_missing)
        stats.count(tried)
        if tried.step is Step.FAILED:
            stats.first_failure_at = stats.calls - stats.rejected
            return tried
        if tried.step is Step.PASSED:
            stats.passed(prop, tried.comparisons)
    return None


class _Failed(AssertionError):
    def __init__(self, tried: Tried):
        super().__init__(f"{len([c for c in tried.comparisons if not c.ok])} comparisons failed")
        self.tried = tried


class _NothingImplemented(BaseException):
    """Ends a search whose every case needs a missing function (a BaseException, so hypothesis
    lets it through instead of shrinking it as a failure)."""


def _search(
    prop: Property,
    impl: ModuleType,
    result: PropertyResult,
    stats: _Stats,
    strategy: Any,
    hypothesis_settings: settings,
    seed: int | None,
    skip_missing: bool = False,
) -> Any:
    """Let hypothesis search (and shrink); sets result.failure or result.error, and returns the
    failing case it found (None when it found none). With `skip_missing`, a case that needs a
    missing function is rejected (noted in stats.missing), and the search ends after
    MISSING_STREAK such cases in a row while none has been checked. `strategy`: what it draws
    (the property's strategy, in the run's scope)."""

    def body(case: Any) -> None:
        tried = try_case(prop, impl, case, stats, skip_missing)
        stats.count(tried)
        if tried.step is Step.SKIPPED and stats.missing_streak >= MISSING_STREAK and stats.calls == stats.rejected:
            raise _NothingImplemented
        if tried.step in (Step.REJECTED, Step.SKIPPED):
            hypothesis.reject()
        if tried.step is Step.FAILED:
            if stats.first_failure_at is None:
                stats.first_failure_at = stats.calls - stats.rejected
            if not _timed_out(tried.comparisons):
                stats.last_real_failure = (tried.case, tried.comparisons)
            raise _Failed(tried)
        if stats.first_failure_at is None:
            stats.passed(prop, tried.comparisons)

    test = settings(hypothesis_settings)(given(strategy)(body))
    if seed is not None:
        test = hypothesis.seed(seed)(test)
    try:
        test()
    except _NothingImplemented:
        return None
    except _Failed as exc:
        case, comparisons = exc.tried.case, exc.tried.comparisons
        if _timed_out(comparisons) and stats.last_real_failure is not None:
            case, comparisons = stats.last_real_failure  # time ran out while shrinking a real failure
        result.failure = failure_of(case, comparisons, Source.HYPOTHESIS)
        return case
    except Flaky as exc:
        if stats.last_real_failure is not None:  # e.g. a deadline expired mid-search
            case, comparisons = stats.last_real_failure
            result.failure = failure_of(case, comparisons, Source.HYPOTHESIS)
            return case
        result.error = f"hypothesis stopped: {describe_exception(exc)}"
    except Unsatisfiable:
        result.error = f"hypothesis could not find enough valid examples ({stats.rejected} rejected)"
    except FailedHealthCheck as exc:
        result.error = f"hypothesis stopped: {describe_exception(exc)}"
    except HypothesisException as exc:
        result.error = f"hypothesis error: {describe_exception(exc)}"
    return None


def run_property(
    prop: Property,
    impl: ModuleType,
    *,
    profile: Profile,
    seed: int | None,
    entries: list[corpus.Entry],
    budget: int | None = None,
    database_dir: Path | None = None,
    skip_missing: bool = False,
    scope: Scope = WHOLE,
    refused: Refusal = is_missing,
) -> tuple[PropertyResult, Any]:
    """Replay the corpus entries of this property, then (if they pass) run its coverage cases and
    let hypothesis search. Returns the result and, for a new counterexample, its case.
    `skip_missing`: cases that need a function the implementation does not implement (it raises
    NotImplementedError) are skipped and listed in result.not_implemented, so partial code is
    checked on everything it implements; when nothing is, the result is "not implemented".
    `scope` (properties/scope.py): only cases in it are drawn, replayed or covered; what it
    leaves out is listed in result.not_in_scope, and when it leaves every case out the result
    is "not in scope". `refused` says which failing comparisons skip a case (default: a missing
    function; the grader's domain search also counts an assertion on a network outside what it
    found taken)."""
    result = PropertyResult(
        name=prop.name, claim=prop.claim, kind=CheckKind.PROPERTY, tolerance=prop.tolerance, data_sets=prop.data_sets
    )
    try:
        strategy = prop.strategy(scope)
    except NotInScope as exc:
        return not_in_scope(prop.name, prop.claim, CheckKind.PROPERTY, prop.tolerance, exc.names), None
    result.not_in_scope = [*scope.outside(prop.functions, prop.draws), *scope.left_out(prop.needs)]
    entries = [e for e in entries if not scope.case_outside(prop.functions, e.case)]
    start = time.perf_counter()
    stats = _Stats(refused)
    if _replay(prop, impl, entries, result, stats, skip_missing):
        result.seconds = time.perf_counter() - start
        return result, None
    examples = max(1, round((budget or profile.budget) * prop.weight))
    # The coverage cases first, whatever the seed. One that fails is kept, and the search still
    # runs so that hypothesis can find (and shrink) a smaller failing case; if it finds none, the
    # coverage case is the counterexample.
    covered = _coverage(prop, impl, stats, skip_missing, scope)
    new_case = _search(
        prop, impl, result, stats, strategy, hypothesis_settings(profile, examples, database_dir), seed, skip_missing
    )
    if covered is not None and result.failure is None:
        result.error = None
        result.failure = failure_of(covered.case, covered.comparisons, Source.COVERAGE)
        new_case = covered.case
    _set_counts(result, stats, prop)
    if stats.missing and result.failure is None:
        result.not_implemented = list(stats.missing)
        if result.examples == 0:  # nothing it draws is implemented
            result.error = None
            result.failure = _no_case(list(stats.missing.values())[:MAX_SHOWN_COMPARISONS], "—", Source.NOT_IMPLEMENTED)
    if result.failure is not None:
        _set_errors(result, result.failure.comparisons)
    result.seconds = time.perf_counter() - start
    return result, new_case


def _set_counts(result: PropertyResult, stats: _Stats, prop: Property) -> None:
    """The result's counts: cases checked until the first failure (or all), shrinking calls,
    rejections, the worst errors of the passing cases, and the forms they held on."""
    result.examples = stats.first_failure_at if stats.first_failure_at is not None else stats.calls - stats.rejected
    result.first_failure_at = stats.first_failure_at
    result.shrink_calls = stats.calls - stats.rejected - result.examples if stats.first_failure_at else 0
    result.rejected = stats.rejected
    result.max_abs_err, result.max_rel_err = stats.max_abs, stats.max_rel
    result.forms = {form: stats.forms.get(form, 0) for form in prop.forms}


def replay_only(prop: Property, impl: ModuleType, entry: corpus.Entry) -> PropertyResult:
    """The property on the one replayed case (`verify --replay`)."""
    result = PropertyResult(
        name=prop.name, claim=prop.claim, kind=CheckKind.PROPERTY, tolerance=prop.tolerance, regressions_replayed=1
    )
    start = time.perf_counter()
    stats = _Stats()
    tried = try_case(prop, impl, entry.case, stats)
    if tried.step is Step.REJECTED:
        result.error = f"the replayed case cannot be checked by this property: {tried.reason}"
        return result
    result.examples = 1
    if tried.step is Step.FAILED:
        result.failure = failure_of(tried.case, tried.comparisons, Source.REPLAYED)
        result.failure.corpus_path = str(entry.path) if entry.path else None
        result.first_failure_at = 1
    else:
        stats.passed(prop, tried.comparisons)
        result.forms = {form: stats.forms.get(form, 0) for form in prop.forms}
    _set_errors(result, tried.comparisons)
    result.seconds = time.perf_counter() - start
    return result


def run_fixed(check: FixedCheck, impl: ModuleType, scope: Scope = WHOLE) -> PropertyResult:
    """A fixed check: one example, run once; one that checks components one by one (`each`) runs
    on those in `scope`, and is "not in scope" when none is."""
    names = tuple(name for name in check.each if not scope.outside(check.functions, (name,)))
    if check.each and not names:
        return not_in_scope(check.name, check.claim, CheckKind.FIXED, check.tolerance, list(check.each))
    result = PropertyResult(name=check.name, claim=check.claim, kind=CheckKind.FIXED, tolerance=check.tolerance, examples=1)
    result.not_in_scope = scope.outside(check.functions, check.each)
    start = time.perf_counter()
    run = (lambda impl: check.check(impl, names)) if check.each else check.check
    comparisons = run_check(run, impl, tolerance=check.tolerance)
    _set_errors(result, comparisons)
    if not all(c.ok for c in comparisons):
        bad = [c for c in comparisons if not c.ok]
        result.failure = _no_case(bad[:MAX_SHOWN_COMPARISONS], check.claim, Source.FIXED)
        result.first_failure_at = 1
    result.seconds = time.perf_counter() - start
    return result


def not_in_scope(name: str, claim: str, kind: CheckKind, tol: str, names: list[str]) -> PropertyResult:
    """The result of a check whose every case needs the components `names`, which the scope
    leaves out: not run, and not a failure."""
    return PropertyResult(name=name, claim=claim, kind=kind, tolerance=tol, not_in_scope=names, in_scope=False)


def missing_failure(name: str, claim: str, kind: CheckKind, tol: str, missing: list[str]) -> PropertyResult:
    """The result of a check that needs functions the implementation does not define."""
    comparisons = [failed(Where(function=fn), Cause.NOT_DEFINED, "is not defined by the implementation", tol) for fn in missing]
    result = PropertyResult(name=name, claim=claim, kind=kind, tolerance=tol)
    result.failure = _no_case(comparisons, "—", Source.MISSING_FUNCTION)
    return result


def illustrate(prop: Property | FixedCheck, failure: Failure, impl: ModuleType) -> None:
    """Sets failure.illustration: the property's check once more on the bigger sibling of the
    failing case (Property.illustration), whose numbers the report draws. Left None when the
    property has none or the sibling is rejected (its reference run diverges)."""
    bigger = getattr(prop, "illustration", None)
    if bigger is None or failure.case is None:
        return
    case = bigger(failure.case)
    try:
        failure.illustration = run_case(prop.check, impl, case, tolerance=prop.tolerance)
    except Rejected:
        pass
