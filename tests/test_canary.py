"""The canary: a sandbox that cannot run NumPy stops a grade before any student's file is graded."""

from __future__ import annotations

import shutil

import pytest

from gradverify.impl import backprop
from gradverify.sandbox import engine

from tests.sandboxes import bwrap_only


@pytest.fixture
def numpy_left_out(monkeypatch):
    """The sandbox's runtime without NumPy, as Debian's layout once made it: every import fails."""
    real = engine.runtime

    def without_numpy(packages=()):
        return {**real(packages), "numpy": []}

    monkeypatch.setattr(engine, "runtime", without_numpy)


@bwrap_only
def test_the_canary_names_why_a_sandbox_without_numpy_cannot_grade(numpy_left_out):
    from gradverify.sandbox import canary

    with pytest.raises(canary.SandboxBroken) as info:
        canary.prove(timeout=30)
    assert "No module named 'numpy'" in str(info.value)
    assert isinstance(info.value, engine.SandboxUnavailable)


@bwrap_only
def test_a_broken_sandbox_exits_2_before_any_submission_is_graded(numpy_left_out, tmp_path, capsys):
    """One file, and a class folder: exit 2 with the reason, and no grade written (no zero blamed on a student)."""
    from gradverify.cli import main

    one = tmp_path / "one.json"
    assert main(["grade", backprop.__file__, "--results-json", str(one), "--no-plots", "--quiet"]) == 2
    assert "the sandbox does not work here" in capsys.readouterr().err and not one.exists()
    (tmp_path / "class").mkdir()
    for name in ("alice", "bob"):
        shutil.copyfile(backprop.__file__, tmp_path / "class" / f"{name}.py")
    assert main(["grade", str(tmp_path / "class"), "--out", str(tmp_path / "grades"), "--no-plots", "--quiet"]) == 2
    assert "No module named 'numpy'" in capsys.readouterr().err
    assert list((tmp_path / "grades").glob("*.json")) == []


def test_a_class_grade_runs_the_canary_once_in_its_parent_and_tells_each_student_process(tmp_path, monkeypatch):
    import argparse

    from gradverify.grading import classroom
    from gradverify.sandbox import canary

    proofs = []
    monkeypatch.setattr(canary, "prove", lambda **options: proofs.append(options))
    commands = []
    monkeypatch.setattr(
        classroom,
        "_grade",
        lambda student, out, args, limit: (
            commands.append(classroom._command(student, out, args)),
            (student.name, None, "not graded here"),
        )[1],
    )
    args = argparse.Namespace(
        rubric=None,
        timeout=None,
        out=str(tmp_path / "grades"),
        jobs=2,
        quiet=True,
        report=None,
        results_json=None,
        fail_under=None,
        adapter=None,
        no_plots=True,
        memory=512,
        unsafe_no_sandbox=False,
        files=[],
    )
    classroom.grade_many([classroom.Student(n, tmp_path / f"{n}.py") for n in ("a", "b")], args)
    assert len(proofs) == 1 and proofs[0]["memory_mb"] == 512
    assert len(commands) == 2 and all("--sandbox-proven" in command for command in commands)
