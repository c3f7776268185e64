"""Three threads: the main one sleeps in snooze(); one hashes in
hash_loop(), in C code that has let go of the GIL; one waits for a lock in
wait_loop().  Prints "ready <pid>" once running."""
import hashlib
import os
import sys
import threading
import time

DATA = b"x" * (1 << 20)
never = threading.Lock()
never.acquire()


def hash_loop():
    while True:
        hashlib.sha256(DATA).digest()


def wait_loop():
    while True:
        never.acquire()


def snooze():
    while True:
        time.sleep(0.5)


for target in (hash_loop, wait_loop):
    t = threading.Thread(target=target)
    t.daemon = True
    t.start()
sys.stdout.write("ready %d\n" % os.getpid())
sys.stdout.flush()
snooze()
