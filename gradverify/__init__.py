"""gradverify: reference-checking gradient verification for hand-written backprop.

    import gradverify
    result = gradverify.verify("mypkg.backprop")          # a module, a module name or a .py path
    result.passed, [r.name for r in result.failed]
    grade = gradverify.grade("student.py")                 # in a sandbox, with the shipped rubric
    grade.score, grade.max_score

The package, by folder of the repository:

    gradverify            (gradverify/)   the application: API, CLI, pytest plugin, the run of the checks, reports
    gradverify.grading    (gradverify/grading/)  rubric, items, grade reports, class summary, course adapters
    gradverify.sandbox    (gradverify/sandbox/)  engine, host, channel, worker and codec; stdlib and NumPy only
    gradverify.properties (properties/)   what is checked: cases, strategies, checks, bad inputs, worked examples
    gradverify.impl       (impl/)         the hand-written NumPy backprop: the model solution
    gradverify.references (references/)   the spec table, JAX/PyTorch/finite-difference oracles, compare()

The application's own files (gradverify/):

    __init__.py      the public API: verify, prepare, grade and the result types
    __main__.py      python -m gradverify
    cli.py           the command line: verify, grade, secret, template
    pytest_plugin.py the checks as pytest items, in the user's own test run
    runner.py        a session: the checks of one implementation in turn, replay commands, hints
    search.py        one check: its corpus replayed, its coverage cases, the hypothesis search
    workers.py       a run's checks shared with worker processes (verify --jobs)
    results.py       the structured results the reports read, and merging them across processes
    profiles.py      the run profiles (dev, ci, thorough) and hypothesis's settings and home folder
    corpus.py        the regression corpus: counterexamples saved and replayed
    hints.py         what the numbers of an MLP protocol failure say about its cause
    layer_hints.py   the same for a layer op: known mistakes modelled, named where they fit
    layer_mistakes.py the layer mistakes those hints name, each a model of one bug
    optim_hints.py   the same for an update rule (CS231n's optim.py)
    diagnoses.py     what a hint can name (Diagnosis, in words) and the Hint itself
    loader.py        loading an implementation from a module name or a .py file
    library.py       the library a run verifies: through its course adapter, within its declared scope
    report.py        Markdown and JUnit reports, GitHub annotations, from a VerifyResult
    plots.py         the reports' pictures, and writing a report with them
    files.py         writing files atomically
    markdown.py      text from outside made inert in Markdown
    terminal.py      text from outside made inert on a terminal
    project.py       the user's project: its root, its [tool.gradverify] settings, its state folder
    options.py       argument types shared by the CLI and the pytest plugin

Importing gradverify is cheap: hypothesis, JAX and PyTorch load when a check first needs them.
"""

from __future__ import annotations

import sys as _sys


def _leave_working_folder() -> None:
    """Take every sys.path entry that names the working folder away, when this process is the
    gradverify program (`gradverify …`, `python -m gradverify…`).

    `python -m` puts the working folder first on sys.path (and PYTHONPATH may hold "." or ""), so
    in a folder of submissions a file named after a module the program imports (argparse.py,
    json.py, numpy.py) would run, unsandboxed, as whoever grades. This runs while the interpreter
    imports this package, before the package imports anything that is not already loaded (the
    interpreter's own start-up modules are frozen or built in), so the entries can still be taken
    away. `verify` puts the working folder back itself (gradverify.loader), where finding an
    implementation there is the point; a program that imports gradverify as a library keeps its
    sys.path as it is."""
    import os

    argv = list(getattr(_sys, "orig_argv", ()))
    module = argv[argv.index("-m") + 1] if _sys.argv[:1] == ["-m"] and "-m" in argv[:-1] else ""
    program = (
        module == "gradverify"
        or module.startswith("gradverify.")
        or (bool(_sys.argv) and os.path.basename(_sys.argv[0]) == "gradverify")
    )
    if not program:
        return
    try:
        here = os.getcwd()
    except OSError:
        return
    _sys.path[:] = [entry for entry in _sys.path if os.path.abspath(entry or os.curdir) != here]


_leave_working_folder()

from pathlib import Path  # noqa: E402 - after the working folder has left sys.path
from types import ModuleType  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

__version__ = "0.2.0"

if TYPE_CHECKING:
    from gradverify.grading.items import GradeResult, ItemResult
    from gradverify.grading.rubric import Rubric
    from gradverify.library import Library
    from gradverify.references.compare import Cause, Comparison, Where
    from gradverify.results import Failure, PropertyResult, VerifyResult
    from gradverify.runner import Progress, Session
    from gradverify.corpus import Entry

#: The implementation verified when none is named: the bundled one.
BUNDLED_IMPL = "gradverify.impl"

