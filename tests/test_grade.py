"""`gradverify grade`: full marks for the model solution, zero for the template, feedback that
teaches, a hostile submission ends in clear causes in bounded time, and a class graded in
parallel. The catalogue of variants graded: tests/test_grade_catalogue.py."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
import textwrap
import time
import types
from pathlib import Path

import pytest

from gradverify.grading import items as grading
from gradverify.cli import main
from gradverify.grading.feedback import class_summary, results_json
from gradverify.grading.rubric import VISIBILITIES, load_rubric
from gradverify.diagnoses import Diagnosis
from tests.variants import BUGGY, IMPL_SOURCE

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "gradverify" / "grading" / "student_template.py"
RUBRIC = load_rubric()


@pytest.fixture(scope="module")
def model_solution(tmp_path_factory):
    """The bundled impl graded as a student file, through the CLI and its sandbox."""
    folder = tmp_path_factory.mktemp("model")
    student = folder / "student.py"
    shutil.copy(IMPL_SOURCE, student)
    code = main(
        ["grade", str(student), "--results-json", str(folder / "results.json"), "--report", str(folder / "r.md"), "--quiet"]
    )
    return code, json.loads((folder / "results.json").read_text()), (folder / "r.md").read_text()


def test_the_bundled_impl_graded_as_a_student_file_scores_full_marks(model_solution):
    code, results, report = model_solution
    assert code == 0
    failed = [(t["name"], t["output"]) for t in results["tests"] if t["status"] != "passed"]
    assert not failed
    assert results["score"] == RUBRIC.max_score == 100
    assert "**100 / 100**" in report


def test_results_json_is_what_gradescope_reads(model_solution):
    _, results, _ = model_solution
    assert set(results) >= {"score", "tests"}
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITIES
    assert [t["extra_data"]["item"] for t in results["tests"]] == [i.name for i in RUBRIC.items]


def test_the_template_scores_zero_without_crashing(tmp_path):
    out = tmp_path / "results.json"
    assert main(["grade", str(TEMPLATE), "--results-json", str(out), "--quiet"]) == 0
    results = json.loads(out.read_text())
    assert results["score"] == 0
    visible = [t for t in results["tests"] if t["visibility"] == "visible" and t["output"] != "Failed."]
    assert all("is not implemented" in t["output"] for t in visible)
    assert {t["extra_data"]["status"] for t in results["tests"]} == {"not implemented"}  # the networks' items too


def _module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)
    return module


def test_a_bug_graded_through_the_sandbox_gets_feedback_that_teaches(tmp_path):
    """The hints by their Diagnosis and the smallest case by its description reach the feedback."""
    student = BUGGY["sse_without_half"].write(tmp_path)
    result = grading.grade_file(student, RUBRIC)
    (sse,) = [r for r in result.items if not r.passed]
    feedback = results_json(result)["tests"][[i.name for i in RUBRIC.items].index("sse")]["output"]
    assert Diagnosis.HALF in {hint.diagnosis for hint in sse.hints}
    assert sse.hints and all(hint in feedback for hint in sse.hints)
    assert sse.counterexample.case_description in feedback and "(1, 1)" in sse.counterexample.case_description
    # the scale says it all: finite differences of its own loss add nothing (the value is off too)
    assert Diagnosis.OWN_LOSS not in {hint.diagnosis for hint in sse.hints}


def test_hidden_items_are_hidden_by_gradescope_and_carry_the_staff_feedback():
    variant = BUGGY["train_drops_last_partial_batch"]
    result = grading.grade_module(_module(variant.source(), variant.name), RUBRIC)
    train = next(t for t in results_json(result)["tests"] if t["extra_data"]["item"] == "train_loop")
    assert train["visibility"] == "hidden" and train["extra_data"]["cause"]
    assert train["output"].startswith("Staff only") and train["extra_data"]["cause"] in train["output"]


# --------------------------------------------------------------------------- hostile submissions


# Appended to the model solution: break some of it in every way a submission can.
HOSTILE = textwrap.dedent("""
    import sys, os

    _activation_backward = activation_backward
    def activation_backward(name, z, grad_a):
        if name == "tanh":
            while True:
                pass
        if name == "relu":
            hog = [bytearray(1 << 20) for _ in range(100_000)]
        if name == "sigmoid":
            print("debug " * 1000)
            os._exit(7)
        return _activation_backward(name, z, grad_a)

    _loss_backward = loss_backward
    def loss_backward(name, y_pred, y_true):
        if name == "mse":
            return y_pred * float("nan")
        if name == "sse":
            sys.exit(3)
        if name == "mae":
            return [[1, 2, 3]]
        if name == "bce":
            return {"oops": 1}
        if name == "cce":
            raise KeyError(name)
        return _loss_backward(name, y_pred, y_true)

    def sgd_momentum_step(params, grads, velocity, *, lr, momentum):
        while True:
            print("flood " * 100)
