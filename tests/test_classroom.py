"""A class folder taken as it comes, and a submission's copy kept private while it is graded.

`classroom.collect` is tested on temporary trees without grading anything: students named by
their path in the class folder, folders per student, links refused, what is not graded listed
with why, outputs that cannot collide. The sandbox folder's permissions are checked while a
submission runs, in each mode (as an ordinary user through the user `gvattack`, as
tests/test_attacks.py does). One end-to-end grade of a small messy class closes the file.
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gradverify.cli import main
from gradverify.grading.classroom import Skip, collect, student_outputs
from gradverify.impl import backprop
from gradverify.markdown import escaped, inline
from gradverify.sandbox import FileNotCopied, engine
from gradverify.sandbox.host import Sandbox

ROOT = Path(__file__).resolve().parents[1]
MODEL = Path(backprop.__file__)
TEMPLATE = ROOT / "gradverify" / "grading" / "student_template.py"
SITE_PACKAGES = ROOT / ".venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
ORDINARY_USER = "gvattack"
SYSTEM_PYTHON = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
#: A file name that is not UTF-8 (Latin-1's é) and has a newline in it.
ODD = os.fsdecode(b"caf\xe9\nx.py")


def tree(top: Path, files: dict[str, str | bytes]) -> Path:
    """Files under `top`, by path ('/' between folders): text, or bytes for a file name that is not UTF-8."""
    for name, text in files.items():
        path = top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return top


def names(found) -> list[str]:
    return [entry.name for entry in found]


def reasons(skipped) -> dict[str, Skip]:
    return {entry.name: entry.reason for entry in skipped}


# --------------------------------------------------------------------------- collect: names


def test_students_of_two_sections_are_named_by_their_path_and_never_collide(tmp_path):
    tree(tmp_path, {"sec1/bob.py": "", "sec2/bob.py": "", "sec2/bob-2.py": ""})
    students, skipped = collect([tmp_path / "sec1", tmp_path / "sec2"])
    assert names(students) == ["sec1/bob", "sec2/bob", "sec2/bob-2"] and skipped == []
    assert [s.path for s in students] == [tmp_path / "sec1/bob.py", tmp_path / "sec2/bob.py", tmp_path / "sec2/bob-2.py"]


def test_any_file_name_is_a_student_of_its_own(tmp_path):
    tree(tmp_path, {"summary.py": "", ODD: "", "alice.py": ""})
    students, skipped = collect([tmp_path])
    assert sorted(names(students)) == sorted(["summary", ODD[:-3], "alice"]) and skipped == []


def test_one_file_given_is_the_student_named_by_its_file(tmp_path):
    tree(tmp_path, {"sec1/bob.py": ""})
    assert names(collect([tmp_path / "sec1" / "bob.py"])[0]) == ["bob"]


def test_the_same_file_given_twice_is_one_student(tmp_path):
    tree(tmp_path, {"bob.py": ""})
    assert names(collect([tmp_path, tmp_path / "bob.py"])[0]) == ["bob"]


def test_a_file_named_like_a_folder_student_keeps_its_py(tmp_path):
    tree(tmp_path, {"alice.py": "", "alice/backprop.py": ""})
    students, _ = collect([tmp_path])
    assert {s.name: s.path for s in students} == {"alice": tmp_path / "alice/backprop.py", "alice.py": tmp_path / "alice.py"}


def test_a_missing_argument_is_an_error_that_names_it(tmp_path):
    with pytest.raises(ValueError, match="no such file or folder: .*absent"):
        collect([tmp_path / "absent"])


# --------------------------------------------------------------------------- collect: a folder per student


def test_with_file_each_folder_holding_it_is_its_student_and_the_rest_is_listed(tmp_path):
    tree(
        tmp_path,
        {
            "alice/backprop.py": "",
            "bob/backprop.py": "",
            "bob/utils.py": "",
            "bob/README.txt": "",
            "carol/homework.py": "",
            "sec3/dave/backprop.py": "",
            "loose.py": "",
        },
    )
    students, skipped = collect([tmp_path], file="backprop.py")
    assert {s.name: (s.path, s.package) for s in students} == {  # each folder graded whole: its modules import each other
        "alice": (tmp_path / "alice", True),
        "bob": (tmp_path / "bob", True),
        "sec3/dave": (tmp_path / "sec3/dave", True),
    }
    assert reasons(skipped) == {"carol/": Skip.NO_FILE, "loose.py": Skip.OUTSIDE_FOLDER}
    assert "backprop.py" in next(s.why for s in skipped if s.name == "carol/")


def test_without_file_a_folder_of_one_py_file_is_its_student_and_of_several_each_file_is(tmp_path):
    tree(tmp_path, {"alice/work.py": "", "alice/notes.txt": "", "sec2/bob.py": "", "sec2/eve.py": "", "empty/notes.md": ""})
    students, skipped = collect([tmp_path])
    assert names(students) == ["alice", "sec2/bob", "sec2/eve"]
    assert reasons(skipped) == {"empty/": Skip.NO_PYTHON}


def test_an_lms_export_gives_one_student_per_folder_whatever_it_holds(tmp_path):
    defines = "def dense_forward(x, W, b):\n    return x @ W + b\n"
    tree(
        tmp_path,
        {
            "alice/backprop.py": defines,  # a package: the one file defining the protocol, and its helper
            "alice/utils.py": "def helper():\n    pass\n",
            "bob/hw.ipynb": "{}",
            "bob/notes.txt": "",
            "carol/handin.zip": "",
            "dave/backprop.py": "",
            "sec/erin.py": defines,  # several files defining it: each its own student
            "sec/frank.py": defines,
            "loose.ipynb": "{}",
        },
    )
    students, skipped = collect([tmp_path])
    assert {s.name: (s.path.relative_to(tmp_path).as_posix(), s.package) for s in students} == {
        "alice": ("alice", True),
        "bob": ("bob/hw.ipynb", False),
        "carol": ("carol/handin.zip", False),
        "dave": ("dave/backprop.py", False),
        "loose": ("loose.ipynb", False),
        "sec/erin": ("sec/erin.py", False),
        "sec/frank": ("sec/frank.py", False),
    }
    assert skipped == []


def test_the_file_to_grade_must_be_a_py_file_name():
    for bad in ("backprop", "sub/backprop.py", ".py"):
        with pytest.raises(ValueError, match="ending in .py, without folders"):
            collect([], file=bad)


def test_submission_file_in_the_rubric_is_the_default_of_file(tmp_path):
    from gradverify.grading.rubric import load_rubric

    rubric = tmp_path / "rubric.toml"
    rubric.write_text(
        'submission_file = "backprop.py"\n[[items]]\nname = "s"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 1\n'
    )
    assert load_rubric(rubric).submission_file == "backprop.py"
    rubric.write_text(
        'submission_file = "a/backprop.py"\n[[items]]\nname = "s"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 1\n'
    )
    with pytest.raises(ValueError, match=r"line 1\): submission_file must be a file name ending in \.py"):
        load_rubric(rubric)


# --------------------------------------------------------------------------- collect: what is not graded


def test_links_are_refused_and_named_with_their_target_never_followed(tmp_path):
    outside = tree(tmp_path / "outside", {"solution.py": "", "sec/x.py": ""})
    top = tree(tmp_path / "class", {"alice.py": "", "dan/README.txt": ""})
    (top / "mallory.py").symlink_to(outside / "solution.py")  # the file itself
    (top / "sec").symlink_to(outside / "sec")  # a folder on the way
    (top / "dan" / "backprop.py").symlink_to("/etc/shadow")  # in a student folder
    students, skipped = collect([top])
    assert names(students) == ["alice"]
    assert reasons(skipped) == {"mallory.py": Skip.SYMLINK, "sec": Skip.SYMLINK, "dan/backprop.py": Skip.SYMLINK}
    why = {s.name: s.why for s in skipped}
    assert str(outside / "solution.py") in why["mallory.py"] and "/etc/shadow" in why["dan/backprop.py"]
    # a link given by name is refused too; a folder given by name is the grader's choice
    assert reasons(collect([top / "mallory.py"])[1]) == {"mallory.py": Skip.SYMLINK}
    (tmp_path / "link-to-class").symlink_to(top)
    assert names(collect([tmp_path / "link-to-class"])[0]) == ["alice"]


def test_grading_a_link_by_name_exits_2_naming_the_link_and_its_target(tmp_path, capsys):
    link = tmp_path / "student.py"
    link.symlink_to("/etc/shadow")
    assert main(["grade", str(link)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"{link}: {Skip.SYMLINK.value}" in err and "/etc/shadow" in err


def test_what_is_not_a_regular_py_file_is_listed_with_why(tmp_path):
    top = tree(tmp_path, {"notes.txt": "", "bob.py": ""})
    os.mkfifo(top / "pipe.py")
    students, skipped = collect([top])
    assert names(students) == ["bob"]
    assert reasons(skipped) == {"notes.txt": Skip.NOT_PYTHON, "pipe.py": Skip.NOT_REGULAR}


# --------------------------------------------------------------------------- outputs


def test_no_two_students_outputs_are_one_file_and_none_is_the_summary(tmp_path):
    tricky = [
        "bob",
        "bob.md",
        "bob%2Emd",
        "bob.margins",
        "sec2/bob",
        "sec2",
        "sec2.md/x",
        "summary",
        "a b",
        "j.smith",
        ODD[:-3],
        os.fsdecode(b"caf\xc3\xa9"),
        "new\nline",
        "dot/..",
        "-x",
    ]
    out = tmp_path / "grades"
    files: dict[Path, str] = {}
    folders: set[Path] = set()
    for name in tricky:
        report, results = student_outputs(out, name)
        assert report.with_suffix("") == results.with_suffix("") and report.parent.is_relative_to(out / "students")
        stem = report.name[: -len(".md")]
        assert "." not in stem  # so `<stem>.<key>.svg` pictures are told apart too
        for path in (report, results, report.with_name(f"{stem}.margins.svg")):
            assert path not in files, (name, files.get(path))
            files[path] = name
        folders |= set(report.relative_to(out).parents)
    assert not folders & {p.relative_to(out) for p in files}
    assert out / "summary.md" not in files
    assert all(b"\n" not in os.fsencode(p) for p in files)


def test_escaped_names_never_look_alike_and_hold_no_control_character():
    texts = ["caf\xe9", os.fsdecode(b"caf\xe9"), "caf\\xe9", "a\nb", "a\\nb", "a b", "\x85", os.fsdecode(b"\x85"), "\u202e"]
    shown = [escaped(t) for t in texts]
    assert len(set(shown)) == len(texts)
    assert all(ch.isprintable() for s in shown for ch in s)
    assert escaped("sec2/bob-2") == "sec2/bob-2"
    assert escaped(os.fsdecode(b"caf\xe9")) == "caf\\xe9"


# --------------------------------------------------------------------------- the sandbox's copy


MODES = [engine.Mode.NONE]
if engine.bwrap_works()[0]:
    MODES.append(engine.Mode.BWRAP)
if os.geteuid() == 0:
    MODES.append(engine.Mode.USER)


def _listing(top: Path) -> dict[str, tuple[int, int, int]]:
    """Every folder and file under `top`: relative path -> (permission bits, uid, gid)."""
    found = {}
    for folder, _, files in os.walk(top):
        for path in [folder, *(os.path.join(folder, f) for f in files)]:
            info = os.lstat(path)
            found[os.path.relpath(path, top)] = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    return found


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_the_sandbox_folder_is_readable_by_the_grader_and_the_child_alone_while_it_runs(mode):
    with Sandbox(MODEL, mode=mode, unsafe=True, lock_grader=False, import_timeout=30) as box:
        listing = _listing(box._state.folder)
        child = os.stat(f"/proc/{box.pid}")  # the worker, or bwrap started as the child's uid
        assert box.module.activation("relu", np.array([[-1.0, 2.0]])).tolist() == [[0.0, 2.0]]  # its copy imported, it answers
        group = {engine.Mode.USER: child.st_uid, engine.Mode.BWRAP: engine.NOBODY if os.geteuid() == 0 else None}.get(mode)
        assert {"code/submission.py", "runtime/worker.py", "runtime/codec.py", "."} <= set(listing)
        for path, (bits, uid, gid) in listing.items():
            assert bits & 0o007 == 0, path  # nothing for other users
            if path == "work":  # the child's own in the separate-user mode; unused under bubblewrap, the grader's
                assert (bits, uid) == (0o700, child.st_uid if mode is engine.Mode.USER else os.geteuid())
            elif group is None:
                assert bits & 0o077 == 0 and uid == os.geteuid(), path
            else:
                assert (uid, gid) == (os.geteuid(), group) and bits & 0o027 == 0, path
        if os.geteuid() == 0:  # another user, neither grader nor child, cannot read the copy
            done = subprocess.run(
                ["cat", str(box._state.folder / "code" / "submission.py")],
                user=54321,
                group=54321,
                extra_groups=[],
                capture_output=True,
            )
            assert done.returncode != 0 and done.stdout == b""


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_a_link_given_as_the_submission_is_refused_with_its_name_and_nothing_is_copied(tmp_path, monkeypatch, mode):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    link = tmp_path / "student.py"
    link.symlink_to(MODEL)
    with pytest.raises(FileNotCopied, match=rf"{link} is a symbolic link \(to {MODEL}\)"):
        Sandbox(link, mode=mode, unsafe=mode is engine.Mode.NONE).start()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_failure_to_make_the_folder_is_raised_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", broken)  # the worker's copy
    with pytest.raises(OSError, match="No space left"):
        Sandbox(MODEL, mode=engine.Mode.NONE, unsafe=True).start()
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- as an ordinary user


def _ordinary_user_ready() -> str | None:
    """Why the ordinary user's tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root, to run as the user gvattack"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} is missing"
    for path in (SITE_PACKAGES / "numpy" / "__init__.py", ROOT / "gradverify" / "__init__.py"):
        if not engine.reachable_by_others(str(path)):
            return f"{path} is not readable by other users"
    return None


