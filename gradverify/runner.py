"""Running the properties on an implementation: corpus first, then hypothesis; structured results.

    result = verify(impl_module, impl_spec="impl", profile="ci")

returns a `VerifyResult` that the report renderers read (they never parse text). The same, one
check at a time (the pytest plugin runs each check as a test item this way):

    session = start(impl_module, impl_spec="impl", profile="ci")
    run_one(session, "network_gradients_match_references")   # its PropertyResult; session.run holds them all
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import secrets
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import FailedHealthCheck, Flaky, HypothesisException, Unsatisfiable

from gradverify import corpus
from gradverify.properties.calls import ImplFailure, describe_exception
from gradverify.properties.checks import FIXED_CHECKS, PROPERTIES, Counterexample, FixedCheck, Property, Rejected
from gradverify.properties.cases import Example, TrainCase, case_to_json, materialize
from gradverify.properties.strategies import KINK_POLICY
from gradverify.references.compare import Cause, Comparison, Where, failed


@dataclass(frozen=True)
class Profile:
    name: str
    #: hypothesis examples for a property of weight 1
    budget: int
    derandomize: bool
    database: bool
    description: str


PROFILES: dict[str, Profile] = {
    "dev": Profile("dev", 30, False, True, "quick: random seed, failures remembered in .gradverify/hypothesis/"),
    "ci": Profile("ci", 150, True, False, "deterministic (fixed seed), fixed budget, no hypothesis database"),
    "thorough": Profile("thorough", 1000, False, True, "many examples: random seed, failures remembered"),
}

MAX_SHOWN_COMPARISONS = 8
#: Causes that say a function is missing (not defined, or raises NotImplementedError), not wrong.
MISSING = frozenset({Cause.NOT_DEFINED, Cause.NOT_IMPLEMENTED})


class CheckStatus(StrEnum):
    """A property's verdict (PropertyResult.status); each compares equal to its text."""

    PASSED = "passed"
    FAILED = "failed"
    #: the suite could not run it (e.g. too many rejections)
    ERROR = "error"
    #: every case needs a function that is not defined or raises NotImplementedError
    NOT_IMPLEMENTED = "not implemented"
    #: the cases that need one were skipped, all others hold
    PARTLY_IMPLEMENTED = "partly implemented"
#: With `skip_missing`, a property stops searching after this many cases in a row that need a
#: missing function while none has been checked: nothing it draws is implemented.
MISSING_STREAK = 10


@dataclass
class Failure:
    """What a person needs to act on a failing property."""

    comparisons: list[Comparison]
    case: Any
    case_description: str
    shapes: str
    source: str  # "hypothesis", "regression corpus" or "fixed example"
    replay: str | None = None
    corpus_path: str | None = None
    #: (a bigger sibling of the case, its comparisons), for the pictures (Property.illustration:
    #: a failing training case trained longer); None when the property has none
    illustration: tuple[Any, list[Comparison]] | None = None


@dataclass
class PropertyResult:
    name: str
    claim: str
    kind: str  # "property" or "fixed"
    tolerance: str
    examples: int = 0
    #: data sets checked per example (the network property checks several per architecture)
    data_sets: int = 1
    rejected: int = 0
    shrink_calls: int = 0
    first_failure_at: int | None = None
    regressions_replayed: int = 0
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    seconds: float = 0.0
    failure: Failure | None = None
    error: str | None = None  # the suite could not run this property (e.g. too many rejections)
    #: with `skip_missing`: what the skipped cases needed, one "function: message" each (the
    #: message in the implementation's own words)
    not_implemented: list[str] = field(default_factory=list)
    #: what the numbers of the failure say about its cause (gradverify.hints; the same as grade's)
    hints: list[str] = field(default_factory=list)

    @property
    def status(self) -> CheckStatus:
        """The verdict: CheckStatus says what each means."""
        if self.error:
            return CheckStatus.ERROR
        if self.failure is not None:
            missing = all(c.cause in MISSING for c in self.failure.comparisons)
            return CheckStatus.NOT_IMPLEMENTED if missing else CheckStatus.FAILED
        return CheckStatus.PARTLY_IMPLEMENTED if self.not_implemented else CheckStatus.PASSED

    @property
    def passed(self) -> bool:
        return self.status is CheckStatus.PASSED


