"""Sleeps in snooze() forever.  SIGUSR1 makes it write "got" to the file
named by its first argument (if any); SIGUSR2 reports how long it was
awake (_snooze.py).  Prints "ready <pid>" once running."""
import os
import signal
import sys
from _snooze import snooze


def on_usr1(signum, frame):
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write("got\n")


signal.signal(signal.SIGUSR1, on_usr1)
sys.stdout.write("ready %d\n" % os.getpid())
sys.stdout.flush()
snooze()
