"""The record outputs (collapsed, flamegraph, speedscope) at scale and
against real programs.

The scale tests feed the modules without the sampler, through the
tests/helpers/feed_output driver: 100,000 unique synthetic stacks of two
threads, then check every output against what the input says it must hold.
The last tests run the real `py-spy record` on a Python program.
"""
import json
import os
import pathlib
import random
import resource
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import PYSPY, run_pyspy  # noqa: E402

BUILD = ROOT / "build"
FEED = BUILD / "tests" / "helpers" / "feed_output"
SVG_NS = "{http://www.w3.org/2000/svg}"
US = "\x1f"  # separates name, file and line of a frame in feed_output's input


def module(name):
    path = BUILD / "modules" / "outputs" / f"{name}.so"
    if not path.exists():
        pytest.fail(f"{path} is not built: run make")
    if not FEED.exists():
        pytest.fail(f"{FEED} is not built: run make unit")
    return path


def write_input(path, stacks):
    """feed_output's input: one line per stack, see tests/helpers/feed_output.c."""
    with open(path, "wb") as f:
        for pid, tid, count, tname, frames in stacks:
            fields = [str(pid), str(tid), str(count), tname or "-"]
            for fr in frames:
                if isinstance(fr, str):          # "!name": a thread pseudo-frame
                    fields.append(fr)
                else:                            # (name, file, line[, first line])
                    fields.append(US.join(str(x) for x in fr))
            f.write("\t".join(fields).encode("utf-8", "surrogateescape") + b"\n")
    return path


