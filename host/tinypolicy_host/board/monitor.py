"""Start the application on a board and capture its CSV log stream.

How the app is started: soft reset into the raw REPL (a clean heap, no timers left from a previous run; on the
virtual board this restarts the interpreter), then `import main` in the raw REPL — the same on
a real board and on the virtual board; a board does not run main.py by itself after a raw-REPL soft reset.
`--no-reset` skips the soft reset (mpremote `resume`).
How it stops: after --duration seconds, on the device's `# info: done` (the app then returns by itself), on
Ctrl-C, or when the app ends or fails; in every case still-running device code gets the stop request CR Ctrl-C
(the app ignores a lone Ctrl-C during a run: noise on the link must not stop it; see device/tinypolicy_app/link.py),
the lines it prints while stopping are kept, and everything received is in OUT when the monitor exits.
The end of the app is the raw REPL's trailer (\x04 error output \x04>) followed by silence, never a single control
byte: a 0x04 or 0x03 the link adds to the app's output is garbage inside a line like any other. When the port is
lost or the board resets mid-run, the capture is cut short: the rows received are kept, the closing line says why,
and `tinypolicy monitor` exits with status 1.

OUT is checked before the port is opened and only replaced once the board's raw REPL answers (a board that does
not answer leaves the previous log alone). It gets the CSV header and the data rows exactly as the device printed
them. `#` lines are messages: shown on stderr, not written to the CSV. A line that is neither (garbage bytes, a
line cut short by a reset, a row with the wrong field count) is counted as malformed and reported; line splitting
resynchronises at every newline and at any non-text byte, so a broken line never takes the next good line with it.
"""
import re
import sys
import time
from pathlib import Path

from ..userpaths import writable_file
from . import serialio
from .logformat import StreamParser
from .serialio import STOP_REQUEST

