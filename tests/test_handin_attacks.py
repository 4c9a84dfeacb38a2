"""A hostile student's folders, zips and notebooks (gradverify.grading.handin) and the reports
their children send about them (gradverify.sandbox.errors): each is read within its limits, never
crashes the grader, and whatever names or messages it carries reach the reports as text that can
be written and shown."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from gradverify.cli import main
from gradverify.grading.handin import read
from gradverify.impl import backprop
from gradverify.sandbox.tree import Tree

DEFINES = "import numpy as np\n\ndef dense_forward(x, W, b):\n    return x @ W + b\n"
MODEL = Path(backprop.__file__).read_text().replace("from __future__ import annotations\n", "")
RUBRIC = 'examples = 2\n[[items]]\nname = "tanh"\ncheck = "activation"\ntarget = "tanh"\npoints = 1\n'


def zipped(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def notebook(path: Path, *sources: str) -> Path:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "source": source} for source in sources]
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    return path


def grade(tmp_path: Path, target: Path) -> tuple[dict, str]:
    """(results.json, the staff report) of a grade of `target` with a one-item rubric."""
    rubric, results, report = tmp_path / "rubric.toml", tmp_path / "results.json", tmp_path / "report.md"
    rubric.write_text(RUBRIC)
    argv = ["grade", str(target), "--rubric", str(rubric), "--results-json", str(results), "--report", str(report)]
    assert main([*argv, "--quiet", "--no-plots"]) == 0
    return json.loads(results.read_text(encoding="utf-8")), report.read_text(encoding="utf-8")


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- zips


def test_a_zip_listing_a_file_and_a_folder_of_one_name_leaves_the_file_out(tmp_path):
    got = read(zipped(tmp_path / "hw.zip", {"backprop.py": DEFINES, "utils.py": "", "utils.py/inner.py": ""}))
    assert [path for path, _ in got.tree.files] == ["backprop.py", "utils.py/inner.py"]
    assert any("files whose path is also a folder's (1)" in note for note in got.found)


def test_a_tree_refuses_a_file_whose_path_is_another_files_folder():
    with pytest.raises(ValueError):
        Tree(files=(("a.py", b""), ("a.py/b.py", b"")), entry="a.py")


def test_a_zip_listing_a_file_and_a_folder_of_one_name_is_graded(tmp_path):
    document, _ = grade(tmp_path, zipped(tmp_path / "hw.zip", {"backprop.py": MODEL, "helpers.py": "", "helpers.py/x.py": ""}))
    assert document["score"] == 1 and document["extra_data"]["load_error"] is None
