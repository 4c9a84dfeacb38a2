"""Pictures for the reports: small pure functions that return matplotlib figures or Mermaid text,
and the writing of a report together with its pictures.

matplotlib (Agg backend) is imported only when a picture is drawn (`_pyplot`), so a run that
draws nothing never loads it; the sandbox and its worker never import this module. A picture is
a `Picture` (file key, alt text, a function that draws it); `draw` turns pictures into SVG text
and reports on stderr any that could not be drawn, which then are left out of the report: a
failure to draw never fails a run. `write_report` writes the pictures first, each atomically,
then the Markdown that links them, so a report never links a picture that is not there;
`write_with_pictures` does both for a report that may have pictures.

    pictures = [Picture("margins", "worst relative error per check", lambda: error_margins(rows))]
    drawn = draw(pictures, "reports/verify.md")      # {"margins": DrawnPicture("verify.margins.svg", alt, svg)}
    write_report("reports/verify.md", render(drawn), drawn)
"""

from __future__ import annotations

import io
import math
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import quote

from gradverify.files import write_atomic

#: Width of a report's figures, inches (at 100 dpi about the width of a GitHub README column).
WIDTH = 7.0


@dataclass(frozen=True)
class Picture:
    """A picture a report may show: `key` names its file (`<report stem>.<key>.svg`), `alt` is
    its alt text, `figure()` draws it (a matplotlib Figure)."""

    key: str
    alt: str
    figure: Callable[[], Any]


@dataclass(frozen=True)
class DrawnPicture:
    #: the file name, beside the report (the link is relative to it)
    name: str
    alt: str
    svg: str

    def markdown(self) -> str:
        """The image link, with its alt text (brackets escaped so the link stays one link)."""
        alt = self.alt.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace("\n", " ")
        return f"![{alt}]({quote(self.name)})"


