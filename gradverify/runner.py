"""A run of the checks on one implementation: the session, its checks in turn, what a failure gets.

    result = verify(impl_module, impl_spec="impl", profile="ci")

returns a `VerifyResult` (gradverify.results) that the report renderers read (they never parse
text). The same, one check at a time (the pytest plugin runs each check as a test item this way):

    session = start(impl_module, impl_spec="impl", profile="ci")
    run_one(session, "network_gradients_match_references")   # its PropertyResult; session.run holds them all

A check runs in gradverify.search; a failure gets its replay command (the shell command that
replays exactly that case), its hints (gradverify.hints) and, when new, a place in the corpus.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from gradverify import corpus
from gradverify.profiles import PROFILES, Profile
from gradverify.properties.cases import case_to_json
from gradverify.properties.checks import FIXED_CHECKS, PROPERTIES, FixedCheck, Property
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_properties import LAYER_PROPERTIES
from gradverify.properties.optim_properties import OPTIM_PROPERTIES
from gradverify.properties.scope import Scope
from gradverify.properties.stack_properties import STACK_PROPERTIES
from gradverify.references.compare import tolerance_for
from gradverify.results import CheckKind, CheckStatus, Failure, PropertyResult, VerifyResult, environment
from gradverify.search import illustrate, missing_failure, not_in_scope, replay_only, run_fixed, run_property


def replay_command(impl_spec: str, entry_path: str | None, property_name: str, case: Any, options: str = "") -> str:
    """The shell command that replays exactly this case: it runs as printed from the folder where
    verify ran, in a shell where the venv is not activated (the gradverify that is running, by its
    path; a file implementation and the corpus entry by absolute path; a module name as given,
    found again in the same project), with `options` (the adapter and the components) after it."""
    if entry_path:
        target = str(Path(entry_path).absolute())
    else:
        target = json.dumps({"property": property_name, "case": case_to_json(case)}, separators=(",", ":"))
    from gradverify.loader import is_file_spec

    impl = str(Path(impl_spec).absolute()) if is_file_spec(impl_spec) else impl_spec
    return f"{gradverify_command()} verify --impl {shlex.quote(impl)}{options} --replay {shlex.quote(target)}"


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


#: progress(index, total, name, result): called with result None when a check starts, then with its result
Progress = Callable[[int, int, str, "PropertyResult | None"], None]


@dataclass(kw_only=True)
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
    #: the components checked (properties/scope.py): the library's declared ones and what its
    #: adapter maps; the whole protocol by default
    scope: Scope = field(default_factory=Scope)
    #: how the replay command names the adapter and the components (gradverify.library.Library)
    replay_options: str = ""
    #: how a worker process prepares the same session (gradverify.workers): prepare()'s
    #: arguments, the implementation by module name or path; None for a loaded module's
    recipe: dict[str, Any] | None = None
    clock: float = field(default_factory=time.perf_counter)

    def names(self, only: list[str] | None = None) -> list[str]:
        """The checks a run of this session runs, in the suite's order: the replayed case's
        property, else `only`, else every check, less those of a protocol the implementation
        defines no function of (run.absent_protocols); ValueError for a name that is not a check."""
        names = [self.replay.property] if self.replay is not None else (only or all_checks())
        for name in names:
            check_named(name)
        if self.replay is not None:
            return names
        return [name for name in names if protocol_of(name) not in self.run.absent_protocols]


def all_checks() -> list[str]:
    """Every check, in the suite's order: the MLP protocol's fixed checks and properties, then one
    per layer op, then one per family of stacks of them, then one per update rule."""
    return [*FIXED_CHECKS, *PROPERTIES, *LAYER_PROPERTIES, *STACK_PROPERTIES, *OPTIM_PROPERTIES]


def protocol_of(name: str) -> str:
    """The protocol (gradverify.loader.MLP or LAYERS) the check `name` belongs to."""
    from gradverify.loader import LAYERS, MLP

    return LAYERS if name in LAYER_PROPERTIES or name in STACK_PROPERTIES or name in OPTIM_PROPERTIES else MLP


def select(checks: list[str] | None = None, skip: list[str] | None = None) -> list[str]:
    """The checks a run runs, in the suite's order, each once: those `checks` names (names or glob
    patterns such as "worked_example_*"; default: every check) less those `skip` names.
    ValueError naming the checks for a pattern that matches none (a typo never passes silently)."""
    from fnmatch import fnmatchcase

    names = all_checks()
    for pattern in [*(checks or []), *(skip or [])]:
        if not any(fnmatchcase(name, pattern) for name in names):
            raise ValueError(f"no check matches {pattern!r}; the checks are: {', '.join(names)}")
    chosen = [n for n in names if checks is None or any(fnmatchcase(n, pattern) for pattern in checks)]
    return [n for n in chosen if not any(fnmatchcase(n, pattern) for pattern in skip or [])]


def check_named(name: str) -> Property | FixedCheck:
    """The fixed check or property called `name`; ValueError, naming them all, for another name."""
    found = (
        FIXED_CHECKS.get(name)
        or PROPERTIES.get(name)
        or LAYER_PROPERTIES.get(name)
        or STACK_PROPERTIES.get(name)
        or OPTIM_PROPERTIES.get(name)
    )
    if found is None:
        known = (
            sorted(FIXED_CHECKS) + sorted(PROPERTIES) + list(LAYER_PROPERTIES) + list(STACK_PROPERTIES) + list(OPTIM_PROPERTIES)
        )
        raise ValueError(f"unknown property {name!r}; expected one of {known}")
    return found


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
    scope: Scope | None = None,
    components: list[str] | None = None,
    adapter: str | None = None,
    replay_options: str = "",
) -> Session:
    """A Session for `impl` in `scope` (default: the whole protocol; `components` and `adapter`
    say where it came from, for the report, and `replay_options` how a replay command repeats
    them): the profile's seed (ci: 0 unless `seed`), the missing functions in scope, the corpus
    entries of `corpus_dir` (or just `replay`)."""
    chosen = PROFILES[profile]
    if seed is None and chosen.derandomize:
        seed = 0
    run = VerifyResult(
        impl=impl_spec,
        profile=chosen.name,
        seed=seed,
        budget=budget or chosen.budget,
        started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        components=components,
        adapter=adapter,
        dtype=(scope or Scope()).dtype,
    )
    session = Session(
        impl=impl,
        run=run,
        profile=chosen,
        seed=seed,
        budget=budget,
        corpus_dir=corpus_dir,
        save_regressions=save_regressions,
        database_dir=database_dir,
        entries=[],
        replay=replay,
        scope=scope or Scope(),
        replay_options=replay_options,
    )
    _implemented(session)
    if replay is not None:
        session.entries = [replay]
    elif corpus_dir is not None:
        run.corpus_dir = str(corpus_dir)
        session.entries, run.corpus_problems = corpus.load(corpus_dir)
    session.entries = [_in_dtype(entry, run.dtype) for entry in session.entries]
    if session.replay is not None:
        session.replay = _in_dtype(session.replay, run.dtype)
    return session


def _in_dtype(entry: corpus.Entry, dtype: str) -> corpus.Entry:
    """A saved layer case replayed in the dtype of the run (the library's, not the case's)."""
    if isinstance(entry.case, LayerCase) and entry.case.dtype != dtype:
        return replace(entry, case=entry.case.in_dtype(dtype))
    return entry


def _implemented(session: Session) -> None:
    """The session narrowed to what its implementation implements: a protocol it defines no
    function of is absent (its checks not run); of the layer protocol, the ops it defines no
    function of, and the update rules it does not define, are not in scope. The functions missing in scope are noted."""
    from gradverify.loader import (
        LAYERS,
        MLP,
        defined_ops,
        defined_optimizers,
        missing_functions,
        missing_layer_functions,
        protocols,
    )

    impl, run = session.impl, session.run
    present = protocols(impl)
    run.absent_protocols = [p for p in (MLP, LAYERS) if p not in present]
    session.scope = session.scope.within(Scope(layers=defined_ops(impl), optimizers=defined_optimizers(impl)))
    missing = missing_functions(impl) if MLP in present else []
    run.missing_functions = [fn for fn in [*missing, *missing_layer_functions(impl)] if session.scope.has_function(fn)]


def run_one(session: Session, name: str) -> PropertyResult:
    """Run the check `name` of the session, the one way every run does: a check that needs a
    function the implementation lacks fails as missing; a fixed check runs once; a property
    replays its corpus entries first, then searches (or runs just the replayed case), and a new
    counterexample is saved to the corpus. The result, with its replay command and hints, is
    appended to session.run.results and returned."""
    run, impl = session.run, session.impl
    item = check_named(name)
    kind = CheckKind.FIXED if isinstance(item, FixedCheck) else CheckKind.PROPERTY
    outside = session.scope.outside(item.functions, item.needs)
    missing = [fn for fn in item.functions if fn in run.missing_functions]
    if outside:
        result = not_in_scope(name, item.claim, kind, item.tolerance, outside)
    elif missing:
        result = missing_failure(name, item.claim, kind, item.tolerance, missing)
    elif isinstance(item, FixedCheck):
        result = run_fixed(item, impl, session.scope)
    elif session.replay is not None:
        result = replay_only(item, impl, session.replay)
    else:
        mine = [e for e in session.entries if e.property == name]
        result, new_case = run_property(
            item,
            impl,
            profile=session.profile,
            seed=session.seed,
            entries=mine,
            budget=session.budget,
            database_dir=session.database_dir,
            skip_missing=True,
            scope=session.scope,
        )
        if new_case is not None and session.save_regressions and session.corpus_dir is not None:
            _save(run, result.failure, session.corpus_dir, name, new_case, run.impl)
    if name in LAYER_PROPERTIES:
        result.tolerance = tolerance_for(result.tolerance, run.dtype)
    if result.failure is not None and result.failure.case is not None:
        result.failure.replay = replay_command(
            run.impl, result.failure.corpus_path, name, result.failure.case, session.replay_options
        )
        if result.status is CheckStatus.FAILED:
            result.hints = _diagnose(item, result.failure, impl)
            illustrate(item, result.failure, impl)
    run.results.append(result)
    return result


def run_all(
    session: Session, only: list[str] | None = None, *, progress: Progress | None = None, fail_fast: bool = False
) -> VerifyResult:
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
    session = start(
        impl,
        impl_spec=impl_spec,
        profile=profile,
        seed=seed,
        budget=budget,
        corpus_dir=corpus_dir,
        save_regressions=save_regressions,
        database_dir=database_dir,
        replay=replay,
    )
    return run_all(session, only, progress=progress, fail_fast=fail_fast)


def _diagnose(prop: Property | FixedCheck, failure: Failure, impl: ModuleType) -> list[str]:
    """The hints grade gives for the same failure (gradverify.hints), for a property that has a diagnosis."""
    kind = getattr(prop, "diagnosis", None)
    if kind is None:
        return []
    from gradverify.hints import hints

    return [*hints(kind, getattr(failure.case, "name", None), failure, impl)]


def _save(run: VerifyResult, failure: Failure | None, directory: Path, name: str, case: Any, impl_spec: str) -> None:
    """The new counterexample saved to the corpus, and its path noted on the failure and the run."""
    if failure is None:
        raise ValueError(f"{name}: a new counterexample without a failure")
    try:
        path = corpus.save(directory, name, case, impl=impl_spec, failure=failure.comparisons[0].describe())
    except OSError as exc:
        run.corpus_problems.append(f"could not save the counterexample to {directory}: {exc.strerror}")
        return
    failure.corpus_path = str(path)
    run.new_regressions.append(str(path))
