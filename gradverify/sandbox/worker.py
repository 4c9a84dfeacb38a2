"""The child side of the sandbox: run a submission's functions for the grader, one call at a time.

The grader (host.py) copies this file and codec.py into the submission's folder and starts
it as a script, ``python -I -B worker.py CONFIG`` (CONFIG is JSON: the socket's fd number,
the submission's path, the course adapter's path or null, the output limit, extra import
paths, a process cap), in whatever
isolation the grader chose (engine.py): the isolation and the limits are set from outside,
before this runs, except the process cap of the bubblewrap mode, which must be set inside
the sandbox's own user namespace (engine.py says why) and is set here, first.
As a script it imports only the standard library and NumPy, never gradverify.

1. Capped ``sys.stdout``/``sys.stderr`` straight onto fds 1/2, so prints interleave as
   they come and a flood stops after ``output_limit`` bytes.
2. Import the submission under the module name ``submission`` and send the names of its
   top-level callables -- or why it could not be imported.
   With a course adapter (docs/adapters.md), the submission is imported first, then
   registered as the module ``student`` (a `StudentView`: a name it lacks raises `NotDefined`),
   then the adapter is imported; the hello lists the adapter's callables and declarations
   instead, and the calls go to the adapter's functions, which call the student's.
3. Serve calls: a request names a function and carries its arguments; the reply carries
   the encoded return value or a structured description of what went wrong. The grader
   builds every message shown to students from these fields; nothing here decides.
   Through an adapter, a failure says which of the student's functions raised it (and where)
   and a student's name the adapter needed but the student's module lacks is reported as
   missing, by name.

Messages and values travel in the format of codec.py beside this file.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import resource
import socket
import sys
import traceback
import types
import warnings
from typing import TYPE_CHECKING, Any, cast

if __name__ == "__main__":  # the folder of NumPy (and the rubric's packages) the grader gives comes first on the path
    sys.path[:0] = json.loads(sys.argv[1])["paths"]

import numpy as np  # noqa: E402,F401 - loaded before the submission, which may use it freely

# The wire format lives beside this file. Run as a script, the worker finds it through its own
# folder, which leaves sys.path again at once: the submission must not see the sandbox's files.
# Imported as gradverify.sandbox.worker (the in-process adapter loader of grading/adapters), it
# takes the codec from its package.
if TYPE_CHECKING or __package__:  # the type checker reads the package's codec
    from .codec import (  # noqa: E402
        MESSAGE_LIMIT,
        Handle,
        REPR_LIMIT,
        RESULT_LIMIT,
        ValueTooDeep,
        ValueTooLarge,
        decode_value,
        dump_message,
        encode_value,
        receive_frame,
        safe_text,
        send_frame,
        type_name,
    )
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        from codec import (  # noqa: E402
            MESSAGE_LIMIT,
            Handle,
            REPR_LIMIT,
            RESULT_LIMIT,
            ValueTooDeep,
            ValueTooLarge,
            decode_value,
            dump_message,
            encode_value,
            receive_frame,
            safe_text,
            send_frame,
            type_name,
        )
    finally:
        del sys.path[0]

# --------------------------------------------------------------------------- #
# Output: capped writers straight onto the file descriptors.
# --------------------------------------------------------------------------- #


class _Budget:
    """Bytes the worker may still write to its output, shared by stdout and stderr."""

    def __init__(self, limit: int):
        self.left = limit

    def take(self, n: int) -> int:
        granted = max(0, min(n, self.left))
        self.left -= granted
        return granted


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _CappedBinary(io.RawIOBase):
    """sys.stdout.buffer: bytes to `fd` while the budget lasts, then nowhere."""

    def __init__(self, fd: int, budget: _Budget):
        super().__init__()
        self._fd, self._budget = fd, budget

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data) -> int:
        data = bytes(data)
        _write_all(self._fd, data[: self._budget.take(len(data))])
        return len(data)


class _CappedText(io.TextIOBase):
    """sys.stdout / sys.stderr: unbuffered UTF-8 text to `fd` while the budget lasts."""

    def __init__(self, fd: int, budget: _Budget):
        super().__init__()
        self._raw = _CappedBinary(fd, budget)

    @property
    def buffer(self) -> _CappedBinary:
        return self._raw

    encoding = "utf-8"
    errors = "backslashreplace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._raw.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._raw.write(text.encode("utf-8", "backslashreplace"))
        return len(text)


def capture_output(limit: int) -> None:
    """Replace sys.stdout and sys.stderr by writers that stop after `limit` bytes between them."""
    budget = _Budget(limit)
    sys.stdout = _CappedText(1, budget)
    sys.stderr = _CappedText(2, budget)


# --------------------------------------------------------------------------- #
# Importing and calling the submission.
# --------------------------------------------------------------------------- #


def _message_of(exc: BaseException) -> str:
    return safe_text(exc, MESSAGE_LIMIT * 4, str)[:MESSAGE_LIMIT]


class Origin:
    """Where the student's code is, to tell its frames from the grader's and the adapter's: the
    submission's file, the folder of its modules (a package), or a notebook's cells (code
    compiled under the names "cell N")."""

    def __init__(self, file: str | None = None, root: str | None = None, cells: frozenset[str] = frozenset()):
        self.file, self.root, self.cells = file, root, cells

    def place(self, filename: Any) -> str | None:
        """None when `filename` is not the student's; "" for the submission's own file; else the
        file's path in the student's folder ("utils.py") or the cell ("cell 3")."""
        if not isinstance(filename, str):
            return None
        if filename in self.cells:
            return filename
        if self.root is not None:
            return filename[len(self.root) + 1 :] if filename.startswith(self.root + "/") else None
        return "" if filename == self.file else None


def _placed(fields: dict, place: str) -> dict:
    """`fields` with the student's file or cell among them when there is one to name."""
    return {**fields, "file": place} if place else fields


