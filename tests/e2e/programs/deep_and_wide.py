"""Many threads, or one very deep stack: `deep_and_wide.py DEPTH NTHREADS`
starts NTHREADS threads waiting in idle_thread(), then a thread named
"deep" recurses DEPTH frames deep (deep() DEPTH - 1 times under
deep_root()) and blocks in deep()."""
import sys
import threading
import time

DEPTH = int(sys.argv[1])
NTHREADS = int(sys.argv[2])
started = threading.Semaphore(0)
done = threading.Event()


def idle_thread():
    started.release()
    done.wait()


def deep(n):
    if n > 1:
        return deep(n - 1)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    time.sleep(300)


def deep_root():
    deep(DEPTH - 1)


sys.setrecursionlimit(DEPTH + 100)
threading.stack_size(256 * 1024)
for _ in range(NTHREADS):
    threading.Thread(target=idle_thread).start()
for _ in range(NTHREADS):
    started.acquire()
# frames <= 3.10 take C stack too: the deep thread gets plenty
threading.stack_size(min(DEPTH * 1024 + (1 << 20), 1 << 30))
threading.Thread(target=deep_root, name="deep").start()
