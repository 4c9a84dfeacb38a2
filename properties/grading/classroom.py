"""Grading many submissions: one grader process per submission, `--jobs` at a time.

Each submission is graded by `python -m gradverify.cli grade FILE --results-json … --report …`
in a process of its own (which runs the submission in its own sandbox), so one
submission can never affect another's grade. Each is given the course secret's file
(`--secret`), from which it derives its own submission's seed. The class summary is made from the
results.json files alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gradverify.grading import feedback
from gradverify.files import write_atomic, write_with_pictures
from gradverify.markdown import inline

if TYPE_CHECKING:
    from gradverify.grading.rubric import Rubric

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
#: Seconds a grader process is given on top of the longest its submission may take (its own start,
#: the references' imports and work); a grader process that takes longer is stopped.
GRADER_SLACK_S = 120.0


def worst_case_seconds(rubric: "Rubric", *, adapter: bool = False) -> float:
    """The longest the submission's side of one grade may take under the rubric's timeouts: the
    sandbox's first import (item_timeout), then items.submission_budget (re-imports, each item's
    timeout and diagnosis); with a course adapter, its own import first (item_timeout). The grader's
    own work (its start, the references) comes on top: about 20 s on two cores (reports/benchmarks.md)."""
    from gradverify.grading.items import submission_budget

    return rubric.item_timeout * (2 if adapter else 1) + submission_budget(rubric)


def grader_limit(rubric: "Rubric", *, adapter: bool = False) -> float:
    """Seconds after which a grader process is stopped: its submission's worst case and GRADER_SLACK_S."""
    return GRADER_SLACK_S + worst_case_seconds(rubric, adapter=adapter)


def _names(files: list[Path]) -> list[str]:
    """A distinct output name per submission (the file's stem, numbered when stems repeat)."""
    seen: dict[str, int] = {}
    names = []
    for path in files:
        stem = path.stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def _command(path: Path, name: str, out: Path, args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "gradverify.cli", "grade", str(path), "--quiet",
               "--results-json", str(out / f"{name}.json"), "--report", str(out / f"{name}.md"),
               "--memory", str(args.memory)]
    if args.rubric:
        command += ["--rubric", args.rubric]
    if args.adapter:
        command += ["--adapter", args.adapter]
    if args.timeout:
        command += ["--timeout", str(args.timeout)]
    if getattr(args, "seed", None) is not None:
        command += ["--seed", str(args.seed)]
    elif getattr(args, "secret", None):  # each process derives its own submission's seed from it
        command += ["--secret", args.secret]
    if args.unsafe_no_sandbox:
        command.append("--unsafe-no-sandbox")
    if getattr(args, "no_plots", False):
        command.append("--no-plots")
    return command


def _grade(path: Path, name: str, out: Path, args: argparse.Namespace, limit: float) -> tuple[str, dict | None, str]:
    """(name, results.json document or None, error)"""
    try:
        done = subprocess.run(_command(path, name, out, args), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return name, None, f"the grader process took longer than {limit:g} s"
    results = out / f"{name}.json"
    if done.returncode != 0 or not results.is_file():
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return name, None, f"the grader process failed (exit {done.returncode}): {tail}"
    return name, json.loads(results.read_text(encoding="utf-8")), ""


def grade_many(files: list[Path], args: argparse.Namespace) -> int:
    from gradverify.grading.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    if args.timeout:
        rubric = replace(rubric, item_timeout=args.timeout)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    limit = grader_limit(rubric, adapter=bool(args.adapter or rubric.adapter))
    start = time.perf_counter()
    names = _names(files)
    results: dict[str, dict] = {}
    errors: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(_grade, path, name, out, args, limit) for path, name in zip(files, names)]
        for count, future in enumerate(futures, 1):
            name, document, error = future.result()
            if document is None:
                errors[name] = error
            else:
                results[name] = document
            if not args.quiet:
                shown = f"{document['score']:g}" if document else f"ERROR: {error}"
                print(f"[{count:>3}/{len(files)}] {name}: {shown}", file=sys.stderr, flush=True)
    graded = [results[n] for n in names if n in results]
    summary_path = Path(args.report) if args.report else out / "summary.md"
    not_graded = ("\n## Not graded\n\n" + "\n".join(f"- {inline(n)}: {inline(e)}" for n, e in errors.items()) + "\n"
                  if errors else "")
    drawing = graded and not getattr(args, "no_plots", False)  # pictures beside the summary, written before it
    write_with_pictures(summary_path, lambda drawn: feedback.class_summary(graded, drawn=drawn) + not_graded,
                        (lambda: feedback.summary_pictures(graded)) if drawing else None)
    if args.results_json:
        combined = {"submissions": [results[n] for n in names if n in results], "errors": errors}
        write_atomic(args.results_json, feedback.dump(combined))
    wall = time.perf_counter() - start
    print(f"gradverify: graded {len(results)} of {len(files)} submissions in {wall:.1f} s "
          f"with {args.jobs} job(s); summary: {summary_path}", file=sys.stderr)
    if errors:
        return EXIT_USAGE
    if args.fail_under is not None and any(doc["score"] < args.fail_under for doc in results.values()):
        return EXIT_FAIL
    return EXIT_OK
