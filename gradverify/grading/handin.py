"""What a student hands in, read for the sandbox: a .py file, a folder (a student's package), a
.zip of either, or a Jupyter notebook.

`read` gives a Handin: for a .py file the file itself (the sandbox copies it), for the others a
sandbox Tree made of bytes read once, here, never through a symbolic link, within limits (files,
bytes, zip members), so that nothing the student handed in is opened again. A folder's or a
zip's module graded is the rubric's `submission_file` where it names one, else the one .py file
that defines one of the protocol's functions at its top level (or the only .py file); the
others are its modules, which it imports as on the student's machine. A folder that wraps all
the files is taken off (`hw2/backprop.py` is `backprop.py`), unless it is a package (its
`__init__.py` is there: `cs231n/layers.py` stays the module `cs231n.layers`). A notebook's code cells
run in order, its IPython lines (`%magic`, `!shell`) replaced by `pass` and its non-Python cell
magics (`%%bash`) left out. What was found, graded and left out is said in `found`, for staff.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

from gradverify.references.spec import PROTOCOL_FUNCTIONS
from gradverify.sandbox.tree import Cell, Tree, is_tree_path

#: The most .py files a folder or a zip may hold, and their bytes together.
MAX_FILES, MAX_BYTES = 200, 8 * 1024 * 1024
#: The most entries a zip may list, and the largest notebook read.
MAX_MEMBERS, MAX_NOTEBOOK_BYTES = 2000, 16 * 1024 * 1024
#: Folders never read: caches, Jupyter's checkpoints, macOS's zip metadata, hidden folders.
IGNORED_FOLDERS = frozenset({"__pycache__", ".ipynb_checkpoints", "__MACOSX"})
#: The most cells a notebook's notes name one by one (the others are counted).
NOTES_SHOWN = 20
#: Cell magics whose body is Python (run without the magic line); any other cell magic's cell is left out.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})


class Form(StrEnum):
    """What was handed in."""

    FILE = "a .py file"
    FOLDER = "a folder"
    ZIP = "a zip"
    NOTEBOOK = "a notebook"


class HandinError(ValueError):
    """What was handed in cannot be graded (no module to grade, too large, not a notebook…):
    the student's to fix. str(exc) says why and what was expected."""


@dataclass(frozen=True)
class Handin:
    """A submission as read: its `form`, the `path` handed in, the Tree the sandbox runs (None
    for a .py file, which the sandbox copies itself), and `found`: what was graded and what was
    left out, in sentences for staff."""

    form: Form
    path: Path
    tree: Tree | None = None
    found: tuple[str, ...] = ()

    def digest(self) -> bytes | None:
        """SHA-256 of what is run (the Tree's paths, bytes and cells), from which a grade's seed
        is derived; None for a .py file (its bytes are hashed where it is)."""
        if self.tree is None:
            return None
        parts = {
            "files": [[path, hashlib.sha256(data).hexdigest()] for path, data in self.tree.files],
            "entry": self.tree.entry,
            "cells": [[cell.number, cell.source] for cell in self.tree.cells],
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).digest()


def form_of(path: Path) -> Form | None:
    """The form of what is at `path` (not followed through a link), None when it is none of them."""
    if path.is_dir() and not path.is_symlink():
        return Form.FOLDER
    suffix = path.suffix.lower()
    return {".py": Form.FILE, ".zip": Form.ZIP, ".ipynb": Form.NOTEBOOK}.get(suffix)


def read(path: str | os.PathLike, *, file: str | None = None) -> Handin:
    """What was handed in at `path`, read (see the module's docstring); `file`: the name of the
    module graded in a folder or a zip (the rubric's submission_file). HandinError when it
    cannot be graded; OSError when it cannot be read."""
    path = Path(path)
    form = form_of(path)
    if form is Form.FILE:
        return Handin(Form.FILE, path)
    if form is Form.FOLDER:
        return _from_files(Form.FOLDER, path, _folder_files(path), file)
    if form is Form.ZIP:
        return _from_files(Form.ZIP, path, _zip_files(read_regular(path, MAX_BYTES * 4)), file)
    if form is Form.NOTEBOOK:
        return _notebook(path.name, read_regular(path, MAX_NOTEBOOK_BYTES), path)
    raise HandinError(f"{printable(path.name)}: expected a .py file, a folder, a .zip or a Jupyter notebook (.ipynb)")


