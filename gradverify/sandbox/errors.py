"""What went wrong in a submission's child, as the grader says it: the errors a Sandbox raises,
and the child's structured reports (what it raised, where, which signal ended it) turned into
the short sentences shown to students."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .processes import CallTiming
from .tree import is_tree_path

MEMORY_REASON = "ran out of memory"
MALFORMED_REASON = "sent a malformed reply"


class SubmissionLoadError(Exception):
    """The submission could not be imported; str(exc) is the reason, e.g. 'syntax error at line 3: invalid syntax'."""


class AdapterLoadError(SubmissionLoadError):
    """The course adapter could not be imported (on its own, or beside the submission); str(exc)
    is the reason, e.g. "raised NameError: name 'np' is not defined at line 12 while importing"."""


@dataclass(frozen=True)
class AdapterDeclaration:
    """What a course adapter said about itself once imported (docs/adapters.md): its top-level
    callables, the activations and losses its activation and loss functions map (None: all of
    them) and whether its network_gradients maps the L2 term."""

    functions: frozenset[str]
    activations: tuple[str, ...] | None
    losses: tuple[str, ...] | None
    l2: bool
    #: the activations and losses its network_gradients and train map (None: all of them)
    network_activations: tuple[str, ...] | None = None
    network_losses: tuple[str, ...] | None = None
    #: its LAYER_CASES: {op: {name: a tuple of the values it maps, or the name it is tied to}}
    #: (None: none), as sent; the grader checks it against the layer table
    layer_cases: dict[str, dict[str, Any]] | None = None
    #: its COURSE_NAMES as sent ({function: [course name, {quantity: [name, transform]}]}; None: none)
    course_names: dict[str, Any] | None = None
    #: its OWN_FUNCTIONS: the protocol functions it serves as the student's own (None: none)
    own_functions: tuple[str, ...] | None = None
    #: its SNIPPETS as sent ({op: the course's calls, Python text}; None: none)
    snippets: dict[str, str] | None = None


class CallFailure(StrEnum):
    """How a call into the submission failed (SubmissionCallError.kind), in a word; each
    compares equal to the word the worker reports."""

    TIMEOUT = "timeout"
    MEMORY = "memory"
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    #: a name it needs is not defined (the student's, looked up through an adapter)
    MISSING = "missing"
    EXIT = "exit"
    RAISED = "raised"
    MALFORMED = "malformed"
    CRASHED = "crashed"


class SubmissionCallError(Exception):
    """A call into the submission failed. `kind` says how, `reason` (also str(exc)) words it for
    a person; a raised exception also gives its `exception` type name and the `message` it carried."""

    def __init__(self, reason: str, kind: CallFailure, *, exception: str | None = None, message: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.exception = exception
        self.message = message
        #: of a timed call that timed out (Sandbox.timed_call): what it had used when it was stopped
        self.timing: CallTiming | None = None


def _clean(text: Any, limit: int) -> str | None:
    """A child-supplied string made printable and short; None if it isn't a string."""
    if not isinstance(text, str):
        return None
    return "".join(ch if ch.isprintable() else "?" for ch in text[:limit])


def _encodable(text: str) -> str:
    """A child-supplied message with each lone surrogate (valid JSON, `"\\udc80"`, but no text a
    report can be written in) as '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")


def describe_raised(type_name: str, message: str) -> str:
    """'ValueError: first line of the message' (cut to 300 characters), as the suite's calls.py words it."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type_name}: {text}" if text else type_name


#: A module name the grader accepts from the child, as what a submission imports.
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}(\.[A-Za-z_][A-Za-z0-9_]{0,99}){0,9}")


def _raised(report: dict, packages: tuple[str, ...] = ()) -> str | None:
    type_name, message = _clean(report.get("type"), 100), report.get("message")
    if not type_name or not isinstance(message, str):
        return None
    message = _encodable(message)
    module = report.get("module")
    if type_name == "ModuleNotFoundError" and isinstance(module, str) and _MODULE.fullmatch(module):
        return missing_module_reason(module, packages)
    return f"raised {describe_raised(type_name, message)}"


def missing_module_reason(module: str, packages: tuple[str, ...] = ()) -> str:
    """Why an import of `module` failed in the sandbox, and what is there instead."""
    there = "the standard library, NumPy and " + ", ".join(packages) if packages else "the standard library and NumPy"
    return (
        f"imports {module}, which the sandbox does not have: only {there} can be imported (a rubric's `packages` can allow more)"
    )


def not_defined_reason(name: str) -> str:
    """The reason of a call that, through a course adapter, needed the student's `name`, which the
    student's module does not define."""
    return f"needs {name}, which is not defined"


