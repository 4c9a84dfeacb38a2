"""`make mutation`: the suite's power to catch backprop bugs, and to leave correct code alone.

1. The catalogue (tests/variants): every buggy variant of impl goes through `verify --profile
   ci` (which properties catch it, after how many examples) with 10 seeds, and through `grade`
   (does it lose points on the right rubric item, and only there, and does the item's hint name
   the variant's cause and no other diagnosis fire); every correct-but-different variant must
   pass verify and score full marks; every partial (fused, half-written) variant must get
   "not implemented" on what it leaves out, "failed" on its bugs, and pass everything else.
2. Fairness over seeds: every buggy and every correct variant graded in this process
   (grade_module, the shipped rubric at its full budget) with 10 seeds, each derived as a course's
   would be (grading.secret.grade_seed of a course secret of the run's own and the variant's
   bytes): a bug must lose exactly its items (Variant.lost_items) and a correct variant keep every
   point whatever the seed, since each student's grade now draws cases of its own.
3. The layer ops (benchmarks/layer_catalogue.py): every buggy variant of tests/layer_variants
   (the layers', and in optim.py the update rules') searched by its op's generic check with 10 seeds
   (caught? located at its function, quantity and cause? after how many examples? shrunk to
   sizes ≤ 2?), and every correct one passing with every seed.
4. Mutation testing with mutmut over impl/ (benchmarks/mutmut_suite.py's properties on the
   mutated impl/backprop.py, benchmarks/mutmut_layer_suite.py's layer and update-rule checks on
   the mutated impl/layers.py, impl/rnn_layers.py and impl/optim.py); its score per file and
   every survivor, each with the reason it survives.

Writes reports/mutation.md and reports/mutation.json.

    .venv/bin/python -m benchmarks.mutation                 # everything (make mutation)
    .venv/bin/python -m benchmarks.mutation --no-mutmut     # the catalogues and the fairness only
    .venv/bin/python -m benchmarks.mutation --keep-mutmut   # the same, mutmut's last results kept
    .venv/bin/python -m benchmarks.mutation --fairness-only --jobs 2   # the fairness alone, the rest of
                                                            # the last reports/mutation.json kept
    .venv/bin/python -m benchmarks.mutation --layers-only   # the layer catalogue alone, the rest kept
    .venv/bin/python -m benchmarks.mutation --mutmut-only   # mutmut alone, the rest kept
    .venv/bin/python -m benchmarks.mutation --mutmut-only --mutmut-files layers optim --mutmut-collect
                                                            # mutants/'s results for two files, the rest kept
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = 10
#: The course secret of the fairness run's seeds: fixed, so that every seed in the report replays.
FAIRNESS_SECRET = b"gradverify make mutation: fairness over seeds"


def _module(variant) -> types.ModuleType:
    module = types.ModuleType(f"variant_{variant.name}")
    exec(compile(variant.source(), f"{variant.name}.py", "exec"), module.__dict__)
    return module


def _detect(module, seed: int, first_try: list[str], checks: list[str] | None = None) -> tuple[str | None, int | None]:
    """(the property that catches the variant with this seed, after how many examples) or (None, None).
    The properties that caught it with seed 0 are tried first, then all of them (or those in `checks`)."""
    from gradverify import runner
    from gradverify.properties.checks import PROPERTIES

    for names in (first_try, [n for n in PROPERTIES if n not in first_try and (checks is None or n in checks)]):
        if not names:
            continue
        run = runner.verify(module, profile="ci", seed=seed, corpus_dir=None, save_regressions=False, only=names, fail_fast=True)
        failed = [r for r in run.results if not r.passed]
        if failed:
            return failed[0].name, failed[0].first_failure_at
    return None, None


def catalogue(seeds: int = SEEDS, names: list[str] | None = None, *, checks: list[str] | None = None, rubric=None) -> dict:
    """Every variant (or those in `names`) through verify (every check, or those in `checks`) and
    grade (the shipped rubric, or `rubric`); the files graded are written to a temporary folder
    removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="gradverify-mutation-") as folder:
        return _catalogue(seeds, names, Path(folder), checks, rubric)


