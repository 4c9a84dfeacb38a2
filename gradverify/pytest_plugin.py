"""gradverify inside pytest: each check of the configured implementation is a test item.

Registered through the `pytest11` entry point (pyproject.toml), so pytest loads it wherever
gradverify is installed; it does nothing (no items, no torch, no jax) unless configured:

    [tool.gradverify]                # in the pyproject.toml of pytest's rootdir
    impl = "mylib.backprop"          # a module name, or a .py path relative to the rootdir
    profile = "ci"                   # dev (default), ci, thorough
    regressions = ".gradverify/regressions"
    components = ["dense", "network", "relu", "identity", "mse"]   # default: every component
    adapter = "course_api.py"        # a course adapter, relative to the rootdir, or a shipped name
    dtype = "float32"                # what the layer ops compute in (default: float64)

or `--gradverify-impl MODULE_OR_FILE` (a path relative to the working folder). Then every
run collects the checks beside the project's tests, as `gradverify::<check>` items marked
`gradverify` (`-k network`, `-m "not gradverify"`), and the options

    --gradverify-profile dev|ci|thorough   --gradverify-seed N   --gradverify-budget N
    --gradverify-report PATH               (the Markdown report of `gradverify verify --report`,
                                            its pictures beside it)   --gradverify-no-plots
    --gradverify-components NAMES          --gradverify-adapter NAME_OR_FILE (relative to the working folder)
    --gradverify-dtype float64|float32

mean what `gradverify verify`'s do. A check runs as the CLI runs it (gradverify.runner.run_one:
corpus replay first, then hypothesis; a new counterexample saved to the project's corpus), and
a check that does not hold fails with the lines `gradverify verify` prints for it: the
comparison (oracle, function, layer, parameter), the worst values, the shrunk example, the
hints and the replay command. A check that is not (or only partly) implemented fails too, with
what is missing in one line: the run fails, as the CLI's exits 1. A check that the scope (the
declared components, what the adapter maps) leaves out entirely is skipped, "not in scope".

Under pytest-xdist each worker prepares the implementation once (imports, JAX compilation)
and runs the checks it is sent; each check's result travels to the controller on its test
report (a `gradverify_result` attribute, which xdist serialises with the report), and the
controller (or the one process of a serial run) combines them into the report and the GitHub
step summary once, at the end. Corpus entries are written atomically under names that depend
only on the property and the case, so workers can save at the same time.

The `gradverify_impl` fixture gives tests of the project's own the loaded implementation and
the oracles (docs/ci.md).
"""

from __future__ import annotations

import base64
import os
import pickle
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from gradverify.options import positive_int

if TYPE_CHECKING:
    from gradverify.library import Library
    from gradverify.results import PropertyResult, VerifyResult
    from gradverify.runner import Session

MARKER = "gradverify"
#: The collector all checks hang under: their node ids are `gradverify::<check>`.
COLLECTOR = "gradverify"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradverify", "gradverify: the checks of an implementation of the backprop protocol")
    group.addoption(
        "--gradverify-impl",
        metavar="MODULE_OR_FILE",
        help="check this implementation (default: [tool.gradverify] impl; without either, gradverify adds nothing to the run)",
    )
    group.addoption(
        "--gradverify-profile", metavar="dev|ci|thorough", help="the profile (default: [tool.gradverify] profile, else dev)"
    )
    group.addoption("--gradverify-seed", type=int, metavar="N", help="the hypothesis seed (ci: 0 unless given)")
    group.addoption("--gradverify-budget", type=positive_int, metavar="N", help="examples per property, overriding the profile's")
    group.addoption("--gradverify-report", metavar="PATH", help="write the Markdown report of the checks that ran here")
    group.addoption(
        "--gradverify-no-plots", action="store_true", help="no pictures beside the --gradverify-report (tables and text only)"
    )
    group.addoption(
        "--gradverify-components",
        action="append",
        metavar="NAMES",
        help="the components the library implements, comma-separated (default: [tool.gradverify] components, else all)",
    )
    group.addoption(
        "--gradverify-adapter",
        metavar="NAME_OR_FILE",
        help="check the library through this course adapter (default: [tool.gradverify] adapter)",
    )
    group.addoption(
        "--gradverify-dtype",
        choices=["float64", "float32"],
        help="what the library's layer ops compute in (default: [tool.gradverify] dtype, else float64)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a check of gradverify (deselect with -m 'not {MARKER}')")
    gate = _configure(config)
    if gate is not None:
        config.pluginmanager.register(gate, "gradverify-gate")


