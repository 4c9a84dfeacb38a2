"""Hostile submissions against the grader and its sandbox: the catalogue in tests/attacks/, graded.

Every attack is graded here, in this process, by a `Bench` (tests/attack_bench.py: what it
checks besides the score), as the user running the tests (as root: bubblewrap, the default);
then, when that is root, by an ordinary user in one subprocess beside it (tests/attack_runs.py),
whose JSON summary the tests here read. After both runs, as root, the catalogue is graded once
more in the separate-user mode, forced, with the checkout and the venv closed to others
meanwhile. This file makes many sandbox folders in /tmp and many processes of uid 65534: beside
it, tests that count either can be upset, which is why `make test` runs it on its own after the
rest (and `make attacks` alone, writing reports/attacks.md through $GRADVERIFY_ATTACKS_REPORT).
Attacks that succeed today are marked xfail(strict=True) in KNOWN_FAILURES, with the symptom;
when one is fixed its test XPASSes and fails, so the mark must go.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from gradverify.grading.feedback import class_summary, results_json
from gradverify.grading.items import grade_file
from gradverify.sandbox import engine
from tests.attack_bench import CARELESS, MEMORY_MB, SECRET_VARIABLE, Bench, outside_code_blocks
from tests.attack_runs import IS_ROOT, OrdinaryUserRun, ordinary_user_ready, write_summary
from tests.attacks import BY_NAME, CATALOGUE, CLASSES, MARKER, RUBRICS, SEPARATE_USER_OPEN


#: Attacks that succeed today: (run, attack) -> the symptom. Each is an xfail(strict=True).
KNOWN_FAILURES: dict[tuple[str, str], str] = {}

RUN = "root" if IS_ROOT else "user"
root_only = pytest.mark.skipif(not IS_ROOT, reason="needs root: it creates and runs as an ordinary user")


def _params(run: str) -> list:
    return [
        pytest.param(
            a,
            id=a.name,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[(run, a.name)])]
            if (run, a.name) in KNOWN_FAILURES
            else [],
        )
        for a in CATALOGUE
    ]


@pytest.fixture(scope="module")
def secret():
    """A secret in the grader's environment: set in this process (whose /proc/<pid>/environ
    keeps showing its environment as it started), and in the starting environment of a
    process of the grader's that holds it, as a grading harness would (and of the ordinary
    user's run)."""
    value = "gvsecret-" + secrets.token_hex(12)
    old = os.environ.get(SECRET_VARIABLE)
    os.environ[SECRET_VARIABLE] = value
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        env={**os.environ},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield value
    finally:
        holder.kill()
        holder.wait()
        if old is None:
            os.environ.pop(SECRET_VARIABLE, None)
        else:
            os.environ[SECRET_VARIABLE] = old


@pytest.fixture(scope="module")
def bench(secret, request):
    if not os.environ.get("GRADVERIFY_ATTACKS_SEQUENTIAL"):  # the ordinary user's run goes on beside this one
        request.getfixturevalue("ordinary_user_started")
    try:
        engine.choose()
    except engine.SandboxUnavailable as exc:
        pytest.skip(f"no sandbox here: {exc}")
    folder = Path(tempfile.mkdtemp(prefix=f"gvattack-bench-{pwd.getpwuid(os.getuid()).pw_name}-", dir="/var/tmp"))
    bench = Bench(folder, secret, secrets.token_hex(6))
    try:
        control = bench.warm_up()
        assert all(score == RUBRICS[name][2] for name, score in control.items()), f"the honest control: {control}"
        yield bench
    finally:
        bench.close()
        shutil.rmtree(folder, ignore_errors=True)
        write_summary(RUN, bench.outcomes)


@pytest.mark.parametrize("attack", _params(RUN))
def test_attack_as_the_current_user(bench, attack):
    outcome = bench.run(attack)
    assert outcome["problems"] == [], f"{attack.name} ({attack.cls}): {outcome}"


def test_the_catalogue_covers_every_class_and_each_attack_is_a_file():
    from tests.attacks import FOLDER

    assert {a.cls for a in CATALOGUE} == set(CLASSES)
    assert len(CATALOGUE) >= 25
    files = {p.name for p in FOLDER.glob("*.py")} - {"__init__.py"}
    assert files == {a.file for a in CATALOGUE if not a.made_by}
    assert all(MARKER in a.path.read_text(encoding="utf-8") for a in CATALOGUE if not a.made_by)