@pytest.fixture
def ordinary_user(tmp_path):
    """Runs Python code as the user gvattack (the venv's packages through site.addsitedir), in a
    folder of its own: (code) -> CompletedProcess."""
    why = _ordinary_user_ready()
    if why:
        pytest.skip(why)
    try:
        pwd.getpwnam(ORDINARY_USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", ORDINARY_USER], check=True)
    user = pwd.getpwnam(ORDINARY_USER)
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, user.pw_uid, user.pw_gid)
    tmp_path.chmod(0o755)

    def run(code: str) -> subprocess.CompletedProcess:
        prelude = f"import site, sys\nsite.addsitedir({str(SITE_PACKAGES)!r})\n"
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        return subprocess.run(
            [SYSTEM_PYTHON, "-c", prelude + textwrap.dedent(code)],
            user=ORDINARY_USER,
            group=ORDINARY_USER,
            extra_groups=[],
            env=env,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=120,
        )

    run.home = home
    run.user = user
    return run


def test_an_unreadable_file_is_a_clear_error_for_an_ordinary_user_never_a_traceback(ordinary_user):
    home = ordinary_user.home
    for name in ("secret.py", "alice.py"):
        shutil.copy(MODEL, home / name)
        os.chown(home / name, ordinary_user.user.pw_uid, ordinary_user.user.pw_gid)
    (home / "secret.py").chmod(0)
    done = ordinary_user("""
        from gradverify.cli import main
        from gradverify.grading.classroom import collect
        from gradverify.sandbox import FileNotCopied, Sandbox
        try:
            Sandbox("secret.py").start()
        except FileNotCopied as exc:
            print("sandbox:", exc)
        students, skipped = collect(["."])
        print("collect:", [s.name for s in students], [(s.name, s.reason.name, s.detail) for s in skipped])
        print("exit:", main(["grade", "secret.py"]))
    """)
    assert "Traceback" not in done.stderr, done.stderr
    (refused,) = [line for line in done.stdout.splitlines() if line.startswith("sandbox:")]
    assert "secret.py" in refused and "Permission denied" in refused  # FileNotCopied is its message only
    assert "collect: ['alice'] [('secret.py', 'UNREADABLE', 'Permission denied')]" in done.stdout
    assert "exit: 2" in done.stdout and f"secret.py: {Skip.UNREADABLE.value}" in done.stderr
    assert "Permission denied" in done.stderr


