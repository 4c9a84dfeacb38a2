"""What bubblewrap keeps from a submission, whatever the layout of the grader's interpreter.

The submissions are small files in tests/submissions/; tests that need bubblewrap are skipped
where it cannot run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from gradverify.impl import backprop
from gradverify.sandbox.errors import SubmissionCallError
from gradverify.sandbox.processes import sandbox_processes
from gradverify.sandbox import engine

from tests.sandboxes import SUBMISSIONS, bwrap_only, failure


# --------------------------------------------------------------------------- #
# Bubblewrap's protections (as root and as an ordinary user alike).
# --------------------------------------------------------------------------- #


@pytest.fixture
def graders_file():
    """A file of the grader's (mode 0644) in a folder anyone may enter; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="grader-", dir="/var/tmp"))
    folder.chmod(0o755)
    path = folder / "results.txt"
    path.write_text("the grader's results\n")
    path.chmod(0o644)
    yield path
    shutil.rmtree(folder)


@bwrap_only
def test_the_child_runs_as_nobody_without_network_and_sees_only_its_own_processes(sandbox):
    box = sandbox("well_behaved.py")
    assert box.mode is engine.Mode.BWRAP and "bubblewrap" in box.isolation
    uid, gid, net = box.module.identity()
    assert (uid, gid) == (65534, 65534)
    assert net != os.readlink("/proc/self/ns/net")
    assert len(box.module.visible_processes()) <= 3  # bwrap's init, the worker (and its listing)


@bwrap_only
def test_the_graders_files_do_not_exist_for_the_child_but_python_and_numpy_work(sandbox, graders_file):
    box = sandbox("misbehaving.py")
    for secret in (Path(backprop.__file__), SUBMISSIONS / "well_behaved.py", graders_file, Path(sys.prefix) / "pyvenv.cfg"):
        assert failure(box.module.write, str(secret), "forged").startswith(("raised FileNotFoundError", "raised OSError"))
    assert graders_file.read_text() == "the grader's results\n"
    assert box.module.echo(np.arange(3)).tolist() == [0, 1, 2]


@bwrap_only
def test_only_the_standard_library_and_numpy_can_be_imported(sandbox):
    box = sandbox("well_behaved.py")
    assert box.module.standard_modules_work() is True
    assert box.module.importable(["numpy", "json", "torch", "jax", "hypothesis", "gradverify", "scipy"]) == ["json", "numpy"]


@bwrap_only
def test_a_rubric_may_allow_one_more_package_and_only_that_one(sandbox):
    box = sandbox("well_behaved.py", packages=["hypothesis"])
    assert box.module.importable(["numpy", "hypothesis", "torch", "jax", "gradverify"]) == ["hypothesis", "numpy"]


@bwrap_only
def test_killing_the_grader_is_impossible_and_the_grader_survives(sandbox):
    box = sandbox("misbehaving.py")
    refused = ("raised PermissionError", "raised ProcessLookupError")
    assert failure(box.module.kill, os.getpid()).startswith(refused)
    with contextlib.suppress(SubmissionCallError):
        box.module.kill_parent()
    assert box.module.echo(9) == 9


@bwrap_only
def test_a_fork_bomb_is_stopped_and_close_ends_it(sandbox):
    box = sandbox("misbehaving.py", call_timeout=10.0)
    leader = box.pid
    with contextlib.suppress(SubmissionCallError):  # the watchdog may end it, or the process limit
        box.module.fork_bomb()
    box.close()
    assert sandbox_processes(leader) == []


def test_without_user_namespaces_or_root_there_is_no_sandbox_unless_unsafe(monkeypatch):
    monkeypatch.setattr(engine, "bwrap_works", lambda: (False, "no user namespaces"))
    monkeypatch.setattr(engine.os, "geteuid", lambda: 1000)
    with pytest.raises(engine.SandboxUnavailable, match="--unsafe-no-sandbox"):
        engine.choose()
    assert engine.choose(unsafe=True) is engine.Mode.NONE


# --------------------------------------------------------------------------- #
# The interpreter's layout: NumPy is found in the sandbox whatever the Python build.
# --------------------------------------------------------------------------- #

