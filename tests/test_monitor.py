"""Monitor: the log-stream parser never crashes, never loses a good line, counts everything else; the capture
flushes on every exit; end to end against the virtual board with a fake app that misbehaves."""
import io
import random

import pytest

from helpers import LOG_HEADER
from tinypolicy_host.board import monitor
from tinypolicy_host.board.logformat import StreamParser, read_log
from tinypolicy_host.board.monitor import Capture, Status
from tinypolicy_host.devtools.vboard import VBoardProcess

HEADER = LOG_HEADER


def row(i):
    return f"{i},{i * 10000},{3.1416 - i * 0.01:.4f},0.1000,-0.5000,41,3,0,0"


def feed_all(parser, chunks):
    events = []
    for c in chunks:
        events += parser.feed(c)
    return events + parser.finish()


def kinds(events, kind):
    return [e.text for e in events if e.kind == kind]


def stream(n=20):
    return ("# info: start\n" + HEADER + "\n" + "".join(row(i) + "\n" for i in range(n)) + "# info: done\n").encode()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100000])
def test_any_chunking_gives_the_same_lines(size):
    data = stream()
    p = StreamParser()
    events = feed_all(p, [data[i:i + size] for i in range(0, len(data), size)])
    assert kinds(events, "header") == [HEADER]
    assert kinds(events, "row") == [row(i) for i in range(20)]
    assert p.messages == ["info: start", "info: done"] and p.done
    assert not p.malformed and not p.partial


def test_crlf_and_lone_cr():
    p = StreamParser()
    data = (HEADER + "\r\n" + row(0) + "\r\n" + row(1) + "\r" + row(2) + "\n").encode()
    events = feed_all(p, [data])
    assert kinds(events, "row") == [row(0), row(1), row(2)]
    assert not p.malformed


def test_garbage_bytes_cost_no_good_line():
    p = StreamParser()
    data = (HEADER + "\n" + row(0) + "\n").encode()
    data += b"\xff\xfe\x00" + row(1).encode() + b"\n"  # line noise glued to the front of a good row
    data += b"\x00\x80junk\x81\n"  # pure garbage line
    data += row(2).encode() + b"\n"
    events = feed_all(p, [data])
    assert kinds(events, "row") == [row(0), row(1), row(2)]
    assert len(p.malformed) == 2 and p.salvaged == 1


def test_cut_line_glued_to_next_row():
    """A row cut short (lost bytes, reset) runs into the next one: the next one is kept by its tick number."""
    p = StreamParser()
    data = (HEADER + "\n" + row(0) + "\n" + row(1)[:9] + row(2) + "\n" + row(3) + "\n").encode()
    events = feed_all(p, [data])
    assert kinds(events, "row") == [row(0), row(2), row(3)]
    assert len(p.malformed) == 1 and p.malformed[0].startswith(row(1)[:9])


def test_wrong_field_count_and_non_numbers_are_malformed():
    p = StreamParser()
    data = (HEADER + "\n" + "1,2,3\n" + row(0).replace("41", "4x1") + "\n" + row(1) + ",9\n" + row(2) + "\n")
    events = feed_all(p, [data.encode()])
    assert kinds(events, "row") == [row(2)]
    assert len(p.malformed) == 3


def test_lines_before_header_and_repeated_header():
    p = StreamParser()
    data = ("boot noise\n" + HEADER + "\n" + row(0) + "\n" + HEADER + "\n" + row(1) + "\n").encode()
    events = feed_all(p, [data])
    assert kinds(events, "header") == [HEADER]
    assert kinds(events, "row") == [row(0), row(1)]
    assert p.malformed == ["boot noise"] and p.repeated_headers == 1


def test_unterminated_last_line_is_partial_not_a_row():
    p = StreamParser()
    events = feed_all(p, [(HEADER + "\n" + row(0) + "\n" + row(1)[:-2]).encode()])
    assert kinds(events, "row") == [row(0)]
    assert p.partial == [row(1)[:-2]]


def test_endless_line_is_bounded():
    p = StreamParser()
    events = feed_all(p, [HEADER.encode() + b"\n", b"7" * 5000, b"\n" + row(0).encode() + b"\n"])
    assert kinds(events, "row") == [row(0)]
    assert len(p.malformed) >= 1


def test_reset_marker_ends_the_stream():
    p = StreamParser()
    data = (HEADER + "\n" + row(0) + "\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>").encode()
    events = feed_all(p, [data, row(5).encode() + b"\n"])
    assert kinds(events, "row") == [row(0)] and p.reset and not p.malformed


