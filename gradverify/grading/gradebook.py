"""The class's grades as a CSV file a learning management system imports (grades.csv).

    text = grades_csv(graded, not_graded)    # graded: each student's results.json document

One row per student, named as the reports name them: `student`, `score`, `max_score`, one
column per rubric item (its points), and `status` ("graded", or "not graded: why"). Safe to
open in a spreadsheet: a cell of text that starts with =, +, -, @, a tab or a carriage return
(what a spreadsheet would run as a formula) starts with an apostrophe instead.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

#: What a spreadsheet reads as the start of a formula in a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """`value` as a cell no spreadsheet runs: numbers as they are, text that would start a
    formula behind an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def grades_csv(graded: Sequence[dict], not_graded: Iterable[tuple[str, str]] = ()) -> str:
    """The grades of `graded` (results.json documents, each with extra_data's "student" and
    "max_score") and a row per student not graded ((name, why)), items in the first document's order."""
    items: list[str] = []
    for document in graded:
        items += [t["extra_data"]["item"] for t in document["tests"] if t["extra_data"]["item"] not in items]
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF between rows, so a field holding \r or \n is quoted
    writer.writerow(["student", "score", "max_score", *items, "status"])
    for document in graded:
        points = {t["extra_data"]["item"]: t["score"] for t in document["tests"]}
        row = [document["extra_data"]["student"], document["score"], document["extra_data"]["max_score"]]
        writer.writerow([safe_cell(v) for v in [*row, *(points.get(item, "") for item in items), "graded"]])
    for name, why in not_graded:
        writer.writerow([safe_cell(name), "", "", *("" for _ in items), safe_cell(f"not graded: {why}")])
    return out.getvalue()
