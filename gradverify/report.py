"""Markdown and JUnit XML from a `VerifyResult` — rendered from data, never from logs."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from xml.etree import ElementTree as ET

from gradverify.properties.cases import case_to_json
from gradverify.markdown import code, inline
from gradverify.profiles import PROFILES
from gradverify.results import HOLDING, CheckKind, CheckStatus, Failure, PropertyResult, Source, VerifyResult
from gradverify.references.compare import TOLERANCES, Cause, Comparison, out_of_tolerance, tolerance_for, tolerance_limit

if TYPE_CHECKING:  # gradverify.plots is imported only by a run that draws
    import numpy as np

    from gradverify.plots import DrawnPicture, Picture

#: The autodiff oracles, as named in a comparison's `where.oracle`.
REFERENCES = frozenset({"jax", "torch"})
#: GitHub rejects step summaries over 1 MiB; keep well under.
STEP_SUMMARY_LIMIT = 256 * 1024


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return "0" if x == 0 else f"{x:.2e}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


#: How each PropertyResult.status is shown in the table.
STATUS_MARKS = {
    "passed": "✅ pass",
    "failed": "❌ FAIL",
    "error": "⚠️ error",
    "not implemented": "➖ not implemented",
    "partly implemented": "◐ pass where implemented",
    "not in scope": "⬜ not in scope",
}


def form_text(r: PropertyResult) -> str:
    """Which of a property's forms held (Property.forms): "form torch.optim.Adam" when one held
    on every case, else each form's count ("forms torch.optim.Adam 3 of 5, …"); "" without forms."""
    if not r.forms or not r.examples:
        return ""
    if r.form is not None:
        return f"form {r.form}"
    return "forms " + ", ".join(f"{name} {held} of {r.examples}" for name, held in r.forms.items())


def _status(r: PropertyResult) -> str:
    """The table's result cell: the status, which form held, and what the scope left out of the check."""
    if not r.in_scope:
        return f"{STATUS_MARKS[r.status]}: needs {', '.join(r.not_in_scope)}"
    form = form_text(r) if r.status is CheckStatus.PASSED else ""
    return (
        STATUS_MARKS[r.status]
        + (f" ({form})" if form else "")
        + (f" (not in scope: {', '.join(r.not_in_scope)})" if r.not_in_scope else "")
    )


def verdict_line(run: VerifyResult) -> str:
    """How many of the checks that ran hold, and what the scope left out: "8 of 8 checks hold;
    5 not in scope (components not in scope: tanh, softmax, l2)"."""
    ran = run.in_scope
    line = f"{sum(r.passed for r in ran)} of {len(ran)} checks hold"
    if len(ran) < len(run.results):
        line += f"; {len(run.results) - len(ran)} not in scope"
    if run.not_in_scope:
        line += f" (components not in scope: {', '.join(run.not_in_scope)})"
    return line


def _examples(r: PropertyResult) -> str:
    if r.kind is CheckKind.FIXED:
        return "fixed"
    text = str(r.examples) + (f" × {r.data_sets} data sets" if r.data_sets > 1 else "")
    if r.regressions_replayed:
        text += f" (+{r.regressions_replayed} replayed)"
    if r.rejected:
        text += f", {r.rejected} rejected"
    return text


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _comparison_lines(c: Comparison) -> list[str]:
    if c.message is None and c.shape == () and c.mismatches:
        _, got, expected = c.mismatches[0]
        return [
            f"- **{c.label}** — got {got:.12g}, expected {expected:.12g}: abs err {c.max_abs_err:.3g}, "
            f"rel err {c.max_rel_err:.3g} (tolerance {c.tolerance})"
        ]
    lines = [f"- **{c.label}** — {inline(c.message) if c.message else 'values differ'}"]
    if c.message is None:
        lines.append(
            f"  - max abs err {c.max_abs_err:.3g}, max rel err {c.max_rel_err:.3g}; tolerance {c.tolerance} "
            "(pass: |got − expected| ≤ atol + rtol·|expected|)"
        )
        if c.scale is not None:
            lines.append(f"  - the whole array is {c.scale:.6g} × the expected one")
        if c.mismatches:
            lines.append("")
            lines.append("  | element | got | expected | abs err |")
            lines.append("  |---|---|---|---|")
            for idx, got, expected in c.mismatches:
                where = f"[{', '.join(map(str, idx))}]" if idx else "(scalar)"
                lines.append(f"  | {where} | {got:.12g} | {expected:.12g} | {abs(got - expected):.3g} |")
            lines.append("")
    return lines