@dataclass
class VerifyResult:
    impl: str
    profile: str
    seed: int | None
    budget: int
    started: str
    seconds: float = 0.0
    results: list[PropertyResult] = field(default_factory=list)
    corpus_dir: str | None = None
    corpus_problems: list[str] = field(default_factory=list)
    new_regressions: list[str] = field(default_factory=list)
    missing_functions: list[str] = field(default_factory=list)
    kink_policy: str = KINK_POLICY
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[PropertyResult]:
        """The results that are wrong or could not run (not those only missing something)."""
        return [r for r in self.results if r.status in (CheckStatus.FAILED, CheckStatus.ERROR)]

    @property
    def not_implemented(self) -> list[str]:
        """Each missing function once, "function: message", in the order met."""
        found = [f"{fn}: is not defined by the implementation" for fn in self.missing_functions]
        for r in self.results:
            if r.status is CheckStatus.NOT_IMPLEMENTED:
                found += [f"{c.where.function}: {c.message}" for c in r.failure.comparisons
                          if c.where.function not in self.missing_functions]
            found += r.not_implemented
        return list(dict.fromkeys(found))


class _Failed(AssertionError):
    def __init__(self, case: Any, comparisons: list[Comparison]):
        super().__init__(f"{len([c for c in comparisons if not c.ok])} comparisons failed")
        self.case = case
        self.comparisons = comparisons


def environment() -> dict[str, str]:
    import numpy

    versions = {"python": platform.python_version(), "numpy": numpy.__version__, "hypothesis": hypothesis.__version__}
    for name in ("jax", "torch"):
        module = sys.modules.get(name)
        versions[name] = getattr(module, "__version__", "not loaded")
    versions["platform"] = platform.platform()
    return versions


def run_check(check: Callable[..., list[Comparison]], *args: Any, tolerance: str = "autodiff") -> list[Comparison]:
    """The check's comparisons; whatever the implementation does wrong becomes a failing one."""
    return run_case(check, *args, tolerance=tolerance)[1]


def run_case(check: Callable[..., list[Comparison]], impl: Any, case: Any = None, *, tolerance: str = "autodiff") -> tuple[Any, list[Comparison]]:
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


def _failure(case: Any, comparisons: list[Comparison], source: str) -> Failure:
    bad = [c for c in comparisons if not c.ok]
    return Failure(bad[:MAX_SHOWN_COMPARISONS], case, case.describe(), _shapes(case), source)


def _timed_out(comparisons: list[Comparison]) -> bool:
    """Every failing comparison is a time-out (the submission ran out of time, not a wrong value)."""
    bad = [c for c in comparisons if not c.ok]
    return bool(bad) and all(c.cause is Cause.TIMEOUT for c in bad)


def _set_errors(result: PropertyResult, comparisons: list[Comparison]) -> None:
    """The table's error columns: the worst of the failing comparisons, or of all when none fails."""
    stats = _Stats()
    stats.absorb([c for c in comparisons if not c.ok] or comparisons)
    result.max_abs_err, result.max_rel_err = stats.max_abs, stats.max_rel


def replay_command(impl_spec: str, entry_path: str | None, property_name: str, case: Any) -> str:
    """The shell command that replays exactly this case: it runs as printed from the folder where
    verify ran, in a shell where the venv is not activated (the gradverify that is running, by its
    path; a file implementation and the corpus entry by absolute path; a module name as given,
    found again in the same project)."""
    if entry_path:
        target = str(Path(entry_path).absolute())
    else:
        target = json.dumps({"property": property_name, "case": case_to_json(case)}, separators=(",", ":"))
    from gradverify.loader import is_file_spec

    impl = str(Path(impl_spec).absolute()) if is_file_spec(impl_spec) else impl_spec
    return f"{gradverify_command()} verify --impl {shlex.quote(impl)} --replay {shlex.quote(target)}"


