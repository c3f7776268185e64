"""A target that changes under the profiler all the time: threads start and
end, recursion goes deep and shallow, generators and coroutines suspend and
resume, exceptions fly, modules are created, imported and deleted.  It
prints "ready" once everything runs, then runs until killed (or for the
number of seconds given as argv[1]; argv[2] is the folder for its modules)."""
import asyncio
import importlib
import os
import sys
import tempfile
import threading
import time

STOP = threading.Event()


def deep(n):
    if n <= 0:
        return sum(range(50))
    return deep(n - 1) + 1


def recurser():
    k = 0
    while not STOP.is_set():
        deep(5 + (k * 37) % 400)
        k += 1


def gen(n):
    for i in range(n):
        yield deep(i % 30)


def generators():
    while not STOP.is_set():
        for _ in gen(50):
            pass
        g = (x * 2 for x in gen(20))
        list(g)


async def co_leaf(i):
    await asyncio.sleep(0)
    return deep(i % 40)


async def co_main():
    while not STOP.is_set():
        await asyncio.gather(*(co_leaf(i) for i in range(20)))


def coroutines():
    asyncio.run(co_main())


class Boom(Exception):
    pass


def raise_at(n):
    if n == 0:
        raise Boom("deep")
    raise_at(n - 1)


def exceptions():
    k = 0
    while not STOP.is_set():
        try:
            raise_at(k % 60)
        except Boom:
            pass
        k += 1


def short_lived(n):
    deep(n % 50)
    time.sleep(0.0005 * (n % 3))


def churner():
    n = 0
    while not STOP.is_set():
        live = [threading.Thread(target=short_lived, args=(n + i,), name="churn-%d" % (n + i))
                for i in range(6)]
        for t in live:
            t.daemon = True
            t.start()
        for t in live:
            t.join()
        n += 6


def modules(folder):
    sys.path.insert(0, folder)
    k = 0
    while not STOP.is_set():
        name = "chaos_mod_%d" % (k % 8)
        with open(os.path.join(folder, name + ".py"), "w") as f:
            f.write("def f(n):\n    return n * %d\n\nVALUE = [f(i) for i in range(100)]\n" % k)
        importlib.invalidate_caches()
        mod = importlib.import_module(name)
        mod.f(k)
        del sys.modules[name]
        del mod
        k += 1


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3600.0
    folder = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="pyspy-chaos-")
    for fn in (recurser, generators, coroutines, exceptions, churner):
        threading.Thread(target=fn, name=fn.__name__, daemon=True).start()
    threading.Thread(target=modules, args=(folder,), name="modules", daemon=True).start()
    print("ready", flush=True)
    end = time.time() + seconds
    while time.time() < end:
        deep(100)
        time.sleep(0.001)
    STOP.set()


if __name__ == "__main__":
    main()