def _failure_block(r: PropertyResult, drawn: "dict[str, DrawnPicture] | None" = None) -> list[str]:
    f = r.failure
    summary = f"❌ {r.name}" if f else f"⚠️ {r.name}"
    lines = ["<details open>" if f else "<details>", f"<summary><b>{summary}</b> — {_esc(r.claim)}</summary>", ""]
    if r.error:
        lines += [f"The property could not run: {inline(r.error)}", "", "</details>", ""]
        return lines
    if f is None:  # a check that failed has a failure; only one that could not run (above) has none
        return lines + ["</details>", ""]
    lines.append(
        f"Found by: {f.source}"
        + (f", after {r.first_failure_at} examples" if r.first_failure_at and f.source is Source.HYPOTHESIS else "")
        + (f", then shrunk in {r.shrink_calls} more calls" if r.shrink_calls else "")
        + "."
    )
    lines.append("")
    if f.case is not None:
        lines.append(f"Smallest failing example: {f.case_description}")
        if f.shapes:
            lines.append(f"Shapes: {f.shapes}")
        lines.append("")
        diagram = network_diagram(f) if drawn is not None else None
        if diagram:
            lines += [diagram, ""]
    lines += [line for c in f.comparisons for line in _comparison_lines(c)]
    lines += [line for key in picture_keys(r.name) if drawn and key in drawn for line in ("", drawn[key].markdown())]
    if r.hints:
        lines += [""] + [f"**Hint:** {inline(h)}" + ("  " if i < len(r.hints) - 1 else "") for i, h in enumerate(r.hints)]
    if f.case is not None:
        import json

        lines += ["", "Example (JSON):", "", "```json", json.dumps(case_to_json(f.case)), "```"]
    if f.replay:
        lines += ["", "Replay exactly this example:", "", "```sh", f.replay, "```"]
    lines += ["", "</details>", ""]
    return lines


def diagnosis(run: VerifyResult) -> list[str]:
    """Short sentences that connect failing comparisons to the component most likely at fault
    (read from each comparison's fields)."""
    failing = [c for r in run.failed if r.failure for c in r.failure.comparisons]
    by_reference = [c.where for c in failing if c.where.oracle in REFERENCES]

    def components(function: str) -> list[str]:
        return sorted({w.component for w in by_reference if w.function == function and w.component})

    lines = [
        f"The derivative of `{name}` (activation_backward) disagrees with the references."
        for name in components("activation_backward")
    ]
    lines += [
        f"The gradient of loss `{name}` (loss_backward) disagrees with the references." for name in components("loss_backward")
    ]
    lines += [f"The value of loss `{name}` disagrees with the references." for name in components("loss")]
    layers = sorted({w.layer for w in by_reference if w.function == "network_gradients" and w.layer is not None})
    if layers:
        lines.append(f"network_gradients disagrees with the references at {', '.join(f'layers[{i}]' for i in layers)}.")
    if run.not_implemented:
        lines.append(missing_line(run))
    return lines


def protocol_lines(run: VerifyResult) -> list[str]:
    """One line per protocol the implementation defines no function of, e.g. "layer protocol:
    not implemented (docs/layers.md)": its checks were not run (and nothing failed for it)."""
    from gradverify.loader import PROTOCOL_DOCS

    return [f"{name}: not implemented ({PROTOCOL_DOCS[name]})" for name in run.absent_protocols]


