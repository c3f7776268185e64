"""Names a program gives its code reach the reader escaped: `py-spy dump`
of a real program whose function is named with U+202E (right-to-left
override) and U+2028 (line separator) and whose file name holds U+2029 and
an escape character shows them as \\uNNNN / \\xNN on the terminal, as JSON
escapes with --json (that decode back to the very names), and as '?' in a
flamegraph's and a collapsed file's labels."""
import json
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYSPY = ROOT / "build" / "py-spy"
DEBIAN_PY = "/usr/bin/python3.11"
NAME = "evil\u202ename\u2028x"
FILE = "fi\u2029le\x1b[31m.py"
PROG = f"""
import sys, time
src = "def work():\\n    sys.stdout.write('ready\\\\n')\\n    sys.stdout.flush()\\n    t = time.time()\\n    while time.time() - t < 300:\\n        pass\\n"
ns = {{"sys": sys, "time": time}}
exec(compile(src, {FILE!r}, "exec"), ns)
f = ns["work"]
f.__code__ = f.__code__.replace(co_name={NAME!r})
f()
"""
RAW = ["\u202e", "\u2028", "\u2029", "\x1b"]


def start():
    p = subprocess.Popen([DEBIAN_PY, "-c", PROG], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def test_dump_text_and_json_escape_what_reorders_text(pyspy):
    p = start()
    try:
        text = subprocess.run([str(PYSPY), "dump", "--pid", str(p.pid)], capture_output=True,
                              text=True, timeout=60)
        js = subprocess.run([str(PYSPY), "dump", "--json", "--pid", str(p.pid)],
                            capture_output=True, text=True, timeout=60)
    finally:
        p.kill()
        p.wait()
    assert text.returncode == 0, text.stderr
    assert "evil\\u202ename\\u2028x (fi\\u2029le\\x1b[31m.py:5)" in text.stdout, text.stdout
    assert js.returncode == 0, js.stderr
    for raw in RAW:
        assert raw not in text.stdout and raw not in js.stdout
    frames = [f for t in json.loads(js.stdout) for f in t["frames"]]
    assert any(f["name"] == NAME and f["filename"] == FILE for f in frames), frames


def test_record_labels_replace_what_reorders_text(pyspy, tmp_path):
    p = start()
    svg, raw = tmp_path / "p.svg", tmp_path / "p.txt"
    try:
        r = subprocess.run([str(PYSPY), "record", "-d", "1", "-r", "50", "-o", svg,
                            "-o", f"raw:{raw}", "--pid", str(p.pid)],
                           capture_output=True, text=True, timeout=60)
    finally:
        p.kill()
        p.wait()
    assert r.returncode == 0, r.stderr
    collapsed, picture = raw.read_text(), svg.read_text()
    assert "evil?name?x (fi?le?[31m.py:5)" in collapsed, collapsed
    assert "evil?name?x (fi?le?[31m.py:5)" in picture
    for raw_char in RAW:
        assert raw_char not in collapsed and raw_char not in picture