def _pyplot():
    """matplotlib's pyplot on the Agg backend, with reproducible SVG output (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update(
        {
            "svg.hashsalt": "gradverify",
            "svg.fonttype": "path",
            "font.size": 9,
            "axes.titlesize": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt


def svg_text(figure: Any) -> str:
    """A figure as SVG text, without a creation date (the same figure gives the same bytes); the
    figure is closed."""
    plt = _pyplot()
    buffer = io.StringIO()
    try:
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    finally:
        plt.close(figure)
    return buffer.getvalue()


def picture_name(report: str | Path, key: str) -> str:
    """The file name of picture `key` of the report at `report`: beside it, `<stem>.<key>.svg`
    (in the key, anything but letters, digits, `.`, `-` and `_` becomes `_`: a key made from a
    rubric item's name stays one file name in that folder)."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in ".-_") else "_" for ch in key)
    return f"{Path(report).stem}.{safe}.svg"


def draw(pictures: Sequence[Picture], report: str | Path) -> dict[str, DrawnPicture]:
    """Each picture drawn as SVG, by key; one that cannot be drawn is left out and said on stderr."""
    drawn: dict[str, DrawnPicture] = {}
    for picture in pictures:
        try:
            drawn[picture.key] = DrawnPicture(picture_name(report, picture.key), picture.alt, svg_text(picture.figure()))
        except Exception as exc:  # noqa: BLE001 - a picture is never worth a failed run
            print(
                f"gradverify: could not draw the picture {picture.key!r} ({type(exc).__name__}: {exc}); "
                "the report is written without it",
                file=sys.stderr,
            )
    return drawn


def write_report(path: str | Path, markdown: str, drawn: dict[str, DrawnPicture] | None = None) -> Path:
    """The pictures beside `path`, each written atomically, then the Markdown: a reader who sees
    the new report finds every picture it links. A picture that cannot be written is said on
    stderr; its link would dangle, so its alt text is shown instead."""
    path = Path(path)
    for picture in (drawn or {}).values():
        try:
            write_atomic(path.parent / picture.name, picture.svg)
        except OSError as exc:
            print(
                f"gradverify: could not write the picture {picture.name} ({exc}); the report is written without it",
                file=sys.stderr,
            )
            markdown = markdown.replace(picture.markdown(), f"_(picture not written: {picture.alt})_")
    return write_atomic(path, markdown)


def write_with_pictures(path: str | Path, render: Callable[[Any], str], pictures: Callable[[], list] | None) -> Path:
    """The report `render(drawn)` at `path`, its `pictures()` drawn and written beside it first
    (draw and write_report: one that cannot be drawn is said on stderr and left out). With
    `pictures` None, `render(None)` alone, and matplotlib is never imported."""
    if pictures is None:
        return write_atomic(path, render(None))
    drawn = draw(pictures(), path)
    return write_report(path, render(drawn), drawn)


# --- the figures ---------------------------------------------------------------------------------


def error_margins(rows: Sequence[tuple], *, what: str = "check") -> Any:
    """Worst relative error per check (or rubric item: `what`) against its relative tolerance, log
    scale; red where it failed.

    rows: (check, worst relative error, relative tolerance, passed[, note]). An error of 0 is
    drawn at the axis' floor (marked "0"); the tolerance is a tick on each row. A failure with no
    error to measure (a wrong shape, an exception: error NaN) gets no bar but a red × at the floor,
    labelled with its note (its cause)."""
    plt = _pyplot()
    floor = 1e-18
    rows = rows[::-1]
    names = [r[0] for r in rows]
    unmeasured = [r[1] != r[1] for r in rows]  # NaN: no number to draw
    errors = [floor if missing else max(r[1], floor) for r, missing in zip(rows, unmeasured)]
    tolerances = [r[2] for r in rows]
    colours = ["#2a9d8f" if r[3] else "#e63946" for r in rows]
    figure, ax = plt.subplots(figsize=(WIDTH, 0.2 * len(rows) + 1.1))
    ys = range(len(rows))
    ax.barh(
        list(ys),
        [0.0 if m else e for e, m in zip(errors, unmeasured)],
        color=colours,
        height=0.6,
        left=floor,
        label="worst relative error",
    )
    ticks = [(y, t) for y, t in zip(ys, tolerances) if t > 0]
    ax.scatter(
        [t for _, t in ticks],
        [y for y, _ in ticks],
        marker="|",
        s=180,
        color="black",
        linewidths=2,
        label="relative tolerance (rtol)",
        zorder=3,
    )
    marks = [y for y, missing in zip(ys, unmeasured) if missing]
    if marks:
        ax.scatter(
            [floor * 3] * len(marks), marks, marker="x", s=40, color="#e63946", label="failed with no error to measure", zorder=3
        )
    for y, (row, error, missing, tolerance) in enumerate(zip(rows, errors, unmeasured, tolerances)):
        if missing:
            ax.text(floor * 10, y, f"no error to measure: {row[4] if len(row) > 4 else 'failed'}", va="center", fontsize=7)
        elif row[1] == 0:
            ax.text(floor * 2, y, "0", va="center", fontsize=7)
        if tolerance <= 0:
            ax.text(error * (300 if row[1] == 0 else 3), y, "absolute tolerance only", va="center", fontsize=7)
    ax.set_xscale("log")
    ax.set_xlim(floor, max([1.0, *errors, *tolerances]) * 10)
    ax.set_yticks(list(ys), names, fontsize=7)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("worst relative error |got − expected| / |expected| (log scale)")
    ax.set_title(f"Margin of each {what}: bar = worst relative error, tick = tolerance")
    figure.tight_layout()
    figure.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=7, frameon=False)  # under the axis
    return figure


#: Elements of a failing comparison named beside their point in the scatter (the worst first).
NAMED = 5


#: Values past this are drawn as off the axis: an axis spanning them shows nothing else.
DRAWN_LIMIT = 1e150


def _drawable(values: Any) -> Any:
    """Which values can be drawn: finite and within ±DRAWN_LIMIT (booleans of their shape)."""
    import numpy as np

    return np.isfinite(values) & (np.abs(np.nan_to_num(values, nan=np.inf)) <= DRAWN_LIMIT)


