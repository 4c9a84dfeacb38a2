"""Hostile submission (gradverify attack catalogue): an endless loop at import, deaf to SIGTERM, SIGINT and SIGHUP."""

import signal

for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, signal.SIG_IGN)

while True:
    pass
