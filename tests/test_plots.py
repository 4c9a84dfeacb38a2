"""Pictures in the reports: each is written beside its report, linked with a relative path and
described in alt text; without pictures (--no-plots) or when drawing fails the full report is
still written; a run that draws nothing never imports matplotlib. Results are constructed here
(no grading runs); the one verify run checks one fixed property."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from gradverify import plots
from gradverify.properties.cases import Architecture, Example
from gradverify.cli import main
from gradverify.report import pictures, render_markdown
from gradverify.references.compare import TOLERANCES, Comparison, Where
from gradverify.results import CheckKind, Failure, PropertyResult, Source, VerifyResult

IMAGE = re.compile(r"!\[((?:\\.|[^\]\\])*)\]\(([^)]+)\)")


def _run(*results: PropertyResult) -> VerifyResult:
    return VerifyResult(impl="impl", profile="ci", seed=0, budget=150, started="2026-11-26", results=list(results))


def _passing(name: str = "dense_matches_references", rel: float = 3e-13) -> PropertyResult:
    return PropertyResult(
        name=name, claim="a claim", kind=CheckKind.PROPERTY, tolerance="autodiff", examples=10, max_abs_err=1e-14, max_rel_err=rel
    )


def _failing() -> PropertyResult:
    expected = np.array([[0.5, 0.31, -0.2], [0.1, 0.4, 0.02]])
    got = expected.copy()
    got[0, 1], got[1, 2] = 0.12, -0.05
    c = Comparison(
        Where(oracle="jax", function="network_gradients", layer=0, parameter="W"),
        ok=False,
        tolerance=TOLERANCES["autodiff"],
        max_abs_err=0.19,
        max_rel_err=0.6,
        shape=(2, 3),
        mismatches=[((0, 1), 0.12, 0.31), ((1, 2), -0.05, 0.02)],
        values=(got, expected),
    )
    case = Example(Architecture((2, 3, 1), ("sigmoid", "identity"), "mse", batch=2), seed=7)
    failure = Failure(comparisons=[c], case=case, case_description=case.describe(), shapes="W0 (2, 3)", source=Source.HYPOTHESIS)
    return PropertyResult(
        name="network_gradients_match_references",
        claim="the gradients agree",
        kind=CheckKind.PROPERTY,
        tolerance="autodiff",
        examples=3,
        max_abs_err=0.19,
        max_rel_err=0.6,
        failure=failure,
    )


def _images(markdown: str, folder: Path) -> list[tuple[str, str]]:
    found = IMAGE.findall(markdown)
    for alt, link in found:
        assert not Path(link).is_absolute() and (folder / unquote(link)).is_file(), link  # a URL: spaces are %20
        assert len(alt.split()) >= 5, alt  # says what the picture shows
    return found


def _write(run: VerifyResult, path: Path) -> str:
    drawn = plots.draw(pictures(run), path)
    plots.write_report(path, render_markdown(run, drawn), drawn)
    return path.read_text(encoding="utf-8")


def test_passing_report_links_its_error_margin_picture(tmp_path):
    path = tmp_path / "out" / "verify.md"
    markdown = _write(_run(_passing(), _passing("losses_match_references", 0.0)), path)
    [(alt, link)] = _images(markdown, path.parent)
    assert link == "verify.margins.svg" and "tolerance" in alt
    assert (path.parent / link).read_text().startswith("<?xml")
    assert "| `losses_match_references` |" in markdown  # the numbers stay in the table


def test_failing_report_shows_values_and_the_network_with_the_failing_parameter(tmp_path):
    """The wording is the point: the values picture's alt text (all a reader who cannot see it
    gets) and the network diagram's labels, each checked here alone."""
    path = tmp_path / "verify.md"
    markdown = _write(_run(_passing(), _failing()), path)
    [(alt, link)] = _images(markdown, tmp_path)
    assert "layers\\[0\\].W" in alt and link == "verify.network_gradients_match_references.values.svg"
    assert "each of its 6 elements" in alt and "heat map" in alt and "2 out of tolerance" in alt
    diagram = markdown.split("```mermaid", 1)[1].split("```", 1)[0]
    assert "layers[0] · 3 units · sigmoid<br/>⚠ dW fails" in diagram and "loss · mse" in diagram
    assert "style L0 fill" in diagram
    assert "| [0, 1] | 0.12 | 0.31 |" in markdown


def test_without_pictures_the_report_is_complete_and_links_none(tmp_path):
    run = _run(_passing(), _failing())
    plain = render_markdown(run)
    assert not IMAGE.search(plain) and "```mermaid" not in plain
    drawn = _write(run, tmp_path / "verify.md")
    assert IMAGE.sub("", drawn).replace("\n", "").count("|") == plain.replace("\n", "").count("|")


