"""Spins in before_exec() for a second of its own CPU time, then executes
the program given as arguments (os.execv): the same process, a new program."""
import os
import sys
import time


def before_exec():
    t = time.process_time()
    while time.process_time() - t < 1.0:
        pass


before_exec()
os.execv(sys.argv[1], sys.argv[1:])
