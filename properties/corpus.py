"""The regression corpus: every counterexample ever found, replayed first on every run.

An entry is one JSON file, `<property>-<hash>.json`:

    {"property": "network_gradients_match_references",
     "case": {"type": "Example", "arch": {...}, "seed": 0, "labels": "soft"},
     "found": "2026-11-23", "impl": "impl_sigmoid_bug.py",
     "failure": "jax · layers[0].W: MISMATCH, ..."}

The case is structure and a seed (gradverify.cases), so an entry is a few
lines and replays exactly. Each implementation has a folder of its own in the
corpus (gradverify.project: `<project>/.gradverify/regressions/<impl>-<hash>/`),
so an entry is replayed only against the implementation it was found on.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradverify.cases import case_from_json, case_to_json
from gradverify.files import write_atomic


@dataclass(frozen=True)
class Entry:
    property: str
    case: Any
    path: Path | None = None
    found: str = ""
    failure: str = ""


def entry_key(property_name: str, case: Any) -> str:
    body = json.dumps({"property": property_name, "case": case_to_json(case)}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:12]


def parse(data: dict, path: Path | None = None) -> Entry:
    """An entry from its JSON form; ValueError saying what is wrong."""
    if not isinstance(data, dict) or "property" not in data or "case" not in data:
        raise ValueError("a regression entry needs 'property' and 'case'")
    return Entry(str(data["property"]), case_from_json(data["case"]), path, str(data.get("found", "")), str(data.get("failure", "")))


def load(directory: Path) -> tuple[list[Entry], list[str]]:
    """Every entry in `directory` (sorted by file name), and a line for each file that could not be read."""
    entries, problems = [], []
    if not directory.is_dir():
        return entries, problems
    for path in sorted(directory.glob("*.json")):
        try:
            entries.append(parse(json.loads(path.read_text(encoding="utf-8")), path))
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: skipped, {exc}")
    return entries, problems


def save(directory: Path, property_name: str, case: Any, *, impl: str, failure: str) -> Path:
    """Write the entry (once: the same property and case always land in the same file).

    Safe from several processes at once (pytest-xdist's workers): the name depends only on the
    property and the case, and the file is written atomically (a temporary file of a unique name,
    not matching *.json, then a rename), so a reader never sees half an entry and writers of the
    same entry leave one whole file."""
    path = directory / f"{property_name}-{entry_key(property_name, case)}.json"
    if path.exists():
        return path
    body = {
        "property": property_name,
        "case": case_to_json(case),
        "found": datetime.date.today().isoformat(),
        "impl": impl,
        "failure": failure,
    }
    return write_atomic(path, json.dumps(body, indent=2, ensure_ascii=False) + "\n")


def load_replay(spec: str) -> Entry:
    """`--replay`: a path to an entry file, or the entry's JSON itself."""
    path = Path(spec)
    try:
        if spec.lstrip().startswith("{"):
            return parse(json.loads(spec))
        return parse(json.loads(path.read_text(encoding="utf-8")), path)
    except OSError as exc:
        raise ValueError(f"cannot read {spec}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
