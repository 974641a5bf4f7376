"""The device control app on the unix port, end to end: run device/main.py (as a user would, from device/),
read the CSV log it printed, check swing-up, the log contract, open-loop replay and the error policy."""
import re
import shutil

import pytest

from devrun import run_micropython
from helpers import LOG_HEADER
from tinypolicy_host.board.logformat import parse_lines
from tinypolicy_host.paths import BOARDS, DEVICE, MODELS, REPO

HEADER = LOG_HEADER
MAIN = DEVICE / "main.py"
INT8 = MODELS / "policy_int8.bin"


def run_app(*flags, timeout=120, cwd=DEVICE, main=MAIN, **kw):
    """`cd device && micropython -X heapsize=128K main.py FLAGS` -> (CompletedProcess, Log)."""
    proc = run_micropython([main, *map(str, flags)], cwd=cwd, timeout=timeout, **kw)
    return proc, parse_lines(proc.stdout.splitlines())


def rc_of(proc) -> int:
    """The exit status (a plain int, so a failing assert does not print the whole captured log)."""
    return int(proc.returncode)


def summary(log) -> dict[str, str]:
    lines = [m for m in log.messages if m.startswith("info: summary ")]
    assert len(lines) == 1, log.messages
    return dict(kv.split("=", 1) for kv in lines[0].split()[2:])


def check_stream(proc, log, n_rows=None):
    """The log contract: exact header, every row well-formed, summary then `done` as the last line."""
    lines = proc.stdout.splitlines()
    assert HEADER in lines, proc.stdout[:1500] + proc.stderr
    assert log.columns == HEADER.split(",")
    assert not log.malformed, log.malformed[:5]
    assert lines[-1] == "# info: done", lines[-3:]
    err = proc.stderr.strip()
    assert not err, err
    if n_rows is not None:
        assert len(log) == n_rows, (len(log), n_rows)


def assert_swing_up_and_hold(log, period_ms, duration_s=10.0):
    tick = log.data["tick"]
    theta = log.data["theta"]
    t_sched = tick * period_ms / 1000.0
    assert abs(theta[0]) > 3.0, "did not start hanging"
    last = t_sched >= duration_s - 5.0
    assert last.sum() >= int(4.5 * 1000 / period_ms), "too few rows in the last 5 s"
    worst = float(abs(theta[last]).max())
    assert worst < 0.1, f"|theta| reached {worst:.3f} rad in the last 5 s (period {period_ms} ms)"


