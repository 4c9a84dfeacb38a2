"""Course adapters (gradverify/grading/adapters/): a course's own API graded through an
instructor's file that maps it onto the protocol, in the sandbox beside the student's module.

The course solutions (tests/adapters/) are checked twice, independently: each one's bug is found
function by function against PyTorch autograd (tests/adapters/oracles.py), and its grade loses
exactly the items the course's table says that function costs (tests/adapters/ITEMS), while
the items the adapter cannot map are "not mapped" and out of the total. Most grades run in this
process (grading.adapters.load_local); two go end to end through the command line and the sandbox.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from gradverify.cli import main
from gradverify.grading import adapters
from gradverify.grading import items as grading
from gradverify.grading.feedback import class_summary, render_submission, results_json
from gradverify.grading.rubric import load_rubric
from gradverify.references.compare import Cause
from gradverify.sandbox import errors as sandbox_errors
from tests.adapters import ITEMS, NOT_MAPPED, SOLUTIONS, oracles

RUBRIC = load_rubric()
#: The buggy solutions are graded on fewer cases (each bug shows on the first few; seed 0).
QUICK = replace(RUBRIC, examples=10)
MAPPED_POINTS = {
    course: RUBRIC.max_score - sum(i.points for i in RUBRIC.items if i.name in names) for course, names in NOT_MAPPED.items()
}


def _grade(solution, rubric=RUBRIC):
    module, adapter = adapters.load_local(solution.course, solution.module())
    return grading.grade_module(module, rubric, submission=solution.name, adapter=adapter)


# --------------------------------------------------------------------------- the course solutions


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_each_course_solutions_bug_is_where_it_says_by_pytorch_autograd(name):
    solution = SOLUTIONS[name]
    assert oracles.wrong(solution.course, solution.module()) == solution.broken, solution.description


def test_the_tables_of_costs_cover_every_course_function_the_oracles_check():
    for course, checks in oracles.CHECKS.items():
        assert {name for names, _ in checks for name in names} == set(ITEMS[course])


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_each_course_solution_loses_exactly_the_items_its_bug_is_in(name):
    """The correct solutions get every mappable item (on the rubric's full 30 cases); each buggy
    one loses the items its broken functions cost (ITEMS) and nothing else. Either way the items
    the adapter cannot map are not mapped: 0 of 0, out of the total."""
    solution = SOLUTIONS[name]
    result = _grade(solution, RUBRIC if not solution.broken else QUICK)
    status = {r.item.name: r.status for r in result.items}
    assert {n for n, s in status.items() if s == "not mapped"} == NOT_MAPPED[solution.course]
    assert {n for n, s in status.items() if s not in ("passed", "not mapped")} == solution.lost(), solution.description
    assert result.max_score == MAPPED_POINTS[solution.course]
    assert result.score == result.max_score - sum(r.item.points for r in result.items if r.item.name in solution.lost())
    assert all(r.reason and r.details for r in result.items if r.status == "failed")


def test_a_course_function_the_student_lacks_is_not_implemented_in_its_own_name():
    """affine_backward missing: the dense item is "not implemented" and says which course function
    is missing (not a traceback from inside the adapter); the network item, whose every network
    needs it, too; the items that do not need it pass."""
    partial = replace(
        SOLUTIONS["cs231n_correct"],
        name="cs231n_without_affine_backward",
        patches=(("def affine_backward(dout, cache):", "def _affine_backward(dout, cache):"),),
    )
    result = _grade(partial, QUICK)
    by_name = {r.item.name: r for r in result.items if r.mapped}
    assert {n for n, r in by_name.items() if r.status == "not implemented"} == {"dense", "network"}
    dense, network = by_name["dense"], by_name["network"]
    assert (dense.cause, dense.failed_at) == (Cause.NOT_DEFINED, "dense_backward")
    assert (network.cause, network.failed_at) == (Cause.NOT_DEFINED, "network_gradients")
    assert "affine_backward" in dense.reason  # the student's name that is missing has no field of its own
    assert {n for n, r in by_name.items() if r.passed} == {"relu", "momentum_step"}
    assert result.score == 10 and result.max_score == 40


# --------------------------------------------------------------------------- end to end


def test_the_shipped_cs231n_adapter_through_the_command_line_gives_full_marks_of_what_it_maps(tmp_path):
    student = SOLUTIONS["cs231n_correct"].write(tmp_path)
    out, report = tmp_path / "results.json", tmp_path / "report.md"
    assert (
        main(["grade", "--adapter", "cs231n", str(student), "--results-json", str(out), "--report", str(report), "--quiet"]) == 0
    )
    results = json.loads(out.read_text())
    assert results["score"] == results["extra_data"]["max_score"] == MAPPED_POINTS["cs231n"] == 40
    assert {t["extra_data"]["item"] for t in results["tests"]} == {i.name for i in RUBRIC.items} - NOT_MAPPED["cs231n"]
    assert all(t["status"] == "passed" and t["max_score"] > 0 for t in results["tests"])
    assert {n["item"] for n in results["extra_data"]["not_mapped"]} == NOT_MAPPED["cs231n"]
    assert results["extra_data"]["adapter"] == "cs231n"
    text = report.read_text()
    assert "**40 / 40**" in text and "60 points not mapped, not counted" in text
    assert text.count("⬜ not mapped") == len(NOT_MAPPED["cs231n"])


def test_a_buggy_layer_solution_through_an_adapter_file_and_the_sandbox(tmp_path):
    """The layers adapter as a course's own file; a solution with a wrong ReLU.backward, no
    CrossEntropyLoss and a Tanh.backward stub: relu fails, cce and tanh are not implemented,
    each cause naming the course's class or method (and where in the student's file), the
    networks are drawn without the three, and everything else passes."""
    course_api = tmp_path / "course_api.py"
    shutil.copy(adapters.SHIPPED["layers"], course_api)
    buggy = SOLUTIONS["layers_relu_mask_from_gradient"]
    student = replace(
        buggy,
        name="student",
        patches=buggy.patches
        + (
            ("class CrossEntropyLoss:", "class CrossEntropy:"),
            ("        return grad_a * (1 - self.a ** 2)", "        raise NotImplementedError"),
        ),
    ).write(tmp_path)
    out, rubric = tmp_path / "results.json", tmp_path / "rubric.toml"
    rubric.write_text(Path(RUBRIC.path).read_text(encoding="utf-8").replace("\nexamples = 30", "\nexamples = 10"))
    assert (
        main(
            ["grade", str(student), "--adapter", str(course_api), "--rubric", str(rubric), "--results-json", str(out), "--quiet"]
        )
        == 0
    )
    tests = {t["extra_data"]["item"]: t for t in json.loads(out.read_text())["tests"]}
    status = {name: t["extra_data"]["status"] for name, t in tests.items()}
    assert {n for n, s in status.items() if s != "passed"} == {"relu", "cce", "tanh"}
    assert status["relu"] == "failed" and status["cce"] == status["tanh"] == "not implemented"
    assert tests["cce"]["extra_data"]["failure"] == Cause.NOT_DEFINED.name
    assert "CrossEntropyLoss" in tests["cce"]["extra_data"]["cause"]  # the missing name has no field of its own
    tanh_line = student.read_text().splitlines().index("        raise NotImplementedError") + 1
    assert f"in Tanh.backward, line {tanh_line}" in tests["tanh"]["extra_data"]["cause"]
    assert sum(t["score"] for t in tests.values()) == MAPPED_POINTS["layers"] - 12


# --------------------------------------------------------------------------- staff's mistakes and the sandbox


BAD_ADAPTERS = {
    "missing": (None, "no such adapter"),
    "syntax": ("def activation(name, z):\n    return z +\n", "syntax error at line 2"),
    "raises": (
        "import numpy as np\nraise RuntimeError('forgot to finish this')\n",
        "raised RuntimeError: forgot to finish this at line 2",
    ),
    "nothing": ("import student\n\ndef helper(x):\n    return x\n", "defines no protocol function"),
    "unknown_activation": (
        "import student\nACTIVATIONS = ('relu', 'swish')\n\ndef activation(name, z):\n    return student.f(z)\n",
        "ACTIVATIONS lists 'swish'",
    ),
    "bad_l2": ("import student\nL2 = 'no'\n\ndef activation(name, z):\n    return student.f(z)\n", "L2 must be True or False"),
    "eager_lookup": (
        "import student\nDense = student.Dense\n\ndef dense_forward(x, W, b):\n    return Dense(W, b).forward(x)\n",
        "looks up student.Dense while it is imported",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ADAPTERS))
def test_an_adapter_that_cannot_be_used_stops_the_grader_with_exit_2(case, tmp_path, capsys):
    source, words = BAD_ADAPTERS[case]
    adapter = tmp_path / "course_api.py"
    if source is not None:
        adapter.write_text(source)
    student = SOLUTIONS["cs231n_correct"].write(tmp_path)
    out = tmp_path / "results.json"
    assert main(["grade", str(student), "--adapter", str(adapter), "--results-json", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert words in err and "course_api.py" in err, err
    assert not out.exists()


ONLY_IN_A_SANDBOX = """
import sys
import student

