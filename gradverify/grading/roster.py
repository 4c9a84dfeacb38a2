"""A class's record in its grades folder (`--out`): class.json, which says who the students are,
what each handed in, and what was not graded; from it and the students' results.json files the
class summary and grades.csv are made again when one student is graded again
(`gradverify grade bob.py --out grades/`).

    {"summary": "/…/grades/summary.md",
     "students": {"sec2/bob": {"path": "/…/class/sec2/bob.py", "package": false}},
     "errors": {"sec1/eve": "the grader process took longer than …"},
     "not_graded": [{"student": "sec2/notes.txt", "reason": "NOT_PYTHON", "detail": ""}]}

It is staff's file, written by the grader alone (atomically), beside their summary.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from gradverify.files import write_atomic

ROSTER = "class.json"


@dataclass
class Roster:
    """Who the class is: `students` (name → {"path": what was graded, absolute; "package": a
    student's folder}), the grader processes that failed (`errors`, name → why), what the class
    folder held and was not graded (`not_graded`: {"student", "reason", "detail"}), and where its
    summary is."""

    summary: str
    students: dict[str, dict] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    not_graded: list[dict] = field(default_factory=list)

    def name_of(self, path: str | os.PathLike) -> str | None:
        """The student whose submission is at `path` (compared as absolute paths), if any."""
        wanted = os.path.abspath(path)
        return next((name for name, entry in self.students.items() if entry.get("path") == wanted), None)

    def enrol(self, name: str, path: str | os.PathLike, *, package: bool = False) -> None:
        """`name` is the student whose submission is at `path`; a grader error of theirs is past."""
        self.students[name] = {"path": os.path.abspath(path), "package": package}
        self.errors.pop(name, None)


def load(out: Path) -> Roster | None:
    """The roster in the grades folder `out`, or None when there is none (or it is not one: a
    class graded before the roster existed, a file that is not its JSON)."""
    try:
        data = json.loads((out / ROSTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and isinstance(data.get("summary"), str) and isinstance(data.get("students"), dict)):
        return None
    errors, not_graded = data.get("errors", {}), data.get("not_graded", [])
    if not isinstance(errors, dict) or not isinstance(not_graded, list):
        return None
    return Roster(data["summary"], data["students"], errors, not_graded)


def save(out: Path, roster: Roster) -> None:
    """The roster into `out`/class.json, whole or not at all."""
    document = {"summary": roster.summary, "students": roster.students, "errors": roster.errors, "not_graded": roster.not_graded}
    write_atomic(out / ROSTER, json.dumps(document, indent=2) + "\n")  # ASCII: a name's bytes that are not UTF-8 kept as escapes


def documents(roster: Roster, results_of) -> tuple[dict[str, dict], dict[str, str]]:
    """({name: the student's results.json document}, {name: why it cannot be read}) for every
    student of the roster; `results_of(name)` is where a student's results.json is."""
    graded, missing = {}, dict(roster.errors)
    for name in roster.students:
        if name in missing:
            continue
        try:
            graded[name] = json.loads(results_of(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            missing[name] = "its results.json is missing or unreadable in the grades folder"
    return graded, missing
