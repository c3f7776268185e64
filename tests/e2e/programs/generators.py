"""Generators that block inside: a chain of generators, a generator driven
by send(), and the main thread in a generator expression."""
import time

import _reporter


def gen_block():
    yield 1
    _reporter.ready()
    time.sleep(_reporter.FOREVER)
    yield 2


def gen_outer():
    for x in gen_block():
        yield x


def consume():
    for x in gen_outer():
        pass


def echo():
    value = yield
    while True:
        if value == "block":
            _reporter.ready()
            time.sleep(_reporter.FOREVER)
        value = yield value


def driver():
    g = echo()
    next(g)
    g.send("hello")
    g.send("block")


def item(x):
    if x == 1:
        _reporter.ready()
        time.sleep(_reporter.FOREVER)
    return x


def main():
    _reporter.start_thread("generator", consume)
    _reporter.start_thread("send", driver)
    _reporter.start(expected=3)
    return sum(item(x) for x in range(3))


if __name__ == "__main__":
    main()