def _line_in(exc: BaseException, origin: Origin) -> dict:
    """{"line": …} (and "file") of the last traceback frame in the student's code; {} if none is."""
    found: dict = {}
    for frame in traceback.extract_tb(exc.__traceback__):
        place = origin.place(frame.filename)
        if place is not None and type(frame.lineno) is int:
            found = _placed({"line": frame.lineno}, place)
    return found


def describe_failure(exc: BaseException, origin: Origin | None = None) -> dict:
    """What went wrong, as fields the grader turns into words. The kind is read from the real
    type (an exception can lie about its __class__, which isinstance believes), then cast.
    `origin`: where the student's code is, whose line (and file or cell) is named."""
    kind = type(exc)
    if issubclass(kind, SystemExit):
        return {"kind": "exit", "code": safe_text(cast(SystemExit, exc).code, REPR_LIMIT)}
    if issubclass(kind, MemoryError):
        return {"kind": "memory"}
    if issubclass(kind, NotDefined) and type(cast(NotDefined, exc).name) is str:
        return {"kind": "missing", "name": cast(NotDefined, exc).name}
    place = origin.place(cast(SyntaxError, exc).filename) if origin is not None and issubclass(kind, SyntaxError) else None
    if place is not None:
        syntax = cast(SyntaxError, exc)
        line = syntax.lineno if type(syntax.lineno) is int else None
        return _placed({"kind": "syntax", "line": line, "message": safe_text(syntax.msg, MESSAGE_LIMIT, str)}, place)
    failure: dict[str, Any] = {"kind": "raised", "type": type_name(exc), "message": _message_of(exc)}
    if issubclass(kind, ModuleNotFoundError) and type(cast(ModuleNotFoundError, exc).name) is str:
        failure["module"] = safe_text(cast(ModuleNotFoundError, exc).name, REPR_LIMIT, str)  # what is not there
    if origin is not None:
        failure["line"] = None
        failure.update(_line_in(exc, origin))
    return failure