_TYPES = {
    "VerifyResult": "gradverify.results",
    "PropertyResult": "gradverify.results",
    "Failure": "gradverify.results",
    "Session": "gradverify.runner",
    "GradeResult": "gradverify.grading.items",
    "ItemResult": "gradverify.grading.items",
    "Rubric": "gradverify.grading.rubric",
    "Comparison": "gradverify.references.compare",
    "Where": "gradverify.references.compare",
    "Cause": "gradverify.references.compare",
}

__all__ = [
    "verify",
    "prepare",
    "grade",
    "BUNDLED_IMPL",
    "VerifyResult",
    "PropertyResult",
    "Failure",
    "Session",
    "GradeResult",
    "ItemResult",
    "Rubric",
    "Comparison",
    "Where",
    "Cause",
]  # the types: _TYPES, imported on first use


def __getattr__(name: str) -> Any:
    """The result types, imported on first use."""
    if name in _TYPES:
        import importlib

        return getattr(importlib.import_module(_TYPES[name]), name)
    raise AttributeError(f"module 'gradverify' has no attribute {name!r}")


def verify(
    impl: ModuleType | str | Path = BUNDLED_IMPL,
    *,
    profile: str = "ci",
    seed: int | None = None,
    budget: int | None = None,
    properties: list[str] | None = None,
    skip: list[str] | None = None,
    components: list[str] | None = None,
    adapter: str | None = None,
    dtype: str = "float64",
    regressions: str | Path | None = None,
    save_regressions: bool = True,
    replay: str | None = None,
    project: str | Path | None = None,
    fail_fast: bool = False,
    progress: "Progress | None" = None,
    jobs: "int | str" = 1,
) -> "VerifyResult":
    """Check an implementation of the backprop protocol against JAX, PyTorch and finite differences.

    impl: a module name ("mypkg.backprop"), a path to a .py file, or a loaded module.
    profile: "dev" (quick, random seed), "ci" (deterministic: seed 0 unless `seed`, fixed
        budget) or "thorough" (many examples).
    budget: examples per property (default: the profile's); properties: run only these checks
        (names or glob patterns such as "worked_example_*"); skip: run none of these (e.g. the
        bad-input checks of a library that validates its inputs its own way: "bad_input_*").
    components: the components the library implements (gradverify.properties.scope.COMPONENTS;
        default: all); adapter: a course adapter mapping the library's own API onto the protocol
        (docs/adapters.md). A check or case that needs a component neither declares nor maps is
        not in scope: not run, and not a failure.
    dtype: what the library's layer ops compute in, "float64" or "float32": a float32 library's
        are fed float32 inputs, must return float32 and are compared under the float32
        tolerances (docs/layers.md, "float32"); the MLP protocol is checked in float64.
    regressions: the corpus folder (default: [tool.gradverify] regressions, else
        <project>/.gradverify/regressions); entries live in a subfolder per implementation and
        are replayed first; new counterexamples are saved unless `save_regressions` is false.
    replay: run exactly one saved counterexample (a corpus file's path, or its JSON) instead.
    project: the folder whose .gradverify/ holds the corpus and the hypothesis database
        (default: the nearest folder up from the working folder with a pyproject.toml or .git).
    jobs: the processes that run the checks, this one and jobs − 1 workers that load `impl` again
        (gradverify.workers: a serial run's results; more than 1 needs a module name or a path);
        "auto": one per CPU, at most 4, for 8 checks or more and `impl` by name or path, else 1.

    Hypothesis's own files (its cache of constants) go under <project>/.gradverify/hypothesis/
    with the dev and thorough profiles, and into a temporary folder removed at exit with ci.
    Returns a VerifyResult (`.passed`, `.results`, `.failed`). Raises ValueError for an unknown
    profile or dtype, bad jobs, a property or skip pattern that matches no check, an unknown component, an adapter
    that cannot be used (its subclass gradverify.grading.adapters.AdapterError), an unreadable
    replay or [tool.gradverify], and gradverify.loader.ImplLoadError for an implementation that
    cannot be loaded or that (without an adapter) defines none of the functions of either protocol.
    """
    from gradverify import runner, workers

    workers.check_jobs(jobs, loaded=isinstance(impl, ModuleType))
    chosen = runner.select(properties, skip) if properties is not None or skip else None
    options: dict[str, Any] = {"regressions": regressions, "save_regressions": save_regressions, "replay": replay}
    options.update(project=project, dtype=dtype)
    session = prepare(impl, profile=profile, seed=seed, budget=budget, components=components, adapter=adapter, **options)
    return workers.run_all(session, chosen, jobs=jobs, progress=progress, fail_fast=fail_fast)


