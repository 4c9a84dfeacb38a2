"""`gradverify verify`: the properties hold on the bundled impl, catch a real bug, shrink it,
replay it, and report it; exit codes, corpus and report files behave."""

from __future__ import annotations

import json
import re
import os
import shlex
import subprocess
import types
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from gradverify import impl
from gradverify import corpus, runner, search
from gradverify.profiles import PROFILES
from gradverify.results import VerifyResult
from gradverify.properties.checks import FIXED_CHECKS, PROPERTIES
from gradverify.cli import main
from gradverify.properties.cases import Architecture, Example
from gradverify.report import STEP_SUMMARY_LIMIT, render_junit, render_markdown, step_summary
from gradverify.references.compare import Cause
from tests.variants import PARTIAL, SIGMOID_DERIVATIVE_FROM_Z


@pytest.mark.parametrize("name", list(FIXED_CHECKS) + list(PROPERTIES))
def test_property_holds_on_the_bundled_impl(name):
    result = runner.verify(impl, profile="ci", only=[name], save_regressions=False)
    (r,) = result.results
    detail = r.error or (r.failure and "\n".join(c.describe() for c in r.failure.comparisons))
    assert r.passed, detail
    assert r.examples >= 1


# --------------------------------------------------------------------------- a real bug


@pytest.fixture(scope="module")
def sigmoid_bug(tmp_path_factory):
    """verify --profile ci on a copy of impl whose σ' is computed from z instead of σ(z)."""
    folder = tmp_path_factory.mktemp("sigmoid_bug")
    path = SIGMOID_DERIVATIVE_FROM_Z.write(folder)
    report, junit = folder / "verify.md", folder / "verify.xml"
    code = main(
        [
            "verify",
            "--impl",
            str(path),
            "--profile",
            "ci",
            "--regressions",
            str(folder / "corpus"),
            "--report",
            str(report),
            "--junit",
            str(junit),
            "--quiet",
        ]
    )
    return types.SimpleNamespace(path=path, code=code, report=report.read_text(), junit=junit, corpus=folder / "corpus")


def test_verify_exits_1_on_the_sigmoid_derivative_bug(sigmoid_bug):
    assert sigmoid_bug.code == 1


def test_report_names_the_sigmoid_derivative_and_the_layer(sigmoid_bug):
    """The one test of the wording of a failing check's summary in the Markdown report."""
    report = sigmoid_bug.report
    assert report.index("FAIL") < report.index("| check |"), "the verdict comes first"
    assert "The derivative of `sigmoid` (activation_backward) disagrees with the references." in report
    assert "network_gradients disagrees with the references at layers[0]." in report
    assert "activation_backward('sigmoid')" in report


def _impl_folder(root: Path) -> Path:
    """The corpus folder of the one implementation verified under `root`."""
    (folder,) = root.iterdir()
    return folder


def _saved(root: Path, prop: str) -> corpus.Entry:
    entries = [e for e in corpus.load(_impl_folder(root))[0] if e.property == prop]
    assert len(entries) == 1, entries
    return entries[0]


def test_the_shrunk_network_has_one_or_two_layers(sigmoid_bug):
    entry = _saved(sigmoid_bug.corpus, "network_gradients_match_references")
    assert entry.case.arch.depth <= 2
    assert "sigmoid" in entry.case.arch.activations
    assert entry.case.arch.describe() in sigmoid_bug.report


def test_the_printed_replay_command_fails_the_same_way(sigmoid_bug, tmp_path):
    entry = _saved(sigmoid_bug.corpus, "network_gradients_match_references")
    command = next(line for line in sigmoid_bug.report.splitlines() if " verify --impl " in line and str(entry.path) in line)
    words = shlex.split(command)
    args = words[words.index("verify") :] + ["--report", str(tmp_path / "replay.md"), "--quiet"]
    assert main(args) == 1
    replayed = (tmp_path / "replay.md").read_text()
    assert "jax · network_gradients layers[0].W" in replayed and entry.case.arch.describe() in replayed
    # and the same example passes on the bundled impl: the failure is the bug's, not the example's
    assert main(["verify", "--replay", str(entry.path), "--quiet"]) == 0