#: A qualified name the grader accepts as a place in the student's file (errors.py checks it again).
_QUALNAME = re.compile(r"[A-Za-z_<][A-Za-z0-9_.<>]{0,199}")


def _raised_in(exc: BaseException, origin: Origin) -> dict | None:
    """The innermost of the traceback's frames that runs the student's code, as {"function": its
    qualified name, "line": its line} (and "file": the student's file or cell, in a package or a
    notebook); None if no frame does (or its name is not plain ASCII, which the grader would not
    accept)."""
    found, tb = None, exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        place = origin.place(code.co_filename)
        if place is not None:
            found = (str(getattr(code, "co_qualname", code.co_name)), tb.tb_lineno, place)
        tb = tb.tb_next
    if found is None or not _QUALNAME.fullmatch(found[0]) or type(found[1]) is not int:
        return None
    return _placed({"function": found[0], "line": found[1]}, found[2])


# --------------------------------------------------------------------------- #
# A course adapter over the student's module.
# --------------------------------------------------------------------------- #

#: The module name under which an adapter finds the student's module (``import student``).
STUDENT_MODULE = "student"


class NotDefined(AttributeError):
    """The adapter asked the student's module for a name it does not define (`name`). An
    AttributeError, so ``hasattr(student, name)`` and ``getattr(student, name, None)`` work."""

    name: str  # always set (AttributeError's own may be None)

    def __init__(self, name: str):
        super().__init__(f"{name} is not defined")
        self.name = name


class StudentView(types.ModuleType):
    """The student's module as an adapter sees it: every attribute is the student's, and a
    name the student's module lacks raises NotDefined (looked up when used, so one missing
    function costs only the items that need it)."""

    def __init__(self, module: Any):
        super().__init__(STUDENT_MODULE, getattr(module, "__doc__", None))
        object.__setattr__(self, "_student", module)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        try:
            return getattr(object.__getattribute__(self, "_student"), name)
        except AttributeError:
            raise NotDefined(name) from None


def _names(adapter: Any, what: str) -> list[str] | None:
    """The adapter's declaration `what` (a list or tuple of names) as a list; None if it has none;
    TypeError if it is something else."""
    value = getattr(adapter, what, None)
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and len(value) <= 100 and all(isinstance(item, str) for item in value):
        return [item[:100] for item in value]
    raise TypeError(f"{what} must be a tuple of names, got {safe_text(value, REPR_LIMIT)}")


def declarations(adapter: Any) -> dict:
    """What the adapter says it maps beyond its functions (docs/adapters.md): the activations
    and losses of its activation and loss functions (None: all of them), and whether its
    network_gradients maps the L2 term (L2 = True or False, default True), the activations and
    losses its networks map (NETWORK_ACTIVATIONS, NETWORK_LOSSES; None: all), its LAYER_CASES,
    COURSE_NAMES, OWN_FUNCTIONS (the protocol functions that are the student's own, by name) and
    SNIPPETS (each op's calls in the course's API); TypeError if one of them is not of its form."""
    l2 = getattr(adapter, "L2", True)
    if type(l2) is not bool:
        raise TypeError(f"L2 must be True or False, got {safe_text(l2, REPR_LIMIT)}")
    return {
        "activations": _names(adapter, "ACTIVATIONS"),
        "losses": _names(adapter, "LOSSES"),
        "l2": l2,
        "network_activations": _names(adapter, "NETWORK_ACTIVATIONS"),
        "network_losses": _names(adapter, "NETWORK_LOSSES"),
        "layer_cases": _layer_cases(adapter),
        "course_names": _course_names(adapter),
        "own_functions": _names(adapter, "OWN_FUNCTIONS"),
        "snippets": _snippets(adapter),
    }