def test_a_picture_that_cannot_be_drawn_is_left_out_and_said(tmp_path, capsys):
    def broken():
        raise RuntimeError("no fonts")

    drawn = plots.draw([plots.Picture("margins", "worst relative errors of the checks", broken)], tmp_path / "r.md")
    assert drawn == {}
    assert "could not draw the picture 'margins'" in capsys.readouterr().err


def test_verify_writes_its_report_when_drawing_fails(tmp_path, monkeypatch, capsys):
    def broken(rows):
        raise RuntimeError("drawing is broken")

    monkeypatch.setattr(plots, "error_margins", broken)
    report = tmp_path / "r.md"
    assert (
        main(
            [
                "verify",
                "--property",
                "kink_subgradients",
                "--profile",
                "ci",
                "--no-save",
                "--quiet",
                "--regressions",
                str(tmp_path / "corpus"),
                "--report",
                str(report),
            ]
        )
        == 0
    )
    assert "| `kink_subgradients` |" in report.read_text() and not IMAGE.search(report.read_text())
    assert list(tmp_path.glob("*.svg")) == []
    assert "drawing is broken" in capsys.readouterr().err


def test_verify_with_no_plots_never_imports_matplotlib(tmp_path):
    report = tmp_path / "r.md"
    code = (
        "import sys; from gradverify.cli import main; "
        f"code = main(['verify', '--property', 'kink_subgradients', '--profile', 'ci', '--no-save', '--quiet', "
        f"'--regressions', {str(tmp_path / 'corpus')!r}, '--no-plots', '--report', {str(report)!r}]); "
        "assert code == 0; assert not [m for m in sys.modules if m.split('.')[0] == 'matplotlib']"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=tmp_path)
    assert "| `kink_subgradients` |" in report.read_text() and list(tmp_path.glob("*.svg")) == []


def test_svg_is_the_same_bytes_for_the_same_figure():
    rows = [("a", 1e-12, 1e-9, True), ("b", 0.0, 0.0, True)]
    assert plots.svg_text(plots.error_margins(rows)) == plots.svg_text(plots.error_margins(rows))


def test_mermaid_labels_take_no_markup_from_names():
    text = plots.mermaid_network((1, 1), ('x"]; click L0 "evil',), "mse")
    assert "· x click L0 evil" in text and 'x"]' not in text


def _doc(name: str, passed: dict[str, bool]) -> dict:
    tests = [
        {
            "name": item.title(),
            "score": float(ok),
            "status": "passed" if ok else "failed",
            "extra_data": {"item": item, "cause": "" if ok else "loss: values differ", "failure": None},
        }
        for item, ok in passed.items()
    ]
    return {
        "score": sum(t["score"] for t in tests),
        "tests": tests,
        "extra_data": {"submission": f"{name}.py", "max_score": len(tests), "load_error": None},
    }


def test_class_summary_links_the_score_histogram_and_the_pass_rates(tmp_path):
    from gradverify.grading.feedback import class_summary, summary_pictures

    docs = [
        _doc("a", {"sse": True, "sigmoid": True}),
        _doc("b", {"sse": False, "sigmoid": True}),
        _doc("c", {"sse": False, "sigmoid": False}),
    ]
    path = tmp_path / "summary.md"
    drawn = plots.draw(summary_pictures(docs), path)
    plots.write_report(path, class_summary(docs, drawn=drawn), drawn)
    markdown = path.read_text()
    assert [link for _, link in _images(markdown, tmp_path)] == ["summary.scores.svg", "summary.items.svg"]
    assert "| a | 2 |" in markdown
    assert markdown.split("| student", 1)[1] == class_summary(docs).split("| student", 1)[1]  # tables unchanged


def test_pass_rates_put_the_most_missed_item_first():
    figure = plots.pass_rates([("Sse", 1 / 3), ("Sigmoid", 2 / 3), ("Dense", 1.0)])
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    plots.svg_text(figure)
    assert labels[-1] == "Sse" and labels[0] == "Dense"  # the top row is drawn last


def test_benchmarks_report_links_its_chart(tmp_path):
    import json

    from benchmarks import bench

    data = json.loads((Path(__file__).resolve().parents[1] / "reports" / "benchmarks.json").read_text())
    markdown = bench.write(tmp_path, data)
    [(alt, link)] = _images((tmp_path / "benchmarks.md").read_text(), tmp_path)
    assert link == "benchmarks.chart.svg" and "gradcheck" in alt and "check_grads" in alt
    assert bench.render(data) == re.sub(r"\n{3,}", "\n\n", IMAGE.sub("", markdown))  # the tables need no chart