def _configure(config: pytest.Config) -> "_Gate | None":
    """The gate for this run, or None when gradverify is not configured; pytest.UsageError for a
    configuration that cannot work (an unknown profile, an implementation that cannot be loaded)."""
    from gradverify import project as projects

    root = config.rootpath
    try:
        settings = projects.load_settings(root)
    except ValueError as exc:
        raise pytest.UsageError(f"gradverify: {exc}") from None
    option = config.getoption("gradverify_impl")
    if option is None and "impl" not in settings:
        return None
    spec = _resolve(option, config.invocation_params.dir) if option is not None else _resolve(settings["impl"], root)
    profile = config.getoption("gradverify_profile") or settings.get("profile", "dev")
    from gradverify.profiles import PROFILES

    if profile not in PROFILES:
        raise pytest.UsageError(f"gradverify: unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    library = _library(config, spec, settings, root)
    report = config.getoption("gradverify_report")
    from gradverify.loader import protocols
    from gradverify.runner import protocol_of, select

    try:
        checks = select(settings.get("checks"), settings.get("skip"))
    except ValueError as exc:
        raise pytest.UsageError(f"gradverify: [tool.gradverify]: {exc}") from None
    present = protocols(library.module)  # a protocol the library defines nothing of: no items
    checks = [name for name in checks if protocol_of(name) in present]
    return _Gate(
        config,
        spec,
        library,
        root,
        profile,
        config.getoption("gradverify_seed"),
        config.getoption("gradverify_budget"),
        config.invocation_params.dir / report if report else None,
        checks,
    )


def _library(config: pytest.Config, spec: str, settings: dict[str, Any], root: Path) -> "Library":
    """The implementation `spec` loaded, through the adapter and in the scope of the components
    that the options (else the settings) name; pytest.UsageError when it cannot be."""
    from gradverify import library
    from gradverify.loader import ImplLoadError, NotAnImplementation
    from gradverify.references.compare import check_dtype

    option = config.getoption("gradverify_adapter")
    adapter = option or settings.get("adapter")
    folder = config.invocation_params.dir if option else root
    components, where = config.getoption("gradverify_components"), "--gradverify-components"
    if components is None:
        components, where = settings.get("components"), "[tool.gradverify] components"
    try:
        dtype = config.getoption("gradverify_dtype") or check_dtype(settings.get("dtype", "float64"), "[tool.gradverify] dtype")
        declared = library.components_of(components, where)
        return library.load(spec, adapter=adapter, components=declared, project=root, base=folder, dtype=dtype)
    except NotAnImplementation as exc:
        raise pytest.UsageError(f"gradverify: {exc}") from None
    except ImplLoadError as exc:
        raise pytest.UsageError(f"gradverify: cannot load the implementation: {exc}") from None
    except ValueError as exc:  # an unknown component or dtype; an adapter that cannot be used (AdapterError)
        raise pytest.UsageError(f"gradverify: {exc}") from None


def _resolve(spec: str, folder: Path) -> str:
    """A file implementation as an absolute path (relative to `folder`); a module name as it is."""
    if spec.endswith(".py") or "/" in spec or (folder / spec).is_file():
        return str((folder / spec).resolve())
    return spec


class CheckFailed(Exception):
    """A check that does not hold: its result, which the item's failure shows."""

    def __init__(self, result: "PropertyResult"):
        super().__init__(result.name)
        self.result = result


class Checks(pytest.Collector):
    """The node all checks hang under (`gradverify`); made by the gate, not found on disk."""

    def collect(self) -> list[pytest.Item]:
        """The properties, the costliest first (the network property checks several data sets
        per example: under pytest-xdist one worker starts it while the others take the rest),
        then the fixed checks. The report keeps the suite's order (gradverify.results.combine)."""
        from gradverify.properties.checks import FIXED_CHECKS, PROPERTIES
        from gradverify.properties.layer_properties import LAYER_PROPERTIES
        from gradverify.properties.optim_properties import OPTIM_PROPERTIES
        from gradverify.properties.stack_properties import STACK_PROPERTIES

        chosen = set(self.config.stash[GATE].checks)
        by_cost = sorted(PROPERTIES, key=lambda name: -PROPERTIES[name].data_sets * PROPERTIES[name].weight)
        names = [*by_cost, *LAYER_PROPERTIES, *STACK_PROPERTIES, *OPTIM_PROPERTIES, *FIXED_CHECKS]
        return [Check.from_parent(self, name=name) for name in names if name in chosen]


class Check(pytest.Item):
    """One check of the configured implementation, run as `gradverify verify` runs it."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.add_marker(MARKER)
        #: this check's result in a VerifyResult of its own (the session's run-level fields with
        #: it), sent to the process that writes the report
        self.part: VerifyResult | None = None

    def runtest(self) -> None:
        from gradverify import runner
        from gradverify.results import environment

        session = self.config.stash[GATE].session()
        result = runner.run_one(session, self.name)
        self.part = replace(session.run, results=[result], environment=environment())
        if not result.in_scope:
            pytest.skip(f"not in scope: needs {', '.join(result.not_in_scope)}")
        if not result.passed:
            raise CheckFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            from gradverify.report import check_lines

            return "\n".join(check_lines(excinfo.value.result))
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{COLLECTOR}::{self.name}"


@dataclass(eq=False)
class _Gate:
    """The configured implementation's checks in this pytest run (registered as a plugin)."""

    config: pytest.Config
    spec: str
    #: the implementation, through its adapter, with its scope
    library: "Library"
    project: Path
    profile: str
    seed: int | None
    budget: int | None
    report: Path | None
    #: the checks of the run: [tool.gradverify] checks less skip (gradverify.runner.select)
    checks: list[str] = field(default_factory=list)
    #: the session this process runs its checks in, prepared on its first check
    prepared: "Session | None" = None
    #: each check's result, as it arrives (from this process or from xdist's workers)
    parts: list["VerifyResult"] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    written: Path | None = None

    def __post_init__(self) -> None:
        self.config.stash[GATE] = self

    def session(self) -> "Session":
        """This process's session: the implementation prepared once, as gradverify.verify does."""
        if self.prepared is None:
            import gradverify

            self.prepared = gradverify.prepare(
                self.library,
                name=self.spec,
                profile=self.profile,
                seed=self.seed,
                budget=self.budget,
                project=self.project,
                own_process=False,
            )
        return self.prepared

    def pytest_report_header(self, config: pytest.Config) -> str:
        from gradverify.profiles import PROFILES

        seed = self.seed if self.seed is not None else (0 if PROFILES[self.profile].derandomize else "random")
        return f"gradverify: {self.spec} (profile {self.profile}, seed {seed})"

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
        # First, so that -k, -m and --deselect see the checks; collected through pytest's own
        # hooks, so that they are counted and listed like any collected test.
        checks = Checks.from_parent(session, name=COLLECTOR, nodeid=COLLECTOR)
        session.ihook.pytest_collectstart(collector=checks)
        report = session.ihook.pytest_make_collect_report(collector=checks)
        session.ihook.pytest_collectreport(report=report)
        items.extend(node for node in report.result if isinstance(node, pytest.Item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        report = yield
        if isinstance(item, Check) and call.when == "call" and item.part is not None:
            report.gradverify_result = base64.b64encode(pickle.dumps(item.part)).decode("ascii")
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "gradverify_result", None)
        if data is not None:
            self.parts.append(pickle.loads(base64.b64decode(data)))

    def combined(self) -> "VerifyResult | None":
        if not self.parts:
            return None
        from gradverify.results import combine

        return combine(self.parts, seconds=time.perf_counter() - self.started)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):  # an xdist worker: the controller writes
            return
        run = self.combined()
        if run is None:
            return
        from gradverify.report import render_markdown, step_summary, write_report

        if self.report is not None:  # with its pictures beside it, as gradverify verify --report writes it
            self.written = write_report(self.report, run, drawing=not self.config.getoption("gradverify_no_plots"))
        markdown = render_markdown(run)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.write(step_summary(markdown))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return
        run = self.combined()
        if run is None:
            return
        from gradverify.report import missing_line, protocol_lines, verdict_line

        if run.not_implemented:
            terminalreporter.write_line(f"gradverify: {missing_line(run, markdown=False)}")
        for line in protocol_lines(run):
            terminalreporter.write_line(f"gradverify: {line}")
        verdict = "PASS" if run.passed else "FAIL"
        terminalreporter.write_line(
            f"gradverify: {verdict} — {verdict_line(run)}" + (f"; report: {self.written}" if self.written else ""),
            green=run.passed,
            red=not run.passed,
        )


GATE = pytest.StashKey[_Gate]()


@dataclass(frozen=True)
class Implementation:
    """What the `gradverify_impl` fixture gives: the implementation under test and the oracles
    the suite checks it against, each a module of the backprop protocol (docs/protocol.md)."""

    #: the implementation under test, loaded as its checks load it
    module: ModuleType
    #: how it was named: a module name, or the absolute path of a .py file
    spec: str
    jax: ModuleType
    torch: ModuleType

    @property
    def oracles(self) -> dict[str, ModuleType]:
        """The autodiff references by name, as a comparison's `where.oracle` names them."""
        return {"jax": self.jax, "torch": self.torch}


@pytest.fixture(scope="session")
def gradverify_impl(pytestconfig: pytest.Config) -> Implementation:
    """The configured implementation and the JAX and PyTorch oracles, for a project's own
    property tests (with gradverify.properties.strategies and gradverify.references.compare.compare).
    Session-scoped, so hypothesis's @given tests may use it. Fails when gradverify is not
    configured ([tool.gradverify] impl or --gradverify-impl)."""
    gate = pytestconfig.stash.get(GATE, None)
    if gate is None:
        pytest.fail(
            "gradverify_impl: gradverify is not configured: set [tool.gradverify] impl in the "
            "pyproject.toml of pytest's rootdir, or give --gradverify-impl",
            pytrace=False,
        )
    gate.session()  # hypothesis's files and JAX's compilation cache placed as for the checks
    from gradverify.references import jax_backend, torch_backend

    return Implementation(gate.library.module, gate.spec, jax_backend, torch_backend)
