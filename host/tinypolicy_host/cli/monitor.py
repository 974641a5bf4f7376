"""`tinypolicy monitor`: command line of `tinypolicy_host.board.monitor` (argument parsing, error reporting)."""
from pathlib import Path

from ..board.monitor import monitor


def add_arguments(parser):
    parser.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0, or `vboard`")
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds to capture (default %(default)s; 0 = until done or Ctrl-C)")
    parser.add_argument("--no-reset", action="store_true", help="don't soft-reset before starting main.py")


def run(args) -> int:
    summary = monitor(args.port, args.out, duration=args.duration, reset=not args.no_reset)
    return 1 if summary["device_error"] or summary["cut_short"] else 0