def _finite_range(*arrays: Any) -> tuple[float, float]:
    """(low, high) of the drawable values, padded by 15%; ValueError when there are none."""
    import numpy as np

    values = np.concatenate([np.ravel(a) for a in arrays])
    values = values[_drawable(values)]
    if values.size == 0:
        raise ValueError("no finite values to draw")
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.15 or abs(high) * 0.15 or 1.0
    return low - pad, high + pad


def _off(count: int) -> str:
    return f" ({count} value{'s' if count > 1 else ''} not finite or past {DRAWN_LIMIT:g}: off the plot)" if count else ""


def expected_vs_got(label: str, got: Any, expected: Any, outside: Any, worst: Sequence[tuple[tuple, float, float]] = ()) -> Any:
    """Every element of a failing comparison, got against expected, with the line got = expected:
    elements within the tolerance grey, those `outside` it red, the `worst` (index, got, expected)
    named. For a matrix, beside it a heat map of got − expected laid out as the matrix (rows i,
    columns j), elements out of tolerance crossed, so a wrong row, column or transpose shows as a
    pattern.

    got, expected: arrays of one shape (Comparison.values); outside: booleans of that shape
    (references.compare.out_of_tolerance)."""
    import numpy as np

    plt = _pyplot()
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    outside = np.asarray(outside, dtype=bool)
    low, high = _finite_range(got, expected)
    matrix = got.ndim == 2 and min(got.shape) > 1
    if matrix:
        figure, (ax, heat) = plt.subplots(1, 2, figsize=(WIDTH + 1.0, 3.6), gridspec_kw={"width_ratios": [1, 1.15]})
    else:
        figure, ax = plt.subplots(figsize=(4.4, 3.6))
    drawable = (_drawable(got) & _drawable(expected)).ravel()
    flat_e, flat_g = expected.ravel()[drawable], got.ravel()[drawable]
    flat_out = outside.ravel()[drawable]
    if (~flat_out).any():
        ax.scatter(flat_e[~flat_out], flat_g[~flat_out], s=14, color="#9aa5b1", zorder=2, label="within tolerance")
    ax.scatter(flat_e[flat_out], flat_g[flat_out], s=18, color="#e63946", zorder=3, label="out of tolerance")
    named: list[tuple[float, float]] = []
    for index, g, e in list(worst)[:NAMED]:
        near = any(abs(e - e0) < 0.08 * (high - low) and abs(g - g0) < 0.05 * (high - low) for e0, g0 in named)
        if _drawable(g) and _drawable(e) and not near:  # a name over another's would hide both
            ax.annotate(
                f"[{', '.join(map(str, index))}]" if index else "value",
                (e, g),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7,
            )
            named.append((e, g))
    ax.plot([low, high], [low, high], color="#555555", linewidth=1, linestyle="--", label="got = expected", zorder=1)
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.locator_params(nbins=4)
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlabel("expected (reference)")
    ax.set_ylabel("got (implementation)")
    ax.set_title(
        textwrap.fill(f"{label}: {int(outside.sum())} of {outside.size} elements off{_off(int((~drawable).sum()))}", 48),
        fontsize=9,
    )
    ax.legend(fontsize=7, frameon=False)
    if matrix:
        _difference_map(figure, heat, got, expected, outside)
    figure.tight_layout()
    return figure


def _difference_map(figure: Any, heat: Any, got: Any, expected: Any, outside: Any) -> None:
    """got − expected as a heat map laid out as the matrix (rows i, columns j), symmetric about 0,
    the elements out of tolerance crossed."""
    import numpy as np

    with np.errstate(invalid="ignore", over="ignore"):
        difference = got - expected
    difference[~np.isfinite(difference)] = np.nan
    limit = float(np.nanmax(np.abs(difference))) if np.isfinite(difference).any() else 1.0
    limit = limit or 1.0
    image = heat.imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    rows, cols = np.nonzero(outside)
    heat.scatter(cols, rows, marker="x", s=16, color="black", linewidths=0.8, label="out of tolerance")
    heat.set_xlabel("column j")
    heat.set_ylabel("row i")
    heat.xaxis.get_major_locator().set_params(integer=True)
    heat.yaxis.get_major_locator().set_params(integer=True)
    heat.set_title("got − expected at [i, j] (× = out of tolerance)", fontsize=9)
    figure.colorbar(image, ax=heat, shrink=0.85, label="got − expected")


