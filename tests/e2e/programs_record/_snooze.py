"""snooze(): the main thread sleeps in time.sleep(0.5) forever, and keeps
count of the time it is awake: from when a sleep was due to end until the
next one starts (waking up, waiting for a CPU or the GIL, the loop).

SIGUSR2 writes {"awake": s, "elapsed": s, "seq": n} (seconds awake and
seconds since this module was imported, at the signal; n counts the requests) as JSON
to the file named by the environment variable SNOOZE_REPORT, if set.  The
signal interrupts the sleep, so a test asks only outside its recordings.
"""
import json
import os
import signal
import time

clock = time.monotonic
# Counted from the import on: the program is awake until its first sleep.
_state = {"start": clock(), "asleep": 0.0, "since": None, "seq": 0}


def _on_usr2(signum, frame):
    now = clock()
    st = _state
    asleep = st["asleep"]
    if st["since"] is not None:
        asleep += min(now - st["since"], 0.5)
    st["seq"] += 1
    path = os.environ.get("SNOOZE_REPORT")
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"awake": now - st["start"] - asleep, "elapsed": now - st["start"],
                       "seq": st["seq"]}, f)
        os.rename(tmp, path)


signal.signal(signal.SIGUSR2, _on_usr2)


def snooze():
    st = _state
    while True:
        st["since"] = t = clock()
        time.sleep(0.5)
        st["since"] = None
        st["asleep"] += min(clock() - t, 0.5)
