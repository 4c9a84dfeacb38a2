"""Grading outputs from `GradeResult`s: Gradescope results.json, a Markdown report per
submission (for staff: everything, hidden items included), and a class summary.

Each item is one test in results.json with the rubric's visibility, which Gradescope enforces:
a "hidden" test is shown to staff only, so its output is the full feedback, marked as staff's;
"after_due_date" and "after_published" tests are shown to students later (and the top-level
output then keeps the total to itself, as Gradescope does). Staff see every test, and the staff
report in the autograder's output, which `stdout_visibility: hidden` keeps from students
(docs/gradescope/README.md).

Items a course adapter cannot map ("not mapped") are out of the total: the staff report shows
them as such, results.json leaves them out of its tests (Gradescope never shows them to the
student) and lists them in its extra_data, and the class summary has no column for them.

The seed of the grade, which replays it (`gradverify grade FILE --seed N`), is for staff only:
in the staff report and in results.json's top-level extra_data, which Gradescope stores and
never shows to students; a seed the rubric fixes is a warning in both."""

from __future__ import annotations

import html
import json
import math
import shlex
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from gradverify.grading.domain import Charged, Component, Credit, Verdict, describe_components
from gradverify.grading.items import NOT_RIGHT, GradeResult, ItemResult, Status, credit_lines
from gradverify.grading.adapters import SHIPPED
from gradverify.grading.rubric import DEFAULT_RUBRIC, SHIPPED_RUBRICS
from gradverify.grading.secret import FIXED_SEED_WARNING, SeedSource
from gradverify.markdown import block, code, inline
from gradverify.references.compare import Cause

if TYPE_CHECKING:  # gradverify.plots is imported only by a run that draws
    from gradverify.plots import DrawnPicture, Picture

UNSAFE_WARNING = "Graded WITHOUT a sandbox (--unsafe-no-sandbox): the submission could read and change the grader's files."
#: How much of what a submission printed goes into its report.
OUTPUT_SHOWN = 4000
#: The first line of a hidden item's test output: only staff ever see it.
STAFF_ONLY = "Staff only: this item is hidden in the rubric, and Gradescope never shows it to students."
#: Visibilities whose tests students see later, not now.
LATER = {"after_due_date": "after the due date", "after_published": "once the grades are published"}


def _points(x: float) -> str:
    return f"{x:g}"


def student_feedback(r: ItemResult) -> str:
    """The feedback of one item: on a pass, how many cases agreed; otherwise all of it
    (student_feedback_full). Who sees it is the item's visibility (item_output)."""
    if r.passed:
        passed = f"Passed: {r.examples} random cases agree with the references." if r.examples else "Passed."
        return "\n".join([passed, *_credit(r), *_scope(r)])
    return student_feedback_full(r)


def item_output(r: ItemResult) -> str:
    """The output of an item's test in results.json: its feedback, which a hidden item's test
    (shown to staff only) starts by saying is staff's."""
    return f"{STAFF_ONLY}\n{student_feedback(r)}" if r.item.hidden else student_feedback(r)


def general_output(result: GradeResult) -> str:
    """results.json's top-level output, which students see at once: the score, unless some items
    are shown to them later (Gradescope then keeps the total from them too), and how many of the
    points are for items they never see."""
    counted = [r for r in result.items if r.mapped]
    later = [r for r in counted if r.item.visibility in LATER]
    hidden = [r for r in counted if r.item.hidden]
    if later:
        when = " or ".join(sorted({LATER[r.item.visibility] for r in later}))
        general = f"{len(later)} of the {len(counted)} items, and your total score, are shown to you {when}."
    else:
        general = f"Score {_points(result.score)} of {_points(result.max_score)}."
        if hidden:
            general += (
                f" {_points(sum(r.item.points for r in hidden))} of the {_points(result.max_score)} points are "
                f"for {len(hidden)} item{'s' if len(hidden) > 1 else ''} that only the course staff see."
            )
    if result.rubric.allow_autodiff:
        general += f" {autodiff_note(result)}"
    if result.sandbox == "none":
        general = f"{UNSAFE_WARNING} {general}"
    if result.load_error:
        general = f"Your file could not be loaded: {result.load_error}. {general}"
    if result.handed_in:
        general += " " + " ".join(f"{_sentence(note)}." for note in result.handed_in)
    return general


