"""The regression corpus: every counterexample ever found, replayed first on every run.

An entry is one JSON file, `<property>-<hash>.json`:

    {"property": "network_gradients_match_references",
     "case": {"type": "Example", "arch": {...}, "seed": 0, "labels": "soft"},
     "found": "2026-11-23", "impl": "impl_sigmoid_bug.py",
     "failure": "jax · layers[0].W: MISMATCH, ..."}

The case is structure and a seed (gradverify.properties.cases), so an entry is a few
lines and replays exactly. Each implementation has a folder of its own in the
corpus (gradverify.project: `<project>/.gradverify/regressions/<impl>-<hash>/`),
so an entry is replayed only against the implementation it was found on.

An entry larger than the suite ever draws is skipped with a line in the run's corpus problems
(the report's Configuration, and stderr from `gradverify verify`), never replayed: a file over
MAX_ENTRY_BYTES is not read, and a case whose arrays would hold more than MAX_CASE_VALUES values
(case_size) is not made, so a planted entry cannot take a run's memory or time.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradverify.properties.cases import ActivationCase, DenseCase, Example, LossCase, TrainCase, case_from_json, case_to_json
from gradverify.properties.optim_cases import OptimCase
from gradverify.files import write_atomic

#: The largest entry file read (bytes): an entry is a few lines of JSON, well under 1 KiB.
MAX_ENTRY_BYTES = 64 * 1024
#: The most values a replayed case may compute with (case_size): 8 MB of float64. The largest case
#: the strategies draw is about 30,000 (a 5-layer network 32 wide on a batch of 64); a corpus entry
#: beyond this one was not found by the suite.
MAX_CASE_VALUES = 1_000_000


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
    return Entry(
        str(data["property"]), case_from_json(data["case"]), path, str(data.get("found", "")), str(data.get("failure", ""))
    )


def _whole(*numbers: Any) -> list[int]:
    """`numbers` as they are when each is a whole number; ValueError otherwise (a size read from a
    file may be anything: a string times a number is a string that long)."""
    wrong = [n for n in numbers if not isinstance(n, int) or isinstance(n, bool)]
    if wrong:
        raise ValueError(f"sizes must be whole numbers, got {wrong[0]!r}")
    return list(numbers)


def _network_values(example: Example) -> int:
    """Values of a network case: X, Y, every layer's W and b, and its pre-activations and activations."""
    batch, *sizes = _whole(example.arch.batch, *example.arch.sizes)
    parameters = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    return batch * sizes[0] + batch * sizes[-1] + parameters + 2 * batch * sum(sizes[1:])


def case_size(case: Any) -> int:
    """How many values replaying `case` computes with: the arrays it makes (a training case's, once
    per epoch; an update rule's, for every step); bad-input cases are small by construction (their sizes come from gradverify.properties.bad_inputs).
    ValueError when a size is not a whole number."""
    if isinstance(case, Example):
        return _network_values(case)
    if isinstance(case, TrainCase):
        return _network_values(case.example) * max(1, _whole(case.epochs)[0])
    if isinstance(case, (ActivationCase, LossCase)):
        rows, units = _whole(case.rows, case.units)
        return 2 * rows * units
    if isinstance(case, DenseCase):
        rows, fan_in, fan_out = _whole(case.rows, case.fan_in, case.fan_out)
        return rows * fan_in + fan_out * (fan_in + 1) + rows * fan_out
    if isinstance(case, OptimCase):  # w and a gradient per step, and each step's next_w and state
        size = 1
        for n in _whole(*case.shape, case.steps)[:-1]:
            size *= n
        return size * (case.steps + 1) * (2 + len(case.rule.state))
    return 0


def _too_large(path: Path) -> str | None:
    """Why the entry file at `path` is too large to read, or None."""
    size = path.stat().st_size
    return f"{size:,} bytes, more than an entry's {MAX_ENTRY_BYTES:,}" if size > MAX_ENTRY_BYTES else None


def load(directory: Path) -> tuple[list[Entry], list[str]]:
    """Every entry in `directory` (sorted by file name), and a line for each file that could not be
    read or is too large to replay (MAX_ENTRY_BYTES, MAX_CASE_VALUES)."""
    entries: list[Entry] = []
    problems: list[str] = []
    if not directory.is_dir():
        return entries, problems
    for path in sorted(directory.glob("*.json")):
        try:
            too_large = _too_large(path)
            if too_large:
                problems.append(f"{path}: skipped, {too_large}")
                continue
            entry = parse(json.loads(path.read_text(encoding="utf-8")), path)
            size = case_size(entry.case)
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: skipped, {exc}")
            continue
        if size > MAX_CASE_VALUES:
            problems.append(
                f"{path}: skipped, its case computes with {size:,} values, more than the limit of "
                f"{MAX_CASE_VALUES:,} (the suite draws none that large)"
            )
            continue
        entries.append(entry)
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
