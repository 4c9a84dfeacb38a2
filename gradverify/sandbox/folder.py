"""A submission's private folder: its copy (never through a link), the course adapter, the worker
and its codec, readable by the grader and the child's group alone; and, in the separate-user
mode, the grader's own files closed to other users while a submission runs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat as file_stat
from pathlib import Path
from typing import Iterator, Sequence

from . import engine
from .errors import AdapterLoadError
from .tree import Tree

WORKER_SCRIPT = Path(__file__).resolve().with_name("worker.py")
NOBODY = engine.NOBODY


class FileNotCopied(Exception):
    """The submission could not be copied into its sandbox folder: it is a symbolic link (never
    followed, so that a root grader never copies a file its author could not read) or it cannot
    be read. str(exc) names the file and says why. The grader's problem, not the submission's:
    no grade is given."""


def remove_tree(path: Path) -> None:
    """Remove `path`, even if the submission took permissions away from its own folders."""
    if os.geteuid() != 0:  # root needs no permissions; others give them back first (never via a symlink)
        for folder, names, _files in os.walk(path):
            for name in names:
                inner = os.path.join(folder, name)
                if not os.path.islink(inner):
                    with contextlib.suppress(OSError):
                        os.chmod(inner, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def prepare_separate_user(locked: list[str], lock_grader: bool) -> engine.Lease:
    """Before a submission runs as another user: the grader's own files (venv, package, source
    tree; with `lock_grader`; whoever owns them) and `locked` closed to other users, until the
    lease is given back (engine.unlock, when the sandbox closes). A folder of `locked` that others
    share (/tmp, or another user's) is left open (engine.shared_with_others): the child runs on
    the copy of the submission in its sandbox folder (make_folder), never on the file where it
    was handed in."""
    own = engine.lock(engine.grader_paths(), refuse_shared=False) if lock_grader else engine.Lease()
    try:
        return engine.joined(own, engine.lock(locked))
    except BaseException:
        engine.unlock(own)
        raise


@contextlib.contextmanager
def closed_to_others(paths: Sequence[str | os.PathLike], *, unsafe: bool = False) -> Iterator[engine.Lease]:
    """For a class grade's parent: in the separate-user mode (as engine.choose picks it here), the
    grader's own files and `paths` (the class folders, the rubric) closed to other users from
    before the first per-student process to after the last, so that no student's child finds
    them open between two grades; given back at the end, also on an exception. Other modes:
    nothing is closed."""
    try:
        separate = engine.choose(unsafe) is engine.Mode.USER
    except engine.SandboxUnavailable:
        separate = False
    lease = prepare_separate_user([str(p) for p in paths], True) if separate else engine.Lease()
    try:
        yield lease
    finally:
        engine.unlock(lease)


def reader_group(mode: engine.Mode, uid: int | None) -> int | None:
    """The group that may read a submission's sandbox folder besides the grader who owns it: the
    child's own gid where it runs as a uid of its own on this machine (the separate-user mode's
    `uid`; nobody's group 65534 when a root grader starts bwrap as uid 65534), else None: the
    child runs as the grader (unsafe), or bwrap maps uid 65534 to the ordinary user grading, so
    the owner's permissions are the child's and no one else's are needed."""
    if mode is engine.Mode.USER:
        return uid
    if mode is engine.Mode.BWRAP and os.geteuid() == 0:
        return NOBODY
    return None


def _private(path: Path, group: int | None, *, folder: bool) -> None:
    """`path` readable by the grader and `group` alone (0750/0640), or by the grader alone (0700/0600)."""
    if group is not None:
        os.chown(path, os.geteuid(), group, follow_symlinks=False)
    os.chmod(path, (0o750 if group is not None else 0o700) if folder else (0o640 if group is not None else 0o600))


def _copy_in(source: Path, target: Path, *, follow: bool = False) -> None:
    """Copy the regular file `source` to the new file `target` (0600 while it is written), never
    through a symbolic link at `source` unless `follow` (staff's adapter); OSError if it cannot
    be read or is not a regular file."""
    fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW))
    with open(fd, "rb") as reading:
        if not file_stat.S_ISREG(os.fstat(reading.fileno()).st_mode):
            raise OSError(0, "not a regular file")
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with open(out, "wb") as writing:
            shutil.copyfileobj(reading, writing)


def unreadable(path: Path, exc: OSError) -> str:
    """Why `path` could not be copied, in words: a symbolic link (named, never followed), or the system's reason."""
    if os.path.islink(path):
        return f"{path} is a symbolic link (to {os.readlink(path)}); links are not followed"
    return f"cannot read {path}: {exc.strerror or exc}"


def make_folder(
    source: Path | Tree | None, group: int | None, adapter: Path | None = None, *, work_owner: int | None = None
) -> Path:
    """A new folder for one submission: code/submission.py (a copy of the file `source`; empty
    without a `source`), or for a Tree its files below code/student/ (its notebook's cells in
    code/notebook.json), the course adapter as code/adapter.py, and runtime/ (the worker and its
    codec), all read-only to the child, and work/ (the child's own, outside bubblewrap;
    `work_owner`'s in the separate-user mode). Every folder and file in it is the grader's,
    readable by `group` (reader_group) and by no other user. FileNotCopied if the submission
    cannot be copied (AdapterLoadError for the adapter); any other failure is raised as it came,
    the folder removed either way."""
    top = engine.private_folder()
    try:
        code, runtime, work = top / "code", top / "runtime", top / "work"
        for folder in (code, runtime, work):
            folder.mkdir(mode=0o700)
        _write_submission(source, code)
        if adapter is not None:
            try:
                _copy_in(adapter, code / "adapter.py", follow=True)  # staff's file, wherever it is
            except OSError as exc:
                raise AdapterLoadError(unreadable(adapter, exc)) from None
        for name in ("worker.py", "codec.py"):
            shutil.copyfile(WORKER_SCRIPT.with_name(name), runtime / name)
        for folder in (code, runtime):
            _private_tree(folder, group)
        if work_owner is not None:  # the separate-user mode: the child's own, no other submission's uid may enter
            os.chown(work, work_owner, work_owner)
        _private(top, group, folder=True)
        return top
    except BaseException:
        remove_tree(top)
        raise


def _write_submission(source: Path | Tree | None, code: Path) -> None:
    """The submission into the folder `code`: the file copied (FileNotCopied if it cannot be),
    a Tree written from its bytes, or an empty submission.py."""
    if isinstance(source, Tree):
        if source.cells:
            cells = [{"cell": cell.number, "source": cell.source} for cell in source.cells]
            _write_new(code / "notebook.json", json.dumps(cells).encode("utf-8"))
        for relative, data in source.files:
            target = code / "student" / relative
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_new(target, data)
        (code / "student").mkdir(mode=0o700, exist_ok=True)
    elif source is not None:
        try:
            _copy_in(source, code / "submission.py")
        except OSError as exc:
            raise FileNotCopied(unreadable(source, exc)) from None
    else:
        (code / "submission.py").write_bytes(b"")


def _write_new(target: Path, data: bytes) -> None:
    """`data` into the new file `target` (0600 while it is written), never through a link."""
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with open(out, "wb") as writing:
        writing.write(data)


def _private_tree(folder: Path, group: int | None) -> None:
    """`folder`, every folder below it and every file in them private (_private), deepest first."""
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            _private_tree(entry, group)
        else:
            _private(entry, group, folder=False)
    _private(folder, group, folder=True)