def missing_line(run: VerifyResult, *, markdown: bool = True) -> str:
    """The one line that lists what the implementation does not implement, in its own words
    (rendered inert for Markdown, or plain for a terminal)."""
    return (
        "Not implemented (the checks that need these were skipped): "
        + "; ".join(map(inline if markdown else str, run.not_implemented))
        + "."
    )


#: Worst elements shown per failing comparison on a terminal (the report shows them all).
SHOWN_VALUES = 3


def worst_values(comparison: Comparison) -> str:
    """The worst elements of a failing comparison, got against expected."""
    shown = []
    for index, got, expected in comparison.mismatches[:SHOWN_VALUES]:
        where = f"[{', '.join(map(str, index))}] " if index else ""
        shown.append(f"{where}got {got:.10g}, expected {expected:.10g}")
    return "; ".join(shown)


def check_lines(r: PropertyResult) -> list[str]:
    """A check that does not hold, in plain text for a terminal: its first failing comparison
    (or why it could not run, or what it lacks), the worst values, the shrunk example, the hints
    and the replay command. `gradverify verify` prints them on stderr; the pytest plugin shows
    them as the check's failure."""
    if r.status is CheckStatus.NOT_IMPLEMENTED and r.failure is not None:  # (not implemented: a failure, all missing)
        missing = "; ".join(dict.fromkeys(f"{c.where.function}: {c.message}" for c in r.failure.comparisons))
        return [f"{r.name}: not implemented: {missing}"]
    if r.status is CheckStatus.PARTLY_IMPLEMENTED:
        return [
            f"{r.name}: holds where implemented; not implemented (the cases that need these were skipped): "
            + "; ".join(r.not_implemented)
        ]
    if r.failure is None:
        return [f"{r.name}: {r.error}" if r.error else f"{r.name}: holds"]
    first = r.failure.comparisons[0]
    lines = [f"{r.name}: {r.error or first.describe()}"]
    if first.mismatches:
        lines.append(f"  values:  {worst_values(first)}")
    if r.failure.case is not None:
        lines.append(f"  example: {r.failure.case_description}")
    lines += [f"  hint:    {hint}" for hint in r.hints]
    if r.failure.replay:
        lines.append(f"  replay:  {r.failure.replay}")
    return lines


def _scattered(failure: Failure) -> tuple[Comparison, tuple[np.ndarray, np.ndarray]] | None:
    """The failing comparison whose elements a scatter shows, with its values (got, expected): the
    first whose numbers differ and were kept (batch losses have their own picture, `_losses_of`)."""
    losses = _losses_of(failure)
    for c in failure.comparisons:
        if (
            not c.ok
            and c.cause is Cause.MISMATCH
            and c.message is None
            and c.values is not None
            and (losses is None or c is not losses[1])
        ):
            return c, c.values
    return None


def _losses_of(failure: Failure) -> tuple[str, Comparison, tuple[np.ndarray, np.ndarray]] | None:
    """A training check's failing batch-loss comparison, as (the run it is of, the comparison, its
    values: got, expected): the run is the failing case trained longer (Failure.illustration) when
    that run's losses differ, else the failing case itself."""
    runs = (
        [(f"the failing case trained for {failure.illustration[0].epochs} epochs", failure.illustration[1])]
        if failure.illustration
        else []
    )
    runs.append(("the failing case", failure.comparisons))
    for run, comparisons in runs:
        for c in comparisons:
            if c.where.quantity == "batch_losses" and c.values is not None and c.values[1].size >= MIN_DRAWN:
                return run, c, c.values
    return None


def picture_keys(name: str) -> tuple[str, str]:
    """The keys of a failing check's pictures (gradverify.plots.picture_name): its loss curves and
    its got-against-expected picture."""
    return f"{name}.losses", f"{name}.values"


def _architecture(case):
    arch = getattr(case, "arch", None) or getattr(getattr(case, "example", None), "arch", None)
    return arch if getattr(arch, "sizes", None) else None


#: Functions whose compared W and b are the weights themselves (after a step), not gradients.
WEIGHT_VALUES = frozenset({"train", "sgd_momentum_step"})


