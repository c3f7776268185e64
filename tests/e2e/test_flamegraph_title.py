"""A long command line as the flamegraph's title is cut with an ellipsis to
the width between the "Reset Zoom" and "Search" buttons; the whole of it is
in the title's <title> tooltip.  A short one is written whole."""
import re
import xml.etree.ElementTree as ET

from conftest import run_pyspy

SVG = "{http://www.w3.org/2000/svg}"
PROG = ("import time, sys\n"
        "def work():\n"
        "    t = time.time()\n"
        "    while time.time() - t < 0.4:\n"
        "        pass\n"
        "work()\n")


def title_of(tmp_path, args):
    prog = tmp_path / "prog.py"
    prog.write_text(PROG)
    out = tmp_path / "out.svg"
    r = run_pyspy(["record", "-o", "out.svg", "--", "/usr/bin/python3.11", "prog.py"] + args,
                  cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    root = ET.parse(out).getroot()
    width = int(root.get("width"))
    title = root.find(f".//{SVG}text[@id='title']")
    tip = title.find(f"{SVG}title")
    return width, "".join(title.itertext()) if tip is None else (title.text or "") + (tip.tail or ""), \
        None if tip is None else tip.text


def test_long_title_is_cut_to_fit_between_the_buttons(pyspy, tmp_path):
    args = [f"argument-{i:03d}" for i in range(60)]
    width, shown, tip = title_of(tmp_path, args)
    assert tip is not None and tip.endswith(" ".join(args)), tip
    assert shown.endswith("\u2026") and tip.startswith(shown[:-1])
    # 17px monospace is ~10.3px a character; "Reset Search" (12 of 7.3px) and
    # a 10px margin on each side keep the centred title clear of the buttons.
    room = width - 2 * (10 + 12 * 7.3 + 10)
    assert len(shown) * 7.3 * 17 / 12 <= room, (len(shown), room)
    assert len(shown) > 40


def test_short_title_is_whole(pyspy, tmp_path):
    width, shown, tip = title_of(tmp_path, ["a"])
    assert tip is None and "\u2026" not in shown
    assert re.search(r"prog\.py a$", shown), shown