def _sentence(note: str) -> str:
    return note[:1].upper() + note[1:]


def results_json(result: GradeResult) -> dict[str, Any]:
    """Gradescope's results.json: top-level score, and one test per rubric item counted, with the
    rubric's visibility (an item the course adapter cannot map is no test: it is listed in
    extra_data's "not_mapped"). The autograder's stdout, where run_autograder prints the staff
    report, is hidden from students."""
    tests = [
        {
            "name": r.item.title,
            "score": r.score,
            "max_score": r.item.points,
            "status": "passed" if r.passed else "failed",
            "output": item_output(r),
            "output_format": "text",
            "visibility": r.item.visibility,
            "extra_data": {
                "item": r.item.name,
                "check": r.item.check,
                "status": r.status,
                "cause": r.reason,
                "checked_without": r.scope,
                "share": r.credit.share if r.credit else None,
                "components": _components(r),
                "failed_at": r.failed_at,
                "reproduce": r.reproduce or None,
                "failure": r.cause.name if r.cause else None,
                "seconds": round(r.seconds, 3),
            },
        }
        for r in result.items
        if r.mapped
    ]
    return {
        "score": result.score,
        "output": general_output(result),
        "output_format": "text",
        "execution_time": round(result.seconds, 3),
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "submission": result.submission,
            "load_error": result.load_error,
            "handed_in": list(result.handed_in),
            "max_score": result.max_score,
            "sandbox": result.sandbox,
            "protections": list(result.isolation),
            "adapter": result.adapter or None,
            "allow_autodiff": list(result.rubric.allow_autodiff),
            "not_mapped": [
                {"item": r.item.name, "title": r.item.title, "points": r.item.points, "cause": r.reason}
                for r in result.not_mapped
            ],
            **_seed_data(result),
        },
    }


def _seed_data(result: GradeResult) -> dict[str, Any]:
    """results.json's staff-only seed fields: the seed, where it came from (a SeedSource's name,
    lower case), and the warning when the rubric fixes it."""
    if result.seed is None:
        return {"seed": None, "seed_source": None}
    warning = {"seed_warning": FIXED_SEED_WARNING} if result.seed.source is SeedSource.RUBRIC else {}
    return {"seed": result.seed.value, "seed_source": result.seed.source.name.lower(), **warning}


def seed_line(result: GradeResult) -> str:
    """The staff report's line on the grade's seed: its value, where it came from, and the command
    that replays the grade."""
    if result.seed is None:
        return "Seed: none (the grade did not draw cases)."
    package = "--package " if result.package else ""
    options, unnamed = replay_options(result)
    command = f"gradverify grade {options}{package}{shlex.quote(result.submission)} --seed {result.seed.value}"
    return f"Seed: {result.seed.value}, {result.seed.source.value}. Replay this grade: {code(command)}{unnamed}."


def replay_options(result: GradeResult) -> tuple[str, str]:
    """The options that grade with `result`'s rubric and adapter, each followed by a space: `--rubric`
    with a shipped rubric's name (none for the default rubric), `--adapter` with a shipped adapter's
    name when it is not the rubric's own; and what the command leaves to the reader (a rubric or an
    adapter file of the staff's: its path, which may be anywhere, is not written into the report)."""
    path = Path(result.rubric.path).resolve() if result.rubric.path else DEFAULT_RUBRIC
    shipped = [name for name, file in SHIPPED_RUBRICS.items() if file == path]
    options, unnamed = (f"--rubric {shipped[0]} " if shipped else ""), []
    if not shipped and path != DEFAULT_RUBRIC:
        unnamed.append("rubric")
    if result.adapter and result.adapter != result.rubric.adapter:
        if result.adapter in SHIPPED:
            options += f"--adapter {result.adapter} "
        else:
            unnamed.append("adapter")
    return options, f" (same {' and '.join(unnamed)})" if unnamed else ""


