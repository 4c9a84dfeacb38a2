"""The Gradescope recipe: run_autograder grades the one submitted file into results.json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "docs" / "gradescope" / "run_autograder"
GRADVERIFY = Path(sys.executable).with_name("gradverify")
SMALL_RUBRIC = 'examples = 5\n[[items]]\nname = "sigmoid"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 3\n'


def _autograder(tmp_path: Path, files: dict[str, str]) -> dict:
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "source" / "impl").mkdir(parents=True)
    (root / "source" / "rubric.toml").write_text(SMALL_RUBRIC)
    shutil.copy(ROOT / "impl" / "backprop.py", root / "source" / "impl" / "backprop.py")  # as setup.sh leaves it
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    env = {**os.environ, "AUTOGRADER": str(root), "GRADVERIFY": str(GRADVERIFY)}
    done = subprocess.run(["bash", str(RUN)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_grades_the_submitted_file_with_the_course_rubric(tmp_path):
    results = _autograder(tmp_path, {"backprop.py": (ROOT / "impl" / "backprop.py").read_text()})
    assert results["score"] == 3 and results["tests"][0]["status"] == "passed"
    assert (tmp_path / "autograder" / "results" / "report.md").is_file()


def test_run_autograder_asks_for_exactly_one_file(tmp_path):
    results = _autograder(tmp_path, {"a.py": "", "b.py": ""})
    assert results["score"] == 0 and "exactly one .py file (found 2)" in results["output"]


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
    results = _autograder(tmp_path, {"cheat.py": CHEAT})
    assert results["score"] == 0, results["tests"][0]["output"]
    assert (tmp_path / "autograder" / "source" / "impl" / "backprop.py").is_file()
    assert "bubblewrap" in results["extra_data"]["protections"] or results["extra_data"]["sandbox"] == "separate-user"
