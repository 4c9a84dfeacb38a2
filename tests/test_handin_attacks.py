"""A hostile student's folders, zips and notebooks (gradverify.grading.handin) and the reports
their children send about them (gradverify.sandbox.errors): each is read within its limits, never
crashes the grader, and whatever names or messages it carries reach the reports as text that can
be written and shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gradverify.cli import main
from gradverify.grading import handin
from gradverify.grading.handin import read
from gradverify.impl import backprop
from gradverify.sandbox.errors import call_failure, cell_notes, load_reason
from gradverify.sandbox.tree import Tree

ROOT = Path(__file__).resolve().parents[1]
DEFINES = "import numpy as np\n\ndef dense_forward(x, W, b):\n    return x @ W + b\n"
MODEL = Path(backprop.__file__).read_text().replace("from __future__ import annotations\n", "")
RUBRIC = 'examples = 2\n[[items]]\nname = "tanh"\ncheck = "activation"\ntarget = "tanh"\npoints = 1\n'
#: A notebook's first cell that sends the grader a hello of its own, as a hijacked worker can:
#: a failed cell whose message holds a lone surrogate, valid JSON that no report can be written in.
FORGED_HELLO = r"""
import json, socket, struct
config = json.loads(open("/proc/self/cmdline", "rb").read().split(b"\0")[-2])
failure = {"kind": "raised", "type": "ValueError", "message": "\udc80 bad"}
cells = [{"cell": "cell 1", "failure": failure}]
body = json.dumps({"id": 0, "loaded": {"functions": ["tanh", "tanh_backward"], "cells_failed": cells}}).encode()
socket.socket(fileno=config["fd"]).sendall(struct.pack(">Q", len(body)) + body)
"""


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


# --------------------------------------------------------------------------- folders


def test_a_folder_replaced_by_a_link_while_its_folder_is_read_is_never_followed(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "solution.py").write_text("SECRET = 1\n")
    student = tmp_path / "student"
    (student / "sub").mkdir(parents=True)
    (student / "backprop.py").write_text(DEFINES)
    (student / "sub" / "utils.py").write_text("")
    listed = os.scandir

    def swapping(folder):  # the student's folder listed, then its folder `sub` swapped for a link
        entries = list(listed(folder))
        if (student / "sub").is_dir() and not (student / "sub").is_symlink():
            (student / "sub").rename(student / "sub-was")
            (student / "sub").symlink_to(outside)
        return iter(entries)

    monkeypatch.setattr(handin.os, "scandir", swapping)
    got = read(student)
    assert [path for path, _ in got.tree.files] == ["backprop.py"]
    assert any("folders that cannot be read (1)" in note for note in got.found)


def test_a_folder_that_cannot_be_listed_is_left_out_and_the_rest_graded(tmp_path, monkeypatch):
    student = tmp_path / "student"
    (student / "locked").mkdir(parents=True)
    (student / "backprop.py").write_text(DEFINES)
    (student / "locked" / "utils.py").write_text("")
    listed, calls = os.scandir, []

    def refusing(folder):  # as os.scandir does on a folder of mode 000 (root reads those anyway)
        calls.append(folder)
        if len(calls) > 1:
            raise PermissionError(13, "Permission denied")
        return listed(folder)

    monkeypatch.setattr(handin.os, "scandir", refusing)
    got = read(student)
    assert [path for path, _ in got.tree.files] == ["backprop.py"]
    assert any("folders that cannot be read (1)" in note for note in got.found)


def test_a_folder_of_a_module_and_many_notebooks_grades_the_module(tmp_path):
    student = tmp_path / "student"
    student.mkdir()
    (student / "backprop.py").write_text(DEFINES)
    for lab in range(5):
        notebook(student / f"lab{lab}.ipynb", "x = 1")
    got = read(student)
    assert got.tree.entry == "backprop.py" and not got.tree.cells


def test_a_folder_of_notebooks_and_no_module_is_refused_naming_them(tmp_path):
    student = tmp_path / "student"
    student.mkdir()
    for lab in range(2):
        notebook(student / f"lab{lab}.ipynb", DEFINES)
    with pytest.raises(handin.HandinError, match="lab0.ipynb, lab1.ipynb"):
        read(student)


# --------------------------------------------------------------------------- zips


def test_a_zip_listing_a_file_and_a_folder_of_one_name_leaves_the_file_out(tmp_path):
    got = read(zipped(tmp_path / "hw.zip", {"backprop.py": DEFINES, "utils.py": "", "utils.py/inner.py": ""}))
    assert [path for path, _ in got.tree.files] == ["backprop.py", "utils.py/inner.py"]
    assert any("files whose path is also a folder's (1)" in note for note in got.found)


def test_a_zip_member_left_out_is_never_unpacked(tmp_path, monkeypatch):
    """2,000 members of 8 MB of zeros each (8 kB packed) named as no module can be took a minute to unpack."""
    members = {"backprop.py": DEFINES, **{f"bad:{i}.py": "" for i in range(20)}, **{f"lab{i}.ipynb": "{}" for i in range(5)}}
    unpacked, unpack = [], handin._unpacked

    def counted(archive, member):
        unpacked.append(member.filename)
        return unpack(archive, member)

    monkeypatch.setattr(handin, "_unpacked", counted)
    got = read(zipped(tmp_path / "hw.zip", members))
    assert got.tree.entry == "backprop.py" and unpacked == ["backprop.py", "lab0.ipynb", "lab1.ipynb", "lab2.ipynb"]


def test_a_tree_refuses_a_file_whose_path_is_another_files_folder():
    with pytest.raises(ValueError):
        Tree(files=(("a.py", b""), ("a.py/b.py", b"")), entry="a.py")


def test_a_zip_listing_a_file_and_a_folder_of_one_name_is_graded(tmp_path):
    document, _ = grade(tmp_path, zipped(tmp_path / "hw.zip", {"backprop.py": MODEL, "helpers.py": "", "helpers.py/x.py": ""}))
    assert document["score"] == 1 and document["extra_data"]["load_error"] is None


# --------------------------------------------------------------------------- notebooks


def test_a_cell_magics_name_is_noted_printable_and_short():
    _, note = handin.python_of_cell("%%\udc80\x1b]0;title\x07" + "A" * 5000 + " args\nls", 3)
    assert note.startswith("cell 3 ") and note.isprintable() and len(note) < 100


def test_a_notebook_of_many_cells_with_ipython_lines_names_only_the_first_of_them(tmp_path):
    got = read(notebook(tmp_path / "hw.ipynb", *["%matplotlib inline"] * (handin.NOTES_SHOWN + 30), DEFINES))
    assert len(got.tree.cells) == handin.NOTES_SHOWN + 31
    assert len(got.found) == 1 + handin.NOTES_SHOWN + 1 and "30 more" in got.found[-1]


def test_a_notebook_whose_cell_magic_holds_a_lone_surrogate_is_graded(tmp_path):
    document, report = grade(tmp_path, notebook(tmp_path / "hw.ipynb", "%%\udc80\nls", MODEL))
    assert document["score"] == 1 and all(encodable(note) for note in document["extra_data"]["handed_in"])


# --------------------------------------------------------------------------- what the child reports


def test_a_childs_message_holding_a_lone_surrogate_becomes_text_a_report_can_hold():
    failure = {"kind": "raised", "type": "ValueError", "message": "\udc80 bad"}
    assert encodable(load_reason(failure))
    assert all(encodable(note) for note in cell_notes([{"cell": "cell 2", "failure": {**failure, "line": 1}}]))
    error = call_failure(failure)
    assert encodable(error.reason) and encodable(error.message)


def test_a_forged_hello_whose_failed_cell_holds_a_lone_surrogate_is_graded(tmp_path):
    document, report = grade(tmp_path, notebook(tmp_path / "hw.ipynb", FORGED_HELLO, MODEL))
    assert any(note.startswith("cell 1: raised ValueError") for note in document["extra_data"]["handed_in"])
    assert "cell 1" in report


# --------------------------------------------------------------------------- staff output


def test_run_autograder_lists_each_submitted_file_on_one_line_its_controls_escaped(tmp_path):
    """A newline in a name is no second line of the list, an escape or a bidi override is shown, not obeyed."""
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "source").mkdir()
    (root / "source" / "rubric.toml").write_text("not a rubric [")  # nothing is graded: the list is what is tested
    for name in ("backprop.py\n  solution.py", "x\x1b[2J\u202e.py"):
        (root / "submission" / name).write_text("")
    env = {**os.environ, "AUTOGRADER": str(root), "GRADVERIFY": str(Path(sys.executable).with_name("gradverify"))}
    run = ROOT / "docs" / "gradescope" / "run_autograder"
    printed = subprocess.run(["bash", str(run)], env=env, capture_output=True, timeout=120).stdout
    listed = printed.split(b"file(s):\n", 1)[1].split(b"\n")[:2]
    assert b"Submission: 2 file(s):" in printed
    assert listed == [b"  $'backprop.py\\n  solution.py'", b"  $'x\\E[2J\\342\\200\\256.py'"]