def network_diagram(failure: Failure | None) -> str | None:
    """The shrunk counterexample's network as Mermaid text, the layer of the first failing
    parameter marked; None when the failure has no network."""
    if failure is None or (arch := _architecture(failure.case)) is None:
        return None
    from gradverify.plots import mermaid_network

    where = next((c.where for c in failure.comparisons if not c.ok and c.where.layer is not None), None)
    return mermaid_network(
        arch.sizes,
        arch.activations,
        arch.loss,
        failing_layer=where.layer if where else None,
        failing_parameter=(("" if where.function in WEIGHT_VALUES else "d") + where.parameter)
        if where and where.parameter
        else None,
    )


#: How a loss picture names the run a training check compares with, by its oracle (the own loop:
#: the implementation's network_gradients and sgd_momentum_step, training_checks.check_train_loop).
REFERENCE_RUNS = {"own loop": "its own steps in a loop"}

#: The fewest elements (or batches) a failing comparison's picture is drawn for: one value is
#: said better by the text beside it.
MIN_DRAWN = 2


def failure_pictures(name: str, failure: Failure | None, *, title: str | None = None) -> "list[Picture]":
    """The pictures of a failing check or item `name`: a training run's batch losses when they
    differ, the implementation's against the reference's (`_losses_of`); and every element of the
    first other failing comparison, got against expected (a heat map beside it for a matrix);
    each when it has at least MIN_DRAWN values. `title`: how the alt texts name it (default
    `name`, which also keys the pictures: picture_keys). Nothing is drawn here."""
    if failure is None:
        return []
    from gradverify import plots

    shown: list[Picture] = []
    losses_key, values_key = picture_keys(name)
    name = title or name
    if (losses := _losses_of(failure)) is not None:
        run, curve, (got_losses, expected_losses) = losses
        oracle = curve.where.oracle or "reference"
        reference = REFERENCE_RUNS.get(oracle, oracle)
        shown.append(
            plots.Picture(
                losses_key,
                f"{name}, {run}: the loss of each of its {expected_losses.size} batches, train's against the "
                f"reference's ({reference}), and their difference against the tolerance, where they part",
                lambda: plots.loss_curves(
                    f"{curve.label}, {run}",
                    got_losses,
                    expected_losses,
                    tolerance_limit(expected_losses, curve.tolerance),
                    reference,
                ),
            )
        )
    scattered = _scattered(failure)
    if scattered is not None and scattered[1][0].size >= MIN_DRAWN:
        c, (got, expected) = scattered
        outside = out_of_tolerance(got, expected, c.tolerance)
        heat = " with a heat map of got − expected" if got.ndim == 2 and min(got.shape) > 1 else ""
        shown.append(
            plots.Picture(
                values_key,
                f"{name}: got against expected for each of its {got.size} elements of {c.label}{heat}; "
                f"{int(outside.sum())} out of tolerance, off the dashed line got = expected (the worst values are in the text above)",
                lambda: plots.expected_vs_got(c.label, got, expected, outside, c.mismatches),
            )
        )
    return shown


def pictures(run: VerifyResult) -> "list[Picture]":
    """What the report can show as pictures: on a passing run the worst relative error of each
    check against its tolerance; for each failing check, `failure_pictures`. Nothing is drawn
    here (gradverify.plots.draw does)."""
    from gradverify import plots

    shown: list[Picture] = []
    if run.passed and run.in_scope:
        rows = [(r.name, r.max_rel_err, TOLERANCES[r.tolerance].rtol, r.passed) for r in run.in_scope]
        shown.append(
            plots.Picture(
                "margins",
                f"Worst relative error of each of the {len(rows)} checks against its relative tolerance, log scale "
                "(the numbers are in the table above)",
                lambda: plots.error_margins(rows),
            )
        )
    for r in run.failed:
        shown += failure_pictures(r.name, r.failure)
    return shown


def write_report(path: str | Path, run: VerifyResult, *, drawing: bool = True) -> Path:
    """The report written to `path` with its pictures beside it, pictures first, each atomically
    (gradverify.plots.write_report); with `drawing` false, the Markdown alone, and matplotlib is
    never imported. A picture that cannot be drawn is said on stderr and left out."""
    from gradverify.plots import write_with_pictures

    return write_with_pictures(path, lambda drawn: render_markdown(run, drawn), (lambda: pictures(run)) if drawing else None)


