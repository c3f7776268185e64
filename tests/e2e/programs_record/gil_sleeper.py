"""Sleeps in hold() inside C code that keeps the GIL (usleep called
through ctypes.PyDLL, which does not release it).  Prints "ready <pid>"
once running."""
import ctypes
import ctypes.util
import os
import sys

libc = ctypes.PyDLL(ctypes.util.find_library("c") or "libc.so.6")


def hold():
    while True:
        libc.usleep(200000)


sys.stdout.write("ready %d\n" % os.getpid())
sys.stdout.flush()
hold()