def test_the_class_summary_of_every_attack_stays_inert(bench):
    if not bench.results:
        pytest.skip("no attack was graded in this run")
    summary = class_summary([results_json(r) for r in bench.results.values()])
    lines, closed = outside_code_blocks(summary)
    assert closed
    assert [line for line in lines if line.startswith("#")] == ["# Class summary", "## Most common failures"]
    assert not re.search(r"(?i)<script|<img|(?<!\\)\]\(", summary)
    assert bench.secret not in summary


# -- the separate-user mode ---------------------------------------------------- #


@root_only
def test_a_forced_separate_user_mode_refuses_an_interpreter_others_cannot_reach(bench, monkeypatch):
    exe = engine.runtime()["exe"]
    if engine.reachable_by_others(exe):
        pytest.skip(f"{exe} is reachable by others, so the separate-user mode would run (see the next test)")
    modes = {path: os.stat(path).st_mode for path in engine.grader_paths()}
    monkeypatch.setenv(engine.MODE_VARIABLE, engine.Mode.USER.value)
    with pytest.raises(engine.SandboxUnavailable, match="not reachable"):
        grade_file(BY_NAME["env_secrets"].path, bench.rubrics["loss"], memory_mb=MEMORY_MB)
    assert {path: os.stat(path).st_mode for path in engine.grader_paths()} == modes  # nothing locked on the way


@contextlib.contextmanager
def separate_user_mode(bench: Bench, monkeypatch):
    """The separate-user mode, forced, with what the grader closes (its own files, the rubric,
    the class folder) closed before the bench looks (engine.lock, held by this process, so
    each grade joins it), and given back afterwards by engine.unlock: every mode as it was."""
    exe = engine.runtime()["exe"]
    if not engine.reachable_by_others(exe):
        pytest.skip(
            f"the separate-user mode cannot run here: the grader's interpreter {exe} is not reachable by "
            "other users; grading refuses with SandboxUnavailable (tested above)"
        )
    rubrics = [Path(r.path) for r in bench.rubrics.values() if r.path]
    locked = [*engine.grader_paths(), *map(str, rubrics), str(bench.submissions)]
    modes = {path: stat.S_IMODE(os.stat(path).st_mode) for path in locked}
    lease = engine.lock(locked)
    bench.modes.update({path: 0o640 for path in rubrics})
    monkeypatch.setenv(engine.MODE_VARIABLE, engine.Mode.USER.value)
    try:
        yield
    finally:
        for path in rubrics:
            bench.modes.pop(path, None)
        engine.unlock(lease)
        monkeypatch.delenv(engine.MODE_VARIABLE)
    assert {path: stat.S_IMODE(os.stat(path).st_mode) for path in locked} == modes, "a permission was not given back"


@root_only
def test_every_attack_in_the_separate_user_mode(bench, ordinary_user_done, monkeypatch):
    """The catalogue in the separate-user mode, forced (the mode of containers that forbid user
    namespaces): each submission runs as a uid of its own, with the grader's venv, package,
    checkout, rubric and class folder closed to others (engine.lock, chmod o-rwx; given back
    afterwards, once the ordinary user's run, which reads them, is over). Every attack is held
    but those of SEPARATE_USER_OPEN, the mode's documented limits (what they may still reach
    is tested on its own below). Under make test one attack of each class runs; all of them
    under make attacks (or GRADVERIFY_ATTACKS_FULL=1)."""
    # make test: one attack of each class (the mode's limits aside); make attacks: the whole catalogue
    every = os.environ.get("GRADVERIFY_ATTACKS_REPORT") or os.environ.get("GRADVERIFY_ATTACKS_FULL")
    attacks = (
        CATALOGUE
        if every
        else [sorted((a for a in CATALOGUE if a.cls == cls), key=lambda a: a.name in SEPARATE_USER_OPEN)[0] for cls in CLASSES]
    )
    with separate_user_mode(bench, monkeypatch):
        outcomes = {a.name: bench.run(a, record=False) for a in attacks}
    write_summary("separate-user", outcomes)
    assert {o["sandbox"] for o in outcomes.values() if not BY_NAME[o["attack"]].rubric_refused} == {engine.Mode.USER.value}
    assert {name: o["problems"] for name, o in outcomes.items() if o["problems"] and name not in SEPARATE_USER_OPEN} == {}