@pytest.mark.parametrize("period_ms", [5, 10, 20, 50])
def test_batch_swing_up_with_noise(period_ms):
    proc, log = run_app("--mode", "batch", "--period-ms", period_ms, "--duration-s", 10, "--noise", 0.01,
                        "--dtype", "int8")
    check_stream(proc, log, n_rows=10000 // period_ms)
    assert rc_of(proc) == 0, proc.stdout[-1500:]
    assert_swing_up_and_hold(log, period_ms)
    s = summary(log)
    assert s["mode"] == "batch" and int(s["period_ms"]) == period_ms and s["safe"] == "0"
    assert s["dropped"] == "0" and s["overruns"] == "0"
    assert float(s["upright_at_s"]) <= 5.0
    assert (log.data["t_us"] == log.data["tick"] * period_ms * 1000).all()  # simulated time
    assert (log.data["lateness_us"] == 0).all()


@pytest.mark.slow
def test_realtime_swing_up_10ms():
    proc, log = run_app("--mode", "realtime", "--period-ms", 10, "--duration-s", 10, "--noise", 0.01,
                        "--dtype", "int8", timeout=60)
    check_stream(proc, log)
    assert rc_of(proc) == 0, proc.stdout[-1500:]
    s = summary(log)
    assert s["mode"] == "realtime" and s["safe"] == "0" and s["dropped"] == "0"
    # ticks are schedule slots: a missed slot leaves a gap, so count rows + missed
    assert len(log) + int(s["missed"]) == 1000
    assert int(s["missed"]) < 20, s  # a shared CI machine may stall now and then, but not often
    assert_swing_up_and_hold(log, 10)
    assert any("hard (allocation-free, heap locked)" in m for m in log.messages), log.messages
    # measured control time follows the absolute schedule: t_us = tick * period + lateness, no drift
    drift = log.data["t_us"] - log.data["tick"] * 10000 - log.data["lateness_us"]
    assert (drift == 0).all()
    assert (log.data["lateness_us"] >= 0).all()


def test_open_loop_replay_is_bit_exact(tmp_path):
    expected_file = REPO / "data" / "outputs_expected.csv"
    tag = expected_file.read_text().splitlines()[0]
    import zlib

    crc = f"crc32=0x{zlib.crc32(INT8.read_bytes()):08x}"
    assert crc in tag, f"data/outputs_expected.csv is for another model ({tag}): run tools/gen_replay_data.py"
    out = tmp_path / "replay_out.csv"
    proc, log = run_app("--sensor", "replay", "--replay-input", "data/inputs.csv", "--replay-output", out,
                        "--model", "models/policy_int8.bin", cwd=REPO)
    assert rc_of(proc) == 0, proc.stdout[-1500:] + proc.stderr
    check_stream(proc, log)
    expected = [ln for ln in expected_file.read_text().splitlines() if not ln.startswith("#")]
    got = out.read_text().splitlines()
    assert got[0] == expected[0] == "torque_q12"
    assert len(got) == len(expected)
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    assert not bad, f"{len(bad)} rows differ, first: {bad[:3]}"


def test_compiled_mpy_package_runs_the_loop(tmp_path):
    """The x64 .mpy build of the package (what boards run, compiled) drives the same loop."""
    shutil.copy(MAIN, tmp_path / "main.py")
    proc, log = run_app("--mode", "batch", "--duration-s", 10, "--period-ms", 20, main=tmp_path / "main.py",
                        cwd=REPO, variant="mpy", extra_path=[BOARDS / "unix"])
    check_stream(proc, log, n_rows=500)
    assert rc_of(proc) == 0
    assert_swing_up_and_hold(log, 20)


def test_bad_config_runs_safe_zero_torque(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"period_ms": 3, "mode": "batch", "duration_s": 1}')
    proc, log = run_app("--config", cfg)
    check_stream(proc, log, n_rows=100)
    assert rc_of(proc) == 1
    assert "error: config: period_ms: 3 not allowed (allowed: integer 5..50)" in log.messages
    assert (log.data["torque"] == 0).all()
    assert ((log.data["flags"].astype(int) & 4) == 4).all()


def _assert_safe_run(proc, log, message):
    check_stream(proc, log, n_rows=100)
    assert rc_of(proc) == 1
    assert message in log.messages, log.messages
    assert summary(log)["safe"] == "1"
    assert (log.data["torque"] == 0).all()
    assert ((log.data["flags"].astype(int) & 4) == 4).all()


def test_non_finite_config_number_is_a_config_error(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"period_ms": 1e400, "mode": "batch", "duration_s": 1}')  # json: inf
    proc, log = run_app("--config", cfg)
    _assert_safe_run(proc, log, "error: config: period_ms: inf not allowed (allowed: integer 5..50)")


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_unreadable_config_given_with_flag_runs_safe(tmp_path, what):
    path = tmp_path / "nope.json" if what == "missing" else tmp_path
    proc, log = run_app("--config", path, "--mode", "batch", "--duration-s", 1)
    errors = [m for m in log.messages if m.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: config: {path}: cannot read ("), log.messages
    _assert_safe_run(proc, log, errors[0])
    assert not any("no config file" in m for m in log.messages), log.messages


def test_missing_default_config_runs_defaults(tmp_path):
    """No config.json beside main.py (and no --config): defaults and flags, not an error."""
    shutil.copy(MAIN, tmp_path / "main.py")
    proc, log = run_app("--mode", "batch", "--duration-s", 1, main=tmp_path / "main.py", cwd=REPO,
                        extra_path=[BOARDS / "unix"])
    check_stream(proc, log, n_rows=100)
    assert rc_of(proc) == 0, log.messages
    assert f"info: no config file ({tmp_path}/config.json): defaults and flags only" in log.messages
    assert summary(log)["safe"] == "0"


def test_largest_warmup_fits_the_128k_heap():
    proc, log = run_app("--mode", "batch", "--duration-s", 1, "--warmup", 1000)
    check_stream(proc, log, n_rows=100)
    assert rc_of(proc) == 0, log.messages
    assert any(m.startswith("info: warmup n=1000 cold_us=") for m in log.messages), log.messages
    assert summary(log)["safe"] == "0" and not any(m.startswith("error: ") for m in log.messages)


def test_missing_model_runs_safe_zero_torque():
    proc, log = run_app("--mode", "batch", "--duration-s", 1, "--model", "models/nope.bin")
    check_stream(proc, log, n_rows=100)
    assert rc_of(proc) == 1
    assert any(re.match(r"error: model: .*nope\.bin: cannot open", m) for m in log.messages), log.messages
    assert (log.data["torque"] == 0).all()
    assert abs(log.data["theta"]).min() > 3.0  # still hanging


def test_corrupt_model_names_file_and_field_once(tmp_path):
    blob = bytearray(INT8.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # a flipped weight byte: the CRC no longer matches
    bad = tmp_path / "flipped.bin"
    bad.write_bytes(bytes(blob))
    proc, log = run_app("--mode", "batch", "--duration-s", 1, "--model", bad)
    check_stream(proc, log, n_rows=100)
    assert rc_of(proc) == 1
    errors = [m for m in log.messages if m.startswith("error: model:")]
    assert len(errors) == 1 and "crc" in errors[0].lower(), log.messages
    assert errors[0].count("flipped.bin") == 1, errors[0]
    assert (log.data["torque"] == 0).all()


def test_replay_mistakes_are_one_error_line(tmp_path):
    prose = tmp_path / "notes.txt"
    prose.write_text("root:x:0:0:root:/root:/bin/sh\nnot,numbers\n")
    three = tmp_path / "three.csv"
    three.write_text("theta_q12,theta_dot_q12\n0,0\n1,2,3\n")
    huge = tmp_path / "huge.csv"
    huge.write_text("0,0\n99999999999,0\n")  # array('i') would keep 1215752191 on the unix port
    cases = [(("--replay-input", prose), r"error: replay_input: .*notes\.txt:1: want two integer columns"),
             (("--replay-input", three), r"error: replay_input: .*three\.csv:3: want two integer columns.*found 3"),
             (("--replay-input", huge), r"error: replay_input: .*huge\.csv:2: 99999999999 out of range"),
             (("--replay-input", tmp_path / "none.csv"), r"error: replay_input: .*none\.csv: cannot read"),
             (("--replay-input", "data/inputs.csv", "--replay-output", tmp_path / "no" / "dir" / "out.csv"),
              r"error: replay_output: .*out\.csv: cannot write")]
    for flags, message in cases:
        proc, log = run_app("--sensor", "replay", "--model", "models/policy_int8.bin", *flags, cwd=REPO)
        assert rc_of(proc) == 1, flags
        assert "Traceback" not in proc.stderr, proc.stderr
        assert any(re.match(message, m) for m in log.messages), (flags, log.messages)


def test_flag_mistakes_exit_2():
    for flags in (["--bogus", "1"], ["--period-ms", "70"], ["--noise"]):
        proc, log = run_app(*flags)
        assert rc_of(proc) == 2, flags
        assert log.messages[0].startswith("error: "), log.messages
        assert HEADER not in proc.stdout


def test_decimation_and_log_level():
    proc, log = run_app("--mode", "batch", "--duration-s", 1, "--decimation", 10, "--log-level", "warn")
    check_stream(proc, log, n_rows=10)
    assert list(log.data["tick"]) == list(range(0, 100, 10))
    # info lines suppressed at level warn, except the protocol lines a monitor relies on
    assert [m.split()[1] for m in log.messages] == ["summary", "done"], log.messages


def test_help_lists_keys():
    proc, _ = run_app("--help")
    assert rc_of(proc) == 0
    for key in ("--period-ms", "--duration-s", "--noise", "--init-theta", "--log-level", "--decimation"):
        assert key in proc.stdout
