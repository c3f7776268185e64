"""Threads blocked in every kind of blocking call: lock.acquire, select,
poll, a socket recv, a pipe read, Condition.wait, Queue.get, join."""
import os
import select
import socket
import threading
import time

try:
    import queue
except ImportError:  # Python 2.7
    import Queue as queue

import _reporter

held = threading.Lock()
held.acquire()


def on_lock():
    _reporter.ready()
    held.acquire()


def on_select():
    r, w = os.pipe()
    _reporter.ready()
    select.select([r], [], [])


def on_poll():
    r, w = os.pipe()
    p = select.poll()
    p.register(r, select.POLLIN)
    _reporter.ready()
    p.poll()


def on_recv():
    a, b = socket.socketpair()
    _reporter.ready()
    a.recv(16)


def on_read():
    r, w = os.pipe()
    _reporter.ready()
    os.read(r, 1)


def on_condition():
    cond = threading.Condition()
    with cond:
        _reporter.ready()
        cond.wait()


def on_queue():
    q = queue.Queue()
    _reporter.ready()
    q.get()


def on_join(other):
    _reporter.ready()
    other.join()


def main():
    _reporter.start_thread("lock", on_lock)
    _reporter.start_thread("select", on_select)
    _reporter.start_thread("poll", on_poll)
    _reporter.start_thread("recv", on_recv)
    _reporter.start_thread("read", on_read)
    _reporter.start_thread("condition", on_condition)
    queued = _reporter.start_thread("queue", on_queue)
    _reporter.start_thread("join", on_join, queued)
    _reporter.start(expected=9)
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


if __name__ == "__main__":
    main()
