# device: the serial link during a run: stray Ctrl-C bytes are ignored, CR + Ctrl-C stops the run on purpose.
"""Protocol between a board and the host tools (documented in docs/BOARD_WORKFLOW.md, "The serial link"):

- While the control loop runs (after the log header, until the summary) the keyboard interrupt is off, so a
  0x03 byte (noise on a UART, a terminal) cannot raise KeyboardInterrupt inside a tick or a timer IRQ (on rp2 an
  exception in a hard IRQ callback disables the timer).
- The foreground reads the input between log drains. The two bytes CR, Ctrl-C (b"\\r\\x03": what mpremote's
  `enter_raw_repl` and `tinypolicy monitor` send) stop the run on purpose: motor off, summary, `# info: done`,
  back to the REPL. A 0x03 not directly after a CR is counted (`stray_ctrl_c` in the summary) and ignored, as is
  every other input byte. Bytes after the stop request stay unread, for the REPL (mpremote's Ctrl-A).
- Afterwards the keyboard interrupt is on again (Ctrl-C at the REPL works as usual).

The board module may provide `ctrl_c(enabled)` (the unix port: its terminal's ISIG flag, since there Ctrl-C is a
signal and `kbd_intr(-1)` would make SIGINT fatal); otherwise `micropython.kbd_intr(-1 / 3)`.
"""
import sys

import micropython

_CR = b"\r"
_ETX = b"\x03"


def _kbd_intr(enabled):
    micropython.kbd_intr(3 if enabled else -1)


class Link:
    """Watches the input stream (default sys.stdin) for the stop request while a run lasts."""

    def __init__(self, board, stream=None):
        self._set = getattr(board, "ctrl_c", None) or _kbd_intr
        stream = stream if stream is not None else sys.stdin
        self.stream = getattr(stream, "buffer", stream)
        self.poller = None
        self.stray = 0  # 0x03 bytes not preceded by CR
        self._last = b""
        self.stopped = False

    def open(self):
        import select

        try:
            p = select.poll()
            p.register(self.stream, select.POLLIN)
            self.poller = p
        except (OSError, TypeError, AttributeError):  # a stream that cannot be polled: nothing to watch
            self.poller = None
        self._set(False)

    def close(self):
        self._set(True)

    def stop_requested(self):
        """Foreground: read what is waiting, byte by byte, up to a stop request (True) or an empty input."""
        p = self.poller
        if p is None or self.stopped:
            return self.stopped
        while p.poll(0):
            b = self.stream.read(1)
            if not b:  # end of input (a closed pipe): stop watching
                self.poller = None
                return False
            if b == _ETX:
                if self._last == _CR:
                    self.stopped = True
                    return True
                self.stray += 1
            self._last = b
        return False
