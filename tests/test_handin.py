"""What a student hands in, read for the sandbox (gradverify.grading.handin): folders, zips and
notebooks become Trees of bytes, within limits, never through a link."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import pytest

from gradverify.grading import handin
from gradverify.grading.handin import Form, HandinError, python_of_cell, read
from gradverify.sandbox.tree import Tree, is_tree_path, module_of

DEFINES = "import numpy as np\n\ndef dense_forward(x, W, b):\n    return x @ W + b\n"


def files(folder: Path, contents: dict[str, str | bytes]) -> Path:
    for name, text in contents.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
    return folder


def zipped(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def notebook(path: Path, *sources: str, markdown_first: bool = True) -> Path:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Homework\n"]}] if markdown_first else []
    cells += [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s} for s in sources]
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    return path


# --------------------------------------------------------------------------- folders


def test_a_py_file_is_handed_to_the_sandbox_as_it_is(tmp_path):
    got = read(files(tmp_path, {"hw.py": DEFINES}) / "hw.py")
    assert got.form is Form.FILE and got.tree is None and got.digest() is None


def test_a_folder_grades_the_one_file_defining_the_protocol_with_the_modules_beside_it(tmp_path):
    folder = files(tmp_path / "alice", {"backprop.py": DEFINES, "utils.py": "X = 1\n", "lib/extra.py": "", "notes.txt": "x"})
    got = read(folder)
    assert got.form is Form.FOLDER and got.tree is not None
    assert got.tree.entry == "backprop.py" and got.tree.module == "backprop"
    assert [path for path, _ in got.tree.files] == ["backprop.py", "lib/extra.py", "utils.py"]
    assert any("files that are not .py (1)" in note for note in got.found)


def test_the_rubrics_file_names_the_module_graded_among_several_that_define_the_protocol(tmp_path):
    folder = files(tmp_path / "bob", {"backprop.py": DEFINES, "backprop_old.py": DEFINES})
    with pytest.raises(HandinError, match="of which 2 define") as refused:
        read(folder)
    assert "backprop.py" in str(refused.value) and "submission_file" in str(refused.value)
    assert read(folder, file="backprop_old.py").tree.entry == "backprop_old.py"


def test_a_folder_without_a_file_defining_the_protocol_is_refused_saying_what_was_expected(tmp_path):
    with pytest.raises(HandinError, match="of which none defines"):
        read(files(tmp_path / "carol", {"a.py": "", "b.py": ""}))
    with pytest.raises(HandinError, match="no .py file and no notebook"):
        read(files(tmp_path / "dave", {"notes.txt": ""}))


def test_a_link_in_a_folder_is_never_followed(tmp_path):
    secret = files(tmp_path / "outside", {"answer.py": "SECRET = 42\n"}) / "answer.py"
    folder = files(tmp_path / "eve", {"backprop.py": DEFINES})
    (folder / "answer.py").symlink_to(secret)
    (folder / "linked").symlink_to(secret.parent, target_is_directory=True)
    got = read(folder)
    assert [path for path, _ in got.tree.files] == ["backprop.py"]
    assert any("symbolic links (never followed) (2)" in note for note in got.found)


def test_caches_hidden_folders_and_checkpoints_are_not_read(tmp_path):
    folder = files(
        tmp_path / "f",
        {"backprop.py": DEFINES, "__pycache__/x.py": "", ".git/y.py": "", ".ipynb_checkpoints/hw-checkpoint.py": ""},
    )
    assert [path for path, _ in read(folder).tree.files] == ["backprop.py"]


def test_a_folder_holding_only_a_notebook_grades_the_notebook(tmp_path):
    folder = tmp_path / "g"
    folder.mkdir()
    notebook(folder / "hw.ipynb", DEFINES)
    got = read(folder)
    assert got.form is Form.FOLDER and got.tree.cells and "hw.ipynb" in got.found[0]


def test_more_py_files_than_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(handin, "MAX_FILES", 3)
    with pytest.raises(HandinError, match="more than 3 .py files"):
        read(files(tmp_path / "h", {f"m{i}.py": "" for i in range(4)}))


# --------------------------------------------------------------------------- zips


def test_a_zip_of_a_folder_loses_its_wrapping_folder_and_its_macos_metadata(tmp_path):
    archive = zipped(
        tmp_path / "hw.zip",
        {"hw2/backprop.py": DEFINES, "hw2/utils.py": "", "__MACOSX/hw2/._backprop.py": "junk", "hw2/README.md": ""},
    )
    got = read(archive)
    assert got.form is Form.ZIP
    assert [path for path, _ in got.tree.files] == ["backprop.py", "utils.py"] and got.tree.entry == "backprop.py"


def test_a_zip_entry_that_leaves_its_folder_or_is_a_link_is_left_out(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("backprop.py", DEFINES)
        archive.writestr("../escape.py", "")
        archive.writestr("/etc/absolute.py", "")
        link = zipfile.ZipInfo("link.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    got = read(path)
    assert [p for p, _ in got.tree.files] == ["backprop.py"]
    assert any("zip entries outside its folder, or links (3)" in note for note in got.found)


def test_a_zip_bomb_is_refused_at_the_limit_whatever_its_headers_say(tmp_path, monkeypatch):
    monkeypatch.setattr(handin, "MAX_BYTES", 1 << 20)
    path = zipped(tmp_path / "bomb.zip", {"backprop.py": DEFINES + "#" * (4 << 20)})
    assert path.stat().st_size < 100_000
    with pytest.raises(HandinError, match="larger than 1 MB"):
        read(path)


def test_what_is_no_zip_is_refused_saying_so(tmp_path):
    (tmp_path / "hw.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(HandinError, match="not a zip archive"):
        read(tmp_path / "hw.zip")


def test_an_encrypted_zip_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("backprop.py", DEFINES)
    data = bytearray(buffer.getvalue())
    data[6] |= 0x1  # the local header's flag: encrypted
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1  # and the central directory's
    (tmp_path / "locked.zip").write_bytes(bytes(data))
    with pytest.raises(HandinError, match="encrypted"):
        read(tmp_path / "locked.zip")


# --------------------------------------------------------------------------- notebooks


def test_a_notebooks_code_cells_are_kept_in_order_numbered_as_jupyter_shows_them(tmp_path):
    got = read(notebook(tmp_path / "hw.ipynb", "import numpy as np", DEFINES))
    assert got.form is Form.NOTEBOOK
    assert [(c.number, c.source) for c in got.tree.cells] == [(2, "import numpy as np"), (3, DEFINES)]


def test_ipython_lines_become_pass_at_their_indent_so_line_numbers_stay():
    source = "%matplotlib inline\nx = 1\nfor i in range(2):\n    !echo hi\nfiles = !ls\ny = x != 2\n"
    python, note = python_of_cell(source, 4)
    assert python.split("\n") == ["pass", "x = 1", "for i in range(2):", "    pass", "pass", "y = x != 2", ""]
    compile(python, "cell 4", "exec")
    assert note == "cell 4: 3 IPython line(s) (% or !) not run"


def test_a_cell_magic_whose_body_is_python_runs_and_any_other_leaves_the_cell_out():
    assert python_of_cell("%%time\nx = 1", 2) == ("\nx = 1", "")
    assert python_of_cell("%%bash\nls -la", 3) == (None, "cell 3 (%%bash) is not Python: left out")


def test_what_is_not_a_notebook_is_refused_saying_what_was_expected(tmp_path):
    (tmp_path / "a.ipynb").write_text("not json")
    (tmp_path / "b.ipynb").write_text(json.dumps({"worksheets": []}))
    with pytest.raises(HandinError, match="not JSON"):
        read(tmp_path / "a.ipynb")
    with pytest.raises(HandinError, match="nbformat 4"):
        read(tmp_path / "b.ipynb")
    with pytest.raises(HandinError, match="no code cell"):
        read(notebook(tmp_path / "c.ipynb"))


def test_a_name_from_the_submission_is_shown_without_control_characters():
    assert handin.printable("evil\x1b[2J\n.py") == "evil?[2J?.py"


# --------------------------------------------------------------------------- trees and seeds


def test_the_digest_changes_with_any_byte_of_any_file(tmp_path):
    folder = files(tmp_path / "i", {"backprop.py": DEFINES, "utils.py": "X = 1\n"})
    before = read(folder).digest()
    (folder / "utils.py").write_text("X = 2\n")
    assert read(folder).digest() != before


def test_tree_paths_are_relative_and_stay_inside_their_folder():
    assert is_tree_path("cs231n/layers.py") and is_tree_path("backprop (1).py")
    for bad in ("../x.py", "/abs.py", "a/../b.py", ".hidden.py", "x.txt", "a//b.py", "a\\b.py"):
        assert not is_tree_path(bad), bad
    with pytest.raises(ValueError):
        Tree(files=(("../x.py", b""),), entry="../x.py")


def test_a_file_is_imported_by_its_module_name_when_it_has_one():
    assert module_of("cs231n/layers.py") == "cs231n.layers" and module_of("pkg/__init__.py") == "pkg"
    assert module_of("backprop (1).py") is None and module_of("hw-2/backprop.py") is None