def test_junit_xml_lists_each_check_and_its_failures(sigmoid_bug):
    suite = ET.parse(sigmoid_bug.junit).getroot()
    assert int(suite.get("tests")) == len(FIXED_CHECKS) + len(PROPERTIES)
    failed = {case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None}
    assert "network_gradients_match_references" in failed and "losses_match_references" not in failed


def test_a_counterexample_found_once_is_replayed_first_by_the_next_run(sigmoid_bug):
    saved = _saved(sigmoid_bug.corpus, "activations_match_references")
    module = types.ModuleType("buggy")
    exec(compile(sigmoid_bug.path.read_text(), str(sigmoid_bug.path), "exec"), module.__dict__)
    again = runner.verify(
        module,
        impl_spec=str(sigmoid_bug.path),
        profile="ci",
        only=["activations_match_references"],
        corpus_dir=_impl_folder(sigmoid_bug.corpus),
    )
    (r,) = again.results
    assert r.regressions_replayed == 1 and r.failure.source == "regression corpus"
    assert r.failure.corpus_path == str(saved.path) and r.examples == 0, "hypothesis did not need to search"


def test_verify_writes_only_under_the_users_project_and_replays_per_implementation(tmp_path, monkeypatch):
    """Run from a project folder on a student's file: the corpus lands in that project's
    .gradverify/, keyed by the file; the next run replays it; the bundled impl does not see it;
    the gradverify checkout and its package folders are left as they were."""
    checkout = Path(__file__).resolve().parents[1]
    before = _tree_state(checkout)
    project = tmp_path / "course"
    (project / "sub").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'course'\n")
    student = SIGMOID_DERIVATIVE_FROM_Z.write(tmp_path)
    monkeypatch.chdir(project / "sub")
    args = ["verify", "--impl", str(student), "--profile", "ci", "--property", "activations_match_references", "--quiet"]
    assert main(args) == 1
    saved = list((project / ".gradverify" / "regressions").rglob("*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["impl"] == str(student.resolve())
    report = tmp_path / "again.md"
    assert main(args + ["--report", str(report)]) == 1
    assert "Found by: regression corpus" in report.read_text()
    assert (
        main(
            [
                "verify",
                "--profile",
                "ci",
                "--property",
                "activations_match_references",
                "--budget",
                "1",
                "--report",
                str(tmp_path / "bundled.md"),
                "--quiet",
            ]
        )
        == 0
    )
    assert "(+1 replayed)" not in (tmp_path / "bundled.md").read_text()
    assert _tree_state(checkout) == before


def _tree_state(checkout: Path) -> tuple:
    """git status of the checkout (untracked files included) and every file under the package folders."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=checkout, capture_output=True, text=True
    ).stdout
    files = sorted(
        str(p)
        for folder in ("gradverify", "impl", "references", "properties")
        for p in (checkout / folder).rglob("*")
        if "__pycache__" not in p.parts
    )
    return status, files


# --------------------------------------------------------------------------- exit codes and input


def test_exit_2_when_the_implementation_cannot_be_loaded(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("def activation(:\n")
    assert main(["verify", "--impl", str(broken)]) == 2
    assert "syntax error at line 1" in capsys.readouterr().err
    assert main(["verify", "--impl", str(tmp_path / "nope.py")]) == 2
    assert main(["verify", "--impl", "no_such_module_anywhere"]) == 2
    exits = tmp_path / "exits.py"
    exits.write_text("import sys\nsys.exit(3)\n")
    assert main(["verify", "--impl", str(exits)]) == 2
    assert "SystemExit" in capsys.readouterr().err


def test_exit_2_on_bad_usage(tmp_path, capsys):
    assert main(["verify", "--property", "no_such_property"]) == 2
    err = capsys.readouterr().err
    assert "no check matches 'no_such_property'" in err and "kink_subgradients" in err, "it names the valid checks"
    with pytest.raises(SystemExit) as info:
        main(["verify", "--profile", "fast"])
    assert info.value.code == 2
    assert main(["verify", "--replay", str(tmp_path / "missing.json")]) == 2
    assert main(["verify", "--replay", '{"property": "x", "case": {"type": "Bogus"}}']) == 2


def test_exit_0_and_a_report_when_everything_holds(tmp_path):
    report = tmp_path / "deep" / "r.md"
    assert main(["verify", "--property", "kink_subgradients", "--report", str(report), "--quiet"]) == 0
    text = report.read_text()
    assert text.startswith("# gradverify report") and "✅ **PASS**" in text.splitlines()[2]
    assert "## Environment" in text and "hypothesis:" in text and "kinks and saturation:" in text


def test_step_summary_is_appended_and_kept_small(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["verify", "--property", "kink_subgradients", "--quiet"]) == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n# gradverify report")
    huge = "x" * 100 + "\n"
    cut = step_summary(huge * 10_000)
    assert len(cut.encode()) <= STEP_SUMMARY_LIMIT and "report cut" in cut


def test_an_interrupted_write_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    from gradverify import files as report_io

    target = tmp_path / "verify.md"
    target.write_text("previous report\n")

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_io.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        report_io.write_atomic(target, "new report that never lands\n")
    assert target.read_text() == "previous report\n"
    assert list(tmp_path.iterdir()) == [target], "no temporary file is left behind"


# --------------------------------------------------------------------------- misbehaving implementations


def _module(**overrides) -> types.ModuleType:
    module = types.ModuleType("student")
    for name in impl.PROTOCOL_FUNCTIONS:
        setattr(module, name, getattr(impl, name))
    for name, fn in overrides.items():
        setattr(module, name, fn)
    return module


EXAMPLE = Example(Architecture((3, 4, 2), ("tanh", "identity"), "mse", 0.0, 5), seed=1)


def _first_failure(module, prop="network_gradients_match_references"):
    comparisons = search.run_check(PROPERTIES[prop].check, module, EXAMPLE)
    bad = [c for c in comparisons if not c.ok]
    assert bad, "the property fails"
    return bad[0]


def _grads_with(transform):
    def network_gradients(net, X, Y):
        value, grads = impl.network_gradients(net, X, Y)
        return transform(value, grads)

    return network_gradients


@pytest.mark.parametrize(
    "override, expected",
    [
        (lambda net, X, Y: 1 / 0, "raised ZeroDivisionError: division by zero"),
        (lambda net, X, Y: None, "returned a NoneType where a pair (loss_value, grads) was expected"),
        (
            _grads_with(lambda v, g: (v, g[:1])),
            "returned grads as a list of 1 items where a list of 2 (one per layer) was expected",
        ),
        (
            _grads_with(lambda v, g: (v, [{"W": x["W"].T, "b": x["b"]} for x in g])),
            "returned shape (3, 4) where (4, 3) was expected (it is the transpose",
        ),
        (_grads_with(lambda v, g: (v, [{"W": x["W"] * np.nan, "b": x["b"]} for x in g])), "returned NaN at [0, 0]"),
        (_grads_with(lambda v, g: ("loss", g)), "returned loss_value as a str where a number was expected"),
        (lambda net, X, Y: exec("import sys; sys.exit(4)"), "called sys.exit(4)"),
        (lambda net, X, Y: (_ for _ in ()).throw(NotImplementedError()), "is not implemented"),
    ],
)
def test_a_misbehaving_implementation_becomes_a_clear_failure(override, expected):
    failure = _first_failure(_module(network_gradients=override))
    assert expected in failure.describe()


def test_an_endless_call_is_stopped_by_the_time_limit(monkeypatch):
    from gradverify.properties import calls

    monkeypatch.setattr(calls, "CALL_TIMEOUT", 0.2)

    def endless(net, X, Y):
        while True:
            pass

    assert "timed out after 0.2 s" in _first_failure(_module(network_gradients=endless)).describe()


def test_missing_functions_fail_only_their_checks():
    module = _module()
    del module.train
    result = runner.verify(
        module, profile="ci", budget=2, save_regressions=False, only=["train_matches_torch_sgd", "losses_match_references"]
    )
    train, losses = result.results
    assert not train.passed
    comparison = train.failure.comparisons[0]
    assert (comparison.cause, comparison.where.function) == (Cause.NOT_DEFINED, "train")
    assert losses.passed
    assert result.missing_functions == ["train"]


def _variant_module(variant) -> types.ModuleType:
    module = types.ModuleType(variant.name)
    exec(compile(variant.source(), variant.name, "exec"), module.__dict__)
    return module


PARTIAL_CHECKS = ["activations_match_references", "losses_match_references", "dense_matches_references"]


def test_partial_code_is_checked_on_what_it_implements_and_what_is_missing_is_one_line():
    """A softmax fused into cross-entropy has no softmax VJP and no ∂E/∂ŷ of its own: the cases
    that need them are skipped (not shrunk to a NotImplementedError), every other case is
    checked, the missing functions are listed once in the author's words, and the run fails."""
    from gradverify.report import missing_line

    run = runner.verify(
        _variant_module(PARTIAL["fused_softmax_cce"].variant),
        profile="ci",
        budget=20,
        save_regressions=False,
        only=PARTIAL_CHECKS,
    )
    status = {r.name: r.status for r in run.results}
    assert status == {
        "activations_match_references": "partly implemented",
        "losses_match_references": "partly implemented",
        "dense_matches_references": "passed",
    }
    assert all(r.examples > 0 for r in run.results)
    assert not run.passed and not run.failed
    line = missing_line(run)
    assert "softmax is fused with cross" in line and "cross-entropy is fused with softmax" in line
    assert "| ◐ pass where implemented |" in render_markdown(run) and line in render_markdown(run)
    assert 'message="partly implemented' in render_junit(run)


def test_verify_exits_1_on_partial_code_and_says_what_is_missing(tmp_path, capsys):
    path = PARTIAL["fused_softmax_cce"].variant.write(tmp_path)
    assert (
        main(
            [
                "verify",
                "--impl",
                str(path),
                "--profile",
                "ci",
                "--budget",
                "5",
                "--no-save",
                "--quiet",
                "--property",
                "losses_match_references",
            ]
        )
        == 1
    )
    out, err = capsys.readouterr()
    assert "FAIL — 0 of 1 checks hold" in out and "cross-entropy is fused with softmax in network_gradients" in err


def test_a_bug_in_partial_code_is_found_and_shrunk_past_what_is_missing():
    run = runner.verify(
        _variant_module(PARTIAL["fused_softmax_cce_times_n"].variant),
        profile="ci",
        budget=20,
        save_regressions=False,
        only=["network_gradients_match_references"],
    )
    (network,) = run.results
    assert network.status == "failed"
    assert all(c.cause is Cause.MISMATCH for c in network.failure.comparisons)
    assert network.failure.case.arch.loss in ("cce", "sparse_cce")


def test_code_that_implements_nothing_is_not_implemented_not_wrong_and_stops_searching():
    from gradverify.loader import load_impl

    template = load_impl(str(Path(__file__).resolve().parents[1] / "gradverify" / "grading" / "student_template.py"))
    run = runner.verify(template, profile="ci", save_regressions=False, only=list(PROPERTIES)[:4] + ["bad_input_catalogue"])
    assert {r.status for r in run.results} == {"not implemented"}
    for r in (r for r in run.results if r.kind == "property"):  # the search ends once a streak of cases needed what is missing
        coverage = PROPERTIES[r.name].coverage
        assert r.examples == 0 and r.rejected <= search.MISSING_STREAK + (len(coverage()) if coverage else 0)


@pytest.mark.parametrize(
    "variant, prop, item",
    [("cce_gradient_not_averaged", "losses_match_references", "cce"), ("l2_divided_by_batch", "l2_adds_half_lambda_norm", "l2")],
)
def test_verify_names_the_same_cause_as_grade_for_the_same_bug(variant, prop, item, capsys):
    from dataclasses import replace

    from gradverify.grading import items as grading
    from gradverify.grading.rubric import load_rubric
    from gradverify.markdown import inline
    from tests.variants import BUGGY

    module = _variant_module(BUGGY[variant])
    (checked,) = runner.verify(module, profile="ci", save_regressions=False, only=[prop]).results
    rubric = load_rubric()
    (graded,) = grading.grade_module(module, replace(rubric, items=tuple(i for i in rubric.items if i.name == item))).items
    causes = [h.diagnosis for h in checked.hints if h.diagnosis]
    assert causes == [BUGGY[variant].hint] == [h.diagnosis for h in graded.hints if h.diagnosis]
    assert f"**Hint:** {inline(checked.hints[0])}" in render_markdown(
        VerifyResult(impl="x", profile="ci", seed=0, budget=1, started="now", results=[checked])
    )


def test_a_gradient_off_by_two_is_called_a_factor_of_two():
    doubled = _grads_with(lambda v, g: (v, [{"W": 2 * x["W"], "b": 2 * x["b"]} for x in g]))
    assert "got = 2 × expected" in _first_failure(_module(network_gradients=doubled)).describe()


def test_modifying_the_inputs_in_place_is_a_failure():
    def sloppy_step(params, grads, velocity, *, lr, momentum):
        for p, g in zip(params, grads):
            p["W"] -= lr * g["W"]
            p["b"] -= lr * g["b"]
        return impl.sgd_momentum_step(params, grads, velocity, lr=lr, momentum=momentum)

    from gradverify.properties.cases import TrainCase

    case = TrainCase(EXAMPLE, lr=0.1, momentum=0.5, batch_size=2, epochs=1)
    comparisons = search.run_check(
        PROPERTIES["momentum_step_matches_torch_sgd"].check, _module(sgd_momentum_step=sloppy_step), case
    )
    assert any(c.message and "modified its input in place" in c.message for c in comparisons)


def test_render_markdown_and_junit_work_from_the_structured_result_alone():
    result = runner.verify(impl, profile="ci", only=["kink_subgradients"], save_regressions=False)
    markdown, xml = render_markdown(result), render_junit(result)
    assert "| `kink_subgradients` |" in markdown
    assert ET.fromstring(xml.split("?>", 1)[1]).get("failures") == "0"
    json.dumps(result.environment)


def test_reports_are_written_readable_like_any_new_file(tmp_path):
    from gradverify import files as report_io

    path = report_io.write_atomic(tmp_path / "r.md", "x\n")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_an_implementation_that_accepts_bad_input_or_raises_the_wrong_error_fails():
    from gradverify.properties.bad_inputs import BadInputCase
    from gradverify.properties.bad_input_checks import check_bad_input

    def lax_loss(name, y_pred, y_true):
        return 0.0

    def typeerror_loss(name, y_pred, y_true):
        raise TypeError("no")

    case = BadInputCase("loss: an unknown loss name", 0)
    for fn, words in ((lax_loss, "accepted it"), (typeerror_loss, "where a ValueError was expected")):
        (c,) = check_bad_input(_module(loss=fn), case)
        assert not c.ok and words in c.message
    (c,) = check_bad_input(_module(), case)
    assert c.ok


def test_a_failure_only_a_coverage_case_shows_is_still_reported():
    from hypothesis import strategies as st

    from gradverify.properties.checks import Property
    from gradverify.references.compare import compare

    class Case(int):
        def describe(self) -> str:
            return f"case {int(self)}"

    def check(module, case):
        return [compare("value", float(case == 2), 0.0)]

    prop = Property(
        "only_two_fails",
        "claim",
        (),
        lambda scope: st.just(Case(1)),
        check,
        "autodiff",
        coverage=lambda: [Case(1), Case(2), Case(1)],
    )
    result, case = search.run_property(prop, impl, profile=PROFILES["ci"], seed=0, entries=[], budget=5)
    assert not result.passed and case == 2 and result.failure.case_description == "case 2"
    assert result.first_failure_at == 2 and result.failure.source.startswith("coverage case")


# --------------------------------------------------------------------------- the corpus' size limit


def _planted_corpus(folder: Path) -> dict[str, Path]:
    """A corpus folder with one ordinary entry and three that must not be replayed: a network far
    larger than the suite draws, a file padded beyond an entry's size, sizes that are not numbers."""
    folder.mkdir(parents=True, exist_ok=True)
    small = Example(Architecture((2, 3), ("sigmoid",), "mse", 0.0, 2), 0)
    huge = Example(Architecture((20_000, 20_000), ("identity",), "mse", 0.0, 5_000), 0)
    paths = {
        "small": corpus.save(folder, "network_gradients_match_references", small, impl="x", failure=""),
        "huge": corpus.save(folder, "network_gradients_match_references", huge, impl="x", failure=""),
    }
    padded = json.loads(paths["small"].read_text())
    padded["failure"] = "x" * (corpus.MAX_ENTRY_BYTES + 1)
    paths["padded"] = folder / "network_gradients_match_references-padded.json"
    paths["padded"].write_text(json.dumps(padded))
    text = json.loads(paths["small"].read_text())
    text["case"]["arch"]["sizes"] = ["3", 2]
    paths["text"] = folder / "network_gradients_match_references-text.json"
    paths["text"].write_text(json.dumps(text))
    return paths


def test_corpus_entries_over_the_size_limit_are_skipped_with_a_line_naming_each(tmp_path):
    paths = _planted_corpus(tmp_path / "corpus")
    entries, problems = corpus.load(tmp_path / "corpus")
    assert [e.path for e in entries] == [paths["small"]]
    assert len(problems) == 3
    assert {name for name in ("huge", "padded", "text") for p in problems if p.startswith(f"{paths[name]}: skipped")} == {
        "huge",
        "padded",
        "text",
    }


@pytest.mark.parametrize(
    "draw",
    [
        lambda s: s.examples(),
        lambda s: s.train_cases(),
        lambda s: s.activation_cases(),
        lambda s: s.loss_cases(),
        lambda s: s.dense_cases(),
    ],
    ids=["examples", "train_cases", "activation_cases", "loss_cases", "dense_cases"],
)
def test_the_largest_cases_the_strategies_draw_are_under_the_corpus_limit(draw):
    """No counterexample the suite finds is ever skipped: the largest cases the strategies draw,
    with hypothesis steering towards large ones (target), stay far under MAX_CASE_VALUES."""
    from hypothesis import HealthCheck, given, settings, target

    from gradverify.properties import strategies

    largest = [0]

    @settings(max_examples=60, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(draw(strategies))
    def grow(case):
        size = corpus.case_size(case)
        target(float(size))
        largest[0] = max(largest[0], size)

    grow()
    assert 0 < largest[0] < corpus.MAX_CASE_VALUES // 10


def test_verify_skips_a_planted_oversized_entry_and_says_so_on_stderr_and_in_the_report(tmp_path, capsys):
    from gradverify import project as projects

    spec = str(Path(impl.__file__).resolve().parent / "backprop.py")
    root = tmp_path / "regressions"
    paths = _planted_corpus(projects.impl_folder(root, projects.impl_key(spec, projects.find_project())))
    report = tmp_path / "verify.md"
    code = main(
        [
            "verify",
            "--impl",
            spec,
            "--profile",
            "ci",
            "--property",
            "activations_match_references",
            "--budget",
            "1",
            "--regressions",
            str(root),
            "--no-save",
            "--no-plots",
            "--report",
            str(report),
            "--quiet",
        ]
    )
    assert code == 0
    stderr = capsys.readouterr().err
    text = report.read_text()
    for name in ("huge", "padded", "text"):
        assert f"regression corpus: {paths[name]}: skipped" in stderr
        assert f"{paths[name]}: skipped" in text


def test_a_run_selects_checks_by_name_or_glob_and_skips_what_it_is_told():
    names = runner.select(["worked_example_*", "bad_input_*"], ["bad_input_catalogue"])
    assert names == [n for n in runner.select() if n.startswith("worked_example_") or n == "bad_input_is_rejected"]
    assert runner.select(skip=["bad_input_*"]) == [n for n in runner.select() if not n.startswith("bad_input_")]
    with pytest.raises(ValueError, match="no check matches 'bad_inptu_\\*'"):
        runner.select(skip=["bad_inptu_*"])


def test_verify_skips_the_checks_it_is_told_to(tmp_path):
    import gradverify

    result = gradverify.verify(
        "gradverify.impl", properties=["worked_example_*"], skip=["*quartic"], save_regressions=False, project=tmp_path
    )
    ran = [r.name for r in result.results]
    assert ran and all(n.startswith("worked_example_") and not n.endswith("quartic") for n in ran)


def test_the_cli_skips_what_skip_matches(tmp_path, capsys, monkeypatch):
    from gradverify.cli import main

    monkeypatch.chdir(tmp_path)
    junit = tmp_path / "j.xml"
    args = ["verify", "--profile", "ci", "--no-save", "--quiet", "--property", "worked_example_*", "--skip", "*quartic"]
    assert main([*args, "--junit", str(junit)]) == 0
    ran = set(re.findall(r'name="(worked_example_[a-z_]+)"', junit.read_text()))
    assert ran and not any(name.endswith("quartic") for name in ran)
    assert main(["verify", "--skip", "no_such_check"]) == 2
    assert "no check matches 'no_such_check'" in capsys.readouterr().err


def test_a_step_returning_object_arrays_fails_the_checks_of_training_and_crashes_none():
    """tinynn's np.array([...], dtype=object) weights: every check that runs the step either holds
    (the worked examples read the values as numbers) or fails with the values not numbers."""
    from gradverify.results import CheckStatus
    from tests.variants import BUGGY

    module = _variant_module(BUGGY["momentum_returns_object_arrays"])
    training = ["momentum_step_matches_torch_sgd", "train_matches_torch_sgd", "train_follows_own_steps"]
    run = runner.verify(module, profile="ci", budget=5, save_regressions=False, only=[*FIXED_CHECKS, *training])
    assert [r.name for r in run.results if r.status is CheckStatus.ERROR] == []
    failed = {r.name: {c.cause for c in r.failure.comparisons} for r in run.results if r.failure is not None}
    assert all(failed[name] == {Cause.NOT_NUMBERS} for name in training), failed


@pytest.mark.parametrize("prop", ["train_matches_torch_sgd", "train_follows_own_steps"])
def test_verify_catches_a_training_loop_that_sums_its_samples_gradients_whatever_it_draws(prop):
    """The training checks run cases of batch·K > 1 first (strategies.train_coverage), so a loop
    summing the gradients of a batch's samples fails even when the one case drawn has batch 1."""
    from gradverify.properties.strategies import train_coverage
    from gradverify.results import Source
    from tests.variants import BUGGY

    module = _variant_module(BUGGY["train_sums_sample_gradients"])
    assert all(c.batch_size * c.example.arch.sizes[-1] > 1 and c.example.arch.batch > 1 for c in train_coverage())
    (r,) = runner.verify(module, profile="ci", budget=1, save_regressions=False, only=[prop]).results
    assert r.status == "failed" and all(c.cause is Cause.MISMATCH for c in r.failure.comparisons)
    assert r.failure.source is Source.COVERAGE or r.failure.case.example.arch.batch > 1