def gradverify_command() -> str:
    """How to run the gradverify that is running now, from any shell: the console script by its
    absolute path (`gradverify ...`), else the interpreter with `-m gradverify` (`python -m
    gradverify`, or gradverify used as a library: the script beside the interpreter when there is one)."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name in ("gradverify", "gradverify.exe") and argv0.is_file():
        return shlex.quote(str(argv0.absolute()))
    beside = Path(sys.executable).parent / "gradverify"
    if not (argv0 is not None and argv0.name in ("__main__.py", "cli.py")) and beside.is_file():
        return shlex.quote(str(beside))
    return f"{shlex.quote(sys.executable)} -m gradverify"


#: This process's temporary hypothesis folder, once use_hypothesis_home(None) has named one.
_temporary_home: Path | None = None


def use_hypothesis_home(folder: Path | None) -> None:
    """Where hypothesis keeps files of its own (its cache of the constants of local modules;
    by default `.hypothesis/` in the working folder): `folder`, or with None a temporary folder
    of this process, named on first use, made only if hypothesis writes and removed at exit. It
    is a setting of the whole process, so only gradverify's own entry points make it (importing
    this module sets nothing): gradverify.verify gives the dev and thorough profiles
    <project>/.gradverify/hypothesis/, the ci profile and grading keep nothing; inside someone
    else's process (the pytest plugin, in a user's test run) it is left as that process has it.
    HYPOTHESIS_STORAGE_DIRECTORY, when set, is left to decide."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(folder if folder is not None else _temporary_hypothesis_home())


def _temporary_hypothesis_home() -> Path:
    """This process's temporary hypothesis folder: named once, removed when the process that
    named it exits (never by a forked child)."""
    global _temporary_home
    if _temporary_home is None:
        _temporary_home = Path(tempfile.gettempdir()) / f"gradverify-hypothesis-{os.getpid()}-{secrets.token_hex(6)}"
        atexit.register(_remove_temporary_home, _temporary_home, os.getpid())
    return _temporary_home


def _remove_temporary_home(folder: Path, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


class _Stats:
    def __init__(self) -> None:
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

    def skipped(self, comparisons: list[Comparison]) -> bool:
        """True (and the missing functions noted) when every failing comparison says a function is missing."""
        bad = [c for c in comparisons if not c.ok]
        if not bad or any(c.cause not in MISSING for c in bad):
            self.missing_streak = 0
            return False
        for c in bad:
            self.missing.setdefault(f"{c.where.function}: {c.message}", c)
        self.missing_streak += 1
        return True

    def absorb(self, comparisons: list[Comparison]) -> None:
        for c in comparisons:
            if c.max_abs_err == c.max_abs_err:  # not NaN
                self.max_abs = max(self.max_abs, c.max_abs_err)
                self.max_rel = max(self.max_rel, c.max_rel_err)


def _hypothesis_settings(profile: Profile, examples: int, database_dir: Path | None) -> settings:
    use_database = profile.database and database_dir is not None
    return settings(
        max_examples=examples,
        derandomize=profile.derandomize,
        database=hypothesis.database.DirectoryBasedExampleDatabase(str(database_dir)) if use_database else None,
        deadline=None,
        verbosity=Verbosity.quiet,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink] if use_database
        else [Phase.explicit, Phase.generate, Phase.shrink],
    )


def _replay(prop: Property, impl: ModuleType, entries: list[corpus.Entry], result: PropertyResult,
            stats: _Stats, skip_missing: bool = False) -> bool:
    """Replay the corpus entries of `prop`; True (and result.failure set) when one fails."""
    for entry in entries:
        try:
            case, comparisons = run_case(prop.check, impl, entry.case, tolerance=prop.tolerance)
        except Rejected:
            continue
        if skip_missing and stats.skipped(comparisons):
            continue
        result.regressions_replayed += 1
        if not all(c.ok for c in comparisons):
            result.failure = _failure(case, comparisons, "regression corpus")
            result.failure.corpus_path = str(entry.path) if entry.path else None
            _set_errors(result, comparisons)
            return True
        stats.absorb(comparisons)
    return False