@pytest.mark.skipif(not engine.bwrap_works()[0], reason="bubblewrap cannot run here")
def test_an_ordinary_users_sandbox_folder_is_its_own_alone_while_it_runs(ordinary_user):
    shutil.copy(MODEL, ordinary_user.home / "alice.py")
    done = ordinary_user("""
        import json, os, stat
        import numpy as np
        from gradverify.sandbox import Sandbox, engine
        with Sandbox("alice.py", mode=engine.Mode.BWRAP, import_timeout=60) as box:
            assert box.module.activation("relu", np.array([[-1.0, 2.0]])).tolist() == [[0.0, 2.0]]
            modes = {}
            for folder, _, files in os.walk(box._state.folder):
                for path in [folder, *(os.path.join(folder, f) for f in files)]:
                    info = os.lstat(path)
                    modes[os.path.relpath(path, box._state.folder)] = [stat.S_IMODE(info.st_mode), info.st_uid]
        print(json.dumps(modes))
    """)
    assert done.returncode == 0, done.stderr
    modes = json.loads(done.stdout)
    assert "code/submission.py" in modes
    assert all(bits & 0o077 == 0 and uid == ordinary_user.user.pw_uid for bits, uid in modes.values()), modes


# --------------------------------------------------------------------------- a messy class, graded