def _snippets(adapter: Any) -> dict | None:
    """The adapter's SNIPPETS ({op: the course's calls, as Python text}), as the hello carries it;
    None if it has none; TypeError if it is not a dict of names to text."""
    value = getattr(adapter, "SNIPPETS", None)
    if value is None:
        return None
    if not (
        isinstance(value, dict) and len(value) <= 100 and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise TypeError(f"SNIPPETS must be a dict of op names to Python text, got {safe_text(value, REPR_LIMIT)}")
    return {op[:100]: text[:4000] for op, text in value.items()}


def _course_names(adapter: Any) -> dict | None:
    """The adapter's COURSE_NAMES ({function: (course name, {quantity: (name, transform)})}) with
    its tuples as lists, as the hello carries it; None if it has none; TypeError if it is not of
    that form (the grader checks the transforms)."""
    value = getattr(adapter, "COURSE_NAMES", None)
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 200:
        raise TypeError(f"COURSE_NAMES must be a dict of protocol functions, got {safe_text(value, REPR_LIMIT)}")
    out: dict = {}
    for function, entry in value.items():
        pair = isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], dict)
        if not isinstance(function, str) or not pair or len(entry[1]) > 20:
            raise TypeError(f"COURSE_NAMES[{safe_text(function, REPR_LIMIT)}] must be (a name, a dict of quantities)")
        names = {}
        for quantity, spec in entry[1].items():
            if not (
                isinstance(quantity, str) and isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, str) for s in spec)
            ):
                raise TypeError(
                    f"COURSE_NAMES[{function[:100]!r}][{safe_text(quantity, REPR_LIMIT)}] must be (a name, a transform)"
                )
            names[quantity[:100]] = [spec[0][:100], spec[1][:10]]
        out[function[:100]] = [entry[0][:100], names]
    return out


def _layer_cases(adapter: Any) -> dict | None:
    """The adapter's LAYER_CASES (a dict of op names to {name: a tuple of values, or another
    name}) with each tuple as a list, as the hello carries it; None if it has none; TypeError if it
    is not of that form (the grader checks the names and values against the layer table)."""
    value = getattr(adapter, "LAYER_CASES", None)
    if value is None:
        return None
    scalar = (int, float, str, bool)
    if not isinstance(value, dict) or len(value) > 100:
        raise TypeError(f"LAYER_CASES must be a dict of op names, got {safe_text(value, REPR_LIMIT)}")
    out: dict = {}
    for op, names in value.items():
        if not isinstance(op, str) or not isinstance(names, dict) or len(names) > 20:
            raise TypeError(f"LAYER_CASES[{safe_text(op, REPR_LIMIT)}] must be a dict of names")
        out[op[:100]] = {}
        for name, allowed in names.items():
            ok = isinstance(allowed, str) or (
                isinstance(allowed, tuple) and len(allowed) <= 20 and all(isinstance(v, scalar) for v in allowed)
            )
            if not isinstance(name, str) or not ok:
                raise TypeError(f"LAYER_CASES[{op[:100]!r}][{safe_text(name, REPR_LIMIT)}] must be a name or a tuple of values")
            out[op[:100]][name[:100]] = allowed[:100] if isinstance(allowed, str) else list(allowed)
    return out


def import_adapter(path: str, student: Any, name: str = "adapter") -> Any:
    """Import the adapter at `path` as module `name`, with the student's module registered as
    ``student`` (a StudentView); whatever the import raises propagates."""
    sys.modules[STUDENT_MODULE] = StudentView(student)
    return _exec_file(name, path)