def _coverage(prop: Property, impl: ModuleType, stats: _Stats, skip_missing: bool = False) -> tuple[Any, list[Comparison]] | None:
    """Run the property's coverage cases (the same in every run, whatever the seed); the first
    failing one as (case, comparisons), or None."""
    for case in prop.coverage() if prop.coverage else []:
        stats.calls += 1
        try:
            case, comparisons = run_case(prop.check, impl, case, tolerance=prop.tolerance)
        except Rejected:
            stats.rejected += 1
            continue
        if skip_missing and stats.skipped(comparisons):
            stats.rejected += 1
            continue
        if not all(c.ok for c in comparisons):
            stats.first_failure_at = stats.calls - stats.rejected
            return case, comparisons
        stats.absorb(comparisons)
    return None


class _NothingImplemented(BaseException):
    """Ends a search whose every case needs a missing function (a BaseException, so hypothesis
    lets it through instead of shrinking it as a failure)."""


def _search(prop: Property, impl: ModuleType, result: PropertyResult, stats: _Stats, hypothesis_settings: settings,
            seed: int | None, skip_missing: bool = False) -> Any:
    """Let hypothesis search (and shrink); sets result.failure or result.error, and returns the
    failing case it found (None when it found none). With `skip_missing`, a case that needs a
    missing function is rejected (noted in stats.missing), and the search ends after
    MISSING_STREAK such cases in a row while none has been checked."""

    def body(case: Any) -> None:
        stats.calls += 1
        try:
            case, comparisons = run_case(prop.check, impl, case, tolerance=prop.tolerance)
        except Rejected:
            stats.rejected += 1
            hypothesis.reject()
        if skip_missing and stats.skipped(comparisons):
            stats.rejected += 1
            if stats.missing_streak >= MISSING_STREAK and stats.calls == stats.rejected:
                raise _NothingImplemented
            hypothesis.reject()
        if not all(c.ok for c in comparisons):
            if stats.first_failure_at is None:
                stats.first_failure_at = stats.calls - stats.rejected
            if not _timed_out(comparisons):
                stats.last_real_failure = (case, comparisons)
            raise _Failed(case, comparisons)
        if stats.first_failure_at is None:
            stats.absorb(comparisons)

    test = settings(hypothesis_settings)(given(prop.strategy())(body))
    if seed is not None:
        test = hypothesis.seed(seed)(test)
    try:
        test()
    except _NothingImplemented:
        return None
    except _Failed as exc:
        case, comparisons = exc.case, exc.comparisons
        if _timed_out(comparisons) and stats.last_real_failure is not None:
            case, comparisons = stats.last_real_failure  # time ran out while shrinking a real failure
        result.failure = _failure(case, comparisons, "hypothesis")
        return case
    except Flaky as exc:
        if stats.last_real_failure is not None:  # e.g. a deadline expired mid-search
            case, comparisons = stats.last_real_failure
            result.failure = _failure(case, comparisons, "hypothesis")
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
) -> tuple[PropertyResult, Any]:
    """Replay the corpus entries of this property, then (if they pass) run its coverage cases and
    let hypothesis search. Returns the result and, for a new counterexample, its case.
    `skip_missing`: cases that need a function the implementation does not implement (it raises
    NotImplementedError) are skipped and listed in result.not_implemented, so partial code is
    checked on everything it implements; when nothing is, the result is "not implemented"."""
    result = PropertyResult(prop.name, prop.claim, "property", prop.tolerance, data_sets=prop.data_sets)
    start = time.perf_counter()
    stats = _Stats()
    if _replay(prop, impl, entries, result, stats, skip_missing):
        result.seconds = time.perf_counter() - start
        return result, None
    examples = max(1, round((budget or profile.budget) * prop.weight))
    # The coverage cases first, whatever the seed. One that fails is kept, and the search still
    # runs so that hypothesis can find (and shrink) a smaller failing case; if it finds none, the
    # coverage case is the counterexample.
    covered = _coverage(prop, impl, stats, skip_missing)
    new_case = _search(prop, impl, result, stats, _hypothesis_settings(profile, examples, database_dir), seed, skip_missing)
    if covered is not None and result.failure is None:
        result.error = None
        result.failure = _failure(*covered, "coverage case (not shrunk: the search found no failing case)")
        new_case = covered[0]
    result.examples = stats.first_failure_at if stats.first_failure_at is not None else stats.calls - stats.rejected
    result.first_failure_at = stats.first_failure_at
    result.shrink_calls = stats.calls - stats.rejected - result.examples if stats.first_failure_at else 0
    result.rejected = stats.rejected
    result.max_abs_err, result.max_rel_err = stats.max_abs, stats.max_rel
    if stats.missing and result.failure is None:
        result.not_implemented = list(stats.missing)
        if result.examples == 0:  # nothing it draws is implemented
            result.error = None
            result.failure = Failure(list(stats.missing.values())[:MAX_SHOWN_COMPARISONS], None, "—", "", "not implemented")
    if result.failure is not None:
        _set_errors(result, result.failure.comparisons)
    result.seconds = time.perf_counter() - start
    return result, new_case