def _catalogue(seeds: int, names: list[str] | None, folder: Path, checks: list[str] | None, rubric) -> dict:
    from gradverify.grading.rubric import load_rubric
    from tests.variants import BUGGY, CORRECT, PARTIAL

    rubric = rubric or load_rubric()

    def chosen(variant) -> bool:
        return not names or variant.name in names

    return {
        "buggy": [_buggy_row(v, seeds, folder, checks, rubric) for v in BUGGY.values() if chosen(v)],
        "correct": [_correct_row(v, folder, checks, rubric) for v in CORRECT.values() if chosen(v)],
        "partial": [_partial_row(p, folder, checks, rubric) for p in PARTIAL.values() if chosen(p.variant)],
    }


def _verified(module, variant, checks: list[str] | None):
    """The variant verified with the ci profile, seed 0, no corpus."""
    from gradverify import runner

    return runner.verify(
        module, impl_spec=variant.name, profile="ci", seed=0, corpus_dir=None, save_regressions=False, only=checks
    )


def _buggy_row(variant, seeds: int, folder: Path, checks: list[str] | None, rubric) -> dict:
    """A buggy variant: which checks catch it, in how many seeds, what its grade loses and hints."""
    from gradverify.grading import items as grading

    start = time.perf_counter()
    module = _module(variant)
    full = _verified(module, variant, checks)
    failed = [r for r in full.results if not r.passed]
    properties = [r for r in failed if r.kind == "property"]
    per_seed = [_detect(module, seed, [r.name for r in properties], checks) for seed in range(seeds)]
    graded = grading.grade_file(variant.write(folder), rubric)
    lost = [r.item.name for r in graded.items if not r.passed]
    named = sorted({h.diagnosis for r in graded.items for h in r.hints if h.diagnosis})
    own = {h.diagnosis for r in graded.items if r.item.name == variant.item for h in r.hints if h.diagnosis}
    row = {
        "name": variant.name,
        "description": variant.description,
        "item": variant.item,
        "caught": bool(failed),
        "caught_by": [r.name for r in failed],
        "first_failure": {r.name: r.first_failure_at for r in properties},
        "seeds": [{"seed": s, "property": p, "examples": n} for s, (p, n) in enumerate(per_seed)],
        "caught_in_seeds": sum(1 for p, _ in per_seed if p),
        "grade_lost": lost,
        "grade_score": graded.score,
        "grade_right_item": lost == variant.lost_items(rubric),
        "hint_expected": variant.hint,
        "hints_named": named,
        "hint_right": set(named) <= {variant.hint, *(d for _, d in variant.elsewhere)}
        and (variant.hint is None or variant.hint in own),
        "seconds": time.perf_counter() - start,
    }
    print(
        f"  buggy {variant.name}: caught by {len(failed)} checks, {row['caught_in_seeds']}/{seeds} seeds, grade lost {lost}",
        file=sys.stderr,
        flush=True,
    )
    return row


def _correct_row(variant, folder: Path, checks: list[str] | None, rubric) -> dict:
    """A correct variant: whether verify flags it, and its grade."""
    from gradverify.grading import items as grading

    full = _verified(_module(variant), variant, checks)
    graded = grading.grade_file(variant.write(folder), rubric)
    print(
        f"  correct {variant.name}: verify {'pass' if full.passed else 'FLAGGED'}, grade {graded.score:g}",
        file=sys.stderr,
        flush=True,
    )
    return {
        "name": variant.name,
        "description": variant.description,
        "verify_passed": full.passed,
        "flagged_by": [r.name for r in full.results if not r.passed],
        "grade_score": graded.score,
        "grade_max": graded.max_score,
    }


def _partial_row(partial, folder: Path, checks: list[str] | None, rubric) -> dict:
    """A partly implemented variant: each item's verdict against the one expected, and its hints."""
    from gradverify.grading import items as grading

    variant = partial.variant
    full = _verified(_module(variant), variant, checks)
    graded = grading.grade_file(variant.write(folder), rubric)
    status = {r.item.name: r.status for r in graded.items}
    expected = {
        name: "not implemented" if name in partial.missing else "failed" if name in partial.wrong else "passed" for name in status
    }
    named = sorted({h.diagnosis for r in graded.items for h in r.hints if h.diagnosis})
    print(
        f"  partial {variant.name}: grade {graded.score:g}, verdicts {'right' if status == expected else 'WRONG'}",
        file=sys.stderr,
        flush=True,
    )
    return {
        "name": variant.name,
        "description": variant.description,
        "verify": {r.name: r.status for r in full.results},
        "verify_not_implemented": full.not_implemented,
        "grade_status": status,
        "grade_expected": expected,
        "grade_right": status == expected,
        "grade_score": graded.score,
        "grade_max": graded.max_score,
        "hint_expected": variant.hint,
        "hints_named": named,
        "hint_right": set(named) <= {variant.hint} and (variant.hint is None or variant.hint in named),
    }


