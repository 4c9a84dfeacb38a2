"""The canary: a tiny trusted submission, run in the chosen sandbox before the first student's.

A sandbox that cannot start, or cannot import NumPy, gives every submission 0 and blames the
student ("could not be loaded"). So before any submission is graded, `prove` runs CANARY in a
Sandbox exactly as a submission would run (the same mode, the rubric's packages, the memory
limit): it must import NumPy and each allowed package, and return a known answer computed with
NumPy, from the grader's own NumPy version. If it does not, `prove` raises SandboxBroken, which
says why (with the last line the canary printed, such as ``ModuleNotFoundError: No module
named 'numpy'``): the grader stops before any student is graded (the CLI exits 2).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

from .engine import SandboxUnavailable

#: The canary's source: NumPy at the top, like a submission; the allowed packages when called.
CANARY = '''"""gradverify's canary: proves that the sandbox runs NumPy."""
import importlib

import numpy as np


def canary(x, packages):
    failed = []
    for name in packages:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    return float(np.dot(x, x)), np.__version__, failed
'''
#: What the canary is asked, and the answer it must give: 0² + 1² + 2² + 3².
QUESTION, ANSWER = [0.0, 1.0, 2.0, 3.0], 14.0


class SandboxBroken(SandboxUnavailable):
    """The sandbox starts no submission correctly here; the message says why."""


def _failure(packages: Sequence[str], memory_mb: int, unsafe: bool, timeout: float) -> str | None:
    """Why the canary did not give its answer, or None when it did."""
    import numpy as np

    from .errors import SubmissionCallError, SubmissionLoadError
    from .host import Sandbox

    with tempfile.TemporaryDirectory(prefix="gradverify-canary-") as folder:
        path = Path(folder) / "canary.py"
        path.write_text(CANARY, encoding="utf-8")
        box = Sandbox(path, call_timeout=timeout, import_timeout=timeout, memory_mb=memory_mb, unsafe=unsafe, packages=packages)
        try:
            box.start()
            answer, version, failed = box.module.canary(np.array(QUESTION), list(packages))
        except (SubmissionLoadError, SubmissionCallError) as exc:
            printed = [line for line in box.output().splitlines() if line.strip()]
            return f"{exc}" + (f" ({printed[-1].strip()[:300]})" if printed else "")
        except (TypeError, ValueError):
            return "it gave a malformed answer"
        finally:
            box.close()
    if failed:
        return f"the packages the rubric allows cannot be imported in it: {'; '.join(failed)}"
    if version != np.__version__:
        return f"it runs NumPy {version}, the grader NumPy {np.__version__}"
    if answer != ANSWER:
        return f"NumPy computed {answer!r} for a sum of squares that is {ANSWER:g}"
    return None


def prove(*, packages: Sequence[str] = (), memory_mb: int = 2048, unsafe: bool = False, timeout: float = 30.0) -> None:
    """Run the canary in the sandbox the next grade will use (engine.choose); SandboxBroken when
    it does not start, import NumPy and `packages`, or answer right (SandboxUnavailable when no
    sandbox can be chosen here)."""
    why = _failure(tuple(packages), memory_mb, unsafe, timeout)
    if why is not None:
        raise SandboxBroken(
            f"the sandbox does not work here, so no submission was graded: a trusted canary "
            f'submission {why}. See docs/security.md ("The canary").'
        )