def render_markdown(run: VerifyResult, drawn: "dict[str, DrawnPicture] | None" = None) -> str:
    """The report. `drawn`: the pictures drawn for it (gradverify.plots.draw on `pictures(run)`),
    linked where they belong; with None, no pictures and no network diagrams (--no-plots)."""
    total = len(run.in_scope)
    failed = len(run.failed)
    verdict = "✅ **PASS**" if run.passed else "❌ **FAIL**"
    examples = sum(r.examples for r in run.results)
    holding = sum(1 for r in run.results if r.passed)
    missing = sum(1 for r in run.results if r.status is CheckStatus.NOT_IMPLEMENTED)
    partly = sum(1 for r in run.results if r.status is CheckStatus.PARTLY_IMPLEMENTED)
    extra = (f"; {missing} not implemented" if missing else "") + (f"; {partly} hold where implemented" if partly else "")
    extra += f"; {len(run.results) - total} not in scope" if total < len(run.results) else ""
    lines = [
        f"# gradverify report: {code(run.impl)}",
        "",
        f"{verdict} — {holding} of {total} checks hold; {failed} fail{extra}. "
        f"{examples} examples in {run.seconds:.1f} s wall, imports included (profile `{run.profile}`, seed {run.seed if run.seed is not None else 'random'}"
        + (f", layer ops in `{run.dtype}`" if run.dtype != "float64" else "")
        + ").",
        "",
    ]
    if not run.passed:
        lines += [f"- {line}" for line in diagnosis(run)] + [""]
    lines += [
        "| check | claim | examples | result | max abs err | max rel err | tolerance | time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in run.results:
        lines.append(
            f"| `{r.name}` | {_cell(r.claim)} | {_examples(r)} | {_status(r)} | {_num(r.max_abs_err)} | "
            f"{_num(r.max_rel_err)} | {TOLERANCES[r.tolerance]} | {r.seconds:.2f} s |"
        )
    lines.append("")
    if drawn and "margins" in drawn:
        lines += [drawn["margins"].markdown(), ""]
    if run.failed:
        lines += ["## Failures", ""]
        for r in run.failed:
            lines += _failure_block(r, drawn)
    profile = PROFILES[run.profile]
    lines += [
        "## Configuration",
        "",
        f"- profile: `{run.profile}` — {profile.description}",
        f"- seed: {run.seed if run.seed is not None else 'random'}",
        f"- budget: {run.budget} hypothesis examples per property of weight 1 (slower properties run a fraction)",
        f"- regression corpus: {_shown_path(run.corpus_dir) if run.corpus_dir else 'not used'}; "
        f"{sum(r.regressions_replayed for r in run.results)} entries replayed first",
        "- tolerances: " + "; ".join(f"{k}: {v}" for k, v in TOLERANCES.items()),
        f"- kinks and saturation: {run.kink_policy}",
        f"- dtype: {dtype_line(run)}",
        f"- scope: {scope_line(run)}",
    ]
    if run.new_regressions:
        lines.append(f"- new counterexamples saved: {', '.join(f'`{p}`' for p in run.new_regressions)}")
    lines += [f"- {p}" for p in run.corpus_problems]
    lines += ["", "## Environment", ""]
    lines += [f"- {k}: {v}" for k, v in run.environment.items()]
    return "\n".join(lines) + "\n"


def dtype_line(run: VerifyResult) -> str:
    """What the run checked the layer ops in, and under which tolerances."""
    if run.dtype == "float64":
        return "`float64` (the layer ops and the MLP protocol)"
    rows = ", ".join(
        f"{name}: {TOLERANCES[name]}" for name in (tolerance_for("autodiff", run.dtype), tolerance_for("finite_diff", run.dtype))
    )
    return (
        f"`{run.dtype}`, as the library declared: the layer ops fed {run.dtype} inputs, their results expected in {run.dtype} "
        f"and compared with the float64 references under {rows}; the MLP protocol in float64"
    )


def scope_line(run: VerifyResult) -> str:
    """What the run checked: the declared components, the adapter, what was left out."""
    declared = f"the components {', '.join(map(code, run.components))}" if run.components is not None else "every component"
    through = f", through the adapter {code(_shown_path(run.adapter))}" if run.adapter else ""
    left = f"; not in scope: {', '.join(map(code, run.not_in_scope))}" if run.not_in_scope else ""
    absent = "".join(f"; {line}" for line in protocol_lines(run))
    return f"{declared}{through}{left}{absent}"


def _shown_path(path: str) -> str:
    """`path` relative to the working folder when it lies inside it (reports are shared)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def step_summary(markdown: str) -> str:
    """The report cut to STEP_SUMMARY_LIMIT bytes (at a line), saying so when it is cut."""
    data = markdown.encode("utf-8")
    if len(data) <= STEP_SUMMARY_LIMIT:
        return markdown
    cut = data[: STEP_SUMMARY_LIMIT - 200].decode("utf-8", errors="ignore").rsplit("\n", 1)[0]
    return cut + "\n\n_(report cut to fit the step summary; the full report is in the report file)_\n"


#: Where a protocol function is defined: (file, first line), or None when unknown.
Locate = Callable[[str], "tuple[str, int] | None"]


def github_annotations(run: VerifyResult, locate: Locate) -> list[str]:
    """One GitHub Actions `::error` workflow command per check that does not pass, placed at the
    implementation's function that the first failing comparison names (`locate` finds it)."""
    lines = []
    for r in run.results:
        if r.status in HOLDING:
            continue
        place = None
        if r.error:
            message = f"the check could not run: {r.error}"
        elif r.failure is not None:
            first = r.failure.comparisons[0]
            message = first.describe()
            if r.failure.case is not None:
                message += f"\nexample: {r.failure.case_description}"
            message += "".join(f"\nhint: {h}" for h in r.hints)
            if first.where.function:
                place = locate(first.where.function)
        else:  # partly implemented
            message = "holds where implemented; not implemented: " + "; ".join(r.not_implemented)
        fields = [f"file={_escape_property(place[0])}", f"line={place[1]}"] if place else []
        fields.append(f"title={_escape_property(f'gradverify: {r.name} ({r.status})')}")
        lines.append(f"::error {','.join(fields)}::{_escape_data(message)}")
    return lines


def _escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_junit(run: VerifyResult) -> str:
    suite = ET.Element(
        "testsuite",
        name=f"gradverify {run.impl}",
        tests=str(len(run.results)),
        failures=str(sum(1 for r in run.results if r.failure or r.not_implemented)),
        errors=str(sum(1 for r in run.results if r.error)),
        skipped=str(sum(1 for r in run.results if not r.in_scope)),
        time=f"{run.seconds:.3f}",
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="dtype", value=run.dtype)
    for r in run.results:
        case = ET.SubElement(suite, "testcase", classname=f"gradverify.{r.kind}", name=r.name, time=f"{r.seconds:.3f}")
        if not r.in_scope:
            ET.SubElement(case, "skipped", message=f"not in scope: needs {', '.join(r.not_in_scope)}")
        elif r.error:
            ET.SubElement(case, "error", message=r.error).text = r.error
        elif r.failure:
            text = "\n".join(c.describe() for c in r.failure.comparisons)
            if r.failure.case is not None:
                text += f"\nexample: {r.failure.case_description}"
            if r.failure.replay:
                text += f"\nreplay: {r.failure.replay}"
            text += "".join(f"\nhint: {h}" for h in r.hints)
            ET.SubElement(case, "failure", message=r.failure.comparisons[0].describe()).text = text
        elif r.not_implemented:  # held where implemented; what it skipped still fails the run
            text = "partly implemented: the cases that need these were skipped: " + "; ".join(r.not_implemented)
            ET.SubElement(case, "failure", message=text).text = text
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
