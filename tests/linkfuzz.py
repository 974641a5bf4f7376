"""Serial-link fuzzing (issue 11 items 8, 9): byte noise and kills between `monitor` and the virtual board.

`NoisyLink` is a relay on its own pseudo-terminal: the monitor connects to `link.port`, the relay to the virtual
board. During the run (from the log header to the summary; the raw-REPL handshake before it is left alone, as
mpremote's own protocol has no error recovery) board -> host, it corrupts a fraction of the lines (one noise byte
inserted, 0x03 / 0x04 / any byte) and remembers which lines it left alone; host -> board, it adds stray 0x03
bytes during the run. `kill()` closes the link mid-run (a pulled cable). `check` states the goals: every row the
noise did not touch is in the capture, in order; a clean run ends normally (done / duration), one whose link was
killed before the capture ended is cut short (exit status 1) with its rows kept.
"""
import io
import json
import os
import pty
import random
import re
import select
import shutil
import threading
import time
import tty
from pathlib import Path

from tinypolicy_host.board import monitor
from tinypolicy_host.board.logformat import read_log
from tinypolicy_host.paths import BOARDS, DEVICE, MODELS

ROW = re.compile(rb"^\d+,\d+,")


def real_app(fs: Path, config: dict) -> None:
    """The real app as sources on the virtual board's flash (flat layout), with this config."""
    for pkg in ("tinypolicy", "tinypolicy_app"):
        if not (fs / pkg).exists():
            shutil.copytree(DEVICE / pkg, fs / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(DEVICE / "main.py", fs / "main.py")
    shutil.copy(BOARDS / "unix" / "board.py", fs / "board.py")
    (fs / "models").mkdir(exist_ok=True)
    shutil.copy(MODELS / "policy_int8.bin", fs / "models" / "policy_int8.bin")
    (fs / "config.json").write_text(json.dumps(config))


class NoisyLink:
    def __init__(self, board_port: str, seed: int, line_noise: float = 0.1, ctrl_c_per_s: float = 2.0):
        self.rng = random.Random(seed)
        self.line_noise, self.ctrl_c_per_s = line_noise, ctrl_c_per_s
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self._slave = slave
        self.port = os.ttyname(slave)
        self.board = os.open(board_port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.board)
        self.clean_rows: list[bytes] = []  # rows sent on untouched
        self.hit = self.injected = 0
        self._line = bytearray()
        self.running = False  # between the log header and the summary: the run the noise applies to
        self._stop = threading.Event()
        self.killed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _to_host(self, data: bytes) -> bytes:
        """Outside the run bytes pass at once (the REPL's prompts end without a newline); inside it whole lines."""
        out = bytearray()
        for b in data:
            self._line.append(b)
            if not self.running:
                out.append(b)
            if b != 10:
                continue
            line = bytes(self._line)
            self._line.clear()
            if not self.running:
                self.running = line.startswith(b"tick,")
                continue
            if line.startswith(b"# info: summary"):
                self.running = False
            elif self.rng.random() < self.line_noise:
                i = self.rng.randrange(0, len(line) - 1)
                line = line[:i] + bytes([self.rng.choice([3, 4, 4, self.rng.randrange(256)])]) + line[i:]
                self.hit += 1
            elif ROW.match(line):
                self.clean_rows.append(line.rstrip(b"\r\n"))
            out += line
        return bytes(out)

    def _run(self):
        next_noise = time.monotonic() + 1.0
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self.master, self.board], [], [], 0.02)
                if self.master in r:
                    os.write(self.board, os.read(self.master, 4096))
                if self.board in r:
                    data = os.read(self.board, 4096)
                    os.write(self.master, self._to_host(data))
                if self.running and self.ctrl_c_per_s and time.monotonic() >= next_noise:
                    os.write(self.board, b"\x03")  # a stray Ctrl-C towards the board
                    self.injected += 1
                    next_noise = time.monotonic() + self.rng.expovariate(self.ctrl_c_per_s)
            except OSError:
                return

    def close(self):
        done = self.killed
        self.kill()
        self.killed = done

    def kill(self):
        """The cable is pulled: the host side of the link goes away."""
        self.killed = True
        self._stop.set()
        self._thread.join()
        for fd in (self.master, self.board):
            try:
                os.close(fd)
            except OSError:
                pass


def noisy_run(board_port: str, out: Path, seed: int, kill_after: float | None = None, duration: float = 30,
              **noise) -> dict:
    """One monitored run of the app through a NoisyLink; returns the monitor's summary plus what the link did."""
    link = NoisyLink(board_port, seed, **noise)
    timer = threading.Timer(kill_after, link.kill) if kill_after else None
    if timer:
        timer.start()
    try:
        s = monitor.monitor(link.port, out, duration=duration, status_stream=io.StringIO())
    finally:
        if timer:
            timer.cancel()
            timer.join()
        killed = link.killed  # before the monitor returned: the capture was cut
        link.close()
    captured = out.read_text().splitlines()[1:] if out.exists() else []
    wanted = [r.decode() for r in link.clean_rows]
    kept = set(captured)
    s["lost_good_rows"] = sum(1 for r in wanted if r not in kept)
    s["good_rows"] = len(wanted)
    s["hit_lines"], s["stray_ctrl_c_sent"] = link.hit, link.injected
    s["killed"] = killed
    s["log_rows"] = len(read_log(out)) if captured else 0
    return s


def check(s: dict) -> list[str]:
    problems = []
    if not s["killed"] and s["lost_good_rows"]:
        problems.append(f"{s['lost_good_rows']} of {s['good_rows']} untouched rows missing from the capture")
    if s["killed"] and not s["cut_short"]:
        problems.append(f"killed link but not cut short (reason {s['reason']})")
    if s["log_rows"] != s["rows"]:
        problems.append(f"{s['rows']} rows received but {s['log_rows']} in the file")
    if not s["killed"] and (s["cut_short"] or not s["reason"].startswith(("done", "duration"))):
        problems.append(f"clean run ended with {s['reason']}")
    return problems
