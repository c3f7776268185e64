"""py-spy top end to end: the live view in a real terminal (tmux on a
private socket), its keys, the terminal given back on quit, and the plain
tables printed when stdout is a pipe.

Every expected screen is polled for up to a deadline; nothing waits a fixed
time.
"""
import os
import re
import select
import shutil
import subprocess
import time
import uuid

import pytest

# hot_ñame has the most own time, warm some; main_loop and <module> only
# total.  The non-ASCII name checks that names are drawn as UTF-8.
TARGET = """\
import sys


def hot_\u00f1ame(n):
    x = 0
    for i in range(n):
        x += i * i
    return x


def warm(n):
    x = 0
    for i in range(n):
        x += i
    return x


def main_loop():
    sys.stdout.write("ready\\n")
    sys.stdout.flush()
    while True:
        hot_\u00f1ame(60000)
        warm(12000)


main_loop()
"""

HOT = "hot_\u00f1ame"
HOT_LABEL = HOT + " ("
ROW = re.compile(r"^\s*(\d+\.\d\d)%\s+(\d+\.\d\d)%\s+(\d+\.\d\d)s\s+(\d+\.\d\d)s\s+(\S.*)$")
DEADLINE = 30.0
ENV = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


@pytest.fixture
def target(heavy_interp, tmp_path):
    """A running Python program with known hot functions."""
    heavy_interp.require()
    script = tmp_path / "top_target.py"
    script.write_text(TARGET, encoding="utf-8")
    # a relative script name keeps the header line within the window
    proc = subprocess.Popen(heavy_interp.argv + [script.name], cwd=tmp_path,
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, **ENV))
    try:
        ready, _, _ = select.select([proc.stdout], [], [], DEADLINE)
        assert ready and proc.stdout.readline() == b"ready\n", "target did not start"
        yield proc
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def rows_of(screen):
    """(column header line, [(own%, total%, own_s, total_s, label)]) of a view."""
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        if "   Function (" in line:
            rows = []
            for row in lines[i + 1:]:
                m = ROW.match(row)
                if not m:
                    break
                rows.append((float(m[1]), float(m[2]), float(m[3]), float(m[4]), m[5].rstrip()))
            return line, rows
    return None, []


def leader(screen):
    """The label of the first row, or None."""
    _, rows = rows_of(screen)
    return rows[0][4] if rows else None


def total_samples(screen):
    m = re.search(r"^Total Samples (\d+)", screen, re.M)
    return int(m[1]) if m else -1


class Tmux:
    """One tmux server on a private socket, one 120x40 window running bash."""

    def __init__(self):
        if not shutil.which("tmux"):
            pytest.skip("tmux is not installed (scripts/deps.sh installs it)")
        self.sock = f"pyspy-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.env = dict(os.environ, **ENV)
        self.env.pop("TMUX", None)
        self.socket_path = None
        self.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "40",
                  "env PS1='pyspy-test$ ' bash --norc --noprofile")
        try:
            self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()
            self.wait_for(lambda s: "pyspy-test$" in s, "the shell prompt")
        except BaseException:
            self.close()
            raise

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null"] + list(args),
                              env=self.env, capture_output=True, text=True, timeout=10,
                              check=True).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t")

    def state(self):
        """{alternate_on, cursor_flag, pane_current_command} of the pane."""
        out = self.tmux("display-message", "-p", "-t", "t",
                        "#{alternate_on} #{cursor_flag} #{pane_current_command}")
        alt, cursor, cmd = out.split(" ", 2)
        return {"alternate": alt == "1", "cursor": cursor == "1", "command": cmd.strip()}

    def type(self, text):
        self.tmux("send-keys", "-t", "t", "-l", text)
        self.tmux("send-keys", "-t", "t", "Enter")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def wait_for(self, pred, what, timeout=DEADLINE):
        end = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < end:
            screen = self.screen()
            if pred(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{screen}")

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", "kill-server"],
                       env=self.env, capture_output=True, timeout=10)
        if self.socket_path:
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass


@pytest.fixture
def tmux():
    t = Tmux()
    try:
        yield t
    finally:
        t.close()