def _exec_file(name: str, path: str) -> Any:
    """The .py file at `path` imported as module `name` (in sys.modules before it runs, as an
    import puts it); whatever it raises propagates."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be imported as a module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_adapter(path: str, student: Any) -> tuple[Any, dict]:
    """(the adapter imported over `student`, hello message listing its callables and
    declarations) or (None, message saying why it could not be imported)."""
    try:
        module = import_adapter(path, student)
        declared = declarations(module)
    except BaseException as exc:  # noqa: BLE001 - an import may raise anything, SystemExit included
        return None, {"id": 0, "adapter_error": describe_failure(exc, Origin(file=path))}
    return module, {"id": 0, "loaded": {"functions": top_level_callables(module), "adapter": declared}}


def top_level_callables(module: Any) -> list[str]:
    """Names bound at the module's top level to callables, dunders excluded."""
    names = []
    for name, value in list(vars(module).items()):
        if isinstance(name, str) and not (name.startswith("__") and name.endswith("__")) and callable(value):
            names.append(name)
    return sorted(names)


def load(config: dict) -> tuple[Any, dict, Origin]:
    """The submission the grader's `config` names, imported: (module or None, hello message,
    where the student's code is). A package (`root`, `module`: the student's folder, first on
    the import path, and the module graded in it), a notebook (`notebook`: its cells), or the
    file `submission` (None: an empty module, for an adapter loaded on its own)."""
    if config.get("notebook") is not None:
        return load_notebook(config["notebook"])
    if config.get("root") is not None:
        origin = Origin(root=config["root"])
        return (*load_package(config["root"], config["module"], config["entry"], origin), origin)
    return (*load_submission(config["submission"]), Origin(file=config["submission"]))


def load_submission(path: str | None) -> tuple[Any, dict]:
    """(module, hello message) or (None, message saying why the import failed). No path: an
    empty module (an adapter loaded on its own, to read what it declares)."""
    sys.argv = [path or "submission"]
    if path is None:
        module = types.ModuleType("submission")
        sys.modules["submission"] = module
        return module, {"id": 0, "loaded": {"functions": []}}
    try:
        module = _exec_file("submission", path)
        return module, {"id": 0, "loaded": {"functions": top_level_callables(module)}}
    except BaseException as exc:  # noqa: BLE001 - an import may raise anything, SystemExit included
        return None, {"id": 0, "load_error": describe_failure(exc, Origin(file=path))}


def load_package(root: str, name: str | None, entry: str, origin: Origin) -> tuple[Any, dict]:
    """The module `name` (the file `entry`) of the student's folder `root` imported, the folder
    first on the import path so that its modules import each other; a file whose path is no
    module name (`backprop (1).py`, `name` None), or whose name is a module already imported
    (the standard library's `json`), loaded from its path as `submission`:
    (module, hello) or (None, why it failed). Each folder of it two levels down that holds .py
    files is appended to the import path too (code_folders), as a course's runner appends them
    (11-785's `sys.path.append('mytorch')`, `('mytorch/nn')`), so that their modules' flat
    imports (`from resampling import *` in mytorch/Conv1d.py) find each other."""
    sys.argv = [entry]
    sys.path.insert(0, root)
    sys.path.extend(code_folders(root))
    try:
        if name is None or name.split(".")[0] in sys.modules:  # e.g. a student's json.py: its own file, not the stdlib's
            module = _exec_file("submission", entry)
        else:
            module = importlib.import_module(name)
            sys.modules["submission"] = module
        return module, {"id": 0, "loaded": {"functions": top_level_callables(module)}}
    except BaseException as exc:  # noqa: BLE001 - an import may raise anything, SystemExit included
        return None, {"id": 0, "load_error": describe_failure(exc, origin)}


def code_folders(root: str, depth: int = 2) -> list[str]:
    """The folders of `root`, `depth` levels down, that hold .py files and have a module's name:
    the top ones in name order, then theirs (mytorch/, models/, then mytorch/nn/), the folders a
    course's runner puts on the import path (11-785's sys.path.append('mytorch') and
    ('mytorch/nn')), after everything else, so that no module of theirs shadows the standard
    library's or NumPy's."""
    out: list[str] = []
    level = [root]
    for _ in range(depth):
        below = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
            except OSError:
                continue
            below += [e.path for e in entries if e.is_dir(follow_symlinks=False) and e.name.isidentifier()]
        out += [folder for folder in below if _holds_python(folder)]
        level = below
    return out