def feed(name, out, stacks, *args, timeout=120):
    """Feed stacks [(pid, tid, count, thread_name, [(name, file, line)...root first])]
    (or the path of an input already written) to module name, writing out;
    returns (CPU seconds of the driver, CompletedProcess)."""
    if isinstance(stacks, pathlib.Path):
        inp = stacks
    else:
        inp = write_input(out.with_suffix(".in"), stacks)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([str(FEED), *args, str(module(name)), str(out), str(inp)],
                          capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds, not wall time: other work on the machine does not count
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc


def big_input(n=100_000, seed=1):
    """n unique stacks (the leaf names are unique), two threads, 1-3 samples each."""
    rng = random.Random(seed)
    stacks = []
    for i in range(n):
        depth = 2 + i % 10
        frames = [("<module>", "/app/main.py", 9)]
        for _ in range(depth - 2):
            j = rng.randrange(40)
            frames.append((f"fn_{j}", f"/app/pkg{j % 5}/m{j % 8}.py", 3 * j + 1))
        frames.append((f"leaf_{i}", "/app/leaves.py", i % 1000 + 1))
        tid = 1001 + i % 2
        stacks.append((55, tid, 1 + i % 3, "MainThread" if tid == 1001 else "worker", frames))
    return stacks


def label(fr):
    name, file, line = fr
    return f"{name} ({os.path.basename(file)}:{line})"


@pytest.fixture(scope="module")
def big():
    return big_input()


@pytest.fixture(scope="module")
def big_in(big, tmp_path_factory):
    return write_input(tmp_path_factory.mktemp("big") / "big.in", big)


def test_collapsed_100k_unique_stacks(tmp_path, big, big_in):
    out = tmp_path / "out.txt"
    secs, proc = feed("collapsed", out, big_in, "-l")
    assert proc.returncode == 0, proc.stderr
    want = {}
    for _, _, count, _, frames in big:
        key = ";".join(label(f) for f in frames)
        want[key] = want.get(key, 0) + count
    got = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        assert stack and count.isdigit(), line
        assert stack not in got, f"stack written twice: {stack}"
        got[stack] = int(count)
    assert got == want
    assert secs < 10, f"collapsed took {secs:.1f} CPU seconds for 100,000 stacks"


def test_collapsed_merges_by_function_without_lines(tmp_path):
    stacks = [(1, 7, 2, None, [("main", "/a/x.py", 1), ("f", "/a/y.py", 3)]),
              (1, 7, 5, None, [("main", "/a/x.py", 1), ("f", "/a/y.py", 4)]),
              (1, 8, 1, None, ["!thread (8)", ("g;h\x01", "/a/y.py", 4)])]
    out = tmp_path / "out.txt"
    _, proc = feed("collapsed", out, stacks, "-f")
    assert proc.returncode == 0, proc.stderr
    assert sorted(out.read_text().splitlines()) == [
        "main (/a/x.py);f (/a/y.py) 7",
        "thread (8);g:h? (/a/y.py) 1",
    ]


def test_collapsed_epipe_is_quiet(tmp_path):
    """A reader that went away: the module reports EPIPE (helper exit 3)."""
    stacks = [(1, 7, 1, None, [("main", "/a/x.py", 1), (f"f{i}", "/a/y.py", i)])
              for i in range(20000)]
    inp = write_input(tmp_path / "all.in", stacks)
    reader = subprocess.Popen(["head", "-c", "10"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL)
    # feed_output inherits SIGPIPE ignored from this wrapper: write errors are EPIPE
    proc = subprocess.run(["sh", "-c", 'trap "" PIPE; exec "$0" "$@"', str(FEED),
                           str(module("collapsed")), "-", str(inp)],
                          stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=60)
    reader.stdin.close()
    reader.wait()
    assert proc.returncode == 3, proc.stderr
    assert "broken pipe" in proc.stderr


def frames_of(root):
    """(title, x, y, width) of every frame <g> of a flamegraph."""
    box = root.find(f".//{SVG_NS}g[@id='frames']")
    assert box is not None
    out = []
    for g in box.findall(f"{SVG_NS}g"):
        title = g.find(f"{SVG_NS}title")
        rect = g.find(f"{SVG_NS}rect")
        assert title is not None and rect is not None and g.find(f"{SVG_NS}text") is not None
        out.append((title.text, float(rect.get("x")), float(rect.get("y")),
                    float(rect.get("width"))))
    return out


def check_xmllint(path):
    if shutil.which("xmllint"):
        proc = subprocess.run(["xmllint", "--noout", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_flamegraph_100k_unique_stacks(tmp_path, big, big_in):
    out = tmp_path / "out.svg"
    secs, proc = feed("flamegraph", out, big_in, "-l", "-T", "py-spy record -o out.svg")
    assert proc.returncode == 0, proc.stderr
    assert secs < 10, f"flamegraph took {secs:.1f} CPU seconds for 100,000 stacks"
    size = out.stat().st_size
    assert size < 20 * 1024 * 1024, f"flamegraph of {size} bytes"
    check_xmllint(out)
    text = out.read_text(encoding="utf-8")
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("width") == "1200"
    # the viewer: one delegated handler, no per-frame handlers
    script = root.find(f"{SVG_NS}script").text
    for needle in ("Matched: ", "prompt(", "function zoom", "function unzoom", "keydown"):
        assert needle in script
    assert script.count('box.addEventListener("click"') == 1
    assert "onclick" not in text and "onmouseover" not in text
    assert root.find(f".//{SVG_NS}text[@id='reset']").text == "Reset Zoom"
    assert root.find(f".//{SVG_NS}text[@id='search']").text == "Search"
    assert root.find(f".//{SVG_NS}text[@id='title']").text == "py-spy record -o out.svg"

    total = sum(s[2] for s in big)
    frames = frames_of(root)
    assert frames[0][0] == f"all ({total} samples, 100.00%)"
    assert 100 < len(frames) < 60000
    # every drawn frame is at least min_width (0.1 px) and lies inside
    # a frame of the row above
    rows = {}
    for title, x, y, w in frames:
        assert w >= 0.09, title
        rows.setdefault(y, []).append((x, x + w))
    ys = sorted(rows)
    for above, below in zip(ys, ys[1:]):
        spans = sorted(rows[above])
        for x0, x1 in rows[below]:
            assert any(a - 1e-6 <= x0 and x1 <= b + 1e-6 for a, b in spans), (below, x0, x1)
    # counts of the second row (children of <module>) match the input
    want = {}
    for _, _, count, _, fr in big:
        if len(fr) > 1:
            want[label(fr[1])] = want.get(label(fr[1]), 0) + count
    row2 = [t for t, x, y, w in frames if y == ys[2]]
    assert row2
    for t in row2:
        name, _, rest = t.rpartition(" (")
        n = int(rest.split(" ")[0])
        assert want[name] == n, t
    # the unique leaves are far narrower than 0.1 px: none is drawn
    assert not any(t.startswith("leaf_") for t, *_ in frames)


def test_flamegraph_escapes_every_name(tmp_path):
    names = ["<lambda>", "a&b", 'q"uote', "it's", "ctl\x01\x1b\x7f", "\u043f\u0440\u0438\u0432\u0435\u0442",
             "\U0001f40d snake", "bad\udcff\udcfebytes", "]]>", "nul\u2028sep", "fffe\ufffe"]
    stacks = [(1, 9, 3, "Main", [("<module>", "/w/<odd>&.py", 1), (n, "/w/f'\".py", i + 1)])
              for i, n in enumerate(names)]
    out = tmp_path / "esc.svg"
    _, proc = feed("flamegraph", out, stacks, "-l", "-T", "title <&\"'> \x02")
    assert proc.returncode == 0, proc.stderr
    check_xmllint(out)
    root = ET.parse(out).getroot()
    titles = [t for t, *_ in frames_of(root)]
    assert titles[0] == f"all ({3 * len(names)} samples, 100.00%)"
    assert "<module> (<odd>&.py:1) (33 samples, 100.00%)" in titles
    assert "<lambda> (f'\".py:1) (3 samples, 9.09%)" in titles
    assert "bad\ufffd\ufffdbytes (f'\".py:8) (3 samples, 9.09%)" in titles
    assert "ctl??? (f'\".py:5) (3 samples, 9.09%)" in titles
    assert "fffe\ufffd (f'\".py:11) (3 samples, 9.09%)" in titles
    assert root.find(f".//{SVG_NS}text[@id='title']").text == "title <&\"'> ?"


def test_flamegraph_options_from_plugins_ini(tmp_path):
    stacks = [(1, 9, 50, None, [("main", "/m.py", 1), ("big", "/m.py", 2)]),
              (1, 9, 1, None, [("main", "/m.py", 1), ("small", "/m.py", 3)])]
    out = tmp_path / "o.svg"
    _, proc = feed("flamegraph", out, stacks, "-o", "width=800", "-o", "min_width=5%",
                   "-o", "colors=blue", "-o", "title=custom")
    assert proc.returncode == 0, proc.stderr
    root = ET.parse(out).getroot()
    assert root.get("width") == "800"
    assert root.find(f".//{SVG_NS}text[@id='title']").text == "custom"
    titles = [t for t, *_ in frames_of(root)]
    assert any(t.startswith("big (m.py)") for t in titles)
    assert not any(t.startswith("small") for t in titles)   # 1/51 of 780 px < 5%
    box = root.find(f".//{SVG_NS}g[@id='frames']")
    fills = [g.find(f"{SVG_NS}rect").get("fill") for g in box.findall(f"{SVG_NS}g")][1:]
    for fill in fills:
        r, g, b = map(int, fill[4:-1].split(","))
        assert b >= 205 and r < 150, fill
    _, proc = feed("flamegraph", out, stacks, "-o", "colors=plaid")
    assert proc.returncode == 1 and "plaid" in proc.stderr


# The parts of speedscope's file-format schema this exporter uses.
def check_speedscope_schema(doc):
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert isinstance(doc["shared"], dict)
    frames = doc["shared"]["frames"]
    assert isinstance(frames, list)
    for fr in frames:
        assert isinstance(fr["name"], str)
        assert isinstance(fr.get("file", ""), str)
        assert set(fr) <= {"name", "file", "line", "col"}
        assert isinstance(fr.get("line", 0), int) and isinstance(fr.get("col", 0), int)
    assert isinstance(doc["profiles"], list)
    for p in doc["profiles"]:
        assert p["type"] == "sampled"
        assert isinstance(p["name"], str)
        assert p["unit"] in ("none", "nanoseconds", "microseconds", "milliseconds", "seconds",
                             "bytes")
        assert isinstance(p["startValue"], (int, float))
        assert isinstance(p["endValue"], (int, float))
        assert len(p["samples"]) == len(p["weights"])
        for s in p["samples"]:
            assert all(isinstance(i, int) and 0 <= i < len(frames) for i in s)
        assert all(isinstance(w, (int, float)) for w in p["weights"])
    assert doc["activeProfileIndex"] is None or isinstance(doc["activeProfileIndex"], int)
    assert isinstance(doc["name"], str)
    assert doc["exporter"].startswith("py-spy@")


def test_speedscope_100k_unique_stacks(tmp_path, big, big_in):
    out = tmp_path / "out.json"
    secs, proc = feed("speedscope", out, big_in, "-l", "-r", "250")
    assert proc.returncode == 0, proc.stderr
    assert secs < 10, f"speedscope took {secs:.1f} CPU seconds for 100,000 stacks"
    doc = json.loads(out.read_text(encoding="utf-8"))
    check_speedscope_schema(doc)
    assert doc["name"] == "py-spy profile"
    frames = doc["shared"]["frames"]
    names = [p["name"] for p in doc["profiles"]]
    assert names == ['Thread 1001 "MainThread"', 'Thread 1002 "worker"']
    # compare stacks as tuples of frame keys, each distinct stack built once
    key = [(f["name"], f["file"], f.get("line")) for f in frames]
    for p, tid in zip(doc["profiles"], (1001, 1002)):
        want = []
        for _, t, count, _, fr in big:
            if t == tid:
                want += [tuple(fr)] * count
        got = [tuple(key[i] for i in s) for s in p["samples"]]
        assert got == want          # every sample, in the order it was taken
        assert p["weights"] == [0.004] * len(want)
        assert p["startValue"] == 0
        assert abs(p["endValue"] - len(want) / 250) < 1e-6
    assert len({(f["name"], f.get("file"), f.get("line")) for f in frames}) == len(frames)


def test_speedscope_escapes(tmp_path):
    stacks = [(3, 1, 1, 'th"r\\ead\x01', [("ctl\x01\x02", "/p/q\"\\.py", 2),
                                         ("bad\udcffx", "/p/\u00e9.py", 0)])]
    out = tmp_path / "e.json"
    _, proc = feed("speedscope", out, stacks, "-l")
    assert proc.returncode == 0, proc.stderr
    raw = out.read_bytes()
    assert b"\\u0001" in raw and b"\\u0002" in raw
    doc = json.loads(raw.decode("utf-8"))
    check_speedscope_schema(doc)
    fr = doc["shared"]["frames"]
    assert fr[0] == {"name": "ctl\x01\x02", "file": '/p/q"\\.py', "line": 2}
    assert fr[1] == {"name": "bad\ufffdx", "file": "/p/\u00e9.py"}
    assert doc["profiles"][0]["name"] == 'Thread 1 "th"r\\ead\x01"'


# --- the real py-spy record --------------------------------------------------

PROGRAM = r"""
import sys, time
def spy_inner_busy_loop(n):
    total = 0
    for i in range(n):
        total += i * i
    return total
def spy_outer_caller():
    while True:
        spy_inner_busy_loop(20000)
sys.stdout.write("ready\n")
sys.stdout.flush()
spy_outer_caller()
"""


@pytest.mark.parametrize("fmt,ext", [("flamegraph", "svg"), ("raw", "txt"),
                                     ("speedscope", "json")])
def test_record_real_program(tmp_path, heavy_interp, fmt, ext):
    heavy_interp.require()
    if not PYSPY.exists():
        pytest.fail("build/py-spy is not built: run make")
    script = tmp_path / "busy.py"
    script.write_text(PROGRAM)
    target = subprocess.Popen(heavy_interp.argv + [str(script)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert target.stdout.readline().strip() == "ready"
        out = tmp_path / f"profile.{ext}"
        proc = run_pyspy(["record", "-o", out, "--format", fmt, "--pid", target.pid,
                          "-d", "2"], timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        data = out.read_text(encoding="utf-8")
        assert "spy_inner_busy_loop" in data and "spy_outer_caller" in data
        if fmt == "flamegraph":
            root = ET.fromstring(data.encode("utf-8"))
            assert frames_of(root)[0][0].startswith("all (")
        elif fmt == "speedscope":
            doc = json.loads(data)
            check_speedscope_schema(doc)
            assert any(p["samples"] for p in doc["profiles"])
        else:
            lines = data.splitlines()
            assert lines
            for line in lines:
                stack, _, count = line.rpartition(" ")
                assert stack and count.isdigit()
            assert any("spy_outer_caller" in line.split(";")[-2] for line in lines
                       if "spy_inner_busy_loop" in line.split(";")[-1])
    finally:
        target.kill()
        target.wait()


# --- the viewer's script, run by node against a minimal DOM -------------------

# Just enough DOM for the flamegraph's script: elements built from the SVG
# (parsed by Python), attributes, style.display, textContent, children and
# siblings, and events that bubble to the listeners of each ancestor.
DOM_SHIM = r"""
const data = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const actions = JSON.parse(process.argv[3]);
const byId = {};
function El(node, parent) {
    this.tag = node.tag; this.attrs = node.attrs; this.text = node.text;
    this.parentNode = parent; this.style = { display: "" }; this.listeners = {};
    this.children = node.children.map(c => new El(c, this));
    this.children.forEach((c, i) => { c.nextElementSibling = this.children[i + 1] || null; });
    this.firstElementChild = this.children[0] || null;
    if (node.attrs.id) byId[node.attrs.id] = this;
}
El.prototype.getAttribute = function (k) { return k in this.attrs ? this.attrs[k] : null; };
El.prototype.setAttribute = function (k, v) { this.attrs[k] = String(v); };
El.prototype.addEventListener = function (t, f) { (this.listeners[t] = this.listeners[t] || []).push(f); };
Object.defineProperty(El.prototype, "textContent", {
    get() { return this.text + this.children.map(c => c.textContent).join(""); },
    set(v) { this.text = String(v); this.children = []; this.firstElementChild = null; } });
function fire(target, type, extra) {
    const ev = Object.assign({ type, target, preventDefault() {} }, extra || {});
    for (let n = target; n; n = n.parentNode)
        (n.listeners[type] || []).forEach(f => f(ev));
}
const root = new El(data, null);
const win = { listeners: {}, prompt: () => actions.prompt, parentNode: null };
win.addEventListener = El.prototype.addEventListener;
global.document = { documentElement: root, getElementById: id => byId[id] || null };
global.window = win;
root.parentNode = win;
function findScript(n) { return n.tag === "script" ? n : n.children.map(findScript).find(x => x); }
(0, eval)(findScript(root).textContent);
const frames = byId.frames.children;
function frame(prefix) { return frames.find(g => g.children[0].textContent.startsWith(prefix)); }
function state() {
    return frames.map(g => ({ tip: g.children[0].textContent, shown: g.style.display !== "none",
        x: +g.children[1].getAttribute("x"), w: +g.children[1].getAttribute("width"),
        cls: g.getAttribute("class") || "", fill: g.children[1].getAttribute("fill"),
        text: g.children[2].textContent }));
}
const out = {};
if (actions.zoom) {
    fire(frame(actions.zoom).children[1], "click");
    out.zoomed = state(); out.reset = byId.reset.style.display;
    fire(byId.reset, "click");
    out.unzoomed = state(); out.reset_after = byId.reset.style.display;
}
if (actions.prompt !== undefined) {
    fire(byId.search, "click");
    out.matched = byId.matched.textContent; out.searched = state();
    out.button = byId.search.textContent;
    fire(byId.search, "click");
    out.cleared = byId.matched.textContent; out.button_after = byId.search.textContent;
    fire(root, "keydown", { key: "f", ctrlKey: true });
    out.ctrl_f = byId.matched.textContent;
}
console.log(JSON.stringify(out));
"""


def run_viewer(tmp_path, svg, actions):
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        pytest.skip("node (Debian package nodejs) not present: the viewer script is not run")

    def tree(e):
        return {"tag": e.tag.replace(SVG_NS, ""), "attrs": dict(e.attrib), "text": e.text or "",
                "children": [tree(c) for c in e]}

    dom = tmp_path / "dom.json"
    dom.write_text(json.dumps(tree(ET.parse(svg).getroot())))
    shim = tmp_path / "shim.js"
    shim.write_text(DOM_SHIM)
    proc = subprocess.run([node, str(shim), str(dom), json.dumps(actions)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


VIEWER_STACKS = [(1, 5, 30, None, [("main", "/v.py", 1), ("a", "/v.py", 2), ("b", "/v.py", 3)]),
                 (1, 5, 20, None, [("main", "/v.py", 1), ("c", "/v.py", 4), ("b", "/v.py", 3)]),
                 (1, 5, 20, None, [("main", "/v.py", 1), ("c", "/v.py", 4), ("e", "/v.py", 6)]),
                 (1, 5, 10, None, [("main", "/v.py", 1), ("b", "/v.py", 3)]),
                 (1, 5, 40, None, [("main", "/v.py", 1), ("d", "/v.py", 5)])]


def test_flamegraph_viewer_zoom(tmp_path):
    svg = tmp_path / "v.svg"
    _, proc = feed("flamegraph", svg, VIEWER_STACKS)
    assert proc.returncode == 0, proc.stderr
    before = {t: (x, w) for t, x, y, w in frames_of(ET.parse(svg).getroot())}
    out = run_viewer(tmp_path, svg, {"zoom": "c (v.py)"})
    assert out["reset"] == "" and out["reset_after"] == "none"
    shown = {f["tip"]: f for f in out["zoomed"] if f["shown"]}
    # c, its children b and e, and its ancestors main and all; nothing else
    assert sorted(shown) == ["all (120 samples, 100.00%)", "b (v.py) (20 samples, 16.67%)",
                             "c (v.py) (40 samples, 33.33%)", "e (v.py) (20 samples, 16.67%)",
                             "main (v.py) (120 samples, 100.00%)"]
    full = [("all (", 10, 1180), ("main (", 10, 1180), ("c (", 10, 1180),
            ("b (", 10, 590), ("e (", 600, 590)]
    for prefix, x, w in full:
        f = next(f for t, f in shown.items() if t.startswith(prefix))
        assert abs(f["x"] - x) < 0.01 and abs(f["w"] - w) < 0.01, f
        assert ("anc" in f["cls"]) == (prefix in ("all (", "main (")), f
        assert f["text"] == f["tip"].rsplit(" (", 1)[0]     # wide enough for the whole label
    for f in out["unzoomed"]:
        x, w = before[f["tip"]]
        assert f["shown"] and abs(f["x"] - x) < 0.01 and abs(f["w"] - w) < 0.01 and not f["cls"]


# a term matches the frame's label; one that is not a regular expression
# ("(") is looked for as plain text
@pytest.mark.parametrize("term,share", [("^b ", "50.0"), ("^(a|b) ", "50.0"), ("main", "100.0"),
                                        ("^d", "33.3"), ("nothing", "0.0"), ("(", "100.0")])
def test_flamegraph_viewer_search(tmp_path, term, share):
    svg = tmp_path / "v.svg"
    _, proc = feed("flamegraph", svg, VIEWER_STACKS)
    assert proc.returncode == 0, proc.stderr
    out = run_viewer(tmp_path, svg, {"prompt": term})
    assert out["matched"] == f"Matched: {share}%"
    assert out["button"] == "Reset Search"
    assert out["cleared"].strip() == "" and out["button_after"] == "Search"
    assert out["ctrl_f"] == f"Matched: {share}%"
    hot = {f["tip"] for f in out["searched"] if f["fill"] == "rgb(230,0,230)"}
    if share == "0.0":
        assert not hot
    else:
        assert hot and all(f["fill"] != "rgb(230,0,230)" or f["tip"] in hot
                           for f in out["searched"])


def test_numbers_ignore_a_decimal_comma_locale(tmp_path):
    """Under de_DE (decimal comma) the SVG and the JSON still use '.'."""
    loc = tmp_path / "loc"
    loc.mkdir()
    made = subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(loc / "de_DE.UTF-8")],
                          capture_output=True, text=True)
    if not (loc / "de_DE.UTF-8").exists():
        pytest.skip(f"cannot build the de_DE.UTF-8 locale (Debian package locales): {made.stderr}")
    env = dict(os.environ, LOCPATH=str(loc), FEED_LOCALE="de_DE.UTF-8")
    inp = write_input(tmp_path / "in.txt", VIEWER_STACKS)
    for name, out in (("flamegraph", tmp_path / "l.svg"), ("speedscope", tmp_path / "l.json")):
        proc = subprocess.run([str(FEED), "-r", "300", "-o", "min_width=0.5%", str(module(name)),
                               str(out), str(inp)], capture_output=True, text=True, env=env,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
    frames = frames_of(ET.parse(tmp_path / "l.svg").getroot())
    assert [round(w, 2) for t, x, y, w in frames if t.startswith("a (")] == [295.0]
    doc = json.loads((tmp_path / "l.json").read_text())
    assert doc["profiles"][0]["weights"][0] == pytest.approx(1 / 300)
