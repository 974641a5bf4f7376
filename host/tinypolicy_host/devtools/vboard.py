"""Virtual board: the unix MicroPython port behind a pseudo-terminal, for mpremote, `flash` and `monitor`.

Layout (two pseudo-terminals and a relay in this process):

    mpremote / flash / monitor ── /dev/pts/B (the board's "USB serial", printed and written to the port file)
                                      │ master B
                                  relay (this process: select loop, restarts the interpreter)
                                      │ master A
    micropython -X heapsize=… ─── /dev/pts/A (stdin/stdout/stderr, controlling terminal: Ctrl-C → SIGINT)

The interpreter's cwd is the board's flash (`build/vboard/fs/` by default) and MICROPYPATH is `'' .frozen lib`,
like a board's `sys.path`, so `import board`, `import tinypolicy` and `open("config.json")` resolve there.
Device code must use relative paths (on a board `/main.py` is the root; here it would be the host's root).

Resets: the unix port ENDS its process on a soft reset (Ctrl-D at the friendly or the raw REPL) and on
`sys.exit()`. The relay treats that as a board reboot: it prints `MPY: soft reboot`, starts a fresh interpreter
(new heap, no modules) on the same host-side port, and puts it back into the raw REPL if the old one was there
(as a board does), so mpremote works with and without `resume`. After power-on and after a soft reset from the
friendly REPL the new interpreter runs `main.py` first if it exists (`import main`, then the REPL: a board's
boot sequence; `--no-main` turns that off); after a soft reset from the raw REPL it does not (like a board).
Before either, every new interpreter runs `boot.py` if the flash has one (a board does at every reset).

Raw paste: the relay answers mpremote's raw-paste request (Ctrl-E A Ctrl-A) with "not supported", so mpremote
uses the standard raw REPL. Reason: the unix port runs raw-paste code with its terminal still in raw mode, where
Ctrl-C is a plain byte and a running program cannot be interrupted; in the standard raw REPL it switches the
terminal back while code runs, so Ctrl-C raises KeyboardInterrupt as on a board.

Stopping: Ctrl-C or SIGTERM to this process stops the interpreter (SIGTERM, then SIGKILL after 2 s), closes the
ptys and removes the port file. If this process is killed outright, the interpreter gets SIGKILL too
(PR_SET_PDEATHSIG on Linux; and the hang-up of its controlling terminal): no orphans either way.
"""
import errno
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path

from ..errors import UserError
from ..paths import BOARD_HEAPSIZE, VBOARD_DIR, VBOARD_PORT_FILE, micropython_binary

DEFAULT_FS = VBOARD_DIR / "fs"
DEFAULT_PORT_FILE = VBOARD_PORT_FILE

RAW_BANNER = b"raw REPL; CTRL-B to exit"
FRIENDLY_BANNER = b'Type "help()" for more information.'
PROMPT = b">>> "
RAW_PASTE_REQUEST = b"\x05A\x01"
RAW_PASTE_UNSUPPORTED = b"R\x00"
HOLD_CTRL_C_S = 0.5  # longest a Ctrl-C waits for the interpreter to leave the between-lines state (see _deliver)
HOLD_RETRY_S = 0.005
PENDING_LIMIT = 64 * 1024  # bytes the relay holds for the host side before it applies back-pressure
NO_READER_S = 1.0
BOOT_WAIT_S = 2.0  # back-pressure longer than this = no host connected: drop output, like a board's USB CDC
MAX_FAILED_BOOTS = 3  # interpreters in a row that exit before reaching the REPL: stop instead of rebooting forever
# A board runs boot.py at every reset, before main.py and before a raw-REPL session (device/boot.py enters the
# current version's folder); the unix port does not, so each new interpreter starts with it.
BOOT_CODE = "exec(open('boot.py').read())"
HEAPSIZE = re.compile(r"\d+[KkMm]?")  # what `micropython -X heapsize=` takes: bytes, or KiB / MiB


