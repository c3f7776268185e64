"""Every stack a recording reports is one the program really had: exact
function, file and line of every frame, on every interpreter, paused and
not.  The program's stacks change depth from round to round, so a sample
must not take for granted what the one before read (py-spy reads the last
sample's shape speculatively)."""
import pathlib
import re

import pytest

from conftest import run_pyspy
from test_record import end, parse_collapsed, reported_samples, start

PROG = pathlib.Path(__file__).resolve().parent / "programs_record" / "varying.py"
FRAME = re.compile(r"^(\S+) \(varying\.py:(\d+)\)$")


def markers():
    lines = {}
    for no, text in enumerate(PROG.read_text().splitlines(), 1):
        m = re.search(r"# L:(\w+)", text)
        if m:
            lines[m.group(1)] = no
    return lines


def body(first, last):
    return set(range(first, last + 1))


def problem(stack, L):
    """None if STACK (collapsed, root first) is one varying.py can have."""
    frames = []
    for f in stack.split(";"):
        m = FRAME.match(f)
        if not m:
            return f"unexpected frame {f!r}"
        frames.append((m.group(1), int(m.group(2))))
    if frames[:1] != [("<module>", L["module"])]:
        return "root is not <module> at the call of main"
    if len(frames) == 1:
        return None
    name, line = frames[1]
    main_lines = body(L["main_def"], L["main_call"])
    if name != "main" or line not in main_lines:
        return f"second frame {frames[1]}"
    recs = frames[2:]
    if not recs:
        return None
    if line != L["main_call"]:
        return "main calls rec from another line"
    if len(recs) > 41 + 1:
        return "deeper than the program goes"
    for i, (name, line) in enumerate(recs):
        last = i == len(recs) - 1
        if name == "leaf":
            if not last or i == 0 or recs[i - 1][1] != L["rec_leaf"]:
                return "leaf not called by the last rec"
            if line not in body(L["leaf_def"], L["leaf_def"] + 4):
                return f"leaf at line {line}"
            continue
        if name != "rec":
            return f"frame {name}"
        if not last and line not in (L["rec_call"], L["rec_leaf"]):
            return f"rec calls on from line {line}"
        if line not in body(L["rec_def"], L["rec_call"]):
            return f"rec at line {line}"
        if line == L["rec_leaf"] and not last and recs[i + 1][0] != "leaf":
            return "rec calls leaf, not rec"
    return None


def depth(stack):
    return stack.count(";rec (")


@pytest.mark.parametrize("mode", ["blocking", "nonblocking"])
def test_recorded_stacks_are_real(interp, mode, tmp_path):
    # Paused, the program may change its stack as often as it likes: rounds
    # of a few hundred microseconds.  Not paused, a stack read while the
    # program changes it can come out torn (the --nonblocking caveat), so
    # the rounds last milliseconds and changes are rare next to samples.
    steps = 3000 if mode == "blocking" else 100000
    p = start(interp, PROG, steps)
    out = tmp_path / "x.txt"
    args = ["record", "-p", p.pid, "-r", 500, "-d", 1.5, "-o", f"collapsed:{out}"]
    if mode == "nonblocking":
        args.append("--nonblocking")
    # Recordings of 1.5 s until there is enough to judge: >= 300 samples,
    # >= 90 of them of stacks >= 10 calls deep, at 3 depths or more.  How
    # many recordings that takes depends on how busy the machine is: a
    # starved program runs few rounds, a starved py-spy takes few samples.
    counts = {}

    def deep():
        return {s: n for s, n in counts.items() if depth(s) >= 10}

    def enough():
        d = deep()
        return (sum(counts.values()) >= 300 and sum(d.values()) >= 90 and
                len({depth(s) for s in d}) >= 3)

    try:
        for _ in range(20):
            r = run_pyspy(args, timeout=60)
            assert r.returncode == 0, r.stderr
            part = parse_collapsed(out.read_text())
            # every sample py-spy says it took is in the output
            assert reported_samples(r.stderr) == [sum(part.values())], r.stderr
            for s, n in part.items():
                counts[s] = counts.get(s, 0) + n
            if enough():
                break
    finally:
        end(p)
    L = markers()
    total = sum(counts.values())
    bad = {s: (n, problem(s, L)) for s, n in counts.items() if problem(s, L)}
    nbad = sum(n for n, _ in bad.values())
    assert enough(), (f"{total} samples, {sum(deep().values())} deep ones at depths"
                      f" {sorted({depth(s) for s in deep()})} in 20 recordings\n{r.stderr}")
    allowed = 0 if mode == "blocking" else 0.01 * total
    assert nbad <= allowed, f"{nbad} of {total} samples impossible: {list(bad.items())[:5]}"