@pytest.mark.parametrize("no_plots", [False, True])
def test_class_grading_writes_the_summary_with_or_without_pictures(tmp_path, monkeypatch, no_plots):
    import argparse

    from gradverify.grading import classroom

    docs = {"a": _doc("a", {"sse": True, "sigmoid": True}), "b": _doc("b", {"sse": False, "sigmoid": True})}
    monkeypatch.setattr(classroom, "_grade", lambda student, out, args, limit: (student.name, docs[student.name], ""))
    files = [classroom.Student(name, tmp_path / f"{name}.py") for name in ("a", "b")]
    args = argparse.Namespace(
        rubric=None,
        timeout=None,
        out=str(tmp_path / "grades"),
        jobs=1,
        quiet=True,
        report=None,
        results_json=None,
        fail_under=None,
        adapter=None,
        no_plots=no_plots,
        sandbox_proven=True,
    )
    assert classroom.grade_many(files, args) == 0
    summary = tmp_path / "grades" / "summary.md"
    assert "| a | 2 |" in summary.read_text()
    assert len(_images(summary.read_text(), summary.parent)) == (0 if no_plots else 2)
    assert len(list(summary.parent.glob("*.svg"))) == (0 if no_plots else 2)


def test_class_grading_writes_the_summary_when_drawing_fails(tmp_path, monkeypatch, capsys):
    import argparse

    from gradverify.grading import classroom

    def broken(*a, **k):
        raise RuntimeError("drawing is broken")

    monkeypatch.setattr(plots, "score_histogram", broken)
    monkeypatch.setattr(
        classroom, "_grade", lambda student, out, args, limit: (student.name, _doc(student.name, {"sse": True}), "")
    )
    args = argparse.Namespace(
        rubric=None,
        timeout=None,
        out=str(tmp_path),
        jobs=1,
        quiet=True,
        report=None,
        results_json=None,
        fail_under=None,
        adapter=None,
        no_plots=False,
        sandbox_proven=True,
    )
    assert classroom.grade_many([classroom.Student("a", tmp_path / "a.py")], args) == 0
    assert [link for _, link in _images((tmp_path / "summary.md").read_text(), tmp_path)] == ["summary.items.svg"]
    assert "drawing is broken" in capsys.readouterr().err


# --- a student's grade report, and the pictures of a failing case ----------------------------------


def _losses_failure(batches: int = 20) -> Failure:
    """A failing training case whose longer run (Failure.illustration) has batch losses that part."""
    from dataclasses import replace

    from gradverify.properties.cases import TrainCase
    from gradverify.properties.training_checks import longer

    case = TrainCase(Example(Architecture((1, 1), ("identity",), "mse", batch=1), seed=0), 0.01, 0.5, 1, 1)
    expected = np.linspace(0.5, 0.3, batches)
    got = expected * np.linspace(1.0, 0.6, batches)
    losses = Comparison(
        Where(oracle="torch.optim.SGD", function="train", quantity="batch_losses"),
        ok=False,
        tolerance=TOLERANCES["autodiff"],
        max_abs_err=0.1,
        max_rel_err=0.4,
        shape=(batches,),
        mismatches=[((batches - 1,), got[-1], expected[-1])],
        values=(got, expected),
    )
    weight = Comparison(
        Where(oracle="torch.optim.SGD", function="train", layer=0, parameter="W", quantity="trained"),
        ok=False,
        tolerance=TOLERANCES["autodiff"],
        max_abs_err=0.01,
        max_rel_err=0.1,
        shape=(1, 1),
        mismatches=[((0, 0), 0.11, 0.1)],
        values=(np.array([[0.11]]), np.array([[0.1]])),
    )
    failure = Failure(comparisons=[weight], case=case, case_description=case.describe(), shapes="", source=Source.HYPOTHESIS)
    failure.illustration = (longer(case), [replace(losses)])
    return failure


def test_a_failing_training_check_shows_the_loss_curves_of_its_longer_run(tmp_path):
    """The wording is the point: the loss curves' alt text, checked here alone."""
    result = PropertyResult(
        name="train_matches_torch_sgd",
        claim="train follows SGD",
        kind=CheckKind.PROPERTY,
        tolerance="autodiff",
        examples=2,
        max_abs_err=0.01,
        max_rel_err=0.1,
        failure=_losses_failure(),
    )
    markdown = _write(_run(result), tmp_path / "verify.md")
    [(alt, link)] = _images(markdown, tmp_path)  # the trained weight has one element: the text says it all
    assert link == "verify.train_matches_torch_sgd.losses.svg"
    assert "trained for 20 epochs" in alt and "each of its 20 batches" in alt and "torch.optim.SGD" in alt