def only_where_the_mode_protects(source: str, bench: Bench) -> bytes:
    """copy_classmate searching only what the separate-user mode claims to protect: the bench's
    class folder (where its planted classmate is), the bench's folder, other sandboxes' folders
    and running children's /proc entries (a classmate's sandbox runs beside it). Whatever else
    on the machine it may read is the mode's documented limit (SEPARATE_USER_OPEN)."""
    patterns = [
        "/proc/[0-9]*/cwd/*.py",
        "/proc/[0-9]*/cwd/../code/submission.py",
        f"{bench.submissions}/*.py",
        "/tmp/gradverify-sandbox-*/code/submission.py",
        f"{engine.SHARED_RUNTIME}/sandboxes/gradverify-sandbox-*/code/submission.py",
    ]
    searched, count = re.subn(r"^PATTERNS = \[.*?\]\n", f"PATTERNS = {patterns!r}\n", source, count=1, flags=re.S | re.M)
    searched, walks = re.subn(r'os\.walk\("/",', f"os.walk({str(bench.folder)!r},", searched)
    assert count == walks == 1, "copy_classmate changed: its PATTERNS or its walk from / are not where they were"
    return searched.encode()


@root_only
def test_in_the_separate_user_mode_no_classmate_the_mode_protects_can_be_copied(bench, ordinary_user_done, monkeypatch):
    """copy_classmate finds any classmate's file others can read on the machine (a documented
    limit of the mode: another grader's copy in /tmp did it); what the mode claims is that the
    class folder, other sandboxes' folders and a running classmate's child are out of reach,
    so it is handed in searching those alone, beside the bench's planted classmate and a
    classmate's sandbox running as it is graded."""
    attack = BY_NAME["copy_classmate"]
    assert attack.classmate_running
    source = only_where_the_mode_protects(attack.path.read_text(encoding="utf-8"), bench)
    with separate_user_mode(bench, monkeypatch):
        outcome = bench.run(attack, record=False, source=source)
    assert outcome["sandbox"] == engine.Mode.USER.value
    assert outcome["problems"] == [], outcome


# -- as an ordinary user ---------------------------------------------------------- #


@pytest.fixture(scope="module")
def ordinary_user_started(secret):
    """The ordinary user's run, started (None, with the reason, where it cannot happen)."""
    why = ordinary_user_ready()
    run = None if why else OrdinaryUserRun(secret)
    try:
        yield run, why
    finally:
        if run is not None:
            run.close()


@pytest.fixture(scope="module")
def ordinary_user_run(ordinary_user_started):
    run, why = ordinary_user_started
    if run is None:
        pytest.skip(f"the ordinary user's run cannot happen here: {why}")
    return run.finish()


@root_only
def test_the_ordinary_users_run_graded_everything_and_left_nothing(ordinary_user_run):
    assert ordinary_user_run["problems"] == []
    assert ordinary_user_run["control"] == {
        name: float(points) for name, (_c, _t, points) in RUBRICS.items() if name not in CARELESS
    }
    assert set(ordinary_user_run["outcomes"]) == set(BY_NAME)


@root_only
@pytest.mark.parametrize("attack", _params("user"))
def test_attack_as_an_ordinary_user(ordinary_user_run, attack):
    outcome = ordinary_user_run["outcomes"].get(attack.name)
    assert outcome is not None, f"not graded in the ordinary user's run: {ordinary_user_run['log']}"
    assert outcome["sandbox"] == (None if attack.rubric_refused else engine.Mode.BWRAP.value)
    assert outcome["problems"] == [], f"{attack.name} ({attack.cls}): {outcome}"


#: Attacks the checks must catch when nothing isolates them.
#: (daemon_rewrites_later is left out: whether its daemon acts within the bench's pause depends on the
#: machine's load, and a check that passes by timing proves nothing)
CAUGHT_WITHOUT_SANDBOX = ("import_gradverify_impl", "env_secrets", "network_local")


@pytest.fixture(scope="module")
def ordinary_user_done(ordinary_user_started):
    """The ordinary user's run, if it is going on, is over (its bench must not see what follows)."""
    run, _why = ordinary_user_started
    if run is not None:
        run.finish()


def test_the_checks_catch_attacks_graded_without_a_sandbox(bench, ordinary_user_done, monkeypatch):
    """The checks can fail: with --unsafe-no-sandbox, these attacks score, leak the secret,
    connect to the listener, and leave a daemon that rewrites the canary; the bench sees each."""
    monkeypatch.setenv(engine.MODE_VARIABLE, engine.Mode.NONE.value)
    for name in CAUGHT_WITHOUT_SANDBOX:
        outcome = bench.run(BY_NAME[name], unsafe=True, record=False)
        assert outcome["sandbox"] == engine.Mode.NONE.value
        assert outcome["problems"], f"{name} went unnoticed without a sandbox: {outcome}"
