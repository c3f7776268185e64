"""Each interpreter of tests/e2e/interpreters.py starts, runs a script with
arguments, reports the expected version, and is the process the other
tests expect (exe, libpython mapped, stripped copies without .symtab)."""
import json
import os
import subprocess

import pytest

import interpreters

VERSION_SCRIPT = """\
import json, sys
print(json.dumps({"version": list(sys.version_info[:3]), "argv": sys.argv[1:],
                  "debug": hasattr(sys, "gettotalrefcount")}))
"""

# Prints "ready", then waits for its stdin to close: the test looks at the
# process from outside meanwhile, as a profiler would.
WAIT_SCRIPT = """\
import sys
sys.stdout.write("ready\\n")
sys.stdout.flush()
sys.stdin.read()
"""


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_version(interp, tmp_path):
    interp.require()
    script = _write(tmp_path, "version.py", VERSION_SCRIPT)
    r = subprocess.run(interp.command(script, "a b", "-c"), env=interp.environ(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{interp.name}: {r.stderr}"
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert tuple(out["version"][:2]) == interp.version
    assert out["argv"] == ["a b", "-c"]
    assert out["debug"] == (interp.name == "sid-3.14d"), "Py_DEBUG build iff sid-3.14d"


def _maps_files(pid):
    files = set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].startswith("/"):
                files.add(fields[5].strip())
    return files


def test_process_identity(interp, tmp_path):
    interp.require()
    script = _write(tmp_path, "wait.py", WAIT_SCRIPT)
    p = subprocess.Popen(interp.command(script), env=interp.environ(), text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == "ready\n", p.stderr.read()
        exe = os.readlink(f"/proc/{p.pid}/exe")
        comm = open(f"/proc/{p.pid}/comm").read().strip()
        files = _maps_files(p.pid)
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    assert exe == interp.expected_exe()
    if interp.kind == "ldso":
        assert comm.startswith("ld-linux")
    libs = {f for f in files if "libpython" in os.path.basename(f) or f == interp.libpython}
    if interp.libpython:
        assert os.path.realpath(interp.libpython) in files
        assert libs == {os.path.realpath(interp.libpython)}, "one libpython mapped"
    else:
        assert not libs, "libpython is static in the exe"
    if interp.name.startswith(("sid-", "ldso-sid-")):
        # Every library from sid's tree: a host one would mean a missing package.
        cache = str(interpreters.sid_cache() / "root") + "/"
        host = [f for f in files if ".so" in f and not f.startswith(cache)]
        assert not host, f"host libraries mapped: {host}"


@pytest.mark.parametrize("stripped", interpreters.stripped_interpreters(),
                         ids=lambda i: i.name)
def test_stripped_copy_has_no_symtab(stripped):
    stripped.require()
    original = interpreters._pyenv_libpython(stripped.name.split("-")[1])
    sections = subprocess.run(["readelf", "-S", "-W", stripped.libpython], capture_output=True,
                              text=True, check=True).stdout
    assert ".symtab" not in sections and ".dynsym" in sections
    sections = subprocess.run(["readelf", "-S", "-W", str(original)], capture_output=True,
                              text=True, check=True).stdout
    assert ".symtab" in sections, "the original keeps its symbol table"
    nm = subprocess.run(["nm", stripped.libpython], capture_output=True, text=True)
    assert "interp_head" not in nm.stdout and "no symbols" in nm.stderr
    dyn = subprocess.run(["nm", "-D", stripped.libpython], capture_output=True, text=True)
    assert " Py_Initialize" in dyn.stdout


def test_sid_children_start():
    """A patched sid interpreter runs children with sys.executable (its
    loader and libc are its own, not inherited through LD_LIBRARY_PATH)."""
    interp = interpreters.by_name("sid-3.15").require()
    code = ("import subprocess, sys; print(subprocess.run([sys.executable, '-c', "
            "'import sys; print(sys.version_info[1])'], capture_output=True, "
            "text=True).stdout.strip())")
    r = subprocess.run(interp.command("-c", code), env=interp.environ(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "15"


# --- fetch-sid.sh's choice of archive URI, from APT sources of each form ---

DEB822 = """\
# a comment
Types: deb-src
URIs: file:/srv/src
Suites: bookworm
Components: main

Types: deb
URIs: file:/srv/disabled
Suites: bookworm
Enabled: no
Components: main

Types: deb deb-src
URIs:
 file:/srv/debian-security
 file:/srv/good
Suites: bookworm-security
 bookworm
Components: main
Signed-By: /usr/share/keyrings/k.gpg
"""

ONE_LINE = """\
# deb file:/srv/commented bookworm main
deb-src file:/srv/src bookworm main
deb cdrom:[Debian 12]/ bookworm main
deb file:/srv/vendor cloud-sdk-bookworm main
deb file:/srv/updates bookworm-updates main
deb [arch=amd64 signed-by=/k1.gpg] file:/srv/one bookworm main
"""


def _print_uri(etc):
    return subprocess.run(["bash", str(interpreters.FETCH_SID), "--print-uri"],
                          env=dict(os.environ, PYSPY_SID_APT_ETC=str(etc)),
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("files, expected", [
    ({"sources.list.d/debian.sources": DEB822}, "file:/srv/good /usr/share/keyrings/k.gpg"),
    ({"sources.list": ONE_LINE}, "file:/srv/one /k1.gpg"),
    ({"sources.list": "deb file:/srv/plain sid main\n",
      "sources.list.d/debian.sources": DEB822}, "file:/srv/plain"),
    ({"sources.list.d/x.list": "deb file:/srv/vendor cloud main\n"}, None),
    ({}, None),
], ids=["deb822", "one-line", "list-first", "no-debian-suite", "empty"])
def test_fetch_sid_picks_uri(tmp_path, files, expected):
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    r = _print_uri(tmp_path)
    if expected is None:
        assert r.returncode != 0 and r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1, "one clear line"
    else:
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == expected
