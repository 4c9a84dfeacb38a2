"""A rubric's packages: the staff report and the student's feedback say which autodiff packages
it allows, and the runtime a grade with packages builds is a folder of its own, closed to every
child but those of grades allowing that set, the default runtime left as it was."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from gradverify.grading.feedback import general_output, render_submission, results_json
from gradverify.grading.items import GradeResult
from gradverify.grading.rubric import load_rubric
from gradverify.sandbox import engine


def test_the_staff_report_and_the_student_s_feedback_name_the_autodiff_packages_allowed():
    """The wording is the point of the student's note, checked here alone; the staff report's by the packages it names."""
    rubric = replace(load_rubric(), packages=("jax", "jaxlib"), allow_autodiff=("jax", "jaxlib"))
    result = GradeResult("student.py", rubric)
    assert "packages that differentiate for you (jax, jaxlib: allow_autodiff)" in general_output(result)
    assert "jax, jaxlib: allow\\_autodiff" in render_submission(result)  # the field's name, escaped
    assert results_json(result)["extra_data"]["allow_autodiff"] == ["jax", "jaxlib"]


def test_no_autodiff_note_when_the_rubric_allows_none():
    result = GradeResult("student.py", load_rubric())
    assert "differentiate" not in general_output(result) and "differentiate" not in render_submission(result)


def _contents(top: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under `top` with its mode, owner's group and size."""
    out = {}
    for root, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = Path(root, name)
            info = path.lstat()
            out[str(path.relative_to(top))] = (info.st_mode, info.st_gid, info.st_size)
    info = top.stat()
    out["."] = (info.st_mode, info.st_gid, info.st_size)
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="the shared runtime is built by a root grader")
def test_a_runtime_with_packages_is_its_own_folder_closed_to_others_and_leaves_the_default_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "SHARED_RUNTIME", tmp_path / "cache")
    default = Path(engine.shared_copy(())["library_path"]).parent
    before = _contents(default)
    assert default.stat().st_mode & 0o777 == 0o755  # every user may enter the default runtime
    with_packages = engine.shared_copy(("hypothesis",))
    top = Path(with_packages["library_path"]).parent
    assert top != default and top.parent == default.parent
    assert _contents(default) == before
    assert not (default / "site" / "hypothesis").exists()
    assert (top / "site" / "hypothesis" / "__init__.py").is_file()
    group = with_packages["group"]
    assert group == engine.package_group(("hypothesis",)) and group in engine.PACKAGE_GIDS
    assert (top.stat().st_uid, top.stat().st_gid, top.stat().st_mode & 0o777) == (0, group, 0o750)  # others may not
    assert engine.shared_copy(("hypothesis",)) == with_packages  # reused, and still closed
    assert engine.shared_copy(())["library_path"] == str(default / "lib") and _contents(default) == before


def test_each_set_of_packages_has_its_own_group():
    assert engine.package_group(("scipy",)) != engine.package_group(("scipy", "sympy"))
    assert engine.package_group(("a", "b")) == engine.package_group(("b", "a"))


def test_a_module_of_one_file_can_be_allowed_and_a_submission_imports_it(tmp_path):
    """typing_extensions is one file, not a package folder: the rubric may name it all the same."""
    from gradverify.grading.items import grade_file

    assert engine._package_folders("typing_extensions")[0].endswith("typing_extensions.py")
    model = Path(__file__).resolve().parents[1] / "impl" / "backprop.py"
    submission = tmp_path / "uses_typing_extensions.py"
    submission.write_text(model.read_text().replace("import numpy as np", "import numpy as np\nimport typing_extensions", 1))
    rubric = replace(load_rubric(), examples=2, packages=("typing_extensions",))
    rubric = replace(rubric, items=tuple(item for item in rubric.items if item.name == "sigmoid"))
    result = grade_file(submission, rubric)
    assert result.load_error is None and result.score == result.max_score > 0
    without = grade_file(submission, replace(rubric, packages=()))
    assert "imports typing_extensions, which the sandbox does not have" in (without.load_error or "")