def fairness_seeds(variant, seeds: int) -> list[int]:
    """`seeds` seeds for `variant`, as `seeds` courses would derive them for its file: grade_seed of
    a secret per course (FAIRNESS_SECRET and the course's number) and the file's bytes."""
    import hashlib

    from gradverify.grading.secret import grade_seed

    digest = hashlib.sha256(variant.source().encode("utf-8")).digest()
    return [grade_seed(FAIRNESS_SECRET + b" %d" % course, digest) for course in range(seeds)]


def _fair_grade(task: tuple[str, str, int]) -> dict:
    """One variant (kind "buggy" or "correct", its name) graded in this process with one seed: what
    it lost, and whether that is its verdict whatever the seed."""
    from gradverify.grading import items as grading
    from gradverify.grading.rubric import load_rubric
    from tests.variants import BUGGY, CORRECT

    kind, name, seed = task
    rubric = load_rubric()
    variant = (BUGGY if kind == "buggy" else CORRECT)[name]
    start = time.perf_counter()
    graded = grading.grade_module(_module(variant), rubric, submission=name, seed=seed)
    lost = [r.item.name for r in graded.items if not r.passed]
    expected = variant.lost_items(rubric) if kind == "buggy" else []
    return {
        "kind": kind,
        "name": name,
        "seed": seed,
        "lost": lost,
        "expected": expected,
        "fair": lost == expected,
        "score": graded.score,
        "causes": {r.item.name: r.reason for r in graded.items if not r.passed},
        "seconds": time.perf_counter() - start,
    }


