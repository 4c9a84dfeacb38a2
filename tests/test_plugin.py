"""The pytest plugin (gradverify.pytest_plugin): inert unless configured; configured, the checks
are pytest items that give the CLI's verdicts, counterexamples and messages, serially and under
pytest-xdist; the example project of docs/ci.md passes as is and fails after a one-line bug."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from gradverify import corpus, results, runner
from gradverify.properties.checks import FIXED_CHECKS, PROPERTIES
from gradverify.cli import main
from gradverify.pytest_plugin import GATE

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "example_project"
#: The one-line bug: σ'(z) computed from z instead of σ(z).
BUG = ("    return grad_a * s * (1.0 - s)\n", "    return grad_a * z * (1.0 - z)\n")


def _example(folder: Path, *, bug: bool = False) -> Path:
    """A copy of the example project in `folder`, with the one-line bug in its backprop if `bug`."""
    shutil.copytree(EXAMPLE, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".gradverify", "__pycache__"))
    if bug:
        backprop = folder / "mylib" / "backprop.py"
        text = backprop.read_text(encoding="utf-8")
        assert text.count(BUG[0]) == 1, "the one-line bug no longer applies to the example's backprop"
        backprop.write_text(text.replace(BUG[0], BUG[1]), encoding="utf-8")
    return folder


def _pytest(folder: Path, *args: str, summary: Path | None = None) -> subprocess.CompletedProcess:
    """pytest in `folder`, in a fresh process (the plugin found through its entry point); with
    `summary`, as under GitHub Actions with that step summary file."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.pop("PYTEST_ADDOPTS", None)
    if summary is not None:
        env["GITHUB_STEP_SUMMARY"] = str(summary)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _pytest_here(folder: Path, monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """pytest in `folder`, in this process (cheap: torch and jax are loaded already): its exit
    code and output. The project's modules and import path are forgotten afterwards (torch's
    are not: torch cannot be imported twice in a process, so pytester's in-process runs, which
    forget every module they import, cannot be used)."""
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    capsys.readouterr()
    try:
        code = pytest.main(["-p", "no:cacheprovider", *args])
    finally:
        for name in set(sys.modules) - before:
            if name.split(".")[0] in ("mylib", "test_backprop", "test_custom", "conftest"):
                del sys.modules[name]
    out = capsys.readouterr()
    return code, out.out + out.err


# --------------------------------------------------------------------------- inert unless configured


def test_this_repositorys_own_run_has_the_plugin_but_no_gradverify_items(request):
    assert request.config.pluginmanager.hasplugin("gradverify")
    assert GATE not in request.config.stash, "this repository's pyproject.toml sets no [tool.gradverify] impl"
    assert not [item.nodeid for item in request.session.items if item.nodeid.startswith("gradverify::")]


def test_an_unconfigured_run_adds_no_items_and_imports_neither_torch_nor_jax(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'plain'\nversion = '0'\n")
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")
    (tmp_path / "conftest.py").write_text(
        "import json, sys\n"
        "def pytest_sessionfinish(session):\n"
        "    seen = {'plugin': session.config.pluginmanager.hasplugin('gradverify'),\n"
        "            'items': [item.nodeid for item in session.items],\n"
        "            'loaded': sorted(m for m in ('torch', 'jax', 'gradverify.runner') if m in sys.modules)}\n"
        "    open('seen.json', 'w').write(json.dumps(seen))\n"
    )
    run = _pytest(tmp_path, "-q")
    assert run.returncode == 0, run.stdout + run.stderr
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {"plugin": True, "items": ["test_plain.py::test_plain"], "loaded": []}


# --------------------------------------------------------------------------- configuration errors


@pytest.mark.parametrize(
    "settings, args, message",
    [
        ('impl = "no_such_module"', [], "gradverify: cannot load the implementation: no module named 'no_such_module'"),
        ('impl = "mylib.backprop"', ["--gradverify-profile", "fast"], "gradverify: unknown profile 'fast'"),
        ('impl = "mylib.backprop"\nexamples = 3', [], "unknown setting 'examples' in [tool.gradverify]"),
        ('impl = "tests/test_backprop.py"', [], "tests/test_backprop.py"),  # the loader's words: tests/test_cli.py
        ('impl = "mylib.backprop"\nskip = ["bad_inptu_*"]', [], "no check matches 'bad_inptu_*'"),
        ('impl = "mylib.backprop"\nskip = "bad_input_*"', [], "[tool.gradverify] skip must be a list"),
    ],
)
def test_a_configuration_that_cannot_work_is_a_usage_error(tmp_path, monkeypatch, capsys, settings, args, message):
    """The wording is the point of the plugin's own messages, checked here alone; of the loader's
    (an impl that is not one), in tests/test_cli.py, so here only the file it names."""
    project = _example(tmp_path)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text[: text.index("[tool.gradverify]")] + f"[tool.gradverify]\n{settings}\n")
    code, output = _pytest_here(project, monkeypatch, capsys, *args)
    assert code == pytest.ExitCode.USAGE_ERROR
    assert message in output and "Traceback" not in output


def test_the_checks_a_project_declares_are_the_items_it_collects(tmp_path, monkeypatch, capsys):
    """[tool.gradverify] checks and skip (names or globs) choose the checks that become items: a
    library that validates its inputs its own way skips the bad-input checks."""
    project = _example(tmp_path)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    settings = 'impl = "mylib.backprop"\nchecks = ["worked_example_*", "bad_input_*"]\nskip = ["bad_input_*"]'
    pyproject.write_text(text[: text.index("[tool.gradverify]")] + f"[tool.gradverify]\n{settings}\n")
    code, output = _pytest_here(project, monkeypatch, capsys, "--collect-only", "-q", "-m", "gradverify")
    assert code == pytest.ExitCode.OK, output
    from gradverify.properties.checks import FIXED_CHECKS

    collected = {line.split("::")[-1] for line in output.splitlines() if "::" in line}
    assert collected == {name for name in FIXED_CHECKS if name.startswith("worked_example_")}


def test_the_fixture_says_how_to_configure_gradverify_when_it_is_not(tmp_path, monkeypatch, capsys):
    """The wording is the point: the error tells the user what to set."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'plain'\nversion = '0'\n")
    (tmp_path / "test_custom.py").write_text("def test_custom(gradverify_impl):\n    pass\n")
    code, output = _pytest_here(tmp_path, monkeypatch, capsys, "-q")
    assert code == pytest.ExitCode.TESTS_FAILED
    assert "gradverify is not configured: set [tool.gradverify] impl" in output and "1 error" in output


# --------------------------------------------------------------------------- the example project


def test_the_example_project_passes_as_is_with_its_own_test_on_the_fixture(tmp_path, monkeypatch, capsys):
    """The wording is the point of the plugin's header and verdict lines and of the report's
    verdict line, each checked here alone."""
    project = _example(tmp_path)
    code, listed = _pytest_here(project, monkeypatch, capsys, "--collect-only", "-q", "-m", "gradverify")
    assert code == pytest.ExitCode.OK
    items = [line for line in listed.splitlines() if "::" in line]
    assert sorted(items) == sorted(f"gradverify::{n}" for n in [*FIXED_CHECKS, *PROPERTIES])
    assert items[0] == "gradverify::network_gradients_match_references"  # the costliest first, for pytest-xdist
    code, output = _pytest_here(
        project,
        monkeypatch,
        capsys,
        "-k",
        "kink or dense or order",
        "--gradverify-budget",
        "3",
        "--gradverify-report",
        "report.md",
    )
    assert code == pytest.ExitCode.OK, output
    assert "3 passed" in output and "gradverify: mylib.backprop (profile ci, seed 0)" in output
    assert f"gradverify: PASS — 2 of 2 checks hold; report: {project / 'report.md'}" in output
    report = (project / "report.md").read_text()
    assert "✅ **PASS** — 2 of 2 checks hold" in report
    assert "| `kink_subgradients` |" in report and "| `dense_matches_references` |" in report
    assert "](report.margins.svg)" in report and (project / "report.margins.svg").is_file()  # as verify --report draws it
    code, output = _pytest_here(
        project, monkeypatch, capsys, "-k", "kink", "--gradverify-report", "plain.md", "--gradverify-no-plots"
    )
    assert code == pytest.ExitCode.OK, output
    assert "| `kink_subgradients` |" in (project / "plain.md").read_text() and not list(project.glob("plain.*.svg"))


def _pytest_xdist(project: Path, chosen: list[str], summary: Path) -> subprocess.CompletedProcess:
    """pytest -n 2 -v on `project`, only the checks `chosen`, on a budget of 3, writing report.md,
    pytest.xml (JUnit) and the step summary `summary`."""
    return _pytest(
        project,
        "-n",
        "2",
        "-v",
        "-k",
        " or ".join(chosen),
        "--gradverify-budget",
        "3",
        "--gradverify-report",
        "report.md",
        "--junitxml",
        "pytest.xml",
        summary=summary,
    )


def _verify_serially(project: Path, chosen: list[str], folder: Path, monkeypatch, capsys) -> tuple[int, list[str]]:
    """`gradverify verify --profile ci --seed 0` in `project`, in this process, on the checks
    `chosen` with the budget of `_pytest_xdist`, its counterexamples saved in folder/cli and its
    JUnit in folder/cli.xml: its exit code and the lines it wrote to stderr, stripped."""
    monkeypatch.chdir(project)
    code = main(
        [
            "verify",
            "--impl",
            "mylib/backprop.py",
            "--profile",
            "ci",
            "--seed",
            "0",
            "--budget",
            "3",
            *[arg for name in chosen for arg in ("--property", name)],
            "--regressions",
            str(folder / "cli"),
            "--junit",
            str(folder / "cli.xml"),
            "--quiet",
        ]
    )
    return code, [line.strip() for line in capsys.readouterr().err.splitlines()]


def _junit_verdicts(path: Path) -> dict[str, bool]:
    """Each test case of the JUnit file at `path`: whether it passed."""
    return {case.get("name"): case.find("failure") is None for case in ET.parse(path).getroot().iter("testcase")}


def _saved_counterexamples(root: Path) -> dict[str, dict]:
    """The counterexamples saved in the one corpus folder under `root`, by property."""
    (folder,) = root.iterdir()
    return {e.property: corpus.case_to_json(e.case) for e in corpus.load(folder)[0]}


@pytest.mark.long
def test_a_one_line_bug_fails_under_xdist_as_the_cli_fails_serially(tmp_path, monkeypatch, capsys):
    """pytest -n 2 on the example project with the bug: the checks spread over both workers, each
    failure shows verify's lines (not a traceback), the report and the step summary are written
    once, and the verdicts and counterexamples are those of `gradverify verify --profile ci
    --seed 0` with the same budget."""
    project = _example(tmp_path / "project", bug=True)
    chosen = ["kink_subgradients", "activations_match_references"]
    run = _pytest_xdist(project, chosen, tmp_path / "summary.md")
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "[gw0]" in output and "[gw1]" in output, "both workers ran checks"
    assert "Traceback" not in output and "runner.py" not in output

    code, cli_lines = _verify_serially(project, chosen, tmp_path, monkeypatch, capsys)
    assert code == 1
    assert (
        _junit_verdicts(project / "pytest.xml")
        == _junit_verdicts(tmp_path / "cli.xml")
        == {"kink_subgradients": True, "activations_match_references": False}
    )

    found = _saved_counterexamples(project / ".gradverify" / "regressions")
    assert found == _saved_counterexamples(tmp_path / "cli") and list(found) == ["activations_match_references"]

    shown = [line for line in cli_lines if line.startswith(("activations_match_references:", "values:", "example:", "hint:"))]
    assert len(shown) >= 4 and all(line in output for line in shown), "the failure shows verify's lines"
    assert "replay:  " in output and "verify --impl mylib.backprop --replay" in output
    report = (project / "report.md").read_text()
    assert report.count("# gradverify report") == 1  # the verdicts are JUnit's, above
    assert "new counterexamples saved" in report
    summary = (tmp_path / "summary.md").read_text()
    plain = re.sub(r"```mermaid\n.*?```\n", "", re.sub(r"!\[(?:\\.|[^\]\\])*\]\([^)\n]*\)\n", "", report), flags=re.S)
    assert re.sub(r"\n+", "\n", summary) == re.sub(r"\n+", "\n", plain), (
        "the step summary holds the report once, without pictures"
    )


def _as_verify_says(impl: Path, check: str, **options) -> tuple[results.CheckStatus, list[str]]:
    """`check` on `impl` by gradverify.verify (profile ci, seed 0, as the plugin runs it): its
    status, and the lines verify's report code gives it (check_lines) and the run (missing_line)."""
    import gradverify
    from gradverify.report import check_lines, missing_line

    run = gradverify.verify(impl, properties=[check], profile="ci", seed=0, save_regressions=False, **options)
    (result,) = run.results
    return result.status, [*check_lines(result), missing_line(run, markdown=False)]


def test_what_is_missing_fails_its_check_in_one_line_as_verify_says_it(tmp_path, monkeypatch, capsys):
    """Code that implements nothing a check needs, or only part of it: the check fails (the run
    fails, as verify exits 1) with what is missing in the implementation's own words, in the
    lines verify prints (whatever their wording)."""
    from tests.variants import PARTIAL

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'course'\nversion = '0'\n")
    template = ROOT / "gradverify" / "grading" / "student_template.py"
    code, output = _pytest_here(
        tmp_path,
        monkeypatch,
        capsys,
        "-q",
        "--gradverify-impl",
        str(template),
        "-k",
        "kink_subgradients",
        "--gradverify-profile",
        "ci",
    )
    assert code == pytest.ExitCode.TESTS_FAILED
    status, said = _as_verify_says(template, "kink_subgradients")
    assert status is results.CheckStatus.NOT_IMPLEMENTED and all(line in output for line in said), (said, output)
    assert "activation_backward" in said[0]
    partial = PARTIAL["fused_softmax_cce"].variant.write(tmp_path)
    code, output = _pytest_here(
        tmp_path,
        monkeypatch,
        capsys,
        "-q",
        "--gradverify-impl",
        partial.name,
        "-k",
        "losses_match_references",
        "--gradverify-profile",
        "ci",
        "--gradverify-budget",
        "5",
    )
    assert code == pytest.ExitCode.TESTS_FAILED
    status, said = _as_verify_says(tmp_path / partial.name, "losses_match_references", budget=5)
    assert status is results.CheckStatus.PARTLY_IMPLEMENTED and all(line in output for line in said), (said, output)
    assert all("cross-entropy is fused with softmax" in line for line in said)  # the student's own words


def test_docs_ci_shows_the_example_project_and_the_options_as_they_are(request):
    doc = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    for shown in ("pyproject.toml", "tests/test_backprop.py"):
        assert (EXAMPLE / shown).read_text(encoding="utf-8") in doc, f"docs/ci.md shows {shown} as it is"
    options = set(re.findall(r"--gradverify-[a-z]+(?:-[a-z]+)*", doc))
    assert len(options) == 9
    for option in options:
        request.config.getoption(option.lstrip("-").replace("-", "_"))  # ValueError for an option pytest does not know


# --------------------------------------------------------------------------- combining results


def test_writers_saving_the_same_counterexample_at_once_leave_one_whole_file(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from gradverify.properties.cases import ActivationCase

    case = ActivationCase("sigmoid", 2, 2, 0)
    with ThreadPoolExecutor(8) as pool:
        paths = set(
            pool.map(lambda i: corpus.save(tmp_path, "activations_match_references", case, impl=f"w{i}", failure="x"), range(32))
        )
    assert len(paths) == 1 and [p.name for p in tmp_path.iterdir()] == [paths.pop().name]
    (entry,) = corpus.load(tmp_path)[0]
    assert entry.case == case


def test_results_from_several_processes_combine_into_the_serial_runs_report():
    from gradverify import impl
    from gradverify.report import render_markdown

    names = ["worked_example_classic_network", "large_inputs", "kink_subgradients"]
    serial = runner.verify(impl, profile="ci", only=names, save_regressions=False)
    parts = [runner.verify(impl, profile="ci", only=[name], save_regressions=False) for name in reversed(names)]
    combined = results.combine(parts, seconds=serial.seconds)
    assert [r.name for r in combined.results] == names
    for run in (serial, combined):
        run.started, run.environment = "now", {}
        for r in run.results:
            r.seconds = 0.0
    assert render_markdown(combined) == render_markdown(serial)


def test_inside_a_users_test_run_hypothesis_keeps_its_own_storage(tmp_path):
    """Hypothesis's storage folder is a setting of the whole process: the plugin's session leaves
    it as the user's run has it (their own hypothesis tests keep their example database)."""
    from hypothesis.configuration import storage_directory

    import gradverify

    before = storage_directory("examples", intent_to_write=False).path
    gradverify.prepare(gradverify.BUNDLED_IMPL, profile="ci", project=tmp_path, own_process=False)
    assert storage_directory("examples", intent_to_write=False).path == before


def test_the_example_projects_backprop_is_a_link_to_the_bundled_impl():
    """docs/example_project/mylib/backprop.py is impl/backprop.py, linked rather than copied (the
    docs show a project with a module of its own), so the two can never differ; copying the
    project (as the tests and the bench do) copies the file itself."""
    root = Path(__file__).resolve().parents[1]
    example = root / "docs" / "example_project" / "mylib" / "backprop.py"
    assert example.is_symlink() and example.resolve() == (root / "impl" / "backprop.py").resolve()