def test_a_single_value_gets_no_scatter():
    failure = _losses_failure()
    failure.illustration = None  # no longer run: the failing case alone has one weight and no batch losses
    from gradverify.report import failure_pictures

    assert failure_pictures("train_matches_torch_sgd", failure) == []


def test_loss_curves_and_scatter_draw_values_that_are_not_finite_or_huge():
    """The wording is the point: a picture's title is the only place that says how many values it could not draw."""
    got = np.array([0.5, 0.4, 1e200, np.inf, np.nan])
    expected = np.array([0.5, 0.45, 0.4, 0.35, 0.3])
    figure = plots.loss_curves("train batch_losses", got, expected, np.full(5, 1e-9), "torch.optim.SGD")
    assert "3 values not finite or past 1e+150" in figure.axes[0].get_title().replace("\n", " ")
    assert plots.svg_text(figure).startswith("<?xml")
    scatter = plots.expected_vs_got(
        "W", got.reshape(5, 1), expected.reshape(5, 1), np.ones((5, 1), bool), [((2, 0), 1e200, 0.4), ((1, 0), 0.4, 0.45)]
    )
    assert "3 values not finite" in scatter.axes[0].get_title().replace("\n", " ")
    assert plots.svg_text(scatter).startswith("<?xml")


def test_a_matrix_gets_a_heat_map_laid_out_as_the_matrix():
    expected = np.arange(6.0).reshape(2, 3)
    got = expected.T.reshape(2, 3)  # a transpose flattened back: the pattern is in the heat map
    figure = plots.expected_vs_got("dW", got, expected, got != expected)
    heat = figure.axes[1]
    assert heat.get_xlabel() == "column j" and heat.get_ylabel() == "row i"
    assert heat.images[0].get_array().shape == (2, 3)
    plots.svg_text(figure)


def _item(name: str, check: str = "activation", target: str | None = "sigmoid"):
    from gradverify.grading.rubric import Item

    return Item(name, name.replace("_", " "), check, 5.0, target)


def _grade_result():
    from gradverify.grading.items import GradeResult, ItemResult
    from gradverify.grading.rubric import Rubric

    network = _failing().failure
    items = [
        ItemResult(_item("sigmoid"), True, 5.0, examples=30, max_rel_err=2e-16, tolerance="autodiff"),
        ItemResult(
            _item("network", "network", None),
            False,
            0.0,
            reason="layers[0].W differs",
            details=["Smallest failing case: …"],
            examples=3,
            max_rel_err=0.6,
            tolerance="autodiff",
            counterexample=network,
            failed_at="W",
            cause=network.comparisons[0].cause,
        ),
        ItemResult(
            _item("train/loop ä", "train_loop", None),
            False,
            0.0,
            reason="batch_losses differ",
            details=["…"],
            examples=2,
            max_rel_err=0.4,
            tolerance="autodiff",
            counterexample=_losses_failure(),
            cause=network.comparisons[0].cause,
        ),
        ItemResult(_item("tanh"), False, 0.0, reason="activation_backward not defined", cause=None),
    ]
    return GradeResult("student one.py", Rubric("course", tuple(r.item for r in items)), items, sandbox="bubblewrap")


def test_a_grade_report_shows_the_margins_and_each_failed_items_pictures(tmp_path):
    from gradverify.grading.feedback import render_submission, submission_pictures

    result = _grade_result()
    path = tmp_path / "student one.md"
    drawn = plots.draw(submission_pictures(result), path)
    plots.write_report(path, render_submission(result, drawn), drawn)
    markdown = path.read_text()
    links = [link for _, link in _images(markdown, tmp_path)]
    assert links == [
        "student%20one.margins.svg",
        "student%20one.network.values.svg",
        "student%20one.train_loop__.losses.svg",
    ]  # an item's name never leaves the folder
    assert "```mermaid" in markdown.split("<b>network</b>", 1)[1].split("</details>", 1)[0]
    margins = IMAGE.findall(markdown)[0][0]
    assert "3 items checked" in margins  # the item not implemented has no error to show