""")

EXPECTED_REASONS = {
    "tanh": "timed out after",
    "relu": "ran out of memory",
    "sigmoid": "ended its own process",
    "mse": "returned NaN",
    "sse": "called sys.exit(3)",
    "mae": "returned shape (1, 3) where",
    "bce": "returned a dict",
    "cce": "raised KeyError: 'cce'",
    "momentum_step": "timed out after",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    student = folder / "hostile.py"
    student.write_text(IMPL_SOURCE.read_text() + HOSTILE)
    start = time.perf_counter()
    # 10 s an item: the network item checks each component of its domain through the sandbox (37
    # fixed cases, then a search) and times network_gradients for the cost check: about 2 s warm
    # alone, past 6 s beside another grader with JAX's first compilation
    result = grading.grade_file(student, RUBRIC, timeout=10.0, memory_mb=512)
    return result, time.perf_counter() - start


@pytest.mark.long
@pytest.mark.parametrize("item", sorted(EXPECTED_REASONS))
def test_each_kind_of_misbehaviour_ends_as_its_cause_on_its_item(hostile, item):
    result, _ = hostile
    r = next(r for r in result.items if r.item.name == item)
    assert not r.passed and EXPECTED_REASONS[item] in r.reason, r.reason


@pytest.mark.long
def test_grading_goes_on_after_misbehaviour_and_finishes_in_bounded_time(hostile):
    result, seconds = hostile
    passed = {r.item.name for r in result.items if r.passed}
    assert passed >= {"identity", "leaky_relu", "softplus", "softmax", "mape", "sparse_cce", "dense", "network", "l2"}
    assert seconds < 120
    assert "[output cut after" in result.output or len(result.output) <= 64 * 1024


@pytest.mark.parametrize(
    "source, cause",
    [
        ("def activation(name, z):\n    return z +\n", "syntax error at line 2"),
        ("import sys\nsys.exit(5)\n", "called sys.exit(5) while importing"),
        ("x = undefined_name\n", "raised NameError"),
        ("while True:\n    pass\n", "timed out after"),
    ],
)
def test_a_submission_that_cannot_be_loaded_scores_zero_with_its_cause(tmp_path, source, cause):
    student = tmp_path / "student.py"
    student.write_text(source)
    out = tmp_path / "results.json"
    assert main(["grade", str(student), "--results-json", str(out), "--timeout", "3", "--quiet"]) == 0
    results = json.loads(out.read_text())
    assert results["score"] == 0 and cause in results["output"]


# --------------------------------------------------------------------------- the command line


def test_fail_under_turns_a_low_score_into_exit_1_and_says_what_it_compared(tmp_path, capsys):
    student = BUGGY["network_bias_gradient_mean"].write(tmp_path)  # network 20 and l2 5 lost: 75 of 100
    assert main(["grade", str(student), "--fail-under", "90", "--quiet"]) == 1
    assert "75 of 100 points, below --fail-under 90" in capsys.readouterr().err
    assert main(["grade", str(student), "--fail-under", "75%", "--quiet"]) == 0
    assert main(["grade", str(student), "--fail-under", "76%", "--quiet"]) == 1
    assert "75% of the 100 points, below --fail-under 76%" in capsys.readouterr().err


def test_a_fail_under_above_the_maximum_says_to_write_a_percentage(tmp_path, capsys):
    """The wording is the point: full marks under a threshold of more points than the rubric has
    (100 on a rubric of 48) exits 1, saying so, instead of failing without a word."""
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('[[items]]\nname = "mse"\ncheck = "loss"\ntarget = "mse"\npoints = 48\n', encoding="utf-8")
    impl = Path(__file__).resolve().parents[1] / "impl" / "backprop.py"
    assert main(["grade", str(impl), "--rubric", str(rubric), "--fail-under", "100", "--quiet"]) == 1
    assert "48 of 48 points, below --fail-under 100 (points; the maximum is 48: write 100% for a share of it)" in (
        capsys.readouterr().err
    )
    assert main(["grade", str(impl), "--rubric", str(rubric), "--fail-under", "100%", "--quiet"]) == 0


@pytest.mark.parametrize("text", ["90 %x", "-1", "nan", "ninety"])
def test_a_fail_under_that_is_no_score_is_a_usage_error(text, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["grade", "x.py", "--fail-under", text])
    assert exit_.value.code == 2 and "--fail-under" in capsys.readouterr().err


def test_exit_2_when_the_grader_cannot_run(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "missing.py")]) == 2
    bad = tmp_path / "rubric.toml"
    bad.write_text('[[items]]\nname = "x"\ncheck = "activation"\ntarget = "swish"\npoints = 1\n')
    assert main(["grade", str(TEMPLATE), "--rubric", str(bad)]) == 2
    assert "needs a target from" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty")]) == 2


def test_a_rubric_restricts_grading_to_its_items(tmp_path):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('examples = 5\n[[items]]\nname = "s"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 2\n')
    out = tmp_path / "r.json"
    assert main(["grade", str(IMPL_SOURCE), "--rubric", str(rubric), "--results-json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["score"] == 2


@pytest.mark.long
def test_many_submissions_in_parallel_give_a_class_summary(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(IMPL_SOURCE, folder / "alice.py")
    BUGGY["sse_without_half"].write(folder)
    BUGGY["sigmoid_derivative_from_z"].write(folder)
    shutil.copy(TEMPLATE, folder / "dave.py")
    summary = tmp_path / "summary.md"
    out = tmp_path / "grades"
    rubric = tmp_path / "rubric.toml"  # the two items the buggy files break, to keep the class quick
    rubric.write_text(
        'examples = 3\n[[items]]\nname = "sse"\ncheck = "loss"\ntarget = "sse"\npoints = 1\n'
        '[[items]]\nname = "sigmoid"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 1\n'
    )
    assert (
        main(
            ["grade", str(folder), "--jobs", "2", "--out", str(out), "--report", str(summary), "--quiet", "--rubric", str(rubric)]
        )
        == 0
    )
    text = summary.read_text()
    assert "4 submissions" in text and "| alice | 2 |" in text and "| dave | 0 |" in text
    assert "## Most common failures" in text
    students = out / "students"
    assert sorted(p.name for p in students.glob("*.json")) == [
        "alice.json",
        "dave.json",
        "sigmoid_derivative_from_z.json",
        "sse_without_half.json",
    ]
    # the pictures: the summary's two, and each student's report its own (margins; a one-element
    # failing value is left to the text)
    assert sorted(p.name for p in tmp_path.glob("*.svg")) == ["summary.items.svg", "summary.scores.svg"]
    assert "](sse_without_half.margins.svg)" in (students / "sse_without_half.md").read_text()
    assert {p.name for p in students.glob("*.margins.svg")} == {
        "alice.margins.svg",
        "sigmoid_derivative_from_z.margins.svg",
        "sse_without_half.margins.svg",
    }  # dave implements nothing


def test_class_summary_counts_alike_failures_together():
    docs = []
    for name, cause in (("a", "loss_backward: raised KeyError: 'x'"), ("b", "loss_backward: raised KeyError: 'x'")):
        docs.append(
            {
                "score": 0,
                "extra_data": {"submission": name, "max_score": 1, "load_error": None},
                "tests": [{"name": "L", "score": 0, "status": "failed", "extra_data": {"item": "l", "cause": cause}}],
            }
        )
    assert "| L | loss\\_backward: raised KeyError: 'x' | 2 |" in class_summary(docs)  # inert: _ escaped


def _summary_doc(name: str, tests: list[tuple[str, str, str]], load_error: str | None = None) -> dict:
    """A results.json document of tests (item, status in extra_data, cause), each worth 1 point, scoring 0."""
    return {
        "score": sum(1 for _, status, _ in tests if status == "passed"),
        "extra_data": {"submission": name, "max_score": len(tests), "load_error": load_error},
        "tests": [
            {
                "name": item.upper(),
                "score": 1 if status == "passed" else 0,
                "status": "passed" if status == "passed" else "failed",
                "extra_data": {"item": item, "status": status, "cause": cause},
            }
            for item, status, cause in tests
        ],
    }


def test_the_class_summary_keeps_not_implemented_apart_from_failed():
    docs = [
        _summary_doc("a", [("l", "not implemented", "loss_backward: is not implemented"), ("m", "failed", "m: wrong")]),
        _summary_doc("b", [("l", "not implemented", "loss_backward: is not implemented"), ("m", "passed", "")]),
    ]
    failures = class_summary(docs).split("## Most common failures", 1)[1]
    table, missing = failures.split("Not implemented (missing, not wrong):")
    assert "| M | m: wrong | 1 |" in table and "| L |" not in table
    assert "| L | 2 |" in missing


def test_the_class_summary_says_how_many_kinds_of_failure_it_does_not_show():
    from gradverify.grading.feedback import FAILURES_SHOWN

    kinds = FAILURES_SHOWN + 3
    docs = [_summary_doc(f"s{i}", [("l", "failed", f"cause {i}")]) for i in range(kinds)]
    failures = class_summary(docs).split("## Most common failures", 1)[1]
    assert failures.count("| L | cause ") == FAILURES_SHOWN
    assert "3 more kinds of failure not shown" in failures


def test_a_file_that_could_not_be_loaded_is_apart_from_the_pass_rates():
    from gradverify.grading.feedback import _pass_rates

    docs = [_summary_doc("a", [("l", "passed", "")]), _summary_doc("b", [("l", "failed", "x")], load_error="syntax error")]
    assert _pass_rates(docs, {"l": "L"}) == [("L", 1.0)]
    failures = class_summary(docs).split("## Most common failures", 1)[1]
    assert "1 could not be loaded" in failures and "| L | x |" not in failures


def test_the_template_command_writes_the_template_once(tmp_path):
    target = tmp_path / "mine.py"
    assert main(["template", str(target)]) == 0
    assert target.read_text() == TEMPLATE.read_text()
    assert main(["template", str(target)]) == 2


def test_a_submission_failing_during_diagnosis_still_gets_graded(tmp_path):
    """Finite differences step outside [0, 1] for cce near ŷ = 1; the submission's own loss
    then raises, through the sandbox, and the item is still graded (with fewer hints)."""
    student = BUGGY["cce_gradient_not_averaged"].write(tmp_path)
    result = grading.grade_file(student, RUBRIC)
    assert [r.item.name for r in result.items if not r.passed] == ["cce"]


def test_the_networks_a_grade_draws_fit_one_bucket_of_the_jax_reference():
    """Every network the network and L2 items draw pads into JAX's smallest bucket, so a grade
    compiles the network kernel once (four buckets took half of a cold grade)."""
    from gradverify.grading.kinds import NETWORK_SIZES
    from gradverify.references import jax_backend

    assert NETWORK_SIZES["max_width"] <= jax_backend.UNITS_SMALL
    assert NETWORK_SIZES["max_batch"] <= jax_backend.ROWS_SMALL


def test_a_step_that_is_not_implemented_gets_no_hint():
    """The untouched template's sgd_momentum_step (raising NotImplementedError) is not implemented,
    and nothing of it can be diagnosed: no hint, least of all one about later steps."""
    from gradverify.grading.items import Status

    source = IMPL_SOURCE.read_text(encoding="utf-8") + (
        "\n\ndef sgd_momentum_step(params, grads, velocity, lr=0.01, momentum=0.9):\n    raise NotImplementedError\n"
    )
    rubric = replace(RUBRIC, items=tuple(i for i in RUBRIC.items if i.check == "momentum_step"))
    (step,) = grading.grade_module(_module(source, "template_step"), rubric).items
    assert step.status is Status.NOT_IMPLEMENTED and step.hints == []
