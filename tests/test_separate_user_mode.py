"""The separate-user mode: uids of its own, and every permission it took given back.

Every test needs a grader running as root (the child drops to another uid), and is skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from gradverify.impl import backprop
from gradverify.sandbox.errors import SubmissionLoadError
from gradverify.sandbox.host import Sandbox
from gradverify.sandbox import engine

from tests.sandboxes import SUBMISSIONS, bitwise_equal, root_only, small_net


def modes(*paths) -> dict[str, int]:
    return {str(path): os.stat(path).st_mode & 0o7777 for path in paths}


@pytest.fixture
def grader_tree(tmp_path, monkeypatch):
    """A stand-in for the grader's venv (the grader's own paths point at it alone) and a class folder
    with a rubric and a submission, all open to others as they are kept."""
    venv, klass = tmp_path / "venv", tmp_path / "class"
    for folder in (venv, klass):
        folder.mkdir()
        folder.chmod(0o755)
    (klass / "rubric.toml").write_text("title = 'a course'\n")
    shutil.copyfile(SUBMISSIONS / "well_behaved.py", klass / "alice.py")
    for path in (klass / "rubric.toml", klass / "alice.py"):
        path.chmod(0o644)
    monkeypatch.setattr(engine, "grader_paths", lambda: [str(venv)])
    return types.SimpleNamespace(
        venv=venv, klass=klass, rubric=klass / "rubric.toml", submission=klass / "alice.py", locked=[klass / "rubric.toml", klass]
    )


def _closed(paths) -> bool:
    return all(not os.stat(path).st_mode & 0o007 for path in paths)


def _hold_in_another_process(paths) -> subprocess.Popen:
    """Another grader process holding `paths` closed (engine.lock) until its stdin closes."""
    code = (
        "import sys; from gradverify.sandbox import engine; lease = engine.lock(sys.argv[1:]); "
        "print('held', flush=True); sys.stdin.read(); engine.unlock(lease)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *map(str, paths)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


@root_only
def test_separate_user_sandboxes_side_by_side_have_uids_and_folders_of_their_own(sandbox):
    """The separate-user mode, forced: two submissions graded side by side run as two uids that
    no user of the machine has, each folder is open to its own gid alone, and closing one (which
    kills every process of its uid and sweeps its files) leaves the other answering."""
    boxes = [sandbox(Path(backprop.__file__), call_timeout=10.0, mode=engine.Mode.USER, lock_grader=False) for _ in range(2)]
    uids = [os.stat(f"/proc/{box.pid}").st_uid for box in boxes]
    assert uids[0] != uids[1] and all(uid in engine.SANDBOX_UIDS for uid in uids)
    folders = [os.stat(box._state.folder) for box in boxes]
    assert [(f.st_gid, f.st_mode & 0o777) for f in folders] == [(uid, 0o750) for uid in uids]
    boxes[0].close()
    net = small_net()
    X = np.random.default_rng(1).normal(size=(5, 3))
    Y = np.eye(2)[[0, 1, 1, 0, 1]]
    assert bitwise_equal(boxes[1].module.network_gradients(net, X, Y), backprop.network_gradients(net, X, Y))


@root_only
def test_the_separate_user_mode_closes_the_graders_files_while_it_runs_and_gives_them_back(sandbox, grader_tree):
    before = modes(grader_tree.venv, *grader_tree.locked, grader_tree.submission)
    box = sandbox(grader_tree.submission, call_timeout=10.0, mode=engine.Mode.USER, locked=grader_tree.locked)
    assert _closed([grader_tree.venv, *grader_tree.locked])
    assert box.module.echo(3) == 3
    box.close()
    assert modes(grader_tree.venv, *grader_tree.locked, grader_tree.submission) == before


@root_only
def test_the_graders_own_files_are_closed_whoever_owns_them(sandbox, grader_tree):
    """A TA's venv, graded from with sudo, is another user's than root's: still the grader's own
    (the model solution is in it), so it is closed while the child runs, and given back."""
    os.chown(grader_tree.venv, 54321, 54321)
    os.chown(grader_tree.rubric, 54321, 54321)  # the TA's rubric: a file, closed whoever owns it
    before = modes(grader_tree.venv, grader_tree.rubric)
    box = sandbox(grader_tree.submission, call_timeout=10.0, mode=engine.Mode.USER, locked=grader_tree.locked)
    assert _closed([grader_tree.venv, grader_tree.rubric]) and box._state.lease.refused == ()
    box.close()
    assert modes(grader_tree.venv, grader_tree.rubric) == before


@root_only
@pytest.mark.parametrize("how", ["the submission fails to import", "the sandbox folder cannot be made"])
def test_the_separate_user_mode_gives_the_permissions_back_when_the_start_fails(grader_tree, monkeypatch, how):
    from gradverify.sandbox import host

    before = modes(grader_tree.venv, *grader_tree.locked)
    if how == "the sandbox folder cannot be made":
        monkeypatch.setattr(host, "make_folder", lambda *a, **k: (_ for _ in ()).throw(OSError("no space left")))
    else:
        shutil.copyfile(SUBMISSIONS / "raises_at_import.py", grader_tree.submission)
    box = Sandbox(grader_tree.submission, import_timeout=10.0, mode=engine.Mode.USER, locked=grader_tree.locked)
    with pytest.raises((SubmissionLoadError, OSError)):
        box.start()
    assert modes(grader_tree.venv, *grader_tree.locked) == before


@root_only
def test_a_path_two_grader_processes_hold_closed_is_given_back_when_the_last_is_done(sandbox, grader_tree):
    before = modes(*grader_tree.locked)
    other = _hold_in_another_process(grader_tree.locked)
    try:
        box = sandbox(grader_tree.submission, call_timeout=10.0, mode=engine.Mode.USER, locked=grader_tree.locked)
        box.close()
        assert _closed(grader_tree.locked), "reopened while another grader still runs a submission"
    finally:
        other.communicate("")
    assert other.returncode == 0 and modes(*grader_tree.locked) == before


@root_only
def test_what_a_killed_grader_held_closed_is_given_back_by_the_next_lock(grader_tree):
    before = modes(*grader_tree.locked)
    other = _hold_in_another_process(grader_tree.locked)
    other.kill()
    other.wait()
    assert _closed(grader_tree.locked)
    engine.unlock(engine.lock([]))  # any grader's next lock looks at the registry
    assert modes(*grader_tree.locked) == before


@root_only
@pytest.mark.parametrize("shared", ["sticky and world-writable, like /tmp", "another user's"])
def test_a_submission_in_a_folder_others_share_is_graded_from_its_copy_and_the_folder_stays_open(sandbox, tmp_path, shared):
    folder = tmp_path / "shared"
    folder.mkdir()
    if shared == "another user's":
        folder.chmod(0o755)
        os.chown(folder, 54321, 54321)
    else:
        folder.chmod(0o1777)
    submission = folder / "alice.py"
    shutil.copyfile(backprop.__file__, submission)
    before = modes(folder)
    box = sandbox(submission, call_timeout=10.0, mode=engine.Mode.USER, locked=[folder], lock_grader=False)
    assert modes(folder) == before  # never closed, not even while the child runs
    assert [path for path, _why in box._state.lease.refused] == [str(folder)]
    net = small_net()
    X, Y = np.random.default_rng(2).normal(size=(5, 3)), np.eye(2)[[0, 1, 1, 0, 1]]
    assert bitwise_equal(box.module.network_gradients(net, X, Y), backprop.network_gradients(net, X, Y))
    box.close()
    assert modes(folder) == before


@root_only
def test_a_class_grades_parent_holds_the_class_folder_closed_across_its_students(sandbox, grader_tree, monkeypatch):
    from gradverify.sandbox.folder import closed_to_others

    monkeypatch.setenv(engine.MODE_VARIABLE, engine.Mode.USER.value)
    before = modes(grader_tree.venv, *grader_tree.locked)
    with closed_to_others(grader_tree.locked):
        box = sandbox(grader_tree.submission, call_timeout=10.0, locked=grader_tree.locked)
        box.close()  # one student done: the next must not find the class folder open
        assert _closed([grader_tree.venv, *grader_tree.locked])
    assert modes(grader_tree.venv, *grader_tree.locked) == before


@root_only
def test_a_grade_in_the_separate_user_mode_leaves_a_sticky_folder_and_the_rubric_as_they_were(tmp_path, monkeypatch):
    """grade_file, forced into the separate-user mode, on a submission in a fresh 1777 folder (as in
    /tmp) with its rubric elsewhere: full marks, and every mode as it was before."""
    from gradverify.grading.items import grade_file
    from gradverify.grading.rubric import load_rubric

    shared, staff = tmp_path / "shared", tmp_path / "staff"
    shared.mkdir()
    shared.chmod(0o1777)
    staff.mkdir()
    staff.chmod(0o755)
    rubric = staff / "rubric.toml"
    rubric.write_text(
        'title = "one item"\nexamples = 2\nitem_timeout = 30\n\n'
        '[[items]]\nname = "loss"\ntitle = "loss"\ncheck = "loss"\ntarget = "mse"\npoints = 10\n'
    )
    rubric.chmod(0o644)
    submission = shared / "alice.py"
    shutil.copyfile(backprop.__file__, submission)
    submission.chmod(0o644)
    monkeypatch.setattr(engine, "grader_paths", lambda: [str(staff)])  # the checkout stays open to other tests' users
    monkeypatch.setenv(engine.MODE_VARIABLE, engine.Mode.USER.value)
    before = modes(shared, staff, rubric, submission)
    result = grade_file(submission, load_rubric(rubric), memory_mb=1024)
    assert result.sandbox == engine.Mode.USER.value and result.score == result.max_score == 10
    assert modes(shared, staff, rubric, submission) == before
