"""Sleeps in snooze() forever.  SIGUSR1 makes it write "got" to the file
named by its first argument (if any).  Prints "ready <pid>" once running."""
import os
import signal
import sys
import time


def on_usr1(signum, frame):
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write("got\n")


def snooze():
    while True:
        time.sleep(0.5)


signal.signal(signal.SIGUSR1, on_usr1)
sys.stdout.write("ready %d\n" % os.getpid())
sys.stdout.flush()
snooze()