def prepare(
    impl: "ModuleType | str | Path | Library" = BUNDLED_IMPL,
    *,
    name: str | None = None,
    profile: str = "ci",
    seed: int | None = None,
    budget: int | None = None,
    components: list[str] | None = None,
    adapter: str | None = None,
    dtype: str = "float64",
    regressions: str | Path | None = None,
    save_regressions: bool = True,
    replay: str | None = None,
    project: str | Path | None = None,
    own_process: bool = True,
    adapter_base: Path | None = None,
) -> "Session":
    """What `verify` does before its first check, as a gradverify.runner.Session whose checks
    `runner.run_one(session, name)` then runs one at a time (the pytest plugin runs each as a pytest item):
    the profile checked, the implementation loaded (a Library as it is), its corpus and hypothesis folders
    found under the project, hypothesis's own files placed, JAX's compilation cache on; the session's
    recipe for workers (gradverify.workers) when `impl` is a name or a path.

    name: what a loaded module `impl` is known as, in the corpus and in replay commands (a
    module name or a .py path; default: the module's __name__). own_process: False inside a
    host's process (the pytest plugin): hypothesis's storage, a setting of the whole process,
    is left as the host has it, so a user's own hypothesis tests keep their database. adapter_base:
    what a relative adapter path is relative to (default: the working folder). The rest is verify's."""
    arguments = dict(locals())  # as given, for the recipe
    from gradverify import library, profiles, project as projects, runner
    from gradverify.references import jax_backend

    if profile not in profiles.PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(profiles.PROFILES)}")
    root = Path(project).resolve() if project is not None else projects.find_project()
    entry = _replayed(replay)
    lib = impl if isinstance(impl, library.Library) else _library(impl, name, adapter, components, root, adapter_base, dtype)
    corpus_dir, database_dir = projects.state_folders(root, lib.spec, regressions)
    if own_process:  # a setting of the whole process: not for a host's (profiles.use_hypothesis_home)
        profiles.use_hypothesis_home(projects.hypothesis_root(root) if profiles.PROFILES[profile].database else None)
    jax_backend.enable_persistent_cache()
    session = runner.start(
        lib.module,
        impl_spec=lib.spec,
        profile=profile,
        seed=seed,
        budget=budget,
        corpus_dir=corpus_dir,
        save_regressions=save_regressions,
        database_dir=database_dir,
        replay=entry,
        scope=lib.scope,
        components=lib.components,
        adapter=lib.adapter,
        replay_options=lib.replay_options,
    )
    session.recipe = (
        {**arguments, "impl": str(impl), "project": root, "own_process": True} if isinstance(impl, (str, Path)) else None
    )
    return session


def _replayed(replay: str | None) -> "Entry | None":
    """The corpus entry that `replay` (a corpus file's path, or its JSON) names; None for None."""
    from gradverify import corpus

    try:
        return corpus.load_replay(replay) if replay is not None else None
    except ValueError as exc:
        raise ValueError(f"replay: {exc}") from None


def _library(
    impl: ModuleType | str | Path,
    name: str | None,
    adapter: str | None,
    components: list[str] | None,
    root: Path,
    base: Path | None,
    dtype: str = "float64",
) -> "Library":
    """The library prepare() checks (gradverify.library.load)."""
    from gradverify import library

    spec = impl if isinstance(impl, ModuleType) else str(impl)
    return library.load(spec, name=name, adapter=adapter, components=components, project=root, base=base, dtype=dtype)


def grade(
    path: str | Path,
    *,
    rubric: "str | Path | Rubric | None" = None,
    timeout: float | None = None,
    memory_mb: int = 2048,
    seed: int | None = None,
    secret: str | Path | None = None,
) -> "GradeResult":
    """Grade one submission file item by item, the submission running in a sandbox.

    rubric: a Rubric, a path to a rubric TOML, or None for the shipped one.
    timeout: wall-clock seconds per item (default: the rubric's); memory_mb: the submission's memory.
    seed: grade with this seed (a replay: `result.seed.value` of an earlier grade). Otherwise the
        rubric's fixed seed, else one derived from the course secret and the file's bytes:
    secret: the course secret's file (default: $GRADVERIFY_SECRET_FILE, else
        $XDG_CONFIG_HOME/gradverify/course-secret, made on first use; gradverify.grading.secret).

    Returns a GradeResult (`.score`, `.max_score`, `.items`, `.seed`); whatever the submission does
    ends in the result. Raises ValueError for a rubric that cannot be read, and its subclass
    gradverify.grading.secret.SecretError for a secret file that cannot be used (missing, or
    readable by others).
    """
    import sys

    from gradverify.grading.items import grade_file
    from gradverify.grading.rubric import Rubric, load_rubric
    from gradverify.grading.secret import course_secret, secret_path
    from gradverify.references import jax_backend
    from gradverify.profiles import use_hypothesis_home

    chosen = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
    key = None
    if seed is None and chosen.seed is None:
        where, default = secret_path(secret)
        key = course_secret(where, default=default, announce=lambda line: print(f"gradverify: {line}", file=sys.stderr))
    use_hypothesis_home(None)  # hypothesis's own files in a temporary folder, never the working folder
    jax_backend.enable_persistent_cache()
    return grade_file(path, chosen, timeout=timeout, memory_mb=memory_mb, seed=seed, secret=key)