def open_regular(path: Path | str, *, dir_fd: int | None = None) -> BinaryIO:
    """The regular file `path` (relative to the open folder `dir_fd`, if given) open for reading,
    never through a symbolic link; OSError when it is a link, not a regular file or cannot be read."""
    reading = open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=dir_fd), "rb")
    if not stat.S_ISREG(os.fstat(reading.fileno()).st_mode):
        reading.close()
        raise OSError(0, "not a regular file")
    return reading


def read_regular(path: Path | str, limit: int, *, dir_fd: int | None = None) -> bytes:
    """The bytes of the regular file `path` (relative to the open folder `dir_fd`, if given), never
    through a symbolic link; OSError when it is a link, not a regular file or cannot be read,
    HandinError when it holds more than `limit` bytes."""
    with open_regular(path, dir_fd=dir_fd) as reading:
        data = reading.read(limit + 1)
    if len(data) > limit:
        raise HandinError(f"{printable(Path(path).name)} is larger than {limit // (1024 * 1024)} MB")
    return data


def _open_folder(path: Path | str, *, dir_fd: int | None = None) -> int:
    """An open descriptor of the folder `path` (relative to `dir_fd`, if given), never through a
    symbolic link; OSError when it is a link, no folder or cannot be opened."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


# --------------------------------------------------------------------------- #
# Files: a folder's and a zip's.
# --------------------------------------------------------------------------- #


@dataclass
class _Found:
    """What a folder or a zip holds: its .py files (path → bytes), its notebooks and zips (path →
    bytes, read only when nothing else is), and what was left out, counted by why."""

    python: dict[str, bytes]
    others: dict[str, bytes]
    left_out: dict[str, int]

    def leave_out(self, why: str) -> None:
        self.left_out[why] = self.left_out.get(why, 0) + 1


def _take(found: _Found, relative: str, read: Callable[[], bytes]) -> None:
    """A file found at `relative`: its bytes (`read()`, OSError when they cannot be) kept, or the
    file counted as left out (with why), unread: a zip's member left out is never unpacked."""
    if relative.lower().endswith((".ipynb", ".zip")):
        if len(found.others) >= 3:  # graded only as the one thing handed in: a fourth says enough
            found.leave_out("notebooks and zips beyond the third")
        else:
            found.others[relative] = read()
    elif not is_tree_path(relative):
        found.leave_out(".py files whose names cannot be a module's")
    else:
        if len(found.python) >= MAX_FILES:
            raise HandinError(f"more than {MAX_FILES} .py files")
        data = read()
        if sum(map(len, found.python.values())) + len(data) > MAX_BYTES:
            raise HandinError(f"its .py files hold more than {MAX_BYTES // (1024 * 1024)} MB")
        found.python[relative] = data


def _folder_files(top: Path) -> _Found:
    """The files below the folder `top`, read; links and what cannot be read left out."""
    found = _Found({}, {}, {})
    folder = _open_folder(top)
    try:
        _read_folder(found, folder, "")
    finally:
        os.close(folder)
    return found


def _read_folder(found: _Found, folder: int, where: str) -> None:
    """The files of the open folder `folder` (`where` below the top, "" or ending in '/') and of
    the folders below it into `found`. Each folder is opened from its own (never through a link)
    and its files from it, so that a folder replaced by a link while it is read leads nowhere else."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        found.leave_out("folders that cannot be read")
        return
    for entry in entries:
        relative = f"{where}{entry.name}"
        if entry.is_symlink():
            found.leave_out("symbolic links (never followed)")
        elif entry.is_dir(follow_symlinks=False):
            if entry.name in IGNORED_FOLDERS or entry.name.startswith(".") or relative.count("/") >= 9:
                found.leave_out("folders not read: caches, hidden or too deep")
                continue
            try:
                inner = _open_folder(entry.name, dir_fd=folder)
            except OSError:
                found.leave_out("folders that cannot be read")
                continue
            try:
                _read_folder(found, inner, relative + "/")
            finally:
                os.close(inner)
        elif entry.name.lower().endswith((".py", ".ipynb", ".zip")):
            limit = MAX_BYTES if entry.name.endswith(".py") else MAX_NOTEBOOK_BYTES
            try:
                _take(found, relative, functools.partial(read_regular, entry.name, limit, dir_fd=folder))
            except OSError:
                found.leave_out("files that cannot be read")
        else:
            found.leave_out("files that are not .py")


def _zip_files(data: bytes) -> _Found:
    """The files of the zip archive `data`, read within the limits; a member whose name leaves
    the archive's folder, a link, or a folder left out. HandinError when it is no zip, encrypted,
    or larger than the limits once unpacked (however small its members say they are)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise HandinError("not a zip archive that can be read") from None
    if len(members) > MAX_MEMBERS:
        raise HandinError(f"a zip of more than {MAX_MEMBERS} entries")
    found = _Found({}, {}, {})
    for member in members:
        name = member.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if member.is_dir():
            continue
        if name.startswith("/") or ".." in parts or (member.external_attr >> 16) & 0o170000 == stat.S_IFLNK:
            found.leave_out("zip entries outside its folder, or links")
        elif parts and (parts[0] in IGNORED_FOLDERS or any(p.startswith(".") or p in IGNORED_FOLDERS for p in parts)):
            found.leave_out("folders not read: caches, hidden or too deep")
        elif name.lower().endswith((".py", ".ipynb", ".zip")):
            _take(found, name, functools.partial(_unpacked, archive, member))
        else:
            found.leave_out("files that are not .py")
    return found