# The grader's process has gradverify and pytest loaded; the sandbox's worker has neither.
if "gradverify" in sys.modules or "pytest" in sys.modules:
    raise RuntimeError("this adapter runs in the grader's process")


def dense_forward(x, W, b):
    return student.affine_forward(x, W.T, b)[0]
"""


def test_the_adapter_runs_in_the_sandbox_never_in_the_grader(tmp_path):
    path = tmp_path / "course_api.py"
    path.write_text(ONLY_IN_A_SANDBOX)
    assert adapters.load(path).functions == {"dense_forward"}
    with pytest.raises(adapters.AdapterError, match="runs in the grader's process"):  # the check can fail
        adapters.load_local(path, SOLUTIONS["cs231n_correct"].module())


def test_a_student_file_that_does_not_import_scores_zero_of_what_the_adapter_maps(tmp_path):
    student = tmp_path / "student.py"
    student.write_text("def affine_forward(x, w, b):\n    return x @ w +\n")
    result = grading.grade_file(student, RUBRIC, adapter="cs231n")
    assert "syntax error at line 2" in result.load_error
    assert result.score == 0 and result.max_score == 40
    assert {r.item.name for r in result.not_mapped} == NOT_MAPPED["cs231n"]


# --------------------------------------------------------------------------- rubric, outputs, declarations


def test_a_rubric_names_its_adapter_relative_to_itself(tmp_path):
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "course_api.py").write_text("import student\n")
    rubric = folder / "rubric.toml"
    items = '[[items]]\nname = "d"\ncheck = "dense"\npoints = 1\n'
    rubric.write_text(f'adapter = "course_api.py"\n{items}')
    assert load_rubric(rubric).adapter == str((folder / "course_api.py").resolve())
    rubric.write_text(f'adapter = "cs231n"\n{items}')
    assert load_rubric(rubric).adapter == "cs231n"
    rubric.write_text(f'adapter = "missing.py"\n{items}')
    with pytest.raises(ValueError, match="no such adapter: missing.py"):
        load_rubric(rubric)


@pytest.fixture(scope="module")
def graded():
    """The dw bug through the CS231n adapter (dense and network lost: 10 of 40), graded once."""
    return _grade(SOLUTIONS["cs231n_dw_not_transposed"], QUICK)


def test_not_mapped_items_are_out_of_the_total_in_every_output(graded):
    """results.json by its fields; the staff report's row of a not mapped item by its wording, tested here alone."""
    document = results_json(graded)
    assert document["score"] == 10 and document["extra_data"]["max_score"] == 40
    assert not NOT_MAPPED["cs231n"] & {t["extra_data"]["item"] for t in document["tests"]}
    assert sum(t["max_score"] for t in document["tests"]) == 40
    assert {n["item"] for n in document["extra_data"]["not_mapped"]} == NOT_MAPPED["cs231n"]
    report = render_submission(graded)
    assert "**10 / 40**" in report and "| L2 regularisation (hidden) | — (5 not counted) | ⬜ not mapped |" in report
    table = class_summary([document]).split("## Most common failures")[0]
    assert "| dense |" in table and "tanh" not in table


