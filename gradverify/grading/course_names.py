"""A failure said in the course's words: the protocol's functions and arrays renamed as the
adapter's COURSE_NAMES declares them, in the student's orientation.

    renamed = in_course_words(result, adapter.course_names)

COURSE_NAMES (docs/adapters.md) maps a protocol function ("affine_backward", or
"activation_backward:sigmoid" for one activation or loss) to the course's method and its arrays:

    {"affine_backward": ("Linear.backward", {"dx": ("dLdA", ""), "dw": ("dLdW", "T"), "db": ("dLdb", "col")})}

A transform says how the student's array holds the protocol's: "" as it is, "T" transposed (the
protocol's dw[i, j] is dLdW[j, i]: each index is reversed), "col" a column (db[j] is dLdb[j, 0]),
"row" a row (dgamma[j] is dLdBW[0, j]).
Only the labels and the indices of the worst elements change; the numbers are the same ones.

The smallest case's description and the hints are said in the course's words too (`said`), as
far as they can be without changing what they claim: each protocol function named is the
course's method; "<function>'s <array>", the subject of a hint's claim about a whole array (a
scale, a missing term), is the course's array; an argument given with its shape ("w (1, 2)",
in a description or a hint's "checked on …" list) is the course's, its shape in the course's
orientation, when the forward's entry names it (`"x": ("A", "")`). A hint that names an array
by a shape the transform would change stays in the protocol's words (no hint is made wrong). An
MLP protocol hint about an activation or loss names the course's method for its backward
(`"loss_backward:mse": ("MSELoss.backward", {})`).

A failure's snippet through an adapter (`through_adapter`) is kept when its calls are the
student's own (the adapter's OWN_FUNCTIONS), made with the course's calls when the adapter
writes them for the op (its SNIPPETS), and else left out.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Callable

from gradverify.properties.reproduce import snippet
from gradverify.references.compare import Comparison
from gradverify.results import PropertyResult

#: (protocol function, course name, ((protocol quantity, course quantity, transform), ...)), as
#: gradverify.grading.adapters.Adapter keeps an adapter's COURSE_NAMES.
CourseNames = tuple[tuple[str, str, tuple[tuple[str, str, str], ...]], ...]
TRANSFORMS = ("", "T", "col", "row")


def _index(index: tuple, transform: str) -> tuple:
    if transform == "T":
        return tuple(reversed(index))
    if transform == "col":
        return (*index, 0)
    if transform == "row":
        return (0, *index)
    return index


def renamed(comparison: Comparison, names: CourseNames) -> Comparison:
    """The comparison with its function and quantity in the course's words (as it is when the
    adapter names neither)."""
    where = comparison.where
    keys = (f"{where.function}:{where.component}", where.function) if where.component else (where.function,)
    found = next((entry for key in keys for entry in names if entry[0] == key), None)
    if found is None:
        return comparison
    _, course, quantities = found
    spec = next(((name, transform) for q, name, transform in quantities if q == where.quantity), None)
    quantity, transform = spec if spec is not None else (where.quantity, "")
    projected = next((name for q, name, _ in quantities if where.quantity == f"⟨{q}, u⟩"), None)
    if projected is not None:  # finite differences' projection on a direction u: a number, in any orientation
        quantity = f"⟨{projected}, u⟩"
    where = replace(where, function=course, component=None, quantity=quantity)
    mismatches = [(_index(tuple(idx), transform), got, expected) for idx, got, expected in comparison.mismatches]
    return replace(comparison, where=where, mismatches=mismatches)


def in_course_words(result: PropertyResult, names: CourseNames) -> PropertyResult:
    """The result with its failure's comparisons and case description renamed (the result itself
    when there is nothing to rename)."""
    if not names or result.failure is None:
        return result
    failure = result.failure
    comparisons = [renamed(c, names) for c in failure.comparisons]
    description = said(failure.case_description, names, getattr(failure.case, "op", None))
    return replace(result, failure=replace(failure, comparisons=comparisons, case_description=description))


#: A shape as a description or a hint writes it: "(2, 3)", "(1,)", "()".
SHAPE = r"\((?:\d+(?:, \d+)*,?)?\)"


#: How each transform holds an array of the protocol's shape s: transposed, a column, a row.
SHAPES = {"": lambda s: s, "T": lambda s: tuple(reversed(s)), "col": lambda s: (*s, 1), "row": lambda s: (1, *s)}


def _shape(text: str, transform: str) -> str:
    """A shape's text in the course's orientation: "(1, 2)" transposed is "(2, 1)", "(3,)" as a column "(3, 1)"."""
    dims = SHAPES[transform](tuple(int(d) for d in re.findall(r"\d+", text)))
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(map(str, dims))})"


def _word(name: str) -> str:
    """`name` as a whole word of a sentence (not part of another name, nor after a dot)."""
    return rf"(?<![\w.]){re.escape(name)}(?![\w])"


def said(text: str, names: CourseNames, op: Any = None, component: str | None = None) -> str:
    """`text`, a case's description or a hint about a case of layer op `op` (a LayerOp, or None)
    or of the MLP protocol's activation or loss `component` ("mse"), in the course's words (the
    module's docstring); as it is when any of it cannot be."""
    for function, course, _ in names:  # "loss_backward:mse": the protocol's name of the component's backward
        name, _, of = function.partition(":")
        if of and of == component and name.endswith("_backward"):
            text = re.sub(_word(name), _literal(course), text)
    layer_entries = [entry for entry in names if ":" not in entry[0]]
    out = text
    for function, course, quantities in layer_entries:
        for quantity, name, transform in quantities:
            subject = _word(function) + rf"'s {re.escape(quantity)}(?![\w])"
            if transform and re.search(subject + r"[^.]*shape", out):
                return text  # a shape of the array said in the protocol's orientation: no renaming
            out = re.sub(subject, _literal(f"{course}'s {name}"), out)
    forward = next((entry for entry in layer_entries if op is not None and entry[0] == op.forward), None)
    if forward is not None:
        cls = forward[1].partition(".")[0]
        if out.startswith(f"{op.name}: "):
            out = f"{cls}: " + out[len(op.name) + 2 :]
        for quantity, name, transform in forward[2]:
            out = re.sub(rf"(?<=argument ){re.escape(quantity)}(?![\w])", _literal(name), out)
            out = re.sub(_word(quantity) + rf" ({SHAPE}(?:, {SHAPE})*)", _shapes_as(name, transform), out)
    for function, course, _ in layer_entries:
        out = re.sub(_word(function), _literal(course), out)
    return out


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement of re.sub that is `text` as it is (no backslash or group in it read)."""
    return lambda _: text


def _shapes_as(name: str, transform: str) -> Callable[[re.Match[str]], str]:
    """The replacement of "<array> (s₁), (s₂)": `name` and each shape in the course's orientation."""

    def replacement(match: re.Match[str]) -> str:
        return f"{name} " + re.sub(SHAPE, lambda shape: _shape(shape.group(0), transform), match.group(1))

    return replacement


def through_adapter(reproduce: str, case: Any, own_functions: frozenset[str], snippets: tuple[tuple[str, str], ...]) -> str:
    """A failure's snippet (`reproduce`, of layer case `case`) as a grade through an adapter shows
    it: as it is when the calls it makes are the student's own (the adapter's OWN_FUNCTIONS),
    else with the course's calls for its op (its SNIPPETS) after the same arrays, else none ("")."""
    op = getattr(case, "op", None)
    if op is not None and {op.forward, *op.backwards[:1]} <= own_functions:
        return reproduce
    calls = dict(snippets).get(getattr(op, "name", ""))
    return (snippet(case, (), calls=calls) or "") if calls else ""


def course_names(declared: Any) -> CourseNames:
    """An adapter's COURSE_NAMES (a dict as the docstring above shows) as CourseNames; ValueError
    saying what is malformed."""
    if declared is None:
        return ()
    if not isinstance(declared, dict):
        raise ValueError(f"COURSE_NAMES must be a dict of protocol functions, got {type(declared).__name__}")
    out = []
    for function, value in declared.items():
        if not (
            isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], dict)
        ):
            raise ValueError(f"COURSE_NAMES[{function!r}] must be (the course's name, {{quantity: (its name, transform)}})")
        quantities = []
        for quantity, spec in value[1].items():
            ok = isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str) and spec[1] in TRANSFORMS
            if not (isinstance(quantity, str) and ok):
                raise ValueError(
                    f"COURSE_NAMES[{function!r}][{quantity!r}] must be (a name, one of {', '.join(map(repr, TRANSFORMS))})"
                )
            quantities.append((quantity, spec[0], spec[1]))
        out.append((str(function), value[0], tuple(quantities)))
    return tuple(out)