def loss_curves(label: str, got: Any, expected: Any, limit: Any, reference: str) -> Any:
    """A training run's loss per batch: the implementation's and the reference's on one plot (log
    scale when they span more than a factor 100), and below it their difference against the
    tolerance (log scale), so where the runs part shows. A loss that is not finite or past
    DRAWN_LIMIT is left off the top plot, and the title counts it.

    got, expected: the batch losses, shape (batches,) (Comparison.values); limit: the largest
    difference each may have, same shape (references.compare.tolerance_limit)."""
    import numpy as np

    plt = _pyplot()
    got, expected = np.asarray(got, dtype=np.float64).ravel(), np.asarray(expected, dtype=np.float64).ravel()
    limit = np.asarray(limit, dtype=np.float64).ravel()
    top_got, top_expected = np.where(_drawable(got), got, np.nan), np.where(_drawable(expected), expected, np.nan)
    off = int(np.isnan(top_got).sum() + np.isnan(top_expected).sum())
    steps = np.arange(1, got.size + 1)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(WIDTH, 4.4), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    top.plot(
        steps,
        top_expected,
        color="#457b9d",
        marker="o",
        markersize=3,
        linewidth=1.5,
        label=textwrap.fill(f"reference ({reference})", 30),
    )
    top.plot(steps, top_got, color="#e63946", marker="s", markersize=3, linewidth=1.2, linestyle="--", label="implementation")
    both = np.concatenate([top_got, top_expected])
    both = both[np.isfinite(both)]
    if both.size and both.min() > 0 and both.max() > 100 * both.min():
        top.set_yscale("log")
    top.set_ylabel("batch loss")
    top.set_title(textwrap.fill(f"{label}: the loss of each batch, before its step{_off(off)}", 90), fontsize=9)
    top.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside: curves fill the plot
    with np.errstate(invalid="ignore", over="ignore"):
        difference = np.abs(got - expected)
    floor = max(float(np.min(limit[limit > 0], initial=1e-16)) * 1e-3, 1e-300)
    zero = "\n(0 drawn at the bottom)" if np.any(difference == 0) else ""
    bottom.semilogy(
        steps,
        np.clip(np.nan_to_num(difference, nan=DRAWN_LIMIT, posinf=DRAWN_LIMIT), floor, DRAWN_LIMIT),
        color="#e63946",
        marker="s",
        markersize=3,
        linewidth=1.2,
        label=f"|implementation − reference|{zero}",
    )
    bottom.semilogy(steps, limit, color="black", linestyle=":", linewidth=1, label="tolerance")
    bottom.set_xlabel("batch (in training order, epochs one after another)")
    bottom.set_ylabel("difference")
    bottom.xaxis.get_major_locator().set_params(integer=True)
    bottom.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    return figure


