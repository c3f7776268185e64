"""plugins.ini as the real py-spy finds, reads and checks it: `py-spy plugins`
with --config (before or after the subcommand), $PYSPY_CONFIG, the search
beside the binary and in PREFIX/lib/py-spy, and one clear error line with a
non-zero exit for every way plugins.ini or a module it names can be wrong."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_pyspy

BUILD = ROOT / "build"
FIXTURES = BUILD / "tests" / "fixtures"
MODULES = BUILD / "modules"


@pytest.fixture
def env(tmp_path):
    """An environment in which no user or $PYSPY_CONFIG plugins.ini is found
    (an empty PYSPY_CONFIG counts as unset)."""
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    return {"XDG_CONFIG_HOME": str(xdg), "PYSPY_CONFIG": ""}


def fixture(name):
    p = FIXTURES / f"{name}.so"
    if not p.exists():
        pytest.fail(f"{p} is not built: run make unit")
    return p


def write_ini(tmp_path, text, name="plugins.ini"):
    p = tmp_path / name
    p.write_text(text)
    p.chmod(0o644)
    return p


def good_ini(tmp_path, outputs="good = {good}\n", name="plugins.ini"):
    """A plugins.ini naming the real backend and two good fixture modules."""
    text = ("[backend]\n"
            f"linux = {MODULES / 'backends' / 'linux.so'}\n"
            "[layouts]\n"
            f"lay = {fixture('fx_good_layout')}\n"
            "[outputs]\n" + outputs.format(good=fixture("fx_good_output")))
    return write_ini(tmp_path, text, name)


def real_ini(tmp_path, dump):
    """The real backend and layouts, with `dump` as the dump output (line 6)."""
    return write_ini(tmp_path, "[backend]\n"
                     f"linux = {MODULES / 'backends' / 'linux.so'}\n"
                     f"[layouts]\nscan = {MODULES / 'layouts'}\n"
                     f"[outputs]\ndump = {dump}\n",
                     "real.ini")


def error_line(r):
    """The one line py-spy printed on stderr, which must start "Error: "."""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got: {r.stderr!r}"
    assert lines[0].startswith("Error: "), lines[0]
    return lines[0]


def rows(stdout):
    """`py-spy plugins` rows as {name: line}, and the plugins.ini it names."""
    lines = stdout.splitlines()
    assert lines and lines[0].startswith("plugins.ini: "), stdout
    assert lines[1].split()[:3] == ["KIND", "NAME", "COVERS"], stdout
    return lines[0][len("plugins.ini: "):], {line.split()[1]: line for line in lines[2:]}


@pytest.fixture
def target():
    """A Python process to point dump at; killed afterwards."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield p.pid
    p.kill()
    p.wait()


