"""App fuzzing (issue 11): hostile config files, replay files and flags through the device app on the unix port.

Hypothesis draws config texts (valid settings, near-JSON mistakes: trailing commas, missing colons, nesting,
duplicates, bad UTF-8, huge numbers, oversize files) and replay files (rows, garbage, long lines, invalid
UTF-8, out-of-range values). `run_app` runs many of them in one MicroPython process (tests/mp_app_runs.py, 128K
heap); `check_run` states what every run must show: no traceback, every error one `# error:` line, `# info: done`
last, and a run that has config errors runs the safe state (zero torque). `host_config_verdict` is the host's
`flash` check of the same text: host and device accept the same configs.
"""
import json
import os
import subprocess
from pathlib import Path

from hypothesis import strategies as st

from tinypolicy_host.board.devconfig import check_config
from tinypolicy_host.board.logformat import parse_lines, summary
from tinypolicy_host.errors import UserError
from tinypolicy_host.paths import BOARDS, DEVICE, micropython_binary

DRIVER = Path(__file__).with_name("mp_app_runs.py")
SHORT = ["--mode", "batch", "--duration-s", "0.05", "--warmup", "0"]  # flags win over the file: short runs even
# when the config is rejected (its defaults would be 10 s in real time)
KEYS = ["period_ms", "mode", "noise", "init_theta", "init_theta_dot", "log_level", "decimation",
        "warmup", "seed", "sensor", "actuator", "ring", "dtype", "model"]
_VALUES = st.one_of(st.integers(-10, 2000), st.floats(allow_nan=False, width=64), st.booleans(), st.none(),
                    st.sampled_from(["batch", "realtime", "int8", "q15", "f32", "auto", "plant", "replay", "x", ""]))


@st.composite
def config_texts(draw) -> bytes:
    settings = {"mode": "batch", "duration_s": 0.05, "warmup": 0}  # duration_s fixed: every run is short
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4)):
        settings[key] = draw(_VALUES)
    if settings.get("mode") == "realtime" or settings.get("sensor") in ("replay", "board"):
        settings["mode"], settings["sensor"] = "batch", "plant"  # keep each run short and self-contained
    text = json.dumps(settings)
    kind = draw(st.sampled_from(["valid", "valid", "trailing", "colon", "comma", "nested", "dup", "utf8", "big",
                                 "huge_number", "deep", "garbage", "empty", "leading_zero", "control"]))
    if kind == "trailing":
        text = text[:-1] + ",}"
    elif kind == "colon":
        text = text.replace(":", " ", 1)
    elif kind == "comma":
        text = text.replace(",", " ", 1)
    elif kind == "nested":
        text = text[:-1] + ', "noise": [' * draw(st.integers(1, 50)) + "]" * 0 + "}"
    elif kind == "dup":
        text = text[:-1] + ', "mode": "batch"}'
    elif kind == "utf8":
        return text.encode()[:-1] + b', "model": "\xff\xfe"}'
    elif kind == "big":
        text = text[:-1] + ', "model": "' + "a" * draw(st.integers(1500, 3000)) + '"}'
    elif kind == "huge_number":
        text = text[:-1] + ', "seed": 1' + "0" * draw(st.integers(20, 60)) + "}"
    elif kind == "deep":
        text = "[" * draw(st.integers(100, 3000))
    elif kind == "garbage":
        return draw(st.binary(max_size=300))
    elif kind == "empty":
        text = ""
    elif kind == "leading_zero":
        text = text[:-1] + ', "seed": 007}'
    elif kind == "control":
        text = text[:-1] + ', "model": "a\tb"}'
    return text.encode()


@st.composite
def replay_files(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["row", "row", "row", "comment", "blank", "header", "bad", "long", "utf8", "big"]))
        if kind == "row":
            lines.append(b"%d,%d" % (draw(st.integers(-5000, 5000)), draw(st.integers(-50000, 50000))))
        elif kind == "comment":
            lines.append(b"# " + draw(st.binary(max_size=200)).replace(b"\n", b" ").replace(b"\r", b" "))
        elif kind == "blank":
            lines.append(b"")
        elif kind == "header":
            lines.append(b"theta_q12,theta_dot_q12")
        elif kind == "bad":
            lines.append(draw(st.binary(max_size=40)).replace(b"\n", b" ").replace(b"\r", b" "))
        elif kind == "long":
            lines.append(b"1," + b"9" * draw(st.integers(60, 5000)))
        elif kind == "utf8":
            lines.append(b"\xff\xfe,1")
        else:
            lines.append(b"%d,0" % draw(st.sampled_from([4194304, -4194304, 2**31, 10**30])))
    return b"\n".join(lines) + draw(st.sampled_from([b"\n", b""]))


def host_config_verdict(path: Path) -> str:
    try:
        check_config(path)
    except UserError as exc:
        return "reject: " + str(exc)
    return "accept"


def run_app(runs: list[list[str]], work: Path, heapsize: str = "256K", timeout: float = 600) -> list[str]:
    """Run each flag list through app.main in one MicroPython process (from device/); returns each run's output.
    The heap is twice a board's: one process holds the garbage of the runs before (the 128K cases have their own
    tests in test_app_hostile.py)."""
    work.mkdir(parents=True, exist_ok=True)
    runs_file = work / "runs.txt"
    runs_file.write_text("".join("\t".join(r) + "\n" for r in runs))
    env = dict(os.environ, MICROPYPATH=f".:{BOARDS / 'unix'}:.frozen")
    proc = subprocess.run([micropython_binary(), "-X", f"heapsize={heapsize}", str(DRIVER), str(runs_file)],
                          cwd=DEVICE, env=env, capture_output=True, timeout=timeout)
    text = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    outputs = []
    for k in range(len(runs)):
        start, end = text.find(f"=== run {k}\n"), text.find(f"=== rc {k} ")
        outputs.append(text[start:text.find("\n", end) + 1] if start >= 0 and end >= 0 else None)
    return outputs


def check_run(output: str | None) -> list[str]:
    """What is wrong with one run's output (empty: nothing)."""
    if output is None:
        return ["the run did not finish (process died?)"]
    lines = output.splitlines()[1:-1]
    problems = []
    if "Traceback" in output:
        problems.append("traceback: " + output[output.index("Traceback"):][:300])
    if not lines or lines[-1] != "# info: done":
        problems.append(f"last line {lines[-1] if lines else ''!r} is not '# info: done'")
    log = parse_lines(lines)
    errors = [m for m in log.messages if m.startswith("error: ")]
    if log.malformed:
        problems.append(f"{len(log.malformed)} lines neither rows nor messages: {log.malformed[:2]}")
    s = summary(log.messages)
    if any(e.startswith("error: config: ") for e in errors) and s:
        if s.get("safe") != "1" or (len(log) and not (log.data["torque"] == 0).all()):
            problems.append("config error but not the safe state")
    return problems


def device_config_verdict(output: str) -> str:
    """'accept', 'reject' (a config error line) or 'memory' (the file did not fit the heap: no verdict)."""
    errors = [ln for ln in output.splitlines() if ln.startswith("# error: config: ")]
    if any(ln.endswith(": does not fit in the heap") for ln in errors):
        return "memory"
    return "reject" if errors else "accept"