def _picture_keys(result: GradeResult) -> dict[str, str]:
    """A picture key per item name: the name, numbered when two names would make one file name."""
    from gradverify.plots import picture_name

    keys: dict[str, str] = {}
    for i, r in enumerate(result.items):
        key = r.item.name
        if picture_name("r", key) in {picture_name("r", k) for k in keys.values()}:
            key = f"{i + 1}-{key}"
        keys[r.item.name] = key
    return keys


def _margin_row(r: ItemResult, rtol: float) -> tuple | None:
    """An item's row of the margins chart: (title, worst relative error, rtol, passed), and for a
    failure with no error to measure (a wrong shape, an exception: no numbers were compared) NaN
    and its cause; None for an item with nothing to show (not implemented, no finite error)."""
    if r.status is Status.NOT_IMPLEMENTED:
        return None
    if not r.passed and r.cause is not None and r.cause is not Cause.MISMATCH:
        return (r.item.title, float("nan"), rtol, False, r.cause.value)
    return (r.item.title, r.max_rel_err, rtol, r.passed) if math.isfinite(r.max_rel_err) else None


def submission_pictures(result: GradeResult) -> "list[Picture]":
    """The staff report's pictures: the worst relative error of each item checked against its
    tolerance; and each failed item's counterexample (gradverify.report.failure_pictures: every
    element got against expected, a training run's loss curves). Drawn by gradverify.plots.draw."""
    from gradverify import plots
    from gradverify.references.compare import TOLERANCES
    from gradverify.report import failure_pictures

    rows = [row for r in result.items if r.mapped and r.tolerance and (row := _margin_row(r, TOLERANCES[r.tolerance].rtol))]
    shown = []
    if rows:
        shown.append(
            plots.Picture(
                "margins",
                f"Worst relative error of each of the {len(rows)} items checked against its relative tolerance, "
                "log scale (which items passed is in the table above)",
                lambda: plots.error_margins(rows, what="item"),
            )
        )
    keys = _picture_keys(result)
    for r in result.items:
        if r.status is Status.FAILED:
            shown += failure_pictures(keys[r.item.name], r.counterexample, title=r.item.title)
    return shown


def _feedback_blocks(result: GradeResult, drawn: "dict[str, DrawnPicture] | None") -> list[str]:
    """The staff report's Feedback section: for each item with something to say (a failure's
    details or hints, what it checked without), the student's feedback, the counterexample's
    network and the item's pictures."""
    told = [r for r in result.items if r.mapped and (not r.passed and (r.details or r.hints or r.scope) or r.passed and r.scope)]
    if not told:
        return []
    from gradverify.report import network_diagram, picture_keys

    keys = _picture_keys(result)
    lines = ["", "## Feedback", ""]
    for r in told:
        lines += [f"<details open><summary><b>{html.escape(r.item.title)}</b></summary>", "", block(student_feedback(r)), ""]
        diagram = network_diagram(r.counterexample) if drawn is not None else None
        lines += [diagram, ""] if diagram else []
        lines += [
            line for key in picture_keys(keys[r.item.name]) if drawn and key in drawn for line in (drawn[key].markdown(), "")
        ]
        lines += ["</details>", ""]
    return lines


