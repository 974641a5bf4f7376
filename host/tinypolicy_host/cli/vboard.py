"""`tinypolicy vboard`: command line of `tinypolicy_host.devtools.vboard` (argument parsing, error reporting)."""
import signal
import sys
from pathlib import Path

from ..devtools.vboard import DEFAULT_FS, DEFAULT_PORT_FILE, HEAPSIZE, VirtualBoard
from ..errors import UserError
from ..paths import BOARD_HEAPSIZE, micropython_binary
from ..userpaths import folder


def add_arguments(parser):
    parser.add_argument("--fs", type=Path, default=DEFAULT_FS, help="board filesystem root (default %(default)s)")
    parser.add_argument("--heapsize", default=BOARD_HEAPSIZE, help="MicroPython heap (default %(default)s)")
    parser.add_argument("--port-file", type=Path, default=DEFAULT_PORT_FILE,
                        help="write the port path here for scripts (default %(default)s)")
    parser.add_argument("--no-main", action="store_true", help="do not run main.py at (re)boot")
    parser.add_argument("--quiet", action="store_true", help="no reboot messages on stderr")


def run(args) -> int:
    fs = args.fs.resolve()
    if not HEAPSIZE.fullmatch(args.heapsize):
        raise UserError(f"--heapsize {args.heapsize}: expected bytes with an optional K or M suffix, e.g. 128K")
    folder(args.fs, "--fs")  # the board's flash
    try:
        micropython_binary()
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from exc
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    board = VirtualBoard(fs, heapsize=args.heapsize, run_main=not args.no_main, log=log)
    signal.signal(signal.SIGTERM, board.stop)
    signal.signal(signal.SIGINT, board.stop)
    signal.signal(signal.SIGHUP, board.stop)
    port_file = args.port_file
    port_file.parent.mkdir(parents=True, exist_ok=True)
    port_file.write_text(board.port + "\n")
    print(board.port, flush=True)
    print(f"vboard: port {board.port} (also in {port_file}), flash at {fs}, heap {args.heapsize}; "
          f"e.g. `make flash PORT={board.port} BOARD=unix`; stop with Ctrl-C", file=sys.stderr, flush=True)
    try:
        board.serve()
    finally:
        board.close()
        try:
            if port_file.read_text().strip() == board.port:
                port_file.unlink()
        except OSError:
            pass
        log(f"vboard: stopped after {board.boots} boot(s)"
            + (f", {board.dropped} bytes of output dropped (no host reading)" if board.dropped else ""))
    return 0