def test_plugins_default_finds_build_ini(pyspy, env):
    if os.path.exists("/etc/py-spy/plugins.ini"):
        pytest.skip("/etc/py-spy/plugins.ini exists on this machine and comes first")
    r = run_pyspy(["plugins"], env=env)
    used, by_name = rows(r.stdout)
    assert used == str(BUILD / "plugins.ini")
    assert by_name["linux"].split()[0] == "backend"
    assert by_name["dump"].split()[0] == "output"
    for name in ("linux", "dump", "collapsed", "flamegraph", "speedscope", "top"):
        assert by_name[name].endswith("  ok"), by_name[name]
    layouts = [line for line in by_name.values() if line.startswith("layout ")]
    assert any("CPython 3.11.0-3.11.255" in line for line in layouts), layouts
    failed = [line for line in by_name.values() if "FAILED" in line]
    assert r.returncode == (1 if failed else 0), r.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_option_before_or_after_subcommand(pyspy, env, tmp_path, where):
    ini = good_ini(tmp_path)
    args = ["--config", ini, "plugins"] if where == "before" else ["plugins", "--config", ini]
    r = run_pyspy(args, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    used, by_name = rows(r.stdout)
    assert used == str(ini)
    assert set(by_name) == {"linux", "lay", "good"}
    assert "format fxformat (aliases fxalias, fxother) (files txt) for dump, record" in by_name["good"]
    assert "CPython 3.11.0-3.11.255 release linux/x86_64, not tested live" in by_name["lay"]
    assert str(fixture("fx_good_output")) in by_name["good"]


def test_pyspy_config_environment(pyspy, env, tmp_path):
    ini = good_ini(tmp_path)
    r = run_pyspy(["plugins"], env=dict(env, PYSPY_CONFIG=str(ini)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert rows(r.stdout)[0] == str(ini)

    # --config wins over $PYSPY_CONFIG
    other = good_ini(tmp_path, name="other.ini")
    r = run_pyspy(["--config", other, "plugins"], env=dict(env, PYSPY_CONFIG=str(ini)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert rows(r.stdout)[0] == str(other)


def test_user_config_folder(pyspy, env, tmp_path):
    folder = tmp_path / "xdg" / "py-spy"
    folder.mkdir()
    ini = good_ini(folder)
    r = run_pyspy(["plugins"], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert rows(r.stdout)[0] == str(ini)


def test_relative_paths_and_installed_layout(pyspy, env, tmp_path):
    """PREFIX/bin/py-spy reads PREFIX/lib/py-spy/plugins.ini, and paths in it
    are relative to that folder."""
    bindir = tmp_path / "bin"
    libdir = tmp_path / "lib" / "py-spy"
    (libdir / "mods").mkdir(parents=True)
    bindir.mkdir()
    shutil.copy2(pyspy, bindir / "py-spy")
    shutil.copy2(fixture("fx_good_output"), libdir / "mods" / "good.so")
    ini = write_ini(libdir, "[outputs]\ngood = mods/good.so\n")
    r = run_pyspy(["plugins"], binary=bindir / "py-spy", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    used, by_name = rows(r.stdout)
    assert used == str(ini)
    assert str(libdir / "mods" / "good.so") in by_name["good"]
    assert by_name["good"].endswith("  ok")


def test_nothing_found_says_where_it_looked(pyspy, env, tmp_path):
    if os.path.exists("/etc/py-spy/plugins.ini"):
        pytest.skip("/etc/py-spy/plugins.ini exists on this machine")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shutil.copy2(pyspy, bindir / "py-spy")
    r = run_pyspy(["plugins"], binary=bindir / "py-spy", env=env)
    assert r.returncode != 0
    line = error_line(r)
    assert "no plugins.ini found" in line
    for place in (tmp_path / "xdg" / "py-spy" / "plugins.ini", "/etc/py-spy/plugins.ini",
                  bindir / "plugins.ini", tmp_path / "lib" / "py-spy" / "plugins.ini"):
        assert str(place) in line, line


def test_missing_file(pyspy, env, tmp_path):
    missing = tmp_path / "nope.ini"
    r = run_pyspy(["--config", missing, "plugins"], env=env)
    assert r.returncode != 0
    line = error_line(r)
    assert str(missing) in line and "No such file or directory" in line

    r = run_pyspy(["plugins"], env=dict(env, PYSPY_CONFIG=str(missing)))
    assert r.returncode != 0
    line = error_line(r)
    assert str(missing) in line and "PYSPY_CONFIG" in line


def test_unreadable_file(pyspy, env, tmp_path):
    # chmod 000 does not stop root; a folder cannot be read as a file by anyone.
    folder = tmp_path / "folder.ini"
    folder.mkdir()
    r = run_pyspy(["--config", folder, "plugins"], env=env)
    assert r.returncode != 0
    line = error_line(r)
    assert str(folder) in line and "Is a directory" in line


def test_syntax_error_names_line(pyspy, env, tmp_path, target):
    ini = write_ini(tmp_path, "[outputs]\n; fine so far\nthis is not ini\n")
    for args in (["--config", ini, "plugins"], ["--config", ini, "dump", "--pid", target]):
        r = run_pyspy(args, env=env)
        assert r.returncode != 0
        line = error_line(r)
        assert f"{ini}:3: syntax error" in line, line
        assert "this is not ini" in line


def test_unknown_section_names_line(pyspy, env, tmp_path):
    ini = write_ini(tmp_path, "[outputs]\ngood = x.so\n\n[godo]\nwidth = 3\n")
    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode != 0
    line = error_line(r)
    assert f"{ini}:4: [godo]: unknown section" in line, line


def test_empty_path_names_line_and_key(pyspy, env, tmp_path):
    ini = write_ini(tmp_path, "[outputs]\ngood = x.so\nflamegraph =\n")
    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode != 0
    assert f"{ini}:3: [outputs] flamegraph: empty path" in error_line(r)


def test_unsafe_file_as_root(pyspy, env, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the ownership rule applies when py-spy runs as root")
    ini = good_ini(tmp_path)
    ini.chmod(0o646)
    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode != 0
    line = error_line(r)
    assert f"{ini} is writable by others" in line
    assert f"chmod go-w {ini}" in line
    ini.chmod(0o644)
    assert run_pyspy(["--config", ini, "plugins"], env=env).returncode == 0


def test_module_missing(pyspy, env, tmp_path, target):
    missing = tmp_path / "gone.so"
    ini = good_ini(tmp_path, outputs=f"good = {{good}}\ndump = {missing}\n")
    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode == 1
    by_name = rows(r.stdout)[1]
    assert by_name["good"].endswith("  ok")
    assert "FAILED: module file not found" in by_name["dump"]

    ini = real_ini(tmp_path, missing)
    r = run_pyspy(["--config", ini, "dump", "--pid", target], env=env)
    assert r.returncode != 0
    line = error_line(r)
    assert f"{ini}:6: [outputs] dump: {missing}: module file not found" in line, line


def test_module_refused(pyspy, env, tmp_path, target):
    bad = fixture("fx_bad_abi")
    ini = good_ini(tmp_path, outputs=f"good = {{good}}\ndump = {bad}\n")
    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode == 1
    by_name = rows(r.stdout)[1]
    assert "FAILED: module ABI version 99, this py-spy uses ABI version 2" in by_name["dump"]

    ini = real_ini(tmp_path, bad)
    r = run_pyspy(["--config", ini, "dump", "--pid", target], env=env)
    assert r.returncode != 0
    line = error_line(r)
    assert f"{ini}:6: [outputs] dump: {bad}: module ABI version 99" in line, line


def test_wrong_kind_refused(pyspy, env, tmp_path):
    ini = good_ini(tmp_path, outputs=f"good = {{good}}\nlayout-as-output = {fixture('fx_good_layout')}\n")
    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode == 1
    row = rows(r.stdout)[1]["layout-as-output"]
    assert "FAILED: is a layout module but is listed in [outputs] (move it to [layouts])" in row


def test_duplicate_module_names_refused(pyspy, env, tmp_path):
    a, b = fixture("fx_dup_a"), fixture("fx_dup_b")
    ini = good_ini(tmp_path, outputs=f"one = {a}\ntwo = {b}\n")
    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode == 1
    by_name = rows(r.stdout)[1]
    assert by_name["one"].endswith("  ok")
    assert f'FAILED: module name "fx-dup" is already used by {a}' in by_name["two"]


def test_group_writable_module_as_root(pyspy, env, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("writable modules are refused when py-spy runs as root")
    copy = tmp_path / "writable.so"
    shutil.copy2(fixture("fx_good_output"), copy)
    copy.chmod(0o775)
    ini = write_ini(tmp_path, f"[outputs]\nwritable = {copy}\n")
    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode == 1
    row = rows(r.stdout)[1]["writable"]
    assert "FAILED: is writable by its group" in row and f"chmod go-w {copy}" in row
    copy.chmod(0o755)
    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode == 0, r.stdout


SNOOZE = """\
import sys, time
def snooze():
    open(sys.argv[1], "w").close()
    time.sleep(120)
snooze()
"""


@pytest.mark.parametrize("mode", ["blocking", "nonblocking"])
def test_backend_with_only_required_ops(pyspy, env, tmp_path, mode):
    """A backend whose ops table ends after the last required op (no spawn,
    alive, terminate or thread_state), and whose maps and threads come as
    larger elements than py-spy's (a newer backend), loads, and dump through
    it shows the program's exact stack, as dump through linux.so does."""
    linux = MODULES / "backends" / "linux.so"
    tail = (f"[layouts]\nscan = {MODULES / 'layouts'}\n"
            f"[outputs]\ndump = {MODULES / 'outputs' / 'dump.so'}\n")
    short = write_ini(tmp_path, f"[backend]\nlinux = {fixture('fx_short_backend')}\n"
                      f"[linux]\ninner = {linux}\n" + tail, "short.ini")
    real = write_ini(tmp_path, f"[backend]\nlinux = {linux}\n" + tail, "linux.ini")
    prog, ready = tmp_path / "snooze.py", tmp_path / "ready"
    prog.write_text(SNOOZE)
    p = subprocess.Popen([sys.executable, str(prog), str(ready)])
    try:
        # a bound on a hang, not a timing check
        for _ in range(1200):
            if ready.exists() or p.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), "the program did not start"
        args = ["dump", "--full-filenames", "--pid", str(p.pid)]
        if mode == "nonblocking":
            args.append("--nonblocking")

        r = run_pyspy(["--config", short] + args, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        lines = r.stdout.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("Thread "))
        assert lines[at].startswith(f"Thread {p.pid} (idle)"), r.stdout
        assert lines[at + 1:at + 3] == [f"    snooze ({prog}:4)", f"    <module> ({prog}:5)"], r.stdout

        same = run_pyspy(["--config", real] + args, env=env)
        assert same.returncode == 0, same.stdout + same.stderr
        assert same.stdout == r.stdout
    finally:
        p.kill()
        p.wait()
