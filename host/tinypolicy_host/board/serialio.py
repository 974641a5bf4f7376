"""Serial connection to a board (or the virtual board) through mpremote's SerialTransport (pyserial underneath).

`PORT` may be a device path (`/dev/ttyACM0`, `/dev/ttyUSB0`, `COM3`, `/dev/pts/N`) or `vboard`: the port the
running virtual board wrote to `build/vboard/port`.
"""
import os
import time
from pathlib import Path

from ..errors import UserError
from ..paths import VBOARD_PORT_FILE

BOARD_ARCH = {"rpi_pico": "armv6m", "esp32": "xtensawin", "unix": "x64"}


def resolve_port(port: str | None, port_file: Path = VBOARD_PORT_FILE) -> str:
    port = (port or "").strip()
    if not port:
        raise UserError("--port: no serial port given: use PORT=/dev/ttyACM0 (RP2040), PORT=/dev/ttyUSB0 (ESP32) "
                        "or PORT=vboard (the running `make vboard`)")
    if port == "vboard":
        try:
            port = port_file.read_text().strip()
        except OSError:
            raise UserError(f"--port vboard: {port_file} not found: start the virtual board with `make vboard` "
                            "(in another terminal) first") from None
    if "://" not in port and not os.name == "nt" and not os.path.exists(port):
        raise UserError(f"--port {port}: no such serial port (is the board plugged in? `ls /dev/ttyACM* "
                        "/dev/ttyUSB*`; for the virtual board use PORT=vboard or the path `make vboard` printed)")
    return port


def connect(port: str):
    """Open the port with mpremote's transport; a UserError (not a traceback) when that fails."""
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    try:
        # timeout: mpremote reads a pty byte by byte with a blocking read; a timeout lets its own deadlines work
        # (a silent device then gives an error, not a hang)
        return SerialTransport(port, baudrate=115200, timeout=1)
    except (TransportError, OSError) as exc:
        raise UserError(f"--port {port}: cannot open ({exc}); is another program (mpremote, a serial "
                        "terminal, `make monitor`) using it?") from None


STOP_REQUEST = b"\r\x03"  # CR Ctrl-C: stops a running app (device/tinypolicy_app/link.py); a lone 0x03 does not


def stop_running_app(transport, quiet_s: float = 0.3, timeout_s: float = 3.0) -> None:
    """Send the stop request and let the board finish talking (its summary, the REPL prompt) before mpremote
    enters the raw REPL: mpremote sends its Ctrl-A right after its own CR Ctrl-C, and a unix port (the virtual
    board) flushes pending input when a stopped app returns to the REPL, which would swallow that Ctrl-A."""
    ser = getattr(transport, "serial", None)
    if ser is None:  # not a serial transport
        return
    ser.write(STOP_REQUEST)
    start = last = time.monotonic()
    while time.monotonic() - start < timeout_s:
        n = ser.in_waiting
        if n:
            ser.read(n)
            last = time.monotonic()
        elif time.monotonic() - last >= quiet_s:
            return
        time.sleep(0.02)


def enter_raw_repl(transport, soft_reset: bool) -> None:
    from mpremote.transport import TransportError

    try:
        stop_running_app(transport)
        transport.enter_raw_repl(soft_reset=soft_reset, timeout_overall=10)
    except TransportError as exc:
        raise UserError(f"--port {transport.device_name}: no MicroPython raw REPL answering ({exc}); is this a "
                        "MicroPython board, and is nothing else attached to the port?") from None


def close(transport) -> None:
    try:
        if transport.in_raw_repl:
            transport.exit_raw_repl()
        transport.close()
    except OSError:
        pass
