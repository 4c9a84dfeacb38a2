"""The Gradescope recipe: run_autograder grades what was submitted (a file, or several as a
package) into results.json, with
each item's visibility in Gradescope's own values, hidden items' feedback and the staff report
where Gradescope shows them to staff only, and docs that say how long grading can take."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from gradverify.grading.classroom import worst_case_seconds
from gradverify.grading.feedback import STAFF_ONLY, results_json
from gradverify.grading.items import GradeResult, ItemResult
from gradverify.grading.rubric import SHIPPED_RUBRICS, Item, Rubric, load_rubric
from tests.test_course_cs231n import CNN_NET, FC_NET
from tests.variants import BUGGY

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "docs" / "gradescope" / "run_autograder"
DOCS = ROOT / "docs" / "gradescope" / "README.md"
GRADVERIFY = Path(sys.executable).with_name("gradverify")
SMALL_RUBRIC = (
    'examples = 5\n[[items]]\nname = "sigmoid"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 3\n'
    '[[items]]\nname = "tanh"\ncheck = "activation"\ntarget = "tanh"\npoints = 2\nhidden = true\n'
)


def _autograder(tmp_path: Path, files: dict[str, str], rubric: str = SMALL_RUBRIC, secret: str | None = None) -> tuple[dict, str]:
    """(results.json, what run_autograder printed: Gradescope's autograder output, for staff);
    `secret`: the course secret packed beside the rubric (mode 0644, as an unzip may leave it)."""
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "source" / "impl").mkdir(parents=True)
    (root / "source" / "rubric.toml").write_text(rubric)
    if secret is not None:
        (root / "source" / "course-secret").write_text(secret)
        (root / "source" / "course-secret").chmod(0o644)
    shutil.copy(ROOT / "impl" / "backprop.py", root / "source" / "impl" / "backprop.py")  # as setup.sh leaves it
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)
    env = {**os.environ, "AUTOGRADER": str(root), "GRADVERIFY": str(GRADVERIFY)}
    done = subprocess.run(["bash", str(RUN)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text()), done.stdout


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One run of run_autograder on the model solution with tanh's derivative taken at tanh(z):
    the visible sigmoid item passes, the hidden tanh item fails. (results.json, what it printed,
    report.md)"""
    tmp_path = tmp_path_factory.mktemp("graded")
    results, printed = _autograder(tmp_path, {"backprop.py": BUGGY["tanh_derivative_from_z"].source()})
    return results, printed, (tmp_path / "autograder" / "results" / "report.md").read_text()


def test_run_autograder_grades_the_submitted_file_with_the_course_rubric(graded):
    results, _, _ = graded
    assert results["score"] == 3 and [t["status"] for t in results["tests"]] == ["passed", "failed"]
    assert [t["visibility"] for t in results["tests"]] == ["visible", "hidden"]


def test_run_autograder_prints_the_staff_report_which_students_never_see(graded):
    results, printed, report = graded
    assert report.startswith("# Grade:") and report in printed  # Gradescope's autograder output: staff's
    assert "tanh (hidden)" in report and results["stdout_visibility"] == "hidden"
    tanh = results["tests"][1]
    assert tanh["output"].startswith(STAFF_ONLY) and tanh["extra_data"]["cause"] in tanh["output"]
    assert "Hint:" in tanh["output"]


def test_run_autograder_shows_staff_why_a_rubric_with_a_mistake_cannot_grade(tmp_path):
    rubric = SMALL_RUBRIC.replace("hidden = true", "hiden = true")
    results, printed = _autograder(tmp_path, {"backprop.py": ""}, rubric)
    assert "unknown field 'hiden' in item 2 (line 12); did you mean 'hidden'?" in printed
    assert results["score"] == 0 and "could not run" in results["output"] and results["stdout_visibility"] == "hidden"


def test_run_autograder_derives_each_seed_from_the_course_secret_packed_beside_the_rubric(tmp_path):
    from gradverify.grading.secret import grade_seed, submission_digest

    secret = "c0ffee" * 8
    results, printed = _autograder(tmp_path, {"backprop.py": BUGGY["tanh_derivative_from_z"].source()}, secret=secret)
    source = tmp_path / "autograder" / "source"
    assert (source / "course-secret").stat().st_mode & 0o777 == 0o600  # closed before the grade read it
    submitted = tmp_path / "autograder" / "submission" / "backprop.py"
    assert results["extra_data"]["seed_source"] == "secret"
    assert results["extra_data"]["seed"] == grade_seed(secret.encode(), submission_digest(submitted))
    assert f"--seed {results['extra_data']['seed']}" in printed and secret not in printed


def test_run_autograder_grades_several_files_as_the_students_package_and_tells_staff_what_it_found(tmp_path):
    model = (ROOT / "impl" / "backprop.py").read_text().replace("import numpy as np", "import numpy as np\nimport utils", 1)
    results, printed = _autograder(tmp_path, {"backprop.py": model, "utils.py": "X = 1\n", "notes.txt": ""})
    assert results["score"] == 5
    assert "Submission: 3 file(s):" in printed and "  utils.py" in printed
    assert results["extra_data"]["handed_in"][0] == "graded backprop.py, with the 1 other .py file(s) it may import: utils.py"


def test_run_autograder_grades_a_course_package_upload_with_a_course_rubric(tmp_path):
    """CS231n's collectSubmission zip, as Gradescope unpacks it, under the shipped cs231n-a2 rubric
    copied as the autograder's rubric.toml (on few examples): every item of it graded, full marks."""
    rubric = SHIPPED_RUBRICS["cs231n-a2"].read_text().replace("examples = 15", "examples = 3", 1)
    files = {f"cs231n/{m}.py": (ROOT / "impl" / f"{m}.py").read_text() for m in ("layers", "optim")}
    files |= {"cs231n/__init__.py": "", "cs231n/classifiers/__init__.py": "", "cs231n/classifiers/fc_net.py": FC_NET}
    files["cs231n/classifiers/cnn.py"] = CNN_NET  # its fast_layers and layer_utils: the adapter's
    results, printed = _autograder(tmp_path, files, rubric)
    assert results["score"] == 74 and len(results["tests"]) == 15
    assert results["extra_data"]["handed_in"][0].startswith("graded cs231n/layers.py, with the 5 other")


def test_run_autograder_says_why_two_files_neither_of_which_is_the_protocol_cannot_be_graded(tmp_path):
    """The wording is the point: the student reads what to submit."""
    results, _ = _autograder(tmp_path, {"a.py": "", "b.py": ""})
    assert results["score"] == 0 and "2 .py files, of which none defines one of the protocol's functions" in results["output"]


def test_the_autograder_zip_holds_the_scripts_and_the_source(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    done = subprocess.run(["make", "-s", "gradescope"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import zipfile

    names = set(zipfile.ZipFile(ROOT / "dist" / "autograder.zip").namelist())
    assert {"setup.sh", "run_autograder", "source/pyproject.toml", "source/impl/backprop.py"} <= names


#: A submission that does no work of its own: it takes the model solution wherever it can find it.
CHEAT = """
import glob, os
try:
    from gradverify.impl.backprop import *
except ImportError:
    try:
        from impl.backprop import *
    except ImportError:
        for path in glob.glob("/autograder/**/backprop.py", recursive=True) + glob.glob("/tmp/**/backprop.py", recursive=True):
            try:
                exec(open(path).read())
                break
            except OSError:
                continue
"""


def test_a_submission_that_imports_or_searches_for_the_model_solution_scores_zero(tmp_path):
    results, _ = _autograder(tmp_path, {"cheat.py": CHEAT})
    assert results["score"] == 0, results["tests"][0]["output"]
    assert (tmp_path / "autograder" / "source" / "impl" / "backprop.py").is_file()
    assert "bubblewrap" in results["extra_data"]["protections"] or results["extra_data"]["sandbox"] == "separate-user"


# --------------------------------------------------------------------------- results.json from results


def _result(visibility: dict[str, str], passed: set[str]) -> GradeResult:
    """A grade of items named by their visibility, built without grading: the failures with a
    cause, a detail and a hint, as a graded item has them."""
    items = tuple(Item(name, name.title(), "dense", 2.0, visibility=v) for name, v in visibility.items())
    rubric = Rubric("test", items)
    results = [
        ItemResult(i, True, 2.0, examples=30)
        if i.name in passed
        else ItemResult(
            i,
            False,
            0.0,
            reason=f"{i.name}: grad_W differs",
            details=["Smallest failing case: x"],
            hints=["Check the transpose."],
        )
        for i in items
    ]
    return GradeResult("student.py", rubric, results, sandbox="bubblewrap")


def test_results_json_gives_each_test_the_rubric_s_gradescope_visibility():
    visibility = {"shown": "visible", "secret": "hidden", "later": "after_due_date", "published": "after_published"}
    document = results_json(_result(visibility, passed=set()))
    assert {t["extra_data"]["item"]: t["visibility"] for t in document["tests"]} == visibility
    assert document["stdout_visibility"] == "hidden"


def test_a_hidden_item_s_test_carries_the_full_feedback_for_staff():
    document = results_json(_result({"shown": "visible", "secret": "hidden"}, passed=set()))
    shown, secret = document["tests"]
    assert secret["output"] == f"{STAFF_ONLY}\n{shown['output'].replace('shown', 'secret')}"
    assert "Smallest failing case: x" in secret["output"] and "Hint: Check the transpose." in secret["output"]


def test_the_top_level_output_keeps_the_score_back_while_items_are_shown_later():
    """The wording is the point: the two notes a student reads in place of the score, each checked here alone."""
    later = results_json(_result({"shown": "visible", "later": "after_due_date"}, passed={"shown"}))["output"]
    assert "Score" not in later and "1 of the 2 items, and your total score, are shown to you after the due date" in later
    hidden = results_json(_result({"shown": "visible", "secret": "hidden"}, passed={"shown"}))["output"]
    assert hidden == "Score 2 of 4. 2 of the 4 points are for 1 item that only the course staff see."


# --------------------------------------------------------------------------- how long grading can take


def test_the_gradescope_docs_state_the_worst_case_of_the_rubric_s_timeouts():
    """The docs' sentences are the point: they must state the numbers the code computes."""
    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    shipped = load_rubric()
    assert f"that is {worst_case_seconds(shipped):g} s" in text
    assert f"at 10 s the shipped rubric's worst case is {worst_case_seconds(replace(shipped, item_timeout=10)):g} s" in text
    assert worst_case_seconds(shipped) < 20 * 60 and "set the timeout to **20 minutes**" in text


def test_run_autograder_grades_a_mytorch_handin_with_a_mytorch_rubric(tmp_path):
    """An 11-785 handin (the mytorch/ package) under the shipped mytorch-hw3 rubric as the
    autograder's rubric.toml (on few examples): both cells and the classifier graded, full marks."""
    rubric = SHIPPED_RUBRICS["mytorch-hw3"].read_text().replace("examples = 15", "examples = 3", 1)
    source = ROOT / "impl" / "mytorch"
    files = {f"mytorch/{p.relative_to(source).as_posix()}": p.read_text() for p in sorted(source.rglob("*.py"))}
    results, printed = _autograder(tmp_path, files, rubric)
    assert results["score"] == 35 and [t["status"] for t in results["tests"]] == ["passed"] * 3
    assert results["extra_data"]["handed_in"][0].startswith("graded mytorch/rnn_cell.py, with the")
