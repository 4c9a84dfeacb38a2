"""A submission of more than one file as the sandbox runs it: a student's modules with the one
graded among them (a folder, a zip), or a notebook's code cells, run in order in one module.

The grader reads what was handed in into a Tree (gradverify.grading.handin) and the sandbox
writes it into its private folder (folder.make_folder), below code/student/, which the child
finds first on its import path, so the student's modules import each other as they do on the
student's machine. A Tree holds bytes, never a path: nothing the student handed in is opened
again once it has been read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A file's path inside a Tree: '/'-separated names of letters, digits, spaces and `_-.()+,=@~`,
#: none starting with '.' or a space, ending in .py.
_PART = r"[A-Za-z0-9_()+,=@~-][A-Za-z0-9_ .()+,=@~-]{0,99}"
_PATH = re.compile(rf"(?:{_PART}/){{0,9}}{_PART}\.py")
#: A module name the child imports: dotted identifiers.
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def is_tree_path(path: str) -> bool:
    """Whether `path` may be a file's path in a Tree (relative, no '..', no hidden part, .py)."""
    return bool(_PATH.fullmatch(path)) and not any(part in (".", "..") for part in path.split("/"))


def module_of(path: str) -> str | None:
    """The module name the child imports the Tree file `path` as (`cs231n/layers.py` →
    `cs231n.layers`, `pkg/__init__.py` → `pkg`), or None when a part is not an identifier."""
    parts = path[: -len(".py")].split("/")
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    name = ".".join(parts)
    return name if _MODULE.fullmatch(name) and all(p.isidentifier() for p in parts) else None


@dataclass(frozen=True)
class Cell:
    """One code cell of a notebook: its number as Jupyter shows it to the student (1 for the
    notebook's first cell, whatever its type) and its Python source."""

    number: int
    source: str


@dataclass(frozen=True)
class Tree:
    """What the sandbox runs when a submission is not one .py file.

    files: (path, bytes) of the student's Python files, paths as is_tree_path allows.
    entry: the path among `files` of the module graded; "" for a notebook.
    cells: a notebook's code cells in order (then `files` is empty).
    label: what was handed in, as messages name it (`alice/`, `hw.zip`, `hw.ipynb`)."""

    files: tuple[tuple[str, bytes], ...] = ()
    entry: str = ""
    cells: tuple[Cell, ...] = ()
    label: str = ""

    def __post_init__(self) -> None:
        paths = [path for path, _ in self.files]
        if any(not is_tree_path(path) for path in paths) or len(set(paths)) != len(paths):
            raise ValueError("Tree: each file needs a distinct relative .py path")
        if any(path.startswith(other + "/") for path in paths for other in paths):
            raise ValueError("Tree: a file's path cannot be another's folder")
        if self.cells:
            if self.files or self.entry:
                raise ValueError("Tree: a notebook's cells come without files")
        elif self.entry not in paths:
            raise ValueError(f"Tree: the entry {self.entry!r} must be one of the files")

    @property
    def module(self) -> str | None:
        """The name the entry is imported as; None for a notebook, or when a part of its path is
        not an identifier (`backprop (1).py`: the child then loads the file as `submission`)."""
        return module_of(self.entry) if not self.cells else None
