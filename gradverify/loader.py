"""Load an implementation of the backprop protocol, or a library of its own API: a module name, a
single .py file, or a folder of packages (a course's layout, checked through its adapter)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from gradverify.references.layer_spec import LAYER_FUNCTIONS, LAYER_OPS
from gradverify.references.optim_spec import OPTIMIZERS
from gradverify.references.spec import PROTOCOL_FUNCTIONS

DEFAULT_IMPL = "gradverify.impl"


class ImplLoadError(Exception):
    """The implementation could not be imported; the message says why."""


class NotAnImplementation(ImplLoadError):
    """What was named imports, but defines none of the functions of either protocol."""


#: The protocols a module may implement, either or both, with their documents.
MLP, LAYERS = "MLP protocol", "layer protocol"
PROTOCOL_DOCS = {MLP: "docs/protocol.md", LAYERS: "docs/layers.md"}


def is_file_spec(spec: str) -> bool:
    """Whether `spec` names a file (a path) rather than a module."""
    return spec.endswith(".py") or "/" in spec or Path(spec).is_file()


def _module_name(path: Path) -> str:
    """The name a file implementation is loaded under (one per resolved path and process)."""
    return f"gradverify_impl_{abs(hash(str(path.resolve())))}"


def load_impl(spec: str = DEFAULT_IMPL, *, project: Path | None = None) -> ModuleType:
    """Import `spec` as load_module does; ImplLoadError when it cannot be imported, or when it
    defines none of the functions of either protocol (it is not an implementation)."""
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
    """NotAnImplementation unless `module` defines at least one function of either protocol."""
    if not protocols(module):
        raise NotAnImplementation(
            f"{spec} defines none of the functions of the MLP protocol ({', '.join(PROTOCOL_FUNCTIONS)}; "
            "docs/protocol.md) or of the layer protocol (<op>_forward and <op>_backward, e.g. affine_forward, "
            "a loss such as softmax_loss, or an update rule such as adam; docs/layers.md): it is not an implementation of either"
        )


def protocols(module: ModuleType) -> list[str]:
    """The protocols `module` implements (defines at least one function of), MLP first."""
    mlp = len(missing_functions(module)) < len(PROTOCOL_FUNCTIONS)
    layers = bool(defined_ops(module) or defined_optimizers(module))
    return [name for name, has in ((MLP, mlp), (LAYERS, layers)) if has]


def defined_ops(module: ModuleType) -> tuple[str, ...]:
    """The layer ops (docs/layers.md) of which `module` defines at least one function, in table order."""
    return tuple(name for name, op in LAYER_OPS.items() if any(callable(getattr(module, fn, None)) for fn in op.functions))


def defined_optimizers(module: ModuleType) -> tuple[str, ...]:
    """The update rules (CS231n's optim.py: sgd, adam, …) `module` defines, in table order."""
    return tuple(name for name in OPTIMIZERS if callable(getattr(module, name, None)))


def _import(spec: str, project: Path | None) -> ModuleType:
    if is_file_spec(spec) and Path(spec).is_dir():
        return _import_folder(Path(spec))
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


def _packages(folder: Path) -> list[str]:
    """The packages at the top of `folder` (its subfolders with an __init__.py), sorted."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file() and p.name.isidentifier())


def _import_folder(folder: Path) -> ModuleType:
    """A library laid out as packages in a folder (CMU 11-785's `mytorch/nn/linear.py`, …), as one
    module: the folder first on the import path (the library's modules import each other by their
    own names, `from mytorch.nn.activation import Tanh`), each of its packages and every module in
    them imported afresh (a copy of the same packages loaded before is forgotten first), and the
    module's names those modules' own top-level names (the first module, in path order, to
    define a name gives it), so an adapter finds the classes as `student.Linear` wherever the
    library keeps them. The folder's loose .py files (a course's autograder scripts) are not
    imported. A folder that holds no package but modules that import each other is a flat
    library (_import_flat). ImplLoadError when it holds neither, or a module of it cannot be imported."""
    import pkgutil

    packages = _packages(folder)
    if not packages and _flat_library(folder):
        return _import_flat(folder)
    if not packages:
        raise ImplLoadError(f"{folder} holds no package (a folder with an __init__.py) to load")
    for name in list(sys.modules):
        if name.split(".")[0] in packages:
            del sys.modules[name]
    root = str(folder.resolve())
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    module = ModuleType(_module_name(folder), f"The library in {folder}: the names of its packages' modules.")
    module.__file__ = str(folder / "__init__.py")  # where it is, for people; nothing is read from it
    for package in packages:
        current = package
        try:
            top = importlib.import_module(package)
            for current in [package, *(info.name for info in pkgutil.walk_packages(top.__path__, f"{package}."))]:
                for key, value in vars(importlib.import_module(current)).items():
                    if not key.startswith("_") and key not in vars(module):
                        setattr(module, key, value)
        except BaseException as exc:  # noqa: BLE001 - an import may raise anything, SystemExit included
            raise ImplLoadError(f"{folder}: importing {current} raised {_last_frame(exc)}") from None
    sys.modules[module.__name__] = module
    return module


def _flat_library(folder: Path) -> bool:
    """Whether `folder`'s modules import one another by their bare names (`from resampling import
    *` in Conv1d.py beside resampling.py), read from their text, none of them run: a flat library,
    not a folder of scripts."""
    import ast

    names = {p.stem for p in folder.glob("*.py") if p.stem.isidentifier()}
    for path in sorted(folder.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            imported = [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            imported += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if any(name.split(".")[0] in names - {path.stem} for name in imported):
                return True
    return False


#: The flat libraries' folders _import_flat has put on the import path (the last one's stays).
_FLAT_FOLDERS: set[Path] = set()


def _import_flat(folder: Path) -> ModuleType:
    """A library of modules that import each other flat, in a folder with no __init__.py (11-785
    HW2P1's mytorch/: `from resampling import *` in Conv1d.py), as the course's runner loads it: the
    folder appended to the import path (sys.path.append('mytorch')), each of its modules imported
    afresh by its own name, but one a module already imported under that name shadows, as the
    runner's import would be shadowed (the standard library's `types`); the module's names those
    modules' top-level names (the first, in name order, to define a name gives it). A flat library
    loaded before is forgotten first: its modules, and its folder on the import path."""
    root = folder.resolve()
    names = sorted(p.stem for p in root.glob("*.py") if p.stem.isidentifier())
    if not names:
        raise ImplLoadError(f"{folder} holds no package (a folder with an __init__.py) and no module to load")
    for earlier in {*_FLAT_FOLDERS, root}:  # the flat libraries loaded before, this one's copy included, forgotten
        for name, loaded in list(sys.modules.items()):
            if Path(getattr(loaded, "__file__", None) or "/").parent == earlier:
                del sys.modules[name]
        while str(earlier) in sys.path:
            sys.path.remove(str(earlier))
    _FLAT_FOLDERS.add(root)
    sys.path.append(str(root))
    module = ModuleType(_module_name(folder), f"The library in {folder}: the names of its modules.")
    module.__file__ = str(folder / "__init__.py")  # where it is, for people; nothing is read from it
    for name in names:
        if name in sys.modules and Path(getattr(sys.modules[name], "__file__", None) or "/").parent != root:
            continue  # shadowed, as the runner's import of it would be
        try:
            loaded = importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - an import may raise anything, SystemExit included
            raise ImplLoadError(f"{folder}: importing {name} raised {_last_frame(exc)}") from None
        for key, value in vars(loaded).items():
            if not key.startswith("_") and key not in vars(module):
                setattr(module, key, value)
    sys.modules[module.__name__] = module
    return module


def _last_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at line {frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def missing_functions(module: ModuleType) -> list[str]:
    """The MLP protocol's functions `module` does not define (or defines as non-callables)."""
    return [name for name in PROTOCOL_FUNCTIONS if not callable(getattr(module, name, None))]


def missing_layer_functions(module: ModuleType) -> list[str]:
    """The layer functions `module` does not define of the ops it defines others of (an op's
    alternative backwards, such as batchnorm_backward_alt, are optional)."""
    ops = [LAYER_OPS[name] for name in defined_ops(module)]
    needed = [fn for op in ops for fn in (op.forward, *op.backwards[:1])]
    return [fn for fn in LAYER_FUNCTIONS if fn in needed and not callable(getattr(module, fn, None))]
