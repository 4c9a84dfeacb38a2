"""Writing reports: atomically, so an interrupted run never leaves half a file; a report's
pictures beside it, written before it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def write_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` through a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a report is as readable as any new file
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_with_pictures(path: str | os.PathLike, render: Callable[[Any], str],
                        pictures: Callable[[], list] | None) -> Path:
    """The report `render(drawn)` at `path`, its `pictures()` drawn and written beside it first
    (gradverify.plots.draw and write_report: one that cannot be drawn is said on stderr and left
    out). With `pictures` None, `render(None)` alone, and gradverify.plots is never imported."""
    if pictures is None:
        return write_atomic(path, render(None))
    from gradverify import plots

    drawn = plots.draw(pictures(), path)
    return plots.write_report(path, render(drawn), drawn)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
