"""Three threads: the main one sleeps in snooze(); one hashes in
hash_loop(), in C code that has let go of the GIL; one waits for a lock in
wait_loop().  SIGUSR2 reports how long the main thread was awake
(_snooze.py).  Prints "ready <pid>" once running."""
import hashlib
import os
import sys
import threading
from _snooze import snooze

DATA = b"x" * (1 << 20)
never = threading.Lock()
never.acquire()


def hash_loop():
    while True:
        hashlib.sha256(DATA).digest()


def wait_loop():
    while True:
        never.acquire()


for target in (hash_loop, wait_loop):
    t = threading.Thread(target=target)
    t.daemon = True
    t.start()
sys.stdout.write("ready %d\n" % os.getpid())
sys.stdout.flush()
snooze()
