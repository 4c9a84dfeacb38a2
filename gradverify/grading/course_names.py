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
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

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
    where = replace(where, function=course, component=None, quantity=quantity)
    mismatches = [(_index(tuple(idx), transform), got, expected) for idx, got, expected in comparison.mismatches]
    return replace(comparison, where=where, mismatches=mismatches)


def in_course_words(result: PropertyResult, names: CourseNames) -> PropertyResult:
    """The result with its failure's comparisons renamed (the result itself when there is nothing to rename)."""
    if not names or result.failure is None:
        return result
    comparisons = [renamed(c, names) for c in result.failure.comparisons]
    return replace(result, failure=replace(result.failure, comparisons=comparisons))


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
