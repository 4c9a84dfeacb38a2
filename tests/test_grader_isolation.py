"""No file of a class folder is ever imported by the grader itself.

`python -m` puts the working folder first on the import path, so a submission saved as
argparse.py in the folder a TA grades from would run, unsandboxed, as the TA. These tests fill a
class folder with a file named after every module the grader's own processes import (each one,
when imported, leaves a mark in a folder of the test's) and grade from inside it, the ways a TA
does: a class with `python -m gradverify grade … --jobs 2` (its per-student processes too), and
one submission with `python -m gradverify`. (A file named gradverify.py is the one that
`python -m gradverify` itself finds first, before gradverify can do anything; the `gradverify`
command, whose import path starts with its own folder, has no such file.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradverify.grading.classroom import student_outputs
from gradverify.sandbox import engine
from tests.variants import IMPL_SOURCE

TEMPLATE = Path(__file__).resolve().parents[1] / "gradverify" / "grading" / "student_template.py"

#: What the grader imports to grade: the CLI, the grading modules, the references and the sandbox.
GRADER_MODULES = (
    "gradverify.cli",
    "gradverify.grading.items",
    "gradverify.grading.classroom",
    "gradverify.grading.feedback",
    "gradverify.plots",
    "gradverify.references.jax_backend",
    "gradverify.references.torch_backend",
    "gradverify.sandbox.host",
)
RUBRIC = 'examples = 2\n[[items]]\nname = "sigmoid"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 1\n'


def _top_level_modules_of_the_grader() -> list[str]:
    """The top-level names of every module the grader's modules load, as a fresh process sees them
    (found in a folder of their own: never a module of the standard library's start-up alone)."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {GRADER_MODULES!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    names = json.loads(done.stdout.strip().splitlines()[-1])
    # gradverify itself is left out: `python -m gradverify` finds a gradverify.py in the working
    # folder before the package, as Python's -m does for any module (docs/security.md)
    return [
        n
        for n in names
        if n.isidentifier() and n not in sys.builtin_module_names and not n.startswith("__") and n != "gradverify"
    ]


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """(the class folder, the folder the marks land in, the names planted): two students, and a
    planted module beside them for every module the grader imports."""
    root = tmp_path_factory.mktemp("isolation")
    marks = root / "marks"
    marks.mkdir()
    folder = root / "class"
    folder.mkdir()
    names = _top_level_modules_of_the_grader()
    for name in names:
        (folder / f"{name}.py").write_text(
            f"open({str(marks / name)!r}, 'w').write('imported')\nraise ImportError('planted {name}')\n"
        )
    shutil.copy(IMPL_SOURCE, folder / "alice_submission.py")
    shutil.copy(TEMPLATE, folder / "bob_submission.py")
    (root / "rubric.toml").write_text(RUBRIC)
    return folder, marks, names


def _run(command: list[str], folder: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=folder, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )


def test_the_class_folder_holds_a_stand_in_for_the_modules_a_grader_imports(class_folder):
    _, _, names = class_folder
    assert {"argparse", "json", "numpy", "subprocess", "torch", "jax", "hypothesis"} <= set(names)


def _separate_user_mode_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the separate-user mode needs root"
    exe = engine.runtime()["exe"]
    if not engine.reachable_by_others(exe):
        return f"the separate-user mode cannot run here: the grader's interpreter {exe} is not reachable by others"
    return None


#: The separate-user run closes the checkout to other users while it grades (engine.lock), which
#: would upset the tests that run as an ordinary user beside it: it is left to make attacks.
@pytest.mark.parametrize(
    "mode", [engine.Mode.BWRAP, pytest.param(engine.Mode.USER, marks=pytest.mark.long)], ids=lambda m: m.value
)
def test_grading_a_class_from_inside_its_folder_imports_none_of_its_files(class_folder, mode):
    """In the default mode (bubblewrap) and in the separate-user mode, forced: the per-student
    processes are the grader's in both, and in the second the class folder is closed to others
    while a submission runs."""
    if mode is engine.Mode.BWRAP and not engine.bwrap_works()[0]:
        pytest.skip("bubblewrap cannot run here")
    if mode is engine.Mode.USER and _separate_user_mode_unavailable():
        pytest.skip(_separate_user_mode_unavailable())
    folder, marks, _ = class_folder
    out = folder.parent / f"grades-{mode.value}"
    done = _run(
        [
            sys.executable,
            "-m",
            "gradverify",
            "grade",
            "alice_submission.py",
            "bob_submission.py",
            "--jobs",
            "2",
            "--out",
            str(out),
            "--rubric",
            "../rubric.toml",
            "--quiet",
        ],
        folder,
        **{engine.MODE_VARIABLE: mode.value},
    )
    assert sorted(p.name for p in marks.iterdir()) == []
    assert done.returncode == 0, done.stderr[-2000:]
    alice = json.loads(student_outputs(out, "alice_submission")[1].read_text())
    assert alice["score"] == 1 and alice["extra_data"]["sandbox"] == mode.value
    assert json.loads(student_outputs(out, "bob_submission")[1].read_text())["score"] == 0


def test_grading_one_file_from_inside_its_folder_imports_none_of_its_files(class_folder):
    folder, marks, _ = class_folder
    results = folder.parent / "alice.json"
    done = _run(
        [
            sys.executable,
            "-m",
            "gradverify",
            "grade",
            "alice_submission.py",
            "--rubric",
            "../rubric.toml",
            "--results-json",
            str(results),
            "--quiet",
        ],
        folder,
    )
    assert sorted(p.name for p in marks.iterdir()) == []
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(results.read_text())["score"] == 1
