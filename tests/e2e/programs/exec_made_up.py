"""Code compiled with made-up file names and run by exec."""
import time

import _reporter

THREAD_SRC = """
import time
import _reporter

def made_up_func():
    _reporter.ready()
    time.sleep(_reporter.FOREVER)

def made_up_caller():
    made_up_func()
"""

PATH_SRC = """
import time
import _reporter

def in_missing_dir():
    _reporter.ready()
    time.sleep(_reporter.FOREVER)
"""

MAIN_SRC = """
_reporter.ready()
time.sleep(_reporter.FOREVER)
"""

ns = {}
exec(compile(THREAD_SRC, "<made-up-file>.py", "exec"), ns)
_reporter.start_thread("made-up", ns["made_up_caller"])
ns2 = {}
exec(compile(PATH_SRC, "/nonexistent/made/up/dir/made_up.py", "exec"), ns2)
_reporter.start_thread("missing-dir", ns2["in_missing_dir"])
_reporter.start(expected=3)
exec(compile(MAIN_SRC, "<made-up-main>.py", "exec"),
     {"_reporter": _reporter, "time": time})
