"""Load an implementation of the backprop protocol, or a library of its own API: a module name or a single .py file."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from gradverify.references.spec import PROTOCOL_FUNCTIONS

DEFAULT_IMPL = "gradverify.impl"


class ImplLoadError(Exception):
    """The implementation could not be imported; the message says why."""


class NotAnImplementation(ImplLoadError):
    """What was named imports, but defines none of the protocol's functions."""


def is_file_spec(spec: str) -> bool:
    """Whether `spec` names a file (a path) rather than a module."""
    return spec.endswith(".py") or "/" in spec or Path(spec).is_file()


def _module_name(path: Path) -> str:
    """The name a file implementation is loaded under (one per resolved path and process)."""
    return f"gradverify_impl_{abs(hash(str(path.resolve())))}"


def load_impl(spec: str = DEFAULT_IMPL, *, project: Path | None = None) -> ModuleType:
    """Import `spec` as load_module does; ImplLoadError when it cannot be imported, or when it
    defines none of the protocol's functions (it is not an implementation)."""
    module = load_module(spec, project=project)
    require_protocol(module, spec)
    return module


def load_module(spec: str, *, project: Path | None = None) -> ModuleType:
    """Import `spec`, whatever it defines: a path ending in .py (loaded as a fresh module) or a
    module name, found as pytest and `python -m` would: with the `project` folder (if given) and
    the working folder first on the import path. A library with its own API (that a course
    adapter maps onto the protocol) is loaded this way. ImplLoadError when it cannot be imported."""
    return _import(spec, project)


def loaded(spec: str) -> ModuleType | None:
    """The module load_impl(spec) loaded in this process, if any."""
    if is_file_spec(spec):
        return sys.modules.get(_module_name(Path(spec)))
    return sys.modules.get(spec)


def require_protocol(module: ModuleType, spec: str) -> None:
    """NotAnImplementation unless `module` defines at least one of the protocol's functions."""
    if len(missing_functions(module)) == len(PROTOCOL_FUNCTIONS):
        raise NotAnImplementation(
            f"{spec} defines none of the protocol's functions ({', '.join(PROTOCOL_FUNCTIONS)}): "
            "it is not an implementation of the backprop protocol (docs/protocol.md)"
        )


def _import(spec: str, project: Path | None) -> ModuleType:
    if is_file_spec(spec):
        path = Path(spec)
        if not path.is_file():
            raise ImplLoadError(f"no such file: {spec}")
        name = _module_name(path)
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImplLoadError(f"cannot load {spec} as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except SyntaxError as exc:
            del sys.modules[name]
            raise ImplLoadError(f"{spec}: syntax error at line {exc.lineno}: {exc.msg}") from None
        except BaseException as exc:  # noqa: BLE001 - an import may raise anything, SystemExit included
            del sys.modules[name]
            raise ImplLoadError(f"{spec}: importing it raised {_last_frame(exc)}") from None
        return module
    for folder in dict.fromkeys([Path.cwd(), *([project] if project is not None else [])]):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))  # the project ends up first, then the working folder
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as exc:
        raise ImplLoadError(f"no module named {exc.name!r} (give a module name or a path to a .py file)") from None
    except BaseException as exc:  # noqa: BLE001
        raise ImplLoadError(f"importing {spec} raised {_last_frame(exc)}") from None


def _last_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at line {frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def missing_functions(module: ModuleType) -> list[str]:
    """The protocol functions `module` does not define (or defines as non-callables)."""
    return [name for name in PROTOCOL_FUNCTIONS if not callable(getattr(module, name, None))]