def test_random_garbage_never_raises_and_keeps_clean_rows():
    rng = random.Random(7)
    p = StreamParser()
    good, chunks = [], [HEADER.encode() + b"\n"]
    for i in range(300):
        if rng.random() < 0.2:
            chunks.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30))).replace(b"\n", b"") + b"\n")
        chunks.append(row(i).encode() + b"\n")
        good.append(row(i))
    data = b"".join(chunks)
    pieces, i = [], 0
    while i < len(data):
        n = rng.randrange(1, 200)
        pieces.append(data[i:i + n])
        i += n
    events = feed_all(p, pieces)
    assert kinds(events, "row") == good  # every good row, in order, nothing invented


def test_capture_splits_raw_repl_sections_and_writes_only_csv():
    out, err = io.StringIO(), io.StringIO()
    cap = Capture(out, Status(err))
    data = stream(5) + b"\x04Traceback...\nKeyboardInterrupt: \n\x04>"
    for i in range(0, len(data), 11):
        cap.feed(data[i:i + 11], now=i / 1000)
    assert not cap.ended  # a complete trailer, but the board has not been silent yet
    cap.poll(now=len(data) / 1000 + monitor.QUIET_S + 0.01)
    assert cap.ended and "KeyboardInterrupt" in cap.error
    assert out.getvalue() == HEADER + "\n" + "".join(row(i) + "\n" for i in range(5))
    assert "# info: done" in err.getvalue()


def test_control_bytes_in_the_app_output_never_end_the_capture():
    """Issue 11 item 8: 0x04 / 0x03 bytes anywhere in the stream (noise on the link) are garbage inside a line;
    only the trailer followed by silence ends it, and every row the noise did not touch is kept."""
    rng = random.Random(5)
    rows = [row(i) for i in range(600)]
    hit = set(rng.sample(range(600), 60))
    body = "# info: start\n" + HEADER + "\n"
    data = bytearray(body.encode())
    for i, r in enumerate(rows):
        line = bytearray((r + "\n").encode())
        if i in hit:
            line.insert(rng.randrange(0, len(line) - 1), rng.choice(b"\x03\x04\x04"))
        data += line
    data += b"# info: done\n\x04\x04>"
    out = io.StringIO()
    cap = Capture(out, Status(io.StringIO()))
    t, i = 0.0, 0
    while i < len(data):
        n = rng.randrange(1, 90)
        cap.feed(bytes(data[i:i + n]), now=t)
        t += 0.01  # the app prints steadily: never quiet for QUIET_S before the end
        cap.poll(now=t)
        i += n
        assert not cap.ended or i >= len(data), i
    cap.poll(now=t + monitor.TRAILER_S + 1)
    assert cap.ended and cap.error == ""
    got = out.getvalue().splitlines()[1:]
    good = [r for i, r in enumerate(rows) if i not in hit]
    assert [g for g in got if g in set(good)] == good  # every untouched row, in order
    assert cap.parser.done


FAKE_MAIN = r'''
import sys, time
print("# info: fake app")
print("HEADER")
for i in range(N):
    if i == 7:
        sys.stdout.write("GARB\n")
    if i == 11:
        sys.stdout.write("11,110000,0.1")  # cut short, runs into the next row
        continue
    print("%d,%d,0.0500,0.0000,0.2500,40,2,0,0" % (i, i * 10000))
    time.sleep_ms(5)
DONE
'''


def fake_app(fs, n, done=True, tail=""):
    fs.mkdir(parents=True, exist_ok=True)
    src = FAKE_MAIN.replace("HEADER", HEADER).replace("N)", f"{n})")
    src = src.replace("GARB", "\\xff\\xfe garbage").replace("DONE", 'print("# info: done")' if done else tail)
    (fs / "main.py").write_text(src)


@pytest.fixture
def vboard_fs(vboard, tmp_path):
    return vboard, tmp_path / "fs"


def test_monitor_against_vboard_done(vboard_fs, tmp_path):
    vb, fs = vboard_fs
    fake_app(fs, 40)
    out = tmp_path / "logs" / "run.csv"
    err = io.StringIO()
    s = monitor.monitor(vb.port, out, duration=20, status_stream=err)
    assert s["reason"] == "done", err.getvalue()
    log = read_log(out)
    assert not log.malformed and log.messages == []  # the CSV holds header + rows only
    assert list(log.data["tick"]) == [i for i in range(40) if i != 11]
    assert s["rows"] == 39 and len(s["malformed"]) == 2  # the garbage line and the cut row
    assert "info: done" in s["messages"]


