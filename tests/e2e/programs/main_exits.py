"""The main thread ends (pthread_exit) while a thread named "survivor" keeps
running, blocked in worker_block(); the process lives on without its main
thread (Python 2.7 and 3.x)."""
import ctypes
import sys
import threading
import time


def worker_block():
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    time.sleep(300)


def worker():
    worker_block()


t = threading.Thread(target=worker, name="survivor")
t.start()
ctypes.CDLL(None).pthread_exit(None)