START_CODE = "import sys\nsys.modules.pop('main', None)\nimport main"  # as at boot: __file__, tracebacks
STATUS_HZ = 5.0
STOP_TIMEOUT_S = 3.0
DONE_GRACE_S = 2.0  # after '# info: done', how long the app gets to return by itself
# The raw REPL's end of an exec: \x04, the error output, \x04, the prompt '>'. It comes in one burst and then the
# board is silent; a 0x04 the link made up is followed by more app output instead.
TRAILER = re.compile(rb"\x04([^\x04]*)\x04>\s*\Z")
QUIET_S = 0.3  # silence after a complete trailer: the exec really ended
TRAILER_S = 1.0  # a 0x04 not completed to a trailer within this long was noise
HOLD_MAX = 8192  # bytes held back after a 0x04 at most (an error output is shorter)
CUT_SHORT = ("port lost", "board reset")  # reasons that make the capture incomplete: exit status 1


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
    """The raw REPL's answer to the start command: app output, then the trailer (\x04 error output \x04>). No
    byte of the app's output can end the capture: a 0x04 only starts a candidate trailer, held back until it is
    complete and the board falls silent (the end) or more app output follows it (noise: the held bytes go to the
    parser like any other garbage byte). Rows and the header go to `out`, everything else to `status`."""

    def __init__(self, out, status: Status):
        self.out, self.status = out, status
        self.parser = StreamParser()
        self.ended = False  # the exec ended (trailer seen) or the board reset
        self.error = ""
        self.nbytes = 0
        self._hold = bytearray()  # from a 0x04 on, until resolved
        self._hold_at = 0.0
        self._last_at = 0.0

    def feed(self, data: bytes, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.nbytes += len(data)
        self._last_at = now
        if self.ended:
            return
        if not self._hold:
            i = data.find(b"\x04")
            if i < 0:
                self._parse(data)
                return
            self._parse(data[:i])
            data = data[i:]
            self._hold_at = now
        self._hold += data
        self.poll(now)

    def poll(self, now: float | None = None) -> None:
        """Resolve the held bytes: end of the exec, or noise. Call it now and then while waiting."""
        now = time.monotonic() if now is None else now
        hold = self._hold
        if self.ended or not hold:
            return
        m = TRAILER.search(hold)
        if m and now - self._last_at >= QUIET_S:
            self._parse(bytes(hold[:m.start()]))
            self.error = m.group(1).decode("utf-8", "replace")
            self._hold.clear()
            self._end()
            return
        if now - self._hold_at > TRAILER_S or len(hold) > HOLD_MAX:
            # the first held 0x04 was noise: pass the bytes on, keeping what may still start the real trailer
            if m and m.start() == 0:  # a complete trailer, the board not silent yet: keep waiting
                self._hold_at = now
                return
            j = m.start() if m else hold.rfind(b"\x04")
            j = len(hold) if j <= 0 else j
            self._parse(bytes(hold[:j]))
            del self._hold[:j]
            self._hold_at = now

    def _parse(self, data: bytes) -> None:
        if data and not self.ended:
            self._show(self.parser.feed(data))
            if self.parser.reset:
                self._end()

    def _end(self) -> None:
        self.ended = True
        self._show(self.parser.finish())

    def _show(self, events) -> None:
        for ev in events:
            if ev.kind in ("header", "row"):
                self.out.write(ev.text + "\n")
            elif ev.kind == "message":
                self.status.say(f"device: # {ev.text}")
            elif ev.kind == "reset":
                self.status.say(f"device: board reset ({ev.text})")
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
    if p.reset:
        reason = "board reset mid-run" if not p.done else reason
    if reason == "?":
        reason = "done" if p.done else "app ended"
    failed = bool(cap.error.strip()) and reason in ("app ended", "done") and "KeyboardInterrupt" not in cap.error
    if failed:
        status.say("device error:\n" + cap.error.rstrip())
    status.update(p, seconds, force=True)
    if status.tty:
        status.stream.write("\n")
    status.say(f"monitor: {p.rows} rows in {seconds:.1f} s ({p.rows / max(seconds, 1e-9):.1f} rows/s, "
               f"{cap.nbytes / max(seconds, 1e-9) / 1024:.1f} KiB/s) -> {out_path}; {len(p.malformed)} malformed, "
               f"{len(p.partial)} partial line(s); stopped: {reason}")
    cut_short = reason.startswith(CUT_SHORT)
    if cut_short:
        status.say(f"monitor: capture cut short: {reason}; the {p.rows} rows received are in {out_path}")
    return {"rows": p.rows, "malformed": list(p.malformed), "partial": list(p.partial), "salvaged": p.salvaged,
            "messages": list(p.messages), "reason": reason, "seconds": seconds, "bytes": cap.nbytes,
            "device_error": cap.error.strip() if failed else "", "cut_short": cut_short, "out": str(out_path)}


def _run_app(transport, start_code: str, cap: Capture, status: Status, duration: float) -> tuple[float, str]:
    """Start the app and feed its output to `cap` until it ends, says done, the duration is up, Ctrl-C or the port
    is lost; then stop it if it still runs. Returns the start time and why it stopped ("?": the app ended)."""
    transport.exec_raw_no_follow(start_code)
    ser = transport.serial
    ser.timeout = 0.05
    t0 = time.monotonic()
    reason = "?"
    done_at = None
    try:
        while not cap.ended:
            data = ser.read(4096)
            now = time.monotonic()
            if data:
                cap.feed(data, now)
            cap.poll(now)
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
    if not cap.ended and not reason.startswith("port lost"):  # stop the app, keep its last lines
        try:
            _stop(ser, cap)
        except OSError as exc:
            reason = f"port lost while stopping ({exc})"
    return t0, reason


def _stop(ser, cap: Capture) -> None:
    """Send the stop request (CR Ctrl-C, again every 0.5 s) and read until the raw REPL reports the end (bounded
    wait). The app answers with its summary and `# info: done`; code that does not guard Ctrl-C is interrupted."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    next_stop = 0.0
    try:
        while not cap.ended and time.monotonic() < deadline:
            if time.monotonic() >= next_stop:
                ser.write(STOP_REQUEST)
                next_stop = time.monotonic() + 0.5
            data = ser.read(4096)
            now = time.monotonic()
            if data:
                cap.feed(data, now)
            cap.poll(now)
    except KeyboardInterrupt:
        pass
