# device: log stream: preallocated ring of rows (filled in the tick), CSV formatting and level messages.
"""The log stream on stdout / serial (contract with the host monitor and `tinypolicy_host.board.logformat`):

    tick,t_us,theta,theta_dot,torque,infer_us,lateness_us,overruns,flags     <- header, exactly this
    0,0,3.1416,0.0000,-2.0000,41,0,0,8                                       <- one row per recorded tick
    # info: text                                                             <- messages: '# level: text'

- tick: schedule slot index (realtime: a missed slot leaves a gap), t_us: control time in us (realtime:
  measured, batch: tick * period), wrapping at 2^30 like time.ticks_us (17.9 min).
- theta, theta_dot: the true plant state (rad in [-pi, pi), rad/s) that the tick's sensor read (before noise),
  4 decimals; torque: N*m applied in this tick, 4 decimals.
- infer_us: time of policy.infer_q; lateness_us: tick start minus its scheduled time (0 in batch mode).
- overruns: cumulative count of missed slots plus steps longer than the period.
- flags: bit field, see FLAG_* below.

The tick calls `Ring.record(...)` which writes 9 ints into a preallocated array('i') (single producer); the
foreground calls `Ring.drain(...)` which formats and prints (single consumer). A full ring drops the new row,
counts it in `dropped` and marks the next recorded row with FLAG_DROPPED: rows are never lost silently.
"""
import sys
from array import array

from micropython import const

HEADER = "tick,t_us,theta,theta_dot,torque,infer_us,lateness_us,overruns,flags"

FLAG_MISSED = const(1)  # one or more schedule slots were skipped right before this tick
FLAG_OVERRUN = const(2)  # the previous step took longer than the period
FLAG_SAFE = const(4)  # safe state: zero torque (no usable model or invalid config)
FLAG_SAT = const(8)  # torque at +-max_torque
FLAG_DROPPED = const(16)  # log rows were dropped (ring full) before this row
FLAG_BAD_INPUT = const(32)  # the sensor reading was invalid (non-finite or out of range): zero torque

FIELDS = const(9)
LEVELS = ("error", "warn", "info", "debug")


def level_index(name):
    return LEVELS.index(name)


def fmt_fixed(q, shift):
    """Fixed-point int -> decimal string with 4 decimals, exact rounding, no floats (same text on every port).
    Intermediates stay below 2^30 for shift <= 20."""
    neg = q < 0
    a = -q if neg else q
    whole = a >> shift
    f = a & ((1 << shift) - 1)
    # 10000 = 625 * 16: frac4 = round(f * 10000 / 2^shift)
    frac = (f * 625 + (1 << (shift - 5))) >> (shift - 4)
    if frac >= 10000:
        whole += 1
        frac -= 10000
    if neg and (whole or frac):
        return "-%d.%04d" % (whole, frac)
    return "%d.%04d" % (whole, frac)


class Messages:
    """'# level: text' lines at or above the configured level (foreground only)."""

    def __init__(self, level="info", out=None):
        self.level = level_index(level)
        self.out = out

    def set_level(self, level):
        self.level = level_index(level)

    def emit(self, level, text, always=False):
        """always=True: protocol lines (summary, done) that a monitor relies on, printed at any log level."""
        if always or level_index(level) <= self.level:
            line = "# " + level + ": " + text
            if self.out is None:
                print(line)
            else:
                self.out(line)

    def error(self, text):
        self.emit("error", text)

    def warn(self, text):
        self.emit("warn", text)

    def info(self, text):
        self.emit("info", text)

    def done(self):
        self.emit("info", "done", True)

    def debug(self, text):
        self.emit("debug", text)


class Ring:
    """Preallocated ring of log rows: `capacity` rows of 9 ints (tick, t_us, theta_q20, theta_dot_q20,
    torque_q12, infer_us, lateness_us, overruns, flags), one array('i') per column (small blocks: the heap of a
    board is fragmented after imports)."""

    def __init__(self, capacity):
        self.cap = capacity
        self.cols = [array("i", bytes(4 * capacity)) for _ in range(FIELDS)]
        self.head = 0  # next slot to write (producer only)
        self.tail = 0  # next slot to read (consumer only)
        self.dropped = 0
        self._drop_flag = 0

    def record(self, tick, t_us, theta, theta_dot, torque, infer_us, lateness_us, overruns, flags):
        """Tick side: allocation-free. Returns False when the row was dropped (ring full)."""
        head = self.head
        nxt = head + 1
        if nxt == self.cap:
            nxt = 0
        if nxt == self.tail:
            self.dropped += 1
            self._drop_flag = FLAG_DROPPED
            return False
        c = self.cols
        c[0][head] = tick
        c[1][head] = t_us
        c[2][head] = theta
        c[3][head] = theta_dot
        c[4][head] = torque
        c[5][head] = infer_us
        c[6][head] = lateness_us
        c[7][head] = overruns
        c[8][head] = flags | self._drop_flag
        self._drop_flag = 0
        self.head = nxt  # publish after the row is complete
        return True

    def pending(self):
        d = self.head - self.tail
        return d + self.cap if d < 0 else d

    def drain(self, out, limit=-1, extra=None):
        """Foreground: format up to `limit` rows (all when < 0) with `out(line)`; `extra(torque_q12)` also
        gets each row's exact torque (open-loop replay output). Returns the number of rows written."""
        n = 0
        c = self.cols
        while self.tail != self.head and n != limit:
            i = self.tail
            out(format_row(c, i))
            if extra is not None:
                extra(c[4][i])
            t = self.tail + 1
            self.tail = 0 if t == self.cap else t
            n += 1
        return n


def format_row(c, i):
    """CSV text of row i of the column arrays c (foreground: allocates)."""
    return "%d,%d,%s,%s,%s,%d,%d,%d,%d" % (
        c[0][i], c[1][i], fmt_fixed(c[2][i], 20), fmt_fixed(c[3][i], 20), fmt_fixed(c[4][i], 12),
        c[5][i], c[6][i], c[7][i], c[8][i])


def write_line(line):
    """Default output: stdout (serial on a board)."""
    sys.stdout.write(line)
    sys.stdout.write("\n")