def start_top(tmux, pyspy, pid):
    tmux.type("clear; echo BEFORE-PYSPY")
    tmux.wait_for(lambda s: "\nBEFORE-PYSPY" in "\n" + s, "the marker")
    tmux.type(f"{pyspy} top --pid {pid}; echo PYSPY-EXIT=$?")
    return tmux.wait_for(lambda s: leader(s) is not None and leader(s).startswith(HOT_LABEL),
                         "the hot function to lead")


def assert_shell_back(tmux, tmp_path):
    """After quitting: the shell is back, as it was, with a sane terminal."""
    screen = tmux.wait_for(lambda s: re.search(r"PYSPY-EXIT=\d+", s), "py-spy to exit")
    assert "PYSPY-EXIT=0" in screen, screen
    # the screen from before py-spy started is back (alternate screen left)
    assert "BEFORE-PYSPY" in screen, screen
    assert "Collecting samples" not in screen, screen
    st = tmux.state()
    assert not st["alternate"], "still on the alternate screen"
    assert st["cursor"], "the cursor is still hidden"
    # the tty modes are the shell's again: canonical, echoing, signals on
    out = tmp_path / "stty.txt"
    tmux.type(f"stty -a > {out}; echo STTY-DONE")
    tmux.wait_for(lambda s: re.search(r"^STTY-DONE", s, re.M), "stty")
    flags = out.read_text().replace(";", " ").split()
    for flag in ("icanon", "echo", "isig", "icrnl", "opost"):
        assert flag in flags and "-" + flag not in flags, flags


def test_top_terminal_view_and_keys(target, tmux, pyspy, tmp_path):
    screen = start_top(tmux, pyspy, target.pid)
    st = tmux.state()
    assert st["alternate"], "top draws on the alternate screen"

    # header
    assert re.search(r"^Collecting samples from '.*top_target\.py' \(python v\d+\.\d+\.\d+\)",
                     screen, re.M), screen
    assert total_samples(screen) > 0, screen
    m = re.search(r"^GIL: (\d+\.\d\d)%, Active: (\d+\.\d\d)%, Threads: (\d+)", screen, re.M)
    assert m and float(m[2]) > 50 and int(m[3]) == 1, screen

    # the hot function leads by own time, drawn as UTF-8, and the view
    # refreshes (the sample count moves on)
    header, rows = rows_of(screen)
    assert "\u25bcOwnTime" in header, header
    assert rows[0][0] > 40.0, screen
    first = total_samples(screen)
    screen = tmux.wait_for(lambda s: total_samples(s) > first and
                           any(r[4].startswith("warm (") for r in rows_of(s)[1]),
                           "the view to refresh and show warm")
    assert leader(screen).startswith(HOT_LABEL), screen

    # 4: by total time: an outer function leads, the header marks it
    tmux.keys("4")
    screen = tmux.wait_for(lambda s: "\u25bcTotalTime" in s, "the TotalTime sort mark")
    screen = tmux.wait_for(lambda s: leader(s) and re.match(r"(main_loop|<module>) \(", leader(s)),
                           "an outer function to lead by total time")
    assert rows_of(screen)[1][0][1] > 90.0, screen

    # 3: back to own time
    tmux.keys("3")
    tmux.wait_for(lambda s: "\u25bcOwnTime" in s and leader(s) and leader(s).startswith(HOT_LABEL),
                  "the hot function to lead by own time again")

    # L: per line
    tmux.keys("L")
    screen = tmux.wait_for(lambda s: "Function (filename:line)" in s and
                           re.match(re.escape(HOT) + r" \(top_target\.py:\d+\)$", leader(s) or ""),
                           "line numbers")
    tmux.keys("L")
    tmux.wait_for(lambda s: "Function (filename)" in s and
                  re.match(re.escape(HOT) + r" \(top_target\.py\)$", leader(s) or ""),
                  "per function again")

    # ?: help, any key closes it
    tmux.keys("?")
    tmux.wait_for(lambda s: "py-spy top: keys" in s, "the help")
    tmux.keys("x")
    tmux.wait_for(lambda s: "py-spy top: keys" not in s, "the help to close")

    # q quits and gives the terminal back
    tmux.keys("q")
    assert_shell_back(tmux, tmp_path)


def first_line(screen):
    return screen.splitlines()[0] if screen else ""