#: The distribution's Python (Debian's python3.11: its standard library in /usr/lib/python3.11,
#: its packages in dist-packages), as docs/gradescope/setup.sh makes the grader's venv with it.
DISTRIBUTION_PYTHON = "/usr/bin/python3.11"


@bwrap_only
def test_numpy_is_found_in_the_sandbox_when_the_interpreter_has_no_site_folder(sandbox, monkeypatch):
    """A copied interpreter whose isolated sys.path has no site folder at all (Debian's python3.11,
    copied for a root grader, scans dist-packages folders that the copy does not have): NumPy
    is still importable in the sandbox, and nothing else."""
    real = engine.runtime

    def without_sites(packages=()):
        return {**real(packages), "sites": []}

    monkeypatch.setattr(engine, "runtime", without_sites)
    box = sandbox("well_behaved.py")
    assert box.module.importable(["numpy", "json", "torch", "hypothesis", "gradverify"]) == ["json", "numpy"]


def _distribution_python_problem() -> str | None:
    if not os.access(DISTRIBUTION_PYTHON, os.X_OK):
        return f"{DISTRIBUTION_PYTHON} does not exist here"
    done = subprocess.run(
        [DISTRIBUTION_PYTHON, "-c", "import sys; print(sys.version_info[:2], sys.prefix)"], capture_output=True, text=True
    )
    if done.stdout.split(")")[0] + ")" != str(sys.version_info[:2]):
        return f"{DISTRIBUTION_PYTHON} is Python {done.stdout.strip()}, the venv's packages are for {sys.version_info[:2]}"
    if os.path.realpath(DISTRIBUTION_PYTHON) == os.path.realpath(getattr(sys, "_base_executable", sys.executable)):
        return f"the tests already run on {DISTRIBUTION_PYTHON}"
    return None


@bwrap_only
@pytest.mark.skipif(_distribution_python_problem() is not None, reason=str(_distribution_python_problem()))
def test_the_canary_passes_under_bubblewrap_on_the_distributions_python():
    """The grader run by the distribution's python3.11 (this venv's packages added to it, as in a
    venv made with it): the canary, a trusted submission importing NumPy in the bubblewrap
    sandbox, gives its answer. (Debian's layout once left NumPy out of the sandbox: every
    submission scored 0, "ended its own process (exit code 1) while importing".)"""
    site_packages = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    code = (
        "import site, sys; site.addsitedir(sys.argv[1]); "
        "from gradverify.sandbox import canary, engine; "
        "canary.prove(timeout=60); print(engine.choose().value, engine.runtime()['exe'])"
    )
    done = subprocess.run(
        [DISTRIBUTION_PYTHON, "-I", "-c", code, site_packages],
        capture_output=True,
        text=True,
        env={**os.environ, engine.MODE_VARIABLE: engine.Mode.BWRAP.value},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    mode, exe = done.stdout.split()
    assert mode == engine.Mode.BWRAP.value
    assert exe != engine.runtime()["exe"]  # the distribution's interpreter, not the one these tests run on


def test_the_protections_name_the_packages_a_rubric_allows():
    """The staff line of a grade lists what the child may import: the rubric's packages too,
    never "NumPy only" when it allows more."""
    for mode in (engine.Mode.BWRAP, engine.Mode.USER):
        plain, more = engine.protections_of(mode), engine.protections_of(mode, ("scipy",))
        assert any("standard library and NumPy only" in p for p in plain)
        assert any("standard library, NumPy and scipy only" in p for p in more)
        assert not any("NumPy only" in p and "scipy" not in p for p in more)


def test_a_missing_module_is_said_with_what_the_rubric_allows():
    """A module the sandbox does not have is named with what can be imported: the rubric's
    packages too, when it allows some."""
    from gradverify.sandbox.errors import load_reason

    report = {"kind": "raised", "type": "ModuleNotFoundError", "message": "No module named 'sklearn'", "module": "sklearn"}
    assert "only the standard library, NumPy and scipy can be imported" in load_reason(report, ("scipy",))
    assert (
        load_reason({**report, "module": "../etc"}, ()) == "raised ModuleNotFoundError: No module named 'sklearn' while importing"
    )
