"""Issue 11 items 5-7 end to end: hostile replay files, configs and flags through device/main.py on the unix port
(128K heap). Every case is one `# error:` line naming the file, never a traceback, and where the loop runs it runs
in the safe state (zero torque)."""
import os

import pytest
from test_closed_loop import MAIN, run_app, summary

from devrun import run_micropython
from tinypolicy_host.board.logformat import HEADER  # noqa: E402
from tinypolicy_host.paths import DEVICE, REPO


def _errors(log, model=True):
    """The error lines; model=False leaves out a model error (a model that does not fit the heap is its own
    case: the 128K heap's margin depends on path lengths, and the replay checks come after it)."""
    return [m for m in log.messages if m.startswith("error: ") and (model or not m.startswith("error: model: "))]


def _no_traceback(proc):
    assert "Traceback" not in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-2000:]
    assert proc.stdout.splitlines()[-1] == "# info: done", proc.stdout[-500:]


def _replay(path, timeout=120):
    return run_app("--sensor", "replay", "--replay-input", path, "--model", "models/policy_int8.bin", cwd=REPO,
                   timeout=timeout)


def test_replay_with_invalid_utf8_is_one_error_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"theta_q12,theta_dot_q12\n0,0\n\xff\xfe,1\n")
    proc, log = _replay(bad)
    _no_traceback(proc)
    assert proc.returncode == 1
    want = f"error: replay_input: {bad}:3: want two integer columns theta_q12,theta_dot_q12"
    assert _errors(log, model=False) == [want]


def test_a_40000_row_replay_is_streamed(tmp_path):
    big = tmp_path / "big.csv"
    big.write_text("".join(f"{k % 4000},{-(k % 3000)}\n" for k in range(40000)))
    proc, log = _replay(big)
    _no_traceback(proc)
    assert proc.returncode == 0, log.messages
    assert len(log) == 40000 and not log.malformed
    assert summary(log)["ticks"] == "40000"


def test_a_300kb_replay_line_is_one_error_line(tmp_path):
    long = tmp_path / "long.csv"
    long.write_text("0,0\n1," + "1" * 300000 + "\n")
    proc, log = _replay(long)
    _no_traceback(proc)
    want = f"error: replay_input: {long}:2: line longer than 64 bytes (want theta_q12,theta_dot_q12)"
    assert _errors(log, model=False) == [want]


@pytest.mark.parametrize("name,text,what", [
    ("deep.json", "[" * 5000 + "]" * 5000, "10000 bytes, more than a config may have (2048)"),
    ("huge.json", '{"model": "' + "a" * 1000000 + '"}', "1000013 bytes, more than a config may have (2048)"),
    ("nested.json", '{"mode": ' + "[" * 1000 + "]" * 1000 + "}", "not valid JSON (line 1 col 10: nested value"),
    ("trailing.json", '{"mode": "batch", "duration_s": 1,}', "not valid JSON (line 1 col 35: expected a key"),
    ("colon.json", '{"mode" "batch"}', "not valid JSON (line 1 col 9: expected ':' after the key)"),
])
def test_hostile_config_is_one_error_line_and_the_safe_loop_runs(tmp_path, name, text, what):
    cfg = tmp_path / name
    cfg.write_text(text)
    proc, log = run_app("--config", cfg, "--mode", "batch", "--duration-s", 1)
    _no_traceback(proc)
    errors = _errors(log, model=False)
    assert len(errors) == 1 and errors[0].startswith(f"error: config: {cfg}: {what}"), errors
    assert proc.returncode == 1 and summary(log)["safe"] == "1" and len(log) == 100
    assert (log.data["torque"] == 0).all()


@pytest.mark.parametrize("heapsize", ["40K", "56K", "64K", "72K", "80K", "96K"])
def test_memory_error_at_start_up_is_one_error_line(heapsize):
    """A heap too small for the app, the config, the model or the loop buffers: one error line, `done`, exit 1."""
    proc = run_micropython([MAIN, "--mode", "batch", "--duration-s", 0.2], cwd=DEVICE, heapsize=heapsize)
    _no_traceback(proc)
    lines = proc.stdout.splitlines()
    errors = [ln for ln in lines if ln.startswith("# error: ")]
    if errors:  # at the larger sizes the app may fit after all: then it is a normal run
        assert proc.returncode == 1
        assert any("heap" in e for e in errors), errors
        if HEADER in lines:
            assert any(ln.startswith("# info: summary ") and ln.endswith("safe=1 bad_inputs=0 stray_ctrl_c=0")
                       for ln in lines), lines[-3:]


def _fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def test_fifo_paths_do_not_hang(tmp_path):
    fifo = _fifo(tmp_path)
    for flags, want in ((("--model", fifo), f"error: model: {fifo}: a FIFO, not a model file"),
                        (("--config", fifo), f"error: config: {fifo}: cannot read (a FIFO, not a file)")):
        proc, log = run_app(*flags, "--mode", "batch", "--duration-s", 1, timeout=30)
        _no_traceback(proc)
        assert any(e.startswith(want) for e in _errors(log)), log.messages
        assert summary(log)["safe"] == "1" and (log.data["torque"] == 0).all()
    proc, log = _replay(fifo, timeout=30)
    _no_traceback(proc)
    assert _errors(log, model=False) == [f"error: replay_input: {fifo}: a FIFO, not a file"]
    proc, log = run_app("--sensor", "replay", "--replay-input", "data/inputs.csv", "--replay-output", fifo,
                        cwd=REPO, timeout=30)
    _no_traceback(proc)
    assert _errors(log, model=False) == [f"error: replay_output: {fifo}: cannot write (a FIFO, not a file)"]


def test_empty_config_flag_is_a_usage_error():
    proc, log = run_app("--config=", "--mode", "batch", "--duration-s", 1)
    assert proc.returncode == 2
    assert log.messages[0] == "error: flag --config needs a path (got an empty value)"
    assert HEADER not in proc.stdout
