"""Load an implementation of the backprop protocol: a module name or a single .py file."""

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


def load_impl(spec: str = DEFAULT_IMPL, *, project: Path | None = None) -> ModuleType:
    """Import `spec`: a path ending in .py (loaded as a fresh module) or a module name, found
    as pytest would: with the `project` folder (if given) first on the import path."""
    if spec.endswith(".py") or "/" in spec or Path(spec).is_file():
        path = Path(spec)
        if not path.is_file():
            raise ImplLoadError(f"no such file: {spec}")
        name = f"gradverify_impl_{abs(hash(str(path.resolve())))}"
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
    if project is not None and str(project) not in sys.path:
        sys.path.insert(0, str(project))
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