#: Where in the student's file a call through an adapter raised: a qualified name ("Dense.backward",
#: "f.<locals>.g") and a line.
_QUALNAME = re.compile(r"[A-Za-z_<][A-Za-z0-9_.<>]{0,199}")


#: A notebook's cell as the child names it in a place.
_CELL = re.compile(r"cell [0-9]{1,6}")


def _line_of(line: Any, file: Any) -> str | None:
    """A line in the student's code in words: "line 12" (of the submission's file), "line 4 of
    utils.py" (a file of its package), "line 2 of cell 3" (a notebook's cell); None when `file`
    is neither absent nor a file or cell the child may name, or `line` is not a number."""
    if type(line) is not int:
        return None
    if file is None:
        return f"line {line}"
    if isinstance(file, str) and (_CELL.fullmatch(file) or is_tree_path(file)):
        return f"line {line} of {file}"
    return None


def _location(report: dict) -> str | None:
    """A raised report's place in the student's code, in words ("in affine_backward, line 12",
    "in helper, line 4 of utils.py"); "" when it has none, None when it is malformed."""
    where = report.get("in")
    if where is None:
        return ""
    if (
        isinstance(where, dict)
        and {"function", "line"} <= set(where) <= {"function", "line", "file"}
        and isinstance(where["function"], str)
        and _QUALNAME.fullmatch(where["function"])
    ):
        line = _line_of(where["line"], where.get("file"))
        return None if line is None else f"in {where['function']}, {line}"
    return None


def _located(message: str, where: str) -> str:
    """The first line of a raised message with its place in the student's file after it."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    if not where:
        return message
    return f"{first} ({where})" if first else where


def call_failure(report: Any, packages: tuple[str, ...] = ()) -> SubmissionCallError | None:
    """The error for a failed call, or None if the report is malformed."""
    if isinstance(report, dict) and report.get("kind") == "raised":
        where = _location(report)
        if where is None or not isinstance(report.get("message"), str):
            return None
        report = {**report, "message": _located(report["message"], where)}
    reason = _call_reason(report, packages)
    if reason is None:
        return None
    kind = CallFailure(report["kind"])
    if kind is CallFailure.RAISED:
        return SubmissionCallError(
            reason, kind, exception=_clean(report.get("type"), 100), message=_encodable(report["message"][:1000])
        )
    return SubmissionCallError(reason, kind)


def _call_reason(report: Any, packages: tuple[str, ...] = ()) -> str | None:
    """The reason for a failed call, or None if the report is malformed."""
    if not isinstance(report, dict):
        return None
    kind = report.get("kind")
    if not isinstance(kind, str):
        return None
    if kind == "missing" and "name" in report:  # through an adapter: the student's name it needed
        name = report["name"]
        return not_defined_reason(name) if isinstance(name, str) and PLAIN_NAME.fullmatch(name) else None
    fixed = {
        "memory": MEMORY_REASON,
        "too_large": "returned a value too large to check",
        "too_deep": "returned a value nested too deeply to check",
        "missing": "is not defined by the implementation",
    }
    if kind in fixed:
        return fixed[kind]
    if kind == "exit":
        code = _clean(report.get("code"), 200)
        return None if code is None else f"called sys.exit({code})"
    if kind == "raised":
        return _raised(report, packages)
    return None


def load_reason(report: Any, packages: tuple[str, ...] = (), *, when: str = " while importing") -> str | None:
    """The reason for a failed import, or None if the report is malformed (`packages`: those the
    rubric allows, named when a module is missing; `when`: what was going on, said after it)."""
    if not isinstance(report, dict):
        return None
    kind, line = report.get("kind"), report.get("line")
    if line is None and "file" not in report:
        where = ""
    else:
        words = _line_of(line, report.get("file"))
        if words is None:
            return None
        where = f" at {words}"
    if kind == "syntax":
        message = _clean(report.get("message"), 300)
        return None if message is None else f"syntax error{where}: {message}"
    if kind == "memory":
        return f"ran out of memory{when}"
    if kind == "exit":
        code = _clean(report.get("code"), 200)
        return None if code is None else f"called sys.exit({code}){when}"
    if kind == "raised":
        raised = _raised(report, packages)
        return None if raised is None else f"{raised}{where}{when}"
    return None


def cell_notes(report: Any, packages: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """A notebook's failed cells (the child's list of {"cell": "cell N", "failure": …}) in words,
    one sentence each ("line 2 of cell 3: raised NameError: …; the next cells ran"), or
    None if the list is malformed."""
    if not isinstance(report, list) or len(report) > 50:
        return None
    notes = []
    for entry in report:
        if not (isinstance(entry, dict) and set(entry) == {"cell", "failure"} and isinstance(entry["cell"], str)):
            return None
        failure = entry["failure"]
        if not isinstance(failure, dict) or not _CELL.fullmatch(entry["cell"]):
            return None
        line = failure.get("line")
        where = _line_of(line, failure.get("file")) if line is not None else entry["cell"]
        reason = load_reason({k: v for k, v in failure.items() if k not in ("line", "file")}, packages, when="")
        if where is None or reason is None:
            return None
        notes.append(f"{where}: {reason}; the next cells ran")
    return tuple(notes)


def adapter_reason(report: Any) -> str | None:
    """The reason for a course adapter's failed import, or None if the report is malformed."""
    if isinstance(report, dict) and report.get("kind") == "missing":
        name = report.get("name")
        if not isinstance(name, str) or not PLAIN_NAME.fullmatch(name):
            return None
        return (
            f"looks up student.{name} while it is imported, where the student's module does not define it "
            f"(an adapter looks the student's names up inside its functions, when they are called)"
        )
    return load_reason(report)


