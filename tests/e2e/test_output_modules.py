"""A new output is one module and a plugins.ini line: the fixture
tests/fixtures/fx_notes_output.c, which the core has never heard of, is
chosen by -f NAME, by its extensions (the longest ending wins), and as the
record default when plugins.ini lists it first; py-spy's "Wrote" line uses
its own words, and the test reads what it wrote of a real program.
"""
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
PYSPY = BUILD / "py-spy"
MODULES = BUILD / "modules"
NOTES = BUILD / "tests" / "fixtures" / "fx_notes_output.so"
DEBIAN_PY = "/usr/bin/python3.11"
# Busy for 2 s of its own CPU time (not wall time: on a busy machine py-spy
# may start sampling late, and the program must still be working then).
PROG = ("import time\n"
        "def work():\n"
        "    t = time.process_time()\n"
        "    while time.process_time() - t < 2.0:\n"
        "        pass\n"
        "work()\n")


def ini(tmp_path, notes_first):
    if not NOTES.exists():
        pytest.fail(f"{NOTES} is not built: run make unit")
    outputs = [f"flamegraph = {MODULES / 'outputs' / 'flamegraph.so'}",
               f"collapsed = {MODULES / 'outputs' / 'collapsed.so'}"]
    notes = f"notes = {NOTES}"
    outputs = [notes] + outputs if notes_first else outputs + [notes]
    p = tmp_path / "plugins.ini"
    p.write_text("[backend]\n"
                 f"linux = {MODULES / 'backends' / 'linux.so'}\n"
                 f"[layouts]\nscan = {MODULES / 'layouts'}\n"
                 "[outputs]\n" + "\n".join(outputs) + "\n")
    p.chmod(0o644)
    return p


def record(tmp_path, config, out_args):
    prog = tmp_path / "prog.py"
    prog.write_text(PROG)
    return subprocess.run([str(PYSPY), "--config", str(config), "record", "-r", "200"] +
                          out_args + ["--", DEBIAN_PY, str(prog)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)


def check_notes(path, stderr):
    """The fixture's lines name the program's busy function and line."""
    text = path.read_text()
    lines = text.splitlines()
    m = re.fullmatch(r"notes: (\d+) stacks, (\d+) samples by the summary", lines[-1])
    assert m, text[-300:]
    assert int(m.group(1)) == len(lines) - 1 and int(m.group(1)) == int(m.group(2))
    busy = [l for l in lines[:-1] if re.fullmatch(r"\d+ work prog\.py:[345]", l)]
    assert len(busy) >= (len(lines) - 1) // 2 and busy, text[:500]
    assert f"Wrote notes of the run to '{path.name}'. Samples: {m.group(2)} Errors:" in stderr, stderr


@pytest.mark.parametrize("how,args,name", [
    ("format", ["-f", "NOTES", "-o", "out.data"], "out.data"),
    ("extension", ["-o", "out.notes"], "out.notes"),
    ("longest extension", ["-o", "out.nt.txt"], "out.nt.txt"),
    ("name:path", ["-o", "notes:out.svg"], "out.svg"),
])
def test_unknown_module_chosen_by_name_and_extension(pyspy, tmp_path, how, args, name):
    r = record(tmp_path, ini(tmp_path, notes_first=False), args)
    assert r.returncode == 0, r.stderr
    check_notes(tmp_path / name, r.stderr)


def test_plain_txt_is_still_collapsed(pyspy, tmp_path):
    r = record(tmp_path, ini(tmp_path, notes_first=False), ["-o", "out.txt"])
    assert r.returncode == 0, r.stderr
    assert "Wrote raw flamegraph data to 'out.txt'" in r.stderr
    assert re.search(r"^.*work \(.*prog\.py:[345]\) \d+$", (tmp_path / "out.txt").read_text(), re.M)


@pytest.mark.parametrize("notes_first", [True, False])
def test_default_output_is_the_first_listed_default(pyspy, tmp_path, notes_first):
    r = record(tmp_path, ini(tmp_path, notes_first), [])
    assert r.returncode == 0, r.stderr
    made = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("python3.11-"))
    assert len(made) == 1, made
    if notes_first:
        assert made[0].endswith(".notes")
        check_notes(tmp_path / made[0], r.stderr)
    else:
        assert made[0].endswith(".svg")
        assert (tmp_path / made[0]).read_text().startswith("<?xml")
        assert "Wrote flamegraph data to" in r.stderr


def test_plugins_lists_what_a_module_says_of_itself(pyspy, tmp_path):
    r = subprocess.run([str(PYSPY), "--config", str(ini(tmp_path, True)), "plugins"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    row = [l for l in r.stdout.splitlines() if l.split()[:2] == ["output", "notes"]]
    assert row and "format notes (files notes, nt.txt) for record (default)" in row[0], r.stdout


def test_module_with_a_shorter_ops_table(pyspy, tmp_path):
    """fx_v1_output's table ends before written/extensions/default_for (as
    one built against an older header would; it holds misleading values
    there): chosen by its one `extension`, never by the endings it would
    claim past its size, and never a default."""
    v1 = BUILD / "tests" / "fixtures" / "fx_v1_output.so"
    p = tmp_path / "plugins.ini"
    p.write_text("[backend]\n"
                 f"linux = {MODULES / 'backends' / 'linux.so'}\n"
                 f"[layouts]\nscan = {MODULES / 'layouts'}\n"
                 f"[outputs]\nvone = {v1}\n"
                 f"flamegraph = {MODULES / 'outputs' / 'flamegraph.so'}\n")
    p.chmod(0o644)
    r = record(tmp_path, p, ["-o", "a.v1out", "-o", "b.svg"])
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"v1: \d+ stacks\n", (tmp_path / "a.v1out").read_text())
    assert "Wrote vone data to 'a.v1out'" in r.stderr and "WRONG" not in r.stderr, r.stderr
    assert (tmp_path / "b.svg").read_text().startswith("<?xml")
    assert "Wrote flamegraph data to 'b.svg'" in r.stderr
    r = record(tmp_path, p, [])
    assert r.returncode == 0, r.stderr
    assert "Wrote flamegraph data to 'python3.11-" in r.stderr, r.stderr


def test_unknown_format_lists_what_plugins_ini_offers(pyspy, tmp_path):
    """-f nosuch names the formats of the modules this plugins.ini loads
    for the command (the fixture's "notes" among them), on one line."""
    r = subprocess.run([str(PYSPY), "--config", str(ini(tmp_path, notes_first=False)),
                        "record", "-f", "nosuch", "-o", "x", "--pid", "1"],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    m = re.fullmatch(r"Error: unknown output format 'nosuch' \(record can write: (.*)\)", lines[0])
    assert m, r.stderr
    assert m.group(1).split(", ") == ["flamegraph", "collapsed", "notes"], lines[0]
    assert not (tmp_path / "x").exists()
    # The shipped plugins.ini offers its own list, pprof and chrometrace in it.
    r = subprocess.run([str(PYSPY), "record", "-f", "NoSuch", "-o", "x", "--pid", "1"],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode != 0
    assert "unknown output format 'NoSuch'" in r.stderr
    listed = r.stderr.strip().split("record can write: ")[1].rstrip(")").split(", ")
    assert {"flamegraph", "speedscope", "pprof", "chrometrace"} <= set(listed), r.stderr
    assert "notes" not in listed
