"""The layer catalogue over seeds: every layer and update-rule variant searched by its op's check
with 10 seeds, as tests/test_layer_variants.py and tests/test_optim.py search it with one.

A buggy variant (tests/layer_variants, and tests/layer_variants/optim.py's VARIANTS with an
expected failure) must be caught with every seed, located (a failing comparison at its function,
quantity and cause), and shrunk (every size of the final case ≤ 2); a correct one must pass
with every seed. Each search (search()) is the op's generic check (layer_property(op, max_size=3,
weight=1.0), or rule_property for an update rule), the ci profile with the seed, 15 examples.

    data = layer_catalogue(seeds=10)        # {"buggy": [...], "correct": [...], "summary": {...}}
    render_layers(data)                     # the Markdown section of reports/mutation.md
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import tempfile
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradverify.profiles import PROFILES
from gradverify.properties.checks import Property
from gradverify.properties.optim_cases import OptimCase
from gradverify.references.optim_spec import Optimizer
from gradverify.results import PropertyResult

SEEDS = 10
#: examples of one search: the ci profile's 150 × weight 0.1 of verify, raised to what
#: tests/test_layer_variants.py draws (weight 1.0 with a budget of 15)
EXAMPLES = 15
#: the largest size of a shrunk case
SHRUNK = 2


def rule_property(opt: Optimizer) -> Property:
    """The check of one update rule as verify runs it (properties/optim_properties.py), so that
    gradverify.search runs it with a seed, counts its examples and shrinks its failures."""
    from gradverify.properties.optim_properties import optim_property

    return optim_property(opt)


def search(prop: Property, module: types.ModuleType, *, seed: int, dtype: str = "float64") -> PropertyResult:
    """One search of `prop` on `module`: the ci profile with `seed`, EXAMPLES examples, no corpus,
    its cases drawn in `dtype`."""
    from gradverify.properties.scope import Scope
    from gradverify.search import run_property

    scope = Scope(dtype=dtype)
    result, _ = run_property(prop, module, profile=PROFILES["ci"], seed=seed, entries=[], budget=EXAMPLES, scope=scope)
    return result


def _sizes(case: Any) -> list[int]:
    """Every size of a case: a layer case's dims, an update rule's w shape."""
    if isinstance(case, OptimCase):
        return list(case.shape)
    return [n for _, v in case.dims for n in (v if isinstance(v, tuple) else (v,))]


@dataclass(frozen=True)
class Entry:
    """One variant of the catalogue, whichever family: how to load it and where its bug must show."""

    family: str  # "layer" or "update rule"
    name: str
    op: str
    description: str
    #: the (function, quantity, cause) triples of which a failing comparison must be one; empty: correct
    located: frozenset[tuple[Any, Any, Any]]
    module: types.ModuleType

    @property
    def buggy(self) -> bool:
        return bool(self.located)


def _load_layer(variant, folder: Path) -> types.ModuleType:
    """The variant's file imported as a module of its own, as tests/test_layer_variants.py does."""
    path = variant.write(folder)
    spec = importlib.util.spec_from_file_location(f"layer_variant_{variant.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entries(folder: Path, names: list[str] | None = None) -> list[Entry]:
    """The layer catalogue's variants (written to `folder`) and the update rules', or those in `names`."""
    from tests.layer_variants import BUGGY, CORRECT, optim

    found = [
        Entry("layer", v.name, v.op, v.description, frozenset(v.located() if v.function else ()), _load_layer(v, folder))
        for v in (*BUGGY.values(), *CORRECT.values())
        if not names or v.name in names
    ]
    for name, (rule, _, first) in optim.VARIANTS.items():
        if names and name not in names:
            continue
        located = frozenset() if first is None else frozenset({(rule, first[2], first[0])})
        description = "; ".join(f"`{' '.join(old.split())}` → `{' '.join(new.split())}`" for old, new in optim.VARIANTS[name][1])
        found.append(Entry("update rule", name, rule, description, located, optim.load(name)))
    return found


def _property(entry: Entry) -> Property:
    from gradverify.properties.layer_properties import layer_property
    from gradverify.references.layer_spec import LAYER_OPS
    from gradverify.references.optim_spec import OPTIMIZERS

    if entry.family == "update rule":
        return rule_property(OPTIMIZERS[entry.op])
    return layer_property(LAYER_OPS[entry.op], max_size=3, weight=1.0)


def _seed_row(entry: Entry, seed: int) -> dict:
    """One search of one variant: caught, located, after how many examples, shrunk how far."""
    import numpy as np

    start = time.perf_counter()
    with np.errstate(all="ignore"):  # the NaN a buggy Adam gives is the finding, not a warning
        result = search(_property(entry), entry.module, seed=seed)
    failure = result.failure
    failing = [c for c in failure.comparisons if not c.ok] if failure is not None else []
    found = sorted({(c.where.function, c.where.quantity, c.cause.name if c.cause else None) for c in failing}, key=str)
    located = any((c.where.function, c.where.quantity, c.cause) in entry.located for c in failing)
    sizes = _sizes(failure.case) if failure is not None and failure.case is not None else []
    return {
        "seed": seed,
        "caught": failure is not None,
        "error": result.error,
        "located": located,
        "found_at": [list(f) for f in found],
        "examples": result.examples,
        "first_failure_at": result.first_failure_at,
        "case": failure.case_description if failure is not None else None,
        "largest_size": max(sizes) if sizes else None,
        "shrunk": bool(sizes) and max(sizes) <= SHRUNK,
        "seconds": time.perf_counter() - start,
    }


def _row(entry: Entry, seeds: int) -> dict:
    per_seed = [_seed_row(entry, seed) for seed in range(seeds)]
    caught = [s for s in per_seed if s["caught"]]
    firsts = [s["first_failure_at"] for s in caught if s["first_failure_at"] is not None]
    row = {
        "family": entry.family,
        "name": entry.name,
        "op": entry.op,
        "description": entry.description,
        "expected_at": sorted([[f, q, c.name] for f, q, c in entry.located], key=str),
        "seeds": per_seed,
        "caught_in_seeds": len(caught),
        "located_in_seeds": sum(s["located"] for s in caught),
        "shrunk_in_seeds": sum(s["shrunk"] for s in caught),
        "passed_in_seeds": sum(not s["caught"] and s["error"] is None and s["examples"] > 0 for s in per_seed),
        "median_examples_to_catch": statistics.median(firsts) if firsts else None,
        "seconds": sum(s["seconds"] for s in per_seed),
    }
    if entry.buggy:
        verdict = f"caught {row['caught_in_seeds']}/{seeds}, located {row['located_in_seeds']}, shrunk {row['shrunk_in_seeds']}"
    else:
        verdict = f"passed {row['passed_in_seeds']}/{seeds}"
    print(f"  {entry.family} {'buggy' if entry.buggy else 'correct'} {entry.name}: {verdict}", file=sys.stderr, flush=True)
    return row


def layer_catalogue(seeds: int = SEEDS, names: list[str] | None = None) -> dict:
    """Every layer and update-rule variant (or those in `names`) searched with `seeds` seeds."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gradverify-layer-mutation-") as folder:
        found = entries(Path(folder), names)
        rows = [(e.buggy, _row(e, seeds)) for e in found]
    data = {
        "seeds": seeds,
        "examples_per_search": EXAMPLES,
        "profile": "ci",
        "buggy": [r for buggy, r in rows if buggy],
        "correct": [r for buggy, r in rows if not buggy],
        "seconds": time.perf_counter() - start,
    }
    data["summary"] = layer_summary(data)
    return data


def layer_summary(data: dict) -> dict:
    seeds, buggy, correct = data["seeds"], data["buggy"], data["correct"]
    firsts = [s["first_failure_at"] for b in buggy for s in b["seeds"] if s["first_failure_at"] is not None]
    return {
        "buggy": len(buggy),
        "caught_in_every_seed": sum(b["caught_in_seeds"] == seeds for b in buggy),
        "located_in_every_seed": sum(b["located_in_seeds"] == seeds for b in buggy),
        "shrunk_in_every_seed": sum(b["shrunk_in_seeds"] == seeds for b in buggy),
        "correct": len(correct),
        "correct_pass_every_seed": sum(c["passed_in_seeds"] == seeds for c in correct),
        "median_examples_to_catch": statistics.median(firsts) if firsts else None,
        "most_examples_to_catch": max(firsts, default=None),
    }


def render_layers(data: dict) -> str:
    """The layer catalogue's section of reports/mutation.md: the summary, then one row per variant."""
    s, seeds = data["summary"], data["seeds"]
    lines = [
        "## The layer ops: the layer and update-rule catalogue over seeds",
        "",
        f"Measured {data.get('date', '')} with `{data.get('command', '')}` in {data['seconds'] / 60:.1f} min. Each variant "
        f"of tests/layer_variants (the update rules' in optim.py) is searched by its op's generic check "
        f"(the {data['profile']} profile, {data['examples_per_search']} examples, seeds 0–{seeds - 1}; "
        "benchmarks/layer_catalogue.py). A bug is located when a failing comparison is at its function, quantity and "
        f"cause; shrunk when every size of the final case is ≤ {SHRUNK}. Examples to catch count the drawn cases up to "
        "and including the first failing one.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| buggy variants caught in every one of {seeds} seeds | {s['caught_in_every_seed']} / {s['buggy']} | all |",
        f"| … located at their function, quantity and cause in every seed | {s['located_in_every_seed']} / {s['buggy']} | all |",
        f"| … shrunk to sizes ≤ {SHRUNK} in every seed | {s['shrunk_in_every_seed']} / {s['buggy']} | all |",
        f"| correct variants passing in every seed | {s['correct_pass_every_seed']} / {s['correct']} | all |",
        f"| median examples to catch (over variants and seeds) | {s['median_examples_to_catch']} | — |",
        f"| most examples to catch | {s['most_examples_to_catch']} | ≤ {data['examples_per_search']} |",
        "",
        "| op | variant | caught in | located | median examples to catch | shrunk ≤ 2 | where (expected) |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in data["buggy"]:
        where = "; ".join(" · ".join(str(x) for x in e) for e in b["expected_at"])
        lines.append(
            f"| {b['op']} | `{b['name']}` | {_mark(b['caught_in_seeds'], seeds)} | {_mark(b['located_in_seeds'], seeds)} | "
            f"{b['median_examples_to_catch']} | {_mark(b['shrunk_in_seeds'], seeds)} | {where} |"
        )
    lines += ["", "| op | correct variant | passes in | how it differs |", "|---|---|---|---|"]
    for c in data["correct"]:
        lines.append(f"| {c['op']} | `{c['name']}` | {_mark(c['passed_in_seeds'], seeds)} | {c['description']} |")
    missed = [(b, x) for b in data["buggy"] for x in b["seeds"] if not (x["caught"] and x["located"] and x["shrunk"])]
    if missed:
        lines += [
            "",
            "Seeds where a bug was missed, not located or not shrunk (replay: the variant's search with that seed):",
            "",
            "| variant | seed | caught | found at | final case |",
            "|---|---|---|---|---|",
        ]
        for b, x in missed:
            found = "; ".join(" · ".join(str(v) for v in f) for f in x["found_at"]) or "—"
            lines.append(f"| `{b['name']}` | {x['seed']} | {'yes' if x['caught'] else 'no'} | {found} | {x['case'] or '—'} |")
    flagged = [(c, x) for c in data["correct"] for x in c["seeds"] if x["caught"] or x["error"]]
    if flagged:
        lines += [
            "",
            "Seeds where a correct variant was flagged:",
            "",
            "| variant | seed | found at | error |",
            "|---|---|---|---|",
        ]
        for c, x in flagged:
            found = "; ".join(" · ".join(str(v) for v in f) for f in x["found_at"]) or "—"
            lines.append(f"| `{c['name']}` | {x['seed']} | {found} | {x['error'] or '—'} |")
    return "\n".join(lines)


def _mark(k: int, n: int) -> str:
    return f"{k}/{n} {'✅' if k == n else '❌'}"