def render_submission(result: GradeResult, drawn: "dict[str, DrawnPicture] | None" = None) -> str:
    """The staff report of one submission, verdict first. Everything that comes from the
    submission (its file name, causes, printed output) is rendered inert (gradverify.markdown).
    `drawn`: the pictures of `submission_pictures`, linked where they belong, with each failed
    item's counterexample network as a Mermaid diagram; with None, text and tables only."""
    adapter = ""
    if result.adapter:
        left_out = sum(r.item.points for r in result.not_mapped)
        adapter = f", through the course adapter {code(result.adapter)} ({_points(left_out)} points not mapped, not counted)"
    lines = [
        f"# Grade: {code(result.submission)}",
        "",
        f"**{_points(result.score)} / {_points(result.max_score)}** — rubric “{inline(result.rubric.title)}”{adapter}, "
        f"graded in {result.seconds:.1f} s.",
        "",
    ]
    if result.sandbox == "none":
        lines += [f"⚠️ **{UNSAFE_WARNING}**", ""]
    if result.rubric.allow_autodiff:
        lines += [f"⚠️ {inline(autodiff_note(result))}", ""]
    if result.seed is not None and result.seed.source is SeedSource.RUBRIC:
        lines += [f"⚠️ **Warning: {FIXED_SEED_WARNING}.**", ""]
    if result.load_error:
        lines += [f"The file could not be loaded: {inline(result.load_error)}", ""]
    if result.handed_in:
        lines += ["What was handed in:", "", *(f"- {inline(note)}" for note in result.handed_in), ""]
    lines += ["| item | points | result | why |", "|---|---|---|---|"]
    for r in result.items:
        mark = MARKS[r.status] + (f" {r.credit.share:.0%} right" if r.status is Status.PARTIAL and r.credit is not None else "")
        hidden = {"hidden": " (hidden)", **{k: f" (shown {v})" for k, v in LATER.items()}}.get(r.item.visibility, "")
        points = f"{_points(r.score)} / {_points(r.item.points)}" if r.mapped else f"— ({_points(r.item.points)} not counted)"
        why = r.reason + (f" ({_not_right_count(r.credit)})" if r.credit is not None and r.credit.not_right else "")
        lines.append(f"| {inline(r.item.title)}{hidden} | {points} | {mark} | {inline(why)} |")
    if drawn and "margins" in drawn:
        lines += ["", drawn["margins"].markdown()]
    lines += _feedback_blocks(result, drawn)
    if result.output.strip():
        shown = result.output[:OUTPUT_SHOWN]
        lines += ["", "## What the submission printed", "", block(shown)]
        if len(result.output) > OUTPUT_SHOWN:
            lines.append(f"(first {OUTPUT_SHOWN} characters of {len(result.output)})")
    protections = ", ".join(result.isolation) or "none"
    lines += [
        "",
        f"Sandbox: {result.sandbox or 'not started'} — {protections} (as established by the grader).",
        "",
        seed_line(result),
    ]
    return "\n".join(lines) + "\n"


#: How each status of an item starts its feedback.
VERDICTS = {
    "passed": "Passed",
    "partial": "Partly right",
    "failed": "Failed",
    "not implemented": "Not implemented",
    "not mapped": "Not mapped",
}
#: Each status's mark in the staff report's table.
MARKS = {
    "passed": "✅",
    "partial": "◐ partial",
    "failed": "❌",
    "not implemented": "➖ not implemented",
    "not mapped": "⬜ not mapped",
}


def student_feedback_full(r: ItemResult) -> str:
    """The whole feedback of an item that lost points, hidden or not (for staff): its verdict
    ("Not implemented" when a function it needs is missing, not wrong; "Partly right" with the
    share a composite item earned), cause, details, hints, and for a composite item what of its
    domain was not right or left out."""
    return "\n".join(
        [
            f"{VERDICTS[r.status]}: {r.reason}",
            *_credit(r),
            *r.details,
            *_reproduce(r),
            *(f"Hint: {h}" for h in r.hints),
            *_scope(r),
        ]
    )


def _reproduce(r: ItemResult) -> list[str]:
    """The lines that show how to rebuild the failing case in a notebook cell, indented."""
    if not r.reproduce:
        return []
    return [
        "To run the failing case yourself, where your functions are defined:",
        *(f"    {line}" for line in r.reproduce.splitlines()),
    ]


def _credit(r: ItemResult) -> list[str]:
    """A composite item's share: how much of its domain was right, and the points that earned."""
    if r.credit is None:
        return []
    right = len(r.credit.components) - len(r.credit.not_right)
    return [
        f"Earned {_points(r.score)} of {_points(r.item.points)} points: {r.credit.share:.0%} of what it checks is "
        f"right ({right} of {len(r.credit.components)} parts: each loss with each output activation, each hidden "
        f"activation; half the points for each kind)."
    ]


def _scope(r: ItemResult) -> list[str]:
    """What an item was checked without: for a composite item, its components not right (one line
    per why), those left out (one line) and any other line of its scope (an adapter's)."""
    if r.credit is None:
        return [f"Checked without {line}" for line in r.scope]
    credited = set(credit_lines(r.credit))
    return [*_not_right(r.credit), *_left_out(r.credit), *(f"Checked without {line}" for line in r.scope if line not in credited)]