def _holds_python(folder: str) -> bool:
    try:
        return any(name.endswith(".py") for name in os.listdir(folder))
    except OSError:
        return False


#: The most failing cells a notebook's hello lists.
CELLS_LISTED = 50


def load_notebook(path: str) -> tuple[Any, dict, Origin]:
    """A notebook's code cells (the grader's JSON list of {"cell", "source"} at `path`) run in
    order in one module, as Jupyter's "Run All" does but going on after a cell that fails, as
    "cell N" in tracebacks: (module, hello listing its callables and the cells that failed, with
    why), or (None, why) when the list cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            cells = [(f"cell {int(cell['cell'])}", str(cell["source"])) for cell in json.load(handle)]
    except BaseException as exc:  # noqa: BLE001 - the grader wrote it; a failure here is reported, never raised
        return None, {"id": 0, "load_error": describe_failure(exc)}, Origin()
    origin = Origin(cells=frozenset(name for name, _ in cells))
    module = types.ModuleType("submission")
    sys.modules["submission"] = module
    sys.argv = ["notebook"]
    failed: list[dict] = []
    for name, source in cells:
        try:
            exec(compile(source, name, "exec", dont_inherit=True), module.__dict__)  # noqa: S102 - the sandboxed student's code
        except BaseException as exc:  # noqa: BLE001 - a cell may raise anything; the next one runs
            if len(failed) < CELLS_LISTED:
                failed.append({"cell": name, "failure": describe_failure(exc, origin)})
    return module, {"id": 0, "loaded": {"functions": top_level_callables(module), "cells_failed": failed}}, origin


class Kept:
    """The values this worker keeps for the grader, by number (a layer forward's cache: any object
    of the submission's, passed back to its backward as it was). The oldest go first past LIMIT."""

    LIMIT = 256

    def __init__(self) -> None:
        self.values: dict[int, Any] = {}
        self.count = 0

    def keep(self, value: Any) -> Handle:
        self.values[self.count] = value
        self.values.pop(self.count - self.LIMIT, None)
        self.count += 1
        return Handle(self.count - 1)

    def resolve(self, args: list) -> list:
        """`args` with each Handle among them (at the top level) the value it stands for;
        LookupError for one this worker does not hold (dropped, or from an earlier worker)."""
        out = []
        for arg in args:
            if type(arg) is Handle and arg.number not in self.values:
                raise LookupError(f"the value #{arg.number} kept for the grader is gone (kept: the last {self.LIMIT})")
            out.append(self.values[arg.number] if type(arg) is Handle else arg)
        return out


KEPT = Kept()


def _address(array: np.ndarray) -> int:
    return int(array.__array_interface__["data"][0])


def _shares(a: np.ndarray, b: np.ndarray) -> bool:
    """np.shares_memory, exact as the layer checks ask it (arrays of odd strides cost the
    submission's own time limit)."""
    return bool(np.shares_memory(a, b))


def aliases(value: Any, args: list) -> list[dict]:
    """Which arrays of a returned value (itself, or an item of a returned tuple or list) share
    memory with an array argument or with an earlier returned array, and where in it they start
    (bytes from its start) with what strides: what the grader needs to rebuild the same sharing
    between the copies it gets (gradverify.sandbox.state)."""
    items = list(value) if type(value) in (tuple, list) else [value]
    returned = [(i, v) for i, v in enumerate(items[:64]) if type(v) is np.ndarray]
    given = [(i, a) for i, a in enumerate(args[:64]) if type(a) is np.ndarray]
    facts = []
    for n, (i, array) in enumerate(returned):
        others = [("arg", j, a) for j, a in given] + [("returned_of", j, r) for j, r in returned[:n]]
        for side, j, other in others:
            if _shares(array, other):
                where = {"returned": i, side: j, "offset": _address(array) - _address(other)}
                facts.append({**where, "strides": [int(k) for k in array.strides]})
    return facts


def _call(module: Any, request: dict, student: Origin | None = None) -> tuple[bool, Any, list]:
    """Run the requested function; (True, value, the arguments as the call left them, None for a
    kept value passed) or (False, failure fields, []). `student`: where the student's code is
    (also through an adapter), whose innermost frame in a traceback is reported with what it
    raised. A request's `keep` (an index): that item of the returned tuple stays here, kept
    (KEPT), and a Handle goes instead."""
    fn = getattr(module, request["function"], None)
    if not callable(fn):
        return False, {"kind": "missing"}, []
    sent = decode_value(request["args"])
    try:
        args = KEPT.resolve(sent)
    except LookupError as exc:
        return False, describe_failure(exc), []
    kwargs = decode_value(request["kwargs"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as in the suite's calls.py: a warning is not a verdict
            value = fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - whatever the submission raises is reported
        failure = describe_failure(exc)
        if student is not None and failure["kind"] == "raised":
            failure["in"] = _raised_in(exc, student)
        return False, failure, []
    keep = request.get("keep")
    if type(keep) is int and type(value) in (tuple, list) and 0 <= keep < len(value):
        value = (*value[:keep], KEPT.keep(value[keep]), *value[keep + 1 :])
    return True, value, [None if type(given) is Handle else arg for given, arg in zip(sent, args)]


def reply_to(module: Any, request: dict, student: Origin | None = None) -> bytes:
    """The encoded reply to one call request (`student`: as for `_call`). A request with `after`
    gets the arguments as the call left them too (`after`: the dicts and arrays it changed in
    place) and the memory its returned arrays share (`aliases`)."""
    ident = request.get("id")
    try:
        ok, value, args = _call(module, request, student)
        if not ok:
            return dump_message({"id": ident, "error": value})
        limit = min(RESULT_LIMIT, int(request.get("limit", RESULT_LIMIT)))
        message = {"id": ident, "ok": encode_value(value, limit)}
        if request.get("after") is True:
            message.update(after=encode_value(args, limit), aliases=aliases(value, args))
        body = dump_message(message)
        if len(body) > limit:
            raise ValueTooLarge()
        return body
    except ValueTooLarge:
        return dump_message({"id": ident, "error": {"kind": "too_large"}})
    except ValueTooDeep:
        return dump_message({"id": ident, "error": {"kind": "too_deep"}})
    except BaseException as exc:  # noqa: BLE001 - e.g. MemoryError while encoding, a hostile object
        return dump_message({"id": ident, "error": describe_failure(exc)})


def serve(sock: socket.socket, module: Any, student: Origin | None = None) -> None:
    """Answer call requests until the grader closes the connection (`student`: as for `_call`)."""
    while True:
        frame = receive_frame(sock)
        if frame is None:
            return
        send_frame(sock, reply_to(module, json.loads(frame), student))


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    if config.get("processes") is not None:  # before anything of the submission's runs; it cannot be raised again
        resource.setrlimit(resource.RLIMIT_NPROC, (config["processes"], config["processes"]))
    sock = socket.socket(fileno=config["fd"])
    capture_output(config["output_limit"] + 1)
    module, hello, origin = load(config)
    adapter = config.get("adapter")
    if module is not None and adapter is not None:  # the student's code first, then the adapter over it
        cells_failed = hello["loaded"].get("cells_failed")
        module, hello = load_adapter(adapter, module)
        if cells_failed is not None and "loaded" in hello:
            hello["loaded"]["cells_failed"] = cells_failed
    try:
        send_frame(sock, dump_message(hello))
        if module is not None:
            serve(sock, module, origin)
    except OSError:
        return 70  # the connection is broken (e.g. the submission closed it)
    return 0


if __name__ == "__main__":
    os._exit(main(sys.argv))