def _unpacked(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """One member's bytes, never more than the limits whatever its header says."""
    limit = MAX_NOTEBOOK_BYTES if not member.filename.endswith(".py") else MAX_BYTES
    if member.flag_bits & 0x1:
        raise HandinError("an encrypted zip")
    try:
        with archive.open(member) as reading:
            data = reading.read(limit + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError):
        raise HandinError(f"a zip whose entry {member.filename!r} cannot be unpacked") from None
    if len(data) > limit:
        raise HandinError(f"a zip whose entry {member.filename!r} is larger than {limit // (1024 * 1024)} MB")
    return data


def _without_wrapper(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files without the one folder all of them are in (`hw2/backprop.py` → `backprop.py`),
    as a zip of a folder has them; but a folder that is a package (`cs231n/__init__.py`) stays,
    so that its modules import each other as `cs231n.layers` and relatively, as on the
    student's machine."""
    while files and all("/" in path for path in files):
        tops = {path.split("/", 1)[0] for path in files}
        if len(tops) != 1 or f"{next(iter(tops))}/__init__.py" in files:
            break
        files = {path.split("/", 1)[1]: data for path, data in files.items()}
    return files


def _without_clashes(files: dict[str, bytes], found: _Found) -> dict[str, bytes]:
    """The files but any whose path is also the folder of another's (`a.py` beside `a.py/b.py`,
    which a zip may list and no folder can hold), left out: the sandbox could not write both."""
    folders = {path.rsplit("/", i)[0] for path in files for i in range(1, path.count("/") + 1)}
    for _clash in folders & files.keys():
        found.leave_out("files whose path is also a folder's")
    return {path: data for path, data in files.items() if path not in folders}


def _from_files(form: Form, path: Path, found: _Found, file: str | None) -> Handin:
    """The Handin of a folder's or a zip's files: its module graded among its .py files, or
    its one notebook (or zip, in a folder) when it holds no .py file."""
    python = _without_clashes(_without_wrapper(found.python), found)
    if not python and len(found.others) == 1:
        ((inner, data),) = found.others.items()
        if inner.lower().endswith(".ipynb"):
            handin = _notebook(inner, data, path)
            return Handin(form, path, handin.tree, (f"graded {printable(inner)}, the notebook it holds", *handin.found))
        if form is Form.FOLDER:
            inner_found = _zip_files(data)
            handin = _from_files(Form.ZIP, path, inner_found, file)
            return Handin(form, path, handin.tree, (f"graded {printable(inner)}, the zip it holds", *handin.found))
    if not python and found.others:
        raise HandinError(f"no .py file, and more than one notebook or zip ({_listed(list(found.others))}): expected one")
    entry = _entry(python, file)
    left_out = [f"{why} ({count})" for why, count in sorted(found.left_out.items())]
    others = [p for p in python if p != entry]
    found_words = [
        f"graded {printable(entry)}"
        + (f", with the {len(others)} other .py file(s) it may import: {_listed(others)}" if others else "")
    ]
    if left_out:
        found_words.append("left out: " + "; ".join(left_out))
    tree = Tree(files=tuple(sorted(python.items())), entry=entry, label=path.name + ("/" if form is Form.FOLDER else ""))
    return Handin(form, path, tree, tuple(found_words))


def _listed(paths: list[str], shown: int = 8) -> str:
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(printable(p) for p in sorted(paths)[:shown]) + more


def printable(name: str) -> str:
    """A name from the submission (a file's, a zip entry's) as a note may show it: what is not
    printable as '?', at most 200 characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in name[:200])


#: A top-level definition of one of the protocol's functions: `def name(`, `class name`, `name =`.
_DEFINES = re.compile(
    r"^(?:def\s+|class\s+|async\s+def\s+)?(" + "|".join(map(re.escape, PROTOCOL_FUNCTIONS)) + r")\s*[(=:]", re.MULTILINE
)


def defines_protocol(source: bytes) -> bool:
    """Whether a .py file's text defines one of the protocol's functions at its top level."""
    return bool(_DEFINES.search(source.decode("utf-8", "replace")))


def _entry(python: dict[str, bytes], file: str | None) -> str:
    """The module graded among `python`'s paths (see the module's docstring); HandinError when
    there is none, or more than one could be."""
    if not python:
        raise HandinError("no .py file and no notebook found")
    if file is not None:
        named = sorted((p for p in python if p.rsplit("/", 1)[-1] == file), key=lambda p: (p.count("/"), p))
        if not named:
            raise HandinError(f"no {file} found (the file the rubric grades); found {_listed(list(python))}")
        if len(named) > 1 and named[0].count("/") == named[1].count("/"):
            raise HandinError(f"more than one {file} found: {_listed(named)}")
        return named[0]
    if len(python) == 1:
        return next(iter(python))
    candidates = sorted(p for p, data in python.items() if defines_protocol(data))
    if len(candidates) == 1:
        return candidates[0]
    which = "none defines" if not candidates else f"{len(candidates)} define ({_listed(candidates)})"
    raise HandinError(
        f"{len(python)} .py files, of which {which} one of the protocol's functions at the top level: "
        "expected exactly one (the rubric's `submission_file` names the file to grade)"
    )


# --------------------------------------------------------------------------- #
# Notebooks.
# --------------------------------------------------------------------------- #

#: A line IPython reads and Python does not: `%magic`, `!shell`, or `x = !shell` / `x = %magic`.
_IPYTHON_LINE = re.compile(r"^(\s*)(?:[A-Za-z_][A-Za-z0-9_]*\s*=\s*)?[%!](?!=)")


def _notebook(name: str, data: bytes, path: Path) -> Handin:
    """A notebook's code cells as a Tree, its IPython lines replaced; HandinError when it is not
    a Jupyter notebook (nbformat 4)."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HandinError(f"{printable(name)} is not a Jupyter notebook: its text is not JSON") from None
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
        raise HandinError(f"{printable(name)} is not a Jupyter notebook of nbformat 4 (it has no list of cells)")
    code, notes = [], []
    for number, cell in enumerate(cells, 1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise HandinError(f"{printable(name)}: cell {number}'s source is not text")
        python, note = python_of_cell(source, number)
        if note:
            notes.append(note)
        if python is not None:
            code.append(Cell(number, python))
    if not code:
        raise HandinError(f"{printable(name)} has no code cell")
    if len(notes) > NOTES_SHOWN:
        notes[NOTES_SHOWN:] = [f"and {len(notes) - NOTES_SHOWN} more cells with IPython lines not run or left out"]
    found = (f"graded the {len(code)} code cell(s) of {printable(name)}, run in order", *notes)
    return Handin(Form.NOTEBOOK, path, Tree(cells=tuple(code), label=name), found)


def python_of_cell(source: str, number: int) -> tuple[str | None, str]:
    """(the cell's Python, with each IPython line replaced by `pass` at its indent so that its
    line numbers stay; None for a cell magic's cell that is not Python) and a note of what was
    replaced or left out ("" for nothing)."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(maxsplit=1)[0] if lines[first].strip() != "%%" else ""
        if magic not in PYTHON_CELL_MAGICS:
            return None, f"cell {number} (%%{printable(magic[:40])}) is not Python: left out"
        lines[first] = ""
    replaced = 0
    for i, line in enumerate(lines):
        match = _IPYTHON_LINE.match(line)
        if match:
            lines[i] = f"{match.group(1)}pass"
            replaced += 1
    note = f"cell {number}: {replaced} IPython line(s) (% or !) not run" if replaced else ""
    return "\n".join(lines), note