def _not_right(credit: Credit) -> list[str]:
    """One line per kind, verdict and why of the components not right, naming them together."""
    groups: dict[tuple[str, Verdict, str], list[Component]] = {}
    for c in credit.not_right:
        groups.setdefault((c.component.kind, c.verdict, c.why), []).append(c.component)
    return [
        f"Not right: {describe_components(group)}: {NOT_RIGHT[verdict]}: {why}" for (_, verdict, why), group in groups.items()
    ]


#: Why a component was left out, in the few words of the "Checked without" line.
_CHARGED = {Charged.FAILED: "A part's own item failed", Charged.NOT_IMPLEMENTED: "Not implemented, here as in its own item"}


def _left_out(credit: Credit) -> list[str]:
    """One line: the components left out of the domain (charged on their own items), a sentence
    per why."""
    if not credit.left:
        return []
    groups = {why: [e.component for e in credit.left if e.why is why] for why in Charged}
    said = [f"{_CHARGED[why]}: {describe_components(group)}." for why, group in groups.items() if group]
    return [" ".join(["Checked without what its own items charged.", *said])]


def _not_right_count(credit: Credit) -> str:
    wrong = sum(c.verdict == "wrong" for c in credit.not_right)
    return f"{len(credit.not_right)} of {len(credit.components)} parts not right, {wrong} of them wrong"


def _components(r: ItemResult) -> list[dict] | None:
    """results.json's verdict per component of a composite item (None for the others)."""
    if r.credit is None:
        return None
    return [
        {
            "loss": c.component.loss,
            "activation": c.component.activation,
            "kind": c.component.kind,
            "verdict": str(c.verdict),
            "why": c.why,
        }
        for c in r.credit.components
    ]


def autodiff_note(result: GradeResult) -> str:
    """The sentence that says which packages the rubric lets differentiate for the submission."""
    names = ", ".join(result.rubric.allow_autodiff)
    return (
        f"The rubric allows packages that differentiate for you ({names}: allow_autodiff): gradients may come "
        f"from them rather than from the submission's own backprop."
    )


#: How many kinds of failure the class summary lists, most common first (it says how many more).
FAILURES_SHOWN = 15


def _pass_rates(results: list[dict], titles: dict[str, str]) -> list[tuple[str, float]]:
    """(item title, share of the submissions that could be loaded passing it), in rubric order:
    a file that could not be loaded tells nothing of any item."""
    items = [t["extra_data"]["item"] for t in results[0]["tests"]]
    loaded = [doc for doc in results if not doc["extra_data"].get("load_error")]
    passed = Counter(t["extra_data"]["item"] for doc in loaded for t in doc["tests"] if t["status"] == "passed")
    return [(titles.get(item, item), passed[item] / len(loaded) if loaded else 0.0) for item in items]


def summary_pictures(results: list[dict]) -> "list[Picture]":
    """The class summary's pictures: the scores' histogram and the pass rate per item, most
    missed first (drawn by gradverify.plots.draw)."""
    if not results:
        return []
    from gradverify import plots

    titles = {t["extra_data"]["item"]: t["name"] for t in results[0]["tests"]}
    scores = [doc["score"] for doc in results]
    maximum = results[0]["extra_data"]["max_score"]
    rates = _pass_rates(results, titles)
    return [
        plots.Picture(
            "scores",
            f"Histogram of the scores of {len(scores)} submissions, out of {_points(maximum)} "
            "(each student's score is in the table below)",
            lambda: plots.score_histogram(scores, maximum),
        ),
        plots.Picture(
            "items",
            f"Share of students passing each of the {len(rates)} rubric items, most missed first "
            "(the scores per item are in the table below)",
            lambda: plots.pass_rates(rates),
        ),
    ]


