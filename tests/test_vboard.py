"""The virtual board behaves like a board for real mpremote over a real pty, survives resets, and stops cleanly."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinypolicy_host.devtools.vboard import VBoardProcess

MPREMOTE = [sys.executable, "-m", "mpremote"]


def mpremote(port, *args, timeout=20):
    return subprocess.run([*MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=timeout)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pids, timeout=5.0):
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def test_mpremote_resume_exec_cp_ls_run(vboard, tmp_path):
    assert Path(vboard.port).exists() and (tmp_path / "port").read_text().strip() == vboard.port
    r = mpremote(vboard.port, "resume", "exec", "import os, sys; print(os.getcwd()); print(sys.path)")
    assert r.returncode == 0, r.stderr
    assert str((tmp_path / "fs").resolve()) in r.stdout and "['', '.frozen'" in r.stdout
    src = tmp_path / "hello.py"
    src.write_text("print('hello from', __name__)\n")
    r = mpremote(vboard.port, "resume", "fs", "mkdir", ":lib", "+", "fs", "cp", str(src), ":lib/hello.py",
                 "+", "fs", "ls", ":lib")
    assert r.returncode == 0, r.stderr
    assert "hello.py" in r.stdout
    assert (tmp_path / "fs" / "lib" / "hello.py").read_text() == src.read_text()
    r = mpremote(vboard.port, "resume", "exec", "import hello")  # /lib is on the board's sys.path
    assert r.returncode == 0 and "hello from hello" in r.stdout, r.stdout + r.stderr
    r = mpremote(vboard.port, "resume", "run", str(src))
    assert r.returncode == 0 and "hello from __main__" in r.stdout, r.stdout + r.stderr


def test_soft_reset_restarts_interpreter(vboard):
    first = vboard.children()
    r = mpremote(vboard.port, "resume", "exec", "import sys; sys.modules['marker'] = 1")
    assert r.returncode == 0, r.stderr
    # Without `resume`, mpremote soft-resets into the raw REPL first: the unix process ends, the vboard
    # starts a fresh one (state gone, like a board) and puts it back into the raw REPL.
    r = mpremote(vboard.port, "exec", "import sys; print('marker' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
    r = mpremote(vboard.port, "soft-reset", "exec", "print(6 * 7)")
    assert r.returncode == 0 and r.stdout.strip() == "42", r.stdout + r.stderr
    assert vboard.children() and vboard.children() != first
    assert not wait_gone(first, 2.0), "the old interpreter must be gone after a reset"
    assert "raw REPL" in vboard.log()


def test_ctrl_c_interrupts_running_code(vboard):
    """mpremote's raw REPL starts with Ctrl-C: code started by a previous session must be interruptible."""
    from mpremote.transport_serial import SerialTransport

    t = SerialTransport(vboard.port)
    try:
        t.enter_raw_repl(soft_reset=False)
        t.exec_raw_no_follow("import time\nwhile True: time.sleep_ms(5)")
        time.sleep(0.3)
        t.serial.write(b"\x03")
        t.serial.timeout = 5  # bounded reads: a failure must not hang the suite
        out, err = t.follow(timeout=5)
        assert b"KeyboardInterrupt" in err
        assert t.exec("print('still here')").strip() == b"still here"
    finally:
        t.close()


def test_main_py_runs_at_boot_and_ctrl_c_reaches_repl(tmp_path):
    fs = tmp_path / "fs"
    fs.mkdir()
    (fs / "main.py").write_text("import time\nprint('booted main')\nwhile True:\n    time.sleep_ms(10)\n")
    with VBoardProcess(fs, tmp_path / "port") as vb:
        r = mpremote(vb.port, "resume", "exec", "print('at the REPL')")
        assert r.returncode == 0 and "at the REPL" in r.stdout, r.stdout + r.stderr
        assert "main.py" in vb.log()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_without_orphans(tmp_path, sig):
    vb = VBoardProcess(tmp_path / "fs", tmp_path / "port")
    try:
        kids = vb.children()
        assert kids and all(alive(p) for p in kids)
        r = mpremote(vb.port, "resume", "exec", "print(1)")
        assert r.returncode == 0
        # a busy interpreter must not keep it alive either
        from mpremote.transport_serial import SerialTransport

        t = SerialTransport(vb.port)
        t.serial.timeout = 5
        t.enter_raw_repl(soft_reset=False)
        t.exec_raw_no_follow("while True: pass")
        t0 = time.monotonic()
        rc = vb.stop(sig)
        assert time.monotonic() - t0 < 5
        try:
            t.close()
        except OSError:  # the port is gone, like an unplugged board
            pass
    finally:
        if vb.proc.poll() is None:
            vb.stop(signal.SIGKILL)
    assert rc == 0, vb.log()
    assert not wait_gone(kids), "interpreter processes left behind"
    assert not (tmp_path / "port").exists()
    assert "stopped" in vb.log()


