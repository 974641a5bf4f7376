"""Start the application on a board and capture its CSV log stream.

How the app is started: soft reset into the raw REPL (a clean heap, no timers left from a previous run; on the
virtual board this restarts the interpreter), then `import main` in the raw REPL — the same on
a real board and on the virtual board; a board does not run main.py by itself after a raw-REPL soft reset.
`--no-reset` skips the soft reset (mpremote `resume`).
How it stops: after --duration seconds, on the device's `# info: done` (the app then returns by itself), on
Ctrl-C, or when the app ends or fails; in every case still-running device code gets Ctrl-C, the lines it prints
while stopping are kept, and everything received is in OUT when the monitor exits.

OUT is checked before the port is opened and only replaced once the board's raw REPL answers (a board that does
not answer leaves the previous log alone). It gets the CSV header and the data rows exactly as the device printed
them. `#` lines are messages: shown on stderr, not written to the CSV. A line that is neither (garbage bytes, a
line cut short by a reset, a row with the wrong field count) is counted as malformed and reported; line splitting
resynchronises at every newline and at any non-text byte, so a broken line never takes the next good line with it.
"""
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..userpaths import writable_file
from . import serialio

START_CODE = "import sys\nsys.modules.pop('main', None)\nimport main"  # as at boot: __file__, tracebacks
STATUS_HZ = 5.0
STOP_TIMEOUT_S = 3.0
RESET_MARK = b"MPY: soft reboot"
DONE_GRACE_S = 2.0  # after '# info: done', how long the app gets to return by itself

_PRINTABLE = re.compile(rb"[^\x20-\x7e\t]+")  # runs of bytes that cannot be part of a log line
_TICK = re.compile(r"(\d+),")


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
    reset: bool = False  # the board rebooted ('MPY: soft reboot'): the app's stream ended there
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
            if line.strip(b"\r") == RESET_MARK:
                self.reset = True
                self._buf.clear()  # what follows is the rebooted board's REPL, not the app
                events.append(Event("reset", RESET_MARK.decode()))
                break
            events += self._line(line)
        if len(self._buf) > 4096:  # no newline for this long: not a log line
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

    # -- one line ----------------------------------------------------------------------------------------------
    def _line(self, raw: bytes) -> list[Event]:
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
            if message == "info: done":
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