def fairness(seeds: int = SEEDS, names: list[str] | None = None, *, jobs: int = 1, progress_file: Path | None = None) -> dict:
    """Every buggy and correct variant (or those in `names`) graded with `seeds` seeds each
    (fairness_seeds), seed by seed across the catalogue, so that a run stopped early has covered
    every variant as many times; with `jobs` > 1 in that many processes. Each grade's row is
    appended to `progress_file` (JSON lines) as it ends."""
    from tests.variants import BUGGY, CORRECT

    variants = [("buggy", v) for v in BUGGY.values()] + [("correct", v) for v in CORRECT.values()]
    variants = [(kind, v) for kind, v in variants if not names or v.name in names]
    per_variant = {v.name: fairness_seeds(v, seeds) for _, v in variants}
    tasks = [(kind, v.name, per_variant[v.name][i]) for i in range(seeds) for kind, v in variants]
    start = time.perf_counter()
    rows: list[dict] = []

    def record(row: dict) -> None:
        rows.append(row)
        if progress_file is not None:
            with open(progress_file, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
        mark = "fair" if row["fair"] else "UNFAIR"
        print(
            f"  fairness [{len(rows)}/{len(tasks)}] {row['kind']} {row['name']} seed {row['seed']}: {mark}, "
            f"lost {row['lost']} ({row['seconds']:.1f} s)",
            file=sys.stderr,
            flush=True,
        )

    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawned, not forked: after the catalogue this process runs JAX's threads, and a child
        # forked from them deadlocks (make mutation sat with both workers at 0 s of CPU time)
        with ProcessPoolExecutor(
            max_workers=jobs, initializer=_quiet_worker, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            for row in pool.map(_fair_grade, tasks):
                record(row)
    else:
        for task in tasks:
            record(_fair_grade(task))
    return fairness_summary(rows, seeds, time.perf_counter() - start, jobs, names)


def _quiet_worker() -> None:
    from gradverify.references import jax_backend

    jax_backend.enable_persistent_cache()


def fairness_summary(rows: list[dict], seeds: int, seconds: float | None, jobs: int, names: list[str] | None = None) -> dict:
    """The fairness run's results: per variant, the seeds where its verdict was not its own; and
    how many of the catalogue's variants (or of those in `names`) a stopped run reached."""
    from tests.variants import BUGGY, CORRECT

    by_name: dict[str, dict] = {}
    for row in rows:
        entry = by_name.setdefault(
            row["name"], {"name": row["name"], "kind": row["kind"], "expected": row["expected"], "seeds": [], "unfair": []}
        )
        entry["seeds"].append(row["seed"])
        if not row["fair"]:
            entry["unfair"].append({"seed": row["seed"], "lost": row["lost"], "causes": row["causes"]})
    variants = list(by_name.values())
    return {
        "seeds_per_variant": seeds,
        "grades": len(rows),
        "seconds": seconds,
        "jobs": jobs,
        "buggy_in_catalogue": sum(1 for n in BUGGY if not names or n in names),
        "correct_in_catalogue": sum(1 for n in CORRECT if not names or n in names),
        "buggy": sum(v["kind"] == "buggy" for v in variants),
        "buggy_fair": sum(v["kind"] == "buggy" and not v["unfair"] for v in variants),
        "correct": sum(v["kind"] == "correct" for v in variants),
        "correct_fair": sum(v["kind"] == "correct" and not v["unfair"] for v in variants),
        "fewest_seeds": min((len(v["seeds"]) for v in variants), default=0),
        "most_seeds": max((len(v["seeds"]) for v in variants), default=0),
        "median_grade_seconds": statistics.median(r["seconds"] for r in rows) if rows else None,
        "variants": variants,
    }


def render_fairness(f: dict) -> str:
    lines = [
        "## Fairness over seeds",
        "",
        f"Measured {f.get('date', '')} with `{f.get('command', '')}`: {f['grades']} grades"
        + (f" in {f['seconds'] / 60:.1f} min" if f.get("seconds") is not None else "")
        + f" ({f['jobs']} process(es), median {f['median_grade_seconds'] or 0:.1f} s a grade). Each variant is graded in-process "
        f"(grade_module, the shipped rubric, {_seed_range(f)} each), each seed derived as "
        "a course's would be: grade_seed of a course secret (one per seed) and the variant's bytes. A grade is fair when "
        "a bug loses exactly its items (and what builds on them) and a correct variant keeps every point.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| buggy variants losing exactly their items with every seed | {f['buggy_fair']} / {f['buggy']}{_reached(f, 'buggy')} | all |",
        f"| correct variants keeping every point with every seed | {f['correct_fair']} / {f['correct']}{_reached(f, 'correct')} | all |",
    ]
    unfair = [v for v in f["variants"] if v["unfair"]]
    if unfair:
        lines += [
            "",
            "Verdicts that changed with the seed (replay: grade_module(variant, rubric, seed=N)):",
            "",
            "| variant | expected to lose | seed | lost | why |",
            "|---|---|---|---|---|",
        ]
        for v in unfair:
            for u in v["unfair"]:
                why = "; ".join(f"{k}: {c}" for k, c in u["causes"].items() if k not in v["expected"])[:300]
                lines.append(
                    f"| `{v['name']}` | {', '.join(v['expected']) or '—'} | {u['seed']} | "
                    f"{', '.join(u['lost']) or '—'} | {why or 'kept an item it should lose'} |"
                )
    return "\n".join(lines)


def _seed_range(f: dict) -> str:
    low, high = f["fewest_seeds"], f.get("most_seeds", f["seeds_per_variant"])
    return f"{low} seed{'s' if low != 1 else ''}" if low == high else f"{low}–{high} seeds"


def _reached(f: dict, kind: str) -> str:
    """ " (a stopped run: 8 of the 41 in the catalogue graded, 1 seed each of the 10 planned)" for a
    run that did not grade every variant with every seed, else ""."""
    total = f.get(f"{kind}_in_catalogue", f[kind])
    if f[kind] == total and f["fewest_seeds"] == f["seeds_per_variant"]:
        return ""
    return (
        f" (a stopped run: {f[kind]} of the {total} in the catalogue graded, {_seed_range(f)} each of the "
        f"{f['seeds_per_variant']} planned)"
    )


def summary(data: dict) -> dict:
    from gradverify.profiles import PROFILES

    buggy, correct, partial = data["buggy"], data["correct"], data.get("partial", [])
    detections = [s["examples"] for b in buggy for s in b["seeds"] if s["examples"] is not None]
    slowest = max(
        ((s["examples"] or 0, b["name"], s["property"], s["seed"]) for b in buggy for s in b["seeds"]), default=(0, "", "", 0)
    )
    return {
        "buggy": len(buggy),
        "caught_by_verify": sum(b["caught"] for b in buggy),
        "caught_in_every_seed": sum(b["caught_in_seeds"] == len(b["seeds"]) for b in buggy),
        "lost_points_on_right_item": sum(b["grade_right_item"] for b in buggy),
        "correct": len(correct),
        "correct_clean": sum(c["verify_passed"] and c["grade_score"] == c["grade_max"] for c in correct),
        "hinted": sum(1 for b in buggy + partial if b["hint_expected"]),
        "hints_right": sum(1 for b in buggy + partial if b["hint_expected"] and b["hint_right"]),
        "hints_wrong": sum(1 for b in buggy + partial if not b["hint_right"]),
        "partial": len(partial),
        "partial_right": sum(p["grade_right"] for p in partial),
        "median_examples_to_first_failure": statistics.median(detections) if detections else None,
        "slowest_detection": {"examples": slowest[0], "variant": slowest[1], "property": slowest[2], "seed": slowest[3]},
        "ci_budget": PROFILES["ci"].budget,
    }


def _summary_section(data: dict) -> list[str]:
    """The title, the summary table against the targets, and how examples are counted."""
    s = data["summary"]
    seeds = len(data["buggy"][0]["seeds"]) if data["buggy"] else 0
    lines = [
        "# Fault-detection power",
        "",
        f"Measured {data['date']} with `{data['command']}` in {data['seconds'] / 60:.1f} min.",
        "",
        "## Summary",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| buggy variants caught by `verify --profile ci` | {s['caught_by_verify']} / {s['buggy']} | all |",
        f"| … caught by the properties in every one of {seeds} seeds | {s['caught_in_every_seed']} / {s['buggy']} | all |",
        f"| buggy variants losing points in `grade` on their item, and only there | {s['lost_points_on_right_item']} / {s['buggy']} | all |",
        f"| correct variants passing verify with full marks | {s['correct_clean']} / {s['correct']} | all |",
        f"| partial variants (fused, half-written): every rubric item its verdict | {s['partial_right']} / {s['partial']} | all |",
        f"| variants whose bug has a diagnosis: the hint names it | {s['hints_right']} / {s['hinted']} | all |",
        f"| variants where a diagnosis that does not fit fires | {s['hints_wrong']} | 0 |",
        f"| median examples until the first failure (over variants and seeds) | {s['median_examples_to_first_failure']} | — |",
        f"| slowest detection | {s['slowest_detection']['examples']} examples ({s['slowest_detection']['variant']}, "
        f"{s['slowest_detection']['property']}, seed {s['slowest_detection']['seed']}) | within the ci budget of "
        f"{s['ci_budget']} (× weight) |",
    ]
    if "mutmut" in data:
        for f in mutmut_files(data["mutmut"]).values():
            lines.append(
                f"| mutmut score on `{f['file']}` (killed / non-equivalent mutants) | {f['score']:.1%} "
                f"({f['killed']} / {f['non_equivalent']}) | ≥ 95% |"
            )
    if "layers" in data:
        s = data["layers"]["summary"]
        lines += [
            f"| layer and update-rule bugs caught and located in every seed | {s['located_in_every_seed']} / {s['buggy']} | all |",
            f"| … shrunk to sizes ≤ 2 in every seed | {s['shrunk_in_every_seed']} / {s['buggy']} | all |",
            f"| correct layer and update-rule variants passing in every seed | {s['correct_pass_every_seed']} / {s['correct']} | all |",
        ]
    lines += [
        "",
        "Examples count the cases of the property that caught the variant first, up to and including the "
        "first failing one: its coverage cases (every activation, also in the tails, every loss, every loss and "
        "activation in a network; run first in every run, whatever the seed), then hypothesis's draws. The "
        "network property checks 8 data sets per example. A variant is run through every check with seed 0, "
        f"then, for seeds 0–{seeds - 1}, through the properties alone (the ones that caught it first, then the "
        "rest) until one fails, so 'every seed' does not lean on the fixed worked examples.",
        "",
    ]
    return lines


def render(data: dict) -> str:
    """mutation.md from the measured data: summary, the three catalogues, fairness, the layer ops, mutmut."""
    lines = [*_summary_section(data), *_buggy_section(data), *_correct_section(data), *_partial_section(data)]
    if "fairness" in data:
        lines += ["", render_fairness(data["fairness"])]
    if "layers" in data:
        from benchmarks.layer_catalogue import render_layers

        lines += ["", render_layers(data["layers"])]
    if "mutmut" in data:
        lines += ["", render_mutmut(data["mutmut"])]
    return "\n".join(lines) + "\n"


def _buggy_section(data: dict) -> list[str]:
    """One row per buggy variant: what catches it, how soon, what its grade loses, its hints."""
    lines = [
        "## Buggy variants",
        "",
        "| variant | the bug | caught by (seed 0) | examples to first failure (seed 0) | seeds caught | most examples over seeds | grade: item lost | right item | hint: expected → named |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for b in data["buggy"]:
        first = ", ".join(f"{k}: {v}" for k, v in b["first_failure"].items()) or "fixed examples only"
        most = max((x["examples"] or 0 for x in b["seeds"]), default=0)
        lines.append(
            f"| `{b['name']}` | {b['description']} | {', '.join(b['caught_by']) or '**not caught**'} | {first} | "
            f"{b['caught_in_seeds']}/{len(b['seeds'])} | {most} | {', '.join(b['grade_lost']) or '—'} (expected {b['item']}) | "
            f"{'✅' if b['grade_right_item'] else '❌'} | {_hint_cell(b)} |"
        )
    return lines


def _correct_section(data: dict) -> list[str]:
    """One row per correct variant: verify's verdict and its grade."""
    lines: list[str] = []
    lines += ["", "## Correct-but-different variants", "", "| variant | how it differs | verify | grade |", "|---|---|---|---|"]
    for c in data["correct"]:
        verdict = "✅ pass" if c["verify_passed"] else f"❌ flagged by {', '.join(c['flagged_by'])}"
        lines.append(f"| `{c['name']}` | {c['description']} | {verdict} | {c['grade_score']:g} / {c['grade_max']:g} |")
    return lines


def _partial_section(data: dict) -> list[str]:
    """One row per partial or fused variant: each item's verdict against the one expected."""
    lines: list[str] = []
    if data.get("partial"):
        lines += [
            "",
            "## Partial and fused variants",
            "",
            "What each leaves out raises NotImplementedError in its author's words; the grade must say "
            '"not implemented" there, "failed" where its bug is, and pass the rest; verify checks '
            "everything implemented and lists the rest in one line.",
            "",
            "| variant | how it is written | grade: not implemented | grade: failed | verdicts right | score | verify | hint: expected → named |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for p in data["partial"]:
            missing = [n for n, v in p["grade_status"].items() if v == "not implemented"]
            failed = [n for n, v in p["grade_status"].items() if v == "failed"]
            verify = ", ".join(f"{n}: {v}" for n, v in p["verify"].items() if v != "passed") or "all pass"
            lines.append(
                f"| `{p['name']}` | {p['description']} | {', '.join(missing) or '—'} | {', '.join(failed) or '—'} | "
                f"{'✅' if p['grade_right'] else '❌'} | {p['grade_score']:g} / {p['grade_max']:g} | {verify} | {_hint_cell(p)} |"
            )
    return lines


def _hint_cell(row: dict) -> str:
    named = ", ".join(row["hints_named"]) or "—"
    return f"{row['hint_expected'] or '—'} → {named} {'✅' if row['hint_right'] else '❌'}"


def mutmut_files(m: dict) -> dict[str, dict]:
    """mutmut's results per file; a report from before the layer ops has impl/backprop.py's only."""
    if "files" in m:
        return m["files"]
    return {"backprop": {**m, "file": "impl/backprop.py", "no_tests": 0, "not_run": 0}}


def render_mutmut(m: dict) -> str:
    files = mutmut_files(m)
    lines = [
        "## Mutation testing (mutmut)",
        "",
        f"`mutmut run` over impl/ ({m['version']}{', measured ' + m['measured'] if m.get('measured') else ''}). Test "
        "command: the suite's properties on the mutated impl/backprop.py (`benchmarks/mutmut_suite.py`, ci profile), "
        "and on the layer ops' files every op's generic check in float64 and float32, the kinks' pins and every "
        "update rule's check (`benchmarks/mutmut_layer_suite.py`: ci profile, seed 0, 15 examples, no shrinking). "
        "Timeouts count as killed (the suite stopped them); a survivor is equivalent only by a reason written for it "
        "(no input the protocol allows tells it apart), so score = killed / (total − equivalent).",
        "",
        "| file | mutants | killed | survived | no test | not run | equivalent | score | measured |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in files.values():
        lines.append(
            f"| `{f['file']}` | {f['total']} | {f['killed']} | {f['survived']} | {f.get('no_tests', 0)} | {f.get('not_run', 0)} | "
            f"{f['equivalent']} | **{f['score']:.1%}** ({f['killed']} / {f['non_equivalent']}) | {f.get('measured') or m.get('measured') or '—'} |"
        )
    commands = sorted({f["command"] for f in files.values() if f.get("command")})
    if commands:
        lines += ["", "Measured with " + "; ".join(f"`{c}`" for c in commands) + " (the files it names; the others kept)."]
    survivors = [s for f in files.values() for s in f["survivors"]]
    verdicts: dict[str, int] = {}
    for row in survivors:
        verdicts[row["verdict"]] = verdicts.get(row["verdict"], 0) + 1
    lines += ["", "| survivors | verdict |", "|---|---|"]
    lines += [f"| {n} | {verdict} |" for verdict, n in sorted(verdicts.items(), key=lambda kv: -kv[1])]
    lines += ["", "Every survivor:", "", "| mutant | change | verdict |", "|---|---|---|"]
    for row in sorted(survivors, key=lambda r: r["equivalent"]):
        lines.append(f"| `{row['name']}` | `{row['diff']}` | {row['verdict']} |")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    """The command line: seeds, variants, what to measure and what to keep of the last report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--variants", nargs="*", help="only these variants")
    parser.add_argument("--no-mutmut", action="store_true")
    parser.add_argument(
        "--keep-mutmut",
        action="store_true",
        help="keep the mutmut results of the last reports/mutation.json (valid while impl/ is unchanged)",
    )
    parser.add_argument(
        "--fairness-only",
        action="store_true",
        help="measure the fairness over seeds alone, keeping the rest of the last reports/mutation.json",
    )
    parser.add_argument(
        "--layers-only",
        action="store_true",
        help="measure the layer and update-rule catalogue alone, keeping the rest of the last reports/mutation.json",
    )
    parser.add_argument(
        "--mutmut-only", action="store_true", help="run mutmut alone, keeping the rest of the last reports/mutation.json"
    )
    parser.add_argument(
        "--mutmut-files",
        nargs="+",
        choices=["backprop", "layers", "rnn_layers", "optim"],
        metavar="FILE",
        help="with --mutmut-only: the files of impl/ to measure, of backprop, layers, rnn_layers and optim "
        "(default: all four), the others' results kept",
    )
    parser.add_argument(
        "--mutmut-collect",
        action="store_true",
        help="with --mutmut-only: read the results already in mutants/ instead of running mutmut",
    )
    parser.add_argument("--jobs", type=int, default=1, help="processes of the fairness run and of mutmut (default 1)")
    parser.add_argument(
        "--from-progress",
        metavar="JSONL",
        help="the fairness section from the grades a run wrote so far (its mutation.fairness.jsonl.tmp), "
        "the rest of the last reports/mutation.json kept",
    )
    parser.add_argument("--out", default=str(ROOT / "reports"))
    return parser


def _checked(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """The options, refused when one only means something with another that is missing."""
    if (args.mutmut_files or args.mutmut_collect) and not args.mutmut_only:
        parser.error("--mutmut-files and --mutmut-collect go with --mutmut-only")
    args.mutmut_files = args.mutmut_files or ["backprop", "layers", "rnn_layers", "optim"]
    return args


def _command(args: argparse.Namespace, argv: list[str] | None) -> str:
    """The command the report names: `make mutation` for the full run, else the options given."""
    partial = args.fairness_only or args.from_progress or args.layers_only or args.mutmut_only
    if not (args.no_mutmut or args.keep_mutmut or args.variants or partial):
        return "make mutation"
    return "python -m benchmarks.mutation " + " ".join(argv or sys.argv[1:])


def _write(out: Path, data: dict) -> None:
    """mutation.json and mutation.md in `out`."""
    from gradverify.files import write_atomic

    write_atomic(out / "mutation.json", json.dumps(data, indent=2) + "\n")
    write_atomic(out / "mutation.md", render(data))


def _fairness_again(args: argparse.Namespace, out: Path, command: str, progress: Path) -> None:
    """--fairness-only and --from-progress: the fairness section of the last mutation.json measured
    anew (or read from the grades of --from-progress), the rest kept; both reports rewritten, the
    section printed."""
    data = json.loads((out / "mutation.json").read_text(encoding="utf-8"))
    if args.from_progress:
        rows = [json.loads(line) for line in Path(args.from_progress).read_text(encoding="utf-8").splitlines() if line]
        data["fairness"] = fairness_summary(rows, args.seeds, None, args.jobs)
    else:
        data["fairness"] = fairness(args.seeds, args.variants, jobs=args.jobs, progress_file=progress)
    data["fairness"].update(date=time.strftime("%Y-%m-%d"), command=command)
    _write(out, data)
    print(render_fairness(data["fairness"]))


def _layers(args: argparse.Namespace, command: str) -> dict:
    """The layer and update-rule catalogue over seeds, with its date and command."""
    from benchmarks.layer_catalogue import layer_catalogue

    data = layer_catalogue(args.seeds, args.variants)
    data.update(date=time.strftime("%Y-%m-%d"), command=command)
    return data


def _part_again(args: argparse.Namespace, out: Path, command: str) -> None:
    """--layers-only and --mutmut-only: that part of the last mutation.json measured anew, the
    rest kept; both reports rewritten, the part printed."""
    data = json.loads((out / "mutation.json").read_text(encoding="utf-8"))
    if args.layers_only:
        from benchmarks.layer_catalogue import render_layers

        data["layers"] = _layers(args, command)
        part = render_layers(data["layers"])
    else:
        data["mutmut"] = _mutmut_again(args, data.get("mutmut"), command)
        part = render_mutmut(data["mutmut"])
    _write(out, data)
    print(part)


def _mutmut_again(args: argparse.Namespace, previous: dict | None, command: str) -> dict:
    """--mutmut-only: mutmut run from scratch over --mutmut-files (or, with --mutmut-collect, the
    results already in mutants/ read), each file measured today; the files of the last report
    not measured are kept with their dates."""
    from benchmarks import mutmut_run

    files = tuple(args.mutmut_files)
    fresh = mutmut_run.collect(files) if args.mutmut_collect else mutmut_run.run(max_children=args.jobs, files=files)
    today = time.strftime("%Y-%m-%d")
    measured = {name: {**f, "measured": today, "command": command} for name, f in fresh["files"].items()}
    kept = {name: f for name, f in (mutmut_files(previous) if previous else {}).items() if name not in measured}
    for f in kept.values():
        f.setdefault("measured", previous.get("measured") if previous else None)
    per_file = {name: (measured.get(name) or kept[name]) for name in mutmut_run.FILES if name in measured or name in kept}
    return mutmut_run.totals(per_file, fresh["version"])


def _mutmut(args: argparse.Namespace, out: Path) -> dict | None:
    """mutmut's results: the last mutation.json's (--keep-mutmut, with the date they were measured),
    none (--no-mutmut), or a run of mutmut."""
    if args.keep_mutmut:
        previous = json.loads((out / "mutation.json").read_text(encoding="utf-8"))
        previous["mutmut"].setdefault("measured", previous.get("date"))
        return previous["mutmut"]
    if args.no_mutmut:
        return None
    from benchmarks import mutmut_run

    return mutmut_run.run(max_children=args.jobs)


def main(argv: list[str] | None = None) -> int:
    """`make mutation` and its options: the catalogue, the fairness over seeds and mutmut measured
    (or only the fairness, the rest kept), then mutation.json and mutation.md written to --out."""
    parser = _parser()
    args = _checked(parser, parser.parse_args(argv))
    from gradverify.references import jax_backend

    jax_backend.enable_persistent_cache()
    start = time.perf_counter()
    out = Path(args.out)
    command = _command(args, argv)
    progress = out / "mutation.fairness.jsonl.tmp"  # each grade as it ends (*.tmp: git ignores it)
    if not args.from_progress:
        progress.unlink(missing_ok=True)
    if args.fairness_only or args.from_progress:
        _fairness_again(args, out, command, progress)
        return 0
    if args.layers_only or args.mutmut_only:
        _part_again(args, out, command)
        return 0
    data = catalogue(args.seeds, args.variants)
    data["summary"] = summary(data)
    data["fairness"] = fairness(args.seeds, args.variants, jobs=args.jobs, progress_file=progress)
    data["fairness"].update(date=time.strftime("%Y-%m-%d"), command=command)
    data["layers"] = _layers(args, command)
    mutmut = _mutmut(args, out)
    if mutmut is not None:
        data["mutmut"] = mutmut
    data["seconds"] = time.perf_counter() - start
    data["date"] = time.strftime("%Y-%m-%d")
    data["command"] = command
    _write(out, data)
    print(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