def score_histogram(scores: Sequence[float], maximum: float) -> Any:
    """How many students got each score: one bar per whole point up to 20 points (a bar centred
    on each score, so full marks stand alone), else ten equal bins."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(WIDTH, 2.8))
    top = math.ceil(max(maximum, *scores, 1))
    if top <= 20:
        edges = [i - 0.5 for i in range(top + 2)]
    else:
        edges = [top * i / 10 for i in range(11)]
    ax.hist(scores, bins=edges, color="#457b9d", edgecolor="white")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(f"score (out of {maximum:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"Scores of {len(scores)} submissions")
    figure.tight_layout()
    return figure


def pass_rates(rows: Sequence[tuple[str, float]]) -> Any:
    """The share of students passing each rubric item, most-missed at the top. rows: (item, rate 0..1)."""
    plt = _pyplot()
    ordered = sorted(rows, key=lambda r: r[1])[::-1]  # barh draws bottom-up: most missed ends on top
    figure, ax = plt.subplots(figsize=(WIDTH, 0.3 * len(rows) + 1.0))
    ys = list(range(len(ordered)))
    ax.barh(ys, [100 * r[1] for r in ordered], color="#457b9d", height=0.6)
    for y, (_, rate) in zip(ys, ordered):
        ax.text(min(100 * rate + 1, 93), y, f"{100 * rate:.0f}%", va="center", fontsize=7)
    ax.set_yticks(ys, [r[0] for r in ordered], fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who pass the item (%)")
    ax.set_title("Pass rate per rubric item, most missed first")
    figure.tight_layout()
    return figure


def benchmark_chart(per_case: dict[str, dict], examples_per_second: float, stages: dict[str, float]) -> Any:
    """Left: milliseconds per checked case for ours and gradcheck/check_grads, per network (log
    scale). Right: where the throughput run's time goes, with its examples per second."""
    plt = _pyplot()
    series = [
        ("ours (three-way)", "ours_three_way_ms", "#2a9d8f"),
        ("ours in a batch", "ours_batched_per_case_ms", "#8ab17d"),
        ("gradcheck slow", "gradcheck_slow_ms", "#e63946"),
        ("gradcheck fast", "gradcheck_fast_ms", "#f4a261"),
        ("check_grads", "jax_check_grads_ms", "#457b9d"),
    ]
    figure, (left, right) = plt.subplots(1, 2, figsize=(WIDTH + 2.5, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    names = list(per_case)
    width = 0.8 / len(series)
    for i, (label, key, colour) in enumerate(series):
        left.bar(
            [x + (i - (len(series) - 1) / 2) * width for x in range(len(names))],
            [per_case[n][key] for n in names],
            width=width,
            label=label,
            color=colour,
        )
    left.set_yscale("log")
    left.set_xticks(range(len(names)), [f"{n}\n{per_case[n]['parameters']} params" for n in names])
    left.set_ylabel("milliseconds per checked case (log scale)")
    left.set_title("Per case: ours vs gradcheck and check_grads")
    left.legend(fontsize=7, frameon=False)
    labels = list(stages)[::-1]
    right.barh(range(len(labels)), [stages[s] for s in labels], color="#457b9d", height=0.6)
    right.set_yticks(range(len(labels)), labels, fontsize=7)
    right.set_xlabel("seconds")
    right.set_title(f"Throughput: {examples_per_second:.0f} examples/s; time by stage")
    figure.tight_layout()
    return figure


# --- Mermaid (text in the Markdown; GitHub and GitLab draw it) -----------------------------------


def mermaid_network(
    sizes: Sequence[int],
    activations: Sequence[str],
    loss: str,
    *,
    failing_layer: int | None = None,
    failing_parameter: str | None = None,
) -> str:
    """A network as a Mermaid flowchart: the input, one node per layer (units, activation), the
    loss; the layer whose parameter fails is marked (red, with the parameter's name)."""
    lines = ["```mermaid", "flowchart LR", f'  x["input · {int(sizes[0])} feature{"s" if sizes[0] != 1 else ""}"]']
    previous = "x"
    for i, (units, activation) in enumerate(zip(sizes[1:], activations)):
        mark = ""
        if failing_layer == i:
            mark = f"<br/>⚠ {failing_parameter} fails" if failing_parameter else "<br/>⚠ fails here"
        lines.append(f'  L{i}["layers[{i}] · {int(units)} unit{"s" if units != 1 else ""} · {_safe(activation)}{mark}"]')
        lines.append(f"  {previous} --> L{i}")
        previous = f"L{i}"
    lines.append(f'  loss(["loss · {_safe(loss)}"])')
    lines.append(f"  {previous} --> loss")
    if failing_layer is not None and 0 <= failing_layer < len(activations):
        lines.append(f"  style L{failing_layer} fill:#fde2e4,stroke:#e63946,stroke-width:2px")
    lines.append("```")
    return "\n".join(lines)


def _safe(text: str) -> str:
    """A name inside a quoted Mermaid label: no quotes, brackets or markup."""
    return "".join(ch for ch in str(text) if ch.isalnum() or ch in "_-. ")