def test_a_failure_with_no_error_to_measure_is_a_labelled_mark_not_a_zero_error_bar(monkeypatch):
    """A shape failure compares no numbers (its item's worst error stays 0.0): the margins chart
    gets NaN and the cause for it, and draws no bar but a red × with the cause beside it."""
    from gradverify.grading.feedback import submission_pictures
    from gradverify.grading.items import GradeResult, ItemResult
    from gradverify.grading.rubric import Rubric
    from gradverify.references.compare import Cause

    items = [
        ItemResult(_item("sigmoid"), True, 5.0, examples=30, max_rel_err=2e-16, tolerance="autodiff"),
        ItemResult(
            _item("dense", "dense", None), False, 0.0, examples=1, max_rel_err=0.0, tolerance="autodiff", cause=Cause.SHAPE
        ),
    ]
    drawn_rows = []
    monkeypatch.setattr(plots, "error_margins", lambda rows, **_: drawn_rows.extend(rows))
    (margins,) = [
        p
        for p in submission_pictures(GradeResult("s.py", Rubric("c", tuple(r.item for r in items)), items))
        if p.key == "margins"
    ]
    margins.figure()
    shape = drawn_rows[1]
    assert shape[0] == "dense" and np.isnan(shape[1]) and shape[3] is False and shape[4] == Cause.SHAPE.value
    monkeypatch.undo()
    ax = plots.error_margins(drawn_rows, what="item").axes[0]
    widths = [bar.get_width() for bar in ax.patches]  # rows are drawn bottom-up: the last row first
    assert widths[0] == 0.0 and widths[1] > 0.0
    assert "no error to measure: wrong shape" in [t.get_text() for t in ax.texts]
    assert any(c.get_label() == "failed with no error to measure" for c in ax.collections)


def test_a_grade_report_without_pictures_has_the_same_text(tmp_path):
    from gradverify.grading.feedback import render_submission, submission_pictures

    result = _grade_result()
    plain = render_submission(result)
    assert not IMAGE.search(plain) and "```mermaid" not in plain
    drawn = plots.draw(submission_pictures(result), tmp_path / "r.md")
    with_pictures = render_submission(result, drawn)
    without = re.sub(r"```mermaid.*?```\n\n", "", IMAGE.sub("", with_pictures), flags=re.S)
    assert re.sub(r"\n+", "\n", without) == re.sub(r"\n+", "\n", plain)


@pytest.mark.parametrize("no_plots, broken", [(False, False), (True, False), (False, True)])
def test_grading_a_training_bug_writes_its_loss_curves_unless_told_not_to(tmp_path, monkeypatch, capsys, no_plots, broken):
    from tests.variants import BUGGY

    if broken:

        def broken_curves(*args):
            raise RuntimeError("drawing is broken")

        monkeypatch.setattr(plots, "loss_curves", broken_curves)

    submission = BUGGY["train_resets_velocity_each_epoch"].write(tmp_path)
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('examples = 5\n[[items]]\nname = "loop"\ncheck = "train_loop"\npoints = 4\n')
    report = tmp_path / "out" / "grade.md"
    report.parent.mkdir()
    assert (
        main(
            [
                "grade",
                str(submission),
                "--rubric",
                str(rubric),
                "--quiet",
                "--report",
                str(report),
                *(["--no-plots"] if no_plots else []),
            ]
        )
        == 0
    )
    markdown = report.read_text()
    assert "0 / 4" in markdown
    pictures = _images(markdown, report.parent)
    assert sorted(p.name for p in report.parent.glob("*.svg")) == sorted(unquote(link) for _, link in pictures)
    links = [link for _, link in pictures]
    if no_plots:
        assert pictures == []
    elif broken:  # the report is whole, the other pictures are there, the one that failed is said
        assert "grade.margins.svg" in links and "grade.loop.losses.svg" not in links and "own loop · train" in markdown
        assert "could not draw the picture 'loop.losses'" in capsys.readouterr().err
    else:  # the margins, the loss curves and (when the failing value has several elements) its values
        assert links[0] == "grade.margins.svg" and "grade.loop.losses.svg" in links
        assert set(links) <= {"grade.margins.svg", "grade.loop.values.svg", "grade.loop.losses.svg"}


def test_class_grading_passes_no_plots_to_each_grader():
    import argparse

    from gradverify.grading import classroom

    args = argparse.Namespace(rubric=None, adapter=None, timeout=None, unsafe_no_sandbox=False, memory=2048, no_plots=True)
    assert "--no-plots" in classroom._command(classroom.Student("a", Path("a.py")), Path("out"), args)
    assert "--no-plots" not in classroom._command(
        classroom.Student("a", Path("a.py")), Path("out"), argparse.Namespace(**{**vars(args), "no_plots": False})
    )