class _Malformed(ValueError):
    """A declaration that is neither None nor a short list of plain names."""


def _names(value: Any) -> tuple[str, ...] | None:
    """A declaration's names as a tuple, None for none declared; _Malformed otherwise."""
    if value is None:
        return None
    if isinstance(value, list) and len(value) <= 100 and all(isinstance(v, str) and PLAIN_NAME.fullmatch(v) for v in value):
        return tuple(value)
    raise _Malformed(value)


def adapter_declaration(functions: frozenset[str], report: Any) -> AdapterDeclaration | None:
    """The adapter's declarations from its hello, or None if malformed."""
    required = {"activations", "losses", "l2"}
    keys = {
        "activations",
        "losses",
        "l2",
        "network_activations",
        "network_losses",
        "layer_cases",
        "course_names",
        "own_functions",
        "snippets",
    }
    if not isinstance(report, dict) or not required <= set(report) <= keys or type(report["l2"]) is not bool:
        return None
    try:
        names = {key: _names(report.get(key)) for key in keys - {"l2", "layer_cases", "course_names", "snippets"}}
        snippets = _texts(report.get("snippets"))
        cases = _cases(report.get("layer_cases"))
        renames = _renames(report.get("course_names"))
    except _Malformed:
        return None
    return AdapterDeclaration(
        functions,
        names["activations"],
        names["losses"],
        report["l2"],
        names["network_activations"],
        names["network_losses"],
        cases,
        renames,
        names["own_functions"],
        snippets,
    )


def _texts(value: Any) -> dict[str, str] | None:
    """SNIPPETS as the hello carries it; _Malformed if it is not a dict of plain names to text."""
    if value is None:
        return None
    ok = isinstance(value, dict) and len(value) <= 100
    if not ok or not all(isinstance(k, str) and PLAIN_NAME.fullmatch(k) and isinstance(v, str) for k, v in value.items()):
        raise _Malformed(value)
    return dict(value)


def _renames(value: Any) -> dict[str, Any] | None:
    """COURSE_NAMES as the hello carries it, with its pairs as tuples; _Malformed if it is not a dict
    of functions to [a name, a dict of quantities to [a name, a transform]]."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 200:
        raise _Malformed
    out: dict[str, Any] = {}
    for function, entry in value.items():
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], dict)):
            raise _Malformed
        quantities = {}
        for quantity, spec in entry[1].items():
            if not (isinstance(spec, list) and len(spec) == 2 and all(isinstance(s, str) for s in spec)):
                raise _Malformed
            quantities[quantity] = (spec[0], spec[1])
        out[function] = (entry[0], quantities)
    return out


def _cases(value: Any) -> dict[str, dict[str, Any]] | None:
    """LAYER_CASES as the hello carries it (lists for tuples), with its tuples back; _Malformed if
    it is not a dict of op names to dicts of names to a name or a list of numbers or words."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 100:
        raise _Malformed
    out: dict[str, dict[str, Any]] = {}
    for op, names in value.items():
        if not isinstance(op, str) or not isinstance(names, dict) or len(names) > 20:
            raise _Malformed
        out[op] = {}
        for name, allowed in names.items():
            if isinstance(allowed, list) and all(type(v) in (int, float, str, bool) for v in allowed):
                allowed = tuple(allowed)
            elif not isinstance(allowed, str):
                raise _Malformed
            if not isinstance(name, str):
                raise _Malformed
            out[op][name] = allowed
    return out


#: A function name the grader accepts from the child: a plain identifier, no dunder.
PLAIN_NAME = re.compile(r"(?!__)[A-Za-z_][A-Za-z0-9_]{0,99}")


def string_set(value: Any) -> frozenset[str] | None:
    if not isinstance(value, list) or not all(isinstance(item, str) and len(item) <= 200 for item in value):
        return None
    return frozenset(value)


SIGNALS = frozenset(int(s) for s in signal.Signals)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