def run_fixed(check: FixedCheck, impl: ModuleType) -> PropertyResult:
    result = PropertyResult(check.name, check.claim, "fixed", check.tolerance, examples=1)
    start = time.perf_counter()
    comparisons = run_check(check.check, impl, tolerance=check.tolerance)
    _set_errors(result, comparisons)
    if not all(c.ok for c in comparisons):
        bad = [c for c in comparisons if not c.ok]
        result.failure = Failure(bad[:MAX_SHOWN_COMPARISONS], None, check.claim, "", "fixed example")
        result.first_failure_at = 1
    result.seconds = time.perf_counter() - start
    return result


def _missing_failure(name: str, claim: str, kind: str, tol: str, missing: list[str]) -> PropertyResult:
    comparisons = [failed(Where(function=fn), Cause.NOT_DEFINED, "is not defined by the implementation", tol) for fn in missing]
    result = PropertyResult(name, claim, kind, tol)
    result.failure = Failure(comparisons, None, "—", "", "missing function")
    return result


#: progress(index, total, name, result): called with result None when a check starts, then with its result
Progress = Callable[[int, int, str, "PropertyResult | None"], None]


@dataclass
class Session:
    """One implementation made ready for its checks: what every check of a run shares, and the
    run's record (`run`, a VerifyResult) that each check adds its result to. `start` makes one,
    `run_one` runs one check of it by name; `verify` runs them in turn, and the pytest plugin
    runs each as a pytest item (in several processes under pytest-xdist, a session in each)."""

    impl: ModuleType
    run: VerifyResult
    profile: Profile
    seed: int | None
    budget: int | None
    #: this implementation's folder of the regression corpus (None: no corpus)
    corpus_dir: Path | None
    save_regressions: bool
    #: its hypothesis database (used by the dev and thorough profiles; None: none)
    database_dir: Path | None
    #: the corpus entries, loaded once when the session starts (or the one replayed case)
    entries: list[corpus.Entry]
    replay: corpus.Entry | None = None
    clock: float = field(default_factory=time.perf_counter)

    def names(self, only: list[str] | None = None) -> list[str]:
        """The checks a run of this session runs, in the suite's order: the replayed case's
        property, else `only`, else every check; ValueError for a name that is not a check."""
        names = [self.replay.property] if self.replay is not None else (only or list(FIXED_CHECKS) + list(PROPERTIES))
        unknown = [n for n in names if n not in PROPERTIES and n not in FIXED_CHECKS]
        if unknown:
            raise ValueError(f"unknown property {unknown[0]!r}; expected one of {sorted(FIXED_CHECKS) + sorted(PROPERTIES)}")
        return names