def test_an_adapter_without_l2_leaves_the_l2_item_out_and_trains_at_lambda_zero(tmp_path):
    """L2 = False: the l2 item is not mapped, and the training loop draws λ = 0 only (the adapter
    below raises at λ > 0, which would fail the item) and says so."""
    path = tmp_path / "course_api.py"
    path.write_text(
        adapters.SHIPPED["layers"].read_text()
        + (
            "\nL2 = False\n_train = train\n\n"
            "def train(net, X, Y, **options):\n"
            "    if net.get('l2', 0.0):\n"
            "        raise NotImplementedError('no weight decay in this course')\n"
            "    return _train(net, X, Y, **options)\n"
        )
    )
    rubric = replace(QUICK, items=tuple(i for i in RUBRIC.items if i.name in ("l2", "train_loop")))
    module, adapter = adapters.load_local(path, SOLUTIONS["layers_correct"].module())
    result = grading.grade_module(module, rubric, adapter=adapter)
    l2, train = result.items
    assert l2.status == "not mapped" and "maps no L2 term" in l2.reason
    assert train.passed and any("λ > 0" in line for line in train.scope)
    assert result.max_score == train.item.points


def test_the_grader_validates_what_the_child_reports_through_an_adapter():
    """Everything an adapter's child reports is checked before it becomes words: a location that
    is not a qualified name and a line, a missing name that is not an identifier, a declaration
    of the wrong form are malformed."""
    raised = {"kind": "raised", "type": "ValueError", "message": "bad\nsecond"}
    assert (
        sandbox_errors.call_failure({**raised, "in": {"function": "Dense.backward", "line": 7}}).message
        == "bad (in Dense.backward, line 7)"
    )
    assert sandbox_errors.call_failure({**raised, "in": None}).message == "bad\nsecond"
    assert sandbox_errors.call_failure({**raised, "in": {"function": "x; rm -rf /", "line": 7}}) is None
    assert sandbox_errors.call_failure({**raised, "in": {"function": "f", "line": "7"}}) is None
    assert sandbox_errors.call_failure({"kind": "missing", "name": "Dense"}).reason == "needs Dense, which is not defined"
    assert sandbox_errors.call_failure({"kind": "missing", "name": "../Dense"}) is None
    functions = frozenset({"activation"})
    assert sandbox_errors.adapter_declaration(functions, {"activations": ["relu"], "losses": None, "l2": False}).activations == (
        "relu",
    )
    assert sandbox_errors.adapter_declaration(functions, {"activations": "relu", "losses": None, "l2": False}) is None
    assert sandbox_errors.adapter_declaration(functions, {"activations": None, "losses": None, "l2": 0}) is None
    assert sandbox_errors.adapter_declaration(functions, {"activations": None, "losses": None}) is None