def _configure_device_tty(fd: int) -> None:
    """The interpreter's terminal: raw bytes both ways (no echo, no CR/LF mangling) but Ctrl-C still raises
    SIGINT while code runs (the unix port reads Ctrl-C only as a signal); no other signal characters."""
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[3] |= termios.ISIG
    cc = attrs[6]
    for name in ("VQUIT", "VSUSP", "VDSUSP", "VLNEXT", "VDISCARD", "VSTART", "VSTOP"):
        if hasattr(termios, name):
            cc[getattr(termios, name)] = b"\0"
    cc[termios.VINTR] = b"\x03"
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _child_setup():  # runs in the child after setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # stdin becomes the controlling terminal: Ctrl-C -> SIGINT
    try:  # Linux: die with the relay even if it is SIGKILLed (the pty hang-up would also do it)
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class VirtualBoard:
    """Relay between a stable host-side pty and a unix MicroPython process that is restarted on every reset."""

    def __init__(self, fs: Path, heapsize: str = BOARD_HEAPSIZE, run_main: bool = True, log=None):
        self.fs = Path(fs).resolve()
        self.heapsize = heapsize
        self.run_main = run_main
        self.log = log or (lambda msg: None)
        self.proc: subprocess.Popen | None = None
        self.dev_master = self.dev_slave = -1
        self._seen_output = False
        self._boot_deadline = 0.0
        self._ctrl_c_until = 0.0  # re-check a forwarded Ctrl-C until then (see _check_ctrl_c)
        self._ctrl_c_mark = 0  # its position in the interpreter's input stream
        self._hold_since = 0.0  # a Ctrl-C held back since then (see _deliver)
        self._hold_retry_at = 0.0
        self._written = 0  # bytes written to the current interpreter
        self.raw_mode = False  # last REPL mode the interpreter announced
        self.boots = 0
        self.dropped = 0
        self._to_host = bytearray()
        self._to_dev = bytearray()
        self._host_tail = b""  # start of a possible raw-paste request split across reads
        self._host_tail_at = 0.0
        self._tail = b""  # last bytes from the interpreter, to spot banners split across reads
        self._reached_repl = False  # the current interpreter has shown a REPL (banner or prompt)
        self._failed_boots = 0  # interpreters in a row that exited before reaching the REPL
        self._last_output = b""  # for the error when they do
        self._swallow_until: bytes | None = None  # after a raw-mode reboot: hide output until this marker
        self._stalled_since: float | None = None
        self._stop = False
        self.host_master, self._host_slave = pty.openpty()
        tty.setraw(self._host_slave)  # held open so the port survives clients coming and going
        os.set_blocking(self.host_master, False)
        self.port = os.ttyname(self._host_slave)

    # -- interpreter lifecycle ---------------------------------------------------------------------------------
    def _spawn(self, raw: bool) -> None:
        self.fs.mkdir(parents=True, exist_ok=True)
        master, slave = pty.openpty()
        _configure_device_tty(slave)
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join(["", ".frozen", str(self.fs / "lib")])
        cmd = [micropython_binary(), "-X", f"heapsize={self.heapsize}"]
        boot = [BOOT_CODE] if (self.fs / "boot.py").is_file() else []  # at every reset, as a board does
        if not raw and self.run_main and self._has_main():
            # boot: run main.py, then the REPL (Ctrl-C gets there too). As a module, like the monitor starts
            # it: __name__ is 'main' (on a board it would be '__main__'; the app's unix-only command-line mode
            # keys on that and must not take over here).
            boot.append("import main")
        if boot:
            cmd += ["-i", "-c", "\n".join(boot)]
        self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=self.fs, env=env,
                                     start_new_session=True, preexec_fn=_child_setup, close_fds=True)
        os.set_blocking(master, False)
        self.dev_master, self.dev_slave = master, slave  # slave kept: its input queue and termios are checked
        self.boots += 1
        self._tail = self._last_output = b""
        self._seen_output = self._reached_repl = False
        self._boot_deadline = time.monotonic() + BOOT_WAIT_S
        self._written = 0
        self._ctrl_c_until = 0.0
        if raw:
            # A board stays in the raw REPL across a soft reset: hide the new banner, re-enter raw mode.
            self._swallow_until = PROMPT
        self.log(f"vboard: boot {self.boots} (pid {self.proc.pid}{', raw REPL' if raw else ''}"
                 f"{', main.py' if '-i' in cmd else ''})")

    def _has_main(self) -> bool:
        """A main.py to run at boot: beside boot.py, or in the version folder tp/current names (device/boot.py)."""
        if (self.fs / "main.py").is_file():
            return True
        for name in ("current", "current.new"):
            try:
                ver = (self.fs / "tp" / name).read_text().strip()
            except OSError:
                continue
            if ver and (self.fs / "tp" / ver / "main.py").is_file():
                return True
        return False

    def _reap(self) -> None:
        for fd in (self.dev_master, self.dev_slave):
            if fd >= 0:
                os.close(fd)
        self.dev_master = self.dev_slave = -1
        if self.proc is not None:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._kill()
            self.proc = None

    def _kill(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _reboot(self) -> None:
        raw = self.raw_mode
        self._reap()
        self._failed_boots = 0 if self._reached_repl else self._failed_boots + 1
        if self._failed_boots >= MAX_FAILED_BOOTS:
            last = self._last_output.decode("utf-8", "replace").strip() or "nothing"
            raise UserError(f"the interpreter exited {self._failed_boots} times in a row before reaching the REPL "
                            f"(--heapsize {self.heapsize}; a main.py that exits at boot: --no-main); "
                            f"its last output: {last[-200:]!r}")
        self._to_host += b"MPY: soft reboot\r\n"
        self._spawn(raw)

    # -- relay -------------------------------------------------------------------------------------------------
    def _from_device(self, data: bytes) -> None:
        self._seen_output = True
        seen = self._tail + data
        self._tail = seen[-64:]
        self._last_output = (self._last_output + data)[-200:]
        if not self._reached_repl:
            self._reached_repl = any(mark in seen for mark in (PROMPT, RAW_BANNER, FRIENDLY_BANNER))
        if self._swallow_until is not None:
            if self._swallow_until == PROMPT and PROMPT in seen:
                self._swallow_until = RAW_BANNER
                self._to_dev[:0] = b"\r\x01"  # ahead of anything the host already typed
                return
            if self._swallow_until == RAW_BANNER and RAW_BANNER in seen:
                self._swallow_until = None
                data = seen[seen.index(RAW_BANNER):]
                self._tail = data[-64:]
            else:
                return
        last_raw, last_friendly = seen.rfind(RAW_BANNER), seen.rfind(FRIENDLY_BANNER)
        if last_raw > last_friendly:
            self.raw_mode = True
        elif last_friendly > last_raw:
            self.raw_mode = False
        if len(self._to_host) > 4 * PENDING_LIMIT:  # nobody reading for a long time: a board would drop it
            self.dropped += len(data)
            return
        self._to_host += data

    def _from_host(self, data: bytes) -> None:
        """Forward host input; answer raw-paste requests with "unsupported". The unix port runs raw-paste code
        with its terminal in raw mode, where Ctrl-C is an ordinary byte nobody reads: a running program could
        not be interrupted. In the standard raw REPL it restores ISIG while code runs, so Ctrl-C works."""
        data = self._host_tail + data
        self._host_tail = b""
        while RAW_PASTE_REQUEST in data:
            i = data.index(RAW_PASTE_REQUEST)
            self._to_dev += data[:i]
            self._to_host += RAW_PASTE_UNSUPPORTED
            data = data[i + len(RAW_PASTE_REQUEST):]
        for keep in (2, 1):  # a request split across reads: hold its start for a moment
            if data[-keep:] == RAW_PASTE_REQUEST[:keep]:
                self._host_tail, data = data[-keep:], data[:-keep]
                self._host_tail_at = time.monotonic()
                break
        self._to_dev += data

    def _deliver(self) -> None:
        """Write held host input to the interpreter. A Ctrl-C for running code becomes SIGINT right here (what
        the terminal would do with ISIG; the byte is dropped); at the REPL it is an ordinary byte."""
        buf = self._to_dev
        mark = buf.rfind(b"\x03")
        hold = b""
        if mark >= 0 and self._swallow_until is None:
            state = self._code_state()
            if state == "running":
                self._interrupt()
                self._to_dev = buf = bytearray(buf.replace(b"\x03", b""))
                mark = -1
                self._hold_since = 0.0
            elif state == "between" and self._holding_ok():
                # terminal in ISIG mode between two REPL lines: the line discipline would turn the byte into a
                # SIGINT nobody catches (the interpreter would die). Send what comes before it; retry shortly.
                first = buf.index(b"\x03")
                hold, buf = bytes(buf[first:]), bytearray(buf[:first])
                mark = -1
                self._hold_retry_at = time.monotonic() + HOLD_RETRY_S
            else:
                self._hold_since = 0.0
        before = len(buf)
        self._flush(self.dev_master, buf)
        sent = before - len(buf)
        if hold:
            self._to_dev = buf + hold
        if 0 <= mark < sent:  # remember where that Ctrl-C sits in the interpreter's input stream
            self._ctrl_c_mark = self._written + mark + 1
            self._ctrl_c_until = time.monotonic() + 1.0
        self._written += sent

    def _booting(self) -> bool:
        """Until a new interpreter has printed something (banner, or main.py output) it may still be CPython
        starting up, where a SIGINT would kill it: host input waits (at most BOOT_WAIT_S)."""
        return not self._seen_output and time.monotonic() < self._boot_deadline

    def _running_code(self) -> bool:
        return self._code_state() == "running"

    def _code_state(self) -> str:
        """"running", "repl" or "between". The unix port switches its terminal to ISIG while it runs code and
        back to raw at the REPL, and it catches SIGINT only while code runs (SigCgt in /proc/<pid>/status): at
        the REPL the default action would kill it. ISIG without the handler: between two REPL lines."""
        try:
            if not termios.tcgetattr(self.dev_slave)[3] & termios.ISIG:
                return "repl"
        except (OSError, termios.error):
            return "repl"
        return "running" if self._catches_sigint() else "between"

    def _holding_ok(self) -> bool:
        """Hold a Ctrl-C for at most HOLD_CTRL_C_S (an interpreter that never catches SIGINT gets it anyway)."""
        now = time.monotonic()
        if not self._hold_since:
            self._hold_since = now
        return now - self._hold_since < HOLD_CTRL_C_S

    def _catches_sigint(self) -> bool:
        if self.proc is None:
            return False
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("SigCgt:"):
                        return bool(int(line.split()[1], 16) >> (signal.SIGINT - 1) & 1)
        except (OSError, ValueError):
            pass
        return False

    def _interrupt(self) -> None:
        try:
            os.kill(self.proc.pid, signal.SIGINT)
        except (ProcessLookupError, AttributeError):
            pass

    def _check_ctrl_c(self) -> None:
        """A Ctrl-C written while the interpreter was still in raw mode, just before it started running code, sits
        unread in its input queue while the code runs (no ISIG then): deliver it as SIGINT after all. The input
        queue length tells whether that byte has been read: consumed = written - queued."""
        if not self._ctrl_c_until:
            return
        if time.monotonic() > self._ctrl_c_until:
            self._ctrl_c_until = 0.0
            return
        try:
            queued = struct.unpack("i", fcntl.ioctl(self.dev_slave, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:
            return
        if self._written - queued >= self._ctrl_c_mark:
            self._ctrl_c_until = 0.0  # the REPL read it
        elif self._running_code():
            self._ctrl_c_until = 0.0
            self._interrupt()

    def _flush(self, fd: int, buf: bytearray) -> bool:
        """Write as much of buf as fits; True when some progress was made."""
        if not buf:
            return False
        try:
            n = os.write(fd, buf)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EAGAIN):
                return False
            raise
        del buf[:n]
        return n > 0

    def stop(self, *_):
        self._stop = True

    def serve(self) -> None:
        """Run until stop() (Ctrl-C / SIGTERM handlers call it)."""
        self._spawn(raw=False)
        while not self._stop:
            now = time.monotonic()
            if self._host_tail and now - self._host_tail_at > 0.05:  # it was a lone Ctrl-E after all
                self._to_dev += self._host_tail
                self._host_tail = b""
            host_blocked = len(self._to_host) > PENDING_LIMIT
            if host_blocked and self._stalled_since is not None and now - self._stalled_since > NO_READER_S:
                self.dropped += len(self._to_host)  # no host reading: don't stall the board forever
                self._to_host.clear()
                host_blocked = False
            rlist = [self.host_master]
            if self.dev_master >= 0 and not host_blocked:
                rlist.append(self.dev_master)
            wlist = []
            if self._to_host:
                wlist.append(self.host_master)
            if self._to_dev and self.dev_master >= 0 and now >= self._hold_retry_at and (
                    (self._swallow_until is None and not self._booting())
                    or self._swallow_until == RAW_BANNER):  # (then our own Ctrl-A goes out first)
                wlist.append(self.dev_master)
            self._check_ctrl_c()
            try:
                busy = self._host_tail or self._ctrl_c_until or (self._to_dev and self._booting())
                timeout = HOLD_RETRY_S if self._hold_since else 0.05 if busy else 0.2
                readable, writable, _ = select.select(rlist, wlist, [], timeout)
            except InterruptedError:
                continue
            if self.host_master in readable:
                try:
                    self._from_host(os.read(self.host_master, 4096))
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as exc:  # EIO: no client has the port open right now
                    if exc.errno != errno.EIO:
                        raise
            if self.dev_master in readable:
                try:
                    data = os.read(self.dev_master, 4096)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""  # EIO: the interpreter closed its terminal (exited)
                if data:
                    self._from_device(data)
                elif data == b"" or (self.proc is not None and self.proc.poll() is not None):
                    self._reboot()
                    continue
            if self.dev_master in writable:
                self._deliver()
            if self.host_master in writable:
                if self._flush(self.host_master, self._to_host):
                    self._stalled_since = None
                elif self._stalled_since is None:
                    self._stalled_since = now
            if self.proc is not None and self.proc.poll() is not None and self.dev_master not in readable:
                # exited without its pty reporting EOF yet: drain what is left, then reboot
                try:
                    while data := os.read(self.dev_master, 4096):
                        self._from_device(data)
                except OSError:
                    pass
                self._reboot()

    def close(self) -> None:
        self._kill()
        self._reap()
        for fd in (self.host_master, self._host_slave):
            try:
                os.close(fd)
            except OSError:
                pass


def _term_with_parent():  # Linux: SIGTERM the vboard (which then cleans up) if its parent dies
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class VBoardProcess:
    """`tinypolicy vboard` as a child process (tests, scripts): `with VBoardProcess(fs) as vb: vb.port`."""

    def __init__(self, fs: Path, port_file: Path | None = None, heapsize: str = BOARD_HEAPSIZE,
                 run_main: bool = True, timeout: float = 15.0):
        self.fs = Path(fs)
        self.port_file = Path(port_file) if port_file else self.fs.parent / "port"
        cmd = [sys.executable, "-m", "tinypolicy_host.cli", "vboard", "--fs", str(self.fs),
               "--port-file", str(self.port_file), "--heapsize", heapsize]
        if not run_main:
            cmd.append("--no-main")
        self.log_path = self.port_file.with_suffix(".log")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True,
                                         preexec_fn=_term_with_parent)
        self.port = self.proc.stdout.readline().strip()  # first stdout line: the port
        if not self.port:
            self.stop()
            raise RuntimeError(f"vboard did not start: {self.log()}")
        deadline = time.monotonic() + timeout
        while self.children() == [] and time.monotonic() < deadline:
            time.sleep(0.02)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def children(self) -> list[int]:
        """PIDs of the relay's child processes (the interpreter), from /proc."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def stop(self, sig=signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc.stdout.close()
        return rc

    def log(self) -> str:
        try:
            return self.log_path.read_text()
        except OSError:
            return ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