def start(
    impl: ModuleType,
    *,
    impl_spec: str = "impl",
    profile: str = "ci",
    seed: int | None = None,
    budget: int | None = None,
    corpus_dir: Path | None = None,
    save_regressions: bool = True,
    database_dir: Path | None = None,
    replay: corpus.Entry | None = None,
) -> Session:
    """A Session for `impl`: the profile's seed (ci: 0 unless `seed`), the missing functions,
    the corpus entries of `corpus_dir` (or just `replay`)."""
    chosen = PROFILES[profile]
    if seed is None and chosen.derandomize:
        seed = 0
    run = VerifyResult(impl_spec, chosen.name, seed, budget or chosen.budget, time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    session = Session(impl, run, chosen, seed, budget, corpus_dir, save_regressions, database_dir, [], replay)
    from gradverify.loader import missing_functions

    run.missing_functions = missing_functions(impl)
    if replay is not None:
        session.entries = [replay]
    elif corpus_dir is not None:
        run.corpus_dir = str(corpus_dir)
        session.entries, run.corpus_problems = corpus.load(corpus_dir)
    return session


def run_one(session: Session, name: str) -> PropertyResult:
    """Run the check `name` of the session, the one way every run does: a check that needs a
    function the implementation lacks fails as missing; a fixed check runs once; a property
    replays its corpus entries first, then searches (or runs just the replayed case), and a new
    counterexample is saved to the corpus. The result, with its replay command and hints, is
    appended to session.run.results and returned."""
    run, impl = session.run, session.impl
    item = FIXED_CHECKS.get(name) or PROPERTIES.get(name)
    if item is None:
        session.names([name])  # raises, naming the checks
    missing = [fn for fn in item.functions if fn in run.missing_functions]
    kind = "fixed" if name in FIXED_CHECKS else "property"
    if missing:
        result = _missing_failure(name, item.claim, kind, item.tolerance, missing)
    elif kind == "fixed":
        result = run_fixed(item, impl)
    elif session.replay is not None:
        result = _replay_only(item, impl, session.replay)
    else:
        mine = [e for e in session.entries if e.property == name]
        result, new_case = run_property(item, impl, profile=session.profile, seed=session.seed, entries=mine,
                                        budget=session.budget, database_dir=session.database_dir, skip_missing=True)
        if new_case is not None and session.save_regressions and session.corpus_dir is not None:
            _save(run, result, session.corpus_dir, name, new_case, run.impl)
    if result.failure is not None and result.failure.case is not None:
        result.failure.replay = replay_command(run.impl, result.failure.corpus_path, name, result.failure.case)
        if result.status is CheckStatus.FAILED:
            result.hints = _diagnose(item, result.failure, impl)
            illustrate(item, result.failure, impl)
    run.results.append(result)
    return result


def run_all(session: Session, only: list[str] | None = None, *, progress: Progress | None = None,
            fail_fast: bool = False) -> VerifyResult:
    """Run the session's checks (all, or `only` some) in the suite's order; its VerifyResult."""
    names = session.names(only)
    for index, name in enumerate(names):
        if progress:
            progress(index, len(names), name, None)
        result = run_one(session, name)
        if progress:
            progress(index, len(names), name, result)
        if fail_fast and result.status in (CheckStatus.FAILED, CheckStatus.ERROR):
            break
    session.run.seconds = time.perf_counter() - session.clock
    session.run.environment = environment()
    return session.run


def verify(
    impl: ModuleType,
    *,
    impl_spec: str = "impl",
    profile: str = "ci",
    seed: int | None = None,
    budget: int | None = None,
    corpus_dir: Path | None = None,
    save_regressions: bool = True,
    database_dir: Path | None = None,
    only: list[str] | None = None,
    replay: corpus.Entry | None = None,
    progress: Progress | None = None,
    fail_fast: bool = False,
) -> VerifyResult:
    """Run the fixed checks and the properties (all, `only` some, or one `replay`ed case).

    `corpus_dir` is this implementation's folder of the regression corpus (replayed first,
    new counterexamples saved there unless `save_regressions` is false; None: no corpus);
    `database_dir` its hypothesis database (used by the dev and thorough profiles; None: none).
    gradverify.verify() finds both under the user's project."""
    session = start(impl, impl_spec=impl_spec, profile=profile, seed=seed, budget=budget, corpus_dir=corpus_dir,
                    save_regressions=save_regressions, database_dir=database_dir, replay=replay)
    return run_all(session, only, progress=progress, fail_fast=fail_fast)


def combine(parts: list[VerifyResult], *, seconds: float | None = None) -> VerifyResult:
    """One VerifyResult from the partial ones of several processes that ran checks of the same
    session (the pytest plugin under pytest-xdist: one part per check): the results in the suite's
    order, the run's lists without repeats, the new counterexamples in the order of their checks.
    `seconds`: the wall time of the whole run (default: the parts' longest)."""
    if not parts:
        raise ValueError("no results to combine")
    order = {name: i for i, name in enumerate([*FIXED_CHECKS, *PROPERTIES])}
    results = sorted((r for part in parts for r in part.results), key=lambda r: order.get(r.name, len(order)))
    first = parts[0]
    saved_by = {r.failure.corpus_path: i for i, r in enumerate(results) if r.failure and r.failure.corpus_path}
    saved = sorted(dict.fromkeys(p for part in parts for p in part.new_regressions), key=lambda p: saved_by.get(p, len(saved_by)))
    loaded = [part.environment for part in parts if part.environment]
    return VerifyResult(
        first.impl, first.profile, first.seed, first.budget, min(part.started for part in parts),
        seconds=seconds if seconds is not None else max(part.seconds for part in parts),
        results=results,
        corpus_dir=first.corpus_dir,
        corpus_problems=list(dict.fromkeys(p for part in parts for p in part.corpus_problems)),
        new_regressions=saved,
        missing_functions=first.missing_functions,
        kink_policy=first.kink_policy,
        environment=loaded[0] if loaded else {},
    )


def _diagnose(prop: Property | FixedCheck, failure: Failure, impl: ModuleType) -> list[str]:
    """The hints grade gives for the same failure (gradverify.hints), for a property that has a diagnosis."""
    kind = getattr(prop, "diagnosis", None)
    if kind is None:
        return []
    from gradverify.hints import hints

    return hints(kind, getattr(failure.case, "name", None), failure, impl)


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


def _replay_only(prop: Property, impl: ModuleType, entry: corpus.Entry) -> PropertyResult:
    result = PropertyResult(prop.name, prop.claim, "property", prop.tolerance, regressions_replayed=1)
    start = time.perf_counter()
    try:
        case, comparisons = run_case(prop.check, impl, entry.case, tolerance=prop.tolerance)
    except Rejected as exc:
        result.error = f"the replayed case cannot be checked by this property: {exc}"
        return result
    result.examples = 1
    if not all(c.ok for c in comparisons):
        result.failure = _failure(case, comparisons, "replayed case")
        result.failure.corpus_path = str(entry.path) if entry.path else None
        result.first_failure_at = 1
    _set_errors(result, comparisons)
    result.seconds = time.perf_counter() - start
    return result


def _save(run: VerifyResult, result: PropertyResult, directory: Path, name: str, case: Any, impl_spec: str) -> None:
    try:
        path = corpus.save(directory, name, case, impl=impl_spec, failure=result.failure.comparisons[0].describe())
    except OSError as exc:
        run.corpus_problems.append(f"could not save the counterexample to {directory}: {exc.strerror}")
        return
    result.failure.corpus_path = str(path)
    run.new_regressions.append(str(path))
