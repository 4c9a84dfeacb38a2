"""The library a run verifies: loaded, through its course adapter when it has one, with its scope.

    library = load("mylib/layers.py", adapter="course_api.py", components=["dense", "relu", "mse"])
    library.module    # what the checks call: the protocol's functions
    library.scope     # what is checked (properties/scope.py): declared, and what the adapter maps

A library that computes in float32 says so (`dtype="float32"`): its layer ops are then checked
in float32 (docs/layers.md, "float32"); the scope carries the dtype.

A library of the protocol's own functions is checked as it is. A library with an API of its own
(layer classes, (in, out) weights) is checked through the adapter that grading uses for it
(docs/adapters.md): the adapter is imported here, in this process, over the library's module
(gradverify.grading.adapters.load_local, the same mapping the sandbox's worker serves), since
verify runs the maintainer's own code unsandboxed. What the adapter does not map is not in
scope, as it is "not mapped" in grading; declared components narrow the scope further.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from gradverify.properties.scope import Scope, check_components
from gradverify.references.compare import check_dtype


@dataclass(frozen=True)
class Library:
    """A library made ready for its checks."""

    #: what the checks call: the library itself, or its adapter's functions over it
    module: ModuleType
    #: how the library was named: a module name or a .py path (the corpus and replays use it)
    spec: str
    scope: Scope
    #: the components it declared (None: none declared)
    components: list[str] | None = None
    #: its adapter: a shipped adapter's name, or the absolute path of the adapter's file
    adapter: str | None = None

    @property
    def dtype(self) -> str:
        """What its layer ops are checked in: "float64", or "float32" when it declared so."""
        return self.scope.dtype

    @property
    def replay_options(self) -> str:
        """The options a replay command repeats so that it checks the library the same way."""
        options = f" --adapter {shlex.quote(self.adapter)}" if self.adapter else ""
        if self.components is not None:
            options += f" --components {shlex.quote(','.join(self.components))}"
        if self.dtype != "float64":
            options += f" --dtype {self.dtype}"
        return options


def components_of(values: list[str] | None, what: str = "components") -> list[str] | None:
    """Declared components, given as names or comma-separated lists of them (the CLI's
    `--components dense,relu --components mse`), as one list; None when none are given.
    ValueError, starting with `what` (where they were given), for a name that is not a
    component (with the closest one)."""
    if values is None:
        return None
    names = [name.strip() for value in values for name in str(value).split(",") if name.strip()]
    return list(check_components(names, what))


def load(
    impl: ModuleType | str,
    *,
    name: str | None = None,
    adapter: str | None = None,
    components: list[str] | None = None,
    project: Path | None = None,
    base: Path | None = None,
    dtype: str = "float64",
) -> Library:
    """The library `impl` (a module, a module name or a .py path; `name`: what a module is known
    as, default its __name__), through `adapter` (a shipped adapter's name or a .py path relative
    to `base`, default the working folder), in the scope of the declared `components` and what
    the adapter maps, its layer ops checked in `dtype` ("float64" or "float32"; ValueError for
    another). ImplLoadError (gradverify.loader) when the library cannot be loaded or,
    without an adapter, defines none of the functions of either protocol; AdapterError (a ValueError)
    when the adapter cannot be used; ValueError for an unknown component."""
    from gradverify.loader import load_module, require_protocol

    declared = components_of(components)
    scope = replace(Scope() if declared is None else Scope.declared(declared), dtype=check_dtype(dtype))
    if isinstance(impl, ModuleType):
        module, spec = impl, name or impl.__name__
    else:
        spec = str(impl)
        module = load_module(spec, project=project)
    if not adapter:
        require_protocol(module, spec)
        return Library(module, spec, scope, declared)
    from gradverify.grading import adapters

    served, mapped = adapters.load_local(adapter, module, base=base)
    return Library(served, spec, scope.within(Scope.of_adapter(mapped)), declared, mapped.name)