@pytest.mark.long
def test_a_messy_class_gets_a_grade_per_student_and_a_list_of_what_was_not_graded(tmp_path):
    top = tmp_path / "class"
    outside = tree(tmp_path / "outside", {"solution.py": MODEL.read_text()})
    model, template = MODEL.read_text(), TEMPLATE.read_text()
    tree(
        top,
        {
            "sec1/bob.py": model,
            "sec2/bob.py": template,
            "sec2/bob-2.py": model,
            "sec2/summary.py": model,
            f"sec2/{ODD}": model,
            "sec2/notes.txt": "",
        },
    )
    (top / "sec2" / "mallory.py").symlink_to(outside / "solution.py")
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('examples = 2\n[[items]]\nname = "sse"\ncheck = "loss"\ntarget = "sse"\npoints = 1\n')
    out, combined = tmp_path / "grades", tmp_path / "all.json"
    assert (
        main(
            [
                "grade",
                str(top / "sec1"),
                str(top / "sec2"),
                "--jobs",
                "2",
                "--out",
                str(out),
                "--rubric",
                str(rubric),
                "--results-json",
                str(combined),
                "--quiet",
                "--no-plots",
            ]
        )
        == 0
    )
    scores = {"sec1/bob": 1, "sec2/bob": 0, "sec2/bob-2": 1, "sec2/summary": 1, f"sec2/{ODD[:-3]}": 1}
    expected = {escaped(name): score for name, score in scores.items()}  # sec2/caf\xe9\nx: shown escaped
    everything = json.loads(combined.read_text())
    assert {d["extra_data"]["student"]: d["score"] for d in everything["submissions"]} == expected
    assert everything["errors"] == {}
    assert {(n["student"], n["reason"]) for n in everything["not_graded"]} == {
        ("sec2/mallory.py", "SYMLINK"),
        ("sec2/notes.txt", "NOT_PYTHON"),
    }
    for name, score in scores.items():  # each its own files
        report, results = student_outputs(out, name)
        assert json.loads(results.read_text())["score"] == score and report.is_file()
    summary = (out / "summary.md").read_text()
    for name, score in expected.items():
        assert f"| {name.replace(chr(92), chr(92) * 2)} | {score} |" in summary  # the backslashes of escapes, escaped
    assert "5 submissions" in summary and "2 not graded" in summary
    not_graded = summary.split("## Not graded", 1)[1]
    assert f"sec2/mallory.py: {inline(Skip.SYMLINK.value)}" in not_graded and inline(str(outside / "solution.py")) in not_graded
    _check_grades_csv(out / "grades.csv", expected, {"sec2/mallory.py", "sec2/notes.txt"})


def _check_grades_csv(path: Path, expected: dict[str, float], not_graded: set[str]) -> None:
    """grades.csv beside the summary: each graded student's score and its one item's column, the
    maximum, and a row for each student not graded."""
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    assert {r["student"]: float(r["score"]) for r in rows if r["status"] == "graded"} == expected
    assert {r["student"]: float(r["sse"]) for r in rows if r["status"] == "graded"} == expected
    assert {r["student"] for r in rows if r["status"].startswith("not graded")} == not_graded
    assert {r["max_score"] for r in rows if r["status"] == "graded"} == {"1.0"}
