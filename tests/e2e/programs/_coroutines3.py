"""The async code of coroutines.py (Python 3.5+ syntax)."""
import asyncio
import sys
import time

import _reporter


async def leaf():
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


async def middle():
    await leaf()


async def top():
    await middle()


async def sent_leaf():
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


async def sent_top():
    await sent_leaf()


def drive_by_send():
    coro = sent_top()
    coro.send(None)


def gen_leaf():
    yield 1
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


def gen_middle():
    result = yield from gen_leaf()
    return result


def yield_from_chain():
    for _ in gen_middle():
        pass


def async_gen_thread():
    # Async generators are 3.6+ syntax: compiled here so this file parses
    # on 3.5.
    src = (
        "async def agen():\n"
        "    yield 1\n"
        "    _reporter.ready()\n"
        "    time.sleep(_reporter.FOREVER)\n"
        "    yield 2\n"
        "\n"
        "async def consume_agen():\n"
        "    async for _ in agen():\n"
        "        pass\n"
    )
    ns = {"_reporter": _reporter, "time": time}
    exec(compile(src, __file__ + ".agen", "exec"), ns)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(ns["consume_agen"]())


def main():
    _reporter.start_thread("coro-send", drive_by_send)
    _reporter.start_thread("yield-from", yield_from_chain)
    expected = 3
    if sys.version_info >= (3, 6):
        _reporter.start_thread("async-gen", async_gen_thread)
        expected += 1
    _reporter.start(expected=expected)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(top())
