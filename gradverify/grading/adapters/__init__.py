"""Course adapters: an instructor's file that maps a course's own API onto the backprop protocol.

    adapter = load("cs231n")                  # a shipped adapter by name, or a path to a .py file
    adapter.why_not(item)                     # why a rubric item is not mapped, or None
    grade_file("student.py", rubric, adapter=adapter)

An adapter is one .py file (stdlib and NumPy only) that does ``import student`` and defines
the protocol functions it can map, each calling the student's code; ACTIVATIONS, LOSSES and
L2 declare what its activation, loss and network functions cover, LAYER_CASES the layer cases
it maps, COURSE_NAMES what the course calls the functions and arrays of a failure,
OWN_FUNCTIONS the protocol functions that are the student's own and SNIPPETS each op's calls in
the course's API (for a failure's snippet). It runs in the sandbox
beside the student's module, never in the grader's process: `load` imports it there on its
own, beside an empty student module, to learn what it maps (so no submission can forge that),
and the sandbox of each submission imports it again after the student's file
(gradverify.sandbox.worker). Rubric items it cannot map are "not mapped": left out of the
total, not scored 0. The shipped adapters are the other files of this folder
(`cs231n.py`, `layers.py`, and `mytorch.py`, which maps the layer protocol for verify);
docs/adapters.md says how to write one.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from gradverify.grading.course_names import CourseNames, course_names
from gradverify.properties.calls import ImplFailure
from gradverify.grading.kinds import item_property
from gradverify.references.compare import Cause
from gradverify.references.layer_spec import LAYER_FUNCTIONS, LAYER_OPS
from gradverify.references.model_spec import MODEL_FUNCTIONS
from gradverify.references.optim_spec import OPTIMIZERS
from gradverify.references.spec import ACTIVATIONS, LOSSES, PROTOCOL_FUNCTIONS

if TYPE_CHECKING:  # the rubric reads adapters (its `adapter` field): the type alone, not a cycle
    from gradverify.grading.rubric import Item
    from gradverify.sandbox.worker import NotDefined  # the sandbox is imported when an adapter is loaded

FOLDER = Path(__file__).resolve().parent
#: The adapters shipped with gradverify, by name: `--adapter cs231n`.
SHIPPED: dict[str, Path] = {path.stem: path for path in sorted(FOLDER.glob("*.py")) if path.stem != "__init__"}


class AdapterError(ValueError):
    """An adapter that cannot be used (no such file, it does not import, it maps nothing):
    the course staff's mistake, not a student's, so the grader stops (exit 2) with this message."""


@dataclass(frozen=True)
class Adapter:
    """What an adapter maps, as it declared it when imported on its own.

    functions: the protocol functions it defines; activations, losses: the names its
    activation and loss functions map (None: every one); l2: whether its network_gradients
    maps the L2 term."""

    path: Path
    functions: frozenset[str]
    activations: tuple[str, ...] | None = None
    losses: tuple[str, ...] | None = None
    l2: bool = True
    #: the activations and losses its network_gradients and train map (NETWORK_ACTIVATIONS,
    #: NETWORK_LOSSES; None: every one): the domain of the composite items (grading/domain.py)
    network_activations: tuple[str, ...] | None = None
    network_losses: tuple[str, ...] | None = None
    #: of the layer protocol's ops it maps, the cases it maps only in part (its LAYER_CASES, as
    #: its import on its own declared them: gradverify.properties.scope.Limit)
    layer_cases: tuple[tuple[str, str, Any], ...] = ()
    #: its COURSE_NAMES: what a failure's functions and arrays are called in the course
    #: (gradverify.grading.course_names)
    course_names: CourseNames = ()
    #: its OWN_FUNCTIONS: the protocol functions it serves as the student's own, under their
    #: names and signatures (the cs231n adapter's layer functions), whose calls a failure's
    #: snippet may show the student (properties/reproduce.py)
    own_functions: frozenset[str] = frozenset()
    #: its SNIPPETS: each layer op's calls in the course's API, which a failure's snippet shows
    #: after the case's arrays (properties/reproduce.py)
    snippets: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """The shipped adapter's name, else the file's path."""
        shipped = [name for name, path in SHIPPED.items() if path == self.path]
        return shipped[0] if shipped else str(self.path)

    def why_not(self, item: "Item") -> str | None:
        """Why the adapter cannot map rubric item `item` (None when it can): a protocol function
        the item needs that it does not define, an activation or loss it does not list, or the
        L2 term it declares it does not map."""
        needed = item_property(item.check, item.target).functions
        missing = [name for name in needed if name not in self.functions]
        if missing:
            return f"the adapter {self.name} defines no {' or '.join(missing)}"
        if item.check == "activation" and self.activations is not None and item.target not in self.activations:
            return f"the adapter {self.name} maps the activations {_listed(self.activations)} only"
        if item.check == "loss" and self.losses is not None and item.target not in self.losses:
            return f"the adapter {self.name} maps the losses {_listed(self.losses)} only"
        if item.check == "l2" and not self.l2:
            return f"the adapter {self.name} maps no L2 term (L2 = False)"
        return None


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(names) if names else "(none)"


def resolve(spec: str | Path, base: Path | None = None) -> Path:
    """The adapter file `spec` names: a shipped adapter's name ("cs231n"), or a path to a .py file
    (relative to `base`, the rubric's folder, when given). AdapterError if there is none."""
    text = str(spec)
    if text in SHIPPED:
        return SHIPPED[text]
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise AdapterError(
            f"no such adapter: {text} (not a file{f' under {base}' if base else ''}, nor a shipped adapter: {', '.join(SHIPPED)})"
        )
    if path.suffix != ".py":
        raise AdapterError(f"the adapter {path} is not a .py file")
    return path.resolve()


def from_declaration(
    path: Path,
    functions: frozenset[str],
    activations: tuple[str, ...] | None,
    losses: tuple[str, ...] | None,
    l2: bool,
    network_activations: tuple[str, ...] | None = None,
    network_losses: tuple[str, ...] | None = None,
) -> Adapter:
    """The Adapter of what the file at `path` declared; AdapterError if it defines no function of
    either protocol (the MLP's, or the layer protocol's ops and update rules, or a model item's
    model_loss, model_forward_backward, model_train) or lists an
    activation or loss the protocol does not have."""
    protocol = frozenset(
        name for name in (*PROTOCOL_FUNCTIONS, *LAYER_FUNCTIONS, *OPTIMIZERS, *MODEL_FUNCTIONS) if name in functions
    )
    if not protocol:
        raise AdapterError(
            f"the adapter {path} defines no protocol function: it must define some of "
            f"{', '.join(PROTOCOL_FUNCTIONS)} (docs/adapters.md), or of the layer protocol's "
            "(affine_forward, …, adam: docs/layers.md)"
        )
    for what, names, known in (
        ("ACTIVATIONS", activations, ACTIVATIONS),
        ("LOSSES", losses, LOSSES),
        ("NETWORK_ACTIVATIONS", network_activations, ACTIVATIONS),
        ("NETWORK_LOSSES", network_losses, LOSSES),
    ):
        unknown = [name for name in names or () if name not in known]
        if unknown:
            raise AdapterError(
                f"the adapter {path}: {what} lists {', '.join(map(repr, unknown))}, which the "
                f"protocol does not have; it has {', '.join(known)}"
            )
    return Adapter(path, protocol, activations, losses, l2, network_activations, network_losses)


def load(
    spec: str | Path | Adapter, *, base: Path | None = None, unsafe: bool = False, memory_mb: int = 2048, timeout: float = 30.0
) -> Adapter:
    """Resolve `spec` (see `resolve`) and import the adapter on its own in a sandbox (its import
    given `timeout` seconds; `unsafe` as for grading) to read what it maps, its LAYER_CASES
    included; AdapterError with the file and why when it cannot be used."""
    from gradverify.sandbox.errors import AdapterLoadError
    from gradverify.sandbox.host import inspect_adapter

    if isinstance(spec, Adapter):
        return spec
    path = resolve(spec, base)
    try:
        declared = inspect_adapter(
            path, unsafe=unsafe, memory_mb=memory_mb, import_timeout=timeout, call_timeout=min(10.0, timeout)
        )
    except AdapterLoadError as exc:
        raise AdapterError(f"cannot load the adapter {path}: {exc}") from None
    adapter = from_declaration(
        path,
        declared.functions,
        declared.activations,
        declared.losses,
        declared.l2,
        declared.network_activations,
        declared.network_losses,
    )
    adapter = with_cases_and_names(adapter, declared.layer_cases, declared.course_names)
    return with_snippets(adapter, declared.own_functions, declared.snippets)


# --------------------------------------------------------------------------- in this process


def load_local(spec: str | Path, student: types.ModuleType, *, base: Path | None = None) -> tuple[types.ModuleType, Adapter]:
    """The adapter imported here, in this process, over an already loaded student module: (a module
    of its protocol functions, what it maps). For tests, and for staff trying an adapter on their
    own model solution; grading a student never uses it (grade_file runs the adapter in the
    sandbox). As in the sandbox, a student's name the adapter needs and the student lacks is the
    function's ImplFailure "not defined"; unlike there, a failure does not say where in the
    student's file it was raised. AdapterError if the adapter does not import."""
    from gradverify.sandbox import worker

    path = resolve(spec, base)
    name = f"gradverify_adapter_{abs(hash((str(path), id(student))))}"
    previous = sys.modules.get(worker.STUDENT_MODULE)
    try:
        module = worker.import_adapter(str(path), student, name)
        declared = worker.declarations(module)
    except Exception as exc:  # noqa: BLE001 - staff's file may raise anything; the chain keeps the traceback
        raise AdapterError(f"cannot load the adapter {path}: {type(exc).__name__}: {exc}") from exc
    finally:
        if previous is None:
            sys.modules.pop(worker.STUDENT_MODULE, None)
        else:
            sys.modules[worker.STUDENT_MODULE] = previous
    needs = getattr(module, "NEEDS", None) or {}  # a function is mapped when the library has its class
    adapter = from_declaration(
        path,
        frozenset(f for f in worker.top_level_callables(module) if f not in needs or _has(student, needs[f])),
        _tuple(declared["activations"]),
        _tuple(declared["losses"]),
        declared["l2"],
        _tuple(declared["network_activations"]),
        _tuple(declared["network_losses"]),
    )
    adapter = with_cases_and_names(adapter, getattr(module, "LAYER_CASES", None), getattr(module, "COURSE_NAMES", None))
    adapter = with_snippets(adapter, declared["own_functions"], declared["snippets"])
    served = types.ModuleType(name, f"The adapter {path} over {getattr(student, '__name__', 'a student module')}.")
    for function in adapter.functions:
        setattr(served, function, _local(function, getattr(module, function), worker.NotDefined))
    return served, adapter


def with_cases_and_names(adapter: Adapter, cases: Any, names: Any) -> Adapter:
    """`adapter` with its declared LAYER_CASES and COURSE_NAMES, checked (AdapterError naming
    what is malformed)."""
    try:
        renames = course_names(names)
    except ValueError as exc:
        raise AdapterError(f"the adapter {adapter.path}: {exc}") from None
    return replace(adapter, layer_cases=layer_cases(adapter.path, cases), course_names=renames)


def with_snippets(adapter: Adapter, own: Any, snippets: Any) -> Adapter:
    """`adapter` with its OWN_FUNCTIONS and SNIPPETS; AdapterError for a snippet of an op the
    layer table does not have."""
    from gradverify.references.layer_spec import LAYER_OPS

    unknown = sorted(set(snippets or {}) - set(LAYER_OPS))
    if unknown:
        raise AdapterError(
            f"the adapter {adapter.path}: SNIPPETS names {', '.join(map(repr, unknown))}, not ops of the layer table"
        )
    return replace(adapter, own_functions=frozenset(own or ()), snippets=tuple(sorted((snippets or {}).items())))


def layer_cases(path: Path, declared: Any) -> tuple[tuple[str, str, Any], ...]:
    """An adapter's LAYER_CASES as limits (gradverify.properties.scope.Limit): a dict of op name
    to {size or hyperparameter name: a tuple of the values it maps, or the name of another
    size or hyperparameter of the op it must equal}; AdapterError naming what is malformed."""
    if declared is None:
        return ()
    if not isinstance(declared, dict):
        raise AdapterError(f"the adapter {path}: LAYER_CASES must be a dict of op names, got {type(declared).__name__}")
    limits = []
    for op_name, names in declared.items():
        op = LAYER_OPS.get(op_name)
        if op is None or not isinstance(names, dict):
            raise AdapterError(f"the adapter {path}: LAYER_CASES[{op_name!r}] must be a dict of an op of {', '.join(LAYER_OPS)}")
        known = {**{size.name: None for size in op.sizes}, **{h.name: h.choices for h in op.hypers}}
        for name, allowed in names.items():
            tie = isinstance(allowed, str) and allowed in known and allowed != name
            choices = known.get(name)
            values = isinstance(allowed, tuple) and choices is not None and all(v in choices for v in allowed)
            if name not in known or not (tie or values):
                raise AdapterError(
                    f"the adapter {path}: LAYER_CASES[{op_name!r}][{name!r}] must be a size or hyperparameter of "
                    f"{op_name} ({', '.join(known)}) with the name of another, or a tuple of its choices"
                )
            limits.append((op_name, name, allowed))
    return tuple(limits)


def _has(student: types.ModuleType, name: Any) -> bool:
    """Whether the library defines `name` (an adapter's NEEDS: the course class a function calls)."""
    return isinstance(name, str) and hasattr(student, name)


def _tuple(names: list[str] | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(names)


def _local(function: str, fn: Callable[..., Any], not_defined: type[NotDefined]) -> Callable[..., Any]:
    """`fn` with the student's missing names reported as the sandbox reports them."""
    from gradverify.sandbox.errors import not_defined_reason

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except not_defined as exc:
            raise ImplFailure(function, Cause.NOT_DEFINED, not_defined_reason(exc.name)) from None

    call.__name__ = call.__qualname__ = function
    return call