def test_monitor_duration_stops_app_and_flushes(vboard_fs, tmp_path):
    vb, fs = vboard_fs
    fake_app(fs, 100000, done=False)
    out = tmp_path / "run.csv"
    s = monitor.monitor(vb.port, out, duration=1.0, status_stream=io.StringIO())
    assert s["reason"] == "duration" and s["seconds"] < 6
    log = read_log(out)
    assert len(log) == s["rows"] > 20
    # the board is usable again afterwards (the app was interrupted, not left running)
    s2 = monitor.monitor(vb.port, tmp_path / "run2.csv", duration=0.5, status_stream=io.StringIO())
    assert s2["rows"] > 5


def test_monitor_reports_device_exception(vboard_fs, tmp_path):
    vb, fs = vboard_fs
    fake_app(fs, 3, done=False, tail="raise ValueError('boom')")
    s = monitor.monitor(vb.port, tmp_path / "run.csv", duration=10, status_stream=io.StringIO())
    assert s["reason"] == "app ended" and "ValueError: boom" in s["device_error"]
    assert s["rows"] == 3


def test_monitor_ctrl_c_flushes(vboard_fs, tmp_path, monkeypatch):
    vb, fs = vboard_fs
    fake_app(fs, 100000, done=False)
    calls = {"n": 0}
    real_update = Status.update

    def update(self, parser, elapsed, force=False):
        calls["n"] += 1
        if parser.rows >= 30 and not force:
            raise KeyboardInterrupt
        return real_update(self, parser, elapsed, force)

    monkeypatch.setattr(Status, "update", update)
    out = tmp_path / "run.csv"
    s = monitor.monitor(vb.port, out, duration=0, status_stream=io.StringIO())
    assert s["reason"] == "Ctrl-C"
    assert len(read_log(out)) == s["rows"] >= 30


def test_missing_port_is_a_user_error(tmp_path):
    from tinypolicy_host.errors import UserError

    with pytest.raises(UserError, match="no such serial port"):
        monitor.monitor("/dev/does-not-exist", tmp_path / "x.csv", duration=1)
    with pytest.raises(UserError, match="no serial port given"):
        monitor.monitor("", tmp_path / "x.csv", duration=1)