def test_killed_relay_leaves_no_orphans(tmp_path):
    vb = VBoardProcess(tmp_path / "fs", tmp_path / "port")
    kids = vb.children()
    assert kids
    os.kill(vb.pid, signal.SIGKILL)
    vb.stop()
    assert not wait_gone(kids), "interpreter survived its relay"


def vboard_cli(tmp_path, *args, timeout=30):
    return subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "vboard", "--port-file", str(tmp_path / "port"),
                           *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--heapsize", "abc"], "error: --heapsize abc: expected bytes with an optional K or M suffix"),
    (["--heapsize", "128KB"], "error: --heapsize 128KB: expected bytes"),
    (["--fs", "FILE"], "error: --fs FILE: is a file"),
])
def test_bad_options_are_one_error_line(tmp_path, args, message):
    a_file = tmp_path / "flash.img"
    a_file.write_text("not a folder")
    args = [str(a_file) if a == "FILE" else a for a in args]
    r = vboard_cli(tmp_path, *args)
    assert r.returncode == 2 and r.stdout == "", r.stdout + r.stderr
    assert r.stderr.startswith(message.replace("FILE", str(a_file))), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert a_file.read_text() == "not a folder" and not (tmp_path / "port").exists()


def test_interpreter_that_dies_at_boot_stops_the_vboard(tmp_path):
    """No endless reboot loop: an interpreter that exits before its REPL (here a heap micropython rejects) three
    times in a row ends the vboard with one error line, its port file removed."""
    r = vboard_cli(tmp_path, "--fs", str(tmp_path / "fs"), "--heapsize", "0")
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the interpreter exited 3 times in a row before reaching the REPL (--heapsize 0")
    assert "Invalid command line arguments" in last and "Traceback" not in r.stderr
    assert r.stderr.count("vboard: boot ") == 3
    assert not (tmp_path / "port").exists()


def test_ctrl_c_between_repl_lines_is_held_not_fatal(tmp_path, monkeypatch):
    """Between two REPL lines the interpreter's terminal is in ISIG mode but SIGINT is not caught: a Ctrl-C
    byte there would become a fatal SIGINT. The relay sends what precedes it and holds it until the REPL reads
    raw input again (then it is an ordinary byte); code that catches SIGINT gets a SIGINT instead."""
    from tinypolicy_host.devtools import vboard as vb_module

    board = vb_module.VirtualBoard(tmp_path / "fs", run_main=False)
    try:
        written, signals = [], []
        monkeypatch.setattr(board, "_flush", lambda fd, buf: (written.append(bytes(buf)), buf.clear(), True)[-1])
        monkeypatch.setattr(board, "_interrupt", lambda: signals.append("SIGINT"))
        state = {"now": "between"}
        monkeypatch.setattr(board, "_code_state", lambda: state["now"])
        board._to_dev = bytearray(b"\r\x03\r\x01")
        board._deliver()
        assert written == [b"\r"] and bytes(board._to_dev) == b"\x03\r\x01" and not signals
        state["now"] = "repl"  # the REPL reads raw input again
        board._deliver()
        assert written[-1] == b"\x03\r\x01" and not board._to_dev and not signals
        state["now"] = "running"
        board._to_dev = bytearray(b"\x03")
        board._deliver()
        assert signals == ["SIGINT"] and written[-1] == b""
    finally:
        board.close()
