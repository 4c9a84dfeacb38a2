"""The command line as a new user meets it: a module found in the project without PYTHONPATH,
a replay command that runs as printed in a shell without the venv, no stray `.hypothesis/`, the
verdict on stdout and progress on stderr, colour only on a terminal, GitHub annotations, and a
clear exit 2 for what is not an implementation, a pattern that matches no check or a template
that cannot be written."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest

from gradverify.cli import main
from tests.variants import IMPL_SOURCE, SIGMOID_DERIVATIVE_FROM_Z

VENV_BIN = Path(sys.executable).parent
GRADVERIFY = VENV_BIN / "gradverify"
ANSI = "\x1b["


def _shell_env() -> dict[str, str]:
    """The environment of a shell where the venv is not activated: no venv on PATH, no
    PYTHONPATH, no VIRTUAL_ENV, and none of the settings these tests turn on."""
    dropped = {"PYTHONPATH", "VIRTUAL_ENV", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "NO_COLOR", "HYPOTHESIS_STORAGE_DIRECTORY"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != VENV_BIN.resolve()
    )
    return env


def _run(args: list[str], cwd: Path, *, shell: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", args[0]] if shell else args, cwd=cwd, env=_shell_env(), capture_output=True, text=True, timeout=300
    )


def _detail_lines(stderr: str) -> list[str]:
    """What verify says about its failing checks (comparison, values, example, hints, replay)."""
    return [line for line in stderr.splitlines() if line.startswith("  ")]


# --------------------------------------------------------------------------- a project of one's own


@pytest.fixture(scope="module")
def project_run(tmp_path_factory):
    """`.venv/bin/gradverify verify --impl mylib.backprop --profile ci` run from a project folder
    (pyproject.toml, mylib/backprop.py with σ' computed from z), the venv not activated."""
    project = tmp_path_factory.mktemp("project")
    (project / "pyproject.toml").write_text('[project]\nname = "mylib"\nversion = "0"\n')
    (project / "mylib").mkdir()
    (project / "mylib" / "__init__.py").write_text("")
    (project / "mylib" / "backprop.py").write_text(SIGMOID_DERIVATIVE_FROM_Z.source())
    command = os.path.relpath(GRADVERIFY, project)  # as typed: a relative path to the venv's script
    done = _run(
        [
            command,
            "verify",
            "--impl",
            "mylib.backprop",
            "--profile",
            "ci",
            "--budget",
            "5",
            "--property",
            "activations_match_references",
            "--property",
            "dense_*",
        ],
        project,
    )
    return types.SimpleNamespace(project=project, done=done)


def test_a_module_name_is_found_in_the_project_without_pythonpath(project_run):
    """Exit 1, not 2: mylib.backprop was loaded and its σ' bug found (a module that cannot be
    loaded exits 2, the bundled impl would pass)."""
    done = project_run.done
    assert done.returncode == 1, done.stderr


def test_the_verdict_goes_to_stdout_and_progress_to_stderr(project_run):
    """The wording is the point: verify's one-line verdict and its progress lines, checked here alone."""
    done = project_run.done
    assert re.fullmatch(r"gradverify: FAIL — 1 of 2 checks hold \(\d+\.\d s\)\n", done.stdout), done.stdout
    assert "[ 1/2] FAIL  activations_match_references" in done.stderr
    assert "[ 2/2] pass  dense_matches_references" in done.stderr
    assert ANSI not in done.stdout + done.stderr, "no colour off a terminal"


def test_ci_leaves_no_hypothesis_folder_in_the_working_folder(project_run):
    assert not list(project_run.project.rglob(".hypothesis"))


def test_the_printed_replay_command_runs_as_printed_in_a_shell_without_the_venv(project_run):
    env = _shell_env()
    assert shutil.which("gradverify", path=env["PATH"]) is None, "the venv is not on this shell's PATH"
    first = _detail_lines(project_run.done.stderr)
    (replay,) = [line.split("replay:", 1)[1].strip() for line in first if line.lstrip().startswith("replay:")]
    again = _run([replay], project_run.project, shell=True)
    assert again.returncode == 1, again.stderr
    assert _detail_lines(again.stderr) == first, "the same comparison, values, example, hints and replay line"
    assert any(line.lstrip().startswith("values:  [") and " expected " in line for line in first)


def test_grade_leaves_no_hypothesis_folder_in_the_working_folder(tmp_path):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('examples = 5\n[[items]]\nname = "sigmoid"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 5\n')
    shutil.copy(IMPL_SOURCE, tmp_path / "student.py")
    done = _run([str(GRADVERIFY), "grade", "student.py", "--rubric", "rubric.toml", "--quiet"], tmp_path)
    assert done.returncode == 0 and "student.py: 5 / 5" in done.stdout, done.stderr
    assert not list(tmp_path.rglob(".hypothesis"))


def test_hypothesis_keeps_its_files_under_the_project_in_dev_and_nowhere_in_ci(tmp_path, monkeypatch):
    from hypothesis.configuration import storage_directory

    monkeypatch.delenv("HYPOTHESIS_STORAGE_DIRECTORY", raising=False)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    monkeypatch.chdir(tmp_path)
    args = ["verify", "--property", "kink_subgradients", "--no-save", "--quiet"]
    assert main(args + ["--profile", "dev"]) == 0
    assert storage_directory("constants").path == tmp_path / ".gradverify" / "hypothesis" / "constants"
    assert main(args + ["--profile", "ci"]) == 0
    home = storage_directory("constants").path
    assert not home.is_relative_to(tmp_path) and home.is_relative_to(tempfile.gettempdir())


# --------------------------------------------------------------------------- bad input: exit 2


def test_a_module_or_file_without_protocol_functions_is_not_an_implementation(tmp_path, capsys):
    """The wording is the point: the message says what was expected of an implementation, of either protocol."""
    assert main(["verify", "--impl", "json"]) == 2
    err = capsys.readouterr().err
    assert "json defines none of the functions of the MLP protocol (activation," in err
    assert "docs/layers.md): it is not an implementation of either" in err
    notes = tmp_path / "notes.py"
    notes.write_text("x = 1\n")
    assert main(["verify", "--impl", str(notes)]) == 2
    err = capsys.readouterr().err
    assert "notes.py defines none of the functions of the MLP protocol" in err and "not an implementation of either" in err


def test_grade_refuses_a_file_that_is_not_python(tmp_path, capsys):
    """The wording is the point: the message tells the grader what was expected (the one test of
    a Skip's words on the command line)."""
    notes = tmp_path / "notes.txt"
    notes.write_text("def activation(name, z):\n    return z\n")
    assert main(["grade", str(notes)]) == 2
    expected = "notes.txt: not a submission: expected a .py file, a Jupyter notebook (.ipynb) or a .zip"
    assert expected in capsys.readouterr().err


def test_property_takes_glob_patterns_and_names_the_checks_when_one_matches_none(capsys):
    assert main(["verify", "--property", "worked_example_*", "--profile", "ci", "--no-save"]) == 0
    out, err = capsys.readouterr()
    ran = re.findall(r"\] pass +(\S+)", err)
    assert len(ran) == 4 and all(name.startswith("worked_example_") for name in ran)
    assert main(["verify", "--property", "worked_exmaple_*"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "'worked_exmaple_*'" in err and "worked_example_classic_network" in err


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"gradverify {importlib.metadata.version('gradverify')}\n"


def test_template_says_why_it_cannot_write_and_exits_2(tmp_path, capsys):
    """The wording is the point: each message says why the template was not written."""
    assert main(["template", str(tmp_path / "missing_folder" / "student.py")]) == 2
    assert f"the folder {tmp_path / 'missing_folder'} does not exist" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("")
    assert main(["template", str(tmp_path / "a_file" / "student.py")]) == 2
    assert "cannot write" in capsys.readouterr().err
    if os.geteuid() != 0:  # root writes anywhere
        (tmp_path / "read_only").mkdir(mode=0o500)
        assert main(["template", str(tmp_path / "read_only" / "student.py")]) == 2
        assert "Permission denied" in capsys.readouterr().err
    assert main(["template", str(tmp_path / "student.py")]) == 0
    assert main(["template", str(tmp_path / "student.py")]) == 2
    assert "exists; not overwriting it" in capsys.readouterr().err
    assert not (tmp_path / "missing_folder").exists(), "no folder is made on the way"


# --------------------------------------------------------------------------- the console


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch, capsys):
    args = ["verify", "--property", "kink_subgradients", "--profile", "ci", "--no-save"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert ANSI not in out + err
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "\x1b[32mPASS\x1b[0m" in out and "\x1b[32mpass " in err
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert ANSI not in out + err


def test_github_actions_gets_one_error_annotation_per_failing_check_at_the_function(tmp_path, monkeypatch, capsys):
    student = SIGMOID_DERIVATIVE_FROM_Z.write(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    assert (
        main(
            [
                "verify",
                "--impl",
                str(student),
                "--profile",
                "ci",
                "--no-save",
                "--quiet",
                "--property",
                "worked_example_activation_derivative_identities",
                "--property",
                "kink_subgradients",
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    annotations = [line for line in out.splitlines() if line.startswith("::")]
    line = 1 + student.read_text().splitlines().index(
        next(line for line in student.read_text().splitlines() if line.startswith("def activation_backward("))
    )
    assert len(annotations) == 1, out
    assert annotations[0].startswith(
        f"::error file={student.name},line={line},title=gradverify%3A worked_example_activation_derivative_identities (failed)::"
    )
    assert "activation_backward" in annotations[0].split("::", 2)[2]
    monkeypatch.delenv("GITHUB_ACTIONS")
    assert (
        main(
            [
                "verify",
                "--impl",
                str(student),
                "--profile",
                "ci",
                "--no-save",
                "--quiet",
                "--property",
                "worked_example_activation_derivative_identities",
            ]
        )
        == 1
    )
    assert "::error" not in capsys.readouterr().out