def test_the_shipped_adapters_are_found_by_name():
    """(That an installed package ships them too: test_layout's installation test.)"""
    assert set(adapters.SHIPPED) == {"cs231n", "layers", "mytorch"}
    assert adapters.resolve("cs231n") == adapters.SHIPPED["cs231n"]
    assert adapters.load_local("layers", SOLUTIONS["layers_correct"].module())[1].name == "layers"
    assert sys.modules.get("student") is None  # load_local leaves no module named student behind


def _python_block(doc: Path, containing: str) -> str:
    """The one ```python block of `doc` that contains `containing`."""
    blocks = [b.split("```", 1)[0] for b in doc.read_text(encoding="utf-8").split("```python\n")[1:]]
    found = [block for block in blocks if containing in block]
    assert len(found) == 1, f"{doc} has {len(found)} python blocks with {containing!r}"
    return found[0]


def test_the_load_local_snippet_of_docs_adapters_grades_a_course_solution(tmp_path, monkeypatch, capsys):
    """docs/adapters.md's snippet, run as written on a shipped course solution and its adapter
    (the rubric's examples cut to QUICK's): the correct solution gets every mapped item."""
    import gradverify.grading.rubric as rubrics

    snippet = _python_block(Path(__file__).resolve().parents[1] / "docs" / "adapters.md", "load_local(")
    shutil.copy(adapters.SHIPPED["layers"], tmp_path / "course_api.py")
    SOLUTIONS["layers_correct"].write(tmp_path).rename(tmp_path / "solution.py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(rubrics, "load_rubric", lambda: QUICK)
    namespace: dict = {}
    exec(compile(snippet, "docs/adapters.md", "exec"), namespace)
    result = namespace["result"]
    assert result.score == result.max_score == MAPPED_POINTS["layers"]
    assert {r.item.name for r in result.not_mapped} == NOT_MAPPED["layers"]
    assert f"{result.score:g}" in capsys.readouterr().out