def test_bad_out_is_one_error_line_before_the_port_is_opened(tmp_path, monkeypatch, capsys):
    from tinypolicy_host.board import serialio
    from tinypolicy_host.cli import main

    def connect(port):
        raise AssertionError("the port must not be opened with a bad --out")

    monkeypatch.setattr(serialio, "connect", connect)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    for out, why in ((tmp_path, "is a folder"), (blocker / "run.csv", "cannot write")):
        assert main(["monitor", "--port", "/dev/null", "--out", str(out), "--duration", "1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --out {out}: {why}") and err.count("\n") == 1, err


def test_failed_connection_keeps_the_previous_log(tmp_path, monkeypatch):
    """OUT is only truncated once the raw REPL answers: a board that does not answer costs no old log."""
    from tinypolicy_host.board import serialio
    from tinypolicy_host.errors import UserError

    closed = []

    def no_raw_repl(transport, soft_reset):
        raise UserError("--port fake: no MicroPython raw REPL answering")

    monkeypatch.setattr(serialio, "connect", lambda port: "transport")
    monkeypatch.setattr(serialio, "enter_raw_repl", no_raw_repl)
    monkeypatch.setattr(serialio, "close", closed.append)
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text(HEADER + "\n" + row(0) + "\n")
    for out in (old, new):
        with pytest.raises(UserError, match="no MicroPython raw REPL"):
            monitor.monitor("/dev/null", out, duration=1, status_stream=io.StringIO())
    assert old.read_text() == HEADER + "\n" + row(0) + "\n"
    assert not new.exists()
    assert closed == ["transport", "transport"]


def test_monitor_survives_the_port_vanishing(tmp_path):
    """Board unplugged mid-run (here: the virtual board killed): rows so far are in the file, no traceback."""
    import threading

    fs = tmp_path / "fs"
    fake_app(fs, 100000, done=False)
    vb = VBoardProcess(fs, tmp_path / "port", run_main=False)
    try:
        threading.Timer(1.5, vb.stop).start()
        out = tmp_path / "run.csv"
        s = monitor.monitor(vb.port, out, duration=20, status_stream=io.StringIO())
    finally:
        vb.stop()
    assert s["reason"].startswith("port lost"), s["reason"]
    assert len(read_log(out)) == s["rows"] > 20


def test_a_0x04_in_the_device_output_does_not_truncate_the_capture(vboard_fs, tmp_path):
    """Issue 11 item 8 end to end: the raw REPL's end marker byte inside the app's output."""
    vb, fs = vboard_fs
    fake_app(fs, 60)
    src = (fs / "main.py").read_text().replace('    time.sleep_ms(5)', '    time.sleep_ms(5)\n    if i == 20:\n'
                                               '        sys.stdout.write("\\x04")')
    (fs / "main.py").write_text(src)
    out = tmp_path / "run.csv"
    s = monitor.monitor(vb.port, out, duration=20, status_stream=io.StringIO())
    assert s["reason"] == "done" and not s["cut_short"], s
    assert list(read_log(out).data["tick"])[-1] == 59 and s["rows"] >= 58


@pytest.mark.parametrize("how", ["board reset", "port lost"])
def test_a_capture_cut_short_exits_non_zero_with_the_rows_kept(tmp_path, how, capsys):
    """Issue 11 item 9: the board resets (the app ends the interpreter) or the port goes away mid-run."""
    import threading

    from tinypolicy_host.cli import main

    fs = tmp_path / "fs"
    fake_app(fs, 100000, done=False)
    if how == "board reset":
        src = (fs / "main.py").read_text().replace("    time.sleep_ms(5)", "    time.sleep_ms(5)\n    if i == 40:\n"
                                                   "        sys.exit(0)")
        (fs / "main.py").write_text(src)
    out = tmp_path / "run.csv"
    with VBoardProcess(fs, tmp_path / "port", run_main=False) as vb:
        if how == "port lost":
            threading.Timer(1.5, vb.stop).start()
        rc = main(["monitor", "--port", vb.port, "--out", str(out), "--duration", "20"])
    err = capsys.readouterr().err
    assert rc == 1, err[-500:]
    cut = [ln for ln in err.splitlines() if ln.startswith("monitor: capture cut short: ")]
    assert len(cut) == 1 and how.split()[1] in cut[0], err[-800:]
    rows = len(read_log(out))
    assert rows >= 20 and f"the {rows} rows received are in {out}" in cut[0]


def _real_app(fs, config):
    """The real app as sources on the virtual board's flash (flat layout), with this config."""
    import json
    import shutil

    from tinypolicy_host.paths import BOARDS, DEVICE, MODELS

    for pkg in ("tinypolicy", "tinypolicy_app"):
        shutil.copytree(DEVICE / pkg, fs / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(DEVICE / "main.py", fs / "main.py")
    shutil.copy(BOARDS / "unix" / "board.py", fs / "board.py")
    (fs / "models").mkdir()
    shutil.copy(MODELS / "policy_int8.bin", fs / "models" / "policy_int8.bin")
    (fs / "config.json").write_text(json.dumps(config))


def test_stray_ctrl_c_on_the_link_does_not_stop_the_app(vboard_fs, tmp_path):
    """Issue 11 item 8, input side: 0x03 bytes reach the board during a run; the app counts and ignores them,
    and the monitor can still stop it on purpose (CR Ctrl-C) at the end of --duration."""
    import os
    import threading
    import time

    from tinypolicy_host.board.logformat import summary

    vb, fs = vboard_fs
    _real_app(fs, {"mode": "realtime", "duration_s": 2, "period_ms": 10, "warmup": 0})
    stop = threading.Event()

    def noise():
        fd = os.open(vb.port, os.O_WRONLY | os.O_NOCTTY)
        try:
            time.sleep(1.0)  # into the run
            for _ in range(5):
                os.write(fd, b"\x03")
                if stop.wait(0.15):
                    break
        finally:
            os.close(fd)

    t = threading.Thread(target=noise)
    t.start()
    out = tmp_path / "run.csv"
    try:
        s = monitor.monitor(vb.port, out, duration=30, status_stream=io.StringIO())
    finally:
        stop.set()
        t.join()
    assert s["reason"] == "done", s["reason"]
    sm = summary(s["messages"])
    assert int(sm["stray_ctrl_c"]) >= 1 and sm["safe"] == "0", sm
    assert len(read_log(out)) + int(sm["missed"]) == 200
    # stopped on purpose: a long run ends at --duration with the summary
    out2 = tmp_path / "run2.csv"
    (fs / "config.json").write_text('{"mode": "realtime", "duration_s": 0, "warmup": 0}')
    s = monitor.monitor(vb.port, out2, duration=2.0, status_stream=io.StringIO())
    assert s["reason"] == "duration" and "info: stopped: stop request (CR Ctrl-C) on the link" in s["messages"]
    assert summary(s["messages"])["ticks"] and "info: done" in s["messages"]
