"""The structured results of a run, which the reports read (they never parse text).

`PropertyResult` is one check's verdict and numbers, with its `Failure` (the smallest failing
case and its comparisons) when it failed; `VerifyResult` is one run of the checks on one
implementation; `combine` merges the partial results of several processes into one.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import hypothesis

from gradverify.properties.checks import FIXED_CHECKS, PROPERTIES
from gradverify.properties.layer_properties import LAYER_PROPERTIES
from gradverify.properties.optim_properties import OPTIM_PROPERTIES
from gradverify.properties.scope import COMPONENTS
from gradverify.properties.stack_properties import STACK_PROPERTIES
from gradverify.properties.strategies import KINK_POLICY
from gradverify.references.compare import MISSING, Comparison


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
    #: every case needs a component the run's scope leaves out (properties/scope.py): not run,
    #: and not a failure
    NOT_IN_SCOPE = "not in scope"


#: The verdicts that do not fail a run.
HOLDING = frozenset({CheckStatus.PASSED, CheckStatus.NOT_IN_SCOPE})


class CheckKind(StrEnum):
    """A property (cases drawn by hypothesis) or a fixed check (one example)."""

    PROPERTY = "property"
    FIXED = "fixed"


class Source(StrEnum):
    """Where a failing case came from (Failure.source); each is the words the report prints."""

    HYPOTHESIS = "hypothesis"
    CORPUS = "regression corpus"
    #: a coverage case failed and the search found no smaller one
    COVERAGE = "coverage case (not shrunk: the search found no failing case)"
    REPLAYED = "replayed case"
    FIXED = "fixed example"
    #: a grading item's fixed case of one of its components (grading.domain)
    COMPONENT = "fixed case of one component"
    #: no case: every case it draws needs a function that raises NotImplementedError
    NOT_IMPLEMENTED = "not implemented"
    #: no case: the check needs a function the implementation does not define
    MISSING_FUNCTION = "missing function"


@dataclass(kw_only=True)
class Failure:
    """What a person needs to act on a failing property."""

    comparisons: list[Comparison]
    case: Any
    case_description: str
    shapes: str
    source: Source
    replay: str | None = None
    corpus_path: str | None = None
    #: (a bigger sibling of the case, its comparisons), for the pictures (Property.illustration:
    #: a failing training case trained longer); None when the property has none
    illustration: tuple[Any, list[Comparison]] | None = None


@dataclass(kw_only=True)
class PropertyResult:
    name: str
    claim: str
    kind: CheckKind
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
    #: the components its cases would draw or need that the scope leaves out (properties/scope.py)
    not_in_scope: list[str] = field(default_factory=list)
    #: False when it ran no case: each needs a component out of scope (`not_in_scope`)
    in_scope: bool = True
    #: of a property that accepts several forms (Property.forms: Adam's, torch's or CS231n's
    #: efficient one), each form with the number of passing cases it held on, in the property's
    #: order; empty for the others
    forms: dict[str, int] = field(default_factory=dict)

    @property
    def form(self) -> str | None:
        """The first form that held on every case checked (None: the property has no forms, or
        none held on all of them)."""
        return next((name for name, held in self.forms.items() if self.examples and held == self.examples), None)

    @property
    def status(self) -> CheckStatus:
        """The verdict: CheckStatus says what each means."""
        if not self.in_scope:
            return CheckStatus.NOT_IN_SCOPE
        if self.error:
            return CheckStatus.ERROR
        if self.failure is not None:
            missing = all(c.cause in MISSING for c in self.failure.comparisons)
            return CheckStatus.NOT_IMPLEMENTED if missing else CheckStatus.FAILED
        return CheckStatus.PARTLY_IMPLEMENTED if self.not_implemented else CheckStatus.PASSED

    @property
    def passed(self) -> bool:
        return self.status is CheckStatus.PASSED


@dataclass(kw_only=True)
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
    #: the components the library declared (None: none declared, every component is in scope)
    components: list[str] | None = None
    #: the course adapter the library was checked through (a shipped adapter's name or a path)
    adapter: str | None = None
    #: the protocols (gradverify.loader: "MLP protocol", "layer protocol") the library defines
    #: no function of: their checks are not run, and the report says so in one line
    absent_protocols: list[str] = field(default_factory=list)
    #: what the layer ops were checked in: "float64", or "float32" for a library that declared it
    #: (the MLP protocol is checked in float64)
    dtype: str = "float64"

    @property
    def passed(self) -> bool:
        """Every check holds or is not in scope."""
        return all(r.status in HOLDING for r in self.results)

    @property
    def in_scope(self) -> list[PropertyResult]:
        """The results of the checks that ran (not those wholly out of scope)."""
        return [r for r in self.results if r.status is not CheckStatus.NOT_IN_SCOPE]

    @property
    def not_in_scope(self) -> list[str]:
        """The components some check left out, once each, in the order the spec lists them; then
        the cases of ops in scope that an adapter's limits left out ("layer_conv with WW ≠ HH"),
        in the order met."""
        named = [name for r in self.results for name in r.not_in_scope]
        return [name for name in COMPONENTS if name in named] + list(dict.fromkeys(n for n in named if n not in COMPONENTS))

    @property
    def failed(self) -> list[PropertyResult]:
        """The results that are wrong or could not run (not those only missing something)."""
        return [r for r in self.results if r.status in (CheckStatus.FAILED, CheckStatus.ERROR)]

    @property
    def not_implemented(self) -> list[str]:
        """Each missing function once, "function: message", in the order met."""
        found = [f"{fn}: is not defined by the implementation" for fn in self.missing_functions]
        for r in self.results:
            if r.status is CheckStatus.NOT_IMPLEMENTED and r.failure is not None:
                found += [
                    f"{c.where.function}: {c.message}"
                    for c in r.failure.comparisons
                    if c.where.function not in self.missing_functions
                ]
            found += r.not_implemented
        return list(dict.fromkeys(found))


def environment() -> dict[str, str]:
    import numpy

    versions = {"python": platform.python_version(), "numpy": numpy.__version__, "hypothesis": hypothesis.__version__}
    for name in ("jax", "torch"):
        module = sys.modules.get(name)
        versions[name] = getattr(module, "__version__", "not loaded")
    versions["platform"] = platform.platform()
    return versions


def combine(parts: list[VerifyResult], *, seconds: float | None = None) -> VerifyResult:
    """One VerifyResult from the partial ones of several processes that ran checks of the same
    session (the pytest plugin under pytest-xdist: one part per check): the results in the suite's
    order, the run's lists without repeats, the new counterexamples in the order of their checks.
    `seconds`: the wall time of the whole run (default: the parts' longest)."""
    if not parts:
        raise ValueError("no results to combine")
    order = {
        name: i for i, name in enumerate([*FIXED_CHECKS, *PROPERTIES, *LAYER_PROPERTIES, *STACK_PROPERTIES, *OPTIM_PROPERTIES])
    }
    results = sorted((r for part in parts for r in part.results), key=lambda r: order.get(r.name, len(order)))
    first = parts[0]
    saved_by = {r.failure.corpus_path: i for i, r in enumerate(results) if r.failure and r.failure.corpus_path}
    saved = sorted(dict.fromkeys(p for part in parts for p in part.new_regressions), key=lambda p: saved_by.get(p, len(saved_by)))
    loaded = [part.environment for part in parts if part.environment]
    return VerifyResult(
        impl=first.impl,
        profile=first.profile,
        seed=first.seed,
        budget=first.budget,
        started=min(part.started for part in parts),
        seconds=seconds if seconds is not None else max(part.seconds for part in parts),
        results=results,
        corpus_dir=first.corpus_dir,
        corpus_problems=list(dict.fromkeys(p for part in parts for p in part.corpus_problems)),
        new_regressions=saved,
        missing_functions=first.missing_functions,
        kink_policy=first.kink_policy,
        environment=loaded[0] if loaded else {},
        components=first.components,
        adapter=first.adapter,
        absent_protocols=first.absent_protocols,
        dtype=first.dtype,
    )
