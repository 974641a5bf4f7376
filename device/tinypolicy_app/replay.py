# device: open-loop replay sensor: a recorded-input CSV, checked whole, then streamed in fixed-size chunks.
"""Imported by the app only in replay mode (its code would otherwise take heap the model load needs).
File format: two integer columns theta_q12,theta_dot_q12 (Q12 rad, Q12 rad/s, |v| < INPUT_LIMIT_Q12); '#' lines,
blank lines and one header row `theta_q12,theta_dot_q12` before the data are skipped."""
from array import array

from micropython import const

from tinypolicy_app.files import not_regular
from tinypolicy_app.sensors import INPUT_LIMIT_Q12

REPLAY_HEADER = b"theta_q12,theta_dot_q12"
# |value| limit of a replayed input: INPUT_LIMIT_Q12, as for every sensor.
REPLAY_LIMIT = INPUT_LIMIT_Q12
REPLAY_LINE_MAX = const(64)  # bytes per data line (two ints and a header fit with room); '#' lines may be longer
REPLAY_CHUNK = const(128)  # rows buffered at a time: the file is streamed, its length is not bounded by the heap


class ReplayError(ValueError):
    """A replay file mistake; message 'path:line: what' (or 'path: what')."""


def _replay_lines(f, path):
    """(line number, stripped bytes) of the data lines of an open binary file: '#' lines and blank lines skipped.
    Lines are read at most REPLAY_LINE_MAX bytes at a time, so a huge line costs no more heap than a short one;
    the text is never decoded (invalid UTF-8 in a comment is fine, in a data line it is not an integer)."""
    n = 0
    while True:
        line = f.readline(REPLAY_LINE_MAX + 1)
        if not line:
            return
        n += 1
        long_line = len(line) > REPLAY_LINE_MAX and line[-1] != 10
        if long_line:
            if line.lstrip()[:1] != b"#":
                raise ReplayError("%s:%d: line longer than %d bytes (want theta_q12,theta_dot_q12)"
                                  % (path, n, REPLAY_LINE_MAX))
            while line and line[-1] != 10:  # the rest of a long comment
                line = f.readline(REPLAY_LINE_MAX + 1)
            continue
        line = line.strip()
        if line and line[0] != 35:  # '#'
            yield n, line


def _parse_row(path, n, line):
    parts = line.split(b",")
    try:
        if len(parts) != 2:
            raise ValueError
        th = int(parts[0])
        w = int(parts[1])
    except ValueError:
        raise ReplayError("%s:%d: want two integer columns theta_q12,theta_dot_q12%s"
                          % (path, n, " (found %d)" % len(parts) if len(parts) != 2 else "")) from None
    for v in (th, w):
        if not -REPLAY_LIMIT < v < REPLAY_LIMIT:
            raise ReplayError("%s:%d: %d out of range (want |value| < %d, Q12: 1024 rad or rad/s)"
                              % (path, n, v, REPLAY_LIMIT))
    return th, w


def _rows(f, path):
    """(th, w) of every data row; the header row `theta_q12,theta_dot_q12` is allowed before the first row."""
    first = True
    for n, line in _replay_lines(f, path):
        if first and line.replace(b" ", b"") == REPLAY_HEADER:
            first = False
            continue
        first = False
        yield _parse_row(path, n, line)


def scan_replay(path):
    """Check a whole replay CSV (foreground, before the run): exactly two columns theta_q12,theta_dot_q12 (ints,
    |v| < 2^22); '#' lines, blank lines and one header row before the data are skipped. Returns the number of
    rows. Raises ReplayError naming `path:line` (also for a file without data rows), OSError if unreadable."""
    kind = not_regular(path)
    if kind:
        raise ReplayError("%s: %s, not a file" % (path, kind))
    count = 0
    with open(path, "rb") as f:
        for _ in _rows(f, path):
            count += 1
    if count == 0:
        raise ReplayError("%s: no data rows (want lines theta_q12,theta_dot_q12)" % path)
    return count


class ReplaySensor:
    """Open-loop replay of a recorded-input file checked by scan_replay (`n` rows), streamed REPLAY_CHUNK rows at
    a time: `fill()` (foreground, between ticks) reads the next chunk into the preallocated array('i') `buf`
    [th0, w0, th1, w1, ...] (Q12) once `read` has used the last one; `read` allocates nothing."""

    def __init__(self, path, n):
        self.path = path
        self.n = n
        self.buf = array("i", bytes(8 * REPLAY_CHUNK))
        self.have = 0  # rows in buf
        self.pos = 0  # next row of buf
        self.i = 0  # rows read so far
        self.done = n == 0
        self._f = open(path, "rb")
        self._rows = _rows(self._f, path)
        self.fill()

    def fill(self):
        if self.pos < self.have or self._rows is None:
            return
        k = 0
        buf = self.buf
        for th, w in self._rows:
            buf[2 * k] = th
            buf[2 * k + 1] = w
            k += 1
            if k == REPLAY_CHUNK:
                break
        self.have, self.pos = k, 0
        if k < REPLAY_CHUNK:
            self.close()

    def read(self, inp):
        p = self.pos
        if p < self.have:
            inp[0] = self.buf[2 * p]
            inp[1] = self.buf[2 * p + 1]
            self.pos = p + 1
            self.i += 1
            if self.i >= self.n:
                self.done = True

    def close(self):
        if self._f is not None:
            self._f.close()
        self._f = self._rows = None
