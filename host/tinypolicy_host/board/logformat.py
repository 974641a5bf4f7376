"""The device log format, in one place: what the app prints (device/tinypolicy_app/logger.py) and how it is read.

    tick,t_us,theta,theta_dot,torque,infer_us,lateness_us,overruns,flags     <- the header, exactly this
    0,0,3.1416,0.0000,-2.0000,41,0,0,8                                       <- one row per recorded tick
    # info: text                                                             <- messages: '# level: text'
    # info: summary ticks=1000 ... safe=0 bad_inputs=0 stray_ctrl_c=0        <- at the end, key=value pairs
    # info: done                                                             <- the last line of a run

Columns: tick (schedule slot), t_us (control time, us), theta (rad), theta_dot (rad/s), torque (N·m), infer_us,
lateness_us, overruns (cumulative), flags (FLAGS bits). `StreamParser` reads bytes as they arrive (the monitor):
it never raises, resynchronises at every newline and non-text byte, and salvages a good row glued to a broken
line. `parse_lines` / `read_log` read a whole log (files, a process's output) with the same rules into a `Log` of
numpy columns. `summary` parses the summary message.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError

COLUMNS = ["tick", "t_us", "theta", "theta_dot", "torque", "infer_us", "lateness_us", "overruns", "flags"]
HEADER = ",".join(COLUMNS)
FLAGS = {"missed": 1, "overrun": 2, "safe": 4, "saturated": 8, "dropped": 16, "bad_input": 32}
SUMMARY = "info: summary "
DONE = "info: done"
RESET_MARK = b"MPY: soft reboot"
BOOT_BANNER = b"MicroPython v"  # a board's friendly-REPL banner: it restarted
MAX_LINE = 4096  # bytes without a newline: not a log line

_PRINTABLE = re.compile(rb"[^\x20-\x7e\t]+")  # runs of bytes that cannot be part of a log line
_TICK = re.compile(r"(\d+),")


def summary(messages) -> dict[str, str]:
    """The key=value pairs of the (last) `# info: summary` message; {} without one."""
    found = {}
    for m in messages:
        if m.startswith(SUMMARY):
            found = dict(kv.split("=", 1) for kv in m[len(SUMMARY):].split() if "=" in kv)
    return found


@dataclass
class Event:
    kind: str  # "header" | "row" | "message" | "malformed" | "partial" | "reset"
    text: str


@dataclass
class StreamParser:
    """Incremental parser of the device log stream (bytes in, events out). Never raises on input."""

    columns: list[str] | None = None
    header: str | None = None
    rows: int = 0
    malformed: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    salvaged: int = 0
    repeated_headers: int = 0
    messages: list[str] = field(default_factory=list)
    done: bool = False
    reset: bool = False  # the board rebooted ('MPY: soft reboot' or its banner): the app's stream ended there
    last: dict = field(default_factory=dict)  # column -> value of the last good row
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Event]:
        if self.reset:
            return []
        self._buf += data
        events: list[Event] = []
        while True:
            cut = _first_newline(self._buf)
            if cut < 0:
                break
            line = bytes(self._buf[:cut])
            del self._buf[: cut + 1]
            bare = line.strip(b"\r")
            if RESET_MARK in bare or BOOT_BANNER in bare:  # also after garbage (e.g. the raw REPL's \x04s)
                self.reset = True
                self._buf.clear()  # what follows is the rebooted board's REPL, not the app
                events.append(Event("reset", bare.decode("ascii", "replace")))
                break
            events += self.line(line)
        if len(self._buf) > MAX_LINE:
            events.append(self._bad(bytes(self._buf)))
            self._buf.clear()
        return events

    def finish(self) -> list[Event]:
        """End of stream: an unterminated last line is never trusted (it may be cut mid-number)."""
        rest = bytes(self._buf).strip(b"\r")
        self._buf.clear()
        if not rest.strip():
            return []
        text = rest.decode("ascii", "replace")
        self.partial.append(text)
        return [Event("partial", text)]

    def line(self, raw: bytes) -> list[Event]:
        """Events of one complete line (without its newline)."""
        raw = raw.strip(b"\r")
        if not raw.strip():
            return []
        if not _PRINTABLE.search(raw):
            event = self._classify(raw.decode("ascii"))
            if event is not None:
                return [event]
        # Broken line: keep a good line hiding at its end (after garbage bytes or glued to a cut-off line).
        for candidate in self._candidates(raw):
            event = self._classify(candidate)
            if event is not None:
                self.salvaged += 1
                return [self._bad(raw), event]
        return [self._bad(raw)]

    def _candidates(self, raw: bytes):
        pieces = _PRINTABLE.split(raw)
        tail = pieces[-1].decode("ascii") if pieces else ""
        if tail and tail != raw.decode("ascii", "replace"):
            yield tail
        # A row glued to the end of a line that lost its newline: its tick is the nearest one after the last
        # good tick (e.g. '11,110000,0.1' + '12,120000,...' -> try '12,...' before '112,...' or '2,...').
        if self.columns and "tick" in self.last:
            last_tick = int(self.last["tick"])
            starts = []
            for i in range(1, len(tail)):
                m = _TICK.match(tail, i)
                if m and last_tick < int(m.group(1)) <= last_tick + 50:
                    starts.append((int(m.group(1)), i))
            for _, i in sorted(starts):
                yield tail[i:]

    def _classify(self, text: str) -> Event | None:
        text = text.strip()
        if text.startswith("#"):
            message = text[1:].strip()
            self.messages.append(message)
            if message == DONE:
                self.done = True
            return Event("message", message)
        if text.startswith("tick,"):
            if self.columns is None:
                self.columns, self.header = text.split(","), text
                return Event("header", text)
            if text == self.header:
                self.repeated_headers += 1
                return Event("message", "(repeated header)")
            return None
        if self.columns is None:
            return None
        fields = text.split(",")
        if len(fields) != len(self.columns):
            return None
        try:
            values = [float(f) for f in fields]
        except ValueError:
            return None
        self.rows += 1
        self.last = dict(zip(self.columns, values, strict=True))
        return Event("row", text)

    def _bad(self, raw: bytes) -> Event:
        text = raw.decode("ascii", "backslashreplace")
        self.malformed.append(text)
        return Event("malformed", text)


def _first_newline(buf: bytearray) -> int:
    n, r = buf.find(b"\n"), buf.find(b"\r")
    if r >= 0 and (n < 0 or r < n) and r + 1 < len(buf) and buf[r + 1:r + 2] != b"\n":
        return r  # a lone CR ends a line too (CRLF is handled as one break)
    return n


@dataclass
class Log:
    columns: list[str]
    data: dict[str, np.ndarray]  # column -> float64 array
    messages: list[str] = field(default_factory=list)  # '# level: text' lines, without the '# '
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0


def parse_lines(lines) -> Log:
    """A whole log (text lines) with the stream rules: header, rows, messages; a line that is neither is
    recorded as malformed with its 1-based line number and skipped (a good row salvaged from it is kept)."""
    p = StreamParser()
    rows, malformed = [], []
    for number, raw in enumerate(lines, 1):
        for ev in p.line(raw.encode("utf-8", "backslashreplace")):
            if ev.kind == "row":
                rows.append([float(f) for f in ev.text.split(",")])
            elif ev.kind == "malformed":
                malformed.append((number, ev.text))
    if p.columns is None:
        return Log([], {}, p.messages, malformed)
    table = np.array(rows, dtype=np.float64).reshape(-1, len(p.columns))
    return Log(p.columns, {c: table[:, i] for i, c in enumerate(p.columns)}, p.messages, malformed)


def read_log(path) -> Log:
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise UserError(f"{path}: cannot read log ({exc.strerror})") from exc
    log = parse_lines(text.splitlines())
    if not log.columns:
        raise UserError(f"{path}: no CSV header line starting with 'tick,' found")
    return log