class Status:
    """The live one-line status on a terminal; an occasional plain line when stderr is not a terminal."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = getattr(stream, "isatty", lambda: False)()
        self._next = 0.0
        self._shown = False

    def line(self, parser: StreamParser, elapsed: float) -> str:
        last = parser.last
        def val(name, fmt):
            return format(last[name], fmt) if name in last else "-"
        return (f"{elapsed:6.1f} s  ticks {val('tick', '.0f'):>6}  overruns {val('overruns', '.0f'):>3}  "
                f"theta {val('theta', '+.3f'):>7} rad  torque {val('torque', '+.3f'):>7} N·m  "
                f"malformed {len(parser.malformed)}")

    def update(self, parser, elapsed, force=False):
        now = time.monotonic()
        if not force and now < self._next:
            return
        if self.tty:
            self._next = now + 1.0 / STATUS_HZ
            self.stream.write("\r" + self.line(parser, elapsed) + "\x1b[K")
            self._shown = True
        else:
            self._next = now + 5.0
            self.stream.write(self.line(parser, elapsed) + "\n")
        self.stream.flush()

    def say(self, text: str):
        if self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = False
        self.stream.write(text + "\n")
        self.stream.flush()


class Capture:
    """The raw REPL's answer to the start command: app output, \x04, error output, \x04. Rows and the header
    go to `out`, everything else to `status`."""

    def __init__(self, out, status: Status):
        self.out, self.status = out, status
        self.parser = StreamParser()
        self.section = 0  # 0: app output, 1: error output (after the first \x04), 2: finished
        self.error = ""
        self.nbytes = 0

    def feed(self, data: bytes) -> None:
        self.nbytes += len(data)
        while data and self.section < 2:
            part, sep, data = data.partition(b"\x04")
            if self.section == 0:
                events = self.parser.feed(part)
                if sep or self.parser.reset:
                    events += self.parser.finish()
                    self.section = 2 if self.parser.reset else 1
                self._show(events)
            else:
                self.error += part.decode("utf-8", "replace")
                if sep:
                    self.section = 2

    def _show(self, events) -> None:
        for ev in events:
            if ev.kind in ("header", "row"):
                self.out.write(ev.text + "\n")
            elif ev.kind == "message":
                self.status.say(f"device: # {ev.text}")
            elif ev.kind == "reset":
                self.status.say("device: board reset (soft reboot)")
            else:
                self.status.say(f"monitor: {ev.kind} line: {ev.text[:100]!r}")


def monitor(port: str, out_path: Path, duration: float = 10.0, reset: bool = True, start_code: str = START_CODE,
            status_stream=None) -> dict:
    """Run the app and capture its log into out_path; returns a summary dict."""
    status = Status(status_stream or sys.stderr)
    port = serialio.resolve_port(port)
    out_path = Path(out_path)
    writable_file(out_path, "--out", make_parent=True)  # before the port; a previous log is not truncated yet
    transport = serialio.connect(port)
    try:
        serialio.enter_raw_repl(transport, soft_reset=reset)
        with open(out_path, "w") as out:  # only now: a board that does not answer leaves the previous log alone
            cap = Capture(out, status)
            try:
                t0, reason = _run_app(transport, start_code, cap, status, duration)
            finally:
                for ev in cap.parser.finish():
                    status.say(f"monitor: {ev.kind} line at exit: {ev.text[:100]!r}")
                out.flush()
    finally:
        serialio.close(transport)
    seconds = time.monotonic() - t0
    p = cap.parser
    if reason == "?":
        reason = "done" if p.done else ("board reset" if p.reset else "app ended")
    failed = bool(cap.error.strip()) and reason in ("app ended", "done") and "KeyboardInterrupt" not in cap.error
    if failed:
        status.say("device error:\n" + cap.error.rstrip())
    status.update(p, seconds, force=True)
    if status.tty:
        status.stream.write("\n")
    status.say(f"monitor: {p.rows} rows in {seconds:.1f} s ({p.rows / max(seconds, 1e-9):.1f} rows/s, "
               f"{cap.nbytes / max(seconds, 1e-9) / 1024:.1f} KiB/s) -> {out_path}; {len(p.malformed)} malformed, "
               f"{len(p.partial)} partial line(s); stopped: {reason}")
    return {"rows": p.rows, "malformed": list(p.malformed), "partial": list(p.partial), "salvaged": p.salvaged,
            "messages": list(p.messages), "reason": reason, "seconds": seconds, "bytes": cap.nbytes,
            "device_error": cap.error.strip() if failed else "", "out": str(out_path)}


def _run_app(transport, start_code: str, cap: Capture, status: Status, duration: float) -> tuple[float, str]:
    """Start the app and feed its output to `cap` until it ends, says done, the duration is up, Ctrl-C or the port
    is lost; then stop it if it still runs. Returns the start time and why it stopped ("?": the app ended)."""
    transport.exec_raw_no_follow(start_code)
    ser = transport.serial
    ser.timeout = 0.05
    t0 = time.monotonic()
    reason = "?"
    done_at = ended_at = None
    try:
        while cap.section < 2:
            data = ser.read(4096)
            if data:
                cap.feed(data)
            now = time.monotonic()
            if cap.section == 1:  # app returned; its error output follows at once (bounded wait)
                ended_at = ended_at or now
                if now - ended_at > STOP_TIMEOUT_S:
                    break
                continue
            if cap.parser.done and done_at is None:
                done_at = now
            if done_at is not None and now - done_at > DONE_GRACE_S:
                reason = "done (app still running, stopped)"
                break
            if duration and now - t0 >= duration:
                reason = "duration"
                break
            status.update(cap.parser, now - t0)
    except KeyboardInterrupt:
        reason = "Ctrl-C"
    except OSError as exc:  # serial.SerialException too: the board was unplugged or reset its USB
        reason = f"port lost ({exc})"
    finally:
        cap.out.flush()
    if cap.section < 2 and not reason.startswith("port lost"):  # stop the app, keep its last lines
        _stop(ser, cap)
    return t0, reason


def _stop(ser, cap: Capture) -> None:
    """Ctrl-C the running code and read until the raw REPL reports the end (bounded wait)."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    next_ctrl_c = 0.0
    try:
        while cap.section < 2 and time.monotonic() < deadline:
            if cap.section == 0 and time.monotonic() >= next_ctrl_c:
                ser.write(b"\x03")  # again every 0.5 s: the app may catch the first one to clean up
                next_ctrl_c = time.monotonic() + 0.5
            data = ser.read(4096)
            if data:
                cap.feed(data)
    except (KeyboardInterrupt, OSError):
        pass