def test_top_resize_and_control_c(target, tmux, pyspy, tmp_path):
    start_top(tmux, pyspy, target.pid)
    # narrower: the view is laid out again within 50 columns
    tmux.tmux("resize-window", "-t", "t", "-x", "50", "-y", "30")
    tmux.wait_for(lambda s: len(s.splitlines()) == 30 and "(python v" not in first_line(s) and
                  first_line(s).startswith("Collecting samples from") and
                  (leader(s) or "").startswith(HOT_LABEL), "the view at 50 columns")
    # wider again: the whole header line comes back, which only a redraw
    # at the new size can do
    tmux.tmux("resize-window", "-t", "t", "-x", "120", "-y", "40")
    tmux.wait_for(lambda s: re.search(r"\(python v\d+\.\d+\.\d+\)$", first_line(s).rstrip()) and
                  (leader(s) or "").startswith(HOT_LABEL), "the view at 120 columns")
    # Control-C arrives as a key in raw mode and quits like q
    tmux.keys("C-c")
    assert_shell_back(tmux, tmp_path)


def test_top_dumb_terminal_prints_tables(target, tmux, pyspy):
    # a terminal that cannot move the cursor gets the plain tables
    tmux.type(f"TERM=dumb {pyspy} top --pid {target.pid} --delay 0.5; echo PYSPY-EXIT=$?")
    screen = tmux.wait_for(lambda s: s.count("Total Samples") >= 2, "two plain tables")
    assert not tmux.state()["alternate"], screen
    assert "Press ? for help" not in screen, screen
    tmux.keys("C-c")
    screen = tmux.wait_for(lambda s: re.search(r"PYSPY-EXIT=\d+", s), "py-spy to exit")
    assert "PYSPY-EXIT=0" in screen, screen


def test_top_target_exit_keeps_view(target, tmux, pyspy, tmp_path):
    start_top(tmux, pyspy, target.pid)
    target.kill()
    target.wait()
    screen = tmux.wait_for(lambda s: "press any key to quit" in s, "the exit line")
    assert re.search(r"process exited .* press any key to quit", screen), screen
    # the last view stays
    assert (leader(screen) or "").startswith(HOT_LABEL), screen
    assert tmux.state()["alternate"]
    tmux.keys("x")
    assert_shell_back(tmux, tmp_path)


def read_until(proc, pred, timeout=DEADLINE):
    """Read proc's stdout until pred(text) or EOF or the deadline."""
    end = time.monotonic() + timeout
    out = b""
    fd = proc.stdout.fileno()
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
            if pred(out.decode("utf-8", "replace")):
                break
    return out.decode("utf-8", "replace"), out


def tables_of(text):
    return [t for t in text.split("Collecting samples from ")[1:]]


def test_top_piped_prints_tables(target, pyspy):
    # `py-spy top ... | cat`: plain tables, no escape codes
    cmd = f"set -o pipefail; '{pyspy}' top --pid {target.pid} --delay 0.5 | cat"
    proc = subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=dict(os.environ, **ENV))
    try:
        def enough(text):
            done = [t for t in tables_of(text) if t.count("\n\n") >= 2]
            return len(done) >= 3 and leader(done[-1]) and leader(done[-1]).startswith(HOT_LABEL)

        t0 = time.monotonic()
        text, raw = read_until(proc, enough)
        assert enough(text), text
        # refreshes every --delay, not faster
        assert time.monotonic() - t0 >= 0.9
        assert b"\x1b" not in raw
        table = [t for t in tables_of(text) if t.count("\n\n") >= 2][-1]
        assert re.match(r"'.*top_target\.py' \(python v\d+\.\d+\.\d+\)\n", table), table
        assert re.search(r"^Total Samples \d+\n", table, re.M), table
        assert re.search(r"^GIL: \d+\.\d\d%, Active: \d+\.\d\d%, Threads: 1\n", table, re.M), table
        header, rows = rows_of(table)
        assert header.split() == ["%Own", "%Total", "\u25bcOwnTime", "TotalTime", "Function",
                                  "(filename)"], header
        assert [r[4] for r in rows if r[4].startswith("warm (")], table
        # own percentages of one window add up to at most 100% (one thread)
        assert sum(r[0] for r in rows) <= 100.5, table

        # the target ends: the last table, then py-spy exits 0
        target.kill()
        target.wait()
        rest, _ = read_until(proc, lambda t: False)
        proc.wait(timeout=DEADLINE)
        assert proc.returncode == 0, proc.stderr.read().decode()
        assert tables_of(rest), "no table after the target exited"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
