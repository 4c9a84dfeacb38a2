"""Submissions as they come, graded in the sandbox: a student's package whose modules import each
other, a zip of it, a notebook whose cells fail one by one, and a class exported by an LMS with a
folder per student."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

from gradverify.cli import main
from gradverify.grading.classroom import student_outputs
from gradverify.impl import backprop

MODEL = Path(backprop.__file__).read_text().replace("from __future__ import annotations\n", "")
RUBRIC = 'examples = 2\n[[items]]\nname = "sigmoid"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 2\n'
RUBRIC += '[[items]]\nname = "tanh"\ncheck = "activation"\ntarget = "tanh"\npoints = 1\n'
#: A helper module whose sigmoid derivative is not finished, where the module graded imports it.
HELPERS = "import numpy as np\n\n\ndef sigmoid_backward(z, grad_a):\n    raise ValueError('not finished')\n"
USES_HELPERS = MODEL.replace(
    "def _sigmoid_backward(z, grad_a):", "from helpers import sigmoid_backward as _sigmoid_backward\n\n\ndef _unused(z, grad_a):"
)


def _rubric(tmp_path: Path) -> Path:
    path = tmp_path / "rubric.toml"
    path.write_text(RUBRIC)
    return path


def _grade(tmp_path: Path, *paths: str, package: bool = False) -> dict:
    results = tmp_path / "results.json"
    argv = ["grade", *paths, "--rubric", str(_rubric(tmp_path)), "--results-json", str(results), "--quiet", "--no-plots"]
    assert main(argv + (["--package"] if package else [])) == 0
    return json.loads(results.read_text())


def _package(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "backprop.py").write_text(USES_HELPERS)
    (folder / "helpers.py").write_text(HELPERS)
    return folder


def _items(document: dict) -> dict[str, dict]:
    return {test["extra_data"]["item"]: test for test in document["tests"]}


def _notebook(path: Path, *sources: str) -> Path:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s} for s in sources]
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    return path


def test_a_package_imports_its_own_module_and_a_failure_there_names_that_file_and_line(tmp_path):
    document = _grade(tmp_path, str(_package(tmp_path / "alice")), package=True)
    items = _items(document)
    assert items["tanh"]["score"] == 1 and items["sigmoid"]["score"] == 0
    assert "in sigmoid_backward, line 5 of helpers.py" in items["sigmoid"]["extra_data"]["cause"]
    assert document["extra_data"]["handed_in"] == ["graded backprop.py, with the 1 other .py file(s) it may import: helpers.py"]


def test_a_zip_of_a_folder_is_graded_as_the_folder_is(tmp_path):
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("hw/backprop.py", USES_HELPERS)
        zipped.writestr(
            "hw/helpers.py",
            HELPERS.replace("raise ValueError('not finished')", "s = 1 / (1 + np.exp(-z))\n    return grad_a * s * (1 - s)"),
        )
    document = _grade(tmp_path, str(archive))
    assert document["score"] == 3 and document["extra_data"]["load_error"] is None


def test_a_notebooks_failing_cells_are_named_and_the_cells_after_them_still_count(tmp_path):
    path = _notebook(
        tmp_path / "hw.ipynb",
        "%matplotlib inline\nimport numpy as np",
        "import matplotlib.pyplot as plt",
        "def broken(:\n    pass",
        MODEL,
        "!pip install nothing",
    )
    document = _grade(tmp_path, str(path))
    assert document["score"] == 3
    notes = document["extra_data"]["handed_in"]
    assert notes[0] == "graded the 5 code cell(s) of hw.ipynb, run in order"
    assert any(note.startswith("line 1 of cell 2: imports matplotlib, which the sandbox does not have") for note in notes)
    assert any(note.startswith("line 1 of cell 3: syntax error") for note in notes)
    assert "cell 1: 1 IPython line(s) (% or !) not run" in notes


def test_a_notebook_function_that_raises_names_its_cell_and_line(tmp_path):
    broken = MODEL.replace("def _tanh_backward(z, grad_a):", "def _tanh_backward(z, grad_a):\n    raise RuntimeError('todo')")
    document = _grade(tmp_path, str(_notebook(tmp_path / "hw.ipynb", broken)))
    cause = _items(document)["tanh"]["extra_data"]["cause"]
    line = broken.split("\n").index("    raise RuntimeError('todo')") + 1
    assert f"in _tanh_backward, line {line} of cell 1" in cause


def test_an_lms_export_of_a_folder_per_student_gets_one_grade_per_student_named_by_its_folder(tmp_path):
    export = tmp_path / "export"
    _package(export / "alice")
    (export / "bob").mkdir()
    _notebook(export / "bob" / "hw.ipynb", MODEL)
    (export / "carol").mkdir()
    with zipfile.ZipFile(export / "carol" / "submission.zip", "w") as zipped:
        zipped.writestr("backprop.py", MODEL)
    (export / "dave").mkdir()
    (export / "dave" / "backprop.py").write_text(MODEL)
    out = tmp_path / "grades"
    argv = ["grade", str(export), "--jobs", "2", "--out", str(out), "--rubric", str(_rubric(tmp_path)), "--quiet", "--no-plots"]
    assert main(argv) == 0
    rows = {row["student"]: row for row in csv.DictReader((out / "grades.csv").read_text(encoding="utf-8").splitlines())}
    assert {name: float(row["score"]) for name, row in rows.items()} == {"alice": 1, "bob": 3, "carol": 3, "dave": 3}
    assert {row["status"] for row in rows.values()} == {"graded"}
    assert all(path.is_file() for name in rows for path in student_outputs(out, name))
    assert "| alice | 1 |" in (out / "summary.md").read_text()


def test_regrading_one_student_with_out_updates_their_grade_the_summary_and_grades_csv(tmp_path):
    export, out = tmp_path / "export", tmp_path / "grades"
    for name in ("alice", "bob"):
        (export / name).mkdir(parents=True)
    (export / "alice" / "backprop.py").write_text(MODEL)
    bob = export / "bob" / "backprop.py"
    bob.write_text(
        MODEL.replace("def _tanh_backward(z, grad_a):", "def _tanh_backward(z, grad_a):\n    raise RuntimeError('todo')")
    )
    common = ["--rubric", str(_rubric(tmp_path)), "--quiet", "--no-plots", "--out", str(out)]
    assert main(["grade", str(export), "--jobs", "2", *common]) == 0
    bob_results = student_outputs(out, "bob")[1]
    before = json.loads(bob_results.read_text())
    assert before["score"] == 2
    assert before["extra_data"]["submission"] == "bob/backprop.py"  # relative to the class folder
    assert str(tmp_path) not in (out / "students" / "bob.md").read_text()  # the replay command too

    bob.write_text(MODEL)
    assert main(["grade", str(bob), *common]) == 0
    assert json.loads(bob_results.read_text())["score"] == 3
    rows = {row["student"]: row for row in csv.DictReader((out / "grades.csv").read_text(encoding="utf-8").splitlines())}
    assert {name: float(row["score"]) for name, row in rows.items()} == {"alice": 3, "bob": 3}
    summary = (out / "summary.md").read_text()
    assert "| bob | 3 |" in summary and "| alice | 3 |" in summary