def class_summary(
    results: list[dict],
    titles: dict[str, str] | None = None,
    drawn: "dict[str, DrawnPicture] | None" = None,
    *,
    not_graded: Sequence[tuple[str, str]] = (),
) -> str:
    """Markdown for a class: score per item and student, the most common failures, and what is
    not graded, with why (`not_graded`: (name, why) pairs).

    `results` are results.json documents (one per submission), as written by `gradverify grade`,
    each student named by its extra_data's `student` (the path in the class folder that
    `gradverify grade` adds), else by its file's name without .py; what came from submissions
    (names, causes) is rendered inert. `drawn`: the pictures of `summary_pictures`, linked under
    the first line."""
    left_out = ["", "## Not graded", "", *(f"- {inline(name)}: {inline(why)}" for name, why in not_graded)] if not_graded else []
    if not results:
        return "\n".join(["# Class summary", "", "No submissions.", *left_out]) + "\n"
    items = [t["extra_data"]["item"] for t in results[0]["tests"]]
    titles = titles or {t["extra_data"]["item"]: t["name"] for t in results[0]["tests"]}
    maximum = results[0]["extra_data"]["max_score"]
    scores = [doc["score"] for doc in results]
    lines = [
        "# Class summary",
        "",
        f"{len(results)} submissions; mean {sum(scores) / len(scores):.1f} / {_points(maximum)}, "
        f"min {_points(min(scores))}, max {_points(max(scores))}; "
        f"{sum(1 for s in scores if s == maximum)} full marks"
        + (f"; {len(not_graded)} not graded (below)." if not_graded else "."),
        "",
        *[line for key in ("scores", "items") if drawn and key in drawn for line in (drawn[key].markdown(), "")],
        "| student | score | " + " | ".join(inline(i) for i in items) + " |",
        "|---|---|" + "---|" * len(items),
    ]
    for name, doc in sorted(((_student(doc), doc) for doc in results), key=lambda pair: pair[0]):
        cells = [_points(t["score"]) if t["status"] == "passed" else f"**{_points(t['score'])}**" for t in doc["tests"]]
        lines.append(f"| {inline(name)} | {_points(doc['score'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines + _failure_tables(results, titles) + left_out) + "\n"


def _failure_tables(results: list[dict], titles: dict[str, str]) -> list[str]:
    """The most common failures (FAILURES_SHOWN kinds, and how many more there are), files that
    could not be loaded counted apart, and apart again what was not implemented, per item."""
    failures: Counter[tuple[str, str]] = Counter()
    missing: Counter[str] = Counter()
    unloaded = 0
    for doc in results:
        if doc["extra_data"].get("load_error"):
            unloaded += 1
            continue
        for t in doc["tests"]:
            if t["status"] != "failed":
                continue
            if t["extra_data"].get("status") == "not implemented":
                missing[t["extra_data"]["item"]] += 1
            else:
                failures[(t["extra_data"]["item"], _kind_of_failure(t["extra_data"]))] += 1
    lines = ["", "## Most common failures", ""]
    if unloaded:
        lines += [f"{unloaded} could not be loaded (every item lost; not in the pass rates).", ""]
    if not failures:
        lines.append("None.")
    else:
        lines += ["| item | failure | students |", "|---|---|---|"]
        for (item, cause), count in failures.most_common(FAILURES_SHOWN):
            lines.append(f"| {inline(titles.get(item, item))} | {inline(cause)} | {count} |")
        if len(failures) > FAILURES_SHOWN:
            rest = len(failures) - FAILURES_SHOWN
            lines += ["", f"{rest} more kind{'s' if rest > 1 else ''} of failure not shown (each student's report has theirs)."]
    if missing:
        lines += ["", "Not implemented (missing, not wrong):", "", "| item | students |", "|---|---|"]
        lines += [f"| {inline(titles.get(item, item))} | {count} |" for item, count in missing.most_common()]
    return lines


def _student(document: dict) -> str:
    """The name of a results.json document's student: extra_data's `student`, else its file's name without .py."""
    extra = document["extra_data"]
    return str(extra.get("student") or Path(extra["submission"]).stem)


def _kind_of_failure(extra: dict) -> str:
    """What failed and why, without the numbers, so that alike failures count together
    (read from the fields of results.json; an item that could not run is counted by its cause)."""
    failure = extra.get("failure")
    if isinstance(failure, str) and failure in Cause.__members__:
        return f"{extra.get('failed_at') or 'value'}: {Cause[failure].value}"
    return str(extra.get("cause", ""))[:120]


def dump(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
